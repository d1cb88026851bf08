"""Build dist/opfleet: one executable file (a shiv zipapp) with native wheels for several Pythons.

Plain zipapps cannot load compiled modules; shiv unpacks its site-packages on first run. We
install the project once for the running interpreter, then the binary wheels of every other
target Python into separate folders, and merge them: extension modules carry their Python tag
in the file name (``_brotli.cpython-312-x86_64-linux-gnu.so``), so they sit side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *args], check=True)


def merge(src: Path, dst: Path) -> None:
    """Copy files from src into dst, never overwriting (only new, tagged modules get added)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.11 3.12 3.13")
    parser.add_argument("--output", default=str(ROOT / "dist" / "opfleet"))
    parser.add_argument("--build-dir", default=str(ROOT / "build" / "zipapp"),
                        help="scratch directory (bench/startup.py builds in a temporary one)")
    args = parser.parse_args()

    build = Path(args.build_dir)
    shutil.rmtree(build, ignore_errors=True)
    site = build / "site-packages"
    pip("--target", str(site), str(ROOT))

    # Which installed distributions carry compiled code? Those need a wheel per Python version.
    requirements = []
    for dist in distributions(path=[str(site)]):
        files = dist.files or []
        if any(str(f).endswith((".so", ".pyd")) for f in files):
            requirements.append(f"{dist.metadata['Name']}=={dist.version}")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version in args.pythons.split():
        if version == running or not requirements:
            continue
        extra = build / f"py{version}"
        pip("--target", str(extra), "--python-version", version, "--only-binary=:all:",
            "--no-deps", *requirements)
        merge(extra, site)

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # --compile-pyc: the first run compiles every module once, for whichever Python runs it.
    # shiv leaves .pyc out of the archive, and where Python may not write them later
    # (PYTHONDONTWRITEBYTECODE, a read-only SHIV_ROOT) every start compiled, from source, every
    # module it imported: a third of --help's time.
    subprocess.run(["shiv", "--site-packages", str(site), "--console-script", "opfleet",
                    "--python", "/usr/bin/env python3", "--reproducible", "--compressed",
                    "--compile-pyc", "--output-file", str(output)], check=True,
                   env={**os.environ,
                        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"})
    print(f"built {output} ({output.stat().st_size / 1e6:.1f} MB; native wheels for "
          f"{', '.join(sorted(set(args.pythons.split()) | {running}))})")


if __name__ == "__main__":
    main()

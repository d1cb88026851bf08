"""Start-up time of `opfleet --help` (target: median < 150 ms), from the venv and from the zipapp.

Each run is a fresh interpreter, as an operator's shell would start it. Prints one JSON object:

- ``median_seconds``: ``python -m opfleet --help`` with the venv's interpreter (as before);
- ``zipapp``: the single executable built by ``.ci/build_zipapp.py`` (built here into a temporary
  directory for the running Python unless ``--zipapp PATH`` names one; needs ``shiv``, the
  project's ``build`` extra), unpacked once first (that run is ``first_run_seconds``; it also
  compiles every module, ``pyc_files_after_first_run``), then:
  ``median_seconds`` run as an operator runs it (its ``#!/usr/bin/env python3`` line),
  ``direct_median_seconds`` started with the venv's base interpreter, and where the time goes
  (``breakdown_ms``): the shebang's ``python3`` lookup (run as is minus run directly; a pyenv shim
  costs tens of ms, see ``env_python3_pass_ms``), the interpreter with ``site`` (and
  every ``.pth`` file of its site-packages), shiv's bootstrap, opfleet's imports, and the rest
  (parsing and printing the help), from ``-X importtime``.

Run: .venv/bin/python bench/startup.py [--runs N] [--zipapp PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.150


def measure(argv: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_seconds": round(statistics.median(ordered), 4),
            "p90_seconds": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 4)}


def base_python() -> str:
    """The interpreter behind the venv (what a zipapp run with ``python3`` would use here)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def build_zipapp(workdir: Path) -> Path:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    output = workdir / "opfleet"
    subprocess.run([sys.executable, str(ROOT / ".ci" / "build_zipapp.py"), "--pythons", running,
                    "--output", str(output), "--build-dir", str(workdir / "build")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return output


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def import_breakdown(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Cumulative import milliseconds of the top-level imports, grouped by who asked for them."""
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    groups = {"site": 0.0, "shiv_bootstrap": 0.0, "opfleet": 0.0, "other": 0.0}
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match is None or match.group(3):  # only top-level imports; nested ones are inside
            continue
        name, cumulative = match.group(4), int(match.group(2)) / 1000
        if name == "site":
            groups["site"] += cumulative
        elif name == "_bootstrap":
            groups["shiv_bootstrap"] += cumulative
        elif name.split(".")[0] == "opfleet":
            groups["opfleet"] += cumulative
        else:
            groups["other"] += cumulative
    return {k: round(v, 1) for k, v in groups.items()}


def zipapp_figures(path: Path, runs: int) -> dict[str, object]:
    python = base_python()
    with tempfile.TemporaryDirectory(prefix="opfleet-shiv-") as shiv_root:
        env = {**os.environ, "SHIV_ROOT": shiv_root}
        first = measure([str(path), "--help"], 1, env)[0]  # unpacks site-packages
        pyc_files = sum(1 for _ in Path(shiv_root).rglob("*.pyc"))  # compiled once, at unpacking
        as_run = measure([str(path), "--help"], runs, env)
        direct = measure([python, str(path), "--help"], runs, env)
        floor = statistics.median(measure([python, "-c", "pass"], runs, env))
        floor_no_site = statistics.median(measure([python, "-S", "-c", "pass"], runs, env))
        env_python = statistics.median(measure(["/usr/bin/env", "python3", "-c", "pass"], runs, env))
        imports = import_breakdown([python, str(path), "--help"], env)
    direct_median = statistics.median(direct)
    breakdown = {
        # the same command run through its shebang minus started directly; env_python_ms is the
        # same lookup measured on its own
        "shebang_python3_lookup": round((statistics.median(as_run) - direct_median) * 1000, 1),
        "interpreter_without_site": round(floor_no_site * 1000, 1),
        "site_and_pth_files": imports["site"],
        "shiv_bootstrap": imports["shiv_bootstrap"],
        "opfleet_imports": imports["opfleet"],
        "other_imports": imports["other"],
    }
    breakdown["help_and_unaccounted"] = round(
        direct_median * 1000 - sum(v for k, v in breakdown.items() if k != "shebang_python3_lookup"), 1)
    return {
        "path": str(path),
        "size_mb": round(path.stat().st_size / 1e6, 1),
        "first_run_seconds": round(first, 4),
        "pyc_files_after_first_run": pyc_files,
        "python_dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        **summary(as_run),
        "direct_median_seconds": round(direct_median, 4),
        "python3_on_path": shutil.which("python3"),
        "env_python3_pass_ms": round(env_python * 1000, 1),
        "base_python_pass_ms": round(floor * 1000, 1),
        "breakdown_ms": breakdown,
        "meets_target": statistics.median(as_run) < TARGET_SECONDS,
        "direct_meets_target": direct_median < TARGET_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--zipapp", type=Path, help="an already built dist/opfleet")
    args = parser.parse_args()

    python_floor = measure([sys.executable, "-c", "pass"], args.runs)
    help_times = measure([sys.executable, "-m", "opfleet", "--help"], args.runs)
    result: dict[str, object] = {
        "benchmark": "startup",
        "command": "python -m opfleet --help",
        "runs": args.runs,
        **summary(help_times),
        "python_only_median_seconds": round(statistics.median(python_floor), 4),
        "target_seconds": TARGET_SECONDS,
    }
    result["meets_target"] = result["median_seconds"] < TARGET_SECONDS
    if args.zipapp is not None:
        result["zipapp"] = zipapp_figures(args.zipapp, args.runs)
    elif shutil.which("shiv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"):
        with tempfile.TemporaryDirectory(prefix="opfleet-zipapp-") as workdir:
            result["zipapp"] = zipapp_figures(build_zipapp(Path(workdir)), args.runs)
    else:
        result["zipapp"] = {"error": "shiv is not installed: pip install -e '.[build]' (or pass --zipapp)"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

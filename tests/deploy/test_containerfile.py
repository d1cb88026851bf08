"""The Containerfile builds the zipapp on a slim Python base and runs it unprivileged with a
read-only root filesystem (what the rendered manifests ask of it). No image is built here: the
test machine has no container runtime and no registry; these are the properties the manifests
rely on."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "Containerfile").read_text()
STAGES = re.split(r"(?m)^FROM ", TEXT)[1:]


def test_two_stages_on_slim_python():
    assert len(STAGES) == 2
    assert all(stage.split()[0].startswith("docker.io/library/python:${PYTHON}-slim") for stage in STAGES)


def test_builds_the_zipapp_with_the_project_script():
    build = STAGES[0]
    assert ".ci/build_zipapp.py" in build and (ROOT / ".ci" / "build_zipapp.py").exists()
    for copied in re.findall(r"(?m)^COPY (?!--from)(.+?) \S+$", build):
        for path in copied.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"


def test_final_stage_is_unprivileged_and_needs_only_tmp():
    final = STAGES[1]
    assert "COPY --from=build /src/dist/opfleet /usr/local/bin/opfleet" in final
    user = re.search(r"(?m)^USER (\S+)$", final).group(1)
    assert user == "${UID}:${UID}" and re.search(r"(?m)^ARG UID=10001$", final)
    assert "SHIV_ROOT=/tmp/shiv" in final  # the only place the zipapp writes
    assert re.search(r'(?m)^ENTRYPOINT \["/usr/local/bin/opfleet"\]$', final)


def test_manifests_match_the_image():
    """The rendered pods run as the image's user and give the zipapp a writable /tmp."""
    from opfleet.deploy import kubernetes

    assert kubernetes.UID == 10001
    pod = kubernetes._pod_security()
    assert pod["runAsUser"] == 10001 and pod["runAsNonRoot"] is True


def test_bytecode_is_written_where_the_zipapp_unpacks():
    """The zipapp compiles its modules once into SHIV_ROOT; PYTHONDONTWRITEBYTECODE would make
    every start compile from source."""
    assert "PYTHONDONTWRITEBYTECODE=1" not in TEXT

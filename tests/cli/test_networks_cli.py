"""Where the built-in networks are named to an operator: ``--network`` help, ``opfleet version
--verbose``, the README. All of them must list every network and say where the files come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from opfleet.config import spec
from opfleet.cli.exit import ExitStatus
from opfleet.config import networks

ROOT = Path(__file__).resolve().parents[2]


def test_version_verbose_names_the_registry_snapshot(cli):
    result = cli(["version", "--verbose"])
    assert result.status == ExitStatus.OK
    line = next(x for x in result.stdout.splitlines() if x.startswith("built-in networks from:"))
    assert "superchain-registry 8336d2aedd19b87a57b01ae36ba4afef8ea377d0 (2026-08-04)" in line
    assert "base-mainnet, base-sepolia from 5b055be4d294ce43814a44c8839d89b2436dc8aa" in line
    assert "reaches Jovian; use --rollup.config for a newer schedule" in line
    names = next(x for x in result.stdout.splitlines() if x.startswith("networks:"))
    assert all(name in names for name in networks.NETWORKS)


def test_version_without_verbose_stays_one_line(cli):
    result = cli(["version"])
    assert result.status == ExitStatus.OK and result.stdout.count("\n") == 1


@pytest.mark.parametrize("command", ["source", "light"])
def test_network_help_lists_every_network_and_marks_base(cli, command):
    option = next(o for o in spec.command(command).options if o.key == "network")
    for name in networks.NETWORKS:
        assert name in option.help
    assert "base-mainnet and base-sepolia: " + networks.FROZEN_NOTE in option.help
    result = cli([command, "--help"])
    assert result.status == ExitStatus.OK
    flat = " ".join(result.stdout.split())
    assert "unichain-mainnet, unichain-sepolia" in flat and "reaches Jovian" in flat


def test_readme_lists_every_network_and_the_snapshot():
    readme = " ".join((ROOT / "README.md").read_text().split())
    paragraph = readme[readme.index("Built-in networks (`--network`)"):]
    paragraph = paragraph[: paragraph.index("## Commands")]
    for name in networks.NETWORKS:
        assert f"`{name}`" in paragraph
    assert networks.REGISTRY_COMMIT in paragraph and networks.REGISTRY_DATE in paragraph
    assert networks.FROZEN_REGISTRY_COMMIT in paragraph
    assert networks.FROZEN_NOTE.replace("--rollup.config", "`--rollup.config`") in paragraph

"""Built-in networks: generated from the superchain-registry TOMLs, shipped as package data.

Vectors: tests/vectors/superchain-registry/*.toml (registry sources) and
tests/vectors/rollup-configs/<name>.rollup.json (the expected op-node rollup configs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import opfleet
from opfleet.config.networks import NETWORKS, load_network, network_json, network_text
from opfleet.config.networks._build import build_all, main, rollup_json_from_registry
from opfleet.errors import ConfigError

VECTORS = Path(__file__).parent / "vectors"
REGISTRY = VECTORS / "superchain-registry"
PACKAGE_ROOT = Path(opfleet.__file__).parent


def expected(name: str) -> dict:
    obj = json.loads((VECTORS / "rollup-configs" / f"{name}.rollup.json").read_text())
    obj.pop("_derived")
    return obj


def test_network_names() -> None:
    assert NETWORKS == ("op-mainnet", "op-sepolia", "base-mainnet", "base-sepolia")


@pytest.mark.parametrize("name", NETWORKS)
def test_generator_output_equals_vector(name: str) -> None:
    generated = json.loads(build_all(REGISTRY)[name])
    assert generated == expected(name)
    assert list(generated) == list(expected(name))


def test_committed_files_equal_generator_output() -> None:
    # Stale check. To refresh the files:
    #   python -m opfleet.config.networks._build tests/vectors/superchain-registry
    assert build_all(REGISTRY) == {name: network_text(name) for name in NETWORKS}
    assert main([str(REGISTRY), "--check"]) == 0


def test_generator_writes_files_and_check_detects_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(REGISTRY), "--out", str(tmp_path)]) == 0
    for name in NETWORKS:
        assert (tmp_path / f"{name}.json").read_text() == network_text(name)
    (tmp_path / "op-sepolia.json").write_text("{}\n")
    assert main([str(REGISTRY), "--out", str(tmp_path), "--check"]) == 1
    assert "stale: op-sepolia" in capsys.readouterr().err


def test_registry_defaults_follow_op_node() -> None:
    import tomllib

    chain = tomllib.loads((REGISTRY / "op-mainnet.toml").read_text())
    superchain = tomllib.loads((REGISTRY / "superchain-mainnet.toml").read_text())
    obj = rollup_json_from_registry(chain, superchain)
    assert obj["regolith_time"] == 0 and obj["channel_timeout"] == 300 and obj["l1_chain_id"] == 1
    assert obj["deposit_contract_address"] == chain["addresses"]["OptimismPortalProxy"]
    assert obj["l1_system_config_address"] == chain["addresses"]["SystemConfigProxy"]
    # Chain TOMLs already carry resolved fork times; superchain-wide times are not merged in.
    base = tomllib.loads((REGISTRY / "base-mainnet.toml").read_text())
    assert "karst_time" not in rollup_json_from_registry(base, superchain)


@pytest.mark.parametrize("name", NETWORKS)
def test_load_network(name: str) -> None:
    config = load_network(name)
    assert config.to_json() == network_json(name) == expected(name)
    assert load_network(name) is config  # cached


def test_network_json_returns_fresh_copies() -> None:
    first = network_json("op-mainnet")
    first["block_time"] = 99
    assert network_json("op-mainnet")["block_time"] == 2


def test_unknown_network() -> None:
    with pytest.raises(ConfigError, match="unknown network 'op-goerli'.*op-mainnet"):
        load_network("op-goerli")
    with pytest.raises(ConfigError):
        network_json("../op-mainnet")


def _run(code: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_is_light(tmp_path: Path) -> None:
    out = _run(
        "import sys\n"
        "import opfleet.config.networks as n\n"
        "print('rollup_config' , 'opfleet.protocol.rollup_config' in sys.modules)\n"
        "n.load_network('op-mainnet')\n"
        "heavy = ('rlp', 'ckzg', 'coincurve', 'eth_utils', 'trio', 'httpx')\n"
        "print('heavy', sorted(m for m in heavy if m in sys.modules))\n",
        tmp_path,
    )
    assert "rollup_config False" in out
    assert "heavy []" in out


def test_package_data_loads_from_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "opfleet.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in PACKAGE_ROOT.rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.name != "trusted_setup.txt":  # large and not needed here
                zf.write(path, Path("opfleet") / path.relative_to(PACKAGE_ROOT))
    out = _run(
        "import sys\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import opfleet, opfleet.config.networks as n\n"
        f"assert opfleet.__file__.startswith({str(archive)!r}), opfleet.__file__\n"
        "print(n.load_network('base-sepolia').l2_chain_id)\n"
        "from opfleet.protocol.upgrades import upgrade_transactions\n"
        "print(len(upgrade_transactions('jovian')[0]))\n",
        tmp_path,
    )
    assert out.split() == ["84532", str(len(upgrade_transactions_jovian_first()))]


def upgrade_transactions_jovian_first() -> bytes:
    from opfleet.protocol.upgrades import upgrade_transactions

    return upgrade_transactions("jovian")[0]

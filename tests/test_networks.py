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
    assert NETWORKS == (
        "op-mainnet",
        "op-sepolia",
        "unichain-mainnet",
        "unichain-sepolia",
        "base-mainnet",
        "base-sepolia",
    )


# Networks with a full expected rollup.json in tests/vectors/rollup-configs/; the others are
# checked field by field against their registry TOML below.
WITH_VECTOR = tuple(n for n in NETWORKS if (VECTORS / "rollup-configs" / f"{n}.rollup.json").exists())


def test_every_vector_is_a_network() -> None:
    names = {p.name.removesuffix(".rollup.json") for p in (VECTORS / "rollup-configs").iterdir()}
    assert names == set(WITH_VECTOR) and len(WITH_VECTOR) >= 4


@pytest.mark.parametrize("name", WITH_VECTOR)
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
    assert config.to_json() == network_json(name)
    if name in WITH_VECTOR:
        assert network_json(name) == expected(name)
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


# --- the shipped JSON files against the registry TOMLs, without the generator -------------------
#
# These tests read the registry files themselves and compare each shipped rollup.json field by
# field, so a hand edit of a JSON file (or a generator bug that the stale check would happily
# reproduce) is caught.

def _registry(name: str) -> tuple[dict, dict]:
    import tomllib

    superchain = name.rsplit("-", 1)[1]
    chain = tomllib.loads((REGISTRY / f"{name}.toml").read_text())
    return chain, tomllib.loads((REGISTRY / f"superchain-{superchain}.toml").read_text())


def _shipped(name: str) -> dict:
    """The shipped file, read as plain JSON (not through RollupConfig)."""
    return json.loads((PACKAGE_ROOT / "config" / "networks" / f"{name}.json").read_text())


_NOT_FORKS = {"l2_time", "block_time"}


def _fork_mismatches(name: str, shipped: dict) -> list[str]:
    """How ``shipped`` (a rollup.json object) disagrees with the registry's ``[hardforks]``."""
    chain, _ = _registry(name)
    hardforks = chain.get("hardforks", {})
    registry_times = {k: v for k, v in hardforks.items() if k.endswith("_time")}
    wrong = [
        f"{key}: shipped {shipped.get(key)}, registry {value}"
        for key, value in registry_times.items()
        if shipped.get(key) != value
    ]
    # Nothing is scheduled that the registry does not schedule (Regolith: op-node's default 0).
    shipped_times = {k for k in shipped if k.endswith("_time") and k not in _NOT_FORKS}
    wrong += [f"{key}: not in the registry" for key in
              sorted(shipped_times - set(registry_times) - {"regolith_time"})]
    if shipped.get("regolith_time") != hardforks.get("regolith_time", 0):
        wrong.append(f"regolith_time: shipped {shipped.get('regolith_time')}")
    keep = hardforks.get("keep_karst_upgrade_gas", False)
    if shipped.get("keep_karst_upgrade_gas", False) is not keep:
        wrong.append(f"keep_karst_upgrade_gas: shipped {shipped.get('keep_karst_upgrade_gas')}, registry {keep}")
    return wrong


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_has_its_registry_files(name: str) -> None:
    chain, superchain = _registry(name)
    assert chain["chain_id"] and superchain["l1"]["chain_id"]


@pytest.mark.parametrize("name", NETWORKS)
def test_fork_times_and_flags_match_the_registry(name: str) -> None:
    assert _fork_mismatches(name, _shipped(name)) == []


def test_the_registry_check_catches_hand_edits() -> None:
    edited = _shipped("unichain-mainnet")
    edited["karst_time"] += 1
    edited["lagoon_time"] = 1_900_000_000
    del edited["keep_karst_upgrade_gas"]
    assert _fork_mismatches("unichain-mainnet", edited) == [
        "karst_time: shipped 1783526402, registry 1783526401",
        "lagoon_time: not in the registry",
        "keep_karst_upgrade_gas: shipped None, registry True",
    ]
    sepolia = _shipped("unichain-sepolia")
    del sepolia["pectra_blob_schedule_time"]
    assert _fork_mismatches("unichain-sepolia", sepolia) == [
        "pectra_blob_schedule_time: shipped None, registry 1742486400"]


@pytest.mark.parametrize("name", NETWORKS)
def test_chain_parameters_match_the_registry(name: str) -> None:
    chain, superchain = _registry(name)
    shipped = _shipped(name)
    assert shipped["l2_chain_id"] == chain["chain_id"]
    assert shipped["l1_chain_id"] == superchain["l1"]["chain_id"]
    for key in ("block_time", "seq_window_size", "max_sequencer_drift"):
        assert shipped[key] == chain[key], key
    assert shipped["channel_timeout"] == 300 and shipped["granite_channel_timeout"] == 50
    assert shipped["batch_inbox_address"] == chain["batch_inbox_addr"]
    assert shipped["deposit_contract_address"] == chain["addresses"]["OptimismPortalProxy"]
    assert shipped["l1_system_config_address"] == chain["addresses"]["SystemConfigProxy"]
    genesis, registry_genesis = shipped["genesis"], chain["genesis"]
    assert genesis["l2_time"] == registry_genesis["l2_time"]
    for side in ("l1", "l2"):
        assert genesis[side] == {"hash": registry_genesis[side]["hash"],
                                 "number": registry_genesis[side]["number"]}
    system = registry_genesis["system_config"]
    assert genesis["system_config"]["batcherAddr"] == system["batcherAddress"]
    for key in ("overhead", "scalar", "gasLimit"):
        assert genesis["system_config"][key] == system[key], key
    optimism = chain["optimism"]
    assert shipped["chain_op_config"] == {
        "eip1559Elasticity": optimism["eip1559_elasticity"],
        "eip1559Denominator": optimism["eip1559_denominator"],
        "eip1559DenominatorCanyon": optimism["eip1559_denominator_canyon"],
    }


def test_karst_is_scheduled_where_the_registry_schedules_it() -> None:
    for name in ("op-mainnet", "op-sepolia", "unichain-mainnet", "unichain-sepolia"):
        assert _shipped(name)["keep_karst_upgrade_gas"] is True
        assert load_network(name).keep_karst_upgrade_gas is True
    assert _shipped("op-mainnet")["karst_time"] == _shipped("unichain-mainnet")["karst_time"] == 1783526401
    assert _shipped("op-sepolia")["karst_time"] == _shipped("unichain-sepolia")["karst_time"] == 1781712001
    for name in ("base-mainnet", "base-sepolia"):  # frozen before Karst was scheduled
        assert "karst_time" not in _shipped(name) and "keep_karst_upgrade_gas" not in _shipped(name)
        assert _shipped(name)["jovian_time"]


def test_unichain_schedules() -> None:
    mainnet, sepolia = load_network("unichain-mainnet"), load_network("unichain-sepolia")
    for config in (mainnet, sepolia):
        assert config.block_time == 1 and config.seq_window_size == 3600
        assert config.channel_timeout == 300 and config.regolith_time == 0
        for fork in ("canyon", "delta", "ecotone", "fjord", "granite"):
            assert config.activation_time(fork) == 0, fork
    assert (mainnet.l1_chain_id, mainnet.l2_chain_id) == (1, 130)
    assert (sepolia.l1_chain_id, sepolia.l2_chain_id) == (11155111, 1301)
    times = lambda c: [c.holocene_time, c.isthmus_time, c.jovian_time, c.karst_time]  # noqa: E731
    assert times(mainnet) == [1736445601, 1746806401, 1764691201, 1783526401]
    assert times(sepolia) == [1734559200, 1744905600, 1763568001, 1781712001]
    assert mainnet.pectra_blob_schedule_time is None
    assert sepolia.pectra_blob_schedule_time == 1742486400
    assert load_network("op-sepolia").pectra_blob_schedule_time == 1742486400


def test_registry_snapshot_is_named_once() -> None:
    from opfleet.config import networks

    assert networks.REGISTRY_COMMIT == "8336d2aedd19b87a57b01ae36ba4afef8ea377d0"
    assert networks.FROZEN_REGISTRY_COMMIT == "5b055be4d294ce43814a44c8839d89b2436dc8aa"
    assert networks.registry_commit("unichain-sepolia") == networks.REGISTRY_COMMIT
    assert networks.registry_commit("base-mainnet") == networks.FROZEN_REGISTRY_COMMIT
    line = networks.registry_snapshot()
    assert networks.REGISTRY_COMMIT in line and networks.REGISTRY_DATE in line
    assert networks.FROZEN_REGISTRY_COMMIT in line and "reaches Jovian" in line
    with pytest.raises(ConfigError):
        networks.registry_commit("op-goerli")

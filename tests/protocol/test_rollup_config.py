"""RollupConfig: rollup.json parsing/emitting and hardfork activation rules.

Vectors: tests/vectors/rollup-configs/*.rollup.json (op-node style configs derived from the
superchain registry; the ``_derived`` key is a comment).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import ConfigError
from opfleet.protocol.rollup_config import FORKS, BlockID, ChainOpConfig, Genesis, RollupConfig
from opfleet.protocol.system_config import SystemConfig

VECTORS = Path(__file__).parents[1] / "vectors" / "rollup-configs"
NAMES = ("op-mainnet", "op-sepolia", "base-mainnet", "base-sepolia")


def vector(name: str) -> dict:
    obj = json.loads((VECTORS / f"{name}.rollup.json").read_text())
    obj.pop("_derived")
    return obj


@pytest.fixture(scope="module")
def op_mainnet() -> RollupConfig:
    return RollupConfig.from_json(vector("op-mainnet"))


# --- JSON against the vectors -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_vector_round_trips_with_key_order(name: str) -> None:
    path = VECTORS / f"{name}.rollup.json"
    config = RollupConfig.from_json_text(path.read_text(), source=str(path))
    out = config.to_json()
    expected = vector(name)
    assert out == expected
    assert json.dumps(out) == json.dumps(expected)  # same key order, nested too


def test_op_mainnet_values(op_mainnet: RollupConfig) -> None:
    # superchain-registry superchain/configs/mainnet/op.toml, checked against the op-mainnet vector.
    l1_hash = bytes.fromhex("438335a20d98863a4c0c97999eb2481921ccd28553eac6f913af7c12aec04108")
    assert op_mainnet.genesis.l1 == BlockID(l1_hash, 17422590)
    assert op_mainnet.genesis.l2.number == 105235063
    assert op_mainnet.genesis.l2_time == 1686068903
    assert op_mainnet.genesis.system_config.gas_limit == 30_000_000
    assert op_mainnet.genesis.system_config.marshal_pre_holocene
    assert op_mainnet.deposit_contract_address.hex() == "beb5fc579115071764c7423a4f12edde41f106ed"
    assert op_mainnet.l1_chain_id == 1 and op_mainnet.l2_chain_id == 10
    assert op_mainnet.chain_op_config == ChainOpConfig(6, 50, 250)
    assert op_mainnet.keep_karst_upgrade_gas is True
    assert op_mainnet.pectra_blob_schedule_time is None


def test_addresses_are_emitted_checksummed_whatever_the_input_case() -> None:
    obj = vector("op-mainnet")
    obj["deposit_contract_address"] = obj["deposit_contract_address"].lower()
    obj["batch_inbox_address"] = obj["batch_inbox_address"].upper().replace("0X", "0x")
    out = RollupConfig.from_json(obj).to_json()
    assert out["deposit_contract_address"] == "0xbEb5Fc579115071764c7423A4f12eDde41f106Ed"
    assert out["batch_inbox_address"] == "0xFF00000000000000000000000000000000000010"


def test_unknown_keys_are_ignored() -> None:
    obj = vector("op-sepolia")
    obj["protocol_versions_address"] = "0x79ADD5713B383DAa0a138d3C4780C7A1804a8090"
    obj["genesis"]["system_config"]["somethingNew"] = 7
    obj["future_field"] = {"x": [1, 2]}
    assert RollupConfig.from_json(obj) == RollupConfig.from_json(vector("op-sepolia"))


def test_interop_time_alias_and_lagoon_output() -> None:
    obj = vector("op-sepolia")
    obj["interop_time"] = 1900000000
    config = RollupConfig.from_json(obj)
    assert config.interop_time == 1900000000
    out = config.to_json()
    assert out["lagoon_time"] == 1900000000 and "interop_time" not in out
    keys = list(out)
    assert keys.index("karst_time") < keys.index("lagoon_time") < keys.index("batch_inbox_address")
    obj["lagoon_time"] = 1900000000
    assert RollupConfig.from_json(obj).interop_time == 1900000000
    obj["lagoon_time"] = 1900000002
    with pytest.raises(ConfigError, match="interop_time"):
        RollupConfig.from_json(obj)


def test_optional_fields_are_omitted_when_empty() -> None:
    obj = vector("base-sepolia")
    for key in ("max_sequencer_drift", "regolith_time", "chain_op_config"):
        del obj[key]
    del obj["granite_channel_timeout"]  # defaults to 50
    config = RollupConfig.from_json(obj)
    assert config.max_sequencer_drift_pre_fjord == 0
    assert config.regolith_time is None
    assert config.granite_channel_timeout == 50
    out = config.to_json()
    assert not {"max_sequencer_drift", "regolith_time", "chain_op_config"} & set(out)
    assert out["granite_channel_timeout"] == 50


def test_chain_op_config_canyon_denominator_is_omitempty() -> None:
    obj = vector("op-mainnet")
    del obj["chain_op_config"]["eip1559DenominatorCanyon"]
    config = RollupConfig.from_json(obj)
    assert config.chain_op_config == ChainOpConfig(6, 50, None)
    assert config.to_json()["chain_op_config"] == {"eip1559Elasticity": 6, "eip1559Denominator": 50}


def test_alt_da_is_kept_raw_and_emitted_last() -> None:
    obj = vector("op-sepolia")
    alt_da = {
        "da_challenge_contract_address": "0x1111111111111111111111111111111111111111",
        "da_commitment_type": "GenericCommitment",
        "da_challenge_window": 160,
        "da_resolve_window": 160,
    }
    obj["alt_da"] = copy.deepcopy(alt_da)
    config = RollupConfig.from_json(obj)
    obj["alt_da"]["da_challenge_window"] = 1  # later edits of the input must not leak in
    out = config.to_json()
    assert out["alt_da"] == alt_da
    assert list(out)[-1] == "alt_da"


def test_holocene_genesis_system_config_emits_all_keys() -> None:
    obj = vector("op-mainnet")
    obj["genesis"]["system_config"]["eip1559Params"] = "0x000000fa00000006"
    out = RollupConfig.from_json(obj).to_json()["genesis"]["system_config"]
    assert list(out) == [
        "batcherAddr", "overhead", "scalar", "gasLimit",
        "eip1559Params", "operatorFeeParams", "minBaseFee", "daFootprintGasScalar",
    ]  # fmt: skip
    assert out["eip1559Params"] == "0x000000fa00000006"


def test_to_json_text_is_parseable() -> None:
    config = RollupConfig.from_json(vector("base-mainnet"))
    text = config.to_json_text()
    assert text.endswith("}\n")
    assert RollupConfig.from_json_text(text) == config


# --- bad input --------------------------------------------------------------------------------


def _without(obj: dict, *path: str) -> dict:
    obj = copy.deepcopy(obj)
    target = obj
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return obj


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("block_time",), "JSON integer"),
        (("seq_window_size",), "JSON integer"),
        (("channel_timeout",), "JSON integer"),
        (("l1_chain_id",), "JSON integer"),
        (("l2_chain_id",), "JSON integer"),
        (("batch_inbox_address",), "20-byte 0x-hex address"),
        (("deposit_contract_address",), "address"),
        (("l1_system_config_address",), "address"),
        (("genesis",), "JSON object"),
        (("genesis", "l1"), "JSON object"),
        (("genesis", "l2", "hash"), "32-byte 0x-hex"),
        (("genesis", "l2_time"), "JSON integer"),
        (("genesis", "system_config"), "JSON object"),
        (("genesis", "system_config", "gasLimit"), "JSON integer"),
        (("genesis", "system_config", "batcherAddr"), "address"),
    ],
)
def test_missing_required_key_names_key_and_type(path: tuple[str, ...], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        RollupConfig.from_json(_without(vector("op-mainnet"), *path), source="rollup.json")
    message = str(info.value)
    assert "rollup.json" in message
    assert repr(".".join(path)) in message
    assert "missing required key" in message and expected in message
    assert info.value.key == ".".join(path)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("block_time", "2", "got string '2'"),
        ("block_time", 2.5, "got number 2.5"),
        ("block_time", True, "got boolean true"),
        ("block_time", 0, "positive"),
        ("seq_window_size", -1, "out of range"),
        ("canyon_time", 1 << 64, "out of range"),
        ("canyon_time", "0x10", "JSON integer"),
        ("batch_inbox_address", "0xff00", "20-byte"),
        ("batch_inbox_address", "ff00000000000000000000000000000000000010", "20-byte"),
        ("deposit_contract_address", "0xzz" + "00" * 19, "invalid hex"),
        ("keep_karst_upgrade_gas", "yes", "boolean"),
        ("chain_op_config", [], "JSON object"),
        ("alt_da", "on", "JSON object"),
        ("genesis", [], "JSON object"),
    ],
)
def test_ill_typed_value_names_key(key: str, value: object, expected: str) -> None:
    obj = vector("op-mainnet")
    obj[key] = value
    with pytest.raises(ConfigError) as info:
        RollupConfig.from_json(obj, source="cfg.json")
    assert expected in str(info.value)
    assert key in str(info.value) and "cfg.json" in str(info.value)


def test_nested_ill_typed_value_names_full_path() -> None:
    obj = vector("op-mainnet")
    obj["genesis"]["l1"]["number"] = "17422590"
    with pytest.raises(ConfigError, match=r"'genesis\.l1\.number'.*JSON integer"):
        RollupConfig.from_json(obj)
    obj = vector("op-mainnet")
    obj["genesis"]["system_config"]["overhead"] = "0xbc"
    with pytest.raises(ConfigError, match=r"'genesis\.system_config\.overhead'.*32-byte"):
        RollupConfig.from_json(obj)


def test_invalid_json_text_reports_source_and_position() -> None:
    with pytest.raises(ConfigError, match=r"/etc/rollup\.json: invalid JSON.*line 2"):
        RollupConfig.from_json_text('{\n"block_time": ,}', source="/etc/rollup.json")
    with pytest.raises(ConfigError, match="not UTF-8"):
        RollupConfig.from_json_text(b"\xff\xfe{}")
    with pytest.raises(ConfigError, match="JSON object"):
        RollupConfig.from_json_text("[1, 2]")


# --- fork activation --------------------------------------------------------------------------


def test_fork_times_are_inclusive(op_mainnet: RollupConfig) -> None:
    assert not op_mainnet.is_ecotone(1710374400)
    assert op_mainnet.is_ecotone(1710374401)
    assert op_mainnet.is_canyon(0) is False
    assert op_mainnet.is_regolith(0) is True
    assert op_mainnet.is_jovian(1764691201) and not op_mainnet.is_jovian(1764691200)
    assert op_mainnet.is_karst(1783526401) and not op_mainnet.is_karst(1783526400)
    assert not op_mainnet.is_interop(2**63)


def test_later_fork_implies_earlier_ones() -> None:
    config = minimal_config(jovian_time=100)
    for fork in FORKS[: FORKS.index("jovian") + 1]:
        assert config.is_active(fork, 100), fork
        assert not config.is_active(fork, 99), fork
    config = minimal_config(interop_time=50)
    assert config.is_canyon(50) and config.is_jovian(50) and config.is_interop(50)
    assert config.is_karst(50) and not config.is_karst(49)


def test_activation_block(op_mainnet: RollupConfig) -> None:
    # OP Mainnet L2 block times are odd; Ecotone 1710374401 falls exactly on a block.
    assert op_mainnet.is_ecotone_activation_block(1710374401)
    assert not op_mainnet.is_ecotone_activation_block(1710374403)
    assert not op_mainnet.is_ecotone_activation_block(1710374399)
    assert op_mainnet.is_jovian_activation_block(1764691201)
    assert op_mainnet.is_isthmus_activation_block(1746806401)
    assert not op_mainnet.is_fjord_activation_block(1746806401)
    # A fork time between blocks activates at the next block.
    config = minimal_config(canyon_time=101)
    assert config.is_canyon_activation_block(102) and not config.is_canyon_activation_block(104)
    # op-node's guard: no activation block before one block time has passed.
    assert not minimal_config(regolith_time=0).is_regolith_activation_block(0)
    assert minimal_config(delta_time=2).is_delta_activation_block(2)


def test_every_fork_has_predicates() -> None:
    config = minimal_config(**{f"{fork}_time": 10 for fork in FORKS})
    for fork in FORKS:
        assert getattr(config, f"is_{fork}")(10) and not getattr(config, f"is_{fork}")(9)
        assert getattr(config, f"is_{fork}_activation_block")(10)
        assert not getattr(config, f"is_{fork}_activation_block")(12)
    with pytest.raises(ValueError):
        config.is_active("shanghai", 0)


def test_jovian_activation_block_number_on_op_mainnet(op_mainnet: RollupConfig) -> None:
    # OP Mainnet block 144546212 is the first Jovian block (ts >= jovian_time 1764691201).
    assert op_mainnet.timestamp_for_block(144546212) == 1764691201
    assert op_mainnet.block_for_timestamp(1764691201) == 144546212
    assert op_mainnet.block_for_timestamp(1764691202) == 144546212
    assert op_mainnet.is_jovian_activation_block(op_mainnet.timestamp_for_block(144546212))
    with pytest.raises(ValueError):
        op_mainnet.timestamp_for_block(105235062)
    with pytest.raises(ValueError):
        op_mainnet.block_for_timestamp(1686068902)


def test_fork_dependent_parameters(op_mainnet: RollupConfig) -> None:
    fjord, granite = 1720627201, 1726070401
    assert op_mainnet.max_sequencer_drift(fjord - 1) == 600
    assert op_mainnet.max_sequencer_drift(fjord) == 1800
    assert op_mainnet.channel_timeout_at(granite - 1) == 300
    assert op_mainnet.channel_timeout_at(granite) == 50
    assert op_mainnet.max_rlp_bytes_per_channel(fjord - 1) == 10_000_000
    assert op_mainnet.max_rlp_bytes_per_channel(fjord) == 100_000_000
    assert op_mainnet.max_channel_bank_size(fjord - 1) == 100_000_000
    assert op_mainnet.max_channel_bank_size(fjord) == 1_000_000_000


def test_fork_at(op_mainnet: RollupConfig) -> None:
    assert op_mainnet.fork_at(1686068903) == "regolith"
    assert op_mainnet.fork_at(1710374401) == "ecotone"
    assert op_mainnet.fork_at(1746806401) == "isthmus"
    assert op_mainnet.fork_at(1783526401) == "karst"
    assert minimal_config(regolith_time=10).fork_at(5) == "bedrock"
    assert minimal_config(interop_time=10).fork_at(10) == "interop"


def test_pectra_blob_schedule() -> None:
    sepolia = RollupConfig.from_json(vector("op-sepolia"))
    assert not sepolia.is_pectra_blob_schedule(1742486399)
    assert sepolia.is_pectra_blob_schedule(1742486400)
    assert not RollupConfig.from_json(vector("op-mainnet")).is_pectra_blob_schedule(2**40)


# --- property: JSON round trip ----------------------------------------------------------------


def minimal_config(**overrides: object) -> RollupConfig:
    fields: dict = {
        "genesis": Genesis(BlockID(b"\x01" * 32, 0), BlockID(b"\x02" * 32, 0), 0, SystemConfig()),
        "block_time": 2,
        "seq_window_size": 3600,
        "channel_timeout": 300,
        "l1_chain_id": 900,
        "l2_chain_id": 901,
        "batch_inbox_address": b"\xff" * 20,
        "deposit_contract_address": b"\x01" * 20,
        "l1_system_config_address": b"\x02" * 20,
    }
    fields.update(overrides)
    return RollupConfig(**fields)


u64 = st.integers(0, 2**64 - 1)
opt_time = st.none() | u64
hash32 = st.binary(min_size=32, max_size=32)
addr = st.binary(min_size=20, max_size=20)
system_configs = st.builds(
    SystemConfig,
    batcher_address=addr,
    overhead=hash32,
    scalar=hash32,
    gas_limit=u64,
    eip1559_denominator=st.integers(0, 2**32 - 1),
    eip1559_elasticity=st.integers(0, 2**32 - 1),
    operator_fee_scalar=st.integers(0, 2**32 - 1),
    operator_fee_constant=u64,
    min_base_fee=u64,
    da_footprint_gas_scalar=st.integers(0, 2**16 - 1),
)
rollup_configs = st.builds(
    RollupConfig,
    genesis=st.builds(
        Genesis,
        l1=st.builds(BlockID, hash32, u64),
        l2=st.builds(BlockID, hash32, u64),
        l2_time=u64,
        system_config=system_configs,
    ),
    block_time=st.integers(1, 2**64 - 1),
    seq_window_size=u64,
    channel_timeout=u64,
    l1_chain_id=st.integers(0, 2**256 - 1),
    l2_chain_id=st.integers(0, 2**256 - 1),
    batch_inbox_address=addr,
    deposit_contract_address=addr,
    l1_system_config_address=addr,
    max_sequencer_drift_pre_fjord=u64,
    granite_channel_timeout=u64,
    regolith_time=opt_time,
    canyon_time=opt_time,
    delta_time=opt_time,
    ecotone_time=opt_time,
    fjord_time=opt_time,
    granite_time=opt_time,
    holocene_time=opt_time,
    isthmus_time=opt_time,
    jovian_time=opt_time,
    karst_time=opt_time,
    interop_time=opt_time,
    pectra_blob_schedule_time=opt_time,
    keep_karst_upgrade_gas=st.booleans(),
    chain_op_config=st.none() | st.builds(ChainOpConfig, u64, u64, st.none() | u64),
    alt_da=st.none()
    | st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(rollup_configs)
def test_json_round_trip(config: RollupConfig) -> None:
    obj = json.loads(json.dumps(config.to_json()))
    parsed = RollupConfig.from_json(obj)
    assert parsed == config
    assert parsed.alt_da == config.alt_da
    assert parsed.to_json() == obj

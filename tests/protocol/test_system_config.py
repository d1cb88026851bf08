"""SystemConfig: op-node JSON, ConfigUpdate logs (types 0-7), scalars, rebuilding from L2 blocks.

Vectors: tests/vectors/rollup-configs/op-mainnet.rollup.json (genesis system config) and
tests/vectors/l1-info-calldata.json (kona's real OP Mainnet L1-info calldata).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import ConfigError, DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.l1_block_info import system_config_from_l2_block
from opfleet.protocol.log import Log
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import (
    CONFIG_UPDATE_TOPIC,
    ConfigUpdateType,
    SystemConfig,
    apply_config_update,
    batcher_from_hash,
    batcher_hash,
    check_ecotone_scalar,
    checksum_address,
    decode_scalar,
    ecotone_scalars,
    encode_scalar,
    update_system_config_with_receipts,
)

VECTORS = Path(__file__).parents[1] / "vectors"
SYSTEM_CONFIG_ADDRESS = bytes.fromhex("229047fed2591dbec1ef1118d64f7af3db9eb290")


def op_mainnet() -> RollupConfig:
    obj = json.loads((VECTORS / "rollup-configs" / "op-mainnet.rollup.json").read_text())
    return RollupConfig.from_json(obj)


def l1_info_vector(fork: str) -> bytes:
    data = json.loads((VECTORS / "l1-info-calldata.json").read_text())
    return next(bytes.fromhex(v["calldata"][2:]) for v in data["vectors"] if v["fork"] == fork)


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def update_log(
    update_type: int, payload: bytes, *, pointer: int = 32, length: int | None = None
) -> Log:
    data = word(pointer) + word(len(payload) if length is None else length) + payload
    topics = (CONFIG_UPDATE_TOPIC, bytes(32), word(update_type))
    return Log(address=SYSTEM_CONFIG_ADDRESS, topics=topics, data=data)


def apply(log: Log, config: SystemConfig | None = None, *, ecotone: bool = True) -> SystemConfig:
    return apply_config_update(BASE if config is None else config, log, ecotone_active=ecotone)


def from_block(timestamp: int, extra: bytes = b"", info: bytes | None = None, **kw) -> SystemConfig:
    fields = {"number": 1, "gas_limit": 1, "extra_data": extra, "l1_info_data": info, **kw}
    return system_config_from_l2_block(op_mainnet(), timestamp=timestamp, **fields)


BASE = SystemConfig(
    batcher_address=b"\x11" * 20, overhead=word(0xBC), scalar=word(0xA6FE0), gas_limit=30_000_000
)


# --- constants and JSON -------------------------------------------------------------------------


def test_config_update_topic_is_event_signature_hash() -> None:
    assert CONFIG_UPDATE_TOPIC == keccak256(b"ConfigUpdate(uint256,uint8,bytes)")


def test_checksum_address_eip55_examples() -> None:
    # EIP-55 specification test addresses.
    for expected in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert checksum_address(bytes.fromhex(expected[2:])) == expected


def test_genesis_system_config_json_from_vector() -> None:
    # rollup-configs/op-mainnet.rollup.json genesis.system_config (pre-Holocene shape).
    path = VECTORS / "rollup-configs" / "op-mainnet.rollup.json"
    obj = json.loads(path.read_text())["genesis"]["system_config"]
    config = SystemConfig.from_json(obj)
    assert config.batcher_address.hex() == "6887246668a3b87f54deb3b94ba47a6f63f32985"
    assert int.from_bytes(config.overhead, "big") == 0xBC
    assert int.from_bytes(config.scalar, "big") == 0xA6FE0
    assert config.marshal_pre_holocene
    assert config.to_json() == obj and list(config.to_json()) == list(obj)


def test_holocene_json_shape() -> None:
    config = SystemConfig(
        batcher_address=bytes.fromhex("41" + "00" * 19),
        overhead=bytes([4, 5, 6]) + bytes(29),
        scalar=bytes([7, 8, 9]) + bytes(29),
        gas_limit=1234,
        eip1559_denominator=250,
        eip1559_elasticity=6,
        operator_fee_scalar=0x01020304,
        operator_fee_constant=0x0506,
        min_base_fee=7,
        da_footprint_gas_scalar=400,
    )
    out = config.to_json()
    assert out == {
        "batcherAddr": "0x4100000000000000000000000000000000000000",
        "overhead": "0x0405060000000000000000000000000000000000000000000000000000000000",
        "scalar": "0x0708090000000000000000000000000000000000000000000000000000000000",
        "gasLimit": 1234,
        "eip1559Params": "0x000000fa00000006",
        "operatorFeeParams": "0x0000000000000000000000000000000000000000010203040000000000000506",
        "minBaseFee": 7,
        "daFootprintGasScalar": 400,
    }
    assert SystemConfig.from_json(out) == config
    assert not SystemConfig.from_json(out).marshal_pre_holocene
    short = replace(config, marshal_pre_holocene=True).to_json()
    assert list(short) == ["batcherAddr", "overhead", "scalar", "gasLimit"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("gasLimit", 2**64, "out of range"),
        ("gasLimit", "30000000", "JSON integer"),
        ("daFootprintGasScalar", 65536, "out of range"),
        ("eip1559Params", "0x00", "8-byte"),
        ("operatorFeeParams", "0x" + "00" * 31, "32-byte"),
        ("batcherAddr", 5, "address"),
    ],
)
def test_json_bad_values(key: str, value: object, expected: str) -> None:
    obj = BASE.to_json()
    obj[key] = value
    with pytest.raises(ConfigError, match=expected) as info:
        SystemConfig.from_json(obj, source="x.json")
    assert info.value.key == f"system_config.{key}"


def test_json_requires_object() -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        SystemConfig.from_json([])


u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
system_configs = st.builds(
    SystemConfig,
    batcher_address=st.binary(min_size=20, max_size=20),
    overhead=st.binary(min_size=32, max_size=32),
    scalar=st.binary(min_size=32, max_size=32),
    gas_limit=u64,
    eip1559_denominator=u32,
    eip1559_elasticity=u32,
    operator_fee_scalar=u32,
    operator_fee_constant=u64,
    min_base_fee=u64,
    da_footprint_gas_scalar=st.integers(0, 2**16 - 1),
)


@settings(max_examples=80, deadline=None)
@given(system_configs)
def test_json_round_trip(config: SystemConfig) -> None:
    obj = json.loads(json.dumps(config.to_json()))
    assert SystemConfig.from_json(obj) == config
    assert SystemConfig.from_json(obj).to_json() == obj


def test_dataclass_rejects_out_of_range_fields() -> None:
    with pytest.raises(ValueError):
        SystemConfig(gas_limit=2**64)
    with pytest.raises(ValueError):
        SystemConfig(batcher_address=b"\x00" * 19)


# --- scalars ------------------------------------------------------------------------------------


def test_scalar_versions() -> None:
    assert decode_scalar(word(0xA6FE0)) == (0, 0xA6FE0)
    v1 = encode_scalar(810949, 1368)
    assert v1[0] == 1 and decode_scalar(v1) == (810949, 1368)
    assert ecotone_scalars(v1) == (810949, 1368)
    check_ecotone_scalar(v1)
    check_ecotone_scalar(word(0xA6FE0))


def test_version0_scalar_with_padding_maps_to_max_uint32() -> None:
    padded = bytes(1) + b"\x01" + bytes(26) + (1368).to_bytes(4, "big")
    assert ecotone_scalars(padded) == (0, 0xFFFFFFFF)
    with pytest.raises(DecodeError, match="padding"):
        check_ecotone_scalar(padded)


def test_bad_scalars() -> None:
    bad_v1 = bytes([1]) + b"\x01" + bytes(30)
    with pytest.raises(DecodeError, match="version 1"):
        ecotone_scalars(bad_v1)
    with pytest.raises(DecodeError, match="unknown scalar version 2"):
        ecotone_scalars(bytes([2]) + bytes(31))
    with pytest.raises(DecodeError, match="unknown scalar version"):
        decode_scalar(bytes([7]) + bytes(31))


def test_batcher_hash() -> None:
    address = bytes.fromhex("6887246668a3b87f54deb3b94ba47a6f63f32985")
    assert batcher_from_hash(batcher_hash(address)) == address
    with pytest.raises(DecodeError, match="padding"):
        batcher_from_hash(b"\x01" + bytes(11) + address)
    with pytest.raises(DecodeError):
        batcher_from_hash(address)


def test_eip1559_params_bytes() -> None:
    config = replace(BASE, eip1559_denominator=250, eip1559_elasticity=6)
    assert config.eip1559_params_bytes() == bytes.fromhex("000000fa00000006")


# --- ConfigUpdate: every type ---------------------------------------------------------------------


def test_update_batcher() -> None:
    new = b"\x22" * 20
    assert apply(update_log(0, bytes(12) + new)).batcher_address == new


def test_update_fee_scalars_pre_ecotone_sets_both_raw() -> None:
    # Any scalar is kept as is before Ecotone.
    overhead, scalar = word(0x834), bytes([9]) + bytes(27) + (5).to_bytes(4, "big")
    out = apply(update_log(1, overhead + scalar), ecotone=False)
    assert (out.overhead, out.scalar) == (overhead, scalar)


def test_update_fee_scalars_post_ecotone() -> None:
    scalar = encode_scalar(810949, 1368)
    out = apply(update_log(1, word(0x834) + scalar))
    assert out.scalar == scalar and out.overhead == bytes(32)
    # An invalid scalar is ignored after Ecotone: the old values stay.
    for bad in (bytes([2]) + bytes(31), bytes([1, 1]) + bytes(30), bytes([0, 1]) + bytes(30)):
        assert apply(update_log(1, word(0x834) + bad)) == BASE


def test_update_gas_limit() -> None:
    assert apply(update_log(2, word(60_000_000))).gas_limit == 60_000_000
    assert apply(update_log(2, word(2**64 - 1))).gas_limit == 2**64 - 1


def test_update_unsafe_block_signer_is_ignored_even_if_malformed() -> None:
    assert apply(update_log(3, bytes(12) + b"\x33" * 20)) == BASE
    garbage = Log(SYSTEM_CONFIG_ADDRESS, (CONFIG_UPDATE_TOPIC, bytes(32), word(3)), b"\x01\x02")
    assert apply_config_update(BASE, garbage, ecotone_active=True) == BASE


def test_update_eip1559_params() -> None:
    value = (250 << 32) | 6
    out = apply(update_log(4, word(value)))
    assert (out.eip1559_denominator, out.eip1559_elasticity) == (250, 6)
    # op-node reads only the low 8 bytes of the word.
    out = apply(update_log(4, b"\xff" * 24 + value.to_bytes(8, "big")))
    assert (out.eip1559_denominator, out.eip1559_elasticity) == (250, 6)
    assert apply(update_log(4, word(0)), out).eip1559_denominator == 0
    with pytest.raises(DecodeError, match="zero denominator"):
        apply(update_log(4, word(6)))


def test_update_operator_fee_params() -> None:
    value = bytes(20) + (0xABCD).to_bytes(4, "big") + (0xDCBA).to_bytes(8, "big")
    out = apply(update_log(5, value))
    assert (out.operator_fee_scalar, out.operator_fee_constant) == (0xABCD, 0xDCBA)
    assert out.operator_fee_params_bytes() == value


def test_update_min_base_fee() -> None:
    assert apply(update_log(6, word(10**9))).min_base_fee == 10**9


def test_update_da_footprint_gas_scalar() -> None:
    assert apply(update_log(7, word(400))).da_footprint_gas_scalar == 400


def test_update_types_enum_covers_0_to_7() -> None:
    assert [t.value for t in ConfigUpdateType] == list(range(8))


# --- ConfigUpdate: bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("update_type", [0, 1, 2, 4, 5, 6, 7])
def test_bad_pointer(update_type: int) -> None:
    size = 64 if update_type == 1 else 32
    for pointer in (0, 64, 1 << 200):
        with pytest.raises(DecodeError, match="pointer") as info:
            apply(update_log(update_type, bytes(size), pointer=pointer), ecotone=False)
        assert info.value.offset == 0


@pytest.mark.parametrize("update_type", [0, 1, 2, 4, 5, 6, 7])
def test_bad_length(update_type: int) -> None:
    size = 64 if update_type == 1 else 32
    with pytest.raises(DecodeError, match="length") as info:
        apply(update_log(update_type, bytes(size), length=size + 32), ecotone=False)
    assert info.value.offset == 32


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "pointer"),
        (word(32), "length word"),
        (word(32) + word(32) + bytes(16), "truncated"),
        (word(32) + word(32) + bytes(32) + bytes(1), "trailing"),
    ],
)
def test_truncated_and_oversized_data(data: bytes, message: str) -> None:
    log = Log(SYSTEM_CONFIG_ADDRESS, (CONFIG_UPDATE_TOPIC, bytes(32), word(2)), data)
    with pytest.raises(DecodeError, match=message):
        apply_config_update(BASE, log, ecotone_active=True)


def test_value_overflow() -> None:
    with pytest.raises(DecodeError, match="gas limit does not fit in 64 bits"):
        apply_config_update(BASE, update_log(2, word(2**64)), ecotone_active=True)
    with pytest.raises(DecodeError, match="min base fee"):
        apply_config_update(BASE, update_log(6, word(2**64)), ecotone_active=True)
    with pytest.raises(DecodeError, match="DA footprint"):
        apply_config_update(BASE, update_log(7, word(2**16)), ecotone_active=True)
    with pytest.raises(DecodeError, match="batcher address"):
        apply(update_log(0, b"\x01" + bytes(11) + b"\x22" * 20))


def test_bad_topics() -> None:
    good = update_log(2, word(1))
    with pytest.raises(DecodeError, match="3 topics"):
        apply_config_update(BASE, replace(good, topics=good.topics[:2]), ecotone_active=True)
    with pytest.raises(DecodeError, match="not a ConfigUpdate"):
        apply(replace(good, topics=(bytes(32), *good.topics[1:])))
    with pytest.raises(DecodeError, match="version"):
        apply(replace(good, topics=(CONFIG_UPDATE_TOPIC, word(1), word(2))))
    for bad_type in (word(8), word(255), b"\x01" + bytes(30) + b"\x02"):
        with pytest.raises(DecodeError, match="unknown ConfigUpdate type"):
            apply(replace(good, topics=(CONFIG_UPDATE_TOPIC, bytes(32), bad_type)))


@settings(max_examples=150, deadline=None)
@given(update_type=st.integers(0, 7), data=st.binary(max_size=200))
def test_garbage_data_only_raises_decode_error(update_type: int, data: bytes) -> None:
    log = Log(SYSTEM_CONFIG_ADDRESS, (CONFIG_UPDATE_TOPIC, bytes(32), word(update_type)), data)
    try:
        apply_config_update(BASE, log, ecotone_active=bool(update_type % 2))
    except DecodeError:
        pass


def test_update_with_receipts_filters_and_orders() -> None:
    other_contract = replace(update_log(2, word(1)), address=b"\x99" * 20)
    other_event = Log(SYSTEM_CONFIG_ADDRESS, (b"\x01" * 32,), b"")
    receipts = [
        (1, [update_log(2, word(40_000_000)), other_contract, other_event]),
        (0, [update_log(2, word(1))]),  # failed receipt: ignored
        (1, [update_log(2, word(50_000_000)), update_log(6, word(5))]),
    ]
    address = SYSTEM_CONFIG_ADDRESS
    out = update_system_config_with_receipts(BASE, receipts, address, ecotone_active=True)
    assert out.gas_limit == 50_000_000 and out.min_base_fee == 5
    with pytest.raises(DecodeError):
        bad = [(1, [update_log(2, word(2**64))])]
        update_system_config_with_receipts(BASE, bad, address, ecotone_active=True)


# --- reconstruction from an L2 block --------------------------------------------------------------


def test_from_genesis_block() -> None:
    config = op_mainnet()
    genesis = config.genesis
    out = from_block(genesis.l2_time, number=genesis.l2.number, block_hash=genesis.l2.hash)
    assert out == genesis.system_config
    with pytest.raises(DecodeError, match="genesis hash"):
        from_block(genesis.l2_time, number=genesis.l2.number, block_hash=bytes(32))


def test_from_bedrock_block() -> None:
    # kona utils.rs test_constructs_bedrock_system_config: RAW_BEDROCK_INFO_TX
    # (l1-info-calldata.json "bedrock").
    out = from_block(1700000001, info=l1_info_vector("bedrock"), gas_limit=30_000_000)
    assert out == SystemConfig(
        batcher_address=bytes.fromhex("6887246668a3b87f54deb3b94ba47a6f63f32985"),
        overhead=word(188),
        scalar=word(684000),
        gas_limit=30_000_000,
    )


def test_from_isthmus_block_with_holocene_extra_data() -> None:
    ts = 1746806401 + 2  # after the Isthmus activation block, before Jovian
    extra = bytes([0]) + (250).to_bytes(4, "big") + (2).to_bytes(4, "big")
    out = from_block(ts, extra, l1_info_vector("isthmus"), gas_limit=40_000_000)
    assert out.scalar == encode_scalar(810949, 1368) and out.overhead == bytes(32)
    assert (out.eip1559_denominator, out.eip1559_elasticity) == (250, 2)
    assert (out.operator_fee_scalar, out.operator_fee_constant) == (43981, 56506)
    assert out.gas_limit == 40_000_000 and out.min_base_fee == 0


def test_from_jovian_block_extra_data() -> None:
    # kona utils.rs test: Jovian extraData 010000beef0000babe0000000000000000.
    extra = bytes.fromhex("010000beef0000babe0000000000000000")
    out = from_block(1764691203, extra, l1_info_vector("isthmus"))
    assert (out.eip1559_denominator, out.eip1559_elasticity) == (0xBEEF, 0xBABE)
    assert out.min_base_fee == 0
    extra = extra[:9] + (7).to_bytes(8, "big")
    assert from_block(1764691203, extra, l1_info_vector("isthmus")).min_base_fee == 7


@pytest.mark.parametrize(("keep", "expected"), [(True, 85_370_657), (False, 30_000_000)])
def test_karst_activation_block_upgrade_gas_kept_or_stripped(keep: bool, expected: int) -> None:
    """op-node PayloadToSystemConfig / kona upgrade_gas_to_strip: the activation block's header
    gas limit includes the upgrade gas (55,370,657); keep_karst_upgrade_gas decides."""
    cfg = dataclasses.replace(op_mainnet(), keep_karst_upgrade_gas=keep)
    extra = bytes.fromhex("010000beef0000babe0000000000000000")
    fields = {"number": 1, "extra_data": extra, "l1_info_data": l1_info_vector("isthmus")}
    karst = 1783526401
    out = system_config_from_l2_block(cfg, timestamp=karst, gas_limit=85_370_657, **fields)
    assert out.gas_limit == expected
    # Any other block's header gas limit is the system config's, kept or not.
    later = system_config_from_l2_block(cfg, timestamp=karst + 2, gas_limit=85_370_657, **fields)
    assert later.gas_limit == 85_370_657


@pytest.mark.parametrize(
    ("timestamp", "extra", "message"),
    [
        (1746806403, bytes(8), "must be 9 bytes"),
        (1746806403, bytes([1]) + bytes(8), "version must be 0"),
        (1746806403, bytes([0]) + bytes(4) + (6).to_bytes(4, "big"), "zero EIP-1559 denominator"),
        (1764691203, bytes([0]) + bytes(8), "must be 17 bytes"),
        (1764691203, bytes(17), "version must be 1"),
    ],
)
def test_bad_extra_data(timestamp: int, extra: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        from_block(timestamp, extra, l1_info_vector("isthmus"))


def test_bad_l1_info_in_block() -> None:
    with pytest.raises(DecodeError, match="selector"):
        from_block(1700000001, info=b"\x00" * 164)
    with pytest.raises(DecodeError, match="no L1-info deposit"):
        from_block(1700000001)

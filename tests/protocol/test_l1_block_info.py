"""L1-info deposit calldata (Bedrock/Ecotone/Isthmus/Jovian) and the deposit built per L2 block.

Vectors: tests/vectors/l1-info-calldata.json (real OP Mainnet calldata from kona test_utils.rs
with its decoded fields), tests/vectors/rollup-configs/*.rollup.json,
tests/vectors/source-hashes.json (L1-info source hash).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import ConfigError, DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import L1_INFO_DEPOSITOR, decode_deposit_tx, l1_info_source_hash
from opfleet.protocol.l1_block_info import (
    CANCUN_BLOB_UPDATE_FRACTION,
    L1_BLOCK_ADDRESS,
    LENGTHS,
    PRAGUE_BLOB_UPDATE_FRACTION,
    SELECTORS,
    BlobSchedule,
    L1BlockInfo,
    L1OriginHeader,
    blob_base_fee,
    decode_l1_block_info,
    fake_exponential,
    l1_blob_base_fee,
    l1_info_deposit,
    l1_info_layout,
)
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig, encode_scalar

VECTORS = Path(__file__).parents[1] / "vectors"
CALLDATA = json.loads((VECTORS / "l1-info-calldata.json").read_text())
BY_FORK = {v["fork"]: v for v in CALLDATA["vectors"]}

# OP Mainnet fork times, each on a block boundary.
ECOTONE, ISTHMUS, JOVIAN = 1710374401, 1746806401, 1764691201


def h(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def config(name: str = "op-mainnet") -> RollupConfig:
    obj = json.loads((VECTORS / "rollup-configs" / f"{name}.rollup.json").read_text())
    return RollupConfig.from_json(obj)


# --- vectors --------------------------------------------------------------------------------------


def test_selectors_and_lengths_match_vector_table() -> None:
    for signature, selector in CALLDATA["selectors"].items():
        assert keccak256(signature.encode())[:4] == h(selector)
    for layout in ("bedrock", "ecotone", "isthmus", "jovian"):
        assert LENGTHS[layout] == CALLDATA["lengths"][layout]
    assert SELECTORS["jovian"] == h(CALLDATA["selectors"]["setL1BlockValuesJovian()"])


@pytest.mark.parametrize("fork", ["bedrock", "ecotone", "isthmus"])
def test_decode_vectors(fork: str) -> None:
    case = BY_FORK[fork]
    raw = h(case["calldata"])
    info = decode_l1_block_info(raw)
    expected = case["decoded"]
    assert info.layout == fork
    assert info.number == expected["number"] and info.time == expected["time"]
    assert info.base_fee == expected["base_fee"]
    assert info.block_hash == h(expected["block_hash"])
    assert info.sequence_number == expected["sequence_number"]
    assert info.batcher_address == h(expected["batcher_address"])
    if fork == "bedrock":
        assert int.from_bytes(info.l1_fee_overhead, "big") == int(expected["l1_fee_overhead"], 16)
        assert int.from_bytes(info.l1_fee_scalar, "big") == int(expected["l1_fee_scalar"], 16)
    else:
        assert info.base_fee_scalar == expected["base_fee_scalar"]
        assert info.blob_base_fee_scalar == expected["blob_base_fee_scalar"]
        assert info.blob_base_fee == expected["blob_base_fee"]
    if fork == "isthmus":
        assert info.operator_fee_scalar == expected["operator_fee_scalar"]
        assert info.operator_fee_constant == expected["operator_fee_constant"]
    assert info.encode() == raw


def test_jovian_layout_extends_isthmus_with_da_scalar() -> None:
    isthmus = decode_l1_block_info(h(BY_FORK["isthmus"]["calldata"]))
    jovian = replace(isthmus, layout="jovian", da_footprint_gas_scalar=400)
    raw = jovian.encode()
    assert len(raw) == 178 and raw[:4] == SELECTORS["jovian"]
    assert raw[4:176] == isthmus.encode()[4:] and raw[176:] == (400).to_bytes(2, "big")
    assert decode_l1_block_info(raw) == jovian
    assert jovian.to_json()["daFootprintGasScalar"] == 400


# --- property round trips, one per layout -------------------------------------------------------


def infos(layout: str) -> st.SearchStrategy[L1BlockInfo]:
    u32, u64 = st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
    u256, word = st.integers(0, 2**256 - 1), st.binary(min_size=32, max_size=32)
    common = {
        "layout": st.just(layout),
        "number": u64,
        "time": u64,
        "base_fee": u256,
        "block_hash": st.binary(min_size=32, max_size=32),
        "sequence_number": u64,
        "batcher_address": st.binary(min_size=20, max_size=20),
    }
    if layout == "bedrock":
        common |= {"l1_fee_overhead": word, "l1_fee_scalar": word}
    else:
        common |= {"base_fee_scalar": u32, "blob_base_fee_scalar": u32, "blob_base_fee": u256}
    if layout in ("isthmus", "jovian"):
        common |= {"operator_fee_scalar": u32, "operator_fee_constant": u64}
    if layout == "jovian":
        common["da_footprint_gas_scalar"] = st.integers(0, 2**16 - 1)
    return st.builds(L1BlockInfo, **common)


@pytest.mark.parametrize("layout", ["bedrock", "ecotone", "isthmus", "jovian"])
def test_round_trip_each_layout(layout: str) -> None:
    @settings(max_examples=40, deadline=None)
    @given(infos(layout))
    def check(info: L1BlockInfo) -> None:
        raw = info.encode()
        assert len(raw) == LENGTHS[layout]
        assert decode_l1_block_info(raw) == info

    check()


# --- bad calldata --------------------------------------------------------------------------------


@pytest.mark.parametrize("fork", ["bedrock", "ecotone", "isthmus"])
def test_wrong_length(fork: str) -> None:
    raw = h(BY_FORK[fork]["calldata"])
    for bad in (raw[:-1], raw + b"\x00", raw[:4]):
        with pytest.raises(DecodeError, match="must be") as info:
            decode_l1_block_info(bad)
        assert info.value.offset == min(len(bad), len(raw))


def test_unknown_or_missing_selector() -> None:
    ecotone = h(BY_FORK["ecotone"]["calldata"])
    for selector in (b"\x00\x00\x00\x00", h(CALLDATA["selectors"]["setL1BlockValuesInterop()"])):
        with pytest.raises(DecodeError, match="unknown L1-info selector") as info:
            decode_l1_block_info(selector + ecotone[4:])
        assert info.value.offset == 0
    with pytest.raises(DecodeError, match="too short"):
        decode_l1_block_info(b"\x01\x5d")


def test_bedrock_word_overflow_and_batcher_padding() -> None:
    raw = bytearray(h(BY_FORK["bedrock"]["calldata"]))
    raw[4] = 1  # number word above 64 bits
    with pytest.raises(DecodeError, match="number") as info:
        decode_l1_block_info(bytes(raw))
    assert info.value.offset == 4
    raw = bytearray(h(BY_FORK["bedrock"]["calldata"]))
    raw[164] = 1  # batcherHash padding
    with pytest.raises(DecodeError, match="padding") as info:
        decode_l1_block_info(bytes(raw))
    assert info.value.offset == 164
    raw = bytearray(h(BY_FORK["ecotone"]["calldata"]))
    raw[140] = 1
    with pytest.raises(DecodeError, match="padding") as info:
        decode_l1_block_info(bytes(raw))
    assert info.value.offset == 132


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(SELECTORS.values())), st.binary(max_size=300))
def test_garbage_only_raises_decode_error(selector: bytes, body: bytes) -> None:
    try:
        decode_l1_block_info(selector + body)
    except DecodeError:
        pass


# --- the deposit for an L2 block ------------------------------------------------------------------


def header_of(decoded: dict, excess_blob_gas: int | None = None) -> L1OriginHeader:
    number, time, base_fee = decoded["number"], decoded["time"], decoded["base_fee"]
    return L1OriginHeader(number, time, base_fee, h(decoded["block_hash"]), excess_blob_gas)


def test_layout_lags_one_block_at_each_activation() -> None:
    cfg = config()
    assert l1_info_layout(cfg, ECOTONE - 2) == "bedrock"
    assert l1_info_layout(cfg, ECOTONE) == "bedrock"
    assert l1_info_layout(cfg, ECOTONE + 2) == "ecotone"
    assert l1_info_layout(cfg, ISTHMUS) == "ecotone"
    assert l1_info_layout(cfg, ISTHMUS + 2) == "isthmus"
    assert l1_info_layout(cfg, JOVIAN) == "isthmus"
    assert l1_info_layout(cfg, JOVIAN + 2) == "jovian"


def test_bedrock_deposit_reproduces_vector() -> None:
    # l1-info-calldata.json "bedrock": OP Mainnet, October 2023, genesis system config.
    case = BY_FORK["bedrock"]
    decoded = case["decoded"]
    cfg = config()
    header = header_of(decoded)
    tx = l1_info_deposit(cfg, cfg.genesis.system_config, header, 4, 1697121149)
    assert tx.data == h(case["calldata"])
    assert tx.source_hash == l1_info_source_hash(header.hash, 4)
    assert (tx.from_address, tx.to, tx.gas) == (L1_INFO_DEPOSITOR, L1_BLOCK_ADDRESS, 1_000_000)
    assert (tx.is_system_tx, tx.mint, tx.value) == (False, 0, 0)
    assert decode_deposit_tx(tx.encode()) == tx


def test_ecotone_deposit_reproduces_vector() -> None:
    case = BY_FORK["ecotone"]
    decoded = case["decoded"]
    cfg = config()
    system = replace(cfg.genesis.system_config, scalar=encode_scalar(810949, 1368))
    tx = l1_info_deposit(cfg, system, header_of(decoded, 0), decoded["sequence_number"], 1713121151)
    assert tx.data == h(case["calldata"])


def test_isthmus_and_jovian_deposits() -> None:
    case = BY_FORK["isthmus"]
    decoded = case["decoded"]
    cfg = config()
    system = replace(
        cfg.genesis.system_config,
        scalar=encode_scalar(810949, 1368),
        operator_fee_scalar=43981,
        operator_fee_constant=56506,
    )
    header = header_of(decoded, 0)
    assert l1_info_deposit(cfg, system, header, 5, ISTHMUS + 2).data == h(case["calldata"])
    jovian = decode_l1_block_info(l1_info_deposit(cfg, system, header, 5, JOVIAN + 2).data)
    # 0 in the system config becomes the default 400.
    assert jovian.layout == "jovian" and jovian.da_footprint_gas_scalar == 400
    system = replace(system, da_footprint_gas_scalar=7)
    jovian = decode_l1_block_info(l1_info_deposit(cfg, system, header, 5, JOVIAN + 2).data)
    assert jovian.da_footprint_gas_scalar == 7 and jovian.operator_fee_constant == 56506


def test_pre_regolith_deposit_is_a_system_tx() -> None:
    cfg = replace(config(), regolith_time=None)
    header = L1OriginHeader(1, 2, 3, b"\x01" * 32)
    tx = l1_info_deposit(cfg, cfg.genesis.system_config, header, 0, 1686068905)
    assert tx.gas == 150_000_000 and tx.is_system_tx is True


def test_version0_scalar_padding_rule_and_bad_scalar() -> None:
    cfg = config()
    header = L1OriginHeader(1, 2, 3, b"\x01" * 32, excess_blob_gas=0)
    padded = bytes(1) + b"\x01" + bytes(26) + (1368).to_bytes(4, "big")
    system = replace(cfg.genesis.system_config, scalar=padded)
    info = decode_l1_block_info(l1_info_deposit(cfg, system, header, 0, ECOTONE + 2).data)
    assert (info.base_fee_scalar, info.blob_base_fee_scalar) == (0xFFFFFFFF, 0)
    with pytest.raises(DecodeError, match="unknown scalar version"):
        system = replace(cfg.genesis.system_config, scalar=bytes([3]) + bytes(31))
        l1_info_deposit(cfg, system, header, 0, ECOTONE + 2)


# --- blob base fee -------------------------------------------------------------------------------


CANCUN, PRAGUE = CANCUN_BLOB_UPDATE_FRACTION, PRAGUE_BLOB_UPDATE_FRACTION


@pytest.mark.parametrize(
    ("factor", "numerator", "denominator", "expected"),
    # go-ethereum consensus/misc/eip4844 TestFakeExponential cases.
    [
        (1, 0, 1, 1), (38493, 0, 1000, 38493), (0, 1234, 2345, 0), (1, 2, 1, 6), (1, 4, 2, 6),
        (1, 3, 1, 16), (10, 8, 2, 542), (11, 8, 2, 596), (2, 5, 2, 23),
        (1, 50000000, 2225652, 5709098764),
    ],
)  # fmt: skip
def test_fake_exponential(factor: int, numerator: int, denominator: int, expected: int) -> None:
    assert fake_exponential(factor, numerator, denominator) == expected


def test_blob_base_fee_schedules() -> None:
    mainnet = config("op-mainnet")
    excess = 10_000_000
    before_prague = L1OriginHeader(1, 1746612310, 1, bytes(32), excess)
    after_prague = L1OriginHeader(1, 1746612311, 1, bytes(32), excess)
    assert l1_blob_base_fee(mainnet, before_prague) == blob_base_fee(excess, CANCUN)
    assert l1_blob_base_fee(mainnet, after_prague) == blob_base_fee(excess, PRAGUE)
    assert blob_base_fee(excess, CANCUN) != blob_base_fee(excess, PRAGUE)
    after_bpo2 = L1OriginHeader(1, 1767747671, 1, bytes(32), excess)
    assert l1_blob_base_fee(mainnet, after_bpo2) == blob_base_fee(excess, 11_684_671)
    assert l1_blob_base_fee(mainnet, L1OriginHeader(1, 1, 1, bytes(32), None)) == 1


def test_pectra_blob_schedule_keeps_cancun_fraction() -> None:
    # OP Sepolia: L1 Prague at 1741159776, pectra_blob_schedule_time 1742486400.
    sepolia = config("op-sepolia")
    excess = 10_000_000
    lagging = L1OriginHeader(1, 1742486399, 1, bytes(32), excess)
    fixed = L1OriginHeader(1, 1742486400, 1, bytes(32), excess)
    assert l1_blob_base_fee(sepolia, lagging) == blob_base_fee(excess, CANCUN)
    assert l1_blob_base_fee(sepolia, fixed) == blob_base_fee(excess, PRAGUE)
    # Without the fork, L1's own schedule applies: Prague's fraction as soon as Sepolia has it.
    unset = replace(sepolia, pectra_blob_schedule_time=None)
    assert l1_blob_base_fee(unset, lagging) == blob_base_fee(excess, PRAGUE)
    before_l1_prague = replace(lagging, timestamp=1741159775)
    assert l1_blob_base_fee(unset, before_l1_prague) == blob_base_fee(excess, CANCUN)


def test_unknown_l1_needs_a_schedule() -> None:
    devnet = replace(config(), l1_chain_id=900)
    header = L1OriginHeader(1, 100, 1, bytes(32), 5_000_000)
    with pytest.raises(ConfigError, match="blob schedule"):
        l1_blob_base_fee(devnet, header)
    assert l1_blob_base_fee(devnet, replace(header, excess_blob_gas=0)) == 1
    schedule = BlobSchedule(((0, PRAGUE),))
    assert l1_blob_base_fee(devnet, header, schedule) == blob_base_fee(5_000_000, PRAGUE)


def test_absurd_excess_blob_gas_is_rejected_quickly() -> None:
    with pytest.raises(DecodeError, match="uint256"):
        blob_base_fee(2**64 - 1, CANCUN)
    with pytest.raises(DecodeError, match="uint256"):
        blob_base_fee(CANCUN * 190, CANCUN)


def test_system_config_fields_feed_the_deposit() -> None:
    cfg = config()
    system = SystemConfig(batcher_address=b"\x42" * 20, scalar=encode_scalar(1, 2), gas_limit=1)
    header = L1OriginHeader(7, 8, 9, b"\x05" * 32, excess_blob_gas=0)
    info = decode_l1_block_info(l1_info_deposit(cfg, system, header, 3, ECOTONE + 2).data)
    assert info.batcher_address == b"\x42" * 20
    assert (info.blob_base_fee_scalar, info.base_fee_scalar, info.blob_base_fee) == (1, 2, 1)
    assert (info.number, info.time, info.base_fee) == (7, 8, 9)
    assert (info.block_hash, info.sequence_number) == (b"\x05" * 32, 3)

"""op-node's block gossip codec and validator (op-node p2p/gossip.go, signer.go, op-service eth/ssz.go)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings, strategies as st

from opfleet.devnet.engine import ForkTimes, header_from_payload
from opfleet.protocol import gossip as g
from opfleet.protocol.crypto import keccak256, private_key_to_address

KEY = keccak256(b"gossip test signer")
SIGNER = private_key_to_address(KEY)
CHAIN = 901
NOW = 1_700_000_100


def make_payload(version: g.BlockVersion, *, number: int = 7, ts: int = NOW, txs=(b"\x02\x01", b"\x7e" * 40),
                 extra: bytes = b"", withdrawals_root: bytes = b"\x44" * 32) -> dict:
    p = {
        "parentHash": "0x" + "11" * 32, "feeRecipient": "0x" + "42" * 20, "stateRoot": "0x" + "22" * 32,
        "receiptsRoot": "0x" + "33" * 32, "logsBloom": "0x" + "00" * 256, "prevRandao": "0x" + "55" * 32,
        "blockNumber": hex(number), "gasLimit": hex(30_000_000), "gasUsed": hex(21_000), "timestamp": hex(ts),
        "extraData": "0x" + extra.hex(), "baseFeePerGas": hex(1_000_000_007),
        "transactions": ["0x" + t.hex() for t in txs],
    }
    if version.has_withdrawals:
        p["withdrawals"] = []
    if version.has_blob_properties:
        p["blobGasUsed"] = "0x0"
        p["excessBlobGas"] = "0x0"
    if version.has_withdrawals_root:
        p["withdrawalsRoot"] = "0x" + withdrawals_root.hex()
    root = b"\x66" * 32 if version.has_parent_beacon_block_root else None
    env = g.Envelope(p, root)
    p["blockHash"] = "0x" + g.payload_block_hash(env, version).hex()
    return g.Envelope(p, root)


FORKS = {g.BlockVersion.V1: ForkTimes.up_to("regolith"), g.BlockVersion.V2: ForkTimes.up_to("delta"),
         g.BlockVersion.V3: ForkTimes.up_to("granite"), g.BlockVersion.V4: ForkTimes.up_to("isthmus")}


# --- topics, ids, signing --------------------------------------------------------------------------


def test_topics_follow_op_node_numbering():
    assert g.blocks_topic(10, g.BlockVersion.V1) == "/optimism/10/0/blocks"
    assert g.blocks_topic(10, g.BlockVersion.V3) == "/optimism/10/2/blocks"
    assert list(g.block_topics(8453, max_version=g.BlockVersion.V3)) == [
        "/optimism/8453/0/blocks", "/optimism/8453/1/blocks", "/optimism/8453/2/blocks"]


@pytest.mark.parametrize("version", list(g.BlockVersion))
def test_block_version_by_fork(version):
    assert g.block_version(FORKS[version], 10) is version


def test_message_id_matches_op_node_formula():
    data = g.snappy_encode(b"hello gossip")
    topic = "/optimism/10/2/blocks"
    expected = hashlib.sha256(b"\x01\x00\x00\x00" + struct.pack("<Q", len(topic)) + topic.encode()
                              + b"hello gossip").digest()[:20]
    assert g.message_id(topic, data) == expected
    # Invalid snappy: the invalid domain and the raw bytes, so garbage still gets a unique id.
    garbage = b"\xff\xff\xff\xff\xff\xff"
    assert g.message_id(topic, garbage) == hashlib.sha256(
        bytes(4) + struct.pack("<Q", len(topic)) + topic.encode() + garbage).digest()[:20]


def test_signing_hash_layout_and_limits():
    body = b"arbitraryData"
    expected = keccak256(bytes(32) + (100).to_bytes(32, "big") + keccak256(body))
    assert g.signing_hash(100, body) == expected
    assert g.signing_hash(100, body) != g.signing_hash(101, body)
    assert g.signing_hash(100, body, b"\x03" + bytes(31)) != expected
    with pytest.raises(g.GossipError):
        g.signing_hash(1 << 256, body)  # op-node's TestSigningHash_LimitChainID


def test_sign_and_recover():
    sig = g.sign_payload(CHAIN, b"payload", KEY)
    assert len(sig) == 65 and sig[64] in (0, 1)
    assert g.recover_signer(CHAIN, sig, b"payload") == SIGNER
    assert g.recover_signer(CHAIN + 1, sig, b"payload") != SIGNER
    with pytest.raises(g.GossipError):
        g.recover_signer(CHAIN, bytes(65), b"payload")
    with pytest.raises(g.GossipError):
        g.recover_signer(CHAIN, sig[:64] + b"\x1b", b"payload")


# --- snappy ---------------------------------------------------------------------------------------


def test_snappy_bomb_is_refused_from_the_header():
    header = bytearray()
    n = g.MAX_GOSSIP_SIZE + 1
    while n >= 0x80:
        header.append(n & 0x7F | 0x80)
        n >>= 7
    header.append(n)
    with pytest.raises(g.GossipError, match="too large"):
        g.snappy_decode(bytes(header) + b"\x00" * 10)
    with pytest.raises(g.GossipError):
        g.snappy_decoded_len(b"\xff\xff\xff\xff\xff\xff")
    with pytest.raises(g.GossipError):
        g.snappy_decoded_len(b"")
    with pytest.raises(g.GossipError, match="corrupt"):
        g.snappy_decode(b"\x10\x00garbage")


# --- SSZ ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", list(g.BlockVersion))
def test_ssz_round_trip_and_sizes(version):
    env = make_payload(version, extra=b"\x01\x02")
    raw = g.encode_envelope(env, version)
    fixed = {1: 508, 2: 512, 3: 528, 4: 560}[version.value]
    beacon = 32 if version.has_parent_beacon_block_root else 0
    assert len(raw) == beacon + fixed + 2 + 4 * 2 + 2 + 40
    assert g.decode_envelope(raw, version) == env


def test_ssz_field_layout_matches_op_service():
    env = make_payload(g.BlockVersion.V1, number=222, txs=(b"\x99\x99",), extra=b"\x66\x66")
    raw = g.encode_payload(env.payload, g.BlockVersion.V1)
    assert struct.unpack_from("<Q", raw, 404)[0] == 222
    assert struct.unpack_from("<I", raw, 436)[0] == 508  # extraData offset = fixed part
    assert int.from_bytes(raw[440:472], "little") == 1_000_000_007
    assert struct.unpack_from("<I", raw, 504)[0] == 510  # transactions after 2 bytes of extraData
    assert raw[508:510] == b"\x66\x66" and raw[510:514] == struct.pack("<I", 4) and raw[514:] == b"\x99\x99"


def test_opb01_transactions_offset_below_extra_data():
    raw = bytearray(g.encode_payload(make_payload(g.BlockVersion.V1, extra=bytes(32)).payload, g.BlockVersion.V1))
    raw[504:508] = bytes(4)
    with pytest.raises(g.GossipError, match="transactions offset"):
        g.decode_payload(bytes(raw), g.BlockVersion.V1)


@settings(max_examples=200, deadline=None)
@given(ed=st.integers(0, 2**32 - 1), tx=st.integers(0, 2**32 - 1))
def test_fuzz_obp01_bad_offsets_fail_cleanly(ed, tx):
    original = make_payload(g.BlockVersion.V1, extra=bytes(32), txs=()).payload
    raw = bytearray(g.encode_payload(original, g.BlockVersion.V1))
    raw[436:440] = struct.pack("<I", ed)
    raw[504:508] = struct.pack("<I", tx)
    if ed == 508 and tx == 540:
        return  # the original offsets
    try:
        decoded = g.decode_payload(bytes(raw), g.BlockVersion.V1)
    except g.GossipError:
        return
    # op-service decodes some moved offsets too (508/508: no extra data, 32 bytes of an empty
    # transaction list); never into the original payload, so the block hash check rejects it
    assert decoded != original


def test_malicious_data_from_op_service_fails_cleanly():
    data = (b"0" * 436 + b"\x00\x02\x00\x00" + b"0" * 64 + b"\x00\x02\x00\x000000")
    with pytest.raises(g.GossipError):
        g.decode_payload(data, g.BlockVersion.V2)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=700), version=st.sampled_from(list(g.BlockVersion)))
def test_garbage_never_raises_anything_but_gossip_error(data, version):
    try:
        g.decode_envelope(data, version)
    except g.GossipError:
        pass


@settings(max_examples=60, deadline=None)
@given(version=st.sampled_from(list(g.BlockVersion)),
       txs=st.lists(st.binary(min_size=1, max_size=300), max_size=40),
       extra=st.binary(max_size=32), number=st.integers(0, 2**64 - 1))
def test_round_trip_and_block_hash_match_the_dev_engine(version, txs, extra, number):
    env = make_payload(version, txs=tuple(txs), extra=extra, number=number)
    assert g.decode_envelope(g.encode_envelope(env, version), version) == env
    beacon = "0x" + env.parent_beacon_block_root.hex() if env.parent_beacon_block_root else None
    assert header_from_payload(env.payload, beacon, FORKS[version]).hash() == env.block_hash


def test_extra_data_over_32_bytes_is_refused_both_ways():
    env = make_payload(g.BlockVersion.V1)
    env.payload["extraData"] = "0x" + "00" * 33
    with pytest.raises(g.GossipError):
        g.encode_payload(env.payload, g.BlockVersion.V1)
    with pytest.raises(g.GossipError, match="extraData"):
        g.payload_block_hash(env, g.BlockVersion.V1)


@pytest.mark.parametrize("version", list(g.BlockVersion))
def test_payloads_built_in_process_may_hold_bytes_and_ints(version):
    env = make_payload(version)
    raw = {k: (bytes.fromhex(v[2:]) if k in ("parentHash", "stateRoot", "extraData") else
               int(v, 16) if k in ("blockNumber", "gasUsed", "baseFeePerGas") else v)
           for k, v in env.payload.items()}
    raw["transactions"] = [bytes.fromhex(t[2:]) for t in env.payload["transactions"]]
    native = g.Envelope(raw, env.parent_beacon_block_root)
    assert g.payload_block_hash(native, version) == env.block_hash
    assert g.encode_payload(raw, version) == g.encode_payload(env.payload, version)


@pytest.mark.parametrize("key, value, problem", [
    ("parentHash", "0x" + "11" * 31, "expected 32 bytes"), ("parentHash", b"\x11" * 33, "expected 32 bytes"),
    ("stateRoot", None, "stateRoot"), ("logsBloom", "0x" + "0 " * 256, "not hex"),
    ("blockNumber", "7", "blockNumber"), ("gasLimit", hex(2**64), "out of range"), ("gasUsed", -1, "out of range"),
    ("timestamp", True, "timestamp"), ("baseFeePerGas", "0x" + "f" * 65, "wider than 256 bits"),
])
def test_malformed_payload_fields_are_gossip_errors(key, value, problem):
    env = make_payload(g.BlockVersion.V3)
    env.payload[key] = value
    for call in (lambda: g.payload_block_hash(env, g.BlockVersion.V3),
                 lambda: g.encode_payload(env.payload, g.BlockVersion.V3)):
        with pytest.raises(g.GossipError, match=problem):
            call()


def test_truncated_payloads_fail_cleanly():
    raw = g.encode_envelope(make_payload(g.BlockVersion.V3), g.BlockVersion.V3)
    for cut in (0, 10, 31, 32, 100, 559, len(raw) - 1):
        try:
            g.decode_envelope(raw[:cut], g.BlockVersion.V3)
        except g.GossipError:
            continue
        # A cut inside the last transaction still parses (SSZ lists end at the scope): the hash then differs.
        assert cut == len(raw) - 1


# --- validation -----------------------------------------------------------------------------------


def message(env, version, key=KEY, chain=CHAIN):
    return g.encode_message(env, version, chain, key)


def check(data, version=g.BlockVersion.V3, seen=None, signer=SIGNER, now=NOW):
    return g.validate(data, version=version, chain_id=CHAIN, signer=signer, now=now, seen=seen or g.SeenBlocks())


@pytest.mark.parametrize("version", list(g.BlockVersion))
def test_valid_block_is_accepted(version):
    env = make_payload(version)
    result = check(message(env, version), version)
    assert result.verdict is g.Verdict.ACCEPT, result.reason
    assert result.envelope == env and result.signer == SIGNER


def test_rejections_follow_op_node():
    v = g.BlockVersion.V3
    env = make_payload(v)
    assert check(b"\xff" * 8).verdict is g.Verdict.REJECT
    assert check(g.snappy_encode(b"x" * 65)).verdict is g.Verdict.REJECT  # undersized
    assert "author" in check(message(env, v, key=keccak256(b"other"))).reason
    assert check(message(env, v, chain=CHAIN + 1)).verdict is g.Verdict.REJECT
    assert check(message(env, v), now=NOW + 61).reason.startswith("payload is too old")
    assert check(message(env, v), now=NOW - 6).reason.startswith("payload is too new")
    assert check(message(env, v), now=NOW + 60).verdict is g.Verdict.ACCEPT
    assert check(message(env, v), now=NOW - 5).verdict is g.Verdict.ACCEPT
    bad = g.Envelope(dict(env.payload, blockHash="0x" + "00" * 32), env.parent_beacon_block_root)
    assert "bad block hash" in check(message(bad, v)).reason
    # The wrong topic version for the payload: V2 bytes read as V3 do not decode or hash.
    assert check(message(make_payload(g.BlockVersion.V2), g.BlockVersion.V2), v).verdict is g.Verdict.REJECT
    blob = make_payload(v)
    blob.payload["blobGasUsed"] = "0x1"
    blob = g.Envelope(dict(blob.payload, blockHash="0x" + g.payload_block_hash(blob, v).hex()), blob.parent_beacon_block_root)
    assert "blob gas" in check(message(blob, v)).reason


def test_no_signer_configured_ignores():
    v = g.BlockVersion.V2
    assert check(message(make_payload(v), v), v, signer=None).verdict is g.Verdict.IGNORE
    assert check(message(make_payload(v), v), v, signer=bytes(20)).verdict is g.Verdict.IGNORE


def test_duplicates_and_the_per_height_limit():
    v = g.BlockVersion.V3
    seen = g.SeenBlocks()
    first = message(make_payload(v), v)
    assert check(first, seen=seen).verdict is g.Verdict.ACCEPT
    assert check(first, seen=seen).verdict is g.Verdict.IGNORE
    for i in range(5):  # 6 different blocks at one height are accepted...
        other = make_payload(v, extra=bytes([i]))
        assert check(message(other, v), seen=seen).verdict is g.Verdict.ACCEPT
    seventh = make_payload(v, extra=b"\x09")
    assert check(message(seventh, v), seen=seen).reason.startswith("seen too many")  # ...the 7th is not
    assert check(message(make_payload(v, number=8), v), seen=seen).verdict is g.Verdict.ACCEPT


def test_seen_heights_are_bounded():
    seen = g.SeenBlocks(heights=3)
    for n in range(5):
        seen.check(n, b"h")
        seen.mark(n, b"h")
    assert seen.check(0, b"h") == (0, False)
    assert seen.check(4, b"h") == (1, True)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_hostile_messages_never_raise(data):
    assert check(data).verdict in (g.Verdict.REJECT, g.Verdict.IGNORE)
    assert check(g.snappy_encode(data)).verdict is g.Verdict.REJECT


# --- req/resp sync (op-node p2p/sync.go) ----------------------------------------------------------


@pytest.mark.parametrize("version", [g.BlockVersion.V1, g.BlockVersion.V2, g.BlockVersion.V3])
def test_sync_response_round_trip(version):
    env = make_payload(version, number=42)
    data = g.encode_sync_response(env, ecotone=version == g.BlockVersion.V3, canyon=version >= g.BlockVersion.V2)
    assert data[0] == 0 and data[1:5] == struct.pack("<I", 1 if version == g.BlockVersion.V3 else 0)
    assert data[5:15] == b"\xff\x06\x00\x00sNaPpY"  # snappy's framed format, not the block format
    assert g.decode_sync_response(data, number=42, canyon=version >= g.BlockVersion.V2) == env


def test_sync_request_and_protocol_id():
    assert g.payload_by_number_protocol(10) == "/opstack/req/payload_by_number/10/0"
    assert g.decode_sync_request(g.encode_sync_request(7)) == 7
    assert g.encode_sync_request(1) == b"\x01" + bytes(7)
    with pytest.raises(g.GossipError):
        g.decode_sync_request(b"\x01\x02")


def test_sync_responses_that_are_refused():
    env = make_payload(g.BlockVersion.V3, number=42)
    good = g.encode_sync_response(env, ecotone=True, canyon=True)
    with pytest.raises(g.GossipError, match="expected 41"):
        g.decode_sync_response(good, number=41, canyon=True)
    with pytest.raises(g.GossipError, match="result code 1"):
        g.decode_sync_response(g.encode_sync_error(g.SYNC_RESULT_NOT_FOUND), number=42, canyon=True)
    with pytest.raises(g.GossipError, match="version"):
        g.decode_sync_response(good[:1] + struct.pack("<I", 9) + good[5:], number=42, canyon=True)
    with pytest.raises(g.GossipError, match="snappy"):
        g.decode_sync_response(good[:5] + b"garbage", number=42, canyon=True)
    bad = g.Envelope(dict(env.payload, blockHash="0x" + "00" * 32), env.parent_beacon_block_root)
    with pytest.raises(g.GossipError, match="bad block hash"):
        g.decode_sync_response(g.encode_sync_response(bad, ecotone=True, canyon=True), number=42, canyon=True)
    for cut in (0, 3, 20, len(good) - 1):
        with pytest.raises(g.GossipError):
            g.decode_sync_response(good[:cut], number=42, canyon=True)


@pytest.mark.parametrize("count, ok", [(0, True), (1, True), (16, True), (17, False)])
def test_withdrawals_as_op_service_marshals_them(count, ok):
    # op-service TestMarshalUnmarshalWithdrawals: up to 16 round trip on V2, V1 never reads them
    env = make_payload(g.BlockVersion.V2)
    env.payload["withdrawals"] = [{"index": hex(987), "validatorIndex": hex(654), "address": "0x" + "00" * 18 + "08" + "98",
                                   "amount": hex(321)}] * count
    raw = g.encode_payload(env.payload, g.BlockVersion.V2)
    assert len(raw) == 512 + 2 * 4 + 2 + 40 + 44 * count
    with pytest.raises(g.GossipError):
        g.decode_payload(raw, g.BlockVersion.V1)
    if ok:
        assert g.decode_payload(raw, g.BlockVersion.V2)["withdrawals"] == env.payload["withdrawals"]
    else:
        with pytest.raises(g.GossipError, match="too many withdrawals"):
            g.decode_payload(raw, g.BlockVersion.V2)


def test_jovian_blocks_may_carry_their_da_footprint_in_blob_gas_used():
    # op-node PR 17940: from Jovian blobGasUsed holds the DA footprint; before, it must be zero
    v = g.BlockVersion.V4
    env = make_payload(v)
    env.payload["blobGasUsed"] = hex(123_456)
    env = g.Envelope(dict(env.payload, blockHash="0x" + g.payload_block_hash(env, v).hex()),
                     env.parent_beacon_block_root)
    data = message(env, v)
    assert g.validate(data, version=v, chain_id=CHAIN, signer=SIGNER, now=NOW, seen=g.SeenBlocks(),
                      is_jovian=lambda ts: True).verdict is g.Verdict.ACCEPT
    before = g.validate(data, version=v, chain_id=CHAIN, signer=SIGNER, now=NOW, seen=g.SeenBlocks(),
                        is_jovian=lambda ts: False)
    assert before.verdict is g.Verdict.REJECT and "blob gas used" in before.reason
    excess = make_payload(v)
    excess.payload["excessBlobGas"] = "0x1"
    excess = g.Envelope(dict(excess.payload, blockHash="0x" + g.payload_block_hash(excess, v).hex()),
                        excess.parent_beacon_block_root)
    assert "excess blob gas" in g.validate(message(excess, v), version=v, chain_id=CHAIN, signer=SIGNER, now=NOW,
                                           seen=g.SeenBlocks(), is_jovian=lambda ts: True).reason

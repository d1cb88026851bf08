"""op-node's unsafe-block gossip: topics, message format, message ids, signatures, validation.

Pure (no I/O). The wire rules, each from op-node at the October-2024 release line and the spec:

- topics ``/optimism/<chainID>/<n>/blocks``, one per payload version: n=0 ``ExecutionPayloadV1``
  (pre-Canyon), 1 V2 (Canyon: empty withdrawals), 2 V3 (Ecotone: blob gas fields and the parent
  beacon block root), 3 V4 (Isthmus: ``withdrawalsRoot``). op-node ``op-node/p2p/gossip.go``
  (``blocksTopicV1..V3``, ``PublishL2Payload`` picks by fork); ``specs/protocol/rollup-node-p2p.md``
  "Topic validation"; V4 from the Isthmus spec and ``op-service/eth/ssz.go`` (``blockV4FixedPart``).
- a message is ``snappy_block(signature(65) ++ payload)``, the payload the SSZ
  ``ExecutionPayload`` (V1, V2) or ``parentBeaconBlockRoot(32) ++ ExecutionPayload`` (V3, V4);
  ``op-service/eth/ssz.go``.
- the message id is ``sha256(domain ++ le64(len(topic)) ++ topic ++ data)[:20]`` with domain
  ``01000000`` and the decompressed data when the snappy block is valid and at most 10 MiB,
  ``00000000`` and the raw data otherwise; ``gossip.go`` ``BuildMsgIdFn``.
- the signature is secp256k1 ``r ++ s ++ v`` over
  ``keccak256(domain(32 zero bytes) ++ chainID(32) ++ keccak256(payload))``;
  ``op-node/p2p/signer.go`` ``SigningHash``/``BlockSigningHash``.
- validation, in op-node's order: ``gossip.go`` ``BuildBlocksValidator`` (see :func:`validate`).
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opfleet.protocol.block import (
    header_from_execution_payload,
    payload_data,
    payload_quantity,
    payload_transactions,
)
from opfleet.protocol.crypto import SECP256K1_N, keccak256
from opfleet.protocol.hexjson import HexJsonError, hex_data, hex_quantity

MAX_GOSSIP_SIZE = 10 * (1 << 20)
"""``maxGossipSize``: the largest RPC frame and the largest decompressed message."""
MIN_GOSSIP_SIZE = 66
"""``minGossipSize``: a signature and at least one payload byte."""
SIGNING_DOMAIN_BLOCKS_V1 = bytes(32)
MESSAGE_DOMAIN_INVALID_SNAPPY = bytes(4)
MESSAGE_DOMAIN_VALID_SNAPPY = b"\x01\x00\x00\x00"
TIMESTAMP_PAST_LIMIT = 60
TIMESTAMP_FUTURE_LIMIT = 5
MAX_BLOCKS_PER_HEIGHT = 5
"""More than this many different blocks seen at one height rejects the next (``count > 5``)."""
SEEN_HEIGHTS = 1000
"""op-node's ``blockHeightLRU`` size."""
MAX_TRANSACTIONS_PER_PAYLOAD = 1 << 20
MAX_WITHDRAWALS_PER_PAYLOAD = 1 << 4


class GossipError(ValueError):
    """A message that cannot be decoded (op-node rejects it)."""


# --- versions and topics --------------------------------------------------------------------------


class BlockVersion(enum.IntEnum):
    """The payload version of a block topic (op-service ``eth.BlockVersion`` + 1)."""

    V1 = 1
    V2 = 2
    V3 = 3
    V4 = 4

    @property
    def topic_index(self) -> int:
        return self.value - 1

    @property
    def has_withdrawals(self) -> bool:
        return self >= BlockVersion.V2

    @property
    def has_blob_properties(self) -> bool:
        return self >= BlockVersion.V3

    @property
    def has_parent_beacon_block_root(self) -> bool:
        return self >= BlockVersion.V3

    @property
    def has_withdrawals_root(self) -> bool:
        return self >= BlockVersion.V4


_FIXED_V1 = 32 + 20 + 32 + 32 + 256 + 32 + 8 + 8 + 8 + 8 + 4 + 32 + 32 + 4
_FIXED = {BlockVersion.V1: _FIXED_V1, BlockVersion.V2: _FIXED_V1 + 4,
          BlockVersion.V3: _FIXED_V1 + 4 + 16, BlockVersion.V4: _FIXED_V1 + 4 + 16 + 32}
_WITHDRAWAL_SIZE = 8 + 8 + 20 + 8


def block_version(forks: Any, timestamp: int) -> BlockVersion:
    """The payload version a block at ``timestamp`` is gossiped with (``PublishL2Payload``)."""
    if forks.is_isthmus(timestamp):
        return BlockVersion.V4
    if forks.is_ecotone(timestamp):
        return BlockVersion.V3
    if forks.is_canyon(timestamp):
        return BlockVersion.V2
    return BlockVersion.V1


def blocks_topic(chain_id: int, version: BlockVersion) -> str:
    """``/optimism/<chainID>/<version-1>/blocks``."""
    return f"/optimism/{chain_id}/{version.topic_index}/blocks"


def block_topics(chain_id: int, *, max_version: BlockVersion = BlockVersion.V4) -> dict[str, BlockVersion]:
    """Every block topic of a chain (the subscription allowlist) to its payload version."""
    return {blocks_topic(chain_id, v): v for v in BlockVersion if v <= max_version}


# --- snappy (block format, as golang/snappy Encode/Decode) ----------------------------------------


def snappy_decoded_len(data: bytes) -> int:
    """The decoded length in a snappy block's uvarint header (``snappy.DecodedLen``)."""
    value = shift = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if i == 4 and byte > 0x0F or value > 0xFFFFFFFF:
                raise GossipError("snappy: decoded length too large")
            return value
        shift += 7
        if i >= 4:
            break
    raise GossipError("snappy: corrupt input (bad length header)")


def snappy_decode(data: bytes, *, limit: int = MAX_GOSSIP_SIZE) -> bytes:
    """Decompress a snappy block of at most ``limit`` decoded bytes (checked before decoding)."""
    import cramjam  # a compiled codec, imported where used

    if snappy_decoded_len(data) > limit:
        raise GossipError("snappy: decoded length too large")
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise GossipError(f"snappy: corrupt input ({exc})") from None


def snappy_encode(data: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.snappy.compress_raw(data))


# --- message id and signing -----------------------------------------------------------------------


def message_id(topic: str, data: bytes) -> bytes:
    """op-node's gossipsub message id (``BuildMsgIdFn``): 20 bytes."""
    domain, body = MESSAGE_DOMAIN_INVALID_SNAPPY, data
    try:
        body = snappy_decode(data)
        domain = MESSAGE_DOMAIN_VALID_SNAPPY
    except GossipError:
        body = data
    t = topic.encode()
    return hashlib.sha256(domain + struct.pack("<Q", len(t)) + t + body).digest()[:20]


def signing_hash(chain_id: int, payload_bytes: bytes, domain: bytes = SIGNING_DOMAIN_BLOCKS_V1) -> bytes:
    """``SigningHash(domain, chainID, payload)`` from op-node ``p2p/signer.go``."""
    if chain_id < 0 or chain_id.bit_length() > 256:
        raise GossipError("chain_id is too large")
    return keccak256(domain + chain_id.to_bytes(32, "big") + keccak256(payload_bytes))


def sign_payload(chain_id: int, payload_bytes: bytes, private_key: bytes) -> bytes:
    """The 65-byte ``r ++ s ++ v`` (v 0/1) signature op-node's ``LocalSigner`` makes."""
    from coincurve import PrivateKey

    return PrivateKey(private_key).sign_recoverable(signing_hash(chain_id, payload_bytes), hasher=None)


def recover_signer(chain_id: int, signature: bytes, payload_bytes: bytes) -> bytes:
    """The address that signed ``payload_bytes`` (go-ethereum ``crypto.SigToPub`` rules)."""
    from coincurve import PublicKey

    if len(signature) != 65:
        raise GossipError("signature must be 65 bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if signature[64] > 1 or not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise GossipError("invalid signature values")
    try:
        pub = PublicKey.from_signature_and_message(signature, signing_hash(chain_id, payload_bytes), hasher=None)
    except Exception:
        raise GossipError("signature does not recover to a public key") from None
    return keccak256(pub.format(compressed=False)[1:])[12:]


# --- SSZ of the execution payload -----------------------------------------------------------------


def _data(payload: Mapping[str, Any], key: str, size: int | None = None) -> bytes:
    try:
        return payload_data(payload, key, size)
    except HexJsonError as exc:
        raise GossipError(str(exc)) from None


def _transactions(payload: Mapping[str, Any]) -> list[bytes]:
    try:
        return payload_transactions(payload)
    except HexJsonError as exc:
        raise GossipError(str(exc)) from None


def _quantity(payload: Mapping[str, Any], key: str, bits: int = 64) -> int:
    try:
        return payload_quantity(payload, key, bits)
    except HexJsonError as exc:
        raise GossipError(str(exc)) from None


def encode_payload(payload: Mapping[str, Any], version: BlockVersion) -> bytes:
    """SSZ ``ExecutionPayload`` of ``version`` from Engine API JSON (``ExecutionPayload.MarshalSSZ``)."""
    fixed = _FIXED[version]
    extra = _data(payload, "extraData")
    if len(extra) > 32:
        raise GossipError("payload extraData: more than 32 bytes")
    txs = _transactions(payload)
    withdrawals = payload.get("withdrawals")
    if version.has_withdrawals != (withdrawals is not None):
        raise GossipError(f"payload withdrawals: {'required' if version.has_withdrawals else 'not allowed'} in {version.name}")
    tx_part = b"".join(struct.pack("<I", 4 * len(txs) + sum(len(t) for t in txs[:i])) for i in range(len(txs)))
    tx_part += b"".join(txs)
    out = [
        _data(payload, "parentHash", 32), _data(payload, "feeRecipient", 20), _data(payload, "stateRoot", 32),
        _data(payload, "receiptsRoot", 32), _data(payload, "logsBloom", 256), _data(payload, "prevRandao", 32),
        struct.pack("<QQQQ", _quantity(payload, "blockNumber"), _quantity(payload, "gasLimit"),
                    _quantity(payload, "gasUsed"), _quantity(payload, "timestamp")),
        struct.pack("<I", fixed),
        _quantity(payload, "baseFeePerGas", 256).to_bytes(32, "little"),
        _data(payload, "blockHash", 32),
        struct.pack("<I", fixed + len(extra)),
    ]
    if version.has_withdrawals:
        out.append(struct.pack("<I", fixed + len(extra) + len(tx_part)))
    if version.has_blob_properties:
        out.append(struct.pack("<QQ", _quantity(payload, "blobGasUsed"), _quantity(payload, "excessBlobGas")))
    if version.has_withdrawals_root:
        out.append(_data(payload, "withdrawalsRoot", 32))
    out += [extra, tx_part]
    for w in withdrawals or []:
        if not isinstance(w, Mapping):
            raise GossipError("payload withdrawals: not an object")
        out.append(struct.pack("<QQ", _quantity(w, "index"), _quantity(w, "validatorIndex")))
        out.append(_data(w, "address", 20) + struct.pack("<Q", _quantity(w, "amount")))
    return b"".join(out)


_U32 = struct.Struct("<I")  # SSZ uints and offsets are little-endian
_U64 = struct.Struct("<Q")


def decode_payload(data: bytes, version: BlockVersion) -> dict[str, Any]:
    """Engine API JSON from SSZ (``ExecutionPayload.UnmarshalSSZ``, with its offset checks)."""
    fixed = _FIXED[version]
    scope = len(data)
    if scope < fixed:
        raise GossipError(f"scope too small to decode execution payload: {scope}, version {version.name}")

    def u32(offset: int) -> int:
        return int(_U32.unpack_from(data, offset)[0])

    def u64(offset: int) -> int:
        return int(_U64.unpack_from(data, offset)[0])

    p: dict[str, Any] = {
        "parentHash": hex_data(data[0:32]), "feeRecipient": hex_data(data[32:52]), "stateRoot": hex_data(data[52:84]),
        "receiptsRoot": hex_data(data[84:116]), "logsBloom": hex_data(data[116:372]), "prevRandao": hex_data(data[372:404]),
        "blockNumber": hex_quantity(u64(404)), "gasLimit": hex_quantity(u64(412)), "gasUsed": hex_quantity(u64(420)), "timestamp": hex_quantity(u64(428)),
    }
    extra_off = u32(436)
    if extra_off != fixed:
        raise GossipError(f"unexpected extra data offset: {extra_off} <> {fixed}")
    p["baseFeePerGas"] = hex_quantity(int.from_bytes(data[440:472], "little"))
    p["blockHash"] = hex_data(data[472:504])
    tx_off = u32(504)
    if tx_off < extra_off:
        raise GossipError("transactions offset is smaller than extra data offset")
    off = 508
    w_off = scope
    if version.has_withdrawals:
        w_off = u32(off)
        off += 4
        if w_off < tx_off:
            raise GossipError("withdrawals offset is smaller than transaction offset")
        if w_off > scope:
            raise GossipError(f"withdrawals offset is too large: {w_off}")
    if version.has_blob_properties:
        p["blobGasUsed"] = hex_quantity(u64(off))
        p["excessBlobGas"] = hex_quantity(u64(off + 8))
        off += 16
    if version.has_withdrawals_root:
        p["withdrawalsRoot"] = hex_data(data[off:off + 32])
    if tx_off > extra_off + 32 or tx_off > scope:
        raise GossipError(f"extra-data is too large: {tx_off - extra_off}")
    p["extraData"] = hex_data(data[extra_off:tx_off])
    p["transactions"] = [hex_data(t) for t in _decode_transactions(data[tx_off:w_off])]
    if version.has_withdrawals:
        body = data[w_off:]
        if len(body) % _WITHDRAWAL_SIZE:
            raise GossipError("invalid withdrawals data")
        if len(body) // _WITHDRAWAL_SIZE > MAX_WITHDRAWALS_PER_PAYLOAD:
            raise GossipError("too many withdrawals")
        p["withdrawals"] = [
            {"index": hex_quantity(u64(w_off + o)), "validatorIndex": hex_quantity(u64(w_off + o + 8)),
             "address": hex_data(body[o + 16:o + 36]), "amount": hex_quantity(struct.unpack_from("<Q", body, o + 36)[0])}
            for o in range(0, len(body), _WITHDRAWAL_SIZE)
        ]
    return p


def _decode_transactions(data: bytes) -> list[bytes]:
    scope = len(data)
    if scope == 0:
        return []
    if scope < 4:
        raise GossipError(f"not enough scope to read first tx offset: {scope}")
    first = struct.unpack_from("<I", data, 0)[0]
    if first % 4:
        raise GossipError(f"invalid first tx offset: {first}, not a multiple of offset size")
    if first > scope:
        raise GossipError(f"invalid first tx offset: {first}, out of scope {scope}")
    count = first // 4
    if count > MAX_TRANSACTIONS_PER_PAYLOAD:
        raise GossipError("too many transactions")
    offsets = [struct.unpack_from("<I", data, 4 * i)[0] for i in range(count)] + [scope]
    txs = []
    for i in range(count):
        start, end = offsets[i], offsets[i + 1]
        if end < start or end > scope:
            raise GossipError(f"tx {i} has bad next offset: {end}, current is {start}, scope is {scope}")
        txs.append(data[start:end])
    return txs


@dataclass(frozen=True, slots=True)
class Envelope:
    """An execution payload (Engine API JSON) and, from V3, its parent beacon block root."""

    payload: dict[str, Any]
    parent_beacon_block_root: bytes | None = None

    @property
    def number(self) -> int:
        return int(self.payload["blockNumber"], 16)

    @property
    def timestamp(self) -> int:
        return int(self.payload["timestamp"], 16)

    @property
    def block_hash(self) -> bytes:
        return bytes.fromhex(self.payload["blockHash"][2:])


def encode_envelope(envelope: Envelope, version: BlockVersion) -> bytes:
    """The signed part of a gossip message (``PublishL2Payload``)."""
    body = encode_payload(envelope.payload, version)
    if version.has_parent_beacon_block_root:
        root = envelope.parent_beacon_block_root
        if root is None or len(root) != 32:
            raise GossipError("execution payload envelope is missing data (parent beacon block root)")
        return root + body
    return body


def decode_envelope(data: bytes, version: BlockVersion) -> Envelope:
    if version.has_parent_beacon_block_root:
        if len(data) < 32:
            raise GossipError(f"scope too small to decode execution payload envelope: {len(data)}")
        return Envelope(decode_payload(data[32:], version), data[:32])
    return Envelope(decode_payload(data, version))


def encode_message(envelope: Envelope, version: BlockVersion, chain_id: int, private_key: bytes) -> bytes:
    """A complete signed, compressed gossip message."""
    body = encode_envelope(envelope, version)
    return snappy_encode(sign_payload(chain_id, body, private_key) + body)


# --- block hash -----------------------------------------------------------------------------------


def payload_block_hash(envelope: Envelope, version: BlockVersion) -> bytes:
    """The hash of the header the payload commits to (op-service ``CheckBlockHash``)."""
    p = envelope.payload
    if version.has_withdrawals and not version.has_withdrawals_root and p.get("withdrawals"):
        raise GossipError("non-empty withdrawals")
    if version.has_blob_properties and envelope.parent_beacon_block_root is None:
        raise GossipError("missing parent beacon block root")
    try:
        header = header_from_execution_payload(
            p, withdrawals=version.has_withdrawals, withdrawals_root=version.has_withdrawals_root,
            blob_properties=version.has_blob_properties,
            parent_beacon_block_root=envelope.parent_beacon_block_root,
        )
    except HexJsonError as exc:
        raise GossipError(str(exc)) from None
    except ValueError as exc:  # extraData over 32 bytes
        raise GossipError(f"payload: {exc}") from None
    return header.hash()


# --- validation -----------------------------------------------------------------------------------


class Verdict(enum.Enum):
    """gossipsub's validation results: ACCEPT forwards, IGNORE drops, REJECT drops and penalises."""

    ACCEPT = "accept"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Validation:
    verdict: Verdict
    reason: str = ""
    envelope: Envelope | None = None
    signer: bytes | None = None


class SeenBlocks:
    """Block hashes seen per height, the last :data:`SEEN_HEIGHTS` heights (op-node's LRU)."""

    def __init__(self, heights: int = SEEN_HEIGHTS):
        self._heights = heights
        self._seen: OrderedDict[int, list[bytes]] = OrderedDict()

    def check(self, number: int, block_hash: bytes) -> tuple[int, bool]:
        """``(count seen at this height, whether this hash is one)``; refreshes the height."""
        seen = self._seen.get(number)
        if seen is None:
            seen = self._seen[number] = []
            if len(self._seen) > self._heights:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(number)
        return len(seen), block_hash in seen

    def mark(self, number: int, block_hash: bytes) -> None:
        self._seen.setdefault(number, []).append(block_hash)


def validate(data: bytes, *, version: BlockVersion, chain_id: int, signer: bytes | None, now: float,
             seen: SeenBlocks, is_jovian: Any = None) -> Validation:
    """op-node's ``BuildBlocksValidator`` for one topic, check by check, in its order.

    ``signer`` is the chain's unsafe-block signer (the L1 SystemConfig's); None or the zero address
    IGNOREs every block, as op-node does without one. ``seen`` is this topic's
    :class:`SeenBlocks` and is updated on ACCEPT. ``is_jovian(timestamp)``: from Jovian a block's
    ``blobGasUsed`` holds its DA footprint and may be non-zero (op-node PR 17940,
    ``IsDAFootprintBlockLimit``); without it, every block must have zero blob gas used.
    """
    try:
        size = snappy_decoded_len(data)
    except GossipError as exc:
        return Validation(Verdict.REJECT, f"invalid snappy compression length data: {exc}")
    if size > MAX_GOSSIP_SIZE:
        return Validation(Verdict.REJECT, f"possible snappy zip bomb, decoded length {size} is too large")
    if size < MIN_GOSSIP_SIZE:
        return Validation(Verdict.REJECT, "undersized gossip payload")
    try:
        raw = snappy_decode(data)
    except GossipError as exc:
        return Validation(Verdict.REJECT, f"invalid snappy compression: {exc}")
    signature, body = raw[:65], raw[65:]
    try:
        author = recover_signer(chain_id, signature, body)
    except GossipError as exc:
        return Validation(Verdict.REJECT, f"invalid block signature: {exc}")
    if not signer or signer == bytes(20):
        return Validation(Verdict.IGNORE, "no configured p2p sequencer address", signer=author)
    if author != signer:
        return Validation(Verdict.REJECT, f"unexpected block author 0x{author.hex()}, expected 0x{signer.hex()}",
                          signer=author)
    try:
        envelope = decode_envelope(body, version)
    except GossipError as exc:
        return Validation(Verdict.REJECT, f"invalid execution payload: {exc}", signer=author)
    ts = envelope.timestamp
    if ts < int(now) - TIMESTAMP_PAST_LIMIT:
        return Validation(Verdict.REJECT, f"payload is too old (timestamp {ts})", envelope, author)
    if ts > int(now) + TIMESTAMP_FUTURE_LIMIT:
        return Validation(Verdict.REJECT, f"payload is too new (timestamp {ts})", envelope, author)
    p = envelope.payload
    if version.has_withdrawals and p.get("withdrawals"):
        return Validation(Verdict.REJECT, "payload has non-empty withdrawals", envelope, author)
    try:
        actual = payload_block_hash(envelope, version)
    except GossipError as exc:
        return Validation(Verdict.REJECT, f"payload has bad block hash: {exc}", envelope, author)
    if actual != envelope.block_hash:
        return Validation(Verdict.REJECT, f"payload has bad block hash {p['blockHash']}, actual 0x{actual.hex()}",
                          envelope, author)
    if version.has_blob_properties:
        da_footprint = is_jovian is not None and is_jovian(ts)
        if int(p["blobGasUsed"], 16) != 0 and not da_footprint:
            return Validation(Verdict.REJECT, "payload has non-zero blob gas used", envelope, author)
        if int(p["excessBlobGas"], 16) != 0:
            return Validation(Verdict.REJECT, "payload has non-zero excess blob gas", envelope, author)
    count, has_seen = seen.check(envelope.number, envelope.block_hash)
    if count > MAX_BLOCKS_PER_HEIGHT:
        return Validation(Verdict.REJECT, f"seen too many different blocks at height {envelope.number}",
                          envelope, author)
    if has_seen:
        return Validation(Verdict.IGNORE, "block already seen", envelope, author)
    seen.mark(envelope.number, envelope.block_hash)
    return Validation(Verdict.ACCEPT, "", envelope, author)


# --- req/resp sync: payload_by_number (op-node ``p2p/sync.go``) ------------------------------------

SYNC_RESULT_SUCCESS, SYNC_RESULT_NOT_FOUND, SYNC_RESULT_INVALID, SYNC_RESULT_UNKNOWN = 0, 1, 2, 3


def payload_by_number_protocol(chain_id: int) -> str:
    """``/opstack/req/payload_by_number/<chainID>/0`` (``PayloadByNumberProtocolID``)."""
    return f"/opstack/req/payload_by_number/{chain_id}/0"


def encode_sync_request(number: int) -> bytes:
    """The request: the block number, uint64 little-endian."""
    return struct.pack("<Q", number)


def decode_sync_request(data: bytes) -> int:
    if len(data) != 8:
        raise GossipError(f"sync request of {len(data)} bytes, expected 8")
    return struct.unpack("<Q", data)[0]


def encode_sync_response(envelope: Envelope, *, ecotone: bool, canyon: bool) -> bytes:
    """Success: result 0, version (uint32 LE: 1 an envelope from Ecotone, else 0 a bare payload),
    then the SSZ in snappy's *framed* format (op-node's server, ``handleSyncRequest``)."""
    import cramjam

    if ecotone:
        version, body = 1, encode_envelope(envelope, BlockVersion.V3)
    else:
        version, body = 0, encode_payload(envelope.payload, BlockVersion.V2 if canyon else BlockVersion.V1)
    return bytes([SYNC_RESULT_SUCCESS]) + struct.pack("<I", version) + bytes(cramjam.snappy.compress(body))


def encode_sync_error(code: int) -> bytes:
    return bytes([code])


def decode_sync_response(data: bytes, *, number: int, canyon: bool) -> Envelope:
    """A response to a request for block ``number`` (``readExecutionPayload`` and ``verifyBlock``:
    the number asked for and a block hash that matches the payload). Raises GossipError."""
    import cramjam

    if not data:
        raise GossipError("empty sync response")
    if data[0] != SYNC_RESULT_SUCCESS:
        raise GossipError(f"peer answered result code {data[0]}")
    if len(data) < 5:
        raise GossipError("sync response without a version")
    version = struct.unpack_from("<I", data, 1)[0]
    try:
        body = bytes(cramjam.snappy.decompress(data[5:]))
    except Exception as exc:  # cramjam's own error type
        raise GossipError(f"snappy framing: {exc}") from None
    if len(body) > MAX_GOSSIP_SIZE:
        raise GossipError("sync response over 10 MiB")
    if version == 0:
        v = BlockVersion.V2 if canyon else BlockVersion.V1
        envelope = Envelope(decode_payload(body, v))
    elif version == 1:
        v = BlockVersion.V3
        envelope = decode_envelope(body, v)
    else:
        raise GossipError(f"unrecognized sync response version {version}")
    if envelope.number != number:
        raise GossipError(f"received block {envelope.number}, expected {number}")
    if payload_block_hash(envelope, v) != envelope.block_hash:
        raise GossipError(f"received block {number} with a bad block hash")
    return envelope

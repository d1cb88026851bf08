"""Interop messages: initiating logs, executing messages and their wire encodings (pure, no I/O).

Every log of a chain in the dependency set is an *initiating message*. An *executing message* is
the ``ExecutingMessage(bytes32 indexed msgHash, Identifier id)`` event that ``CrossL2Inbox``
(``0x4200000000000000000000000000000000000022``) emits from
``validateMessage(Identifier _id, bytes32 _msgHash)``. ``Identifier`` is the static tuple
``(address origin, uint256 blockNumber, uint256 logIndex, uint256 timestamp, uint256 chainId)``;
the message payload is the initiating log's topics concatenated, then its data, and
``msgHash = keccak256(payload)``.

Spec: ``specs/interop/messaging.md``, ``specs/interop/predeploys.md`` (CrossL2Inbox);
op-supernode ``op-supernode/supernode/activity/interop/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.log import Log

CROSS_L2_INBOX = bytes.fromhex("4200000000000000000000000000000000000022")
EXPIRY_WINDOW = 604_800
"""Seconds an initiating message stays valid (``specs/interop/messaging.md``, ``EXPIRY_TIME``)."""

_IDENTIFIER_TYPE = "(address,uint256,uint256,uint256,uint256)"
EXECUTING_MESSAGE_TOPIC = keccak256(f"ExecutingMessage(bytes32,{_IDENTIFIER_TYPE})".encode())
VALIDATE_MESSAGE_SELECTOR = keccak256(f"validateMessage({_IDENTIFIER_TYPE},bytes32)".encode())[:4]
_WORD = 32
_UINT64_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Identifier:
    """Where an initiating message lives: ``specs/interop/messaging.md`` ("Message Identifier")."""

    origin: bytes
    """The contract that emitted the log (20 bytes)."""
    block_number: int
    log_index: int
    """Index of the log among all logs of its block."""
    timestamp: int
    """Timestamp of the block holding the log."""
    chain_id: int

    def encode(self) -> bytes:
        """ABI encoding of the static tuple: five 32-byte words."""
        return (bytes(12) + self.origin + self.block_number.to_bytes(_WORD, "big")
                + self.log_index.to_bytes(_WORD, "big") + self.timestamp.to_bytes(_WORD, "big")
                + self.chain_id.to_bytes(_WORD, "big"))

    @classmethod
    def decode(cls, data: bytes) -> Identifier:
        if len(data) != 5 * _WORD:
            raise DecodeError(f"identifier: expected {5 * _WORD} bytes, got {len(data)}")
        if any(data[:12]):
            raise DecodeError("identifier: origin is not a left-padded address", offset=0)
        words = [int.from_bytes(data[i:i + _WORD], "big") for i in range(_WORD, 5 * _WORD, _WORD)]
        for name, value in zip(("block number", "log index", "timestamp"), words):
            if value > _UINT64_MAX:  # op-supervisor rejects these too: they cannot point at a real log
                raise DecodeError(f"identifier: {name} {value} does not fit in 64 bits")
        return cls(bytes(data[12:32]), words[0], words[1], words[2], words[3])


@dataclass(frozen=True, slots=True)
class ExecutingMessage:
    """One decoded ``ExecutingMessage`` event: which initiating message it claims, by hash."""

    identifier: Identifier
    payload_hash: bytes
    """``msgHash``: keccak256 of the initiating log's payload."""

    @property
    def chain_id(self) -> int:
        return self.identifier.chain_id

    @property
    def timestamp(self) -> int:
        return self.identifier.timestamp


def message_payload(topics: Sequence[bytes], data: bytes) -> bytes:
    """The payload of a log: its topics concatenated, then its data."""
    return b"".join(topics) + data


def payload_hash(topics: Sequence[bytes], data: bytes) -> bytes:
    """``msgHash`` of a log (``keccak256(payload)``)."""
    return keccak256(message_payload(topics, data))


def decode_executing_message(log: Log) -> ExecutingMessage | None:
    """The executing message a log is, or None for any other log (a plain initiating message).

    A log from CrossL2Inbox with the event's topic but a malformed body is a DecodeError: the
    real contract cannot emit one, so a chain that does is broken, not merely uninteresting.
    """
    if log.address != CROSS_L2_INBOX or not log.topics or log.topics[0] != EXECUTING_MESSAGE_TOPIC:
        return None
    if len(log.topics) != 2:
        raise DecodeError(f"ExecutingMessage: expected 2 topics, got {len(log.topics)}")
    return ExecutingMessage(Identifier.decode(log.data), log.topics[1])


def executing_message_log(identifier: Identifier, msg_hash: bytes) -> Log:
    """The log CrossL2Inbox emits for ``validateMessage(identifier, msg_hash)``."""
    return Log(CROSS_L2_INBOX, (EXECUTING_MESSAGE_TOPIC, msg_hash), identifier.encode())


def validate_message_calldata(identifier: Identifier, msg_hash: bytes) -> bytes:
    """Calldata of ``CrossL2Inbox.validateMessage(identifier, msg_hash)``."""
    if len(msg_hash) != _WORD:
        raise ValueError("msg_hash must be 32 bytes")
    return VALIDATE_MESSAGE_SELECTOR + identifier.encode() + msg_hash


def decode_validate_message_calldata(data: bytes) -> tuple[Identifier, bytes] | None:
    """``(identifier, msg_hash)`` from ``validateMessage`` calldata; None for other calldata."""
    if data[:4] != VALIDATE_MESSAGE_SELECTOR or len(data) != 4 + 6 * _WORD:
        return None
    try:
        identifier = Identifier.decode(data[4:4 + 5 * _WORD])
    except DecodeError:
        return None
    return identifier, bytes(data[4 + 5 * _WORD:])

"""The interop verifier as pure functions over fixture logs (opfleet.interop.verify)."""

from __future__ import annotations

import pytest

from opfleet.errors import DecodeError
from opfleet.interop.messages import (
    CROSS_L2_INBOX,
    EXECUTING_MESSAGE_TOPIC,
    VALIDATE_MESSAGE_SELECTOR,
    ExecutingMessage,
    Identifier,
    decode_executing_message,
    decode_validate_message_calldata,
    executing_message_log,
    payload_hash,
    validate_message_calldata,
)
from opfleet.interop.verify import BlockLogs, IndexedLog, Reason, cyclic_messages, verify_timestamp
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.log import Log

A, B, C = 901, 902, 903
EMITTER = b"\xe1" * 20
TOPIC = keccak256(b"Hello(uint256)")
T = 1_000_000


def init_log(index: int, data: bytes = b"hi") -> IndexedLog:
    return IndexedLog(index, EMITTER, payload_hash((TOPIC,), data))


def exec_log(index: int, chain: int, number: int, log_index: int, timestamp: int, data: bytes = b"hi",
             origin: bytes = EMITTER) -> IndexedLog:
    msg = ExecutingMessage(Identifier(origin, number, log_index, timestamp, chain), payload_hash((TOPIC,), data))
    return IndexedLog(index, CROSS_L2_INBOX, keccak256(b"x"), msg)


class Fixture:
    """Blocks by (chain, number); lookup as the log database answers it."""

    def __init__(self, *blocks: BlockLogs):
        self.blocks = {(b.chain_id, b.number): b for b in blocks}

    def lookup(self, chain: int, number: int, log_index: int):
        block = self.blocks.get((chain, number))
        if block is None:
            return None
        for log in block.logs:
            if log.log_index == log_index:
                return block.timestamp, log
        return None

    def verify(self, *at_t: BlockLogs, deps=(A, B), expiry: int = 604_800):
        return verify_timestamp({b.chain_id: b for b in at_t}, dependency_set=deps, lookup=self.lookup,
                                expiry_window=expiry)


def block(chain: int, number: int, timestamp: int, *logs: IndexedLog) -> BlockLogs:
    return BlockLogs(chain, number, bytes([chain % 256, number % 256]) * 16, timestamp, logs)


def reasons(result, chain):
    return [p.reason for p in result.get(chain, [])]


def test_valid_message_from_an_older_block_and_from_the_same_timestamp():
    a5 = block(A, 5, T - 10, init_log(0), init_log(1, b"other"))
    b10 = block(B, 10, T, exec_log(0, A, 5, 1, T - 10, b"other"))
    a9 = block(A, 9, T, init_log(0))
    b10_same = block(B, 10, T, exec_log(0, A, 9, 0, T))
    f = Fixture(a5, b10, a9)
    assert f.verify(b10) == {}
    f2 = Fixture(a9, b10_same)
    assert f2.verify(a9, b10_same) == {}


def test_missing_initiator():
    a5 = block(A, 5, T - 10, init_log(0))
    f = Fixture(a5)
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 5, 3, T - 10))), B) == [Reason.MISSING]
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 6, 0, T - 10))), B) == [Reason.MISSING]


def test_wrong_payload_hash_and_origin():
    a5 = block(A, 5, T - 10, init_log(0))
    f = Fixture(a5)
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 5, 0, T - 10, b"forged"))), B) == [Reason.PAYLOAD_MISMATCH]
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 5, 0, T - 10, origin=b"\x01" * 20))), B) == [
        Reason.ORIGIN_MISMATCH]
    # The identifier's timestamp must be the initiating block's.
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 5, 0, T - 12))), B) == [Reason.TIMESTAMP_MISMATCH]


def test_future_timestamp():
    a7 = block(A, 7, T + 2, init_log(0))
    f = Fixture(a7)
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 7, 0, T + 2))), B) == [Reason.FUTURE]


def test_expiry_window_boundary():
    old = block(A, 1, T - 100, init_log(0))
    f = Fixture(old)
    assert f.verify(block(B, 10, T, exec_log(0, A, 1, 0, T - 100)), expiry=101) == {}
    assert reasons(f.verify(block(B, 10, T, exec_log(0, A, 1, 0, T - 100)), expiry=100), B) == [Reason.EXPIRED]
    ancient = block(A, 1, T - 604_800, init_log(0))
    assert reasons(Fixture(ancient).verify(block(B, 10, T, exec_log(0, A, 1, 0, T - 604_800))), B) == [
        Reason.EXPIRED]


def test_chain_not_in_the_dependency_set():
    c5 = block(C, 5, T - 10, init_log(0))
    f = Fixture(c5)
    assert reasons(f.verify(block(B, 10, T, exec_log(0, C, 5, 0, T - 10))), B) == [Reason.UNKNOWN_CHAIN]
    assert f.verify(block(B, 10, T, exec_log(0, C, 5, 0, T - 10)), deps=(A, B, C)) == {}


def test_same_timestamp_cycle_between_two_chains():
    # A0 executes B1 and B0 executes A1: with log order A0<A1 and B0<B1 that is a cycle.
    a9 = block(A, 9, T, exec_log(0, B, 10, 1, T), init_log(1))
    b10 = block(B, 10, T, exec_log(0, A, 9, 1, T), init_log(1))
    f = Fixture(a9, b10)
    result = f.verify(a9, b10)
    assert reasons(result, A) == [Reason.CYCLE] and reasons(result, B) == [Reason.CYCLE]
    assert cyclic_messages({A: a9, B: b10}) == [(A, 0), (B, 0)]


def test_same_timestamp_chain_without_cycle_and_self_reference_to_a_later_log():
    # B0 initiates, A0 executes B0, A1 initiates, B1 executes A1: a chain, not a cycle.
    a9 = block(A, 9, T, exec_log(0, B, 10, 0, T), init_log(1))
    b10 = block(B, 10, T, init_log(0), exec_log(1, A, 9, 1, T))
    assert Fixture(a9, b10).verify(a9, b10) == {}
    # A block executing its own *later* log is a cycle; its own earlier log is fine.
    later = block(A, 9, T, exec_log(0, A, 9, 1, T), init_log(1))
    earlier = block(A, 9, T, init_log(0), exec_log(1, A, 9, 0, T))
    assert reasons(Fixture(later).verify(later), A) == [Reason.CYCLE]
    assert Fixture(earlier).verify(earlier) == {}


def test_invalid_block_invalidates_same_timestamp_dependents():
    a9 = block(A, 9, T, init_log(0), exec_log(1, B, 3, 0, T - 50))  # B3 does not exist
    b10 = block(B, 10, T, exec_log(0, A, 9, 0, T))
    result = Fixture(a9, b10).verify(a9, b10)
    assert reasons(result, A) == [Reason.MISSING]
    assert reasons(result, B) == [Reason.DEPENDS_ON_INVALID]
    assert "chain 902 block 10 log 0" in str(result[B][0])


def test_wire_encodings_round_trip():
    ident = Identifier(EMITTER, 7, 2, T, A)
    msg_hash = payload_hash((TOPIC,), b"payload")
    calldata = validate_message_calldata(ident, msg_hash)
    assert calldata[:4] == VALIDATE_MESSAGE_SELECTOR and len(calldata) == 4 + 192
    assert decode_validate_message_calldata(calldata) == (ident, msg_hash)
    assert decode_validate_message_calldata(b"\x00" * 196) is None
    log = executing_message_log(ident, msg_hash)
    assert log.address == CROSS_L2_INBOX and log.topics == (EXECUTING_MESSAGE_TOPIC, msg_hash)
    assert decode_executing_message(log) == ExecutingMessage(ident, msg_hash)
    assert decode_executing_message(Log(EMITTER, (TOPIC,), b"")) is None
    with pytest.raises(DecodeError):
        decode_executing_message(Log(CROSS_L2_INBOX, (EXECUTING_MESSAGE_TOPIC, msg_hash), b"\x01" * 160))
    # The published CrossL2Inbox ABI values (specs/interop/predeploys.md, op-supervisor bindings).
    assert VALIDATE_MESSAGE_SELECTOR.hex() == "ab4d6f75"
    assert EXECUTING_MESSAGE_TOPIC.hex() == "5c37832d2e8d10e346e55ad62071a6a2f9fa5130614ef2ec6617555c6f467ba7"

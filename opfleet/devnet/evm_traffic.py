"""L2 traffic that needs a real EVM (``opfleet devnet --engine op-geth``): deploy a small contract,
then call it; every call writes storage and emits a log.

The contract (hand-assembled, no compiler): any call increments the counter in storage slot 0,
emits ``LOG2(topic0 = keccak256("DevnetCounted(uint256,bytes)"), topic1 = caller, data = new count
(32 bytes) ++ calldata)`` and returns the new count. :func:`traffic_tx` is the generator's
schedule: nonce 0 deploys it, then calls and plain transfers alternate.
"""

from __future__ import annotations

from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.state import contract_address
from opfleet.protocol.transactions import DYNAMIC_FEE_TX_TYPE, Transaction, encode_transaction, sign_transaction

COUNTED_TOPIC = keccak256(b"DevnetCounted(uint256,bytes)")
DEPLOY_GAS = 200_000
CALL_GAS = 100_000
TRANSFER_GAS = 21_000
TRANSFER_TO = b"\x12" * 20

_OP = {"ADD": 0x01, "CALLER": 0x33, "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37, "CODECOPY": 0x39,
       "MSTORE": 0x52, "SLOAD": 0x54, "SSTORE": 0x55, "DUP1": 0x80, "LOG2": 0xA2, "RETURN": 0xF3}


def _code(*items: str | int | bytes) -> bytes:
    """Opcode names, one-byte PUSH1 values (int) and PUSH32 words (32 bytes)."""
    out = bytearray()
    for item in items:
        if isinstance(item, str):
            out.append(_OP[item])
        elif isinstance(item, int):
            out += bytes([0x60, item])
        else:
            assert len(item) == 32
            out += b"\x7f" + item
    return bytes(out)


def counter_runtime() -> bytes:
    return _code(
        0, "SLOAD", 1, "ADD",                       # count = sload(0) + 1
        "DUP1", 0, "SSTORE",                        # sstore(0, count)
        0, "MSTORE",                                # mem[0:32] = count
        "CALLDATASIZE", 0, 32, "CALLDATACOPY",      # mem[32:] = calldata
        "CALLER", COUNTED_TOPIC, "CALLDATASIZE", 32, "ADD", 0, "LOG2",
        32, 0, "RETURN",                            # return count
    )


def counter_initcode() -> bytes:
    """Creation code: copy the runtime into memory and return it."""
    runtime = counter_runtime()
    prefix_size = 12
    return _code(len(runtime), prefix_size, 0, "CODECOPY", len(runtime), 0, "RETURN") + runtime


def traffic_tx(key: bytes, nonce: int, chain_id: int, *, max_fee: int = 10**10, tip: int = 10**6) -> bytes:
    """The generator's ``nonce``-th transaction from ``key``, signed and encoded: nonce 0 deploys
    the counter, odd nonces call it (calldata: the nonce), even ones transfer 1 wei."""
    sender = private_key_to_address(key)
    if nonce == 0:
        to, gas, data, value = None, DEPLOY_GAS, counter_initcode(), 0
    elif nonce % 2:
        to, gas, data, value = contract_address(sender, 0), CALL_GAS, nonce.to_bytes(8, "big"), 0
    else:
        to, gas, data, value = TRANSFER_TO, TRANSFER_GAS, b"", 1
    return encode_transaction(sign_transaction(Transaction(
        type=DYNAMIC_FEE_TX_TYPE, chain_id=chain_id, nonce=nonce, max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=tip, gas=gas, to=to, value=value, data=data), key))

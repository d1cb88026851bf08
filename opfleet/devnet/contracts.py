"""Mock OP Stack L1 contracts for a real L1 (anvil), hand-assembled EVM runtime code.

Placed with ``anvil_setCode`` at the same addresses the embedded L1 emulates
(:data:`~opfleet.devnet.l1.DEFAULT_PORTAL_ADDRESS`, :data:`~opfleet.devnet.l1.DEFAULT_SYSTEM_CONFIG_ADDRESS`),
they take the calldata the real contracts take (so :meth:`opfleet.devnet.l1.L1Chain.deposit`'s
``deposit_calldata`` and ``config_update_calldata`` work unchanged) and emit the logs a rollup node
derives from (``../shared/ref/anvil.md`` section 6, ``specs/protocol/deposits.md``,
``specs/protocol/system-config.md``):

- :func:`portal_code`: ``depositTransaction(address,uint256,uint64,bool,bytes)`` and ``receive()``
  emit ``TransactionDeposited(from, to, 0, abi.encode(bytes opaque))`` with
  ``opaque = msg.value ++ _value ++ uint64 _gasLimit ++ bool _isCreation ++ _data``; ``from`` is
  ``msg.sender`` (EOAs only: no L1->L2 aliasing for contract callers);
- :func:`system_config_code`: the setters emit ``ConfigUpdate(0, updateType, abi.encode(bytes data))``
  with ``data`` as the real SystemConfig encodes it (``setGasConfigEcotone`` packs the versioned
  scalar, ``setEIP1559Params``/``setOperatorFeeScalars`` pack their two arguments in one word).

They check nothing (no owner, no gas-limit or size bounds, unknown selectors revert): test and
devnet use only. Nothing is stored: the L1 state a node reads is the logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opfleet.protocol.abi import selector
from opfleet.protocol.deposits import DEPOSIT_EVENT_TOPIC
from opfleet.protocol.rlp_codec import int_bytes
from opfleet.protocol.system_config import CONFIG_UPDATE_TOPIC, ConfigUpdateType

OPCODES = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "LT": 0x10, "GT": 0x11, "EQ": 0x14,
    "ISZERO": 0x15, "AND": 0x16, "OR": 0x17, "SHL": 0x1B, "SHR": 0x1C, "CALLER": 0x33, "CALLVALUE": 0x34,
    "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37, "POP": 0x50, "MSTORE": 0x52,
    "MSTORE8": 0x53, "JUMP": 0x56, "JUMPI": 0x57, "JUMPDEST": 0x5B, "DUP1": 0x80, "DUP2": 0x81, "DUP5": 0x84,
    "DUP6": 0x85, "SWAP1": 0x90, "SWAP2": 0x91, "LOG3": 0xA3, "LOG4": 0xA4, "REVERT": 0xFD,
}
PUSH1 = 0x60


@dataclass(frozen=True, slots=True)
class Label:
    """A jump destination (assembled as ``JUMPDEST``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Ref:
    """``PUSH2`` of a label's offset."""

    name: str


Item = str | int | bytes | Label | Ref


def _push(value: bytes) -> bytes:
    if not 1 <= len(value) <= 32:
        raise ValueError("a PUSH takes 1 to 32 bytes")
    return bytes([PUSH1 + len(value) - 1]) + value


def _operand(value: int) -> bytes:
    """The smallest PUSH operand for ``value``: its RLP integer bytes, but zero is one byte."""
    return int_bytes(value) or b"\x00"


def assemble(items: Sequence[Item]) -> bytes:
    """Bytecode for ``items``: opcode names, ints (smallest PUSH), bytes (PUSH of exactly that
    width), :class:`Label` (a JUMPDEST) and :class:`Ref` (PUSH2 of a label)."""
    def size(item: Item) -> int:
        if isinstance(item, str) or isinstance(item, Label):
            return 1
        if isinstance(item, Ref):
            return 3
        return 1 + len(_operand(item) if isinstance(item, int) else item)

    labels: dict[str, int] = {}
    offset = 0
    for item in items:
        if isinstance(item, Label):
            if item.name in labels:
                raise ValueError(f"label {item.name!r} defined twice")
            labels[item.name] = offset
        offset += size(item)
    out = bytearray()
    for item in items:
        if isinstance(item, str):
            out.append(OPCODES[item])
        elif isinstance(item, Label):
            out.append(OPCODES["JUMPDEST"])
        elif isinstance(item, Ref):
            out += _push(labels[item.name].to_bytes(2, "big"))
        elif isinstance(item, int):
            out += _push(_operand(item))
        else:
            out += _push(item)
    return bytes(out)


def _dispatch(cases: Sequence[tuple[bytes, str]]) -> list[Item]:
    """Jump to a case's label by the calldata's 4-byte selector (left on the stack); else revert."""
    items: list[Item] = [0, "CALLDATALOAD", 0xE0, "SHR"]
    for sel, label in cases:
        items += ["DUP1", sel, "EQ", Ref(label), "JUMPI"]
    return items + [0, "DUP1", "REVERT"]


# --- OptimismPortal ---------------------------------------------------------------------------------

RECEIVE_GAS_LIMIT = 100_000
"""L2 gas limit of a plain ETH transfer to the portal (as :mod:`opfleet.devnet.l1` uses)."""


def _deposit_log(to: list[Item]) -> list[Item]:
    """With the opaque data's length on the stack and ``mem[0x40:]`` = opaque: LOG4 and STOP.
    ``to`` pushes topic 2."""
    return [
        "DUP1", 0x20, "MSTORE",          # mem[0x20] = len(opaque)
        0x20, 0, "MSTORE",               # mem[0x00] = 0x20 (the bytes' offset)
        31, "ADD", 5, "SHR", 5, "SHL", 0x40, "ADD",  # size = 0x40 + roundup32(len)
        0,                               # topic 3: version 0
        *to,                             # topic 2: to
        "CALLER",                        # topic 1: from
        DEPOSIT_EVENT_TOPIC,             # topic 0
        "DUP5", 0, "LOG4", "STOP",
    ]


def portal_code() -> bytes:
    """Runtime code of the mock OptimismPortal (see the module docstring)."""
    return assemble([
        "CALLDATASIZE", "ISZERO", Ref("receive"), "JUMPI",
        *_dispatch([(selector("depositTransaction(address,uint256,uint64,bool,bytes)"), "deposit")]),
        Label("deposit"), "POP",
        "CALLVALUE", 0x40, "MSTORE",                              # mint
        0x24, "CALLDATALOAD", 0x60, "MSTORE",                     # _value
        0x44, "CALLDATALOAD", 0xC0, "SHL", 0x80, "MSTORE",        # uint64 _gasLimit: 8 bytes at 0x80
        0x64, "CALLDATALOAD", 0x88, "MSTORE8",                    # bool _isCreation: 1 byte at 0x88
        0x84, "CALLDATALOAD", 4, "ADD",                           # p = where _data's length word is
        "DUP1", "CALLDATALOAD",                                   # len, p
        "DUP1", "SWAP2", 0x20, "ADD", 0x89, "CALLDATACOPY",       # mem[0x89:] = _data; len
        73, "ADD",                                                # len(opaque) = 32 + 32 + 8 + 1 + len
        *_deposit_log([0x04, "CALLDATALOAD"]),
        Label("receive"),
        "CALLVALUE", 0x40, "MSTORE", "CALLVALUE", 0x60, "MSTORE",
        RECEIVE_GAS_LIMIT, 0xC0, "SHL", 0x80, "MSTORE",
        73,
        *_deposit_log(["CALLER"]),
    ])


# --- SystemConfig -------------------------------------------------------------------------------------

_COPY = "copy"

# signature -> (update type, how the payload words are made: copy N argument words, or a packing)
_SETTERS: tuple[tuple[str, ConfigUpdateType, str | int], ...] = (
    ("setBatcherHash(bytes32)", ConfigUpdateType.BATCHER, 1),
    ("setBatcherHash(address)", ConfigUpdateType.BATCHER, 1),
    ("setGasConfig(uint256,uint256)", ConfigUpdateType.FEE_SCALARS, 2),
    ("setGasConfigEcotone(uint32,uint32)", ConfigUpdateType.FEE_SCALARS, "ecotone"),
    ("setGasLimit(uint64)", ConfigUpdateType.GAS_LIMIT, 1),
    ("setUnsafeBlockSigner(address)", ConfigUpdateType.UNSAFE_BLOCK_SIGNER, 1),
    ("setEIP1559Params(uint32,uint32)", ConfigUpdateType.EIP_1559_PARAMS, "pack32"),
    ("setOperatorFeeScalars(uint32,uint64)", ConfigUpdateType.OPERATOR_FEE_PARAMS, "pack64"),
    ("setMinBaseFee(uint64)", ConfigUpdateType.MIN_BASE_FEE, 1),
    ("setDAFootprintGasScalar(uint16)", ConfigUpdateType.DA_FOOTPRINT_GAS_SCALAR, 1),
)


def _config_update(update: ConfigUpdateType, words: int) -> list[Item]:
    """With ``mem[0x40:]`` = the payload words: emit ConfigUpdate(0, update, abi.encode(bytes)) and STOP."""
    return [
        32 * words, 0x20, "MSTORE", 0x20, 0, "MSTORE",
        int(update), 0, CONFIG_UPDATE_TOPIC, 0x40 + 32 * words, 0, "LOG3", "STOP",
    ]


def system_config_code() -> bytes:
    """Runtime code of the mock SystemConfig (see the module docstring)."""
    cases = [(selector(sig), f"s{i}") for i, (sig, _, _) in enumerate(_SETTERS)]
    items: list[Item] = ["CALLVALUE", Ref("revert"), "JUMPI", *_dispatch(cases)]
    for i, (_, update, how) in enumerate(_SETTERS):
        items += [Label(f"s{i}"), "POP"]
        if isinstance(how, int):
            items += [32 * how, 4, 0x40, "CALLDATACOPY"]
            words = how
        elif how == "ecotone":  # (overhead 0, (1 << 248) | blobScalar << 32 | baseScalar)
            items += [0x24, "CALLDATALOAD", 32, "SHL", 4, "CALLDATALOAD", "OR", 1, 248, "SHL", "OR", 0x60, "MSTORE"]
            words = 2
        else:  # pack two arguments: first << 32 (or 64) | second
            shift = 32 if how == "pack32" else 64
            items += [4, "CALLDATALOAD", shift, "SHL", 0x24, "CALLDATALOAD", "OR", 0x40, "MSTORE"]
            words = 1
        items += _config_update(update, words)
    items += [Label("revert"), 0, "DUP1", "REVERT"]
    return assemble(items)

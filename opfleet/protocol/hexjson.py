"""Hex values in Ethereum JSON-RPC: one reader and writer for every layer.

Execution APIs specification, "Hex value encoding": a *quantity* is ``0x`` followed by the
big-endian hex digits of an unsigned integer, *data* is ``0x`` followed by two hex digits per
byte. Readers accept what geth, reth, op-geth and anvil emit (either letter case, a quantity's
leading zeros, which some nodes write) and nothing else: no JSON numbers, no whitespace, no
``_`` separators (which Python's ``int`` and ``bytes.fromhex`` would let through).

Every failure is a :class:`HexJsonError` naming the field. A client reading a node's answer
lets it surface as the :class:`~opfleet.errors.DecodeError` it is; a server reading a
request's parameters maps it to JSON-RPC ``-32602`` in one place (``opfleet.rpc.server``).
"""

from __future__ import annotations

from typing import Any

from opfleet.errors import DecodeError

__all__ = [
    "HexJsonError",
    "MAX_QUANTITY_DIGITS",
    "hex_data",
    "hex_quantity",
    "json_object",
    "parse_data",
    "parse_json_uint",
    "parse_quantity",
]

MAX_QUANTITY_DIGITS = 64
"""A quantity is at most 256 bits (uint256, the widest the execution layer uses)."""

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class HexJsonError(DecodeError):
    """A JSON value is not the hex quantity, hex data or object it should be.

    ``name`` is the field or parameter it was read for.
    """

    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")

    def at(self, base: int) -> HexJsonError:
        return self


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unprefixed(value: Any, name: str, what: str) -> str:
    """The text after ``0x``; refuses non-strings and a missing prefix."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise HexJsonError(name, f"expected {what} (0x-prefixed hex), got {_short(value)}")
    return value[2:]


def _digits(value: Any, name: str, what: str) -> str:
    """The hex digits after ``0x``; refuses non-strings, a missing prefix and non-hex characters."""
    digits = _unprefixed(value, name, what)
    if not _HEX_DIGITS.issuperset(digits):
        raise HexJsonError(name, f"not hex: {_short(value)}")
    return digits


def parse_quantity(value: Any, name: str = "quantity") -> int:
    """``"0x1a"`` -> 26 (execution-apis, "Hex value encoding": quantities).

    Leading zeros are tolerated (some nodes emit them); decimal strings, JSON numbers, ``"0x"``
    and values wider than 256 bits are not.
    """
    digits = _digits(value, name, "a hex quantity")
    if not digits:
        raise HexJsonError(name, "expected a hex quantity, got an empty \"0x\"")
    if len(digits) > MAX_QUANTITY_DIGITS:
        raise HexJsonError(name, f"hex quantity wider than 256 bits: {_short(value)}")
    return int(digits, 16)


def parse_data(value: Any, size: int | None = None, name: str = "data") -> bytes:
    """``"0xabcd"`` -> ``b"\\xab\\xcd"`` (execution-apis: unformatted data); exactly ``size`` bytes when given."""
    digits = _unprefixed(value, name, "hex data")
    # bytes.fromhex refuses every non-hex character but whitespace, which shortens the result:
    # checking the length instead of every character keeps block-sized data cheap to read.
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = None
    if raw is None or 2 * len(raw) != len(digits):
        if not _HEX_DIGITS.issuperset(digits):
            raise HexJsonError(name, f"not hex: {_short(value)}")
        raise HexJsonError(name, f"odd number of hex digits: {_short(value)}")
    if size is not None and len(raw) != size:
        raise HexJsonError(name, f"expected {size} bytes, got {len(raw)}")
    return raw


def parse_json_uint(value: Any, name: str, bits: int = 64) -> int:
    """A plain JSON number that is an unsigned ``bits``-bit integer.

    Go's ``*uint64`` without ``hexutil`` marshals this way: op-geth's ``minBaseFee`` payload
    attribute (Jovian), which op-node and op-alloy send as a number, not a quantity.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise HexJsonError(name, f"expected a JSON number, got {_short(value)}")
    if not 0 <= value < 1 << bits:
        raise HexJsonError(name, f"{value} out of range for uint{bits}")
    return value


def hex_quantity(value: int) -> str:
    """An unsigned int as a JSON-RPC quantity (``0x0``, ``0x1a``)."""
    if value < 0:
        raise ValueError("quantities are unsigned")
    return hex(value)


def hex_data(value: bytes) -> str:
    """Bytes as JSON-RPC data (``0x`` and two lower-case digits a byte)."""
    return "0x" + bytes(value).hex()


def json_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` itself when it is a JSON object, else a :class:`HexJsonError` naming ``what``."""
    if not isinstance(value, dict):
        raise HexJsonError(what, f"expected a JSON object, got {type(value).__name__}")
    return value

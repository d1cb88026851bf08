"""The one hex/JSON reader (execution-apis "Hex value encoding") and its -32602 mapping."""

from __future__ import annotations

import pytest

from opfleet.errors import DecodeError
from opfleet.protocol.hexjson import (
    HexJsonError,
    hex_data,
    hex_quantity,
    json_object,
    parse_data,
    parse_json_uint,
    parse_quantity,
)
from opfleet.rpc.server import INVALID_PARAMS, InvalidParams, invalid_params, param_data, param_quantity


@pytest.mark.parametrize("text, value", [
    ("0x0", 0), ("0x1a", 26), ("0X1A", 26), ("0x001a", 26), ("0x" + "f" * 64, 2**256 - 1),
])
def test_quantities_read(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", [
    "26", "0x", "0x1g", "0x 1", "0x1 ", "0x1_0", "0x+1", "-0x1", "0x" + "1" * 65, 26, 26.0, True, None,
    [], {}, "x" * 10_000,
])
def test_quantities_refuse_garbage_with_one_error_type(bad):
    with pytest.raises(HexJsonError) as info:
        parse_quantity(bad, "blockNumber")
    assert info.value.name == "blockNumber"
    assert str(info.value).startswith("blockNumber: ")
    assert len(str(info.value)) < 200  # a hostile value is cut short in the message
    assert isinstance(info.value, DecodeError)  # clients keep catching DecodeError


@pytest.mark.parametrize("text, raw", [("0x", b""), ("0xABcd", b"\xab\xcd"), ("0X00", b"\x00")])
def test_data_read(text, raw):
    assert parse_data(text) == raw


@pytest.mark.parametrize("bad", [
    "abcd", "0xabc", "0xab cd", "0xzz", "0xab\n", b"0xab", 0xab, None,
    # whitespace bytes.fromhex would skip, and digits that are not ASCII hex
    "0x ab", "0xab\tc", "0xa bc", "0x\u0661\u0662", "0xab\u00e9c", "0xa_bc", "0x" + "ab" * 5000 + " ",
])
def test_data_refuses_garbage(bad):
    with pytest.raises(HexJsonError, match="^hash: "):
        parse_data(bad, name="hash")


def test_data_size_is_checked():
    assert parse_data("0x" + "11" * 32, 32) == b"\x11" * 32
    with pytest.raises(HexJsonError, match="expected 32 bytes, got 31"):
        parse_data("0x" + "11" * 31, 32, "blockHash")


def test_writers_round_trip():
    assert hex_quantity(0) == "0x0" and hex_quantity(26) == "0x1a"
    assert parse_quantity(hex_quantity(2**200)) == 2**200
    assert hex_data(b"\xab\xcd") == "0xabcd" and hex_data(bytearray(b"\x01")) == "0x01"
    with pytest.raises(ValueError):
        hex_quantity(-1)


def test_json_numbers_and_objects():
    assert parse_json_uint(7, "minBaseFee") == 7
    for bad in ("0x7", -1, 2**64, True, 7.0, None):
        with pytest.raises(HexJsonError, match="minBaseFee"):
            parse_json_uint(bad, "minBaseFee")
    assert json_object({"a": 1}, "status") == {"a": 1}
    with pytest.raises(HexJsonError, match="status: expected a JSON object, got list"):
        json_object([], "status")


def test_a_parameter_error_is_invalid_params_in_one_place():
    assert param_quantity("0x10", "index") == 16
    assert param_data("0x01", "address", 1) == b"\x01"
    with pytest.raises(InvalidParams) as info:
        param_quantity("16", "index")
    assert info.value.code == INVALID_PARAMS
    assert info.value.message.startswith("invalid argument: index: ")
    with pytest.raises(InvalidParams, match="want|expected 20 bytes"):
        param_data("0x01", "address", 20)
    with pytest.raises(InvalidParams):
        with invalid_params():
            parse_json_uint("0x1", "minBaseFee")
    with pytest.raises(KeyError):  # other errors are not parameter errors
        with invalid_params():
            raise KeyError("x")

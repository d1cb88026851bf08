"""`opfleet decode`: the documented JSON shapes on real vectors, and one clear line on bad input."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from opfleet.config import spec
from opfleet.cli.decode import read_input
from opfleet.cli.env import Environment
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context, main
from opfleet.protocol.blob import BLOB_SIZE, encode_blob
from opfleet.protocol.frame import Frame, encode_frames
from opfleet.protocol.transactions import decode_transaction
from tests.conftest import VECTORS, FakeEnvironment, Result

BATCHER_TX = VECTORS / "batches" / "op-mainnet-batcher-tx-signed.hex"
SPAN_CHANNEL = VECTORS / "batches" / "op-mainnet-span-channel-zlib.hex"


def decode_json(cli, argv, stdin=b""):
    result = cli(["decode", *argv, "--json"], stdin=stdin)
    assert result.status == ExitStatus.OK, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def batcher_calldata() -> bytes:
    return decode_transaction(bytes.fromhex(BATCHER_TX.read_text().strip())).data


def test_batcher_tx(cli):
    out = decode_json(cli, ["batcher-tx", str(BATCHER_TX)])
    assert list(out) == ["hash", "from", "to", "type", "frames"]
    assert out["hash"] == "0xe69d94330faafb4f716f7ad9b3b50ea8ff5ce57aea6d2f8be07afb7fe49cd6cf"
    assert out["from"] == "0x6887246668a3b87f54deb3b94ba47a6f63f32985"
    assert out["to"] == "0xff00000000000000000000000000000000000010"
    assert out["type"] == 2
    [frame] = out["frames"]
    assert list(frame) == ["channel_id", "frame_number", "data", "is_last"]
    assert frame["channel_id"] == "0xac329933f5efdcc35ccd284232a376d3"
    assert frame["frame_number"] == 0 and frame["is_last"] is True
    assert len(frame["data"]) == 2 + 2 * 119799


def test_calldata_from_stdin_with_0x_and_whitespace(cli):
    text = "0x" + batcher_calldata().hex()
    wrapped = "\n".join(text[i:i + 64] for i in range(0, len(text), 64)).encode() + b"\n"
    out = decode_json(cli, ["calldata", "-"], stdin=wrapped)
    assert len(out["frames"]) == 1
    assert out["frames"][0]["channel_id"] == "0xac329933f5efdcc35ccd284232a376d3"


def test_calldata_raw(cli, tmp_path):
    frames = [Frame(bytes(range(16)), n, bytes([n]) * n, n == 2) for n in range(3)]
    path = tmp_path / "calldata.bin"
    path.write_bytes(encode_frames(frames))
    out = decode_json(cli, ["calldata", "--raw", str(path)])
    assert out == {"frames": [f.to_json() for f in frames]}
    assert out["frames"][2] == {"channel_id": "0x000102030405060708090a0b0c0d0e0f",
                                "frame_number": 2, "data": "0x0202", "is_last": True}


def test_channel_from_the_real_batcher_tx(cli, tmp_path):
    channel = batcher_calldata()[1 + 22:-1]  # the only frame's data = the whole channel
    path = tmp_path / "channel.hex"
    path.write_text(channel.hex())
    out = decode_json(cli, ["channel", str(path)])
    assert out["compression"] == "zlib"
    [batch] = out["batches"]
    assert list(batch) == ["type", "rel_timestamp", "l1_origin_num", "parent_check",
                           "l1_origin_check", "block_count", "origin_bits", "block_tx_counts",
                           "transactions"]
    assert batch["type"] == 1 and batch["block_count"] == 27
    assert batch["rel_timestamp"] == 24269254 and batch["l1_origin_num"] == 19426585
    assert batch["parent_check"] == "0x4a78c6069d413ac5cd75401310076b7acbc10cea"
    assert batch["l1_origin_check"] == "0x4fcd7915716bdcf8ba963e591577721000dd2bf7"
    assert len(batch["origin_bits"]) == 27 and set(batch["origin_bits"]) <= {0, 1}
    assert sum(batch["block_tx_counts"]) == len(batch["transactions"]) == 209
    types = [decode_transaction(bytes.fromhex(tx[2:])).type for tx in batch["transactions"]]
    assert types.count(0) == 36 and types.count(2) == 173


def test_channel_143_blocks_and_chain_id(cli):
    out = decode_json(cli, ["channel", str(SPAN_CHANNEL)])
    [batch] = out["batches"]
    assert batch["block_count"] == 143 and len(batch["transactions"]) == 1766
    other = decode_json(cli, ["channel", str(SPAN_CHANNEL), "--chain-id", "8453"])
    # Protected legacy and typed txs carry the chain id, so their bytes change with it.
    changed = sum(a != b for a, b in zip(batch["transactions"], other["batches"][0]["transactions"]))
    assert changed > 1000
    assert decode_transaction(bytes.fromhex(other["batches"][0]["transactions"][-1][2:])).chain_id \
        in (8453, None)


def test_blob_hex_and_raw(cli, tmp_path):
    payload = b"opfleet blob payload " * 100
    blob = encode_blob(payload)
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "blob.hex").write_text("0x" + blob.hex())
    assert decode_json(cli, ["blob", "--raw", str(tmp_path / "blob.bin")]) == {
        "data": "0x" + payload.hex()}
    assert decode_json(cli, ["blob", str(tmp_path / "blob.hex")])["data"] == "0x" + payload.hex()


def test_readable_views_print_without_errors(cli, tmp_path):
    (tmp_path / "blob.bin").write_bytes(encode_blob(b"x" * 10))
    for argv in (["batcher-tx", str(BATCHER_TX)], ["channel", str(SPAN_CHANNEL)],
                 ["blob", "--raw", str(tmp_path / "blob.bin")]):
        result = cli(["decode", *argv])
        assert result.status == ExitStatus.OK, result.stderr
        assert result.stdout.strip()
    result = cli(["decode", "channel", str(SPAN_CHANNEL)])
    assert "1766 transaction(s)" in result.stdout and "zlib" in result.stdout


def one_bad_line(result, *fragments):
    assert result.status == ExitStatus.BAD_INPUT
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("stdin, fragments", [
    (b"0x00zz", ("invalid hex character 'z' at offset 4",)),
    (b"abc", ("odd number of hex digits",)),
    (b"  \n", ("no hex data",)),
    (b"\xff\xfe", ("non-ASCII", "--raw")),
    (b"01" + b"00" * 30, ("unknown derivation version 0x01", "at byte 0")),
    (b"00" + b"11" * 16 + b"0000" + b"00000001" + b"aa" + b"02", ("is_last", "at byte 24")),
    (b"00" + b"11" * 16 + b"0000" + b"ffffffff", ("exceeds", "at byte 19")),
])
def test_bad_calldata(cli, stdin, fragments):
    one_bad_line(cli(["decode", "calldata", "-"], stdin=stdin), *fragments)


def test_bad_blob(cli, tmp_path):
    one_bad_line(cli(["decode", "blob", "-"], stdin=b"00" * 100), "131072 bytes, got 100")
    bad = bytearray(encode_blob(b"hello"))
    bad[1] = 1  # version byte
    (tmp_path / "bad.bin").write_bytes(bytes(bad))
    one_bad_line(cli(["decode", "blob", "--raw", str(tmp_path / "bad.bin")]), "at byte 1")


def test_bad_channel_and_tx(cli):
    one_bad_line(cli(["decode", "channel", "-"], stdin=b"ffff"), "channel:")
    one_bad_line(cli(["decode", "batcher-tx", "-"], stdin=b"02c0"), "batcher-tx:")


def test_truncated_channel_reports_an_offset(cli):
    text = SPAN_CHANNEL.read_text().strip()
    result = cli(["decode", "channel", "-"], stdin=text[: len(text) // 4 * 2].encode())
    one_bad_line(result, "channel:", "byte")


def test_missing_file(cli):
    one_bad_line(cli(["decode", "blob", "/no/such/blob"]), "cannot read /no/such/blob")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["blob", "calldata", "channel", "batcher-tx"]),
       data=st.binary(max_size=300))
def test_garbage_never_crashes(cli, kind, data):
    result = cli(["decode", kind, "--raw", "-", "--json"], stdin=data)
    assert result.status in (ExitStatus.OK, ExitStatus.BAD_INPUT)
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr


def test_bad_chain_id_is_a_usage_error(cli):
    result = cli(["decode", "channel", str(SPAN_CHANNEL), "--chain-id", "ten"])
    assert result.status == ExitStatus.USAGE
    assert "--chain-id" in result.stderr and "integer" in result.stderr


# --- input bounded by what the item can be --------------------------------------------------------


class _Endless(io.RawIOBase):
    """A stream that never ends (``/dev/zero``, ``yes``), counting what was read from it."""

    def __init__(self, pattern: bytes):
        self.pattern = pattern
        self.served = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = len(buffer)
        buffer[:n] = (self.pattern * (n // len(self.pattern) + 1))[:n]
        self.served += n
        return n


def _run_on_stream(argv, stream):
    env = Environment(stdin=io.TextIOWrapper(io.BufferedReader(stream)), stdout=io.StringIO(),
                      stderr=io.StringIO(), vars={})
    return Result(main(argv, env), env.stdout.getvalue(), env.stderr.getvalue())


@pytest.mark.parametrize(("kind", "limit", "why"), [
    ("blob", 131_072, "larger than a blob (exactly 131,072 bytes)"),
    ("calldata", 10_485_760, "larger than an L1 transaction can be"),
    ("batcher-tx", 10_485_760, "EIP-7934"),
    ("channel", 112_500_000, "larger than a channel can be (derivation reads at most 100,000,000"),
])
def test_endless_raw_input_is_refused_at_what_the_item_can_be(cli, kind, limit, why):
    # Before: read until MemoryError (1.5 GB), reported as a crash with exit 1.
    result = cli(["decode", kind, "--raw", "/dev/zero"])
    one_bad_line(result, f"/dev/zero: more than {limit:,} bytes", why)
    stream = _Endless(b"\0")
    one_bad_line(_run_on_stream(["decode", kind, "--raw", "-"], stream), "standard input", why)
    assert stream.served <= limit + (1 << 20)


@pytest.mark.parametrize(("pattern", "fragment"), [(b"00", "bytes of data"), (b"\n", "bytes of text"),
                                                   (b"0 \n", "bytes of data")])
def test_endless_hex_input_is_refused_too(pattern, fragment):
    stream = _Endless(pattern)
    result = _run_on_stream(["decode", "blob", "-"], stream)
    one_bad_line(result, fragment, "larger than a blob")
    assert stream.served <= 3 * 131_072 + (2 << 20)


def test_hex_input_is_read_in_chunks_not_as_characters(cli, tmp_path):
    # 300 MB of hex used to take 917 MB (a Python string per digit); now memory follows the data.
    data = bytes(range(256)) * 8192  # 2 MiB
    digits = data.hex()
    text = ("0x" + "\n".join(digits[i:i + 64] for i in range(0, len(digits), 64))).encode()
    path = tmp_path / "calldata.hex"
    path.write_bytes(text)
    ctx = Context(env=FakeEnvironment(), command=spec.DECODE.subcommands[1], args={"input": str(path)})
    tracemalloc.start()
    try:
        assert read_input(ctx) == data
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(data) + 3 * (1 << 20), peak  # the result, its buffer and one chunk


@pytest.mark.parametrize(("text", "fragment"), [
    (b"\n" * (3 << 20) + b"0x00", None),  # whitespace across chunks before the prefix
    (b"0" + b"\n" * (2 << 20) + b"0", None),  # a byte's two digits in different chunks
    (b"  0x" + b"00" * (1 << 20) + b"0", "odd number of hex digits (2097153)"),
    (b"00" * (1 << 20) + b"  zz", f"invalid hex character 'z' at offset {(2 << 20) + 2}"),
])
def test_hex_across_chunk_boundaries(text, fragment):
    stream = io.BytesIO(text)
    result = _run_on_stream(["decode", "calldata", "-", "--json"], stream)
    if fragment is None:
        assert "frames" in result.stdout or result.status == ExitStatus.BAD_INPUT
        assert "hex" not in result.stderr
    else:
        one_bad_line(result, fragment)


# --- a tiny channel declaring millions of blocks ----------------------------------------------------


def _bomb_channel(block_count: int) -> bytes:
    """A legal brotli channel (about 50 bytes) of one span batch of ``block_count`` empty blocks."""
    import rlp

    from opfleet.protocol.compression import compress_brotli
    from opfleet.protocol.encoding import write_uvarint

    body = (b"\x01" + write_uvarint(0) + write_uvarint(5) + bytes(40) + write_uvarint(block_count)
            + bytes((block_count + 7) // 8) + bytes(block_count))
    return compress_brotli(rlp.encode(body), quality=11)


class _CountingSink(io.StringIO):
    """A stdout that keeps only the size and the ends of what was written."""

    def __init__(self):
        super().__init__()
        self.size = 0
        self.head = ""
        self.tail = ""

    def write(self, text):
        self.size += len(text)
        if len(self.head) < 200:
            self.head += text[:200]
        self.tail = (self.tail + text)[-200:]
        return len(text)


def test_max_blocks_refuses_a_bomb_channel_by_default(cli, tmp_path):
    path = tmp_path / "bomb.bin"
    path.write_bytes(_bomb_channel(8_800_000))
    assert path.stat().st_size < 80
    result = cli(["decode", "channel", "--raw", str(path), "--json"])
    one_bad_line(result, "span batch has 8,800,000 blocks, more than --max-blocks 100,000",
                 "--max-blocks 0")
    assert cli(["decode", "channel", "--raw", str(path), "--max-blocks", "8800000"]).status == ExitStatus.OK


def test_a_bomb_channel_allowed_by_max_blocks_0_streams_its_json_in_bounded_memory(tmp_path):
    # Before: 5 s, 340 MB and 53 MB of JSON built in memory for a 49-byte channel.
    path = tmp_path / "bomb.bin"
    path.write_bytes(_bomb_channel(8_800_000))
    sink = _CountingSink()
    env = Environment(stdin=io.StringIO(""), stdout=sink, stderr=io.StringIO(), vars={})
    tracemalloc.start()
    try:
        status = main(["decode", "channel", "--raw", str(path), "--json", "--max-blocks", "0"], env)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == ExitStatus.OK, env.stderr.getvalue()
    assert sink.size == 52_800_301  # every 0 of both columns, as json.dumps writes them
    assert sink.head.startswith('{"compression": "brotli", "batches": [{"type": 1, "rel_timestamp": 0, '
                                '"l1_origin_num": 5, ')
    assert sink.tail.endswith('0, 0], "transactions": []}]}\n')
    assert peak < 60_000_000, peak  # the decompressed channel and one byte a block per column


def test_streamed_channel_json_is_exactly_json_dumps(cli, tmp_path):
    # Mixed singular and span batches with transactions, against the one-piece document.
    import rlp

    from opfleet.protocol.batch import RawSpanBatch, SingularBatch, channel_to_json, encode_batch
    from opfleet.protocol.compression import compress_zlib

    text = SPAN_CHANNEL.read_text().strip()
    channel = bytes.fromhex(text.removeprefix("0x"))
    singular = SingularBatch(b"\x11" * 32, 7, b"\x22" * 32, 1234, (b"\x02\xc0", b"\x01\xc0"))
    from opfleet.protocol.batch.reader import decode_channel

    _, [mainnet] = decode_channel(channel)
    data = rlp.encode(encode_batch(singular)) + rlp.encode(encode_batch(mainnet)) \
        + rlp.encode(encode_batch(singular))
    path = tmp_path / "mixed.bin"
    path.write_bytes(compress_zlib(data))
    result = cli(["decode", "channel", "--raw", str(path), "--json"])
    assert result.status == ExitStatus.OK, result.stderr
    assert isinstance(mainnet, RawSpanBatch)
    assert result.stdout == json.dumps(channel_to_json(path.read_bytes())) + "\n"
    assert [b["type"] for b in json.loads(result.stdout)["batches"]] == [0, 1, 0]


def test_calldata_that_is_a_zlib_channel_gets_a_hint(cli):
    result = cli(["decode", "calldata", str(SPAN_CHANNEL)])  # a channel given to the wrong decoder
    one_bad_line(result, "unknown derivation version 0x78", "looks like a zlib stream",
                 "opfleet decode channel")
    plain = cli(["decode", "calldata", "-"], stdin=b"01" + b"00" * 30)  # not zlib: no hint
    one_bad_line(plain, "unknown derivation version 0x01")
    assert "zlib" not in plain.stderr

"""``opfleet decode blob|calldata|channel|batcher-tx``: the operator's microscope for batcher data.

``--json`` output is a stable contract for scripts (documented in README.md); without it a
readable view is printed (coloured on a terminal). Bad input is one line saying what is wrong
and at which byte, with exit code BAD_INPUT.
"""

from __future__ import annotations

import binascii
import io
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import DecodeError, InputError

DEFAULT_MAX_BLOCKS = 100_000
"""``--max-blocks``: far above a real span batch (a few thousand blocks), far below the spec's
10,000,000, which a 49-byte brotli channel of empty blocks can declare."""


def run(ctx: Context) -> ExitStatus:
    from opfleet.protocol.batch.span import SpanBatchTooLong

    data = read_input(ctx)
    what = ctx.command.name
    try:
        result = _DECODERS[what](data, ctx)
    except SpanBatchTooLong as exc:
        raise InputError(
            f"{what}: span batch has {exc.block_count:,} blocks, more than --max-blocks "
            f"{exc.max_blocks:,} (at decompressed byte {exc.offset}); pass --max-blocks 0 to "
            "decode any the spec allows") from None
    except DecodeError as exc:
        raise InputError(f"{what}: {_describe(exc, what)}{_hint(what, data)}") from None
    del data
    if ctx.args.get("json"):
        if isinstance(result, _Channel):
            _write_pieces(ctx, result.iter_json())
        else:
            ctx.out(json.dumps(result))
    else:
        _VIEWS[what](ctx, result)
    return ExitStatus.OK


def _looks_like_zlib(data: bytes) -> bool:
    """An RFC 1950 header: deflate (CM 8) with a window of at most 32 KiB and a valid check."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 \
        and (data[0] << 8 | data[1]) % 31 == 0


def _hint(what: str, data: bytes) -> str:
    """What the bytes look like instead, when that is another ``decode`` subcommand's input."""
    if what == "calldata" and _looks_like_zlib(data):
        return ("; this looks like a zlib stream, i.e. a channel's data: "
                "try 'opfleet decode channel'")
    return ""


def _write_pieces(ctx: Context, pieces: Any) -> None:
    """Write a document given in pieces, about a megabyte per write, then a newline."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= _CHUNK:
            ctx.env.stdout.write("".join(buffer))
            buffer, size = [], 0
    buffer.append("\n")
    ctx.env.stdout.write("".join(buffer))


# --- input --------------------------------------------------------------------------------------

_CHUNK = 1 << 20
_WHITESPACE_BYTES = string.whitespace.encode()
_NOT_HEX = re.compile(rb"[^0-9A-Fa-f" + re.escape(_WHITESPACE_BYTES) + rb"]")

MAX_L1_BLOCK_BYTES = 10 * 1024 * 1024
"""EIP-7934's ``MAX_BLOCK_SIZE``: no L1 transaction, so no batcher calldata, is larger."""


def input_limit(what: str) -> tuple[int, str]:
    """The most bytes one item of ``what`` can be, and why (said in the error when exceeded)."""
    from opfleet.protocol.blob import BLOB_SIZE
    from opfleet.protocol.channel import FJORD_MAX_RLP_BYTES_PER_CHANNEL

    if what == "blob":
        return BLOB_SIZE, f"a blob (exactly {BLOB_SIZE:,} bytes)"
    if what == "channel":
        # Derivation reads at most FJORD_MAX_RLP_BYTES_PER_CHANNEL decompressed bytes; deflate's
        # worst case (every byte a 9-bit literal) needs 9/8 of that, and nothing past it is read.
        return (FJORD_MAX_RLP_BYTES_PER_CHANNEL * 9 // 8,
                f"a channel can be (derivation reads at most {FJORD_MAX_RLP_BYTES_PER_CHANNEL:,} "
                "decompressed bytes of it, Fjord's limit)")
    return MAX_L1_BLOCK_BYTES, (f"an L1 transaction can be (an L1 block holds at most "
                                f"{MAX_L1_BLOCK_BYTES:,} bytes, EIP-7934)")


def read_input(ctx: Context) -> bytes:
    """The item to decode: a file or standard input, raw or hex, read in chunks and never past
    what such an item can be (``/dev/zero`` is refused after the limit, not read forever)."""
    source = ctx.args.get("input") or "-"
    limit, why = input_limit(ctx.command.name)
    if source == "-":
        name = "standard input"
        stream = getattr(ctx.env.stdin, "buffer", None)
        if stream is None:  # a text stream without bytes underneath (tests)
            stream = io.BytesIO(ctx.env.stdin.read().encode())
        return _read_from(stream, name, ctx, limit, why)
    try:
        with open(source, "rb") as stream:
            return _read_from(stream, source, ctx, limit, why)
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None


def _read_from(stream: IO[bytes], name: str, ctx: Context, limit: int, why: str) -> bytes:
    if not ctx.args.get("raw"):
        return parse_hex_stream(stream, name, limit, why)
    parts: list[bytes] = []
    size = 0
    while size <= limit:  # in chunks: read(limit + 1) would allocate the whole limit up front
        part = stream.read(min(_CHUNK, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise InputError(f"{name}: more than {limit:,} bytes, larger than {why}")
    raw = b"".join(parts)
    if not raw:
        raise InputError(f"{name} is empty")
    return raw


def parse_hex_stream(stream: IO[bytes], name: str, limit: int, why: str) -> bytes:
    """Hex text read from ``stream`` in chunks to at most ``limit`` bytes: an optional ``0x``
    before the first digit, whitespace anywhere ignored, errors naming the text offset.

    Memory stays near the decoded size: no per-character objects, one chunk of text at a time.
    """
    out = bytearray()
    offset = 0  # text offset of the chunk being read
    carry = b""  # an odd digit waiting for its pair in the next chunk
    digits = 0
    head = b""  # text before the first two non-space characters, to find a 0x prefix
    prefix_done = False
    text_limit = 3 * limit + 64  # two digits a byte, plus generous whitespace
    while True:
        chunk = stream.read(_CHUNK)
        if not prefix_done:
            head += chunk
            stripped = head.lstrip(_WHITESPACE_BYTES)
            if not stripped and chunk:  # only whitespace so far: count it, keep looking
                offset += len(head)
                head = b""
                if offset > text_limit:
                    raise InputError(f"{name}: more than {text_limit:,} bytes of text, larger than {why}")
                continue
            if len(stripped) < 2 and chunk:
                continue
            prefix_done = True
            if stripped[:2] in (b"0x", b"0X"):
                at = len(head) - len(stripped)
                head = head[:at] + b"  " + head[at + 2:]  # spaces keep later offsets true
            chunk, head = head, b""
        if not chunk:
            break
        if not chunk.isascii():
            bad = next(i for i, byte in enumerate(chunk) if byte >= 0x80)
            raise InputError(f"{name}: not hex text (non-ASCII byte at offset {offset + bad}); "
                             "pass --raw for binary input")
        found = _NOT_HEX.search(chunk)
        if found is not None:
            char = chr(chunk[found.start()])
            raise InputError(f"{name}: invalid hex character {char!r} at offset {offset + found.start()}"
                             + ("; pass --raw for binary input" if not char.isprintable() else ""))
        pairs = carry + chunk.translate(None, _WHITESPACE_BYTES)
        digits += len(pairs) - len(carry)
        if len(pairs) % 2:
            pairs, carry = pairs[:-1], pairs[-1:]
        else:
            carry = b""
        out += binascii.unhexlify(pairs)
        offset += len(chunk)
        if len(out) > limit:
            raise InputError(f"{name}: more than {limit:,} bytes of data, larger than {why}")
        if offset > text_limit:
            raise InputError(f"{name}: more than {text_limit:,} bytes of text, larger than {why}")
    if not digits:
        raise InputError(f"{name} holds no hex data")
    if carry:
        raise InputError(f"{name}: odd number of hex digits ({digits})")
    return bytes(out)


def _describe(exc: DecodeError, what: str) -> str:
    if exc.offset is None:
        return exc.reason
    # Channel errors past decompression point into the decompressed stream, not the input.
    where = "decompressed byte" if what == "channel" and "decompress" not in exc.reason \
        and "compression" not in exc.reason else "byte"
    return f"{exc.reason} (at {where} {exc.offset})"


# --- decoders: bytes -> the documented JSON shape -------------------------------------------------


def _blob(data: bytes, ctx: Context) -> dict[str, Any]:
    from opfleet.protocol.blob import BLOB_SIZE, decode_blob

    if len(data) != BLOB_SIZE:
        raise DecodeError(f"a blob is {BLOB_SIZE} bytes, got {len(data)}")
    return {"data": "0x" + decode_blob(data).hex()}


def _calldata(data: bytes, ctx: Context) -> dict[str, Any]:
    from opfleet.protocol.frame import parse_frames

    return {"frames": [frame.to_json() for frame in parse_frames(data)]}


@dataclass(frozen=True)
class _Channel:
    """A decoded channel, written as JSON in pieces (its span batches may be 10,000,000 blocks)."""

    compression: str
    batches: list[Any]
    chain_id: int

    def iter_json(self) -> Any:
        from opfleet.protocol.batch.reader import iter_channel_json

        return iter_channel_json(self.compression, self.batches, self.chain_id)


def _channel(data: bytes, ctx: Context) -> _Channel:
    from opfleet.protocol.batch.reader import decode_channel

    chain_id = ctx.arg("chain-id", 10)
    max_blocks = ctx.arg("max-blocks", DEFAULT_MAX_BLOCKS)
    compression, batches = decode_channel(data, fjord_active=True, chain_id=chain_id,
                                          max_blocks=max_blocks or None)
    return _Channel(compression, batches, chain_id)


def _batcher_tx(data: bytes, ctx: Context) -> dict[str, Any]:
    from opfleet.protocol.batcher_tx import batcher_tx_to_json

    return batcher_tx_to_json(data)


# Each decoder's result goes to its own view (a channel keeps its batches, not JSON).
_DECODERS: dict[str, Callable[[bytes, Context], Any]] = {
    "blob": _blob, "calldata": _calldata, "channel": _channel, "batcher-tx": _batcher_tx,
}


# --- views for people -----------------------------------------------------------------------------


def _console(ctx: Context) -> Any:
    from opfleet.cli.env import rich_console

    return rich_console(ctx.env.stdout, force_terminal=ctx.env.stdout_isatty,
                        no_color=not ctx.env.stdout_isatty, width=None if ctx.env.stdout_isatty else 120)


def _short_hex(value: str, keep: int = 24) -> str:
    body = value[2:]
    size = len(body) // 2
    if len(body) <= keep * 2:
        return value
    return f"{value[:2 + keep]}… ({size} bytes)"


def _frames_table(frames: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title=f"{len(frames)} frame(s)")
    for column in ("channel id", "frame", "data bytes", "last"):
        table.add_column(column)
    for frame in frames:
        table.add_row(frame["channel_id"], str(frame["frame_number"]),
                      str((len(frame["data"]) - 2) // 2), "yes" if frame["is_last"] else "no")
    return table


def _view_blob(ctx: Context, result: dict[str, Any]) -> None:
    console = _console(ctx)
    size = (len(result["data"]) - 2) // 2
    console.print(f"[bold]OP blob[/bold]: {size} bytes of data")
    console.print(_short_hex(result["data"], 64))


def _view_calldata(ctx: Context, result: dict[str, Any]) -> None:
    _console(ctx).print(_frames_table(result["frames"]))


def _view_batcher_tx(ctx: Context, result: dict[str, Any]) -> None:
    console = _console(ctx)
    console.print(f"[bold]batcher transaction[/bold] {result['hash']}")
    console.print(f"  type {result['type']}   from {result['from']}   to {result['to']}")
    if result["frames"]:
        console.print(_frames_table(result["frames"]))
    else:
        console.print("  no frames in calldata (a blob transaction carries its frames in blobs)")


def _view_channel(ctx: Context, result: _Channel) -> None:
    from rich.table import Table

    from opfleet.protocol.batch.span import RawSpanBatch

    console = _console(ctx)
    batches = result.batches
    total = sum(b.total_tx_count if isinstance(b, RawSpanBatch) else len(b.transactions)
                for b in batches)
    console.print(f"[bold]channel[/bold]: {result.compression}, {len(batches)} batch(es), "
                  f"{total} transaction(s)")
    for index, batch in enumerate(batches):
        table = Table(title=f"batch {index}: " + ("span" if isinstance(batch, RawSpanBatch)
                                                  else "singular"), show_header=False)
        table.add_column("field")
        table.add_column("value")
        rows: dict[str, Any]
        if isinstance(batch, RawSpanBatch):
            rows = {"type": batch.BATCH_TYPE, "rel_timestamp": batch.rel_timestamp,
                    "l1_origin_num": batch.l1_origin_num,
                    "parent_check": "0x" + batch.parent_check.hex(),
                    "l1_origin_check": "0x" + batch.l1_origin_check.hex(),
                    "block_count": batch.block_count, "origin_bits": batch.origin_bits,
                    "block_tx_counts": batch.block_tx_counts}
            count = batch.total_tx_count
        else:
            rows = {k: v for k, v in batch.to_json(result.chain_id).items() if k != "transactions"}
            count = len(batch.transactions)
        for key, value in rows.items():
            if not isinstance(value, (int, str)):  # a column: its length and its start
                value = f"{len(value)} entries: " + " ".join(str(v) for v in value[:32]) + \
                    (" …" if len(value) > 32 else "")
            table.add_row(key, str(value))
        table.add_row("transactions", str(count))
        console.print(table)


_VIEWS: dict[str, Callable[[Context, Any], None]] = {
    "blob": _view_blob, "calldata": _view_calldata, "channel": _view_channel,
    "batcher-tx": _view_batcher_tx,
}

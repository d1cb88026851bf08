"""``opfleet decode blob|calldata|channel|batcher-tx``: the operator's microscope for batcher data.

``--json`` output is a stable contract for scripts (documented in README.md); without it a
readable view is printed (coloured on a terminal). Bad input is one line saying what is wrong
and at which byte, with exit code BAD_INPUT.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any, Callable

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import DecodeError, InputError

_HEX_DIGITS = frozenset(string.hexdigits)
_WHITESPACE = frozenset(string.whitespace)


def run(ctx: Context) -> ExitStatus:
    data = read_input(ctx)
    what = ctx.command.name
    try:
        result = _DECODERS[what](data, ctx)
    except DecodeError as exc:
        raise InputError(f"{what}: {_describe(exc, what)}") from None
    if ctx.args.get("json"):
        ctx.out(json.dumps(result))
    else:
        _VIEWS[what](ctx, result)
    return ExitStatus.OK


# --- input --------------------------------------------------------------------------------------


def read_input(ctx: Context) -> bytes:
    source = ctx.args.get("input") or "-"
    if source == "-":
        raw = ctx.env.stdin_bytes
        name = "standard input"
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror}") from None
        name = source
    if ctx.args.get("raw"):
        if not raw:
            raise InputError(f"{name} is empty")
        return raw
    return parse_hex(raw, name)


def parse_hex(raw: bytes, name: str) -> bytes:
    """Hex text to bytes: optional 0x, whitespace anywhere ignored; errors give the text offset."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not hex text (non-ASCII byte at offset {exc.start}); "
                         "pass --raw for binary input") from None
    start = len(text) - len(text.lstrip())
    if text[start:start + 2] in ("0x", "0X"):
        start += 2
    digits = []
    for offset in range(start, len(text)):
        char = text[offset]
        if char in _HEX_DIGITS:
            digits.append(char)
        elif char not in _WHITESPACE:
            raise InputError(f"{name}: invalid hex character {char!r} at offset {offset}"
                             + ("; pass --raw for binary input" if not char.isprintable() else ""))
    if not digits:
        raise InputError(f"{name} holds no hex data")
    if len(digits) % 2:
        raise InputError(f"{name}: odd number of hex digits ({len(digits)})")
    return bytes.fromhex("".join(digits))


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


def _channel(data: bytes, ctx: Context) -> dict[str, Any]:
    from opfleet.protocol.batch.reader import channel_to_json

    return channel_to_json(data, fjord_active=True, chain_id=ctx.arg("chain-id", 10))


def _batcher_tx(data: bytes, ctx: Context) -> dict[str, Any]:
    from opfleet.protocol.batcher_tx import batcher_tx_to_json

    return batcher_tx_to_json(data)


_DECODERS: dict[str, Callable[[bytes, Context], dict[str, Any]]] = {
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


def _view_channel(ctx: Context, result: dict[str, Any]) -> None:
    from rich.table import Table

    console = _console(ctx)
    batches = result["batches"]
    total = sum(len(b["transactions"]) for b in batches)
    console.print(f"[bold]channel[/bold]: {result['compression']}, {len(batches)} batch(es), "
                  f"{total} transaction(s)")
    for index, batch in enumerate(batches):
        table = Table(title=f"batch {index}: " + ("singular" if batch["type"] == 0 else "span"),
                      show_header=False)
        table.add_column("field")
        table.add_column("value")
        for key, value in batch.items():
            if key == "transactions":
                continue
            if isinstance(value, list):
                value = f"{len(value)} entries: " + " ".join(str(v) for v in value[:32]) + \
                    (" …" if len(value) > 32 else "")
            table.add_row(key, str(value))
        table.add_row("transactions", str(len(batch["transactions"])))
        console.print(table)


_VIEWS: dict[str, Callable[[Context, dict[str, Any]], None]] = {
    "blob": _view_blob, "calldata": _view_calldata, "channel": _view_channel,
    "batcher-tx": _view_batcher_tx,
}

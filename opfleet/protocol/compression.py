"""Channel compression: zlib (from Bedrock) and version-prefixed brotli (from Fjord).

Spec: ``specs/protocol/derivation.md`` ("Channel Format") and
``specs/protocol/fjord/derivation.md`` ("Brotli Channel Compression").

Decompression is streaming and bounded: batcher channels may be zlib streams that stop after
a sync flush (no final block, no adler32), so the end of input is a normal end; and output is
produced in bounded chunks and never kept past the caller's limit
(``MAX_RLP_BYTES_PER_CHANNEL``), so a decompression bomb costs memory proportional to the limit,
not to what it would expand to.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import brotli

from opfleet.errors import DecodeError

# The limits live with the other channel rules; re-exported for this module's callers.
from opfleet.protocol.channel import FJORD_MAX_RLP_BYTES_PER_CHANNEL
from opfleet.protocol.channel import MAX_RLP_BYTES_PER_CHANNEL as MAX_RLP_BYTES_PER_CHANNEL
from opfleet.protocol.channel import max_rlp_bytes_per_channel as max_rlp_bytes_per_channel

MAX_RLP_BYTES_PER_CHANNEL_FJORD = FJORD_MAX_RLP_BYTES_PER_CHANNEL

ZLIB = "zlib"
BROTLI = "brotli"
CHANNEL_VERSION_BROTLI = 0x01
"""First channel byte marking a brotli channel (the brotli stream starts at byte 1)."""

_ZLIB_CM_VALUES = (8, 15)
_INPUT_CHUNK = 1 << 14
_OUTPUT_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class DecompressedChannel:
    """The decompressed prefix of a channel and how decompression ended.

    ``data`` holds at most the requested limit. ``exceeded_limit`` is true when the stream
    would produce more than that. ``error`` is the decompression failure met after ``data``
    (batches wholly inside ``data`` are still valid, as op-node reads the stream lazily).
    ``complete`` is true when the stream had a proper end marker.
    """

    compression: str
    data: bytes
    complete: bool = False
    exceeded_limit: bool = False
    error: DecodeError | None = None


def detect_compression(channel: bytes, *, fjord_active: bool) -> str:
    """Return ``"zlib"`` or ``"brotli"`` from the first channel byte.

    ``b & 0x0F`` of 8 or 15 is a zlib (RFC 1950) header; ``b == 1`` is the brotli version byte,
    allowed only when Fjord is active (op-node rejects the channel otherwise); anything else is
    an unknown compression.

    Spec: specs/protocol/fjord/derivation.md, Brotli Channel Compression.
    """
    if not channel:
        raise DecodeError("empty channel", offset=0)
    first = channel[0]
    if first & 0x0F in _ZLIB_CM_VALUES:
        return ZLIB
    if first == CHANNEL_VERSION_BROTLI:
        if not fjord_active:
            raise DecodeError("brotli channel before Fjord", offset=0)
        return BROTLI
    raise DecodeError(f"unknown channel compression byte {first:#04x}", offset=0)


def decompress_channel(
    channel: bytes, max_bytes: int, *, fjord_active: bool
) -> DecompressedChannel:
    """Decompress a channel, streaming, keeping at most ``max_bytes`` of output.

    Raises :class:`DecodeError` only when the compression cannot be determined (see
    :func:`detect_compression`); failures inside the stream are reported in the result's
    ``error`` so the batches before them can still be read.

    Spec: specs/protocol/derivation.md, Channel Format; specs/protocol/fjord/derivation.md.
    """
    if max_bytes < 0:
        raise ValueError("max_bytes must not be negative")
    compression = detect_compression(channel, fjord_active=fjord_active)
    view = memoryview(channel)
    if compression == ZLIB:
        return _inflate_zlib(view, max_bytes)
    return _inflate_brotli(view[1:], max_bytes)


def _next_chunk(view: memoryview, position: int, careful_from: int | None) -> memoryview:
    # From ``careful_from`` on, input goes in one byte at a time so that the output produced
    # before a corrupt byte is kept, as Go's readers hand out what they decoded before failing.
    if careful_from is None:
        return view[position : position + _INPUT_CHUNK]
    if position >= careful_from:
        return view[position : position + 1]
    return view[position : min(position + _INPUT_CHUNK, careful_from)]


def _inflate_zlib(
    view: memoryview, max_bytes: int, careful_from: int | None = None
) -> DecompressedChannel:
    decompressor = zlib.decompressobj()
    parts: list[bytes] = []
    remaining = max_bytes
    position = chunk_start = 0
    pending: bytes | memoryview = b""
    exceeded = False
    error = None
    while not decompressor.eof:
        if not pending and position < len(view):
            chunk_start = position
            pending = _next_chunk(view, position, careful_from)
            position += len(pending)
        # max_length 0 means "unbounded" to zlib, so at the limit we only probe for one byte.
        want = min(remaining, _OUTPUT_CHUNK) if remaining else 1
        try:
            part = decompressor.decompress(pending, want)
        except zlib.error as exc:
            if careful_from is None:
                return _inflate_zlib(view, max_bytes, careful_from=chunk_start)
            error = DecodeError(f"zlib: {exc}", offset=chunk_start)
            break
        pending = decompressor.unconsumed_tail
        if part:
            if not remaining:
                exceeded = True
                break
            parts.append(part)
            remaining -= len(part)
        elif not pending and position >= len(view):
            break  # input exhausted without an end marker: the batcher's sync-flushed stream
    return DecompressedChannel(ZLIB, b"".join(parts), decompressor.eof, exceeded, error)


def _inflate_brotli(
    view: memoryview, max_bytes: int, careful_from: int | None = None
) -> DecompressedChannel:
    decompressor = brotli.Decompressor()
    parts: list[bytes] = []
    remaining = max_bytes
    position = 0
    exceeded = False
    error = None
    while not decompressor.is_finished():
        chunk: bytes | memoryview = b""
        if decompressor.can_accept_more_data():
            if position >= len(view):
                break  # unterminated stream: end of input ends it
            chunk = _next_chunk(view, position, careful_from)
            position += len(chunk)
        try:
            # The limit only stops the output buffer growing; trim below to be exact.
            part = decompressor.process(chunk, output_buffer_limit=max(remaining, 1))
        except brotli.error as exc:
            if careful_from is None:
                return _inflate_brotli(view, max_bytes, careful_from=position - len(chunk))
            error = DecodeError(f"brotli: {exc}", offset=1 + position - len(chunk))
            break
        if len(part) > remaining:
            parts.append(part[:remaining])
            remaining = 0
            exceeded = True
            break
        parts.append(part)
        remaining -= len(part)
        if not part and not chunk:
            break  # no progress possible; never spin
    # A failed decoder refuses every further call, is_finished() included.
    complete = error is None and decompressor.is_finished()
    return DecompressedChannel(BROTLI, b"".join(parts), complete, exceeded, error)


def compress_zlib(data: bytes, *, level: int = 9, terminated: bool = True) -> bytes:
    """Compress ``data`` as a zlib channel, as op-batcher does (best compression).

    ``terminated=False`` ends with a sync flush instead of a final block and checksum, which
    is what real batcher channels look like; both forms decode.

    Spec: specs/protocol/derivation.md, Channel Format.
    """
    compressor = zlib.compressobj(level)
    body = compressor.compress(data)
    return body + compressor.flush(zlib.Z_FINISH if terminated else zlib.Z_SYNC_FLUSH)


def compress_brotli(data: bytes, *, quality: int = 10) -> bytes:
    """Compress ``data`` as a Fjord brotli channel: version byte ``0x01`` then the stream.

    Spec: specs/protocol/fjord/derivation.md, Brotli Channel Compression.
    """
    return bytes([CHANNEL_VERSION_BROTLI]) + brotli.compress(data, quality=quality)

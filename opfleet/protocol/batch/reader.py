"""Reading batches out of a decompressed channel.

Spec: ``specs/protocol/derivation.md`` ("Channel Format", "Batch Format") and
``specs/protocol/fjord/derivation.md`` (RLP byte limit); op-node ``BatchReader`` /
``ChannelInReader``.

The decompressed channel is a concatenation of RLP byte strings, each ``batch_type ++
content``. op-node reads them through an RLP stream limited to ``MAX_RLP_BYTES_PER_CHANNEL``
bytes: a batch that ends within the limit is accepted, the one crossing it fails, and any
decode error ends the channel (the batches before it stand).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.batch.singular import SINGULAR_BATCH_TYPE, SingularBatch
from opfleet.protocol.batch.span import SPAN_BATCH_TYPE, RawSpanBatch
from opfleet.protocol.compression import (
    DecompressedChannel,
    decompress_channel,
    max_rlp_bytes_per_channel,
)
from opfleet.protocol.rlp_codec import rlp_encode

Batch = SingularBatch | RawSpanBatch


def _string_header(data: bytes, pos: int) -> tuple[int, int]:
    """Bounds ``(payload_start, end)`` of the RLP byte string at ``pos`` (``end`` may lie past
    the data; the caller checks it against the limit first).

    The canonical-form rules are :func:`~opfleet.protocol.rlp_codec.rlp_header`'s, but that one
    refuses an item running past the data, and here the channel limit must be reported first."""
    n = len(data)
    b = data[pos]
    if b < 0x80:
        return pos, pos + 1
    if b < 0xB8:
        end = pos + 1 + b - 0x80
        if b == 0x81 and end <= n and data[pos + 1] < 0x80:
            raise DecodeError("non-canonical RLP: single byte encoded as a string", offset=pos)
        return pos + 1, end
    if b < 0xC0:
        start = pos + 1 + b - 0xB7
        if start > n:
            raise DecodeError("truncated RLP length of batch", offset=pos)
        if data[pos + 1] == 0:
            raise DecodeError("non-canonical RLP length (leading zero)", offset=pos)
        size = int.from_bytes(data[pos + 1 : start], "big")
        if size < 56:
            raise DecodeError("non-canonical RLP: long form for a short string", offset=pos)
        return start, start + size
    raise DecodeError("batch must be an RLP byte string, got a list", offset=pos)


def decode_batch(batch_data: bytes) -> Batch:
    """Decode ``batch_type ++ content`` (the payload of one channel RLP string).

    Unknown batch types and malformed content raise :class:`DecodeError` (offsets relative to
    ``batch_data``); bytes after a complete batch are ignored, as in op-node.

    Spec: specs/protocol/derivation.md, Batch Format; specs/protocol/delta/span-batches.md.
    """
    if not batch_data:
        raise DecodeError("empty batch", offset=0)
    batch_type = batch_data[0]
    try:
        if batch_type == SINGULAR_BATCH_TYPE:
            return SingularBatch.decode(batch_data[1:])
        if batch_type == SPAN_BATCH_TYPE:
            return RawSpanBatch.decode(batch_data[1:])
    except DecodeError as exc:
        raise exc.at(1) from None
    raise DecodeError(f"unknown batch type {batch_type}", offset=0)


def read_batches(
    decompressed: bytes,
    max_rlp_bytes: int,
    *,
    truncation_error: DecodeError | None = None,
    max_blocks: int | None = None,
) -> Iterator[Batch]:
    """Yield the batches of a decompressed channel in order.

    Stops cleanly at the end of the data. Raises :class:`DecodeError` (offset into
    ``decompressed``) at the first batch that is not an RLP byte string, is truncated, would
    take the bytes consumed past ``max_rlp_bytes``, or does not decode; the batches yielded
    before it remain valid (the derivation stage then drops the rest of the channel).
    ``truncation_error`` replaces the error for a batch that runs past the end of the data
    (used when the data ends because decompression failed). ``max_blocks`` refuses a span batch
    of more blocks (:class:`SpanBatchTooLong`) before reading them; derivation leaves it unset.

    Spec: specs/protocol/derivation.md, Channel Format; op-node ``BatchReader``.
    """
    data = bytes(decompressed)
    n = len(data)
    pos = 0
    while pos < n:
        if truncation_error is not None and 0xB8 <= data[pos] < 0xC0 and pos + data[pos] - 0xB6 > n:
            raise truncation_error  # the data ends inside the length of the next batch
        start, end = _string_header(data, pos)
        if end > max_rlp_bytes:
            raise DecodeError(
                f"batch ends at byte {end}, past the channel limit of {max_rlp_bytes}", offset=pos
            )
        if end > n:
            if truncation_error is not None:
                raise truncation_error
            raise DecodeError(f"truncated batch: needs {end - n} more bytes", offset=pos)
        if start < end and data[start] == SPAN_BATCH_TYPE:
            # Decoded in place: span batches are the big ones, so skip copying them.
            batch: Batch = RawSpanBatch.decode_at(data, start + 1, end, max_blocks=max_blocks)[0]
        else:
            try:
                batch = decode_batch(data[start:end])
            except DecodeError as exc:
                raise exc.at(start) from None
        yield batch
        pos = end


def read_channel_batches(
    channel: DecompressedChannel, max_rlp_bytes: int, *, max_blocks: int | None = None
) -> Iterator[Batch]:
    """Yield the batches of a :class:`DecompressedChannel`, ending with its decompression
    error (or the limit error) once the batches before it have been read.

    Spec: specs/protocol/derivation.md, Channel Format; specs/protocol/fjord/derivation.md.
    """
    yield from read_batches(channel.data, max_rlp_bytes, truncation_error=channel.error,
                            max_blocks=max_blocks)
    if channel.error is not None:
        raise channel.error
    if channel.exceeded_limit:
        raise DecodeError(
            f"channel decompresses past the limit of {max_rlp_bytes} bytes",
            offset=len(channel.data),
        )


def decode_channel(
    channel_bytes: bytes, *, fjord_active: bool = True, chain_id: int = 10,
    max_blocks: int | None = None,
) -> tuple[str, list[Batch]]:
    """Decompress a whole channel and decode all of its batches, strictly.

    Returns ``(compression_name, batches)``; any error (unknown compression, brotli before
    Fjord, a broken stream, a bad batch, the size limit) raises :class:`DecodeError`. Span
    batches are checked to rebuild their transactions with ``chain_id``; one of more than
    ``max_blocks`` blocks raises :class:`SpanBatchTooLong`.

    Spec: specs/protocol/derivation.md, Channel Format; specs/protocol/fjord/derivation.md.
    """
    limit = max_rlp_bytes_per_channel(fjord_active)
    decompressed = decompress_channel(channel_bytes, limit, fjord_active=fjord_active)
    batches = list(read_channel_batches(decompressed, limit, max_blocks=max_blocks))
    for batch in batches:
        if isinstance(batch, RawSpanBatch):
            batch.full_transactions(chain_id)
    return decompressed.compression, batches


def channel_to_json(
    channel_bytes: bytes, *, fjord_active: bool = True, chain_id: int = 10
) -> dict[str, Any]:
    """JSON-ready view of :func:`decode_channel` (for ``opfleet decode channel``)."""
    compression, batches = decode_channel(
        channel_bytes, fjord_active=fjord_active, chain_id=chain_id
    )
    return {"compression": compression, "batches": [b.to_json(chain_id) for b in batches]}


def iter_channel_json(compression: str, batches: Iterable[Batch], chain_id: int = 10) -> Iterator[str]:
    """``json.dumps`` of :func:`channel_to_json`'s document, in pieces, so a channel of a
    10,000,000-block span batch is written without building its lists or its text at once."""
    yield '{"compression": ' + json.dumps(compression) + ', "batches": ['
    for index, batch in enumerate(batches):
        if index:
            yield ", "
        if isinstance(batch, RawSpanBatch):
            yield from batch.iter_json(chain_id)
        else:
            yield json.dumps(batch.to_json(chain_id))
    yield "]}"


def encode_batch(batch: Batch) -> bytes:
    """``batch_type ++ content`` of one batch.

    Spec: specs/protocol/derivation.md, Batch Format.
    """
    return bytes([batch.BATCH_TYPE]) + batch.encode()


def encode_channel_batches(batches: Iterable[Batch]) -> bytes:
    """The uncompressed channel: each batch as an RLP byte string, concatenated.

    Spec: specs/protocol/derivation.md, Channel Format.
    """
    return b"".join(rlp_encode(encode_batch(batch)) for batch in batches)

"""A channel out: L2 blocks -> batches -> one compressed channel -> frames -> batcher-transaction data.

The encoding side of what derivation reads (``specs/protocol/derivation.md``, "Batch Submission
Wire Format"; ``specs/protocol/delta/span-batches.md``; ``specs/protocol/fjord/derivation.md``),
op-batcher's ``ChannelOut``: pure (no I/O, no clock), used by the devnet batcher
(:mod:`opfleet.devnet.batcher`) and by derivation tests that build the channels they derive.

- batcher-tx data = ``0x00 ++ frame`` (one frame per transaction or blob);
- frame = ``channel_id(16) ++ frame_number(u16) ++ len(u32) ++ data ++ is_last(1)``, at most
  ``max_frame_size`` bytes including the 23 bytes of framing;
- channel = zlib (RFC 1950, a terminated stream) or ``0x01 ++ brotli`` of RLP byte strings,
  each ``batch_type ++ batch``;
- span batch (type 1): one per channel, covering every block in it, with
  ``origin_bits[0] = 1`` when the first block starts a new epoch (sequence number 0), as
  op-batcher's ``SpanBatch.AppendSingularBatch``; or singular batches (type 0), one per block.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import brotli

from opfleet.protocol.batch.reader import encode_batch
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.batch.span import RawSpanBatch
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.compression import CHANNEL_VERSION_BROTLI, MAX_RLP_BYTES_PER_CHANNEL_FJORD
from opfleet.protocol.frame import CHANNEL_ID_LENGTH, FRAME_V0_OVERHEAD_SIZE, Frame, encode_frames
from opfleet.protocol.rlp_codec import rlp_encode

SPAN = "span"
SINGULAR = "singular"
ZLIB = "zlib"
BROTLI = "brotli"

DEFAULT_MAX_L1_TX_SIZE = 120_000
"""op-batcher's default ``--max-l1-tx-size-bytes`` for calldata transactions."""


def _uvarint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


class ChannelFullError(Exception):
    """The channel takes no more blocks (full, closed, or the block would break a limit)."""


@dataclass(frozen=True, slots=True)
class BatchBlock:
    """The parts of an L2 block that go into a batch."""

    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    l1_origin: BlockID
    sequence_number: int
    transactions: tuple[bytes, ...] = ()
    """The block's non-deposit transactions, EIP-2718 encoded, in order."""

    def singular_batch(self) -> SingularBatch:
        return SingularBatch(self.parent_hash, self.l1_origin.number, self.l1_origin.hash, self.timestamp,
                             self.transactions)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """How channels are built.

    ``max_frame_size`` bounds each encoded frame, framing included (the batcher-tx version byte
    is extra): ``DEFAULT_MAX_L1_TX_SIZE - 1`` for calldata, :data:`MAX_BLOB_FRAME_SIZE` for
    blobs. ``target_channel_size`` is the compressed size at which a channel counts as full
    (the block that crosses it stays in). ``max_rlp_bytes`` caps the uncompressed channel.
    """

    genesis_time: int
    block_time: int
    chain_id: int
    batch_type: str = SPAN
    compression: str = ZLIB
    max_frame_size: int = DEFAULT_MAX_L1_TX_SIZE - 1
    target_channel_size: int = DEFAULT_MAX_L1_TX_SIZE - 1 - FRAME_V0_OVERHEAD_SIZE
    max_rlp_bytes: int = MAX_RLP_BYTES_PER_CHANNEL_FJORD
    zlib_level: int = 9
    brotli_quality: int = 10

    def __post_init__(self) -> None:
        if self.batch_type not in (SPAN, SINGULAR):
            raise ValueError(f"batch_type must be {SPAN!r} or {SINGULAR!r}")
        if self.compression not in (ZLIB, BROTLI):
            raise ValueError(f"compression must be {ZLIB!r} or {BROTLI!r}")
        if self.max_frame_size <= FRAME_V0_OVERHEAD_SIZE:
            raise ValueError(f"max_frame_size must exceed the {FRAME_V0_OVERHEAD_SIZE} bytes of framing")
        if self.target_channel_size <= 0:
            raise ValueError("target_channel_size must be positive")

    @property
    def max_frame_data(self) -> int:
        return self.max_frame_size - FRAME_V0_OVERHEAD_SIZE


def compress(data: bytes, config: ChannelConfig) -> bytes:
    """A whole channel: a zlib stream, or ``0x01 ++ brotli`` (spec: fjord/derivation.md)."""
    if config.compression == ZLIB:
        return zlib.compress(data, config.zlib_level)
    return bytes([CHANNEL_VERSION_BROTLI]) + brotli.compress(data, quality=config.brotli_quality)


class ChannelBuilder:
    """One channel: L2 blocks in, frames out. Pure (no I/O, no clock).

    Singular batches are compressed as they arrive (the stream is sync-flushed after each
    block so its size is exact); a span batch covers the whole channel, so it is re-encoded
    when a block is added and compressed only once it could be near the target size.
    """

    def __init__(self, config: ChannelConfig, *, channel_id: bytes | None = None):
        if channel_id is None:
            channel_id = secrets.token_bytes(CHANNEL_ID_LENGTH)
        if len(channel_id) != CHANNEL_ID_LENGTH:
            raise ValueError(f"channel id must be {CHANNEL_ID_LENGTH} bytes")
        self.config = config
        self.channel_id = bytes(channel_id)
        self.blocks: list[BatchBlock] = []
        self._parts: list[RawSpanBatch] = []
        self._rlp_size = 0
        self._compressed: bytes = b""
        self._closed = False
        self._frames: list[Frame] | None = None
        self._stream: Any = None
        self._stream_out = bytearray()
        if config.batch_type == SINGULAR:
            self._open_stream()

    # --- state ------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def is_full(self) -> bool:
        return self.compressed_size >= self.config.target_channel_size

    @property
    def compressed_size(self) -> int:
        """Bytes of channel data so far (exact for singular batches and once closed)."""
        return len(self._compressed) if self.config.batch_type == SPAN or self._closed else len(self._stream_out)

    @property
    def input_bytes(self) -> int:
        """Uncompressed (RLP) bytes in the channel."""
        return self._rlp_size

    def __len__(self) -> int:
        return len(self.blocks)

    # --- adding blocks ---------------------------------------------------------------------------------

    def add_block(self, block: BatchBlock) -> None:
        """Add the next L2 block; :class:`ChannelFullError` when the channel takes no more."""
        if self._closed:
            raise ChannelFullError("channel is closed")
        if self.is_full:
            raise ChannelFullError("channel is full")
        if self.blocks:
            last = self.blocks[-1]
            if block.parent_hash != last.hash or block.number != last.number + 1:
                raise ValueError(f"block {block.number} does not extend block {last.number}")
        if self.config.batch_type == SINGULAR:
            item = rlp_encode(encode_batch(block.singular_batch()))
            if self._rlp_size + len(item) > self.config.max_rlp_bytes:
                raise ChannelFullError("block would exceed the channel's RLP byte limit")
            self._feed(item)
            self._rlp_size += len(item)
            self.blocks.append(block)
            return
        part = self._span_part(block)
        if self.blocks:
            step = block.l1_origin.number - self.blocks[-1].l1_origin.number
            if step not in (0, 1):
                raise ValueError(f"block {block.number}: L1 origin must stay or advance by one, got step {step}")
            if block.timestamp - self.blocks[-1].timestamp != self.config.block_time:
                raise ValueError(f"block {block.number}: timestamps must be block_time apart")
        size = self._span_size(self.blocks + [block], self._parts + [part])
        if size > self.config.max_rlp_bytes:
            raise ChannelFullError("block would exceed the channel's RLP byte limit")
        self.blocks.append(block)
        self._parts.append(part)
        self._rlp_size = size
        # Compressed output rarely exceeds the input by more than a few bytes: skip the work early on.
        if size + 64 >= self.config.target_channel_size:
            self._compressed = compress(self._span_rlp(), self.config)

    def _span_part(self, block: BatchBlock) -> RawSpanBatch:
        """The block alone as a span batch: its transaction columns, decoded once."""
        return RawSpanBatch.from_singulars([block.singular_batch()], first_sequence_number=block.sequence_number,
                                           genesis_time=self.config.genesis_time, chain_id=self.config.chain_id)

    def _merged_span(self) -> RawSpanBatch:
        """The channel's span batch: the blocks' columns concatenated in block order (the wire layout)."""
        parts, blocks = self._parts, self.blocks
        first, last = parts[0], parts[-1]

        def column(name: str) -> tuple[Any, ...]:
            return tuple(item for part in parts for item in getattr(part, name))

        origin_bits = (first.origin_bits[0],) + tuple(
            b.l1_origin.number - a.l1_origin.number for a, b in zip(blocks, blocks[1:]))
        return RawSpanBatch(
            rel_timestamp=first.rel_timestamp, l1_origin_num=last.l1_origin_num, parent_check=first.parent_check,
            l1_origin_check=last.l1_origin_check, block_count=len(parts), origin_bits=origin_bits,
            block_tx_counts=column("block_tx_counts"), contract_creation_bits=column("contract_creation_bits"),
            y_parity_bits=column("y_parity_bits"), tx_sigs=column("tx_sigs"), tx_tos=column("tx_tos"),
            tx_datas=column("tx_datas"), tx_nonces=column("tx_nonces"), tx_gases=column("tx_gases"),
            protected_bits=column("protected_bits"),
        )

    def _span_rlp(self) -> bytes:
        return rlp_encode(encode_batch(self._merged_span()))

    @staticmethod
    def _span_size(blocks: Sequence[BatchBlock], parts: Sequence[RawSpanBatch]) -> int:
        """Length of ``rlp(0x01 ++ span batch)`` for these blocks, computed without encoding it."""
        txs = sum(len(p.tx_datas) for p in parts)
        creations = sum(sum(p.contract_creation_bits) for p in parts)
        legacy = sum(len(p.protected_bits) for p in parts)
        body = (
            1  # batch type
            + _uvarint_size(parts[0].rel_timestamp) + _uvarint_size(parts[-1].l1_origin_num) + 40
            + _uvarint_size(len(blocks)) + (len(blocks) + 7) // 8
            + sum(_uvarint_size(c) for p in parts for c in p.block_tx_counts)
            + 2 * ((txs + 7) // 8) + 64 * txs + 20 * (txs - creations)
            + sum(len(d) for p in parts for d in p.tx_datas)
            + sum(_uvarint_size(x) for p in parts for x in p.tx_nonces)
            + sum(_uvarint_size(x) for p in parts for x in p.tx_gases)
            + (legacy + 7) // 8
        )
        if body < 56:
            return 1 + body
        return 1 + (body.bit_length() + 7) // 8 + body

    def _open_stream(self) -> None:
        if self.config.compression == ZLIB:
            self._stream = zlib.compressobj(self.config.zlib_level)
        else:
            self._stream = brotli.Compressor(quality=self.config.brotli_quality)
            self._stream_out += bytes([CHANNEL_VERSION_BROTLI])

    def _feed(self, data: bytes) -> None:
        if self.config.compression == ZLIB:
            self._stream_out += self._stream.compress(data) + self._stream.flush(zlib.Z_SYNC_FLUSH)
        else:
            self._stream_out += self._stream.process(data) + self._stream.flush()

    # --- output ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Seal the channel: no more blocks; its data is final."""
        if self._closed:
            return
        if not self.blocks:
            raise ValueError("cannot close an empty channel")
        if self.config.batch_type == SINGULAR:
            if self.config.compression == ZLIB:
                self._stream_out += self._stream.flush(zlib.Z_FINISH)
            else:
                self._stream_out += self._stream.finish()
            self._compressed = bytes(self._stream_out)
        else:
            self._compressed = compress(self._span_rlp(), self.config)
        self._closed = True

    @property
    def data(self) -> bytes:
        """The channel's bytes (what frame data concatenates to); the channel must be closed."""
        if not self._closed:
            raise ValueError("close the channel first")
        return self._compressed

    def frames(self) -> list[Frame]:
        """The channel cut into frames of at most ``max_frame_size`` bytes, the last one ``is_last``."""
        if self._frames is None:
            data = self.data
            step = self.config.max_frame_data
            chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
            if len(chunks) > 0xFFFF:
                raise ValueError("channel needs more than 65535 frames")
            self._frames = [Frame(self.channel_id, i, chunk, i == len(chunks) - 1) for i, chunk in enumerate(chunks)]
        return list(self._frames)

    def tx_datas(self) -> list[bytes]:
        """One batcher-tx data item (``0x00 ++ frame``) per frame: a calldata payload or a blob's content."""
        return [encode_frames([frame]) for frame in self.frames()]

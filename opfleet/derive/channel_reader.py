"""Channel Reader: decompress each channel and decode its batches one at a time.

Limits and compression rules go by the origin's time: brotli only from Fjord, and the
decompressed RLP bytes a channel may hold (10 MB, 100 MB from Fjord). A batch that fails to
decode ends the channel (the batches before it stand); a span batch read while the origin is
before Delta is skipped.

Spec: ``specs/protocol/derivation.md`` ("Channel Format", "Batch Format"),
``specs/protocol/fjord/derivation.md`` (brotli, RLP limit), ``delta/span-batches.md``; op-node
``channel_in_reader.go``; kona ``stages/channel/channel_reader.rs``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from opfleet.derive.errors import NotEnoughData
from opfleet.derive.interfaces import (
    Batch,
    ChannelProvider,
    FlushChannel,
    Reset,
    Signal,
    SpanBatch,
    Stage,
)
from opfleet.errors import DecodeError
from opfleet.protocol.batch.reader import Batch as RawBatch
from opfleet.protocol.batch.reader import read_channel_batches
from opfleet.protocol.batch.span import RawSpanBatch
from opfleet.protocol.compression import decompress_channel
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


class ChannelReader(Stage[ChannelProvider]):
    """Hands out the batches of one channel after another.

    ``dropped`` counts ``"bad_compression"`` (whole channels), ``"channel_rest"`` (a decode
    error ended a channel), ``"flushed"`` (Holocene flush ended a channel) and
    ``"span_before_delta"`` (batches).
    """

    name = "channel reader"

    def __init__(self, prev: ChannelProvider, rollup_config: RollupConfig):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self._batches: Iterator[RawBatch] | None = None
        self.batches_read = 0
        self.dropped: Counter[str] = Counter()

    async def next_batch(self) -> Batch:
        """The next batch of the current channel; :class:`NotEnoughData` between channels.

        Spec: specs/protocol/derivation.md, Channel Format; op-node ``ChannelInReader.NextBatch``.
        """
        cfg = self.rollup_config
        if self._batches is None:
            channel = await self.prev.next_channel()
            origin = self.current_origin()
            limit = cfg.max_rlp_bytes_per_channel(origin.timestamp)
            try:
                decompressed = decompress_channel(
                    channel, limit, fjord_active=cfg.is_fjord(origin.timestamp)
                )
            except DecodeError as exc:
                self.dropped["bad_compression"] += 1
                log.warning("dropping channel: %s", exc)
                raise NotEnoughData("channel reader: channel dropped") from None
            self._batches = read_channel_batches(decompressed, limit)
        try:
            raw = next(self._batches)
        except StopIteration:
            self._batches = None
            raise NotEnoughData("channel reader: channel done") from None
        except DecodeError as exc:
            self._batches = None
            self.dropped["channel_rest"] += 1
            log.warning("dropping the rest of a channel after a bad batch: %s", exc)
            raise NotEnoughData("channel reader: channel ended by a bad batch") from None
        if not isinstance(raw, RawSpanBatch):
            self.batches_read += 1
            return raw
        origin = self.current_origin()
        if not cfg.is_delta(origin.timestamp):
            self.dropped["span_before_delta"] += 1
            log.warning("skipping a span batch read at L1 block %d, before Delta", origin.number)
            raise NotEnoughData("channel reader: span batch before Delta")
        try:
            span = SpanBatch.from_raw(raw, cfg)
        except DecodeError as exc:
            self._batches = None
            self.dropped["channel_rest"] += 1
            log.warning("dropping the rest of a channel after a bad span batch: %s", exc)
            raise NotEnoughData("channel reader: channel ended by a bad span batch") from None
        self.batches_read += 1
        return span

    async def skip_batch(self) -> None:
        await self.next_batch()

    def flush(self) -> None:
        """Drop the rest of the channel being read."""
        if self._batches is not None:
            self.dropped["flushed"] += 1
        self._batches = None

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self._batches = None
        elif isinstance(signal, FlushChannel):
            self.flush()

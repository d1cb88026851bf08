"""L1 Retrieval: the batcher data items of the current L1 origin, one at a time.

Spec: ``specs/protocol/derivation.md`` ("L1 Retrieval"); op-node ``l1_retrieval.go``; kona
``stages/l1_retrieval.rs``.
"""

from __future__ import annotations

from collections import deque

from opfleet.derive.errors import EndOfData
from opfleet.derive.interfaces import (
    DataAvailabilityProvider,
    L1BlockProvider,
    Reset,
    Signal,
    Stage,
)
from opfleet.protocol.block_ref import L1BlockRef


class L1Retrieval(Stage[L1BlockProvider]):
    """Pulls the next L1 block from traversal and hands out its data items in order.

    The block is fetched from the data source once; a failed fetch (temporary) keeps the
    block, so the next call retries it instead of skipping it. :class:`EndOfData` once every
    item of the origin has been handed out.
    """

    name = "L1 retrieval"

    def __init__(self, prev: L1BlockProvider, source: DataAvailabilityProvider):
        super().__init__(prev)
        self.source = source
        self._pending: L1BlockRef | None = None
        self._items: deque[bytes] | None = None
        self.items_read = 0

    async def next_data(self) -> bytes:
        """The next data item of the current L1 origin (Spec: derivation.md, L1 Retrieval)."""
        if self._items is None:
            if self._pending is None:
                self._pending = await self.prev.next_l1_block()
            batcher = self.prev.system_config.batcher_address
            self._items = deque(await self.source.data_for_block(self._pending, batcher))
            self._pending = None
        if not self._items:
            self._items = None
            raise EndOfData("L1 retrieval: no more data in this L1 block")
        self.items_read += 1
        return self._items.popleft()

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self._pending = None
            self._items = None

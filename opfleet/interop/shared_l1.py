"""One L1 provider for a whole interop set: concurrent identical reads share one request.

:class:`~opfleet.providers.l1.L1Provider` caches blocks and receipts, but two chains deriving at
the same moment both miss the cache for the block neither has read yet and both fetch it. Here
the second caller waits for the first one's answer instead (and gets its error, if it fails),
so an L1 block is fetched once for the set (issue 6 item 1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import trio

from opfleet.providers.l1 import L1Provider


class _InFlight:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SharedL1Provider(L1Provider):
    """An :class:`L1Provider` whose block and receipt reads are coalesced while in flight."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._in_flight: dict[Hashable, _InFlight] = {}
        self.coalesced = 0
        """Reads answered by another caller's request."""

    async def _shared(self, key: Hashable, fetch: Callable[[], Awaitable[Any]]) -> Any:
        pending = self._in_flight.get(key)
        if pending is not None:
            self.coalesced += 1
            await pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        pending = self._in_flight[key] = _InFlight()
        try:
            pending.value = await fetch()
            return pending.value
        except Exception as exc:
            pending.error = exc
            raise
        finally:
            del self._in_flight[key]
            pending.done.set()

    async def block_ref(self, block: Any) -> Any:
        if isinstance(block, str):  # labels move: never share "latest" across time
            return await super().block_ref(block)
        return await self._shared(("ref", _key(block)), lambda: super(SharedL1Provider, self).block_ref(block))

    async def block_with_receipts(self, block: Any) -> Any:
        return await self._shared(("receipts", _key(block)),
                                  lambda: super(SharedL1Provider, self).block_with_receipts(block))


def _key(block: Any) -> Hashable:
    return bytes(block) if isinstance(block, (bytes, bytearray, memoryview)) else block

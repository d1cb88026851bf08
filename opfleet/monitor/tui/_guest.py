"""Run the trio fleet monitor inside Textual's asyncio loop (trio "guest mode").

Textual runs on asyncio; the monitor engine (:mod:`opfleet.monitor.engine`) is trio. Rather than
write the polling twice, the engine runs as a trio *guest* of the asyncio *host* loop
(``trio.lowlevel.start_guest_run``, trio's ``reference-lowlevel`` "Using guest mode to run Trio
on top of other event loops"): trio schedules its I/O waits on a thread of its own, but every
trio task step runs on the asyncio loop's thread, so the engine's ``on_snapshot`` callback may
post a Textual message directly. Calls into trio from the host go through the run's
``TrioToken`` (thread-safe), which is what :meth:`FleetMonitor.pause`/``set_interval`` do too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from outcome import Outcome

__all__ = ["TrioGuest"]


class TrioGuest:
    """One trio function hosted on the running asyncio loop, cancellable from the host.

    ``start(fn, *args)`` begins the run; ``await stop()`` cancels it and waits until trio has
    finished (a guest run must end before its host loop closes). ``outcome`` is the run's
    :class:`outcome.Outcome` once done: ``Value(None)`` after a normal end or a cancel, or
    ``Error(exc)`` when ``fn`` raised.
    """

    def __init__(self) -> None:
        self._done: asyncio.Future[Outcome] | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._stop_requested = False
        self._on_done: Callable[[Outcome], Any] | None = None

    @property
    def running(self) -> bool:
        return self._done is not None and not self._done.done()

    @property
    def outcome(self) -> Outcome | None:
        return self._done.result() if self._done is not None and self._done.done() else None

    def start(self, fn: Callable[..., Awaitable[Any]], *args: Any,
              on_done: Callable[[Outcome], Any] | None = None) -> None:
        """Start ``await fn(*args)`` as a trio guest of the running asyncio loop.

        ``on_done(outcome)`` is called on the asyncio loop when the run ends by itself (not when
        :meth:`stop` ended it): the host learns that the engine crashed.
        """
        if self._done is not None:
            raise RuntimeError("this guest run was already started")
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._on_done = on_done

        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._scope = scope
                if self._stop_requested:
                    scope.cancel()
                await fn(*args)

        def done(result: Outcome) -> None:
            assert self._done is not None
            if not self._done.done():
                self._done.set_result(result)
            if self._on_done is not None and not self._stop_requested:
                self._on_done(result)

        trio.lowlevel.start_guest_run(
            main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done,
            # The host's signal handlers (SIGTERM -> leave) need asyncio's wakeup fd; trio must not
            # take it over, and needs none itself (the monitor does not watch signals).
            host_uses_signal_set_wakeup_fd=True,
        )

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` inside the trio run as soon as possible (from the host or any thread)."""
        if self._token is not None and self.running:
            self._token.run_sync_soon(fn)

    async def stop(self, timeout: float = 5.0) -> Outcome | None:
        """Cancel the run and wait (at most ``timeout`` seconds) for trio to finish."""
        if self._done is None:
            return None
        self._stop_requested = True
        if not self._done.done() and self._token is not None and self._scope is not None:
            try:
                self._token.run_sync_soon(self._scope.cancel)
            except trio.RunFinishedError:
                pass
        try:
            return await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError:
            return None

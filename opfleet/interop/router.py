"""``/<chainID>`` routing for a supernode, as op-supernode's RPC router does it.

op-supernode ``op-supernode/supernode/resources/rpc_router.go``:

- the first non-empty path segment is the chain key (a decimal chain ID); the rest of the path,
  always starting with ``/`` (``/`` when there is none), is what the chain's handler sees, query
  string kept: ``/10``, ``/10/`` and ``/10/ws`` all reach chain 10;
- no segment at all: the root handler (``supernode_*``, ``superroot_*``, ``heartbeat_*``);
- an unknown chain key: HTTP 404;
- a known chain that is not ready: the request waits (polling every 25 ms) up to the gate
  timeout, then HTTP 503 saying why; a chain removed while a request waits: 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio

from opfleet.config import defaults
from opfleet.rpc.server import HttpHandler, HttpRequest, HttpResponse

GATE_POLL_INTERVAL = 0.025


@dataclass(frozen=True, slots=True)
class ChainRoute:
    handler: HttpHandler
    not_ready: Callable[[], str | None]
    """None when the chain can serve, else why not (shown in the 503 body)."""


def split_chain_path(path: str) -> tuple[str | None, str]:
    """``(chain key, rest)``: the first non-empty segment and the remainder starting with ``/``."""
    stripped = path.lstrip("/")
    if not stripped:
        return None, "/"
    key, _, rest = stripped.partition("/")
    return key, "/" + rest


class ChainRouter:
    """An HTTP handler dispatching ``/<chainID>/...`` to per-chain handlers (see module docstring)."""

    def __init__(self, root: HttpHandler, *, gate_timeout: float = defaults.INTEROP_GATE_TIMEOUT,
                 poll_interval: float = GATE_POLL_INTERVAL):
        self.root = root
        self.gate_timeout = gate_timeout
        self.poll_interval = poll_interval
        self._chains: dict[str, ChainRoute] = {}

    def add_chain(self, chain_id: int, handler: HttpHandler, not_ready: Callable[[], str | None]) -> None:
        """Serve ``/<chain_id>`` (replaces a previous handler: a restarted chain)."""
        self._chains[str(chain_id)] = ChainRoute(handler, not_ready)

    def remove_chain(self, chain_id: int) -> None:
        self._chains.pop(str(chain_id), None)

    @property
    def chain_ids(self) -> tuple[int, ...]:
        return tuple(sorted(int(key) for key in self._chains))

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        key, rest = split_chain_path(request.path)
        if key is None:
            return await self.root(request)
        route = self._chains.get(key)
        if route is None:
            return HttpResponse.text("404 page not found\n", 404)
        why = route.not_ready()
        if why is not None:
            with trio.move_on_after(self.gate_timeout):
                while why is not None:
                    await trio.sleep(self.poll_interval)
                    current = self._chains.get(key)
                    if current is None:
                        return HttpResponse.text("404 page not found\n", 404)
                    route = current
                    why = route.not_ready()
            if why is not None:
                return HttpResponse.text(f"chain RPC not ready: chain {key}: {why}\n", 503)
        return await route.handler(request.with_path(rest))

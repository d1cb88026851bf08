"""Loopback fake op-node backends for the proxy tests: real HTTP servers on 127.0.0.1 whose
``optimism_syncStatus`` / ``optimism_outputAtBlock`` / ``opp2p_peerStats`` answers a test moves
by hand (advance, lie, restart low, go down, time out)."""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from typing import Any

import trio

from opfleet.config.proxyd import parse_config
from opfleet.rpc.server import HttpResponse, HttpServer, JsonRpcServer, RpcError

T0 = 1_700_000_000


class Clock:
    """A wall clock a test moves by hand (unix seconds)."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def block_hash(label: str, number: int) -> str:
    return "0x" + hashlib.sha256(f"{label}:{number}".encode()).hexdigest()


def ref(label: str, number: int, timestamp: int = 0) -> dict[str, Any]:
    """An L1 block ref (``label`` "l1") or an L2 one (with op-node's ``l1origin`` and ``sequenceNumber``)."""
    out: dict[str, Any] = {"hash": block_hash(label, number), "number": number,
                           "parentHash": block_hash(label, number - 1), "timestamp": timestamp}
    if label != "l1":
        out["l1origin"] = {"hash": block_hash("l1", number // 6), "number": number // 6}
        out["sequenceNumber"] = number % 6
    return out


class FakeBackend:
    """One op-node-like backend. ``chain`` labels its block hashes; ``liar`` changes its output roots."""

    def __init__(self, name: str, clock: Clock, *, unsafe: int = 110, safe: int = 100, finalized: int = 90,
                 current_l1: int = 50, peers: int = 5):
        self.name = name
        self.clock = clock
        self.unsafe, self.safe, self.local_safe, self.finalized = unsafe, safe, safe, finalized
        self.current_l1, self.head_l1 = current_l1, current_l1 + 2
        self.head_l1_time: float | None = None
        self.peers = peers
        self.chain = "canonical"
        self.liar = False
        self.down = False
        self.output_delay = 0.0
        self.zero = False
        self.garbage: Any = None  # when set, optimism_syncStatus answers exactly this
        self.calls: list[str] = []
        self.url = ""

    def advance(self, blocks: int = 1, l1: int = 1) -> None:
        self.unsafe += blocks
        self.safe += blocks
        self.local_safe += blocks
        self.finalized += blocks
        self.current_l1 += l1
        self.head_l1 += l1

    def restart_low(self, by: int = 20, l1: int = 10) -> None:
        """A backend restarted from an older snapshot: every head (and its L1 position) lower."""
        self.unsafe -= by
        self.safe -= by
        self.local_safe -= by
        self.finalized -= by
        self.current_l1 -= l1
        self.head_l1 = self.current_l1 + 2

    def status(self) -> dict[str, Any]:
        if self.zero:
            zero = {"hash": "0x" + "00" * 32, "number": 0, "parentHash": "0x" + "00" * 32, "timestamp": 0}
            return {k: dict(zero) for k in ("current_l1", "current_l1_finalized", "head_l1", "safe_l1", "finalized_l1",
                                            "unsafe_l2", "safe_l2", "finalized_l2", "pending_safe_l2",
                                            "cross_unsafe_l2", "local_safe_l2")}
        l1_time = int(self.head_l1_time if self.head_l1_time is not None else self.clock())
        return {
            "current_l1": ref("l1", self.current_l1, l1_time - 12 * (self.head_l1 - self.current_l1)),
            "current_l1_finalized": ref("l1", self.current_l1 - 5, l1_time - 60),
            "head_l1": ref("l1", self.head_l1, l1_time),
            "safe_l1": ref("l1", self.head_l1 - 3, l1_time - 36),
            "finalized_l1": ref("l1", self.head_l1 - 5, l1_time - 60),
            "unsafe_l2": ref(self.chain, self.unsafe),
            "safe_l2": ref(self.chain, self.safe),
            "finalized_l2": ref(self.chain, self.finalized),
            "pending_safe_l2": ref(self.chain, self.safe),
            "cross_unsafe_l2": ref(self.chain, self.unsafe),
            "local_safe_l2": ref(self.chain, self.local_safe),
            "backend": self.name,  # lets a test see whose body was served
        }

    def methods(self) -> dict[str, Any]:
        async def optimism_syncStatus() -> Any:
            self._enter("optimism_syncStatus")
            return self.garbage if self.garbage is not None else self.status()

        async def optimism_outputAtBlock(number: str) -> dict[str, Any]:
            self._enter("optimism_outputAtBlock")
            if self.output_delay:
                await trio.sleep(self.output_delay)
            n = int(number, 16)
            root = block_hash(("liar-" + self.name) if self.liar else "output", n)
            return {"version": "0x" + "00" * 32, "outputRoot": root, "blockRef": ref(self.chain, n),
                    "withdrawalStorageRoot": "0x" + "11" * 32, "stateRoot": "0x" + "22" * 32,
                    "syncStatus": self.status()}

        async def opp2p_peerStats() -> dict[str, Any]:
            self._enter("opp2p_peerStats")
            return {"connected": self.peers, "table": 0, "blocksTopic": 0, "blocksTopicV2": 0, "blocksTopicV3": 0,
                    "banned": 0, "known": 0}

        async def optimism_version() -> str:
            self._enter("optimism_version")
            return f"v1.0.0-{self.name}"

        async def optimism_rollupConfig() -> dict[str, Any]:
            self._enter("optimism_rollupConfig")
            raise RpcError(-32000, "rollup config not available")

        return {"optimism_syncStatus": optimism_syncStatus, "optimism_outputAtBlock": optimism_outputAtBlock,
                "opp2p_peerStats": opp2p_peerStats, "optimism_version": optimism_version,
                "optimism_rollupConfig": optimism_rollupConfig}

    def _enter(self, method: str) -> None:
        self.calls.append(method)


@asynccontextmanager
async def serve_backends(*backends: FakeBackend):
    """Serve each fake on 127.0.0.1 (port 0); a ``down`` backend answers HTTP 503."""
    async with trio.open_nursery() as nursery:
        for backend in backends:
            server = JsonRpcServer(backend.methods(), name=f"fake-{backend.name}")

            async def handler(request, server=server, backend=backend):
                if backend.down:
                    return HttpResponse.text("backend down\n", 503)
                return await server(request)

            http = HttpServer(handler, name=f"fake-{backend.name}")
            port = await nursery.start(http.serve, "127.0.0.1", 0)
            backend.url = f"http://127.0.0.1:{port}"
        yield backends
        nursery.cancel_scope.cancel()


def cl_config(backends, *, min_peer_count: int = 3, skip_peer_count: bool = False, mappings=None,
              **group: Any):
    """A proxyd CL configuration over the fakes, parsed exactly as a file would be."""
    document = {
        "server": {"rpc_host": "127.0.0.1", "rpc_port": 0},
        "backend": {"response_timeout_seconds": 2},
        "backends": {b.name: {"rpc_url": b.url, "consensus_skip_peer_count": skip_peer_count} for b in backends},
        "backend_groups": {"node": {"backends": [b.name for b in backends],
                                    "routing_strategy": "consensus_aware_consensus_layer",
                                    "consensus_min_peer_count": min_peer_count, **group}},
        "rpc_method_mappings": mappings if mappings is not None else {
            "optimism_syncStatus": "node", "optimism_outputAtBlock": "node", "optimism_version": "node",
            "optimism_rollupConfig": "node"},
    }
    return parse_config(document, {})

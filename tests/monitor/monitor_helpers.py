"""Loopback fake nodes for the monitor tests: scripted ``optimism_syncStatus`` over real HTTP.

A :class:`FakeNode` serves op-node's read API (``optimism_syncStatus``, ``optimism_rollupConfig``,
``optimism_outputAtBlock``) and ``/metrics`` from a chain of deterministic blocks; a test moves
its heads, forks it, slows it down or makes it answer garbage. :class:`FakeSupernode` serves
``supernode_syncStatus`` at its root and each chain's node under ``/<chainID>``.
:class:`ThreadedFleet` runs fakes in a background trio thread for the synchronous CLI tests.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import trio

from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus
from opfleet.rpc.server import HttpResponse, JsonRpcServer, RpcError

GENESIS_TIME = 1_700_000_000
BLOCK_TIME = 2


def block_hash(number: int, fork: int = 0, layer: str = "l2") -> bytes:
    """A deterministic hash for block ``number`` of branch ``fork`` (0 = canonical)."""
    return hashlib.sha256(f"{layer}:{fork}:{number}".encode()).digest()


def l2_ref(number: int, fork: int = 0, fork_from: int = 0) -> L2BlockRef:
    """Block ``number``; blocks at or above ``fork_from`` belong to branch ``fork``."""
    branch = fork if number >= fork_from else 0
    parent_branch = fork if number - 1 >= fork_from else 0
    return L2BlockRef(
        hash=block_hash(number, branch),
        number=number,
        parent_hash=block_hash(number - 1, parent_branch) if number else bytes(32),
        timestamp=GENESIS_TIME + number * BLOCK_TIME,
        l1_origin=BlockID(block_hash(number // 6, 0, "l1"), number // 6),
        sequence_number=number % 6,
    )


def l1_ref(number: int, timestamp: int | None = None) -> L1BlockRef:
    return L1BlockRef(block_hash(number, 0, "l1"), number, block_hash(number - 1, 0, "l1"),
                      GENESIS_TIME + number * 12 if timestamp is None else timestamp)


class FakeNode:
    """A scripted op-node: heads by number on branch ``fork`` (diverging at ``fork_from``)."""

    def __init__(self, unsafe: int = 100, safe: int | None = None, finalized: int | None = None, *,
                 chain_id: int = 10, fork: int = 0, fork_from: int = 0, l1_head: int | None = None,
                 current_l1: int | None = None, local_safe: int | None = None,
                 pending_safe: int | None = None, genesis: str | None = None):
        self.unsafe = unsafe
        self.safe = unsafe - 10 if safe is None else safe
        self.finalized = max(0, self.safe - 20) if finalized is None else finalized
        self.chain_id = chain_id
        self.fork = fork
        self.fork_from = fork_from
        self.l1_head = l1_head
        self.current_l1 = current_l1  # None: right after the safe head's L1 origin
        self.local_safe = local_safe  # None: the safe head (no interop)
        self.pending_safe = pending_safe  # None: the local-safe head (a deriving node)
        self.genesis = genesis  # the L2 genesis hash optimism_rollupConfig names (None: none)
        self.health: tuple[int, Any] | None = None  # when set, GET /healthz answers (status, JSON)
        self.delay = 0.0
        self.garbage: Any = None  # when set, optimism_syncStatus answers this
        self.follow_results: dict[str, float] | None = None
        self.calls: list[str] = []
        self.server = JsonRpcServer({
            "optimism_syncStatus": self._sync_status,
            "optimism_rollupConfig": self._rollup_config,
            "optimism_outputAtBlock": self._output_at_block,
        }, extra_routes={"/metrics": self._metrics, "/healthz": self._healthz})

    def ref(self, number: int) -> L2BlockRef:
        return l2_ref(max(0, number), self.fork, self.fork_from)

    def status(self) -> SyncStatus:
        safe = self.ref(self.safe)
        local_safe = safe if self.local_safe is None else self.ref(self.local_safe)
        pending = local_safe if self.pending_safe is None else self.ref(self.pending_safe)
        l1_head = self.l1_head if self.l1_head is not None else self.unsafe // 6 + 2
        current = self.safe // 6 + 1 if self.current_l1 is None else self.current_l1
        return SyncStatus(
            current_l1=l1_ref(current), head_l1=l1_ref(l1_head), safe_l1=l1_ref(l1_head - 1),
            finalized_l1=l1_ref(self.finalized // 6), unsafe_l2=self.ref(self.unsafe),
            safe_l2=safe, finalized_l2=self.ref(self.finalized), pending_safe_l2=pending,
            cross_unsafe_l2=self.ref(self.unsafe), local_safe_l2=local_safe,
        )

    def advance(self, blocks: int = 1, *, safe: bool = True) -> None:
        self.unsafe += blocks
        if safe:
            self.safe += blocks
            self.finalized += blocks

    async def _sync_status(self) -> Any:
        self.calls.append("optimism_syncStatus")
        if self.delay:
            await trio.sleep(self.delay)
        if self.garbage is not None:
            return self.garbage
        return self.status().to_json()

    async def _rollup_config(self) -> Any:
        self.calls.append("optimism_rollupConfig")
        config: dict[str, Any] = {"l2_chain_id": self.chain_id, "block_time": BLOCK_TIME}
        if self.genesis is not None:
            config["genesis"] = {"l2": {"hash": self.genesis, "number": 0}}
        return config

    async def _healthz(self, request: Any) -> HttpResponse:
        self.calls.append("/healthz")
        if self.health is None:
            return HttpResponse.json({"version": "v0.0.0-fake"})
        code, body = self.health
        return HttpResponse.json(body, code)

    async def _output_at_block(self, number: Any) -> Any:
        self.calls.append("optimism_outputAtBlock")
        n = int(number, 16)
        if n > self.unsafe:
            raise RpcError(-32000, f"block {n}: not found")
        ref = self.ref(n)
        root = hashlib.sha256(b"output" + ref.hash).hexdigest()
        return {"version": "0x" + "00" * 32, "outputRoot": "0x" + root, "blockRef": ref.to_json(),
                "withdrawalStorageRoot": "0x" + "11" * 32, "stateRoot": "0x" + "22" * 32,
                "syncStatus": self.status().to_json()}

    async def _metrics(self, request: Any) -> HttpResponse:
        lines = ["# TYPE op_node_follow_source_requests_total counter"]
        for result, value in (self.follow_results or {}).items():
            lines.append(f'op_node_follow_source_requests_total{{result="{result}"}} {value}')
        return HttpResponse.text("\n".join(lines) + "\n")


class FakeSupernode:
    """``supernode_syncStatus`` at the root, each chain's :class:`FakeNode` under ``/<chainID>``."""

    def __init__(self, chains: dict[int, FakeNode]):
        self.chains = chains
        self.server = JsonRpcServer({"supernode_syncStatus": self._status},
                                    mounts={f"/{cid}": node.server for cid, node in chains.items()})

    async def _status(self) -> Any:
        ids = sorted(self.chains)
        return {"chains": {str(cid): self.chains[cid].status().to_json() for cid in ids},
                "chain_ids": [str(cid) for cid in ids],
                "current_l1": {"hash": "0x" + "00" * 32, "number": 0},
                "safe_timestamp": 0, "local_safe_timestamp": 0, "finalized_timestamp": 0}


async def serve(nursery: trio.Nursery, server: JsonRpcServer) -> str:
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    return f"http://127.0.0.1:{port}"


def dead_url() -> str:
    """A loopback URL nobody listens on (the port was bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class ThreadedFleet:
    """Serve fakes from a background trio thread (for tests that call the synchronous CLI).

    ``with ThreadedFleet({"a": FakeNode(), ...}) as urls:`` -> {"a": "http://127.0.0.1:port"}.
    Mutating a fake while it serves is fine: the CLI call and the fake never run at once.
    """

    def __init__(self, servers: dict[str, FakeNode | FakeSupernode]):
        self.servers = servers
        self.urls: dict[str, str] = {}
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._error: BaseException | None = None

    def _main(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                self._cancel = nursery.cancel_scope.cancel
                for name, fake in self.servers.items():
                    self.urls[name] = await serve(nursery, fake.server)
                self._ready.set()

        try:
            trio.run(main)
        except BaseException as exc:  # surfaced by __enter__
            self._error = exc
            self._ready.set()

    def __enter__(self) -> dict[str, str]:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self.urls

    def __exit__(self, *exc: object) -> None:
        if self._token is not None and self._cancel is not None:
            self._token.run_sync_soon(self._cancel)
        self._thread.join(10)

"""Loopback fakes for the light-node tests: scriptable follow sources, an execution client that
records every forkchoice update, a switch that takes any endpoint down, and L2 chains of refs
whose L1 origins are real blocks of an in-memory L1."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "devnet"))
from devnet_helpers import make_rollup_config  # noqa: E402

from opfleet.devnet.engine import DevEngine, ForkTimes  # noqa: E402
from opfleet.devnet.l1 import L1Chain, L1Server  # noqa: E402
from opfleet.node.light import LightConfig  # noqa: E402
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef  # noqa: E402
from opfleet.protocol.crypto import keccak256  # noqa: E402
from opfleet.protocol.hexjson import hex_data, hex_quantity  # noqa: E402
from opfleet.protocol.l1_block_info import L1BlockInfo, encode_l1_block_info  # noqa: E402
from opfleet.protocol.rollup_config import RollupConfig  # noqa: E402
from opfleet.protocol.sync_status import SyncStatus  # noqa: E402
from opfleet.rpc.optimism import rollup_config_json, wait_sync_status_method  # noqa: E402
from opfleet.rpc.server import HttpRequest, HttpResponse, HttpServer, JsonRpcServer, RpcError  # noqa: E402

JWT = bytes(range(32))
H = hex_data


class Switch:
    """An HTTP handler in front of another that can be taken down (HTTP 503) or slowed down."""

    def __init__(self, handler: Any):
        self.handler = handler
        self.down = False
        self.delay = 0.0
        self.requests = 0

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests += 1
        if self.delay:
            await trio.sleep(self.delay)
        if self.down:
            return HttpResponse.text("down for the test\n", 503)
        return await self.handler(request)


async def serve(nursery: trio.Nursery, handler: Any) -> str:
    port = await nursery.start(HttpServer(handler, name="test").serve, "127.0.0.1", 0)
    return f"http://127.0.0.1:{port}"


def dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class Chains:
    """L2 refs on an in-memory L1: ``chain("a", 10)`` is blocks a1..a10 on genesis, each with a real
    L1 origin; ``fork("b", base, n)`` branches off ``base``. ``names`` maps hashes to "a7" etc."""

    def __init__(self, rollup: RollupConfig, l1: L1Chain):
        self.rollup, self.l1 = rollup, l1
        g = rollup.genesis
        self.genesis = L2BlockRef(g.l2.hash, 0, bytes(32), g.l2_time, g.l1, 0)
        self.names: dict[bytes, str] = {self.genesis.hash: "g"}
        self.by_name: dict[str, L2BlockRef] = {"g": self.genesis}

    def _origin(self, number: int) -> tuple[Any, int]:
        origin = self.l1.by_number(min(number // 6, self.l1.head.number))
        return origin, number - 6 * origin.number

    def extend(self, tag: str, base: L2BlockRef, count: int) -> list[L2BlockRef]:
        refs, parent = [], base
        for _ in range(count):
            n = parent.number + 1
            origin, seq = self._origin(n)
            ref = L2BlockRef(keccak256(f"{tag}{n}".encode()), n, parent.hash, self.genesis.timestamp + 2 * n,
                             origin.ref.id, seq)
            name = f"{tag}{n}"
            self.names[ref.hash] = name
            self.by_name[name] = ref
            refs.append(ref)
            parent = ref
        return refs

    def __getitem__(self, name: str) -> L2BlockRef:
        return self.by_name[name]

    def name(self, block_hash: bytes) -> str:
        return self.names.get(block_hash, "?" + block_hash.hex()[:8])


def status(ls: L2BlockRef, s: L2BlockRef | None = None, f: L2BlockRef | None = None, *,
           current_l1: L1BlockRef | None = None, unsafe: L2BlockRef | None = None) -> SyncStatus:
    s = s or ls
    f = f or s
    return SyncStatus(current_l1=current_l1 or L1BlockRef(bytes(32), 0, bytes(32), 0), unsafe_l2=unsafe or ls,
                      safe_l2=s, local_safe_l2=ls, finalized_l2=f, cross_unsafe_l2=unsafe or ls,
                      pending_safe_l2=ls)


class FakeSource:
    """A follow source serving a scripted SyncStatus; ``push`` adds ``opfleet_waitSyncStatus``."""

    def __init__(self, rollup: RollupConfig, *, push: bool = True, chains: Chains | None = None):
        self.rollup = rollup
        self.status = SyncStatus()
        self.chains = chains
        self.calls: Counter[str] = Counter()
        self._changed = trio.Event()
        self.canonical: dict[int, L2BlockRef] = {}
        methods: dict[str, Any] = {
            "optimism_syncStatus": self._counted("optimism_syncStatus", self._sync_status),
            "optimism_rollupConfig": self._counted("optimism_rollupConfig", self._rollup_config),
            "optimism_outputAtBlock": self._counted("optimism_outputAtBlock", self._output_at),
        }
        if push:
            methods["opfleet_waitSyncStatus"] = self._counted(
                "opfleet_waitSyncStatus", wait_sync_status_method(lambda: self.status, self._wait))
        self.rpc = JsonRpcServer(methods, name="fake-source")
        self.switch = Switch(self.rpc)
        self.url = ""

    def _counted(self, name: str, fn: Any) -> Any:
        async def method(*args: Any) -> Any:
            self.calls[name] += 1
            return await fn(*args)

        return method

    async def _sync_status(self) -> Any:
        return self.status.to_json()

    async def _rollup_config(self) -> Any:
        return rollup_config_json(self.rollup)

    async def _output_at(self, number: str) -> Any:
        ref = self.canonical.get(int(number, 16))
        if ref is None:
            raise RpcError(-32000, "not found")
        return {"version": H(bytes(32)), "outputRoot": H(bytes(32)), "blockRef": ref.to_json(),
                "withdrawalStorageRoot": H(bytes(32)), "stateRoot": H(bytes(32)), "syncStatus": self.status.to_json()}

    async def _wait(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self._changed.wait()

    def set(self, new: SyncStatus, chain: list[L2BlockRef] | None = None) -> None:
        self.status = new
        for ref in chain or ():
            self.canonical[ref.number] = ref
        self._changed.set()
        self._changed = trio.Event()

    async def start(self, nursery: trio.Nursery) -> FakeSource:
        self.url = await serve(nursery, self.switch)
        return self


class FakeEL:
    """An execution client over a set of L2 refs: ``eth_getBlockByNumber``/``eth_getBlockByHash``
    (with transaction 0, the L1-info deposit, for the refs it has), ``engine_forkchoiceUpdatedV3``
    recorded in ``fcus`` as (head, safe, finalized) names; a known head becomes canonical, an
    unknown one answers SYNCING. Nothing beyond the Engine API's guaranteed methods."""

    def __init__(self, chains: Chains):
        self.chains = chains
        self.known: dict[bytes, L2BlockRef] = {chains.genesis.hash: chains.genesis}
        self.canonical: list[L2BlockRef] = [chains.genesis]
        self.safe = self.finalized = chains.genesis
        self.fcus: list[tuple[str, str, str]] = []
        methods = {
            "eth_getBlockByNumber": self.eth_getBlockByNumber,
            "eth_getBlockByHash": self.eth_getBlockByHash,
            "engine_forkchoiceUpdatedV3": self.engine_forkchoiceUpdatedV3,
        }
        self.switch = Switch(JsonRpcServer(methods, name="fake-el"))
        self.url = ""

    def have(self, refs: list[L2BlockRef], *, canonical: bool = True) -> None:
        for ref in refs:
            self.known[ref.hash] = ref
        if canonical and refs:
            self._set_head(refs[-1])

    def _set_head(self, head: L2BlockRef) -> None:
        chain = [head]
        while chain[-1].number > 0:
            chain.append(self.known[chain[-1].parent_hash])
        self.canonical = list(reversed(chain))

    @property
    def head(self) -> L2BlockRef:
        return self.canonical[-1]

    def _block(self, ident: Any) -> L2BlockRef | None:
        if ident == "latest":
            return self.head
        if ident == "safe":
            return self.safe
        if ident == "finalized":
            return self.finalized
        number = int(ident, 16)
        return self.canonical[number] if number < len(self.canonical) else None

    def _json(self, ref: L2BlockRef, full: bool = False) -> dict[str, Any]:
        zero = H(bytes(32))
        tx0 = self._tx0(ref)
        txs: list[Any] = [] if tx0 is None else [tx0 if full else tx0["hash"]]
        return {"hash": H(ref.hash), "number": hex_quantity(ref.number), "parentHash": H(ref.parent_hash),
                "timestamp": hex_quantity(ref.timestamp), "mixHash": zero, "gasLimit": "0x1c9c380",
                "gasUsed": "0x0", "stateRoot": zero, "receiptsRoot": zero, "transactionsRoot": zero,
                "baseFeePerGas": "0x1", "transactions": txs}

    def _tx0(self, ref: L2BlockRef | None) -> dict[str, Any] | None:
        if ref is None or ref.number == 0:
            return None
        info = L1BlockInfo(layout="ecotone", number=ref.l1_origin.number, time=0, base_fee=1,
                           block_hash=ref.l1_origin.hash, sequence_number=ref.sequence_number,
                           batcher_address=bytes(20))
        return {"type": "0x7e", "blockHash": H(ref.hash), "hash": H(keccak256(ref.hash)),
                "input": H(encode_l1_block_info(info))}

    async def eth_getBlockByNumber(self, ident: Any, full: bool = False) -> Any:
        ref = self._block(ident)
        return self._json(ref, full) if ref is not None else None

    async def eth_getBlockByHash(self, block_hash: Any, full: bool = False) -> Any:
        ref = self.known.get(bytes.fromhex(block_hash[2:]))
        return self._json(ref, full) if ref is not None else None

    async def engine_forkchoiceUpdatedV3(self, state: Any, attributes: Any = None) -> Any:
        names = tuple(self.chains.name(bytes.fromhex(state[k][2:]))
                      for k in ("headBlockHash", "safeBlockHash", "finalizedBlockHash"))
        self.fcus.append(names)  # type: ignore[arg-type]
        head = self.known.get(bytes.fromhex(state["headBlockHash"][2:]))
        if head is None:
            return {"payloadStatus": {"status": "SYNCING", "latestValidHash": None, "validationError": None},
                    "payloadId": None}
        self._set_head(head)
        self.safe = self.known.get(bytes.fromhex(state["safeBlockHash"][2:]), self.safe)
        self.finalized = self.known.get(bytes.fromhex(state["finalizedBlockHash"][2:]), self.finalized)
        return {"payloadStatus": {"status": "VALID", "latestValidHash": H(head.hash), "validationError": None},
                "payloadId": None}

    async def start(self, nursery: trio.Nursery) -> FakeEL:
        self.url = await serve(nursery, self.switch)
        return self


class Setup:
    """An in-memory L1 (served through a Switch), a rollup config and L2 ref chains on it."""

    def __init__(self, l1_blocks: int = 4):
        self.l1 = L1Chain(block_time=12)
        self.l1.mine_blocks(l1_blocks)
        forks = ForkTimes.up_to("isthmus")
        engine = DevEngine(chain_id=901, genesis_time=self.l1.config.genesis_time, forks=forks, jwt_secret=JWT)
        self.rollup = make_rollup_config(self.l1, engine, forks)
        self.chains = Chains(self.rollup, self.l1)
        self.l1_server = L1Server(self.l1)
        self.l1_switch = Switch(self.l1_server.rpc)
        self.l1_url = ""

    async def start(self, nursery: trio.Nursery) -> Setup:
        self.l1_url = await serve(nursery, self.l1_switch)
        return self

    def config(self, sources: list[str], el: FakeEL | str, **overrides: Any) -> LightConfig:
        fields: dict[str, Any] = dict(
            rollup_config=self.rollup, sources=tuple(sources), l1_url=self.l1_url,
            l2_url=el if isinstance(el, str) else el.url, jwt_secret=JWT, source_rpc_timeout=1.0,
            poll_interval=0.05, push_wait=0.5, l1_poll_interval=0.05, rpc_port=0, backoff_base=0.01,
            backoff_cap=0.05, metrics_enabled=True, metrics_addr="127.0.0.1", metrics_port=0)
        fields.update(overrides)
        return LightConfig(**fields)


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.005)


class Records(logging.Handler):
    """Collects log records of one logger (not caplog: the CLI tests turn propagation off)."""

    def __init__(self, name: str = "opfleet.light") -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> Records:
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(logging.NOTSET)

    def warnings(self, text: str = "") -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING and text in r.getMessage()]


__all__ = ["Chains", "FakeEL", "FakeSource", "JWT", "Records", "Setup", "Switch", "dead_url", "replace", "serve",
           "status", "wait_for"]

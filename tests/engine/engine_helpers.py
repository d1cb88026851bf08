"""Shared pieces of the engine and source-node tests: an in-process devnet (L1 server with beacon
API, a sequencer-side DevEngine built by MiniSequencer) and a fresh DevEngine for our node."""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "devnet"))

from devnet_helpers import (  # noqa: E402
    JWT_SECRET,
    L2_CHAIN_ID,
    USER,
    USER_KEY,
    MiniSequencer,
    make_rollup_config,
)

from opfleet.derive.pipeline import StepKind, StepResult  # noqa: E402
from opfleet.devnet.engine import DevEngine, ForkTimes  # noqa: E402
from opfleet.devnet.l1 import L1Chain, L1Server  # noqa: E402
from opfleet.protocol.state import Account  # noqa: E402
from opfleet.protocol.rollup_config import RollupConfig  # noqa: E402
from opfleet.protocol.transactions import Transaction, encode_transaction, sign_transaction  # noqa: E402
from opfleet.providers.engine import EngineClient, PayloadAttributes  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402

__all__ = ["JWT_SECRET", "USER", "USER_KEY", "Devnet", "FakePipeline", "new_engine", "start_devnet", "user_tx"]


def new_engine(l1: L1Chain, forks: ForkTimes) -> DevEngine:
    return DevEngine(chain_id=L2_CHAIN_ID, genesis_time=l1.config.genesis_time, forks=forks,
                     alloc={USER: Account(balance=10**21)}, jwt_secret=JWT_SECRET)


def user_tx(nonce: int, *, size: int = 100) -> bytes:
    return encode_transaction(sign_transaction(Transaction(
        type=2, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
        gas=100_000, to=b"\x12" * 20, value=1, data=bytes([nonce % 256]) * size), USER_KEY))


@dataclass
class Devnet:
    l1: L1Chain
    l1_server: L1Server
    sequencer_engine: DevEngine
    rollup: RollupConfig
    sequencer: MiniSequencer
    recorded: list[PayloadAttributes] = field(default_factory=list)
    nonce: int = 0

    async def build(self, count: int, txs_per_block: int = 2) -> None:
        for _ in range(count):
            txs = []
            for _ in range(txs_per_block):
                txs.append(user_tx(self.nonce))
                self.nonce += 1
            await self.sequencer.build(tuple(txs))

    async def serve_engine(self, nursery: Any, engine: DevEngine) -> None:
        await nursery.start(engine.serve_auth, "127.0.0.1", 0)
        await nursery.start(engine.serve_rpc, "127.0.0.1", 0)

    def engine_client(self, engine: DevEngine) -> EngineClient:
        return EngineClient(engine.auth_url, JWT_SECRET, forks=self.rollup)

    def rpc(self, engine: DevEngine) -> JsonRpcClient:
        return JsonRpcClient(engine.rpc_url)


async def start_devnet(nursery: Any, forks: ForkTimes = ForkTimes.up_to("isthmus"), *, l1_block_time: int = 12,
                       keep_karst_upgrade_gas: bool = False) -> Devnet:
    l1 = L1Chain(block_time=l1_block_time)
    l1_server = L1Server(l1)
    await nursery.start(l1_server.serve, "127.0.0.1", 0)
    engine = new_engine(l1, forks)
    await nursery.start(engine.serve_auth, "127.0.0.1", 0)
    await nursery.start(engine.serve_rpc, "127.0.0.1", 0)
    rollup = make_rollup_config(l1, engine, forks, keep_karst_upgrade_gas=keep_karst_upgrade_gas)
    sequencer = MiniSequencer(rollup, l1, EngineClient(engine.auth_url, JWT_SECRET, forks=rollup), engine)
    net = Devnet(l1, l1_server, engine, rollup, sequencer)
    original = sequencer.attributes

    def recording(*args: Any, **kwargs: Any) -> PayloadAttributes:
        attrs = original(*args, **kwargs)
        net.recorded.append(attrs)
        return attrs

    sequencer.attributes = recording  # type: ignore[method-assign]
    return net


class FakePipeline:
    """Stands in for opfleet.derive.Pipeline where only the driver is under test."""

    def __init__(self) -> None:
        self.signals: list[Any] = []
        self.resets: list[Any] = []
        self.origin = None
        self.results: deque[StepResult] = deque()
        self.attributes_queue = self

    def signal(self, signal: Any) -> None:
        self.signals.append(signal)

    def reset(self, l1_base: Any, system_config: Any) -> None:
        self.resets.append((l1_base, system_config))
        self.origin = l1_base

    async def step(self, safe_head: Any) -> StepResult:
        if not self.results:
            return StepResult(StepKind.EOF, self.origin)
        return self.results.popleft()

"""A two-chain interop devnet on loopback: one L1Server (EL + beacon API), per chain a sequencer
DevEngine driven by MiniSequencer, a batcher key and inbox, and an empty DevEngine for the
supernode. Messages use the dev engine's log conventions (opfleet.devnet.engine.devnet_logs)."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "devnet"))

from devnet_helpers import JWT_SECRET, USER, USER_KEY, MiniSequencer  # noqa: E402

from opfleet.devnet.batcher import CALLDATA, Batcher, BatcherConfig, ChannelConfig  # noqa: E402
from opfleet.devnet.engine import DEVNET_LOG_EMITTER, DevEngine, ForkTimes, emitter_calldata  # noqa: E402
from opfleet.devnet.l1 import L1Chain, L1Server  # noqa: E402
from opfleet.devnet.rollup import devnet_rollup_config  # noqa: E402
from opfleet.protocol.state import Account  # noqa: E402
from opfleet.interop.messages import CROSS_L2_INBOX, Identifier, payload_hash, validate_message_calldata  # noqa: E402
from opfleet.interop.supernode import ChainSettings, SupernodeConfig  # noqa: E402
from opfleet.protocol.crypto import keccak256, private_key_to_address  # noqa: E402
from opfleet.protocol.rollup_config import RollupConfig  # noqa: E402
from opfleet.protocol.system_config import SystemConfig, encode_scalar  # noqa: E402
from opfleet.protocol.transactions import Transaction, encode_transaction, sign_transaction  # noqa: E402
from opfleet.providers.engine import EngineClient  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402

A, B = 901, 902
FORKS = ForkTimes.up_to("karst")  # interop implies every earlier fork in the rollup config
TOPIC = keccak256(b"Greeting(string)")


def new_engine(l1: L1Chain, chain_id: int) -> DevEngine:
    return DevEngine(chain_id=chain_id, genesis_time=l1.config.genesis_time, forks=FORKS,
                     alloc={USER: Account(balance=10**21)}, jwt_secret=JWT_SECRET)


@dataclass
class Chain:
    chain_id: int
    engine: DevEngine
    """The sequencer's execution client."""
    rollup: RollupConfig
    sequencer: MiniSequencer
    batcher_key: bytes
    inbox: bytes
    ours: DevEngine
    """The execution client the supernode drives for this chain."""
    nonce: int = 0
    batched: int = 0

    def tx(self, to: bytes, data: bytes) -> bytes:
        raw = encode_transaction(sign_transaction(Transaction(
            type=2, chain_id=self.chain_id, nonce=self.nonce, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
            gas=200_000, to=to, value=0, data=data), USER_KEY))
        self.nonce += 1
        return raw

    def emit(self, text: bytes) -> bytes:
        """A tx emitting one initiating log (topic TOPIC, data ``text``)."""
        return self.tx(DEVNET_LOG_EMITTER, emitter_calldata((TOPIC,), text))

    def execute(self, source: Chain, number: int, log_index: int, text: bytes, *, chain_id: int | None = None,
                timestamp: int | None = None) -> bytes:
        """A tx executing the log ``(source, number, log_index)`` claiming payload ``text``."""
        block = source.engine.by_number(number)
        ident = Identifier(DEVNET_LOG_EMITTER, number, log_index,
                           block.timestamp if timestamp is None else timestamp,
                           source.chain_id if chain_id is None else chain_id)
        return self.tx(CROSS_L2_INBOX, validate_message_calldata(ident, payload_hash((TOPIC,), text)))


@dataclass
class InteropDevnet:
    l1: L1Chain
    l1_server: L1Server
    chains: dict[int, Chain] = field(default_factory=dict)

    async def build(self, txs: dict[int, tuple[bytes, ...]] | None = None, count: int = 1) -> None:
        """``count`` blocks on every chain in lockstep (same timestamps); an L1 block every 6."""
        for _ in range(count):
            if self.chains[A].engine.head.number % 6 == 0:
                self.l1.mine()
            for cid, chain in self.chains.items():
                await chain.sequencer.build(tuple((txs or {}).get(cid, ())))
            txs = None

    async def post_batches(self, *chain_ids: int, mine: bool = True) -> None:
        """Batch every chain's new blocks (calldata) into the next L1 block."""
        for cid in chain_ids or tuple(self.chains):
            chain = self.chains[cid]
            head = chain.engine.head.number
            if head <= chain.batched:
                continue
            channel = ChannelConfig(genesis_time=self.l1.config.genesis_time, block_time=2, chain_id=cid,
                                    max_frame_size=100_000)
            config = BatcherConfig(channel=channel, batch_inbox=chain.inbox, l1_chain_id=self.l1.config.chain_id,
                                   batcher_key=chain.batcher_key, data_availability=CALLDATA,
                                   start_block=chain.batched + 1)
            async with JsonRpcClient(self.l1_server.url) as l1_rpc, JsonRpcClient(chain.engine.rpc_url) as l2_rpc:
                assert await Batcher(config, l1_rpc, l2_rpc).flush()
            chain.batched = head
        if mine:
            self.l1.mine()

    def settings(self, cid: int, **overrides: Any) -> ChainSettings:
        chain = self.chains[cid]
        return ChainSettings(rollup_config=chain.rollup, l2_url=chain.ours.auth_url, jwt_secret=JWT_SECRET,
                             **overrides)

    def config(self, **overrides: Any) -> SupernodeConfig:
        fields = dict(chains=tuple(self.settings(cid) for cid in self.chains), l1_url=self.l1_server.url,
                      l1_beacon_url=self.l1_server.url, l1_poll_interval=0.02, rpc_port=0, gate_timeout=0.3,
                      interop_interval=0.02, health_interval=0.05, backoff_base=0.01, backoff_cap=0.05)
        fields.update(overrides)
        return SupernodeConfig(**fields)


async def start_interop_devnet(nursery: Any, *, serve_ours: tuple[int, ...] = (A, B)) -> InteropDevnet:
    l1 = L1Chain(block_time=12)
    server = L1Server(l1)
    await nursery.start(server.serve, "127.0.0.1", 0)
    net = InteropDevnet(l1, server)
    for i, cid in enumerate((A, B)):
        engine = new_engine(l1, cid)
        await nursery.start(engine.serve_auth, "127.0.0.1", 0)
        await nursery.start(engine.serve_rpc, "127.0.0.1", 0)
        key = keccak256(b"opfleet interop batcher %d" % cid)
        inbox = bytes.fromhex("ff000000000000000000000000000000000%05d" % cid)
        system_config = SystemConfig(batcher_address=private_key_to_address(key), scalar=encode_scalar(0, 1000),
                                     gas_limit=30_000_000)
        rollup = devnet_rollup_config(l1, engine, batcher=private_key_to_address(key), batch_inbox=inbox,
                                      system_config=system_config)
        rollup = dataclasses.replace(rollup, interop_time=0)  # interop from genesis
        sequencer = MiniSequencer(rollup, l1, EngineClient(engine.auth_url, JWT_SECRET, forks=rollup), engine)
        ours = new_engine(l1, cid)
        if cid in serve_ours:
            await nursery.start(ours.serve_auth, "127.0.0.1", 0)
            await nursery.start(ours.serve_rpc, "127.0.0.1", 0)
        net.chains[cid] = Chain(cid, engine, rollup, sequencer, key, inbox, ours)
    return net


async def wait_for(predicate, timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def same_chain(ours: DevEngine, theirs: DevEngine, upto: int) -> None:
    for n in range(upto + 1):
        assert ours.by_number(n).hash == theirs.by_number(n).hash, f"block {n} differs"

"""Shared pieces of the devnet tests: keys, a rollup config tying an L1Chain to a DevEngine, a
loopback devnet sequenced by opfleet's own :class:`~opfleet.node.sequencer.Sequencer`
(:func:`sequencing_devnet`, for new tests), and the older tiny :class:`MiniSequencer` that builds
L2 blocks from L1 origins through the Engine API client (kept for tests that script each block's
transactions)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.devnet.l1 import L1Chain, L1ChainBlock, L1Config, L1Server
from opfleet.devnet.rollup import devnet_rollup_config
from opfleet.engine.l2_chain import EngineL2Chain
from opfleet.node.sequencer import Sequencer, SequencerConfig, TxSource, run_sequencer
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.deposits import user_deposits
from opfleet.protocol.engine_api import ForkchoiceState, PayloadAttributes, PayloadStatus
from opfleet.protocol.l1_block_info import L1OriginHeader, decode_l1_block_info, l1_info_deposit
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.state import Account
from opfleet.protocol.system_config import SystemConfig, encode_scalar, update_system_config_with_receipts
from opfleet.protocol.transactions import Transaction, encode_transaction, sign_transaction
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l1 import L1Provider

BATCHER_KEY = keccak256(b"opfleet devnet batcher")
BATCHER = private_key_to_address(BATCHER_KEY)
USER_KEY = keccak256(b"opfleet devnet user")
USER = private_key_to_address(USER_KEY)
OTHER_KEY = keccak256(b"opfleet devnet other user")
INBOX = bytes.fromhex("ff00000000000000000000000000000000000901")
SEQUENCER_FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000011")
JWT_SECRET = bytes(range(32))
L2_CHAIN_ID = 901
L2_BLOCK_TIME = 2


def make_rollup_config(l1: L1Chain, engine: DevEngine, forks: ForkTimes, *, gas_limit: int = 30_000_000,
                       max_sequencer_drift: int = 600, keep_karst_upgrade_gas: bool = False) -> RollupConfig:
    assert engine.config.forks == forks
    system_config = SystemConfig(batcher_address=BATCHER, scalar=encode_scalar(0, 1000), gas_limit=gas_limit)
    return devnet_rollup_config(l1, engine, batcher=BATCHER, batch_inbox=INBOX, block_time=L2_BLOCK_TIME,
                                system_config=system_config, max_sequencer_drift=max_sequencer_drift,
                                keep_karst_upgrade_gas=keep_karst_upgrade_gas)


def dev_engine(l1: L1Chain, forks: ForkTimes) -> DevEngine:
    """A DevEngine for ``l1``'s devnet with a funded :data:`USER`."""
    return DevEngine(chain_id=L2_CHAIN_ID, genesis_time=l1.config.genesis_time, forks=forks,
                     alloc={USER: Account(balance=10**21)}, jwt_secret=JWT_SECRET)


def transfer(nonce: int, *, key: bytes = USER_KEY, size: int = 10) -> bytes:
    """A signed L2 transfer from ``key`` (EIP-1559, enough fee for any devnet base fee)."""
    return encode_transaction(sign_transaction(Transaction(
        type=2, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
        gas=100_000, to=b"\x34" * 20, value=1, data=bytes([nonce % 256]) * size), key))


class DevHost:
    """The smallest :class:`~opfleet.node.sequencer.SequencerHost`: heads in memory, safe and
    finalized moved by the test (a light node moves them from its source)."""

    def __init__(self, genesis: L2BlockRef):
        self.engine_lock = trio.Lock()
        self.unsafe = self.safe = self.finalized = genesis
        self.sequenced: list[L2BlockRef] = []
        self.changed = trio.Event()

    def heads(self) -> tuple[L2BlockRef, L2BlockRef, L2BlockRef]:
        return self.unsafe, self.safe, self.finalized

    def on_sequenced(self, ref: L2BlockRef) -> None:
        self.unsafe = ref
        self.sequenced.append(ref)
        self.changed.set()
        self.changed = trio.Event()


@dataclass
class SequencingDevnet:
    """An L1Server and a DevEngine on loopback, sequenced by :class:`Sequencer` through the real
    EngineClient, L1Provider and EngineL2Chain (see :func:`sequencing_devnet`)."""

    l1: L1Chain
    l1_server: L1Server
    engine: DevEngine
    rollup: RollupConfig
    sequencer: Sequencer
    host: DevHost
    l1_rpc: JsonRpcClient
    l2_rpc: JsonRpcClient
    nursery: trio.Nursery
    """For background tasks (e.g. ``run_sequencer``); cancelled when the devnet stops."""
    nonce: int = 0

    async def start_sequencer(self, *, fast: bool = False) -> None:
        """Run :func:`~opfleet.node.sequencer.run_sequencer` on :attr:`host` in the background."""
        await self.nursery.start(functools.partial(run_sequencer, self.sequencer, self.host, fast=fast))

    async def build(self, count: int = 1) -> list[L2BlockRef]:
        """Build ``count`` blocks now (no clock), as the host's sequencer loop would."""
        built = []
        for _ in range(count):
            async with self.host.engine_lock:
                unsafe, safe, finalized = self.host.heads()
                ref = await self.sequencer.build_block(unsafe, safe=safe, finalized=finalized)
                self.host.on_sequenced(ref)
            built.append(ref)
        return built

    async def send(self, count: int = 1) -> list[bytes]:
        """Send ``count`` user transfers to the engine's tx pool (``eth_sendRawTransaction``)."""
        sent = []
        for _ in range(count):
            raw = transfer(self.nonce)
            self.nonce += 1
            await self.l2_rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
            sent.append(raw)
        return sent

    def block_txs(self, ref: L2BlockRef) -> list[bytes]:
        block = self.engine.block(ref.hash)
        assert block is not None
        return list(block.raw_transactions)


@asynccontextmanager
async def sequencing_devnet(
    forks: ForkTimes = ForkTimes.up_to("isthmus"),
    *,
    config: SequencerConfig = SequencerConfig(l1_confs=0),
    clock: Callable[[], float] | None = None,
    max_sequencer_drift: int = 600,
    l1_block_time: int = 12,
    tx_source: TxSource | None = None,
    engine_transport: object | None = None,
    keep_karst_upgrade_gas: bool = False,
) -> AsyncIterator[SequencingDevnet]:
    """Start an L1Server and a DevEngine (both on 127.0.0.1, port 0) and a :class:`Sequencer` on
    them; everything stops when the block exits. ``clock`` defaults to a clock frozen at the L2
    genesis time (build with :meth:`SequencingDevnet.build`, or pass ``fast=True`` to the loop).
    ``engine_transport`` wraps the engine's httpx transport (outage tests)."""
    l1 = L1Chain(L1Config(block_time=l1_block_time))
    engine = dev_engine(l1, forks)
    rollup = make_rollup_config(l1, engine, forks, max_sequencer_drift=max_sequencer_drift,
                                keep_karst_upgrade_gas=keep_karst_upgrade_gas)
    l1_server = L1Server(l1)
    async with trio.open_nursery() as nursery:
        await nursery.start(l1_server.serve, "127.0.0.1", 0)
        await nursery.start(engine.serve_auth, "127.0.0.1", 0)
        await nursery.start(engine.serve_rpc, "127.0.0.1", 0)
        genesis_time = rollup.genesis.l2_time
        async with JsonRpcClient(l1_server.url, name="L1") as l1_rpc, \
                JsonRpcClient(engine.rpc_url, name="L2") as l2_rpc, \
                EngineClient(engine.auth_url, JWT_SECRET, forks=rollup, transport=engine_transport) as engine_client:
            l2 = EngineL2Chain(l2_rpc, rollup)
            sequencer = Sequencer(rollup, engine=engine_client, l1=L1Provider(l1_rpc), l2=l2, config=config,
                                  clock=clock or (lambda: float(genesis_time)), tx_source=tx_source)
            host = DevHost(await l2.l2_block_ref(0))
            async with trio.open_nursery() as tasks:  # stops before the clients close
                yield SequencingDevnet(l1, l1_server, engine, rollup, sequencer, host, l1_rpc, l2_rpc, tasks)
                tasks.cancel_scope.cancel()
        nursery.cancel_scope.cancel()


def origin_header(block: L1ChainBlock) -> L1OriginHeader:
    header = block.header
    return L1OriginHeader(block.number, block.timestamp, header.base_fee_per_gas or 0, block.hash,
                          header.excess_blob_gas)


@dataclass
class MiniSequencer:
    """Build L2 blocks on a DevEngine the way a sequencer (or the derivation pipeline) would.

    Each block takes the newest L1 block whose timestamp is not after the L2 timestamp as its
    origin; the first block of an epoch carries the origin's user deposits.
    """

    rollup: RollupConfig
    l1: L1Chain
    client: EngineClient
    engine: DevEngine
    system_config: SystemConfig = field(init=False)
    origin: L1ChainBlock = field(init=False)
    seq: int = 0

    def __post_init__(self) -> None:
        self.system_config = self.rollup.genesis.system_config
        self.origin = self.l1.genesis

    def attributes(self, user_txs: tuple[bytes, ...] = (), *, no_tx_pool: bool = True) -> PayloadAttributes:
        parent = self.engine.head
        ts = parent.timestamp + self.rollup.block_time
        deposits: list[bytes] = []
        nxt = self.l1.by_number(self.origin.number + 1)
        if nxt is not None and nxt.timestamp <= ts:
            self.origin, self.seq = nxt, 0
            receipts = [(t.receipt.status, [log for log in nxt.logs if log.tx_index == t.index])
                        for t in nxt.transactions]
            self.system_config = update_system_config_with_receipts(
                self.system_config, receipts, self.rollup.l1_system_config_address,
                ecotone_active=self.rollup.is_ecotone(nxt.timestamp))
            deposits = [d.encode() for d in user_deposits(receipts, self.rollup.deposit_contract_address, nxt.hash)]
        else:
            self.seq += 1
        info = l1_info_deposit(self.rollup, self.system_config, origin_header(self.origin), self.seq, ts)
        eip1559 = self.system_config.eip1559_params_bytes() if self.rollup.is_holocene(ts) else None
        return PayloadAttributes(
            timestamp=ts,
            prev_randao=self.origin.header.mix_hash,
            suggested_fee_recipient=SEQUENCER_FEE_VAULT,
            withdrawals=() if self.rollup.is_canyon(ts) else None,
            parent_beacon_block_root=self.origin.header.parent_beacon_block_root if self.rollup.is_ecotone(ts) else None,
            transactions=(info.encode(), *deposits, *user_txs),
            no_tx_pool=no_tx_pool,
            gas_limit=self.system_config.gas_limit,
            eip1559_params=eip1559,
            min_base_fee=self.system_config.min_base_fee if self.rollup.is_jovian(ts) else None,
        )

    def rewind(self) -> None:
        """Pick up the L1 origin and sequence number of the engine's head again (after a reorg)."""
        head = self.engine.head
        if head.number == 0:
            self.origin, self.seq = self.l1.genesis, 0
            return
        info = decode_l1_block_info(head.transactions[0].deposit.data)
        self.origin = self.l1.by_hash(info.block_hash)
        self.seq = info.sequence_number

    async def build(self, user_txs: tuple[bytes, ...] = (), *, no_tx_pool: bool = True) -> dict:
        """Build, import and adopt one block (FCU+attributes, getPayload, newPayload, FCU); its payload."""
        attrs = self.attributes(user_txs, no_tx_pool=no_tx_pool)
        head = self.engine.head.hash
        state = ForkchoiceState(head, self.engine.safe.hash, self.engine.finalized.hash)
        started = await self.client.forkchoice_updated(state, attrs)
        assert started.payload_status.status is PayloadStatus.VALID and started.payload_id is not None
        envelope = await self.client.get_payload(started.payload_id, timestamp=attrs.timestamp)
        payload = envelope.execution_payload
        status = await self.client.new_payload(payload, parent_beacon_block_root=envelope.parent_beacon_block_root)
        assert status.status is PayloadStatus.VALID, status
        done = await self.client.forkchoice_updated(ForkchoiceState(envelope.block_hash, state.safe_block_hash,
                                                                    state.finalized_block_hash))
        assert done.payload_status.status is PayloadStatus.VALID
        return payload

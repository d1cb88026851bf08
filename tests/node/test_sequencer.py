"""The sequencer (opfleet.node.sequencer) against a loopback devnet: an L1Server and a DevEngine,
reached through the real L1Provider, EngineClient and EngineL2Chain (devnet_helpers.sequencing_devnet).

Origin selection and the drift rule follow specs/protocol/derivation.md ("L1 origin selection",
batch validity) and op-node's L1OriginSelector; the last tests check the blocks are exactly what a
verifier derives once the devnet Batcher has posted them (a SourceNode on a second DevEngine).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import httpx
import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "devnet"))
from devnet_helpers import (  # noqa: E402
    BATCHER_KEY,
    INBOX,
    JWT_SECRET,
    L2_BLOCK_TIME,
    L2_CHAIN_ID,
    OTHER_KEY,
    USER,
    USER_KEY,
    SequencingDevnet,
    dev_engine,
    transfer,
    sequencing_devnet,
)

from opfleet.devnet.batcher import BLOBS, CALLDATA, Batcher, BatcherConfig, ChannelConfig  # noqa: E402
from opfleet.devnet.engine import ForkTimes  # noqa: E402
from opfleet.devnet.l1 import DEFAULT_GENESIS_TIME  # noqa: E402
from opfleet.errors import TemporaryError  # noqa: E402
from opfleet.node.sequencer import (  # noqa: E402
    SequencerConfig,
    must_be_empty,
    run_sequencer,
    select_l1_origin,
)
from opfleet.node.source import SourceConfig, SourceNode  # noqa: E402
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef  # noqa: E402
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, decode_deposit_tx  # noqa: E402
from opfleet.protocol.upgrades import bundle_gas, upgrade_transactions  # noqa: E402

T = DEFAULT_GENESIS_TIME
"""L1 and L2 genesis time of the devnet."""


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seq_log(log_records):
    return log_records("opfleet.sequencer")


async def wait_for(predicate, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.005)


def deposits_in(net: SequencingDevnet, ref: L2BlockRef) -> list[bytes]:
    """The block's deposits after its L1-info deposit."""
    txs = net.block_txs(ref)
    assert txs[0][0] == DEPOSIT_TX_TYPE
    return [tx for tx in txs[1:] if tx[0] == DEPOSIT_TX_TYPE]


def fast(**overrides) -> SequencerConfig:
    return SequencerConfig(**{"l1_confs": 0, "poll_interval": 0.005, "backoff_base": 0.01, "backoff_cap": 0.05,
                              **overrides})


# --- pure rules -----------------------------------------------------------------------------------


def l1_ref(number: int, timestamp: int, parent: bytes = b"\x00" * 32) -> L1BlockRef:
    return L1BlockRef(bytes([number + 1]) * 32, number, parent, timestamp)


def l2_ref(number: int, timestamp: int, origin: L1BlockRef, seq: int) -> L2BlockRef:
    return L2BlockRef(bytes([0x80 + number]) * 32, number, b"\x01" * 32, timestamp, origin.id, seq)


async def test_origin_rules_follow_op_nodes_selector():
    async with sequencing_devnet() as net:  # Fjord active: the drift is the 1800 s constant
        cfg = net.rollup
    current, nxt = l1_ref(5, 1000), l1_ref(6, 1012)
    # Adopt the next origin as soon as its time is reached, never before.
    assert select_l1_origin(cfg, l2_ref(1, 1008, current, 4), current, nxt) == current
    assert select_l1_origin(cfg, l2_ref(1, 1010, current, 5), current, nxt) == nxt
    assert select_l1_origin(cfg, l2_ref(1, 1010, current, 5), current, None) == current
    # Drift: 1800 s after the origin the block must be empty; past it the next origin is required.
    assert not must_be_empty(cfg, current, 2800) and must_be_empty(cfg, current, 2802)
    late = l2_ref(9, 2800, current, 900)
    assert select_l1_origin(cfg, late, current, l1_ref(6, 5000)) == current  # next still in the future
    with pytest.raises(TemporaryError, match="max sequencer drift"):
        select_l1_origin(cfg, late, current, None)
    pre_fjord = dataclasses.replace(cfg, fjord_time=None, granite_time=None, holocene_time=None,
                                    isthmus_time=None, max_sequencer_drift_pre_fjord=600)
    assert must_be_empty(pre_fjord, current, 1602) and not must_be_empty(pre_fjord, current, 1600)


# --- building ---------------------------------------------------------------------------------------


async def test_blocks_every_block_time_on_the_injected_clock():
    clock = Clock(T + 1)
    async with sequencing_devnet(config=fast(), clock=clock) as net:
        await net.send(1)
        await net.start_sequencer()
        await trio.sleep(0.1)
        assert net.host.sequenced == []  # block 1 is due at T + 2
        clock.now = T + 2
        await wait_for(lambda: len(net.host.sequenced) == 1)
        clock.now = T + 7
        await wait_for(lambda: len(net.host.sequenced) == 3)
        await trio.sleep(0.1)
        built = net.host.sequenced
        assert [r.timestamp for r in built] == [T + 2, T + 4, T + 6]  # T + 8 is not due yet
        assert [r.number for r in built] == [1, 2, 3] and net.engine.head.hash == built[-1].hash
        assert len(net.block_txs(built[0])) == 2  # L1 info + the pool transaction (noTxPool=false)
        assert net.sequencer.next_block_time(built[-1]) == T + 8
        stats = net.sequencer.statistics()
        assert stats.blocks_built == 3 and stats.last_built == built[-1] and stats.errors == 0


async def test_origin_advances_with_l1_and_respects_l1_confs():
    async with sequencing_devnet(config=SequencerConfig(l1_confs=2)) as net:
        net.l1.mine_blocks(2)  # L1 #1 at T+12, #2 at T+24: not 2 deep yet
        built = await net.build(12)  # up to T + 24
        assert {r.l1_origin.number for r in built} == {0}
        assert [r.sequence_number for r in built] == list(range(1, 13))
        net.l1.mine()  # head 3: #1 is confirmed
        (b13,) = await net.build(1)
        assert (b13.l1_origin.number, b13.sequence_number) == (1, 0)
        assert b13.l1_origin.hash == net.l1.by_number(1).hash
        (b14,) = await net.build(1)
        assert b14.l1_origin.number == 1  # #2 is only 1 deep
        net.l1.mine_blocks(2)  # head 5: #2 (T+24) and #3 (T+36) confirmed
        b15, b16 = await net.build(2)  # T+30, T+32
        assert b15.l1_origin.number == 2 and b16.l1_origin.number == 2  # #3 is newer than T+32
        assert net.sequencer.statistics().origin_changes == 2


async def test_deposits_appear_once_in_the_first_block_of_their_epoch():
    async with sequencing_devnet() as net:
        recipient = b"\x77" * 20
        net.l1.submit(net.l1.deposit(USER_KEY, to=recipient, mint=10**18, value=10**17))
        net.l1.mine()  # L1 #1 (T + 12) carries the deposit
        net.l1.mine()  # L1 #2 (T + 24) has none
        built = await net.build(14)
        with_deposits = [r for r in built if deposits_in(net, r)]
        assert len(with_deposits) == 1
        first = with_deposits[0]
        assert (first.timestamp, first.l1_origin.number, first.sequence_number) == (T + 12, 1, 0)
        (deposit,) = deposits_in(net, first)
        tx = decode_deposit_tx(deposit)
        assert tx.from_address == USER and tx.to == recipient and tx.mint == 10**18 and tx.value == 10**17
        epoch2 = next(r for r in built if r.l1_origin.number == 2)
        assert epoch2.sequence_number == 0 and deposits_in(net, epoch2) == []
        assert net.engine.head.state.get(recipient).balance == 10**17


async def test_past_the_drift_blocks_are_empty_and_need_the_next_origin():
    # Before Fjord the drift is the rollup config's (10 s here).
    async with sequencing_devnet(ForkTimes.up_to("ecotone"), max_sequencer_drift=10) as net:
        net.l1.mine(timestamp=T + 60)  # a long L1 gap
        await net.send(1)
        normal = await net.build(5)  # T+2 .. T+10: origin 0, within the drift
        assert len(net.block_txs(normal[0])) == 2
        await net.send(1)
        empty = await net.build(24)  # T+12 .. T+58: past the drift, next origin still in the future
        assert all(r.l1_origin.number == 0 for r in empty)
        assert all(len(net.block_txs(r)) == 1 for r in empty)  # only the L1-info deposit
        (adopted,) = await net.build(1)  # T+60: the next origin at last
        assert (adopted.l1_origin.number, adopted.sequence_number) == (1, 0)
        assert len(net.block_txs(adopted)) == 2  # the pool transaction waited for it
        assert net.sequencer.statistics().empty_blocks == 24
        await net.build(5)  # up to T+70 = origin + drift
        with pytest.raises(TemporaryError, match="next L1 block is not available"):
            await net.build(1)
        assert net.sequencer.statistics().errors == 1
        net.l1.mine(timestamp=T + 100)
        (late,) = await net.build(1)  # T+72 past the drift of #1; #2 is in the future: empty
        assert late.l1_origin.number == 1 and len(net.block_txs(late)) == 1


async def test_upgrade_transactions_on_activation_blocks_without_pool_txs():
    forks = dataclasses.replace(ForkTimes.up_to("holocene"), isthmus=T + 6, jovian=T + 10)
    async with sequencing_devnet(forks) as net:
        await net.send(1)
        b1, b2 = await net.build(2)
        assert len(net.block_txs(b1)) == 2
        await net.send(1)
        (b3,) = await net.build(1)  # T + 6: Isthmus activation
        assert net.block_txs(b3)[1:] == upgrade_transactions("isthmus")
        await net.send(1)
        (b4,) = await net.build(1)
        assert len(net.block_txs(b4)) == 3  # the two waiting pool transactions
        (b5,) = await net.build(1)  # T + 10: Jovian activation
        assert net.block_txs(b5)[1:] == upgrade_transactions("jovian")
        (b6,) = await net.build(1)
        assert len(net.block_txs(b6)) == 1
        assert net.sequencer.statistics().empty_blocks == 2


@pytest.mark.parametrize("keep", [False, True], ids=["strip", "keep"])
async def test_karst_activation_block_and_the_gas_limit_after_it(nursery, keep):
    # karst/derivation.md: L1 info, the origin's deposits, the 31 upgrade deposits, no sequenced
    # transaction (noTxPool, no TxSource), gasLimit + 55,370,657; getPayloadV5 from Karst on.
    forks = dataclasses.replace(ForkTimes.up_to("jovian"), karst=T + 6)
    async with sequencing_devnet(forks, keep_karst_upgrade_gas=keep) as net:
        net.sequencer.tx_source = extra = Extra([])
        await net.send(1)
        b1, b2 = await net.build(2)
        await net.send(2)
        extra.txs = [transfer(3)]
        (b3,) = await net.build(1)  # T + 6: Karst activation
        assert net.rollup.is_karst_activation_block(b3.timestamp)
        assert net.block_txs(b3)[1:] == upgrade_transactions("karst")
        assert extra.txs and [ts for _, ts in extra.asked] == [T + 2, T + 4]  # not asked for it
        gas = net.rollup.genesis.system_config.gas_limit
        assert net.engine.block(b3.hash).header.gas_limit == gas + bundle_gas("karst") == gas + 55_370_657
        extra.txs = []
        (b4,) = await net.build(1)
        assert len(net.block_txs(b4)) == 1 + 2  # L1 info and the two waiting pool txs
        after = gas + (55_370_657 if keep else 0)
        assert net.engine.block(b4.hash).header.gas_limit == after
        assert (await net.sequencer.l2.system_config_by_number(b3.number)).gas_limit == after
        calls = net.sequencer.engine.statistics().requests_by_method
        assert (calls.get("engine_getPayloadV4"), calls.get("engine_getPayloadV5")) == (2, 2)
        assert net.sequencer.statistics().empty_blocks == 1
        await post_batches(net, CALLDATA, 1)
        await derive_and_compare(net, nursery, 4)
        nursery.cancel_scope.cancel()


async def test_recover_mode_builds_empty_blocks_and_adopts_origins_asap():
    async with sequencing_devnet(config=SequencerConfig(l1_confs=0, recover_mode=True)) as net:
        net.l1.mine_blocks(2)
        await net.send(1)
        built = await net.build(12)
        assert all(len(net.block_txs(r)) == 1 for r in built)
        assert [r.l1_origin.number for r in built].index(1) == 5 and built[-1].l1_origin.number == 2
        assert net.sequencer.statistics().empty_blocks == 12


async def test_max_safe_lag_stops_building_until_safe_catches_up(seq_log):
    async with sequencing_devnet(config=fast(max_safe_lag=3)) as net:
        await net.start_sequencer(fast=True)
        await wait_for(lambda: net.sequencer.statistics().waiting_for_safe)
        await trio.sleep(0.1)
        assert [r.number for r in net.host.sequenced] == [1, 2, 3]
        net.host.safe = net.host.sequenced[1]
        await wait_for(lambda: len(net.host.sequenced) == 5 and net.sequencer.statistics().waiting_for_safe)
        await trio.sleep(0.1)
        assert net.host.unsafe.number == 5
        assert len(seq_log.messages("WARNING", "Sequencer paused")) == 2
        assert len(seq_log.messages("INFO", "Sequencer resumed")) == 1


class Switch(httpx.AsyncBaseTransport):
    """An HTTP transport whose connections fail while ``down``."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.down = True
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_engine_down_is_retried_with_one_warning(seq_log):
    switch = Switch()
    async with sequencing_devnet(config=fast(), engine_transport=switch) as net:
        await net.start_sequencer(fast=True)
        await wait_for(lambda: switch.refused >= 3)
        assert net.host.sequenced == [] and net.sequencer.statistics().errors >= 3
        switch.down = False
        await wait_for(lambda: len(net.host.sequenced) >= 3)
        warnings = seq_log.messages("WARNING", "failing")
        assert len(warnings) == 1 and "Sequencer failing" in warnings[0]
        assert len(seq_log.messages("INFO", "Sequencer recovered")) == 1


class Extra:
    """A TxSource handing out a fixed list of transactions once."""

    def __init__(self, txs: list[bytes]):
        self.txs, self.asked = txs, []

    async def transactions(self, parent: L2BlockRef, timestamp: int) -> list[bytes]:
        self.asked.append((parent, timestamp))
        txs, self.txs = self.txs, []
        return txs


async def test_host_reset_rebuilds_on_the_reconciled_head():
    async with sequencing_devnet() as net:
        first = await net.build(4)
        # What a light node does on a conflict with its source (op-node FollowSource):
        # heads onto the agreed block, then sequencer.reset(); the next build starts there.
        async with net.host.engine_lock:
            net.host.unsafe = net.host.safe = first[1]
            net.sequencer.reset()
        net.sequencer.tx_source = Extra([transfer(0)])  # so the new block 3 differs from the old one
        (again,) = await net.build(1)
        assert again.parent_hash == first[1].hash and again.number == 3 and again.hash != first[2].hash
        assert net.block_txs(again)[1:] == [transfer(0)]
        assert net.sequencer.tx_source.asked == [(first[1], T + 6)]
        assert net.engine.head.hash == again.hash and net.engine.by_number(3).hash == again.hash
        assert net.engine.safe.hash == first[1].hash
        assert net.sequencer.statistics().resets == 1


# --- what derivation makes of it ------------------------------------------------------------------


async def post_batches(net: SequencingDevnet, da: str, start_block: int) -> None:
    channel = ChannelConfig(genesis_time=T, block_time=L2_BLOCK_TIME, chain_id=L2_CHAIN_ID,
                            max_frame_size=1_000 if da == CALLDATA else 20_000)
    config = BatcherConfig(channel=channel, batch_inbox=INBOX, l1_chain_id=net.l1.config.chain_id,
                           batcher_key=BATCHER_KEY, data_availability=da, start_block=start_block)
    assert await Batcher(config, net.l1_rpc, net.l2_rpc).flush()
    net.l1.mine()


async def derive_and_compare(net: SequencingDevnet, nursery, upto: int) -> None:
    """A SourceNode on a fresh DevEngine derives the batched chain: same hashes, block for block."""
    ours = dev_engine(net.l1, net.engine.config.forks)
    await nursery.start(ours.serve_auth, "127.0.0.1", 0)
    config = SourceConfig(rollup_config=net.rollup, l1_url=net.l1_server.url, l2_url=ours.auth_url,
                          jwt_secret=JWT_SECRET, l1_beacon_url=net.l1_server.url, l1_poll_interval=0.02,
                          rpc_port=0, backoff_base=0.01, backoff_cap=0.05)
    node = await nursery.start(SourceNode(config).run)
    await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= upto, timeout=20)
    for n in range(upto + 1):
        assert ours.by_number(n).hash == net.engine.by_number(n).hash, f"block {n} differs"
    assert node.driver.statistics().blocks_built == upto  # built from L1, never copied


async def test_derivation_reproduces_the_sequenced_chain(nursery):
    forks = dataclasses.replace(ForkTimes.up_to("holocene"), isthmus=T + 20)
    async with sequencing_devnet(forks, config=SequencerConfig(l1_confs=1)) as net:
        net.l1.submit(net.l1.deposit(OTHER_KEY, to=b"\x66" * 20, mint=10**18, value=5))
        for i in range(24):
            if i % 6 == 0:
                net.l1.mine()
            await net.send(i % 3)
            await net.build(1)
        assert any(r.sequence_number == 0 and r.number > 1 for r in net.host.sequenced)
        assert sum(len(deposits_in(net, r)) for r in net.host.sequenced) == 1 + len(upgrade_transactions("isthmus"))
        await post_batches(net, CALLDATA, 1)
        await derive_and_compare(net, nursery, 24)
        nursery.cancel_scope.cancel()


async def test_derivation_accepts_the_empty_blocks_past_the_drift(nursery):
    async with sequencing_devnet(ForkTimes.up_to("ecotone"), max_sequencer_drift=10) as net:
        net.l1.mine(timestamp=T + 36)
        for _ in range(20):  # T+2 .. T+40: T+12..T+34 are empty, T+36 adopts #1
            await net.send(1)
            await net.build(1)
        assert net.sequencer.statistics().empty_blocks == 12
        await post_batches(net, BLOBS, 1)
        await derive_and_compare(net, nursery, 20)
        nursery.cancel_scope.cancel()


async def test_l1_block_info_matches_the_origin():
    async with sequencing_devnet() as net:
        net.l1.mine()
        built = await net.build(7)
        origin = net.l1.by_number(1)
        assert built[-2].l1_origin == BlockID(origin.hash, 1) and built[-2].sequence_number == 0
        block = net.engine.block(built[-2].hash)
        assert block.header.mix_hash == origin.header.mix_hash
        assert block.header.parent_beacon_block_root == origin.header.parent_beacon_block_root

"""Shared pieces of the devnet tests: keys, a rollup config tying an L1Chain to a DevEngine, and a
tiny sequencer that builds L2 blocks from L1 origins through the Engine API client."""

from __future__ import annotations

from dataclasses import dataclass, field

from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.devnet.l1 import L1Chain, L1ChainBlock
from opfleet.devnet.rollup import devnet_rollup_config
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.deposits import user_deposits
from opfleet.protocol.l1_block_info import L1OriginHeader, decode_l1_block_info, l1_info_deposit
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig, encode_scalar, update_system_config_with_receipts
from opfleet.providers.engine import EngineClient, ForkchoiceState, PayloadAttributes, PayloadStatus

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


def make_rollup_config(l1: L1Chain, engine: DevEngine, forks: ForkTimes, *, gas_limit: int = 30_000_000) -> RollupConfig:
    assert engine.config.forks == forks
    system_config = SystemConfig(batcher_address=BATCHER, scalar=encode_scalar(0, 1000), gas_limit=gas_limit)
    return devnet_rollup_config(l1, engine, batcher=BATCHER, batch_inbox=INBOX, block_time=L2_BLOCK_TIME,
                                system_config=system_config)


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

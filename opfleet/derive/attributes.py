"""Payload attributes: the attributes builder and the attributes queue (the pipeline's top).

For each batch, the builder assembles the block's transaction list
``[L1-info deposit] ++ [user deposits, first block of an epoch only] ++ [network upgrade
transactions, activation blocks only] ++ [batch transactions]`` and the fork-dependent
fields: ``gasLimit`` from the system config (plus the upgrade gas on a NUT fork's activation
block: Karst adds 55,370,657); ``withdrawals = []`` from Canyon;
``parentBeaconBlockRoot`` (the L1 origin's) from Ecotone; ``eip1559Params`` from Holocene
(all zero on the Holocene activation block, so the execution layer uses the Canyon
constants); ``minBaseFee`` from Jovian. Fork checks use the new L2 block's timestamp.

The system config is the parent L2 block's, updated with the new L1 origin's ``ConfigUpdate``
logs on an epoch change. Malformed deposits or config updates are critical (deposits can
never be skipped); an L1 origin that does not extend the parent's is a reset.

Spec: ``specs/protocol/derivation.md`` ("Deriving the Transaction List", "Building
Individual Payload Attributes"), ``specs/protocol/exec-engine.md``, the fork
``derivation.md``/``exec-engine.md`` pages; op-node ``attributes.go``,
``attributes_queue.go``; kona ``attributes/stateful.rs``, ``stages/attributes_queue.rs``.
"""

from __future__ import annotations

import dataclasses

from opfleet.derive.errors import CriticalError, ResetError
from opfleet.derive.interfaces import (
    AttributesWithParent,
    ChainProvider,
    L2ChainProvider,
    Reset,
    Signal,
    SingularBatchProvider,
    Stage,
)
from opfleet.errors import DecodeError
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.block_ref import BlockID, L2BlockRef
from opfleet.protocol.crypto import ZERO_HASH
from opfleet.protocol.deposits import user_deposits
from opfleet.protocol.engine_api import PayloadAttributes
from opfleet.protocol.l1_block_info import BlobSchedule, l1_info_deposit
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import update_system_config_with_receipts
from opfleet.protocol.upgrades import upgrade_gas, upgrade_transactions_for_block

SEQUENCER_FEE_VAULT_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000011")
"""``suggestedFeeRecipient`` of every derived block."""


class AttributesBuilder:
    """Builds the deposit part and fork fields of payload attributes (op-node
    ``FetchingAttributesBuilder``)."""

    def __init__(
        self,
        rollup_config: RollupConfig,
        chain: ChainProvider,
        l2: L2ChainProvider,
        *,
        blob_schedule: BlobSchedule | None = None,
    ):
        self.rollup_config = rollup_config
        self.chain = chain
        self.l2 = l2
        self.blob_schedule = blob_schedule

    async def prepare_payload_attributes(
        self, parent: L2BlockRef, epoch: BlockID
    ) -> PayloadAttributes:
        """Attributes for the block after ``parent`` with L1 origin ``epoch``, without the
        batch's transactions.

        Spec: specs/protocol/derivation.md, Building Individual Payload Attributes.
        """
        cfg = self.rollup_config
        system_config = await self.l2.system_config_by_number(parent.number)
        block, receipts = await self.chain.block_with_receipts(epoch.hash)
        header = block.header
        if header.hash != epoch.hash or header.number != epoch.number:
            raise ResetError(f"L1 block {epoch.number} (0x{epoch.hash.hex()}) is not available")
        deposits: list[bytes] = []
        if parent.l1_origin.number != epoch.number:
            if header.parent_hash != parent.l1_origin.hash:
                raise ResetError(
                    f"L1 origin {epoch.number} (parent 0x{header.parent_hash.hex()}) does not "
                    f"extend the parent's L1 origin {parent.l1_origin.number} "
                    f"(0x{parent.l1_origin.hash.hex()})"
                )
            status_logs = [(r.status, r.logs) for r in receipts]
            try:
                deposit_txs = user_deposits(status_logs, cfg.deposit_contract_address, header.hash)
            except DecodeError as exc:
                raise CriticalError(
                    f"cannot derive the deposits of L1 block {epoch.number}: {exc}"
                ) from None
            try:
                system_config = update_system_config_with_receipts(
                    system_config,
                    status_logs,
                    cfg.l1_system_config_address,
                    ecotone_active=cfg.is_ecotone(header.timestamp),
                )
            except DecodeError as exc:
                raise CriticalError(
                    f"malformed SystemConfig update in L1 block {epoch.number}: {exc}"
                ) from None
            deposits = [tx.encode() for tx in deposit_txs]
            seq_number = 0
        else:
            if parent.l1_origin.hash != epoch.hash:
                raise ResetError(
                    f"L1 origin 0x{epoch.hash.hex()} conflicts with the parent's L1 origin "
                    f"0x{parent.l1_origin.hash.hex()} at {epoch.number}"
                )
            seq_number = parent.sequence_number + 1
        timestamp = parent.timestamp + cfg.block_time
        if timestamp < header.timestamp:
            raise ResetError(
                f"L2 block at {timestamp} would be before its L1 origin {epoch.number} "
                f"at {header.timestamp}"
            )
        upgrades = upgrade_transactions_for_block(cfg, timestamp)
        try:
            l1_info = l1_info_deposit(
                cfg, system_config, header, seq_number, timestamp, blob_schedule=self.blob_schedule
            )
        except DecodeError as exc:
            raise CriticalError(f"cannot build the L1-info deposit: {exc}") from None
        eip1559_params = None
        if cfg.is_holocene(timestamp):
            if cfg.is_holocene(parent.timestamp):
                eip1559_params = system_config.eip1559_params_bytes()
            else:
                eip1559_params = bytes(8)  # activation block: the EL uses the Canyon constants
        parent_beacon_root = None
        if cfg.is_ecotone(timestamp):
            parent_beacon_root = header.parent_beacon_block_root or ZERO_HASH
        return PayloadAttributes(
            timestamp=timestamp,
            prev_randao=header.mix_hash,
            suggested_fee_recipient=SEQUENCER_FEE_VAULT_ADDRESS,
            withdrawals=() if cfg.is_canyon(timestamp) else None,
            parent_beacon_block_root=parent_beacon_root,
            transactions=(l1_info.encode(), *deposits, *upgrades),
            no_tx_pool=True,
            gas_limit=system_config.gas_limit + upgrade_gas(cfg, timestamp),
            eip1559_params=eip1559_params,
            min_base_fee=system_config.min_base_fee if cfg.is_jovian(timestamp) else None,
        )


class AttributesQueue(Stage[SingularBatchProvider]):
    """The top stage: turns each valid batch into :class:`AttributesWithParent`.

    The batch is kept until its attributes are built, so a temporary failure of the builder
    retries the same batch.
    """

    name = "attributes queue"

    def __init__(
        self,
        prev: SingularBatchProvider,
        builder: AttributesBuilder,
        rollup_config: RollupConfig,
    ):
        super().__init__(prev)
        self.builder = builder
        self.rollup_config = rollup_config
        self._batch: SingularBatch | None = None
        self._last_in_span = False
        self.attributes_prepared = 0

    async def next_attributes(self, parent: L2BlockRef) -> AttributesWithParent:
        """Attributes for the block after ``parent`` (the safe head).

        Spec: specs/protocol/derivation.md, Building Individual Payload Attributes; op-node
        ``AttributesQueue.NextAttributes``.
        """
        if self._batch is None:
            self._batch, self._last_in_span = await self.prev.next_batch(parent)
        batch = self._batch
        if batch.parent_hash != parent.hash:
            raise ResetError(
                f"valid batch has parent 0x{batch.parent_hash.hex()}, "
                f"expected 0x{parent.hash.hex()}"
            )
        expected = parent.timestamp + self.rollup_config.block_time
        if batch.timestamp != expected:
            raise ResetError(f"valid batch has timestamp {batch.timestamp}, expected {expected}")
        attributes = await self.builder.prepare_payload_attributes(
            parent, BlockID(batch.epoch_hash, batch.epoch_num)
        )
        attributes = dataclasses.replace(
            attributes,
            no_tx_pool=True,
            transactions=attributes.transactions + tuple(batch.transactions),
        )
        origin = self.origin
        assert origin is not None
        result = AttributesWithParent(attributes, parent, self._last_in_span, origin)
        self._batch = None
        self._last_in_span = False
        self.attributes_prepared += 1
        return result

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self._batch = None
            self._last_in_span = False

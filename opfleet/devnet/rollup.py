"""The rollup configuration tying an L1 (an :class:`~opfleet.devnet.l1.L1Chain`, or any L1 as an
:class:`L1Anchor`) to an execution engine (:class:`~opfleet.devnet.engine.ExecutionEngine`).

Spec: ``specs/protocol/derivation.md`` ("Protocol Parameters"). The L1 genesis is the anchor's
block (an embedded L1's block 0), the L2 genesis the engine's genesis block (so
``genesis.l2.hash`` is a real ``keccak256(rlp(header))``), the deposit contract and SystemConfig
addresses are the anchor's (the ones an embedded L1 emulates), and the fork times are the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opfleet.devnet.engine import ExecutionEngine, ForkTimes
from opfleet.devnet.l1 import DEFAULT_PORTAL_ADDRESS, DEFAULT_SYSTEM_CONFIG_ADDRESS, L1Chain
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.rollup_config import Genesis, RollupConfig
from opfleet.protocol.system_config import SystemConfig, encode_scalar

DEFAULT_BATCH_INBOX = bytes.fromhex("ff00000000000000000000000000000000000901")


@dataclass(frozen=True, slots=True)
class L1Anchor:
    """Where an L2 chain sits on its L1: the L1 block its genesis starts from, the L1's chain id,
    and the portal and SystemConfig the chain reads (an embedded :class:`L1Chain` or any L1)."""

    genesis: BlockID
    chain_id: int
    portal_address: bytes = DEFAULT_PORTAL_ADDRESS
    system_config_address: bytes = DEFAULT_SYSTEM_CONFIG_ADDRESS

    @classmethod
    def of(cls, l1: L1Chain) -> L1Anchor:
        """An embedded L1's genesis and the contracts it emulates."""
        return cls(BlockID(l1.genesis.hash, 0), l1.config.chain_id, l1.config.portal_address,
                   l1.config.system_config_address)


def devnet_rollup_config(
    l1: L1Chain | L1Anchor,
    engine: ExecutionEngine,
    *,
    batcher: bytes,
    batch_inbox: bytes = DEFAULT_BATCH_INBOX,
    block_time: int = 2,
    seq_window_size: int = 100,
    channel_timeout: int = 50,
    max_sequencer_drift: int = 600,
    system_config: SystemConfig | None = None,
    keep_karst_upgrade_gas: bool = False,
) -> RollupConfig:
    """A :class:`RollupConfig` for a devnet made of ``l1`` and ``engine``.

    ``engine.config.forks`` must be a :class:`ForkTimes` (its times become the ``*_time``
    fields). The genesis system config defaults to ``batcher``, a version-1 scalar (base fee
    scalar 1000) and the engine's gas limit. ``keep_karst_upgrade_gas`` is the rollup config key
    of that name (keep Karst's upgrade gas in the gas limit after its activation block).
    """
    anchor = l1 if isinstance(l1, L1Anchor) else L1Anchor.of(l1)
    settings = engine.config
    forks = settings.forks
    if not isinstance(forks, ForkTimes):
        raise TypeError("the engine's forks must be ForkTimes to derive a rollup config from them")
    if system_config is None:
        system_config = SystemConfig(batcher_address=batcher, scalar=encode_scalar(0, 1000),
                                     gas_limit=settings.gas_limit)
    fork_fields: dict[str, Any] = forks.rollup_config_fields()
    genesis = Genesis(anchor.genesis, engine.genesis_id, settings.genesis_time, system_config)
    return RollupConfig(
        genesis=genesis,
        block_time=block_time,
        seq_window_size=seq_window_size,
        channel_timeout=channel_timeout,
        l1_chain_id=anchor.chain_id,
        l2_chain_id=settings.chain_id,
        batch_inbox_address=batch_inbox,
        deposit_contract_address=anchor.portal_address,
        l1_system_config_address=anchor.system_config_address,
        max_sequencer_drift_pre_fjord=max_sequencer_drift,
        keep_karst_upgrade_gas=keep_karst_upgrade_gas,
        **fork_fields,
    )

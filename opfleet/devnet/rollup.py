"""The rollup configuration tying an :class:`~opfleet.devnet.l1.L1Chain` to a :class:`~opfleet.devnet.engine.DevEngine`.

Spec: ``specs/protocol/derivation.md`` ("Protocol Parameters"). The L1 genesis is the L1 chain's
block 0, the L2 genesis the engine's genesis block (so ``genesis.l2.hash`` is a real
``keccak256(rlp(header))``), the deposit contract and SystemConfig addresses are the ones the L1
emulates, and the fork times are the engine's.
"""

from __future__ import annotations

from typing import Any

from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.devnet.l1 import L1Chain
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.rollup_config import Genesis, RollupConfig
from opfleet.protocol.system_config import SystemConfig, encode_scalar

DEFAULT_BATCH_INBOX = bytes.fromhex("ff00000000000000000000000000000000000901")


def devnet_rollup_config(
    l1: L1Chain,
    engine: DevEngine,
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
    forks = engine.config.forks
    if not isinstance(forks, ForkTimes):
        raise TypeError("the engine's forks must be ForkTimes to derive a rollup config from them")
    if system_config is None:
        system_config = SystemConfig(batcher_address=batcher, scalar=encode_scalar(0, 1000),
                                     gas_limit=engine.config.gas_limit)
    fork_fields: dict[str, Any] = forks.rollup_config_fields()
    genesis = Genesis(BlockID(l1.genesis.hash, 0), engine.genesis_id, engine.genesis.timestamp, system_config)
    return RollupConfig(
        genesis=genesis,
        block_time=block_time,
        seq_window_size=seq_window_size,
        channel_timeout=channel_timeout,
        l1_chain_id=l1.config.chain_id,
        l2_chain_id=engine.config.chain_id,
        batch_inbox_address=batch_inbox,
        deposit_contract_address=l1.config.portal_address,
        l1_system_config_address=l1.config.system_config_address,
        max_sequencer_drift_pre_fjord=max_sequencer_drift,
        keep_karst_upgrade_gas=keep_karst_upgrade_gas,
        **fork_fields,
    )

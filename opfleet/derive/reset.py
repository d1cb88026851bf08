"""Sync start: where to restart derivation after a restart or a reset.

Two points are needed (Spec: ``specs/protocol/derivation.md``, "Resetting the Pipeline"):

- the **safe start**: the L2 block derivation resumes on top of. Before Holocene, batches
  may have been buffered, and L1 may have reorged under the safe chain, so walk back from
  the safe head past blocks whose L1 origin is not canonical, then until the L1 origin is
  more than ``seq_window_size`` blocks older than the newest canonical one, stopping at an
  epoch boundary (op-node ``FindL2Heads``). From Holocene, batches are never buffered or
  invalidated backwards, so the safe head itself is the start (the "Holocene shortcut",
  ``specs/protocol/holocene/derivation.md`` "Sync Start"), provided its L1 origin is canonical.
- the **L1 base**: the pipeline's first L1 origin, one channel timeout before the safe
  start's L1 origin, so that channels opened before it are read whole (op-node
  ``initialReset``). The system config to reset with is the one of the L2 block whose L1
  origin is that base.

The walks jump instead of stepping block by block where that is safe: consecutive L2 blocks
advance their L1 origin by at most one, so stepping back ``d`` blocks never skips past the
first block whose origin is ``d`` lower; and a block's sequence number is its distance to
the first block of its epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from opfleet.derive.errors import ResetError, TemporaryError
from opfleet.derive.interfaces import ChainProvider, L2ChainProvider
from opfleet.errors import BlockNotFoundError
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig


@dataclass(frozen=True, slots=True)
class SyncStart:
    """Where derivation restarts: build on ``safe_head``; reset the pipeline with ``l1_base``
    and ``system_config``."""

    safe_head: L2BlockRef
    l1_base: L1BlockRef
    system_config: SystemConfig


async def _is_canonical(chain: ChainProvider, block: L2BlockRef) -> bool:
    """Whether the L2 block's L1 origin is on the canonical L1 chain."""
    try:
        ref = await chain.block_ref(block.l1_origin.number)
    except BlockNotFoundError:
        return False  # ahead of our L1 view, or reorged away: not usable as a start
    return ref.hash == block.l1_origin.hash


async def _block_at(l2: L2ChainProvider, number: int, genesis_number: int) -> L2BlockRef:
    return await l2.l2_block_ref(max(number, genesis_number))


async def find_safe_start(
    rollup_config: RollupConfig,
    chain: ChainProvider,
    l2: L2ChainProvider,
    safe_head: L2BlockRef,
    *,
    finalized: L2BlockRef | None = None,
) -> L2BlockRef:
    """The L2 block to resume derivation on top of (see the module docstring).

    Never walks below ``finalized`` (when given) or the L2 genesis. Raises
    :class:`ResetError` when even those have a non-canonical L1 origin.

    Spec: specs/protocol/derivation.md, Resetting the Pipeline; holocene/derivation.md, Sync Start.
    """
    cfg = rollup_config
    genesis = cfg.genesis.l2.number
    floor = max(genesis, finalized.number if finalized is not None else genesis)
    block = safe_head
    # Skip blocks built on L1 blocks that are no longer canonical.
    while not await _is_canonical(chain, block):
        if block.number <= floor:
            raise ResetError(
                f"L2 block {block.number} has L1 origin {block.l1_origin.number} that is not "
                "canonical, and it is the finalized (or genesis) block"
            )
        # Every block of a non-canonical epoch is out: jump to the previous epoch's last block.
        block = await _block_at(l2, block.number - block.sequence_number - 1, floor)
    origin = await chain.block_ref(block.l1_origin.number)
    if cfg.is_holocene(origin.timestamp):
        return block
    # Pre-Holocene: a full sequencing window behind the newest canonical origin, at an epoch
    # boundary: the start is the last block of the epoch before the target one.
    target = block.l1_origin.number - cfg.seq_window_size - 1
    while block.number > floor:
        if block.l1_origin.number > target:
            step = block.l1_origin.number - target
        elif block.sequence_number > 0:
            step = block.sequence_number
        else:
            return await _block_at(l2, block.number - 1, floor)
        block = await _block_at(l2, max(block.number - step, floor), floor)
    return block


async def find_sync_start(
    rollup_config: RollupConfig,
    chain: ChainProvider,
    l2: L2ChainProvider,
    safe_head: L2BlockRef,
    *,
    finalized: L2BlockRef | None = None,
) -> SyncStart:
    """The safe start, the pipeline's L1 base one channel timeout before its L1 origin, and
    the system config to reset with.

    Spec: specs/protocol/derivation.md, Resetting the Pipeline; op-node ``initialReset``.
    """
    cfg = rollup_config
    start = await find_safe_start(cfg, chain, l2, safe_head, finalized=finalized)
    start_origin = await chain.block_ref(start.l1_origin.number)
    if start_origin.hash != start.l1_origin.hash:
        raise ResetError(f"L1 origin of L2 block {start.number} changed during sync start")
    target = start.l1_origin.number - cfg.channel_timeout_at(start_origin.timestamp)
    genesis = cfg.genesis
    block = start
    while (
        block.number > genesis.l2.number
        and block.l1_origin.number > genesis.l1.number
        and block.l1_origin.number > target
    ):
        step = block.l1_origin.number - target
        block = await _block_at(l2, block.number - step, genesis.l2.number)
    try:
        base = await chain.block_ref(block.l1_origin.number)
    except BlockNotFoundError:
        raise TemporaryError(f"L1 block {block.l1_origin.number} not available") from None
    if base.hash != block.l1_origin.hash:
        raise ResetError(
            f"L1 origin {block.l1_origin.number} of L2 block {block.number} is not canonical"
        )
    system_config = await l2.system_config_by_number(block.number)
    return SyncStart(start, base, system_config)

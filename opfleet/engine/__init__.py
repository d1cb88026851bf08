"""The engine side of a rollup node: applying derived attributes to an execution client.

:mod:`~opfleet.engine.driver` (:class:`EngineDriver`: heads, consolidation, block building,
Holocene deposits-only replacement, finality, ``optimism_syncStatus``) and
:mod:`~opfleet.engine.l2_chain` (:class:`EngineL2Chain`: the L2 chain as the derivation
pipeline reads it, over the execution client's RPC).
"""

from opfleet.engine.driver import (
    DriverStatistics,
    EngineDriver,
    ProcessOutcome,
    attributes_mismatch,
    deposits_only,
    expected_extra_data,
    ref_from_transactions,
)
from opfleet.engine.l2_chain import EngineL2Chain, FullL2Block

__all__ = [
    "DriverStatistics",
    "EngineDriver",
    "EngineL2Chain",
    "FullL2Block",
    "ProcessOutcome",
    "attributes_mismatch",
    "deposits_only",
    "expected_extra_data",
    "ref_from_transactions",
]

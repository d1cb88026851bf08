"""The L2 execution layer as the derivation pipeline and the engine driver read it.

There is one L2 reader with one block cache, :class:`~opfleet.providers.l2.L2Provider`: refs
and outputs for the nodes, and for the pipeline's
:class:`~opfleet.derive.interfaces.L2ChainProvider` the system config that produced a block and
its transactions as EIP-2718 bytes, and for the driver the fields it compares when
consolidating derived attributes with an existing unsafe block (fee recipient, ``extraData``,
withdrawals). :class:`EngineL2Chain` is its name on the engine side.

Spec: ``specs/protocol/derivation.md`` ("Resetting the Pipeline"); op-node
``sources.L2Client.SystemConfigByL2Hash`` / ``PayloadToSystemConfig``.
"""

from __future__ import annotations

from opfleet.providers.l2 import FullL2Block as FullL2Block
from opfleet.providers.l2 import L2Provider
from opfleet.providers.l2 import deposit_from_json as deposit_from_json
from opfleet.providers.l2 import raw_transaction as raw_transaction

__all__ = ["EngineL2Chain", "FullL2Block", "deposit_from_json", "raw_transaction"]


class EngineL2Chain(L2Provider):
    """:class:`~opfleet.derive.interfaces.L2ChainProvider` over the L2 execution client's RPC:
    the L2 reader itself (full blocks and refs share its cache by hash)."""

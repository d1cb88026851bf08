"""Result types of the rollup-node JSON-RPC API (op-node's ``optimism_*``, opfleet's additions).

Pure: parsers from the decoded JSON, no I/O (the client is ``opfleet.providers.rollup_node``).
Shapes follow op-node: ``eth.OutputResponse`` (``op-service/eth/output.go``), the safe-head
database's ``eth.SafeHeadResponse`` and the rollup ``Config`` (``op-node/rollup/types.go``);
``supernode_syncStatus`` follows op-supernode. Every malformed answer is a
:class:`~opfleet.errors.DecodeError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.block_ref import BlockID, L2BlockRef, block_id_from_json
from opfleet.protocol.hexjson import json_object, parse_data
from opfleet.protocol.sync_status import SyncStatus

__all__ = ["ChainIdentity", "NodeInfo", "OutputResponse", "SafeHeadResponse", "SupernodeSyncStatus"]


@dataclass(frozen=True, slots=True)
class OutputResponse:
    """``optimism_outputAtBlock``'s answer. ``sync_status`` is None when the node leaves it out."""

    version: bytes
    output_root: bytes
    block_ref: L2BlockRef
    withdrawal_storage_root: bytes
    state_root: bytes
    sync_status: SyncStatus | None = None

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "outputAtBlock") -> OutputResponse:
        obj = json_object(obj, where)
        status = obj.get("syncStatus")
        return cls(
            version=parse_data(obj.get("version"), 32, f"{where}.version"),
            output_root=parse_data(obj.get("outputRoot"), 32, f"{where}.outputRoot"),
            block_ref=L2BlockRef.from_json(obj.get("blockRef"), where=f"{where}.blockRef"),
            withdrawal_storage_root=parse_data(obj.get("withdrawalStorageRoot"), 32, f"{where}.withdrawalStorageRoot"),
            state_root=parse_data(obj.get("stateRoot"), 32, f"{where}.stateRoot"),
            sync_status=None if status is None else SyncStatus.from_json(status),
        )


@dataclass(frozen=True, slots=True)
class SafeHeadResponse:
    """``optimism_safeHeadAtL1Block``: the newest safe head recorded at or below an L1 block."""

    l1_block: BlockID
    safe_head: BlockID

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "safeHeadAtL1Block") -> SafeHeadResponse:
        obj = json_object(obj, where)
        return cls(l1_block=block_id_from_json(obj.get("l1Block"), where=f"{where}.l1Block"),
                   safe_head=block_id_from_json(obj.get("safeHead"), where=f"{where}.safeHead"))


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """``opfleet_nodeInfo``: what an opfleet node is (``role``, None when not a string), the
    masked URLs it follows and, from an opfleet proxy, its consensus state (``proxy``, unparsed)."""

    role: str | None
    follows: tuple[str, ...] = ()
    proxy: Any = None

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "nodeInfo") -> NodeInfo:
        obj = json_object(obj, where)
        role = obj.get("role")
        follows = obj.get("follows")
        return cls(role=role if isinstance(role, str) else None,
                   follows=tuple(f for f in follows if isinstance(f, str) and f) if isinstance(follows, list) else (),
                   proxy=obj.get("proxy"))


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """What a node's ``optimism_rollupConfig`` says about which chain it is on, read leniently.

    A watcher or a follower only needs these few keys, and must not refuse a node whose config
    carries keys or forks this release does not know; absent or ill-typed keys are None.
    """

    l2_chain_id: int | None = None
    block_time: float | None = None
    l1_genesis_hash: str | None = None
    """Lower-case ``0x`` hex as the node wrote it."""
    l2_genesis_hash: str | None = None

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "rollupConfig") -> ChainIdentity:
        obj = json_object(obj, where)
        chain_id = obj.get("l2_chain_id")
        block_time = obj.get("block_time")
        return cls(
            l2_chain_id=chain_id if isinstance(chain_id, int) and not isinstance(chain_id, bool) else None,
            block_time=(float(block_time) if isinstance(block_time, (int, float)) and not isinstance(block_time, bool)
                        and block_time > 0 else None),
            l1_genesis_hash=_genesis_hash(obj, "l1"),
            l2_genesis_hash=_genesis_hash(obj, "l2"),
        )


def _genesis_hash(config: Mapping[str, Any], layer: str) -> str | None:
    genesis = config.get("genesis")
    block = genesis.get(layer) if isinstance(genesis, dict) else None
    value = block.get("hash") if isinstance(block, dict) else None
    return value.lower() if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class SupernodeSyncStatus:
    """``supernode_syncStatus``: each chain's SyncStatus JSON by chain id (as text), unparsed, so
    one garbled chain does not hide the others; :meth:`status` parses one."""

    chains: Mapping[str, Any]

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "supernode_syncStatus") -> SupernodeSyncStatus:
        chains = obj.get("chains") if isinstance(obj, dict) else None
        if not isinstance(chains, dict):
            raise DecodeError(f"{where}: expected an object with \"chains\"")
        return cls(chains={str(chain): status for chain, status in chains.items()})

    def chain_ids(self) -> list[str]:
        """Chain ids in numeric order (any that are not numbers last)."""
        return sorted(self.chains, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))

    def status(self, chain: str) -> SyncStatus:
        return SyncStatus.from_json(self.chains[chain])

"""Super roots (version 1) and the supernode's root-level JSON shapes (pure).

SuperRoot V1 = ``keccak256(0x01 ‖ uint64_be(timestamp) ‖ for each chain, by chain ID:
uint256_be(chainID) ‖ outputRoot)``. Shapes follow op-service ``eth/super_root.go``,
``eth/superroot_at_timestamp.go``, ``eth/supernode_status.go`` and ``eth/chain_id.go`` as Go's
encoding/json writes them: struct fields in declaration order, chain IDs decimal strings (map
keys sorted as strings), block numbers and timestamps plain JSON numbers, the super root's own
``timestamp`` a hex quantity and its chains ``ChainIDAndOutput`` (no JSON tags: ``ChainID``,
``Output``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opfleet.protocol.block_ref import BlockID, block_id_to_json
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.output_root import OutputV0
from opfleet.protocol.sync_status import SyncStatus

SUPER_ROOT_VERSION_V1 = 1


def super_v1_marshal(timestamp: int, outputs: Mapping[int, bytes]) -> bytes:
    """The super root preimage: version, timestamp, then (chain ID, output root) by chain ID."""
    out = bytes([SUPER_ROOT_VERSION_V1]) + timestamp.to_bytes(8, "big")
    for chain_id in sorted(outputs):
        root = outputs[chain_id]
        if len(root) != 32:
            raise ValueError(f"chain {chain_id}: output root must be 32 bytes")
        out += chain_id.to_bytes(32, "big") + root
    return out


def super_root_v1(timestamp: int, outputs: Mapping[int, bytes]) -> bytes:
    """``keccak256`` of :func:`super_v1_marshal`."""
    return keccak256(super_v1_marshal(timestamp, outputs))


def _h(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass(frozen=True, slots=True)
class ChainOutput:
    """One chain's output at a timestamp, with the L1 block needed to derive it."""

    output: OutputV0
    required_l1: BlockID
    verified: bool
    """Whether the block is cross-safe (verified), not just local-safe."""


def superroot_response_json(
    *,
    timestamp: int,
    current_l1: BlockID,
    safe_timestamp: int,
    local_safe_timestamp: int,
    finalized_timestamp: int,
    outputs: Mapping[int, ChainOutput],
    chain_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """``superroot_atTimestamp``'s result. ``chain_ids`` is the whole interop set (default: the
    chains in ``outputs``); a chain that has not derived ``timestamp`` yet has no entry in
    ``outputs`` and is left out of ``optimistic_at_timestamp``. ``data`` (the super root) is
    present only when every chain has a verified block at ``timestamp`` (op-supernode:
    ``omitempty``)."""
    chain_ids = sorted(outputs if chain_ids is None else set(chain_ids))
    out: dict[str, Any] = {
        "current_l1": block_id_to_json(current_l1),
        "safe_timestamp": safe_timestamp,
        "local_safe_timestamp": local_safe_timestamp,
        "finalized_timestamp": finalized_timestamp,
        "optimistic_at_timestamp": {
            str(cid): {
                "output": {"stateRoot": _h(o.output.state_root),
                           "messagePasserStorageRoot": _h(o.output.message_passer_storage_root),
                           "blockHash": _h(o.output.block_hash)},
                "output_root": _h(o.output.output_root()),
                "required_l1": block_id_to_json(o.required_l1),
            } for cid, o in sorted(outputs.items(), key=lambda item: str(item[0]))
        },
        "chain_ids": [str(cid) for cid in chain_ids],
    }
    if chain_ids and all(cid in outputs and outputs[cid].verified for cid in chain_ids):
        roots = {cid: o.output.output_root() for cid, o in outputs.items()}
        required = max((o.required_l1 for o in outputs.values()), key=lambda b: b.number)
        out["data"] = {
            "verified_required_l1": block_id_to_json(required),
            "super": {"timestamp": hex(timestamp),
                      "chains": [{"ChainID": str(cid), "Output": _h(roots[cid])} for cid in chain_ids]},
            "super_root": _h(super_root_v1(timestamp, roots)),
        }
    return out


def supernode_status_json(chains: Mapping[int, SyncStatus], *, current_l1: BlockID) -> dict[str, Any]:
    """``supernode_syncStatus``: every chain's SyncStatus plus the minimum timestamps."""
    ids = sorted(chains)

    def lowest(key: str) -> int:
        return min((getattr(chains[c], key).timestamp for c in ids), default=0)

    return {
        "chains": {str(cid): chains[cid].to_json() for cid in sorted(ids, key=str)},  # Go sorts map keys as text
        "chain_ids": [str(cid) for cid in ids],
        "current_l1": block_id_to_json(current_l1),
        "safe_timestamp": lowest("safe_l2"),
        "local_safe_timestamp": lowest("local_safe_l2"),
        "finalized_timestamp": lowest("finalized_l2"),
    }

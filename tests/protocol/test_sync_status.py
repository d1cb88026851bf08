"""SyncStatus JSON: op-node's exact keys and order, zero values, strict parsing."""

from __future__ import annotations

import json

import pytest

from opfleet.errors import DecodeError
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus

OP_NODE_KEYS = ["current_l1", "current_l1_finalized", "head_l1", "safe_l1", "finalized_l1",
                "unsafe_l2", "safe_l2", "finalized_l2", "pending_safe_l2", "cross_unsafe_l2",
                "local_safe_l2"]


def l1(n: int) -> L1BlockRef:
    return L1BlockRef(bytes([n]) * 32, n, bytes([n - 1]) * 32, 1000 + 12 * n)


def l2(n: int, origin: int) -> L2BlockRef:
    return L2BlockRef(bytes([0x80 + n]) * 32, n, bytes([0x7F + n]) * 32, 2000 + 2 * n,
                      BlockID(bytes([origin]) * 32, origin), n % 3)


def test_zero_status_has_all_eleven_keys():
    out = SyncStatus().to_json()
    assert list(out) == OP_NODE_KEYS
    assert out["safe_l2"] == {"hash": "0x" + "00" * 32, "number": 0, "parentHash": "0x" + "00" * 32,
                              "timestamp": 0, "l1origin": {"hash": "0x" + "00" * 32, "number": 0},
                              "sequenceNumber": 0}


def test_round_trip_and_deprecated_field():
    status = SyncStatus(current_l1=l1(5), head_l1=l1(9), safe_l1=l1(7), finalized_l1=l1(3),
                        unsafe_l2=l2(20, 8), safe_l2=l2(10, 5), finalized_l2=l2(4, 2),
                        pending_safe_l2=l2(11, 5), cross_unsafe_l2=l2(20, 8),
                        local_safe_l2=l2(11, 5))
    out = json.loads(json.dumps(status.to_json()))
    assert out["current_l1_finalized"] == out["finalized_l1"]
    assert out["unsafe_l2"]["sequenceNumber"] == 2 and out["unsafe_l2"]["l1origin"]["number"] == 8
    assert SyncStatus.from_json(out) == status


def test_parse_errors_name_the_field():
    out = SyncStatus().to_json()
    del out["head_l1"]
    with pytest.raises(DecodeError, match="head_l1"):
        SyncStatus.from_json(out)
    out = SyncStatus().to_json()
    out["safe_l2"]["number"] = "0x1"
    with pytest.raises(DecodeError, match="safe_l2"):
        SyncStatus.from_json(out)
    with pytest.raises(DecodeError):
        SyncStatus.from_json([])


def test_older_op_node_without_local_safe_and_cross_unsafe():
    full = SyncStatus(safe_l2=l2(10, 5), unsafe_l2=l2(20, 8)).to_json()
    del full["local_safe_l2"], full["cross_unsafe_l2"]
    status = SyncStatus.from_json(full)
    assert status.local_safe_l2 == status.safe_l2 == l2(10, 5)
    assert status.cross_unsafe_l2 == status.unsafe_l2

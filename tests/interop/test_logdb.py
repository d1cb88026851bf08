"""The per-chain log database (sqlite, survives restarts) and the super root encoding."""

from __future__ import annotations

import pytest

from opfleet.interop.logdb import LogDB, LogDBError
from opfleet.interop.messages import ExecutingMessage, Identifier
from opfleet.interop.superroot import ChainOutput, super_root_v1, super_v1_marshal, superroot_response_json
from opfleet.interop.verify import IndexedLog
from opfleet.protocol.block_ref import BlockID, L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.output_root import OutputV0


def seal(n: int, parent: bytes | None = None) -> L2BlockRef:
    return L2BlockRef(bytes([n]) * 32, n, parent if parent is not None else bytes([n - 1]) * 32, 1000 + 2 * n,
                      BlockID(bytes([100 + n]) * 32, 50 + n), n % 3)


def test_blocks_logs_verified_and_deny_list_survive_a_restart(tmp_path):
    path = tmp_path / "901" / "logs.db"
    db = LogDB(path, chain_id=901)
    msg = ExecutingMessage(Identifier(b"\x05" * 20, 3, 1, 1006, 902), b"\x07" * 32)
    db.add_block(seal(1), [IndexedLog(0, b"\x01" * 20, b"\x02" * 32)])
    db.add_block(seal(2), [IndexedLog(0, b"\x03" * 20, b"\x04" * 32, msg), IndexedLog(1, b"\x01" * 20, b"\x09" * 32)])
    ref = seal(2)
    db.set_verified(ref)
    db.deny(3, b"\x33" * 32, b"\x00" * 128)
    db.close()

    db = LogDB(path, chain_id=901)
    assert db.latest() == seal(2) and db.verified() == ref
    logs = db.block_logs(2)
    assert logs is not None and logs.timestamp == 1004 and [entry.log_index for entry in logs.logs] == [0, 1]
    assert logs.logs[0].executing == msg and logs.logs[1].executing is None
    assert db.find_log(2, 1) == (1004, IndexedLog(1, b"\x01" * 20, b"\x09" * 32))
    assert db.find_log(2, 5) is None and db.find_log(9, 0) is None
    assert db.denied(3, b"\x33" * 32) == b"\x00" * 128 and db.denied(3, b"\x34" * 32) is None
    assert db.last_at_or_before(1003) == seal(1)

    with pytest.raises(LogDBError):  # does not link to block 2
        db.add_block(seal(3, parent=b"\xff" * 32), [])
    with pytest.raises(LogDBError):  # a gap
        db.add_block(seal(4), [])
    db.rewind_to(1)  # a reorg: the verified head above the new tip goes too
    assert db.latest() == seal(1) and db.verified() is None and db.find_log(2, 0) is None
    db.add_block(seal(2, parent=seal(1).hash), [])
    assert db.block_logs(2).logs == ()
    db.close()


def test_super_root_v1_layout_and_response_shape():
    roots = {902: b"\x02" * 32, 901: b"\x01" * 32}
    pre = super_v1_marshal(0x0102030405060708, roots)
    assert pre[0] == 1 and pre[1:9] == bytes(range(1, 9))
    assert pre[9:41] == (901).to_bytes(32, "big") and pre[41:73] == b"\x01" * 32  # sorted by chain ID
    assert pre[73:105] == (902).to_bytes(32, "big") and len(pre) == 1 + 8 + 2 * 64
    assert super_root_v1(0x0102030405060708, roots) == keccak256(pre)

    out = {901: ChainOutput(OutputV0(b"\x11" * 32, b"\x12" * 32, b"\x13" * 32), BlockID(b"\x21" * 32, 5), True),
           902: ChainOutput(OutputV0(b"\x14" * 32, b"\x15" * 32, b"\x16" * 32), BlockID(b"\x22" * 32, 6), False)}
    body = superroot_response_json(timestamp=100, current_l1=BlockID(b"\x31" * 32, 9), safe_timestamp=98,
                                   local_safe_timestamp=100, finalized_timestamp=90, outputs=out)
    assert list(body) == ["current_l1", "safe_timestamp", "local_safe_timestamp", "finalized_timestamp",
                          "optimistic_at_timestamp", "chain_ids"]  # no data: 902 is not verified yet
    assert body["chain_ids"] == ["901", "902"]
    assert body["optimistic_at_timestamp"]["901"]["output_root"] == "0x" + out[901].output.output_root().hex()
    verified = {k: ChainOutput(v.output, v.required_l1, True) for k, v in out.items()}
    data = superroot_response_json(timestamp=100, current_l1=BlockID(b"\x31" * 32, 9), safe_timestamp=100,
                                   local_safe_timestamp=100, finalized_timestamp=90, outputs=verified)["data"]
    expected = super_root_v1(100, {k: v.output.output_root() for k, v in out.items()})
    assert data["super_root"] == "0x" + expected.hex() and data["super"]["timestamp"] == "0x64"
    assert data["verified_required_l1"]["number"] == 6


def test_superroot_response_is_op_supernodes_json_byte_for_byte():
    """op-service eth.SuperRootAtTimestampResponse as encoding/json writes it: struct fields in
    order, map keys (decimal chain IDs) sorted as strings, SuperV1 chains as ChainIDAndOutput
    (no JSON tags: "ChainID", "Output"), hex timestamp, plain JSON numbers elsewhere."""
    import json

    out = {9: ChainOutput(OutputV0(b"\x11" * 32, b"\x12" * 32, b"\x13" * 32), BlockID(b"\x21" * 32, 5), True),
           10: ChainOutput(OutputV0(b"\x14" * 32, b"\x15" * 32, b"\x16" * 32), BlockID(b"\x22" * 32, 6), True)}
    body = superroot_response_json(timestamp=300, current_l1=BlockID(b"\x31" * 32, 9), safe_timestamp=298,
                                   local_safe_timestamp=300, finalized_timestamp=290, outputs=out,
                                   chain_ids=[10, 9])

    def h(b: bytes) -> str:
        return "0x" + b.hex()

    def entry(o: ChainOutput) -> str:
        return ('{"output":{"stateRoot":"%s","messagePasserStorageRoot":"%s","blockHash":"%s"},'
                '"output_root":"%s","required_l1":{"hash":"%s","number":%d}}'
                % (h(o.output.state_root), h(o.output.message_passer_storage_root), h(o.output.block_hash),
                   h(o.output.output_root()), h(o.required_l1.hash), o.required_l1.number))

    root = super_root_v1(300, {k: v.output.output_root() for k, v in out.items()})
    expected = (
        '{"current_l1":{"hash":"%s","number":9},"safe_timestamp":298,"local_safe_timestamp":300,'
        '"finalized_timestamp":290,"optimistic_at_timestamp":{"10":%s,"9":%s},"chain_ids":["9","10"],'
        '"data":{"verified_required_l1":{"hash":"%s","number":6},"super":{"timestamp":"0x12c","chains":['
        '{"ChainID":"9","Output":"%s"},{"ChainID":"10","Output":"%s"}]},"super_root":"%s"}}'
        % (h(b"\x31" * 32), entry(out[10]), entry(out[9]), h(b"\x22" * 32), h(out[9].output.output_root()),
           h(out[10].output.output_root()), h(root)))
    assert json.dumps(body, separators=(",", ":")) == expected


def test_superroot_response_without_every_chain_has_no_data():
    """A chain that has not derived the timestamp is left out of optimistic_at_timestamp (still in
    chain_ids) and there is no ``data`` (op-supernode: omitempty), not an error."""
    import json

    one = {901: ChainOutput(OutputV0(b"\x11" * 32, b"\x12" * 32, b"\x13" * 32), BlockID(b"\x21" * 32, 5), True)}
    body = superroot_response_json(timestamp=100, current_l1=BlockID(b"\x31" * 32, 9), safe_timestamp=98,
                                   local_safe_timestamp=98, finalized_timestamp=90, outputs=one,
                                   chain_ids=[901, 902])
    assert list(body) == ["current_l1", "safe_timestamp", "local_safe_timestamp", "finalized_timestamp",
                          "optimistic_at_timestamp", "chain_ids"]
    assert list(body["optimistic_at_timestamp"]) == ["901"] and body["chain_ids"] == ["901", "902"]
    none = superroot_response_json(timestamp=100, current_l1=BlockID(b"\x31" * 32, 9), safe_timestamp=98,
                                   local_safe_timestamp=98, finalized_timestamp=90, outputs={},
                                   chain_ids=[901, 902])
    assert json.dumps(none["optimistic_at_timestamp"]) == "{}" and "data" not in none


def test_supernode_status_chains_are_keyed_as_go_sorts_map_keys():
    from opfleet.interop.superroot import supernode_status_json
    from opfleet.protocol.sync_status import SyncStatus

    body = supernode_status_json({9: SyncStatus(), 10: SyncStatus()}, current_l1=BlockID(b"\x31" * 32, 9))
    assert list(body["chains"]) == ["10", "9"] and body["chain_ids"] == ["9", "10"]

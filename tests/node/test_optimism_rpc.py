"""optimism_* / admin_* handlers against a stub node: op-node's parameter and error behaviour
(op-node/node/api.go, op-service/sources/rollupclient.go; go-ethereum rpc/errors.go)."""

from __future__ import annotations

import json
import logging

import pytest

from opfleet.errors import BlockNotFoundError
from opfleet.node.safedb import SafeHeadDB
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.sync_status import SyncStatus
from opfleet.rpc.optimism import parse_hex_uint64, rollup_config_json, source_rpc_server, version_string
from opfleet.rpc.server import InvalidParams
from opfleet.testing.derive import FakeL1Chain, make_rollup_config


class StubNode:
    def __init__(self):
        self.rollup_config = make_rollup_config(FakeL1Chain())
        self.resets = 0

    def sync_status(self) -> SyncStatus:
        return SyncStatus()

    async def output_at(self, number):
        raise BlockNotFoundError(f"block {number}")

    def request_reset(self) -> None:
        self.resets += 1


async def call(server, method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    return json.loads(await server.handle_body(body))


@pytest.mark.parametrize("value", [12, "12", "0x", "0x012", "0x" + "1" * 17, "0xzz", None])
def test_hex_uint64_params_are_strict(value):
    with pytest.raises(InvalidParams):
        parse_hex_uint64(value)


def test_hex_uint64_accepts_quantities():
    assert parse_hex_uint64("0x0") == 0 and parse_hex_uint64("0xc") == 12 and parse_hex_uint64("0X1F") == 31


async def test_safe_head_db_disabled_and_not_found():
    disabled = source_rpc_server(StubNode())
    answer = await call(disabled, "optimism_safeHeadAtL1Block", "0x5")
    assert answer["error"] == {"code": -32000, "message": "safe head database not enabled"}
    db = SafeHeadDB(None)
    db.record(BlockID(b"\x01" * 32, 7), BlockID(b"\x02" * 32, 20))
    server = source_rpc_server(StubNode(), safe_db=db)
    assert (await call(server, "optimism_safeHeadAtL1Block", "0x6"))["error"]["message"] == "not found"
    found = (await call(server, "optimism_safeHeadAtL1Block", "0x9"))["result"]
    assert found == {"l1Block": {"hash": "0x" + "01" * 32, "number": 7},
                     "safeHead": {"hash": "0x" + "02" * 32, "number": 20}}
    assert (await call(server, "optimism_safeHeadAtL1Block", 9))["error"]["code"] == -32602


async def test_output_at_unknown_block_is_not_found():
    answer = await call(source_rpc_server(StubNode()), "optimism_outputAtBlock", "0x64")
    assert answer["error"]["code"] == -32000 and "not found" in answer["error"]["message"]


async def test_sync_status_has_eleven_keys_and_version_shape():
    server = source_rpc_server(StubNode())
    assert len((await call(server, "optimism_syncStatus"))["result"]) == 11
    assert (await call(server, "optimism_version"))["result"] == version_string()
    assert version_string().count("-") >= 1


def test_rollup_config_is_op_nodes_shape():
    cfg = StubNode().rollup_config
    out = rollup_config_json(cfg)
    assert "granite_channel_timeout" not in out and "granite_channel_timeout" in cfg.to_json()
    for key in ("batch_inbox_address", "deposit_contract_address", "l1_system_config_address"):
        assert out[key] == "0x" + getattr(cfg, key).hex()
    assert out["genesis"]["system_config"]["batcherAddr"] == "0x" + cfg.genesis.system_config.batcher_address.hex()


async def test_admin_methods_only_when_enabled():
    node = StubNode()
    plain = source_rpc_server(node)
    assert (await call(plain, "admin_resetDerivationPipeline"))["error"]["code"] == -32601
    admin = source_rpc_server(node, enable_admin=True)
    assert (await call(admin, "admin_resetDerivationPipeline"))["result"] is None and node.resets == 1
    assert (await call(admin, "admin_sequencerActive"))["result"] is False
    logger = logging.getLogger("opfleet")
    before = logger.level
    try:
        assert (await call(admin, "admin_setLogLevel", "debug"))["result"] is None
        assert logger.level == logging.DEBUG
        assert (await call(admin, "admin_setLogLevel", "loud"))["error"]["code"] == -32602
    finally:
        logger.setLevel(before)


async def test_healthz_is_a_readiness_probe_and_livez_a_liveness_probe():
    from opfleet.rpc.server import HttpRequest

    node = StubNode()
    reason = ["not ready: the execution client's heads have not been read yet"]
    node.status_not_ready = lambda: reason[0]
    server = source_rpc_server(node)

    async def get(path):
        response = await server(HttpRequest("GET", path))
        return response.status, json.loads(response.body)

    status, body = await get("/healthz")
    assert status == 503 and body == {"version": version_string(), "ready": False, "reason": reason[0]}
    assert await get("/livez") == (200, {"version": version_string()})
    reason[0] = None
    assert await get("/healthz") == (200, {"version": version_string(), "ready": True})
    node.readiness = lambda: "not ready: no follow source answers a sane status"  # a light node's own
    assert (await get("/healthz"))[0] == 503
    info = await call(server, "opfleet_nodeInfo")
    assert info["result"] == {"role": "source", "follows": []}
    node.node_role, node.follow_sources = "light", ("http://user:secret@source:9545",)
    masked = (await call(source_rpc_server(node), "opfleet_nodeInfo"))["result"]
    assert masked["role"] == "light" and "secret" not in masked["follows"][0]

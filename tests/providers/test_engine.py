"""Engine API client: per-fork method versions, OP payload attributes, error codes, JWT on every call.

Reference: op-node op-service/sources/engine_client.go, op-node/rollup/types.go,
op-service/eth/types.go (also codes -38001..-38005).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from opfleet.errors import CriticalError, TemporaryError
from opfleet.protocol.engine_api import (
    ForkchoiceState,
    PayloadAttributes,
    PayloadStatus,
    Withdrawal,
    forkchoice_updated_version,
    get_payload_version,
    new_payload_version,
)
from opfleet.providers.engine import (
    EngineClient,
    InvalidForkchoiceState,
    InvalidPayloadAttributes,
    TooLargeRequest,
    UnknownPayload,
    UnsupportedFork,
)
from opfleet.providers.jsonrpc import RpcCallError
from opfleet.providers.jwt import decode_jwt
from opfleet.rpc import HttpServer, JsonRpcServer, RpcError
from opfleet.rpc.jwt import require_jwt

SECRET = bytes(range(32))
NOW = 1_750_000_000


@dataclass
class Forks:
    """Fork times as in a rollup config: canyon 100, ecotone 200, isthmus 300, karst 400."""

    def is_canyon(self, ts):
        return ts >= 100

    def is_ecotone(self, ts):
        return ts >= 200

    def is_isthmus(self, ts):
        return ts >= 300

    def is_karst(self, ts):
        return ts >= 400


@pytest.mark.parametrize(
    ("ts", "fcu", "new", "get"),
    [(50, 1, 2, 2), (100, 2, 2, 2), (199, 2, 2, 2), (200, 3, 3, 3), (300, 3, 4, 4), (399, 3, 4, 4), (400, 3, 4, 5)],
)
def test_version_selection_per_fork(ts, fcu, new, get):
    forks = Forks()
    assert forkchoice_updated_version(forks, ts) == fcu
    assert new_payload_version(forks, ts) == new
    assert get_payload_version(forks, ts) == get
    assert forkchoice_updated_version(forks, None) == 3  # no attributes: always V3


def test_version_selection_with_the_rollup_config():
    from pathlib import Path

    from opfleet.protocol.rollup_config import RollupConfig

    config = RollupConfig.from_json_text(
        (Path(__file__).resolve().parents[1] / "vectors" / "rollup-configs" / "op-mainnet.rollup.json").read_text())
    assert new_payload_version(config, config.isthmus_time) == 4
    assert new_payload_version(config, config.isthmus_time - 1) == 3
    assert forkchoice_updated_version(config, config.canyon_time - 1) == 1


def attributes(ts: int, **overrides) -> PayloadAttributes:
    fields = dict(timestamp=ts, prev_randao=b"\x11" * 32, suggested_fee_recipient=b"\x42" * 20)
    fields.update(overrides)
    return PayloadAttributes(**fields)


def test_payload_attributes_json_matches_op_node():
    full = attributes(
        0x6000, withdrawals=(), parent_beacon_block_root=b"\x22" * 32, transactions=(b"\x7e\x01", b"\x02\xff"),
        no_tx_pool=True, gas_limit=30_000_000, eip1559_params=bytes.fromhex("000000fa00000006"), min_base_fee=1000,
    )
    assert full.to_json() == {
        "timestamp": "0x6000",
        "prevRandao": "0x" + "11" * 32,
        "suggestedFeeRecipient": "0x" + "42" * 20,
        "withdrawals": [],
        "parentBeaconBlockRoot": "0x" + "22" * 32,
        "transactions": ["0x7e01", "0x02ff"],
        "noTxPool": True,
        "gasLimit": "0x1c9c380",
        "eip1559Params": "0x000000fa00000006",
        "minBaseFee": 1000,  # a JSON number, like op-node and op-alloy
    }
    # Pre-Canyon / pre-Ecotone attributes carry no withdrawals and no beacon root at all.
    assert attributes(5, gas_limit=1).to_json() == {
        "timestamp": "0x5", "prevRandao": "0x" + "11" * 32, "suggestedFeeRecipient": "0x" + "42" * 20, "gasLimit": "0x1",
    }
    assert Withdrawal(1, 2, b"\x01" * 20, 3).to_json() == {
        "index": "0x1", "validatorIndex": "0x2", "address": "0x" + "01" * 20, "amount": "0x3"}
    with pytest.raises(ValueError):
        attributes(1, eip1559_params=b"\x00" * 7)


class FakeEngine:
    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []
        self.fail_with: RpcError | None = None
        self.status = "VALID"

        def recorder(name, answer):
            async def method(*params):
                self.calls.append((name, params))
                if self.fail_with is not None:
                    raise self.fail_with
                return answer(*params)

            return method

        status = lambda: {"status": self.status, "latestValidHash": "0x" + "ab" * 32, "validationError": None}  # noqa: E731
        methods = {}
        for v in (1, 2, 3):
            methods[f"engine_forkchoiceUpdatedV{v}"] = recorder(
                f"engine_forkchoiceUpdatedV{v}",
                lambda state, attrs=None: {"payloadStatus": status(),
                                           "payloadId": "0x0102030405060708" if attrs else None})
        for v in (2, 3, 4):
            methods[f"engine_newPayloadV{v}"] = recorder(f"engine_newPayloadV{v}", lambda *p: status())
        for v in (2, 3, 4, 5):
            methods[f"engine_getPayloadV{v}"] = recorder(
                f"engine_getPayloadV{v}",
                lambda pid: {"executionPayload": {"timestamp": "0x190", "blockHash": "0x" + "cd" * 32},
                             "blockValue": "0x10", "parentBeaconBlockRoot": "0x" + "ee" * 32})
        self.server = JsonRpcServer(methods)
        self.tokens: list[str] = []

    async def start(self, nursery) -> str:
        checked = require_jwt(self._capture, SECRET, clock=lambda: NOW)
        port = await nursery.start(HttpServer(checked).serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{port}"

    async def _capture(self, request):
        self.tokens.append(request.header("authorization"))
        return await self.server(request)


@pytest.fixture
async def engine(nursery):
    fake = FakeEngine()
    url = await fake.start(nursery)
    clock = iter(range(NOW, NOW + 1000))
    async with EngineClient(url, SECRET, forks=Forks(), clock=lambda: next(clock)) as client:
        yield fake, client


STATE = ForkchoiceState(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)


async def test_forkchoice_updated_versions_and_result(engine):
    fake, client = engine
    result = await client.forkchoice_updated(STATE)
    assert result.payload_status.status is PayloadStatus.VALID and result.payload_id is None
    built = await client.forkchoice_updated(STATE, attributes(150, withdrawals=()))
    assert built.payload_id == bytes.fromhex("0102030405060708")
    await client.forkchoice_updated(STATE, attributes(50))
    await client.forkchoice_updated(STATE, attributes(250, withdrawals=(), parent_beacon_block_root=bytes(32)))
    assert [name for name, _ in fake.calls] == [
        "engine_forkchoiceUpdatedV3", "engine_forkchoiceUpdatedV2", "engine_forkchoiceUpdatedV1",
        "engine_forkchoiceUpdatedV3"]
    assert fake.calls[0][1] == ({"headBlockHash": "0x" + "01" * 32, "safeBlockHash": "0x" + "02" * 32,
                                 "finalizedBlockHash": "0x" + "03" * 32}, None)


async def test_new_payload_params_per_version(engine):
    fake, client = engine
    root = b"\x09" * 32
    status = await client.new_payload({"timestamp": "0x64"})
    assert status.status is PayloadStatus.VALID and status.latest_valid_hash == b"\xab" * 32
    await client.new_payload({"timestamp": "0xc8"}, parent_beacon_block_root=root)
    await client.new_payload({"timestamp": "0x12c"}, parent_beacon_block_root=root)
    assert fake.calls == [
        ("engine_newPayloadV2", ({"timestamp": "0x64"},)),
        ("engine_newPayloadV3", ({"timestamp": "0xc8"}, [], "0x" + "09" * 32)),
        ("engine_newPayloadV4", ({"timestamp": "0x12c"}, [], "0x" + "09" * 32, [])),
    ]
    with pytest.raises(ValueError, match="parent beacon block root"):
        await client.new_payload({"timestamp": "0x12c"})


async def test_statuses_are_an_enum(engine):
    fake, client = engine
    for status in ("SYNCING", "ACCEPTED", "INVALID"):
        fake.status = status
        assert (await client.new_payload({"timestamp": "0x1"}, version=2)).status is PayloadStatus(status)
    fake.status = "BOGUS"
    with pytest.raises(TemporaryError, match="unknown status 'BOGUS'"):
        await client.new_payload({"timestamp": "0x1"}, version=2)


async def test_get_payload_version_and_envelope(engine):
    fake, client = engine
    envelope = await client.get_payload(bytes.fromhex("0102030405060708"), timestamp=400)
    assert fake.calls[-1] == ("engine_getPayloadV5", ("0x0102030405060708",))
    assert envelope.timestamp == 0x190 and envelope.block_hash == b"\xcd" * 32
    assert envelope.parent_beacon_block_root == b"\xee" * 32 and envelope.block_value == 16
    await client.get_payload(b"\x00" * 8, version=3)
    assert fake.calls[-1][0] == "engine_getPayloadV3"
    with pytest.raises(ValueError):
        await client.get_payload(b"\x00" * 8)


@pytest.mark.parametrize(
    ("code", "cls"),
    [(-38001, UnknownPayload), (-38002, InvalidForkchoiceState), (-38003, InvalidPayloadAttributes),
     (-38004, TooLargeRequest), (-38005, UnsupportedFork)],
)
async def test_engine_error_codes_become_typed_errors(engine, code, cls):
    fake, client = engine
    fake.fail_with = RpcError(code, "engine says no")
    with pytest.raises(cls) as raised:
        await client.forkchoice_updated(STATE)
    assert isinstance(raised.value, RpcCallError)
    assert (raised.value.code, raised.value.message) == (code, "engine says no")


async def test_other_errors_stay_generic(engine):
    fake, client = engine
    fake.fail_with = RpcError(-32000, "state not available")
    with pytest.raises(RpcCallError) as raised:
        await client.forkchoice_updated(STATE)
    assert type(raised.value) is RpcCallError


async def test_each_request_carries_a_fresh_valid_jwt(engine):
    fake, client = engine
    await client.forkchoice_updated(STATE)
    await client.forkchoice_updated(STATE)
    assert len(fake.tokens) == 2 and fake.tokens[0] != fake.tokens[1]
    claims = [decode_jwt(t.removeprefix("Bearer "), SECRET, now=NOW) for t in fake.tokens]
    assert claims == [{"iat": NOW}, {"iat": NOW + 1}]


async def test_wrong_secret_is_critical(nursery):
    fake = FakeEngine()
    url = await fake.start(nursery)
    async with EngineClient(url, b"\xff" * 32, forks=Forks(), clock=lambda: NOW) as client:
        with pytest.raises(CriticalError, match="check --l2.jwt-secret"):
            await client.forkchoice_updated(STATE)
    assert fake.calls == []

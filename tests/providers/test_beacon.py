"""Beacon blob retrieval: blobs endpoint, sidecar fallback, anvil block ids, KZG verification.

Vectors: tests/vectors/beacon-api/ (Goerli slot 7422094: genesis, spec, 5 blob sidecars, and
expected.json with each sidecar's versioned hash and the slot's start timestamp 1695889151).
anvil behaviour: anvil 1.7.1, measured (crates/anvil/src/server/beacon/mod.rs)
(blobs/{block number|hash}, no config/spec, blob_sidecars answers 410).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from opfleet.errors import ConfigError, TemporaryError
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.providers.beacon import BeaconClient, slot_at
from opfleet.rpc import HttpRequest, HttpResponse, HttpServer, Router

BEACON = Path(__file__).resolve().parents[1] / "vectors" / "beacon-api"
GENESIS = json.loads((BEACON / "eth_v1_beacon_genesis_goerli.json").read_text())
SPEC = json.loads((BEACON / "eth_v1_config_spec_goerli.json").read_text())
SIDECARS = json.loads((BEACON / "eth_v1_beacon_blob_sidecars_7422094_goerli.json").read_text())["data"]
EXPECTED = json.loads((BEACON / "expected.json").read_text())
HASHES = {int(e["index"]): bytes.fromhex(e["versioned_hash"][2:]) for e in EXPECTED["versioned_hashes"]}
BLOBS = {int(s["index"]): bytes.fromhex(s["blob"][2:]) for s in SIDECARS}
SLOT = EXPECTED["slot"]
REF = L1BlockRef(hash=bytes.fromhex("ab" * 32), number=18_200_000, parent_hash=bytes(32),
                 timestamp=EXPECTED["expected_slot_start_timestamp"])


class FakeBeacon:
    """A beacon node; ``blobs_status``/``sidecars_status`` other than 200 make that route fail."""

    def __init__(self, *, spec: bool = True, blobs_status: int = 200, sidecars_status: int = 200,
                 block_id: str = str(SLOT), tamper: set[int] | None = None):
        self.spec = spec
        self.blobs_status = blobs_status
        self.sidecars_status = sidecars_status
        self.block_id = block_id
        self.tamper = tamper or set()
        self.paths: list[str] = []

    def blob(self, index: int) -> bytes:
        # A swapped blob is still valid KZG data, but commits to another versioned hash.
        return BLOBS[(index + 1) % 5] if index in self.tamper else BLOBS[index]

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, object]:
        self.paths.append(path)
        if path == "/eth/v1/beacon/genesis":
            return 200, GENESIS
        if path == "/eth/v1/config/spec":
            return (200, SPEC) if self.spec else (404, None)
        if path.startswith("/eth/v1/beacon/blobs/"):
            if self.blobs_status != 200:
                return self.blobs_status, {"code": self.blobs_status, "message": "NOT_FOUND"}
            if path.rsplit("/", 1)[1] != self.block_id:
                return 404, {"code": 404, "message": "Block not found"}
            wanted = [bytes.fromhex(h[2:]) for h in query.get("versioned_hashes", "").split(",") if h]
            indices = [i for i, h in HASHES.items() if h in wanted] if wanted else list(HASHES)
            # Deliberately reversed: clients must match by hash, not position.
            return 200, {"execution_optimistic": False, "finalized": True,
                         "data": ["0x" + self.blob(i).hex() for i in reversed(indices)]}
        if path.startswith("/eth/v1/beacon/blob_sidecars/"):
            if self.sidecars_status != 200:
                return self.sidecars_status, {"code": self.sidecars_status, "message": "deprecated"}
            if path.rsplit("/", 1)[1] != self.block_id:
                return 404, {"code": 404, "message": "Block not found"}
            indices = [int(i) for i in query.get("indices", "").split(",") if i] or list(BLOBS)
            data = [dict(s, blob="0x" + self.blob(int(s["index"])).hex()) for s in SIDECARS if int(s["index"]) in indices]
            return 200, {"data": data}
        return 404, None

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            status, body = self.answer(request.url.path, dict(request.url.params))
            return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

        return httpx.MockTransport(handle)

    async def http_handler(self, request: HttpRequest) -> HttpResponse:
        from urllib.parse import parse_qsl

        status, body = self.answer(request.path, dict(parse_qsl(request.query)))
        return HttpResponse.json(body, status) if body is not None else HttpResponse(status)


def wanted(*indices: int) -> list[tuple[int, bytes]]:
    return [(i, HASHES[i]) for i in indices]


async def test_genesis_spec_and_slot_from_vectors():
    fake = FakeBeacon()
    async with BeaconClient("http://beacon.test", transport=fake.transport()) as beacon:
        assert await beacon.genesis_time() == 1606824023
        assert await beacon.seconds_per_slot() == 12
        assert await beacon.slot_for(EXPECTED["expected_slot_start_timestamp"]) == SLOT
        assert await beacon.slot_for(EXPECTED["expected_slot_start_timestamp"] + 11) == SLOT
        assert await beacon.block_id_mode() == "slot"
        await beacon.genesis_time()
    assert fake.paths.count("/eth/v1/beacon/genesis") == 1  # read once
    assert fake.paths.count("/eth/v1/config/spec") == 1
    assert slot_at(1606824023 + 24, 1606824023, 12) == 2
    with pytest.raises(ValueError):
        slot_at(5, 10, 12)


async def test_blobs_endpoint_returns_verified_blobs_in_requested_order():
    fake = FakeBeacon()
    async with BeaconClient("http://beacon.test", transport=fake.transport()) as beacon:
        blobs = await beacon.get_blobs(REF, wanted(3, 0, 4))
        stats = beacon.statistics()
    assert blobs == [BLOBS[3], BLOBS[0], BLOBS[4]]
    assert f"/eth/v1/beacon/blobs/{SLOT}" in fake.paths
    assert not any("blob_sidecars" in p for p in fake.paths)
    assert (stats.blobs_fetched, stats.sidecar_fallbacks) == (3, 0)


async def test_falls_back_to_sidecars_when_blobs_endpoint_is_missing():
    fake = FakeBeacon(blobs_status=404)
    async with BeaconClient("http://beacon.test", transport=fake.transport()) as beacon:
        assert await beacon.get_blobs(REF, wanted(1, 2)) == [BLOBS[1], BLOBS[2]]
        assert beacon.statistics().sidecar_fallbacks == 1
    assert f"/eth/v1/beacon/blob_sidecars/{SLOT}" in fake.paths


async def test_kzg_mismatch_on_blobs_endpoint_falls_back_and_sidecars_are_checked_per_index():
    # blobs endpoint serves a wrong blob for index 2; the sidecar route serves the right one.
    fake = FakeBeacon()
    fake.tamper = {2}
    transport = fake.transport()

    def handle(request):
        if "blob_sidecars" in request.url.path:
            fake.tamper = set()
        return transport.handler(request)

    async with BeaconClient("http://beacon.test", transport=httpx.MockTransport(handle)) as beacon:
        assert await beacon.get_blobs(REF, wanted(2, 4)) == [BLOBS[2], BLOBS[4]]
        assert beacon.statistics().verification_failures >= 1


async def test_kzg_mismatch_everywhere_is_a_temporary_error():
    fake = FakeBeacon(tamper={1})
    async with BeaconClient("http://beacon.test", transport=fake.transport()) as beacon:
        with pytest.raises(TemporaryError) as raised:
            await beacon.get_blobs(REF, wanted(0, 1))
    message = str(raised.value)
    assert "1 of 2 blobs unavailable or not matching" in message
    assert HASHES[1].hex() in message


async def test_missing_blobs_are_temporary_never_skipped():
    fake = FakeBeacon(blobs_status=404, sidecars_status=404)
    async with BeaconClient("http://beacon.test", transport=fake.transport()) as beacon:
        with pytest.raises(TemporaryError, match="2 of 2 blobs unavailable"):
            await beacon.get_blobs(REF, wanted(0, 1))
    unknown = bytes([1]) + bytes(31)
    async with BeaconClient("http://beacon.test", transport=FakeBeacon().transport()) as beacon:
        with pytest.raises(TemporaryError, match="1 of 2 blobs"):
            await beacon.get_blobs(REF, [(0, HASHES[0]), (5, unknown)])


async def test_anvil_auto_mode_uses_the_block_hash():
    # anvil: no /eth/v1/config/spec, blob_sidecars answers 410, blobs/{block hash} works.
    fake = FakeBeacon(spec=False, sidecars_status=410, block_id="0x" + REF.hash.hex())
    async with BeaconClient("http://anvil.test", transport=fake.transport()) as beacon:
        assert await beacon.get_blobs(REF, wanted(4)) == [BLOBS[4]]
        assert await beacon.block_id_mode() == "hash"
        with pytest.raises(ConfigError, match="seconds per slot"):
            await beacon.slot_for(REF.timestamp)


@pytest.mark.parametrize(("mode", "block_id"), [("number", str(REF.number)), ("hash", "0x" + "ab" * 32)])
async def test_explicit_execution_block_id_modes_skip_beacon_config(mode, block_id):
    fake = FakeBeacon(spec=False, block_id=block_id)
    async with BeaconClient("http://anvil.test", transport=fake.transport(), block_id_mode=mode) as beacon:
        assert await beacon.get_blobs(REF, wanted(0)) == [BLOBS[0]]
    assert "/eth/v1/beacon/genesis" not in fake.paths


async def test_seconds_per_slot_override_for_nodes_without_spec():
    fake = FakeBeacon(spec=False)
    async with BeaconClient("http://beacon.test", transport=fake.transport(), seconds_per_slot=12) as beacon:
        assert await beacon.block_id_mode() == "slot"
        assert await beacon.get_blobs(REF, wanted(0)) == [BLOBS[0]]
    assert "/eth/v1/config/spec" not in fake.paths
    with pytest.raises(ConfigError):
        BeaconClient("http://beacon.test", block_id_mode="epoch")


async def test_no_blobs_requested_means_no_requests():
    fake = FakeBeacon()
    async with BeaconClient("http://beacon.test", transport=fake.transport()) as beacon:
        assert await beacon.get_blobs(REF, []) == []
    assert fake.paths == []


async def test_against_a_real_loopback_beacon_built_on_our_server(nursery):
    fake = FakeBeacon(blobs_status=404)  # exercise both routes over real HTTP
    router = Router(catch_all=False)
    router.route("/eth/v1/beacon/genesis", fake.http_handler)
    router.route("/eth/v1/config/spec", fake.http_handler)
    router.mount("/eth/v1/beacon/blobs", _prefixed(fake, "/eth/v1/beacon/blobs"))
    router.mount("/eth/v1/beacon/blob_sidecars", _prefixed(fake, "/eth/v1/beacon/blob_sidecars"))
    server = HttpServer(router)
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    async with BeaconClient(f"http://127.0.0.1:{port}/") as beacon:
        assert await beacon.get_blobs(REF, wanted(0, 1, 2, 3, 4)) == [BLOBS[i] for i in range(5)]
    assert server.statistics().total_connections == 1
    assert f"/eth/v1/beacon/blob_sidecars/{SLOT}" in fake.paths


def _prefixed(fake: FakeBeacon, prefix: str):
    async def handler(request: HttpRequest) -> HttpResponse:
        return await fake.http_handler(request.with_path(prefix + request.path))

    return handler


async def test_empty_200_on_config_spec_counts_as_no_spec():
    # A plain JSON-RPC server's health route answers every GET with an empty 200.
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/eth/v1/config/spec":
            return httpx.Response(200, content=b"")
        if request.url.path == "/eth/v1/beacon/genesis":
            return httpx.Response(200, json={"data": {"genesis_time": "1606824023"}})
        if request.url.path == f"/eth/v1/beacon/blobs/0x{REF.hash.hex()}":
            return httpx.Response(200, json={"data": ["0x" + BLOBS[2].hex()]})
        return httpx.Response(404)

    async with BeaconClient("http://rpc.test", transport=httpx.MockTransport(handler)) as beacon:
        assert await beacon.block_id_mode() == "hash"
        assert await beacon.get_blobs(REF, wanted(2)) == [BLOBS[2]]

"""The L1 beacon API client: blob retrieval for derivation, every blob checked against its hash.

Spec: ``specs/protocol/derivation.md`` ("Ecotone: blob retrieval"); beacon-APIs
``/eth/v1/beacon/genesis``, ``/eth/v1/config/spec``, ``/eth/v1/beacon/blobs/{block_id}``
(Fulu ``getBlobs``: filtered by ``versioned_hashes``) and the older
``/eth/v1/beacon/blob_sidecars/{block_id}`` (filtered by ``indices``).

Order of attempts for one L1 block: ``blobs/{id}?versioned_hashes=...`` first, then
``blob_sidecars/{id}?indices=...``. Blobs are matched to the requested versioned hashes by
recomputing their KZG commitment (``opfleet.protocol.kzg.verify_blob_versioned_hash``), so
response order does not matter and a wrong blob can never slip through. A blob that is
missing or does not match is a :class:`~opfleet.errors.TemporaryError`: derivation must wait
for the right data, never skip it.

Block ids: a real beacon node wants the *slot*, computed from the L1 timestamp as
``(timestamp - genesis_time) // seconds_per_slot``. anvil's beacon routes take an execution
block number or hash instead and have no ``/eth/v1/config/spec`` (see the anvil reference,
section 4). ``block_id_mode`` picks ``"slot"``, ``"number"`` or ``"hash"``; ``"auto"`` uses
slots when ``/eth/v1/config/spec`` answers, or when ``seconds_per_slot`` was configured, and
the execution block hash otherwise (robust to anvil's irregular timestamps).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx
import trio

from opfleet.errors import AuthenticationError, ConfigError, CriticalError, DecodeError, TemporaryError
from opfleet.log import mask_url
from opfleet.protocol.blob import BLOB_SIZE
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.hexjson import parse_data
from opfleet.protocol.kzg import blob_to_commitment, verify_blob_versioned_hash, versioned_hash

log = logging.getLogger("opfleet.providers")

BLOCK_ID_MODES = ("auto", "slot", "number", "hash")
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class BeaconStatistics:
    """A snapshot of a :class:`BeaconClient`."""

    requests_by_path: Mapping[str, int]
    """HTTP requests per route (``genesis``, ``spec``, ``blobs``, ``blob_sidecars``)."""
    blobs_fetched: int
    sidecar_fallbacks: int
    verification_failures: int
    block_id_mode: str


def slot_at(timestamp: int, genesis_time: int, seconds_per_slot: int) -> int:
    """The beacon slot of an L1 block time (op-node ``L1BeaconClient.GetTimeToSlotFn``)."""
    if timestamp < genesis_time:
        raise ValueError(f"timestamp {timestamp} is before beacon genesis {genesis_time}")
    return (timestamp - genesis_time) // seconds_per_slot


def _match_blobs(
    blobs: Sequence[bytes], wanted: Sequence[bytes]
) -> tuple[dict[bytes, bytes], int]:
    """Map each wanted versioned hash to a blob that commits to it; also count unusable blobs."""
    wanted_set = set(wanted)
    found: dict[bytes, bytes] = {}
    bad = 0
    for blob in blobs:
        if len(blob) != BLOB_SIZE:
            bad += 1
            continue
        try:
            vh = versioned_hash(blob_to_commitment(blob))
        except DecodeError:
            bad += 1
            continue
        if vh in wanted_set:
            found.setdefault(vh, blob)
        else:
            bad += 1
    return found, bad


class BeaconClient:
    """Fetch and verify blobs from a beacon node (or anvil's beacon routes)."""

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        seconds_per_slot: int | None = None,
        block_id_mode: str = "auto",
        headers: dict[str, str] | None = None,
    ):
        if block_id_mode not in BLOCK_ID_MODES:
            raise ConfigError(f"block id mode must be one of {', '.join(BLOCK_ID_MODES)}, got {block_id_mode!r}")
        if seconds_per_slot is not None and seconds_per_slot <= 0:
            raise ConfigError("seconds per slot must be positive")
        self.url = url.rstrip("/")
        self.endpoint = f"L1 beacon {mask_url(url)}"
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)
        self._override_sps = seconds_per_slot
        self._mode = block_id_mode
        self._genesis_time: int | None = None
        self._seconds_per_slot: int | None = None
        self._spec_checked = False
        self._config_lock = trio.Lock()
        self._requests: dict[str, int] = {}
        self._blobs_fetched = 0
        self._fallbacks = 0
        self._bad = 0

    async def __aenter__(self) -> BeaconClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def statistics(self) -> BeaconStatistics:
        return BeaconStatistics(MappingProxyType(dict(self._requests)), self._blobs_fetched, self._fallbacks,
                                self._bad, self._mode)

    # --- HTTP -----------------------------------------------------------------------------------

    async def _get(self, route: str, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET ``path``; returns (status, parsed JSON or None). Transport failures are temporary."""
        self._requests[route] = self._requests.get(route, 0) + 1
        try:
            response = await self._client.get(self.url + path, params=params, headers={"accept": "application/json"})
        except httpx.TimeoutException:
            raise TemporaryError(f"{self.endpoint}: GET {route} timed out") from None
        except httpx.HTTPError as exc:
            detail = (str(exc) or type(exc).__name__).replace(self.url, mask_url(self.url))
            raise TemporaryError(f"{self.endpoint}: GET {route}: cannot reach the endpoint ({detail})") from None
        if response.status_code in (401, 403):
            raise AuthenticationError(f"{self.endpoint}: authentication failed (HTTP {response.status_code})")
        try:
            body = response.json() if response.content else None
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            body = None
        return response.status_code, body

    def _data(self, body: Any, route: str) -> Any:
        if not isinstance(body, dict) or "data" not in body:
            raise TemporaryError(f"{self.endpoint}: {route}: response has no 'data'")
        return body["data"]

    # --- configuration --------------------------------------------------------------------------

    async def genesis_time(self) -> int:
        """The beacon chain's genesis time (read once)."""
        await self._load_config()
        assert self._genesis_time is not None
        return self._genesis_time

    async def seconds_per_slot(self) -> int:
        """SECONDS_PER_SLOT: the override, else ``/eth/v1/config/spec`` (read once)."""
        await self._load_config()
        if self._seconds_per_slot is None:
            raise ConfigError(
                f"{self.endpoint} has no /eth/v1/config/spec: configure the L1 beacon seconds per slot"
            )
        return self._seconds_per_slot

    async def block_id_mode(self) -> str:
        """The block id mode in use (resolves ``"auto"``)."""
        await self._load_config()
        return self._mode

    async def slot_for(self, timestamp: int) -> int:
        """The slot of the L1 block with this timestamp."""
        genesis = await self.genesis_time()
        try:
            return slot_at(timestamp, genesis, await self.seconds_per_slot())
        except ValueError as exc:
            raise CriticalError(f"{self.endpoint}: {exc}") from None

    async def _load_config(self) -> None:
        if self._spec_checked:
            return
        async with self._config_lock:
            if self._spec_checked:
                return
            needs_genesis = self._mode in ("auto", "slot")
            if needs_genesis:
                status, body = await self._get("genesis", "/eth/v1/beacon/genesis")
                if status != 200:
                    raise TemporaryError(f"{self.endpoint}: GET /eth/v1/beacon/genesis: HTTP {status}")
                data = self._data(body, "genesis")
                try:
                    self._genesis_time = int(data["genesis_time"])
                except (KeyError, TypeError, ValueError):
                    raise TemporaryError(f"{self.endpoint}: genesis: no usable genesis_time") from None
                sps = self._override_sps
                if sps is None:
                    sps = await self._spec_seconds_per_slot()
                self._seconds_per_slot = sps
                if self._mode == "auto":
                    self._mode = "slot" if sps is not None else "hash"
                    if self._mode == "hash":
                        log.info("beacon endpoint has no /eth/v1/config/spec: addressing blobs by L1 block hash",
                                 extra={"fields": {"endpoint": self.endpoint}})
                if self._mode == "slot" and sps is None:
                    raise ConfigError(
                        f"{self.endpoint} has no /eth/v1/config/spec: configure the L1 beacon seconds per slot")
            else:
                self._seconds_per_slot = self._override_sps
            self._spec_checked = True

    async def _spec_seconds_per_slot(self) -> int | None:
        status, body = await self._get("spec", "/eth/v1/config/spec")
        # A JSON-RPC server's health route answers any GET with an empty 200: no spec either.
        if status in (404, 405, 501) or (status == 200 and not body):
            return None
        if status != 200:
            raise TemporaryError(f"{self.endpoint}: GET /eth/v1/config/spec: HTTP {status}")
        data = self._data(body, "spec")
        try:
            value = int(data["SECONDS_PER_SLOT"])
        except (KeyError, TypeError, ValueError):
            raise TemporaryError(f"{self.endpoint}: spec: no usable SECONDS_PER_SLOT") from None
        if value <= 0:
            raise TemporaryError(f"{self.endpoint}: spec: SECONDS_PER_SLOT {value} is not positive")
        return value

    async def _block_id(self, ref: L1BlockRef) -> str:
        await self._load_config()
        if self._mode == "number":
            return str(ref.number)
        if self._mode == "hash":
            return "0x" + ref.hash.hex()
        return str(await self.slot_for(ref.timestamp))

    # --- blobs ----------------------------------------------------------------------------------

    async def get_blobs(self, ref: L1BlockRef, indexed_hashes: Sequence[tuple[int, bytes]]) -> list[bytes]:
        """The blobs with these (index in block, versioned hash) pairs, in the given order.

        Raises :class:`TemporaryError` if any blob is missing or does not match its hash.
        """
        if not indexed_hashes:
            return []
        wanted = [bytes(h) for _, h in indexed_hashes]
        block_id = await self._block_id(ref)
        problems: list[str] = []
        found = await self._try_blobs_endpoint(block_id, wanted, problems)
        if len(found) < len(set(wanted)):
            self._fallbacks += 1
            found.update(await self._try_sidecars_endpoint(block_id, indexed_hashes, problems))
        missing = [h for h in wanted if h not in found]
        if missing:
            raise TemporaryError(
                f"{self.endpoint}: L1 block {ref.number} (block id {block_id}): "
                f"{len(missing)} of {len(wanted)} blobs unavailable or not matching their versioned hash "
                f"(first 0x{missing[0].hex()}; {'; '.join(problems) or 'no detail'})"
            )
        self._blobs_fetched += len(wanted)
        return [found[h] for h in wanted]

    async def _verify(self, blobs: list[bytes], wanted: Sequence[bytes]) -> dict[bytes, bytes]:
        # KZG commitments cost ~10 ms per blob (plus a one-time trusted-setup load): off the event loop.
        found, bad = await trio.to_thread.run_sync(_match_blobs, blobs, list(wanted))
        self._bad += bad
        return found

    async def _try_blobs_endpoint(self, block_id: str, wanted: Sequence[bytes], problems: list[str]) -> dict[bytes, bytes]:
        route = "blobs"
        params = {"versioned_hashes": ",".join("0x" + h.hex() for h in wanted)}
        try:
            status, body = await self._get(route, f"/eth/v1/beacon/blobs/{block_id}", params)
        except TemporaryError as exc:
            problems.append(str(exc))
            return {}
        if status != 200:
            problems.append(f"blobs endpoint: HTTP {status}{_message(body)}")
            return {}
        try:
            blobs = _hex_list(self._data(body, route), route)
        except (TemporaryError, DecodeError) as exc:
            problems.append(str(exc))
            return {}
        found = await self._verify(blobs, wanted)
        if len(found) < len(set(wanted)):
            problems.append(f"blobs endpoint: {len(found)} of {len(set(wanted))} matching blobs")
        return found

    async def _try_sidecars_endpoint(
        self, block_id: str, indexed_hashes: Sequence[tuple[int, bytes]], problems: list[str]
    ) -> dict[bytes, bytes]:
        route = "blob_sidecars"
        params = {"indices": ",".join(str(i) for i, _ in indexed_hashes)}
        try:
            status, body = await self._get(route, f"/eth/v1/beacon/blob_sidecars/{block_id}", params)
        except TemporaryError as exc:
            problems.append(str(exc))
            return {}
        if status != 200:
            problems.append(f"blob_sidecars endpoint: HTTP {status}{_message(body)}")
            return {}
        try:
            sidecars = self._data(body, route)
            if not isinstance(sidecars, list):
                raise DecodeError("data is not a list")
            by_index: dict[int, bytes] = {}
            for sidecar in sidecars:
                if not isinstance(sidecar, dict):
                    raise DecodeError("sidecar is not an object")
                by_index[int(sidecar["index"])] = _hex_blob(sidecar["blob"], route)
        except (TemporaryError, DecodeError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"blob_sidecars endpoint: malformed response ({exc})")
            return {}
        # Check each sidecar against the hash expected at *its* index, not any requested hash.
        pairs = [(by_index[i], bytes(h)) for i, h in indexed_hashes if i in by_index]
        verdicts = await trio.to_thread.run_sync(lambda: [verify_blob_versioned_hash(b, h) for b, h in pairs])
        found: dict[bytes, bytes] = {}
        for (blob, expected), ok in zip(pairs, verdicts):
            if ok:
                found.setdefault(expected, blob)
            else:
                self._bad += 1
        if len(found) < len({bytes(h) for _, h in indexed_hashes}):
            problems.append(f"blob_sidecars endpoint: {len(found)} of {len(indexed_hashes)} matching sidecars")
        return found


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f" ({body['message'][:160]})"
    return ""


def _hex_blob(value: Any, route: str) -> bytes:
    return parse_data(value, None, f"{route}: blob")  # its size is checked against BLOB_SIZE by the caller


def _hex_list(value: Any, route: str) -> list[bytes]:
    if not isinstance(value, list):
        raise DecodeError(f"{route}: data is not a list")
    return [_hex_blob(item, route) for item in value]

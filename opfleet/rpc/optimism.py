"""op-node's RPC API for a source node: ``optimism_*``, ``admin_*``, ``GET /healthz`` and ``/livez``.

Wire shapes follow op-node (``op-node/node/api.go``, ``op-service/sources/rollupclient.go``): block
numbers are hex quantities (``hexutil.Uint64``; a JSON number is refused with -32602, as
go-ethereum's decoder does); handler errors are -32000 with op-node's message ("not found",
"safe head database not enabled", which clients match as substrings). ``admin_*`` is registered only
with ``--rpc.enable-admin``.

Where we deliberately differ from op-node: nothing on the wire. ``optimism_rollupConfig`` is
op-node's shape, not :meth:`RollupConfig.to_json`'s: lowercase hex addresses (go-ethereum's
``common.Address`` marshals lowercase; ``to_json`` writes EIP-55 for rollup.json files) and no
``granite_channel_timeout`` (a kona-only key). ``GET /healthz`` answers op-node's
``{"version"}`` but is a readiness probe, as Kubernetes and load balancers expect: 503 (with
``"ready": false`` and a ``"reason"``) until the node has its chain (and a light node a follow
source that answers), where op-node answers 200 from its first second; ``GET /livez`` is the
liveness probe, 200 while the process serves HTTP. ``opfleet_nodeInfo`` says what the node is
(role, and the sources a light node follows) for ``opfleet status --discover``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import trio

from opfleet._version import VERSION_META, __version__
from opfleet.errors import BlockNotFoundError
from opfleet.log import LEVELS, mask_url
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.output_root import OutputV0, output_response_json
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.safe_head import SafeHeadNotFound, SafeHeadReader
from opfleet.protocol.sync_status import SyncStatus
from opfleet.rpc.server import (
    DEFAULT_ERROR,
    METHOD_NOT_FOUND,
    HttpHandler,
    HttpRequest,
    HttpResponse,
    InvalidParams,
    JsonRpcServer,
    RpcError,
    json_route,
)

_ADDRESS_KEYS = ("batch_inbox_address", "deposit_contract_address", "l1_system_config_address")
_ALT_DA_ADDRESS_KEYS = ("da_challenge_contract_address",)


def version_string() -> str:
    """``optimism_version``: op-node's ``"<Version>-<Meta>"``."""
    return f"{__version__}-{VERSION_META}"


def rollup_config_json(config: RollupConfig) -> dict[str, Any]:
    """``optimism_rollupConfig`` in op-node's shape (see the module docstring)."""
    out = config.to_json()
    out.pop("granite_channel_timeout", None)
    for key in _ADDRESS_KEYS:
        if isinstance(out.get(key), str):
            out[key] = out[key].lower()
    system_config = out.get("genesis", {}).get("system_config")
    if isinstance(system_config, dict) and isinstance(system_config.get("batcherAddr"), str):
        system_config["batcherAddr"] = system_config["batcherAddr"].lower()
    alt_da = out.get("alt_da")
    if isinstance(alt_da, dict):
        out["alt_da"] = alt_da = dict(alt_da)
        for key in _ALT_DA_ADDRESS_KEYS:
            if isinstance(alt_da.get(key), str):
                alt_da[key] = alt_da[key].lower()
    return out


def parse_hex_uint64(value: Any, index: int = 0) -> int:
    """A ``hexutil.Uint64`` parameter: a hex string without leading zeros, else -32602."""
    if not isinstance(value, str):
        raise InvalidParams(
            f"invalid argument {index}: json: cannot unmarshal non-string into Go value of type hexutil.Uint64")
    if value[:2] not in ("0x", "0X") or len(value) < 3:
        raise InvalidParams(f"invalid argument {index}: hex string without 0x prefix")
    digits = value[2:]
    if len(digits) > 1 and digits[0] == "0":
        raise InvalidParams(f"invalid argument {index}: hex number with leading zero digits")
    if len(digits) > 16:
        raise InvalidParams(f"invalid argument {index}: hex number > 64 bits")
    try:
        return int(digits, 16)
    except ValueError:
        raise InvalidParams(f"invalid argument {index}: invalid hex string") from None


class SourceView(Protocol):
    """What the RPC reads from a running source node (its safe-head database, which a light node
    does not keep, is handed to :func:`optimism_methods` on its own)."""

    rollup_config: RollupConfig

    def sync_status(self) -> SyncStatus: ...

    # Optional: ``status_not_ready() -> str | None``, why the heads are not known yet (the status
    # methods then answer that error rather than all-zero heads); ``readiness() -> str | None``,
    # why /healthz answers 503 (default: status_not_ready); ``node_role`` ("source") and
    # ``follow_sources`` (URLs) for opfleet_nodeInfo.

    async def output_at(self, number: int) -> tuple[OutputV0, L2BlockRef, SyncStatus]:
        """The output of canonical L2 block ``number``; BlockNotFoundError when unknown."""
        ...

    def request_reset(self) -> None: ...


def optimism_methods(node: SourceView, *, safe_db: SafeHeadReader | None = None,
                     enable_admin: bool = False) -> dict[str, Callable[..., Awaitable[Any]]]:
    """The JSON-RPC methods of a source node; ``optimism_safeHeadAtL1Block`` reads ``safe_db``
    (None: "safe head database not enabled", op-node's answer without ``--safedb.path``)."""

    not_ready = getattr(node, "status_not_ready", None)

    def sync_status() -> SyncStatus:
        """The node's status; an error while it does not know its heads (never all-zero heads)."""
        reason = not_ready() if not_ready is not None else None
        if reason is not None:
            raise RpcError(DEFAULT_ERROR, reason)
        return node.sync_status()

    async def optimism_syncStatus() -> dict[str, Any]:
        return sync_status().to_json()

    async def optimism_outputAtBlock(block_number: Any) -> dict[str, Any]:
        number = parse_hex_uint64(block_number)
        try:
            output, ref, status = await node.output_at(number)
        except BlockNotFoundError:
            raise RpcError(DEFAULT_ERROR, f"failed to get L2 block ref with sync status: block {number}: not found"
                           ) from None
        return output_response_json(output, ref.to_json(), status.to_json())

    async def optimism_safeHeadAtL1Block(l1_block_number: Any) -> dict[str, Any]:
        number = parse_hex_uint64(l1_block_number)
        if safe_db is None:
            raise RpcError(DEFAULT_ERROR, "safe head database not enabled")
        try:
            entry = safe_db.safe_head_at(number)
        except SafeHeadNotFound:
            raise RpcError(DEFAULT_ERROR, "not found") from None
        return {"l1Block": entry.l1_block.to_json(), "safeHead": entry.safe_head.to_json()}

    async def optimism_rollupConfig() -> dict[str, Any]:
        return rollup_config_json(node.rollup_config)

    async def optimism_version() -> str:
        return version_string()

    async def opfleet_nodeInfo() -> dict[str, Any]:
        return {"role": getattr(node, "node_role", "source"),
                "follows": [mask_url(url) for url in getattr(node, "follow_sources", ())]}

    def p2p(method: str) -> Any:
        gossip = getattr(node, "gossip", None)
        if gossip is None:  # op-node registers opp2p_* only with p2p on
            raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
        return gossip

    async def opp2p_peerStats() -> dict[str, Any]:
        return p2p("opp2p_peerStats").peer_stats()

    async def opp2p_self() -> dict[str, Any]:
        return p2p("opp2p_self").self_info()

    methods: dict[str, Callable[..., Awaitable[Any]]] = {
        "opp2p_peerStats": opp2p_peerStats,
        "opp2p_self": opp2p_self,
        "optimism_syncStatus": optimism_syncStatus,
        "optimism_outputAtBlock": optimism_outputAtBlock,
        "optimism_safeHeadAtL1Block": optimism_safeHeadAtL1Block,
        "optimism_rollupConfig": optimism_rollupConfig,
        "optimism_version": optimism_version,
        NODE_INFO: opfleet_nodeInfo,
    }
    waiter = getattr(node, "wait_status_change", None)
    if waiter is not None:
        methods[WAIT_SYNC_STATUS] = wait_sync_status_method(sync_status, waiter)
    if not enable_admin:
        return methods

    async def admin_resetDerivationPipeline() -> None:
        node.request_reset()

    async def admin_sequencerActive() -> bool:
        return bool(getattr(node, "sequencer_active", False))  # a source node never sequences

    async def admin_setLogLevel(level: Any) -> None:
        if not isinstance(level, str) or level.lower() not in LEVELS:
            raise InvalidParams(f"unknown log level {level!r} (want one of {', '.join(LEVELS)})")
        logging.getLogger("opfleet").setLevel(LEVELS[level.lower()])

    methods.update({
        "admin_resetDerivationPipeline": admin_resetDerivationPipeline,
        "admin_sequencerActive": admin_sequencerActive,
        "admin_setLogLevel": admin_setLogLevel,
    })
    return methods


NODE_INFO = "opfleet_nodeInfo"
WAIT_SYNC_STATUS = "opfleet_waitSyncStatus"
MAX_WAIT_MS = 60_000
"""The longest a caller may ask ``opfleet_waitSyncStatus`` to hold the request."""


def status_differs(status: SyncStatus, known: dict[str, Any]) -> bool:
    """Whether any head named in ``known`` (SyncStatus key -> block hash) is no longer that block."""
    current = status.to_json()
    return any(current[key]["hash"] != str(value).lower() for key, value in known.items())


def parse_known(value: Any) -> dict[str, Any]:
    """``opfleet_waitSyncStatus``'s first parameter: ``{SyncStatus key: "0x<hash>", ...}`` (or null)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParams("invalid argument 0: expected an object of SyncStatus key -> block hash")
    keys = SyncStatus().to_json()
    for key, block_hash in value.items():
        if key not in keys:
            raise InvalidParams(f"invalid argument 0: unknown SyncStatus key {key!r}")
        if not isinstance(block_hash, str):
            raise InvalidParams(f"invalid argument 0: {key}: expected a 0x-hex block hash")
    return value


def parse_timeout_ms(value: Any) -> int:
    """``opfleet_waitSyncStatus``'s second parameter: milliseconds, a JSON number or hex quantity."""
    if isinstance(value, str):
        value = parse_hex_uint64(value, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParams("invalid argument 1: expected a non-negative number of milliseconds")
    return min(value, MAX_WAIT_MS)


def wait_sync_status_method(sync_status: Callable[[], SyncStatus],
                            wait_status_change: Callable[[float], Awaitable[None]]) -> Callable[..., Awaitable[Any]]:
    """``opfleet_waitSyncStatus(known, timeout_ms)``: a long poll of ``optimism_syncStatus``.

    Answers the node's SyncStatus (exactly ``optimism_syncStatus``'s shape) as soon as one of the
    heads named in ``known`` is another block than the caller knows, or when ``timeout_ms`` (at most
    60 s) has passed, whichever is first. An empty ``known`` answers at once, which is how a caller
    probes for the method (op-node and other nodes answer -32601, and the caller polls instead).
    """

    async def opfleet_waitSyncStatus(known: Any = None, timeout_ms: Any = 0) -> dict[str, Any]:
        heads = parse_known(known)
        deadline = trio.current_time() + parse_timeout_ms(timeout_ms) / 1000
        status = sync_status()
        while heads and not status_differs(status, heads):
            remaining = deadline - trio.current_time()
            if remaining <= 0:
                break
            await wait_status_change(remaining)
            status = sync_status()
        return status.to_json()

    return opfleet_waitSyncStatus


def not_ready(node: SourceView) -> str | None:
    """Why the node cannot take traffic yet (None: it can): its ``readiness()``, else its
    ``status_not_ready()``."""
    check = getattr(node, "readiness", None) or getattr(node, "status_not_ready", None)
    return check() if check is not None else None


def readiness_route(node: SourceView) -> HttpHandler:
    """``GET /healthz``: 200 ``{"version", "ready": true}``, or 503 with ``"ready": false`` and
    the ``"reason"`` while :func:`not_ready` says so."""

    async def healthz(request: HttpRequest) -> HttpResponse:
        reason = not_ready(node)
        if reason is None:
            return HttpResponse.json({"version": version_string(), "ready": True})
        return HttpResponse.json({"version": version_string(), "ready": False, "reason": reason}, 503)

    return healthz


def source_rpc_server(node: SourceView, *, safe_db: SafeHeadReader | None = None,
                      enable_admin: bool = False) -> JsonRpcServer:
    """The source node's RPC server (:func:`optimism_methods`), with ``GET /healthz`` (readiness,
    :func:`readiness_route`) and ``GET /livez`` (liveness: ``{"version": ...}`` while serving)."""
    return JsonRpcServer(
        optimism_methods(node, safe_db=safe_db, enable_admin=enable_admin),
        extra_routes={"/healthz": readiness_route(node), "/livez": json_route({"version": version_string()})},
        name="source-rpc",
    )

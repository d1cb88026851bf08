"""A typed client for the rollup-node API: op-node's ``optimism_*`` and ``admin_*`` methods,
opfleet's ``opfleet_*`` additions and op-supernode's root ``supernode_syncStatus``.

Built on :class:`~opfleet.providers.jsonrpc.JsonRpcClient` (one httpx client; its
``transport=`` is the seam tests fake nodes through), so transport failures keep that module's
error tree. On top of it, the answers of a rollup node (op-node's
``op-node/node/api.go``, ``op-service/sources/rollupclient.go``):

::

    -32601 method not found          -> RpcCallError, .is_method_not_found: the node lacks it
                                        (op-node lacks opfleet_*; admin_* needs --rpc.enable-admin)
    -32000 "... not found"           -> NotFoundError (a RpcCallError): no such block / entry yet
    -32000 "safe head database not enabled"
                                     -> SafeDbDisabledError (a RpcCallError)
    -32025 (HTTP 503) from proxyd    -> RpcHttpError whose message names -32025 (not_ready())
    a result of the wrong shape      -> DecodeError naming the field

Results are protocol types (:class:`~opfleet.protocol.sync_status.SyncStatus`,
:mod:`opfleet.protocol.rollup_api`). A caller that needs a node's answer byte for byte (the
proxy serving its pinned backend's ``optimism_syncStatus``) keeps calling the JSON-RPC client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from opfleet.errors import DecodeError, OpfleetError
from opfleet.protocol.hexjson import hex_quantity, json_object
from opfleet.protocol.rollup_api import ChainIdentity, NodeInfo, OutputResponse, SafeHeadResponse, SupernodeSyncStatus
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import DEFAULT_TIMEOUT, JsonRpcClient, RpcCallError, RpcHttpError

__all__ = [
    "NODE_INFO",
    "SYNC_STATUS_NOT_READY",
    "WAIT_SYNC_STATUS",
    "NotFoundError",
    "RollupNodeClient",
    "SafeDbDisabledError",
    "not_ready",
]

SYNC_STATUS = "optimism_syncStatus"
OUTPUT_AT_BLOCK = "optimism_outputAtBlock"
ROLLUP_CONFIG = "optimism_rollupConfig"
SAFE_HEAD_AT_L1_BLOCK = "optimism_safeHeadAtL1Block"
WAIT_SYNC_STATUS = "opfleet_waitSyncStatus"
NODE_INFO = "opfleet_nodeInfo"
SUPERNODE_SYNC_STATUS = "supernode_syncStatus"
SEQUENCER_ACTIVE = "admin_sequencerActive"

GENERIC_ERROR = -32000
"""go-ethereum's code for a handler error without its own (op-node's "not found" and friends)."""
SYNC_STATUS_NOT_READY = -32025
"""proxyd in CL consensus mode before its first cycle: "optimism_syncStatus not available", HTTP 503."""

WAIT_KEYS = ("local_safe_l2", "safe_l2", "finalized_l2", "current_l1")
"""The SyncStatus heads a follower names to ``opfleet_waitSyncStatus`` (the ones it consumes)."""


class NotFoundError(RpcCallError):
    """-32000 whose message says "not found": the block or safe-head entry is not known (yet)."""


class SafeDbDisabledError(RpcCallError):
    """``optimism_safeHeadAtL1Block`` on a node without a safe-head database (no ``--safedb.path``)."""


def not_ready(exc: BaseException) -> bool:
    """Whether ``exc`` is proxyd's -32025: no consensus among its backends yet (HTTP 503)."""
    return isinstance(exc, RpcHttpError) and exc.status == 503 and str(SYNC_STATUS_NOT_READY) in str(exc)


def _refine(exc: RpcCallError) -> RpcCallError:
    """The op-node error class a generic -32000 answer stands for, else ``exc`` itself."""
    if exc.code != GENERIC_ERROR:
        return exc
    kind: type[RpcCallError] | None = None
    if "safe head database not enabled" in exc.message:
        kind = SafeDbDisabledError
    elif "not found" in exc.message:
        kind = NotFoundError
    if kind is None:
        return exc
    return kind(exc.code, exc.message, data=exc.data, method=exc.method, endpoint=exc.endpoint)


class RollupNodeClient:
    """Call one rollup node (op-node, ``opfleet source``/``light``, a supernode route or root,
    proxyd in CL mode). Wraps ``rpc`` when given one (whose owner closes it), else opens its own
    JSON-RPC client for ``url``."""

    def __init__(
        self,
        url: str | None = None,
        *,
        rpc: JsonRpcClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        name: str | None = None,
    ):
        if rpc is None:
            if url is None:
                raise ValueError("RollupNodeClient needs a url or a JsonRpcClient")
            rpc = JsonRpcClient(url, transport=transport, timeout=timeout, name=name)
            self._owned = True
        else:
            self._owned = False
        self.rpc = rpc

    @property
    def endpoint(self) -> str:
        return self.rpc.endpoint

    @property
    def url(self) -> str:
        return self.rpc.url

    async def __aenter__(self) -> RollupNodeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owned:
            await self.rpc.aclose()

    async def _call(self, method: str, *params: Any) -> Any:
        try:
            return await self.rpc.call(method, *params)
        except RpcCallError as exc:
            raise _refine(exc) from None

    # --- op-node's optimism_* ---------------------------------------------------------------------

    async def sync_status(self) -> SyncStatus:
        """``optimism_syncStatus``."""
        return SyncStatus.from_json(await self._call(SYNC_STATUS))

    async def output_at_block(self, number: int) -> OutputResponse:
        """``optimism_outputAtBlock(number)`` (a hex quantity, as op-node's ``hexutil.Uint64``
        demands); :class:`NotFoundError` when the node has no such block."""
        return OutputResponse.from_json(await self._call(OUTPUT_AT_BLOCK, hex_quantity(number)))

    async def rollup_config_json(self) -> dict[str, Any]:
        """``optimism_rollupConfig`` as the JSON object the node sent."""
        return json_object(await self._call(ROLLUP_CONFIG), ROLLUP_CONFIG)

    async def rollup_config(self) -> RollupConfig:
        """``optimism_rollupConfig``, parsed as strictly as ``--rollup.config`` (a config that
        cannot be used is a DecodeError naming the key)."""
        raw = await self.rollup_config_json()
        try:
            return RollupConfig.from_json(raw, source=f"{self.endpoint} {ROLLUP_CONFIG}")
        except OpfleetError as exc:
            if isinstance(exc, DecodeError):
                raise
            raise DecodeError(str(exc)) from None

    async def chain_identity(self) -> ChainIdentity:
        """The chain id, block time and genesis hashes from ``optimism_rollupConfig``, read leniently."""
        return ChainIdentity.from_json(await self._call(ROLLUP_CONFIG), where=ROLLUP_CONFIG)

    async def safe_head_at_l1_block(self, l1_number: int) -> SafeHeadResponse:
        """``optimism_safeHeadAtL1Block``; :class:`NotFoundError` below the database's first
        entry, :class:`SafeDbDisabledError` when the node keeps none."""
        return SafeHeadResponse.from_json(await self._call(SAFE_HEAD_AT_L1_BLOCK, hex_quantity(l1_number)))

    # --- opfleet's additions ----------------------------------------------------------------------

    async def wait_sync_status(self, known: SyncStatus | Mapping[str, str] | None, wait_ms: int) -> SyncStatus:
        """``opfleet_waitSyncStatus(known, wait_ms)``: the long poll. Answers as soon as one head
        named in ``known`` (a SyncStatus: its :data:`WAIT_KEYS`) is another block, or after
        ``wait_ms``; ``known`` None or empty answers at once (how a caller probes for the method:
        op-node answers -32601, ``.is_method_not_found``)."""
        if isinstance(known, SyncStatus):
            status_json = known.to_json()
            known = {key: status_json[key]["hash"] for key in WAIT_KEYS}
        if wait_ms < 0:
            raise ValueError("wait_ms must not be negative")
        return SyncStatus.from_json(await self._call(WAIT_SYNC_STATUS, dict(known or {}), int(wait_ms)))

    async def node_info(self) -> NodeInfo:
        """``opfleet_nodeInfo``: the node's role and the sources it follows."""
        return NodeInfo.from_json(await self._call(NODE_INFO), where=NODE_INFO)

    # --- op-supernode and admin -------------------------------------------------------------------

    async def supernode_sync_status(self) -> SupernodeSyncStatus:
        """``supernode_syncStatus`` of a supernode's root: every chain's status."""
        return SupernodeSyncStatus.from_json(await self._call(SUPERNODE_SYNC_STATUS), where=SUPERNODE_SYNC_STATUS)

    async def sequencer_active(self) -> bool:
        """``admin_sequencerActive`` (op-node serves it only with ``--rpc.enable-admin``)."""
        answer = await self._call(SEQUENCER_ACTIVE)
        if not isinstance(answer, bool):
            raise DecodeError(f"{SEQUENCER_ACTIVE}: expected true or false, got {type(answer).__name__}")
        return answer

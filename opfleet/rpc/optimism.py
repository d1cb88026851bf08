"""op-node's RPC API for a source node: ``optimism_*``, ``admin_*`` and ``GET /healthz``.

Wire shapes follow op-node (``/work/shared/ref/opnode-rpc.md`` section 2): block numbers are
hex quantities (``hexutil.Uint64``; a JSON number is refused with -32602, as go-ethereum's
decoder does); handler errors are -32000 with op-node's message ("not found", "safe head
database not enabled", which clients match as substrings). ``admin_*`` is registered only
with ``--rpc.enable-admin``.

Where we deliberately differ from op-node: nothing on the wire. ``optimism_rollupConfig`` is
op-node's shape, not :meth:`RollupConfig.to_json`'s: lowercase hex addresses (go-ethereum's
``common.Address`` marshals lowercase; ``to_json`` writes EIP-55 for rollup.json files) and no
``granite_channel_timeout`` (a kona-only key).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from opfleet._version import VERSION_META, __version__
from opfleet.log import LEVELS
from opfleet.node.safedb import SafeHeadDB, SafeHeadNotFound
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.output_root import OutputV0, output_response_json
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import BlockNotFoundError
from opfleet.rpc.server import DEFAULT_ERROR, InvalidParams, JsonRpcServer, RpcError, json_route

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
    """What the RPC reads from a running source node."""

    rollup_config: RollupConfig
    safe_db: SafeHeadDB | None

    def sync_status(self) -> SyncStatus: ...

    async def output_at(self, number: int) -> tuple[OutputV0, L2BlockRef, SyncStatus]:
        """The output of canonical L2 block ``number``; BlockNotFoundError when unknown."""
        ...

    def request_reset(self) -> None: ...


def optimism_methods(node: SourceView, *, enable_admin: bool = False) -> dict[str, Callable[..., Awaitable[Any]]]:
    """The JSON-RPC methods of a source node."""

    async def optimism_syncStatus() -> dict[str, Any]:
        return node.sync_status().to_json()

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
        if node.safe_db is None:
            raise RpcError(DEFAULT_ERROR, "safe head database not enabled")
        try:
            entry = node.safe_db.safe_head_at(number)
        except SafeHeadNotFound:
            raise RpcError(DEFAULT_ERROR, "not found") from None
        return {"l1Block": entry.l1_block.to_json(), "safeHead": entry.safe_head.to_json()}

    async def optimism_rollupConfig() -> dict[str, Any]:
        return rollup_config_json(node.rollup_config)

    async def optimism_version() -> str:
        return version_string()

    methods: dict[str, Callable[..., Awaitable[Any]]] = {
        "optimism_syncStatus": optimism_syncStatus,
        "optimism_outputAtBlock": optimism_outputAtBlock,
        "optimism_safeHeadAtL1Block": optimism_safeHeadAtL1Block,
        "optimism_rollupConfig": optimism_rollupConfig,
        "optimism_version": optimism_version,
    }
    if not enable_admin:
        return methods

    async def admin_resetDerivationPipeline() -> None:
        node.request_reset()

    async def admin_sequencerActive() -> bool:
        return False  # a source node never sequences

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


def source_rpc_server(node: SourceView, *, enable_admin: bool = False) -> JsonRpcServer:
    """The source node's RPC server, with ``GET /healthz`` -> ``{"version": ...}``."""
    return JsonRpcServer(
        optimism_methods(node, enable_admin=enable_admin),
        extra_routes={"/healthz": json_route({"version": version_string()})},
        name="source-rpc",
    )

"""Providers: the only code that talks to other nodes (L1 EL, L1 beacon, L2 EL, Engine API, rollup nodes).

Each is a thin, typed client over one injectable httpx transport, raising errors from
:mod:`opfleet.errors` that say what the caller must do (``TemporaryError``: retry;
``CriticalError``: stop; :class:`RpcCallError`: the node refused the call, with its code).

Modules: :mod:`~opfleet.providers.jsonrpc` (client, retries), :mod:`~opfleet.providers.jwt`,
:mod:`~opfleet.providers.l1`, :mod:`~opfleet.providers.beacon`, :mod:`~opfleet.providers.l2`,
:mod:`~opfleet.providers.engine`, :mod:`~opfleet.providers.rollup_node` (the rollup-node API:
op-node's ``optimism_*``, opfleet's ``opfleet_*``, a supernode's ``supernode_syncStatus``). The
JSON objects they read are parsed by :mod:`opfleet.protocol.ethjson`, which does no I/O.
"""

from opfleet.providers.jsonrpc import ClientStatistics as ClientStatistics
from opfleet.providers.jsonrpc import JsonRpcClient as JsonRpcClient
from opfleet.providers.jsonrpc import RpcAuthenticationError as RpcAuthenticationError
from opfleet.providers.jsonrpc import RpcCallError as RpcCallError
from opfleet.providers.jsonrpc import RpcHttpError as RpcHttpError
from opfleet.providers.jsonrpc import RpcTimeoutError as RpcTimeoutError
from opfleet.providers.jsonrpc import retry_with_backoff as retry_with_backoff

__all__ = [
    "ClientStatistics",
    "JsonRpcClient",
    "RpcAuthenticationError",
    "RpcCallError",
    "RpcHttpError",
    "RpcTimeoutError",
    "retry_with_backoff",
]

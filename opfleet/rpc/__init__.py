"""Serving: HTTP/1.1 + JSON-RPC 2.0 on trio, path routing, Prometheus metrics.

Re-exports only; see :mod:`opfleet.rpc.server`, :mod:`opfleet.rpc.metrics` and
:mod:`opfleet.rpc.serving`.
"""

from opfleet.rpc.metrics import Counter as Counter
from opfleet.rpc.metrics import Gauge as Gauge
from opfleet.rpc.metrics import Registry as Registry
from opfleet.rpc.metrics import serve_metrics as serve_metrics
from opfleet.rpc.server import DEFAULT_MAX_REQUEST_BYTES as DEFAULT_MAX_REQUEST_BYTES
from opfleet.rpc.server import HttpHandler as HttpHandler
from opfleet.rpc.server import HttpRequest as HttpRequest
from opfleet.rpc.server import HttpResponse as HttpResponse
from opfleet.rpc.server import HttpServer as HttpServer
from opfleet.rpc.server import InvalidParams as InvalidParams
from opfleet.rpc.server import JsonRpcServer as JsonRpcServer
from opfleet.rpc.server import Router as Router
from opfleet.rpc.server import RpcError as RpcError
from opfleet.rpc.server import RpcStatistics as RpcStatistics
from opfleet.rpc.server import json_route as json_route
from opfleet.rpc.serving import ServingConfig as ServingConfig

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "Counter",
    "Gauge",
    "HttpHandler",
    "HttpRequest",
    "HttpResponse",
    "HttpServer",
    "InvalidParams",
    "JsonRpcServer",
    "Registry",
    "Router",
    "RpcError",
    "RpcStatistics",
    "ServingConfig",
    "json_route",
    "serve_metrics",
]

"""A minimal metrics registry: counters and gauges with labels, Prometheus text format 0.0.4.

We do not depend on ``prometheus_client``: its HTTP server uses threads, and what we need is
small. Names are used exactly as given (no automatic ``_total`` suffix), so op-node's metric
names (``op_node_refs_number``, ``op_node_follow_source_requests_total``) can be matched.

Format: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4):
``# HELP``/``# TYPE`` lines, then one ``name{label="value"} number`` line per child; label
values escape backslash, double quote and newline, HELP text escapes backslash and newline.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import trio

from opfleet.rpc.server import HttpRequest, HttpResponse, HttpServer, Router

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = ()):
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        for label in self.labelnames:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} for metric {name}")
        if len(set(self.labelnames)) != len(self.labelnames):
            raise ValueError(f"duplicate label names for metric {name}")
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()  # the TUI may read from another thread
        if not self.labelnames:
            self._values[()] = 0

    def _key(self, labels: dict[str, Any]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"metric {self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def get(self, **labels: Any) -> float:
        """The current value of one child (0 if never set)."""
        return self._values.get(self._key(labels), 0)

    def clear(self) -> None:
        """Drop every labelled child (e.g. peers that went away)."""
        with self._lock:
            self._values = {} if self.labelnames else {(): 0}

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        with self._lock:
            return sorted(self._values.items())

    def expose(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.documentation)}", f"# TYPE {self.name} {self.kind}"]
        for key, value in self.samples():
            if key:
                labels = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(self.labelnames, key))
                lines.append(f"{self.name}{{{labels}}} {_format_value(value)}")
            else:
                lines.append(f"{self.name} {_format_value(value)}")
        return "\n".join(lines) + "\n"


class Counter(_Metric):
    """A value that only goes up (requests, errors). ``inc(method="eth_call")``."""

    kind = "counter"

    def inc(self, amount: float = 1, **labels: Any) -> None:
        if amount < 0:
            raise ValueError("a counter cannot decrease")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount


class Gauge(_Metric):
    """A value that goes up and down (heads, open connections). ``set(12, layer="l2", type="safe")``.

    :meth:`set_function` makes an unlabelled gauge read its value when scraped, e.g. from a
    ``statistics()`` snapshot.
    """

    kind = "gauge"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = ()):
        super().__init__(name, documentation, labelnames)
        self._function: Callable[[], float] | None = None

    def set(self, value: float, **labels: Any) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value

    def inc(self, amount: float = 1, **labels: Any) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def dec(self, amount: float = 1, **labels: Any) -> None:
        self.inc(-amount, **labels)

    def set_function(self, function: Callable[[], float]) -> None:
        if self.labelnames:
            raise ValueError("set_function is only for gauges without labels")
        self._function = function

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        if self._function is not None:
            return [((), self._function())]
        return super().samples()


class Registry:
    """The metrics of one process (or one chain); :meth:`expose` renders them all."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> Any:
        existing = self._metrics.get(metric.name)
        if existing is not None:
            if type(existing) is type(metric) and existing.labelnames == metric.labelnames:
                return existing  # registering twice (a restarted service) returns the same metric
            raise ValueError(f"metric {metric.name} is already registered with another type or labels")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> Counter:
        return self._add(Counter(name, documentation, labelnames))

    def gauge(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> Gauge:
        return self._add(Gauge(name, documentation, labelnames))

    def get(self, name: str) -> _Metric | None:
        return self._metrics.get(name)

    def expose(self) -> str:
        """All metrics in the Prometheus text format 0.0.4, sorted by name."""
        return "".join(self._metrics[name].expose() for name in sorted(self._metrics))


def metrics_handler(registry: Registry) -> Callable[[HttpRequest], Any]:
    """An HTTP handler serving ``registry`` as Prometheus text."""

    async def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, registry.expose().encode(), CONTENT_TYPE)

    return handler


async def serve_metrics(
    registry: Registry,
    host: str | None,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``GET /metrics`` until cancelled; ``task_status.started(bound_port)`` once listening."""
    router = Router(catch_all=False)
    router.route("/metrics", metrics_handler(registry))
    server = HttpServer(router, max_request_bytes=64 * 1024, name="metrics")
    await server.serve(host, port, task_status=task_status)

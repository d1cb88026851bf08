"""What ``opfleet doctor`` reads from a running fleet: the I/O half of :mod:`opfleet.monitor.doctor`.

Two :class:`~opfleet.monitor.engine.FleetMonitor` polls ``window`` seconds apart (heads, roles,
chains), every node's metrics text at both (``op_node_rpc_client_requests_total``,
``op_node_follow_source_requests_total``, ``opfleet_follow_source_up``), what an opfleet node says it is
(``opfleet_nodeInfo``: role and the sources it follows; op-node does not serve it), ``--check-follow`` (:func:`check_follow`) for every
light node against the first node it follows, and with a Prometheus URL its loaded rules
(``GET /api/v1/rules``, Prometheus' HTTP API). Everything is bounded by ``timeout`` per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import trio

from opfleet.errors import OpfleetError
from opfleet.monitor.check import check_follow
from opfleet.monitor.doctor import NodeClaim, Observation, RuleSet, resolve_follows
from opfleet.monitor.engine import FleetMonitor
from opfleet.monitor.model import NodeSpec, Role
from opfleet.providers.jsonrpc import RpcCallError
from opfleet.providers.rollup_node import RollupNodeClient

__all__ = ["observe", "read_rules"]

_MAX_METRICS_BYTES = 8 * 1024 * 1024


async def _scrape(http: httpx.AsyncClient, url: str) -> str | None:
    try:
        response = await http.get(url)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    if len(response.content) > _MAX_METRICS_BYTES:
        return None
    return response.text


async def _scrape_all(http: httpx.AsyncClient, specs: Sequence[NodeSpec]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}

    async def one(spec: NodeSpec) -> None:
        assert spec.metrics_url is not None
        out[spec.name] = await _scrape(http, spec.metrics_url)

    async with trio.open_nursery() as nursery:
        for spec in specs:
            if spec.metrics_url:
                nursery.start_soon(one, spec)
    return out


async def _node_info(url: str, timeout: float,
                     transport: httpx.AsyncBaseTransport | None) -> tuple[bool | None, NodeClaim | None]:
    """(is it an opfleet node, what it says it is) from ``opfleet_nodeInfo``; op-node does not
    serve it (False, None); no usable answer (None, None)."""
    async with RollupNodeClient(url, transport=transport, timeout=timeout) as client:
        try:
            info = await client.node_info()
        except RpcCallError as exc:
            return (False, None) if exc.is_method_not_found else (None, None)
        except OpfleetError:
            return None, None
    if info.role is None:
        return None, None
    return True, NodeClaim(info.role, info.follows)


async def read_rules(url: str, *, timeout: float = 5.0,
                     transport: httpx.AsyncBaseTransport | None = None) -> RuleSet:
    """The alerting rules Prometheus at ``url`` has loaded (``/api/v1/rules``)."""
    endpoint = url.rstrip("/") + "/api/v1/rules"
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            response = await http.get(endpoint, params={"type": "alert"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return RuleSet(url, error=" ".join(str(exc).split())[:200] or type(exc).__name__)
    except RecursionError:
        return RuleSet(url, error="the answer is nested too deep to be Prometheus' rules")
    data = document.get("data") if isinstance(document, dict) else None
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        return RuleSet(url, error="not a Prometheus rules answer (no data.groups)")
    alerts: list[tuple[str, str]] = []
    for group in groups:
        rules = group.get("rules") if isinstance(group, dict) else None
        for rule in rules if isinstance(rules, list) else ():
            if isinstance(rule, dict) and rule.get("type", "alerting") == "alerting":
                name, query = rule.get("name"), rule.get("query")
                if isinstance(name, str) and isinstance(query, str):
                    alerts.append((name, query))
    return RuleSet(url, tuple(alerts))


async def observe(specs: Sequence[NodeSpec], *, window: float, timeout: float = 2.0,
                  prometheus: str | None = None, fleet_name: str = "",
                  transport: httpx.AsyncBaseTransport | None = None) -> Observation:
    """Look at the fleet twice, ``window`` seconds apart, and collect everything the doctor needs."""
    monitor = FleetMonitor(specs, interval=max(window, 0.1), timeout=timeout, transport=transport)
    async with monitor, httpx.AsyncClient(transport=transport, timeout=timeout) as http:
        first = None
        metrics_first: dict[str, str | None] = {}
        if window > 0:
            async with trio.open_nursery() as nursery:
                async def poll() -> None:
                    nonlocal first
                    first = await monitor.poll_once()

                async def scrape() -> None:
                    metrics_first.update(await _scrape_all(http, specs))

                nursery.start_soon(poll)
                nursery.start_soon(scrape)
            await trio.sleep(window)
        last = None
        metrics_last: dict[str, str | None] = {}
        async with trio.open_nursery() as nursery:
            async def poll_last() -> None:
                nonlocal last
                last = await monitor.poll_once()

            async def scrape_last() -> None:
                metrics_last.update(await _scrape_all(http, specs))

            nursery.start_soon(poll_last)
            nursery.start_soon(scrape_last)
    assert last is not None
    names = set(metrics_first) | set(metrics_last)
    metrics = {name: (metrics_first.get(name), metrics_last.get(name)) for name in names}
    by_name = {n.name: n for n in last.nodes}
    opfleet: dict[str, bool | None] = {}
    claims: dict[str, NodeClaim] = {}
    checks: dict[str, Any] = {}
    rules = None

    async def ask(name: str, url: str) -> None:
        opfleet[name], claim = await _node_info(url, timeout, transport)
        if claim is not None:
            claims[name] = claim

    async with trio.open_nursery() as nursery:
        for node in last.nodes:
            if node.role in (Role.LIGHT, Role.SEQUENCER, Role.PROXY, Role.UNKNOWN) and node.reachable:
                nursery.start_soon(ask, node.name, node.spec.url)
    partial = Observation(last=last, first=first, window=window, fleet_name=fleet_name, metrics=metrics,
                          claims=claims)
    follows = resolve_follows(partial)

    async def compare(name: str, target: str) -> None:
        result = await check_follow(by_name[name].spec.url, by_name[target].spec.url,
                                    timeout=timeout, transport=transport)
        checks[name] = (target, result)

    async def fetch_rules() -> None:
        nonlocal rules
        assert prometheus is not None
        rules = await read_rules(prometheus, timeout=max(timeout, 5.0), transport=transport)

    async with trio.open_nursery() as nursery:
        for node in last.nodes:
            if node.role is Role.LIGHT and follows.get(node.name):
                nursery.start_soon(compare, node.name, follows[node.name][0])
        if prometheus:
            nursery.start_soon(fetch_rules)
    return Observation(last=last, first=first, window=window, fleet_name=fleet_name, metrics=metrics,
                       opfleet=opfleet, claims=claims, checks=checks, rules=rules)

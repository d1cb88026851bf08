"""Fleet profiles: which nodes ``opfleet status`` and ``opfleet tui`` watch (TOML), and discovery.

A fleet profile lists nodes; grouping by chain and tier is derived from each node's ``chain``
and ``role``::

    [fleet]
    name = "op-sepolia"                        # optional

    [[nodes]]
    name = "source-a"                          # unique; light nodes refer to it in "follows"
    role = "source"                            # source | light | supernode | sequencer | proxy
    url = "http://source-a:9545"               # the consensus (op-node) RPC
    chain = "11155420"                         # optional: learned from optimism_rollupConfig
    el_url = "http://source-a-geth:8545"       # optional: block lookups for divergence checks
    metrics_url = "http://source-a:7300/metrics"   # optional

    [[nodes]]
    name = "super"
    role = "supernode"
    url = "http://super:9545"                  # a root: one row per chain route it serves
    # or url = "http://super:9545/11155420"    # one route (op-supernode's URL/<chainID>, rpc_router.go)

    [[nodes]]
    name = "light-1"
    role = "light"
    url = "http://light-1:9545"
    follows = ["source-a"]                     # a supernode root name means its route on this chain

Without a profile, bare URLs become specs (:func:`specs_from_urls`). :func:`discover` asks
nodes what they are and :func:`dumps_profile` writes the result as a profile. In this order:

1. a URL ``…/<chainID>`` whose root answers ``supernode_syncStatus``
   (``op-service/eth/supernode_status.go``) is a supernode route; a URL without
   ``optimism_syncStatus`` that answers it is a supernode root;
2. an opfleet node says what it is: ``opfleet_nodeInfo`` -> ``{"role", "follows"}``
   (:func:`probe_role`); proxyd refuses that method as not whitelisted (-32601 with HTTP 403,
   where any other node answers HTTP 200): a proxy;
3. ``admin_sequencerActive`` true (``op-node/node/api.go``, admin API enabled) is a sequencer;
4. otherwise the heads tell (:func:`role_from_status`): a light node follows, it does not derive,
   so op-node never drives its pending-safe head (``op-node/rollup/status/status.go``); a node
   whose unsafe head runs ahead of its local-safe head receives blocks nobody derived yet, which
   in a specialized fleet (derive-only sources) is the sequencer; the rest derive: sources.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import trio

from opfleet.errors import ConfigError, DecodeError, OpfleetError
from opfleet.log import mask_url
from opfleet.monitor.model import NodeSpec, Role
from opfleet.protocol.rollup_api import ChainIdentity, NodeInfo
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import RpcAuthenticationError, RpcCallError
from opfleet.providers.rollup_node import RollupNodeClient

__all__ = [
    "Fleet",
    "Identity",
    "discover",
    "dumps_profile",
    "load_profile",
    "parse_profile",
    "probe_role",
    "role_from_status",
    "route_chain",
    "specs_from_urls",
    "write_profile",
]

_NODE_KEYS = ("name", "role", "url", "chain", "el_url", "metrics_url", "follows")
_FLEET_KEYS = ("name",)
_ROUTE = re.compile(r"/(\d+)/?$")


class Fleet:
    """A loaded fleet profile: its name (may be empty) and node specs in file order."""

    def __init__(self, name: str, nodes: Sequence[NodeSpec]):
        self.name = name
        self.nodes = tuple(nodes)

    def __repr__(self) -> str:
        return f"Fleet({self.name!r}, {len(self.nodes)} nodes)"


def route_chain(url: str) -> str | None:
    """The chain ID of an op-supernode route ``URL/<chainID>`` (``rpc_router.go``), else
    ``None``."""
    match = _ROUTE.search(urlsplit(url).path)
    return match.group(1) if match else None


def _check_url(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError("expected a URL string", source=source, key=key)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {mask_url(value)}", source=source, key=key)
    return value


def _node(entry: Any, index: int, source: str) -> NodeSpec:
    where = f"nodes[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError("expected a table ([[nodes]])", source=source, key=where)
    unknown = sorted(set(entry) - set(_NODE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (known: {', '.join(_NODE_KEYS)})",
                          source=source, key=where)
    url = _check_url(entry.get("url"), source, f"{where}.url")
    name = entry.get("name", "")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("every node needs a name", source=source, key=f"{where}.name")
    role_text = entry.get("role", "unknown")
    try:
        role = Role.parse(role_text) if isinstance(role_text, str) else None
    except ValueError:
        role = None
    if role is None:
        raise ConfigError(f"unknown role {role_text!r} (one of {', '.join(r.value for r in Role)})",
                          source=source, key=f"{where}.role")
    chain = entry.get("chain")
    if isinstance(chain, int) and not isinstance(chain, bool) and chain > 0:
        chain = str(chain)
    elif chain is not None and not (isinstance(chain, str) and chain.isdigit()):
        raise ConfigError(f"chain must be a decimal chain ID, got {chain!r}", source=source,
                          key=f"{where}.chain")
    route = route_chain(url)
    if role is Role.SUPERNODE:
        # a root serves every chain: a chain key only makes sense on a route
        chain = route if route is not None else None
    elif chain is None:
        chain = route
    follows = entry.get("follows", [])
    if isinstance(follows, str):
        follows = [follows]
    if not isinstance(follows, list) or not all(isinstance(f, str) and f for f in follows):
        raise ConfigError("follows must be a list of node names", source=source, key=f"{where}.follows")
    optional = {}
    for key in ("el_url", "metrics_url"):
        if entry.get(key) is not None:
            optional[key] = _check_url(entry[key], source, f"{where}.{key}")
    return NodeSpec(name=name.strip(), url=url, role=role, chain=chain, follows=tuple(follows), **optional)


def parse_profile(document: Mapping[str, Any], *, source: str = "fleet profile") -> Fleet:
    """Validate a parsed fleet profile; any problem is one :class:`ConfigError` line."""
    unknown = sorted(set(document) - {"fleet", "nodes"})
    if unknown:
        raise ConfigError(f"unknown table {unknown[0]!r} (expected [fleet] and [[nodes]])", source=source)
    header = document.get("fleet", {})
    if not isinstance(header, dict) or set(header) - set(_FLEET_KEYS):
        raise ConfigError("[fleet] takes only a name", source=source, key="fleet")
    entries = document.get("nodes")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("no nodes: add at least one [[nodes]] table", source=source)
    nodes = [_node(entry, i, source) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        if node.name in seen:
            raise ConfigError(f"duplicate node name {node.name!r}", source=source, key=f"nodes[{i}].name")
        seen.add(node.name)
    for i, node in enumerate(nodes):
        for target in node.follows:
            if target not in seen:
                raise ConfigError(f"follows unknown node {target!r}", source=source,
                                  key=f"nodes[{i}].follows")
            if target == node.name:
                raise ConfigError("a node cannot follow itself", source=source, key=f"nodes[{i}].follows")
    return Fleet(str(header.get("name", "")), nodes)


def load_profile(path: str | Path) -> Fleet:
    """Read and validate a fleet profile file."""
    import tomllib

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("fleet profile not found", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read fleet profile: {exc.strerror or exc}", source=str(path)) from None
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    return parse_profile(document, source=str(path))


def dumps_profile(nodes: Sequence[NodeSpec], *, name: str = "") -> str:
    """A fleet profile (TOML text) for ``nodes``; empty optional fields are left out."""
    import tomli_w

    entries = []
    for node in nodes:
        entry: dict[str, Any] = {"name": node.name, "role": node.role.value, "url": node.url}
        if node.chain is not None and not (node.role is Role.SUPERNODE and route_chain(node.url)):
            entry["chain"] = node.chain
        for key in ("el_url", "metrics_url"):
            if getattr(node, key):
                entry[key] = getattr(node, key)
        if node.follows:
            entry["follows"] = list(node.follows)
        entries.append(entry)
    document: dict[str, Any] = {"fleet": {"name": name}} if name else {}
    document["nodes"] = entries
    return tomli_w.dumps(document)


def write_profile(path: str | Path, nodes: Sequence[NodeSpec], *, name: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_profile(nodes, name=name))
    return path


def specs_from_urls(urls: Sequence[str]) -> list[NodeSpec]:
    """Specs for bare URLs: named ``host:port`` (``host:port/<chainID>`` for a route), role unknown
    (a supernode root is recognised when polled)."""
    specs: list[NodeSpec] = []
    names: set[str] = set()
    for i, url in enumerate(urls):
        _check_url(url, "command line", f"URL {i + 1}")
        parts = urlsplit(url)
        chain = route_chain(url)
        base = parts.netloc.rsplit("@", 1)[-1] + (f"/{chain}" if chain else "")
        name, n = base, 2
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.add(name)
        specs.append(NodeSpec(name=name, url=url, chain=chain))
    return specs


# --- discovery ----------------------------------------------------------------------------------


async def _probe(url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None) -> dict[str, Any]:
    """What one URL says about itself: role, chain, routes (for a supernode root), or an error."""
    found: dict[str, Any] = {"url": url}
    async with RollupNodeClient(url, transport=transport, timeout=timeout) as node:
        try:
            with trio.fail_after(timeout * 4):
                sync = await _try(node.sync_status)
                if sync is _MISSING:
                    roots = await node.supernode_sync_status()
                    found.update(role=Role.SUPERNODE, routes=roots.chain_ids())
                    return found
                if not isinstance(sync, SyncStatus):
                    raise DecodeError("optimism_syncStatus: refused by the proxy (not in its rpc_method_mappings)")
                try:
                    config = await _try(node.chain_identity)
                except DecodeError:  # not a config: it names no chain
                    config = None
                if isinstance(config, ChainIdentity) and config.l2_chain_id is not None:
                    found["chain"] = str(config.l2_chain_id)
                if route_chain(url) is not None and await _is_supernode_root(_root_of(url), timeout, transport):
                    found["role"] = Role.SUPERNODE
                    return found
                identity = await probe_role(node)
                found["follows"] = identity.follows
                found["role"] = identity.role or role_from_status(sync, sequencing=identity.sequencing)
        except (OpfleetError, trio.TooSlowError) as exc:
            found["error"] = str(exc) or "no answer in time"
    return found


_MISSING = object()
_NOT_WHITELISTED = object()
T = TypeVar("T")


async def _is_supernode_root(url: str, timeout: float, transport: httpx.AsyncBaseTransport | None) -> bool:
    async with RollupNodeClient(url, transport=transport, timeout=timeout) as root:
        try:
            await root.supernode_sync_status()
        except OpfleetError:
            return False
    return True


async def _try(call: Callable[[], Awaitable[T]]) -> T | object:
    """The call's result, or ``_MISSING`` when the node does not serve the method (``_NOT_WHITELISTED``
    when it is proxyd refusing a method missing from its ``rpc_method_mappings``: -32601 with
    HTTP 403, where every other node answers -32601 with 200)."""
    try:
        return await call()
    except RpcCallError as exc:
        if exc.is_method_not_found:
            return _MISSING
        raise
    except RpcAuthenticationError as exc:
        if exc.rpc_error is not None and exc.rpc_error[0] == -32601:
            return _NOT_WHITELISTED
        raise


def role_from_status(status: SyncStatus, *, sequencing: bool | None = None) -> Role:
    """The role a node's heads show (module docstring, step 4). ``sequencing``: what
    ``admin_sequencerActive`` said (None: not asked, or not served)."""
    if not status.safe_l2.is_zero() and status.pending_safe_l2.number < status.safe_l2.number:
        return Role.LIGHT
    if sequencing is None and status.unsafe_l2.number > status.local_safe_l2.number:
        return Role.SEQUENCER
    return Role.SOURCE


_INFO_ROLES = {"source": Role.SOURCE, "light": Role.LIGHT, "sequencer": Role.SEQUENCER,
               "supernode": Role.SUPERNODE, "proxy": Role.PROXY}


@dataclass(slots=True)
class Identity:
    """What a node says it is: ``role`` (None: it does not say), ``sequencing`` (its
    ``admin_sequencerActive``, None when not served) and the URLs it follows (opfleet nodes)."""

    role: Role | None = None
    sequencing: bool | None = None
    follows: tuple[str, ...] = ()


async def probe_role(client: RollupNodeClient) -> Identity:
    """Ask a node what it is: ``opfleet_nodeInfo`` (opfleet nodes), then ``admin_sequencerActive``
    (op-node with its admin API). Never raises: a node that answers neither says nothing."""
    found = Identity()
    try:
        info = await _try(client.node_info)
    except OpfleetError:
        info = _MISSING
    if info is _NOT_WHITELISTED:  # proxyd refuses what is not in its rpc_method_mappings
        found.role = Role.PROXY
        return found
    if isinstance(info, NodeInfo):
        found.role = _INFO_ROLES.get(str(info.role))
        found.follows = info.follows
        if found.role is not None:
            return found
    try:
        active = await _try(client.sequencer_active)
    except OpfleetError:
        return found
    if isinstance(active, bool):
        found.sequencing = active
        if active:
            found.role = Role.SEQUENCER
    return found


def _root_of(url: str) -> str:
    """``http://host:port/prefix`` of a route ``http://host:port/prefix/<chainID>``."""
    parts = urlsplit(url)
    path = _ROUTE.sub("", parts.path)
    return parts._replace(path=path, query="", fragment="").geturl()


def _same_url(a: str, b: str) -> bool:
    def key(url: str) -> tuple[str, str, str]:
        parts = urlsplit(mask_url(url))
        return parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/")

    return key(a) == key(b)


async def discover(urls: Sequence[str], *, timeout: float = 2.0,
                   transport: httpx.AsyncBaseTransport | None = None) -> tuple[list[NodeSpec], list[str]]:
    """Ask every URL what it is, concurrently. Returns (specs, one-line problems).

    Names are ``<role>-<n>``; a supernode root keeps its root URL (its routes appear as rows when
    polled). ``follows`` is filled in where an opfleet node names a source that is among the
    URLs; otherwise which source a light node follows is not visible over RPC, and the operator
    fills it in (the profile says so in a comment).
    """
    for i, url in enumerate(urls):
        _check_url(url, "command line", f"URL {i + 1}")
    results: list[dict[str, Any]] = [{} for _ in urls]

    async def one(i: int, url: str) -> None:
        results[i] = await _probe(url, timeout=timeout, transport=transport)

    async with trio.open_nursery() as nursery:
        for i, url in enumerate(urls):
            nursery.start_soon(one, i, url)
    specs: list[NodeSpec] = []
    problems: list[str] = []
    counts: dict[Role, int] = {}
    for found in results:
        role = found.get("role", Role.UNKNOWN)
        if "error" in found:
            problems.append(f"{mask_url(found['url'])}: {found['error']}")
        counts[role] = counts.get(role, 0) + 1
        name = f"{role.value}-{counts[role]}"
        chain = None if role is Role.SUPERNODE and route_chain(found["url"]) is None else (
            found.get("chain") or route_chain(found["url"]))
        specs.append(NodeSpec(name=name, url=found["url"], role=role, chain=chain))
    for i, found in enumerate(results):
        follows = tuple(other.name for url in found.get("follows", ()) for other in specs
                        if other is not specs[i] and _same_url(url, other.url))
        if follows:
            specs[i] = NodeSpec(name=specs[i].name, url=specs[i].url, role=specs[i].role,
                                chain=specs[i].chain, follows=follows)
    return specs, problems

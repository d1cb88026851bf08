"""proxyd's TOML configuration, for its ``consensus_aware_consensus_layer`` mode only.

``opfleet proxy --config proxyd.toml`` reads the file an operator already runs proxyd with
(ethereum-optimism/infra ``proxyd/config.go``; reference: ``opnode-rpc.md`` §4.1):

- ``[server]`` ``rpc_host`` (empty: every interface, as Go's ``net.Listen``), ``rpc_port``,
  ``max_body_size_bytes`` (default 10 MiB), ``timeout_seconds`` (default 5), ``max_concurrent_rpcs``;
- ``[metrics]`` ``enabled``/``host``/``port``;
- ``[backend]`` ``response_timeout_seconds`` / ``response_timeout_milliseconds`` (the latter wins;
  default 5 s, proxyd's HTTP client timeout), ``max_retries``, ``max_response_size_bytes``,
  ``max_latency_threshold`` (10s), ``max_degraded_latency_threshold`` (5s),
  ``max_error_rate_threshold`` (0.5);
- ``[backends.NAME]`` ``rpc_url`` (``$VAR`` reads the environment, ``\\$`` escapes), ``headers``,
  ``response_timeout_milliseconds``, ``max_retries`` and the per-backend consensus keys
  ``consensus_skip_peer_count``, ``consensus_forced_candidate``, ``skip_is_syncing_check``,
  ``safe_block_drift_threshold``, ``finalized_block_drift_threshold``;
- ``[backend_groups.NAME]`` ``backends``, ``fallbacks``, ``routing_strategy`` and every
  ``consensus_*`` key with proxyd's defaults (:data:`DEFAULTS`) and Go duration syntax;
- ``[rpc_method_mappings]`` method -> group, ``whitelist_error_message``, ``[batch]``.

Keys of proxyd's other modes (WebSocket, caching, Redis, rate limits, authentication, interop
validation, multicall, the EL ``consensus_aware`` strategy, HA) are refused with one
:class:`~opfleet.errors.ConfigError` naming them all, rather than silently ignored: a proxy that
quietly drops a rate limit or an auth table is worse than one that refuses to start. Keys proxyd
itself ignores in this mode (``consensus_max_block_range``, ``max_block_range``: EL tag rewriting
is off in CL mode) are accepted and ignored likewise.

Pure: :func:`parse_config` takes the decoded TOML document and the environment, no file access.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opfleet.config import defaults
from opfleet.errors import ConfigError

CL_ROUTING_STRATEGY = "consensus_aware_consensus_layer"

DEFAULTS: Mapping[str, Any] = {
    # proxyd/consensus_poller.go NewConsensusPoller
    "consensus_poller_interval": defaults.PROXY_POLLER_INTERVAL,
    "consensus_ban_period": defaults.PROXY_BAN_PERIOD,
    "consensus_max_update_threshold": 30.0,
    "consensus_max_block_lag": 8,
    "consensus_min_peer_count": 3,
    "consensus_cl_sync_threshold": 10,
    "consensus_cl_head_l1_max_age": 300.0,
    "consensus_cl_output_root_ban_threshold": 3,
}
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_SERVER_TIMEOUT = 5.0

# --- Go durations -------------------------------------------------------------------------------

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` (``"1m"``, ``"1.5s"``, ``"300ms"``, ``"1h2m3s"``, ``"0"``) in
    seconds; proxyd's ``TOMLDuration``. A unit is required except for ``0``; negative durations
    mean nothing for these settings and are refused."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    s = text.strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    if s.startswith("+"):
        s = s[1:]
    if s.startswith("-") or not s:
        raise ValueError(text)
    pos, total = 0, 0.0
    for match in _GO_PART.finditer(s):
        number = match.group(1)
        if match.start() != pos or number in ("", "."):
            raise ValueError(text)
        total += float(number) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s):
        raise ValueError(text)
    return total


# --- the parsed configuration ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """One ``[backends.NAME]`` table, with ``[backend]`` defaults applied."""

    name: str
    rpc_url: str
    timeout: float = defaults.PROXY_BACKEND_TIMEOUT
    max_retries: int = 0
    max_response_size_bytes: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    skip_peer_count: bool = False
    forced_candidate: bool = False
    skip_is_syncing_check: bool = False
    safe_block_drift_threshold: int = 0
    finalized_block_drift_threshold: int = 0
    max_latency_threshold: float = 10.0
    max_degraded_latency_threshold: float = 5.0
    max_error_rate_threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """The ``consensus_aware_consensus_layer`` backend group."""

    name: str
    backends: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()
    poller_interval: float = DEFAULTS["consensus_poller_interval"]
    ban_period: float = DEFAULTS["consensus_ban_period"]
    max_update_threshold: float = DEFAULTS["consensus_max_update_threshold"]
    max_block_lag: int = DEFAULTS["consensus_max_block_lag"]
    min_peer_count: int = DEFAULTS["consensus_min_peer_count"]
    cl_sync_threshold: int = DEFAULTS["consensus_cl_sync_threshold"]
    cl_head_l1_max_age: float = DEFAULTS["consensus_cl_head_l1_max_age"]
    cl_output_root_ban_threshold: int = DEFAULTS["consensus_cl_output_root_ban_threshold"]
    noop_handler: bool = False
    """``consensus_handler = "noop"``: proxyd's hook for its own tests (nothing polls). We poll
    anyway and say so at start: a file written for proxyd's tests should still work."""


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Everything ``opfleet proxy`` needs, whichever way it was given (file or flags)."""

    group: GroupConfig
    backends: tuple[BackendConfig, ...]
    method_mappings: Mapping[str, str]
    rpc_host: str = ""
    rpc_port: int = 0
    max_body_size_bytes: int = DEFAULT_MAX_BODY_BYTES
    server_timeout: float = DEFAULT_SERVER_TIMEOUT
    max_concurrent_rpcs: int = 0
    whitelist_error_message: str = "rpc method is not whitelisted"
    batch_max_size: int = 0
    batch_error_message: str = "too many RPC calls in batch request"
    metrics_enabled: bool = False
    metrics_host: str = ""
    metrics_port: int = 0
    log_level: str | None = None
    source: str | None = None
    """The file it came from (for messages), or None for flags."""

    def backend(self, name: str) -> BackendConfig:
        for backend in self.backends:
            if backend.name == name:
                return backend
        raise KeyError(name)


# --- keys ---------------------------------------------------------------------------------------

_SERVER_KEYS = {"rpc_host", "rpc_port", "max_body_size_bytes", "timeout_seconds", "max_concurrent_rpcs",
                "disable_concurrent_request_semaphore", "log_level"}
_METRICS_KEYS = {"enabled", "host", "port"}
_BACKEND_OPTION_KEYS = {"response_timeout_seconds", "response_timeout_milliseconds", "max_retries",
                        "max_response_size_bytes", "max_latency_threshold", "max_degraded_latency_threshold",
                        "max_error_rate_threshold"}
_BACKEND_KEYS = {"rpc_url", "headers", "response_timeout_milliseconds", "max_retries", "consensus_skip_peer_count",
                 "consensus_forced_candidate", "skip_is_syncing_check", "safe_block_drift_threshold",
                 "finalized_block_drift_threshold"}
_GROUP_KEYS = {"backends", "fallbacks", "routing_strategy", "consensus_handler", "consensus_poller_interval",
               "consensus_ban_period", "consensus_max_update_threshold", "consensus_max_block_lag",
               "consensus_min_peer_count", "consensus_cl_sync_threshold", "consensus_cl_head_l1_max_age",
               "consensus_cl_output_root_ban_threshold",
               # proxyd ignores these in CL mode (tag rewriting is off), and so do we
               "consensus_max_block_range", "max_block_range"}
_BATCH_KEYS = {"max_size", "error_message"}
_TOP_KEYS = {"server", "metrics", "backend", "backends", "backend_groups", "rpc_method_mappings",
             "whitelist_error_message", "batch"}

# Keys proxyd knows and opfleet proxy does not implement: refused by name (other modes, features).
_OTHER_MODE_TOP = {"cache", "redis", "rate_limit", "authentication", "ws_method_whitelist", "ws_backend_group",
                   "sender_rate_limit", "interop_validation", "tx_validation_middleware"}
_OTHER_MODE_SERVER = {"ws_host", "ws_port", "max_concurrent_ws_rpcs", "max_upstream_batch_size",
                      "enable_request_log", "max_request_body_log_len", "enable_pprof", "enable_served_by_header",
                      "allow_all_origins", "public_access", "enable_tx_hash_logging", "graceful_shutdown_seconds"}
_OTHER_MODE_BACKEND_OPTIONS = {"out_of_service_seconds"}
_OTHER_MODE_BACKEND = {"username", "password", "ws_url", "ws_port", "max_rps", "max_ws_conns", "ca_file",
                       "client_cert_file", "client_key_file", "strip_trailing_xff", "probe_failure_threshold",
                       "probe_success_threshold", "probe_period_seconds", "probe_timeout_seconds", "probe_url",
                       "weight", "consensus_receipts_target", "allowed_status_codes"}
_OTHER_MODE_GROUP = {"weighted_routing", "multicall_rpc_error_check", "consensus_aware", "consensus_ha",
                     "consensus_ha_heartbeat_interval", "consensus_ha_lock_period", "consensus_ha_redis"}


def load_config(path: str | Path, env: Mapping[str, str]) -> ProxyConfig:
    """Read and parse proxyd's TOML file ``path``; every problem is one ConfigError naming the file."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the proxyd config: {exc.strerror or exc}", source=source) from None
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    return parse_config(document, env, source=source)


def parse_config(document: Mapping[str, Any], env: Mapping[str, str], *, source: str | None = None) -> ProxyConfig:
    """Turn a decoded proxyd TOML document into a :class:`ProxyConfig` (see the module docstring)."""
    reader = _Reader(source)
    reader.check_keys(document, "", _TOP_KEYS, _OTHER_MODE_TOP)
    server = reader.table(document, "server")
    reader.check_keys(server, "server.", _SERVER_KEYS, _OTHER_MODE_SERVER)
    metrics = reader.table(document, "metrics")
    reader.check_keys(metrics, "metrics.", _METRICS_KEYS, set())
    options = reader.table(document, "backend")
    reader.check_keys(options, "backend.", _BACKEND_OPTION_KEYS, _OTHER_MODE_BACKEND_OPTIONS)
    batch = reader.table(document, "batch")
    reader.check_keys(batch, "batch.", _BATCH_KEYS, set())
    backends_table = reader.table(document, "backends")
    groups_table = reader.table(document, "backend_groups")
    for name in backends_table:
        reader.check_keys(reader.table(backends_table, name, f"backends.{name}"), f"backends.{name}.",
                          _BACKEND_KEYS, _OTHER_MODE_BACKEND)
    for name in groups_table:
        reader.check_keys(reader.table(groups_table, name, f"backend_groups.{name}"), f"backend_groups.{name}.",
                          _GROUP_KEYS, _OTHER_MODE_GROUP)
    reader.raise_refused()

    # [backend]: timeouts and health thresholds shared by every backend
    timeout = defaults.PROXY_BACKEND_TIMEOUT
    if "response_timeout_seconds" in options:
        timeout = float(reader.integer(options, "response_timeout_seconds", "backend.", minimum=0)) or timeout
    if options.get("response_timeout_milliseconds"):
        timeout = reader.integer(options, "response_timeout_milliseconds", "backend.", minimum=0) / 1000
    shared = {
        "timeout": timeout,
        "max_retries": reader.integer(options, "max_retries", "backend.", default=0, minimum=0),
        "max_response_size_bytes": reader.integer(options, "max_response_size_bytes", "backend.", default=0, minimum=0),
        "max_latency_threshold": reader.duration(options, "max_latency_threshold", "backend.", 10.0),
        "max_degraded_latency_threshold": reader.duration(options, "max_degraded_latency_threshold", "backend.", 5.0),
        "max_error_rate_threshold": reader.number(options, "max_error_rate_threshold", "backend.", 0.5),
    }

    if not groups_table:
        raise reader.error("no [backend_groups] table: define one group with "
                           f'routing_strategy = "{CL_ROUTING_STRATEGY}"', "backend_groups")
    if len(groups_table) > 1:
        raise reader.error(f"opfleet proxy serves one {CL_ROUTING_STRATEGY} backend group; this file has "
                           f"{len(groups_table)} ({', '.join(sorted(groups_table))})", "backend_groups")
    group_name, group_table = next(iter(groups_table.items()))
    prefix = f"backend_groups.{group_name}."
    strategy = reader.string(group_table, "routing_strategy", prefix, default="")
    if strategy != CL_ROUTING_STRATEGY:
        shown = f'"{strategy}"' if strategy else "not set (proxyd's fallback strategy)"
        raise reader.error(f'routing_strategy is {shown}; opfleet proxy implements only "{CL_ROUTING_STRATEGY}"',
                           prefix + "routing_strategy")
    members = reader.names(group_table, "backends", prefix)
    fallbacks = reader.names(group_table, "fallbacks", prefix, required=False)
    if not members:
        raise reader.error("the group has no backends", prefix + "backends")
    for name in (*members, *fallbacks):
        if name not in backends_table:
            raise reader.error(f"backend {name!r} is not defined in [backends]", prefix + "backends")
    for name in fallbacks:
        if name not in members:
            raise reader.error(f"fallback {name!r} must also be listed in backends", prefix + "fallbacks")
    handler = reader.string(group_table, "consensus_handler", prefix, default="")
    group = GroupConfig(
        name=group_name,
        backends=tuple(members),
        fallbacks=tuple(fallbacks),
        poller_interval=reader.positive_duration(group_table, "consensus_poller_interval", prefix),
        ban_period=reader.positive_duration(group_table, "consensus_ban_period", prefix),
        max_update_threshold=reader.positive_duration(group_table, "consensus_max_update_threshold", prefix),
        max_block_lag=reader.positive_int(group_table, "consensus_max_block_lag", prefix),
        min_peer_count=reader.positive_int(group_table, "consensus_min_peer_count", prefix),
        cl_sync_threshold=reader.positive_int(group_table, "consensus_cl_sync_threshold", prefix),
        cl_head_l1_max_age=reader.positive_duration(group_table, "consensus_cl_head_l1_max_age", prefix),
        cl_output_root_ban_threshold=reader.positive_int(group_table, "consensus_cl_output_root_ban_threshold", prefix),
        noop_handler=handler == "noop",
    )

    backends = []
    for name in members:
        table = backends_table[name]
        bprefix = f"backends.{name}."
        url = reader.env_value(reader.string(table, "rpc_url", bprefix, default=""), env, bprefix + "rpc_url")
        if not url:
            raise reader.error(f"must define an RPC URL for backend {name}", bprefix + "rpc_url")
        if not url.startswith(("http://", "https://")):
            raise reader.error(f"rpc_url must be an http(s) URL (got {url.split(':', 1)[0]}://...)",
                               bprefix + "rpc_url")
        headers_table = reader.table(table, "headers", bprefix + "headers")
        headers = {}
        for key, value in headers_table.items():
            if not isinstance(value, str):
                raise reader.error("expected a string", f"{bprefix}headers.{key}")
            headers[key] = reader.env_value(value, env, f"{bprefix}headers.{key}")
        values: dict[str, Any] = dict(shared)
        if table.get("response_timeout_milliseconds"):
            values["timeout"] = reader.integer(table, "response_timeout_milliseconds", bprefix, minimum=0) / 1000
        if "max_retries" in table:
            values["max_retries"] = reader.integer(table, "max_retries", bprefix, minimum=0)
        backends.append(BackendConfig(
            name=name, rpc_url=url, headers=headers,
            skip_peer_count=reader.boolean(table, "consensus_skip_peer_count", bprefix),
            forced_candidate=reader.boolean(table, "consensus_forced_candidate", bprefix),
            skip_is_syncing_check=reader.boolean(table, "skip_is_syncing_check", bprefix),
            safe_block_drift_threshold=reader.integer(table, "safe_block_drift_threshold", bprefix, default=0,
                                                      minimum=0),
            finalized_block_drift_threshold=reader.integer(table, "finalized_block_drift_threshold", bprefix,
                                                           default=0, minimum=0),
            **values,
        ))

    mappings_table = reader.table(document, "rpc_method_mappings")
    mappings: dict[str, str] = {}
    for method, target in mappings_table.items():
        if not isinstance(target, str):
            raise reader.error("expected the name of a backend group", f"rpc_method_mappings.{method}")
        if target != group_name:
            raise reader.error(f"maps to backend group {target!r}, which is not defined",
                               f"rpc_method_mappings.{method}")
        mappings[method] = target

    rpc_port = reader.integer(server, "rpc_port", "server.", default=0, minimum=0, maximum=65535)
    metrics_enabled = reader.boolean(metrics, "enabled", "metrics.")
    return ProxyConfig(
        group=group,
        backends=tuple(backends),
        method_mappings=mappings,
        rpc_host=reader.string(server, "rpc_host", "server.", default=""),
        rpc_port=rpc_port,
        max_body_size_bytes=reader.integer(server, "max_body_size_bytes", "server.", default=0, minimum=0)
        or DEFAULT_MAX_BODY_BYTES,
        server_timeout=float(reader.integer(server, "timeout_seconds", "server.", default=0, minimum=0)
                             or DEFAULT_SERVER_TIMEOUT),
        max_concurrent_rpcs=0 if reader.boolean(server, "disable_concurrent_request_semaphore", "server.")
        else reader.integer(server, "max_concurrent_rpcs", "server.", default=0, minimum=0),
        whitelist_error_message=reader.string(document, "whitelist_error_message", "", default="")
        or "rpc method is not whitelisted",
        batch_max_size=reader.integer(batch, "max_size", "batch.", default=0, minimum=0),
        batch_error_message=reader.string(batch, "error_message", "batch.", default="")
        or "too many RPC calls in batch request",
        metrics_enabled=metrics_enabled,
        metrics_host=reader.string(metrics, "host", "metrics.", default=""),
        metrics_port=reader.integer(metrics, "port", "metrics.", default=0, minimum=0, maximum=65535),
        log_level=reader.string(server, "log_level", "server.", default="") or None,
        source=source,
    )


class _Reader:
    """Typed access to the TOML tables; every error names the file and the dotted key."""

    def __init__(self, source: str | None):
        self.source = source
        self.refused: list[str] = []

    def error(self, message: str, key: str) -> ConfigError:
        return ConfigError(message, source=self.source, key=key)

    def check_keys(self, table: Mapping[str, Any], prefix: str, known: set[str], other_mode: set[str]) -> None:
        for key in table:
            if key in known:
                continue
            if key in other_mode:
                self.refused.append(prefix + key)
            else:
                raise self.error(f"unknown proxyd key (this mode reads: {', '.join(sorted(known))})", prefix + key)

    def raise_refused(self) -> None:
        if self.refused:
            raise ConfigError(
                f"proxyd settings opfleet proxy does not implement (it is a drop-in for "
                f"{CL_ROUTING_STRATEGY} only): {', '.join(self.refused)}", source=self.source)

    def table(self, parent: Mapping[str, Any], key: str, dotted: str | None = None) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.error("expected a table", dotted or key)
        return value

    def string(self, table: Mapping[str, Any], key: str, prefix: str, *, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.error("expected a string", prefix + key)
        return value

    def boolean(self, table: Mapping[str, Any], key: str, prefix: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.error("expected a boolean (true or false)", prefix + key)
        return value

    def integer(self, table: Mapping[str, Any], key: str, prefix: str, *, default: int | None = None,
                minimum: int | None = None, maximum: int | None = None) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error("expected an integer", prefix + key)
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}", prefix + key)
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}", prefix + key)
        return value

    def number(self, table: Mapping[str, Any], key: str, prefix: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.error("expected a non-negative number", prefix + key)
        return float(value)

    def duration(self, table: Mapping[str, Any], key: str, prefix: str, default: float) -> float:
        if key not in table:
            return default
        value = table[key]
        try:
            return parse_go_duration(value)
        except ValueError:
            raise self.error(f"expected a Go duration such as \"5s\", \"1m30s\" or \"300ms\" (got {value!r})",
                             prefix + key) from None

    def positive_duration(self, table: Mapping[str, Any], key: str, prefix: str) -> float:
        """proxyd applies a duration only when it is above zero; zero keeps the default."""
        return self.duration(table, key, prefix, DEFAULTS[key]) or DEFAULTS[key]

    def positive_int(self, table: Mapping[str, Any], key: str, prefix: str) -> int:
        """proxyd applies these only when above zero; zero keeps the default."""
        return self.integer(table, key, prefix, default=DEFAULTS[key], minimum=0) or DEFAULTS[key]

    def names(self, table: Mapping[str, Any], key: str, prefix: str, *, required: bool = True) -> list[str]:
        value = table.get(key, [] if not required else None)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error("expected a list of backend names", prefix + key)
        if len(set(value)) != len(value):
            raise self.error("lists a backend twice", prefix + key)
        return value

    def env_value(self, value: str, env: Mapping[str, str], key: str) -> str:
        """proxyd's ``ReadFromEnvOrConfig``: ``$NAME`` reads the environment, ``\\`` escapes."""
        if value.startswith("$"):
            resolved = env.get(value[1:], "")
            if not resolved:
                raise self.error(f"config env var {value} not found", key)
            return resolved
        if value.startswith("\\"):
            return value[1:]
        return value


def simple_config(urls: list[str], *, rpc_host: str, rpc_port: int, poller_interval: float | None = None,
                  ban_period: float | None = None, min_peer_count: int = 0, timeout: float | None = None,
                  metrics_enabled: bool = False, metrics_host: str = "", metrics_port: int = 0,
                  names: list[str] | None = None, max_update_threshold: float | None = None) -> ProxyConfig:
    """The configuration behind ``opfleet proxy --backend URL --backend URL ...``.

    Backends are named ``backend-1``, ``backend-2``, ... in the order given (or ``names``: the
    devnet names them after its sources). ``min_peer_count``
    0 skips the ``opp2p_peerStats`` check (``consensus_skip_peer_count`` on every backend): a
    source without p2p (every opfleet source, op-node with ``--p2p.disable``) has no peers to count.
    The op-node methods a light node reads are mapped; anything else is refused like proxyd.
    """
    if not urls:
        raise ConfigError("no backends: give --backend URL (repeat it, or comma-separate) or --config FILE",
                          key="backend")
    if len(set(urls)) != len(urls):
        raise ConfigError("the same backend URL is given twice", key="backend")
    names = names or [f"backend-{index}" for index in range(1, len(urls) + 1)]
    if len(names) != len(urls) or len(set(names)) != len(names):
        raise ValueError("one distinct name per backend URL")
    backends = []
    for name, url in zip(names, urls):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"not an http(s) URL: {url.split(':', 1)[0]}://...", key="backend")
        backends.append(BackendConfig(name=name, rpc_url=url,
                                      timeout=timeout or defaults.PROXY_BACKEND_TIMEOUT,
                                      skip_peer_count=min_peer_count == 0))
    group = GroupConfig(
        name="node", backends=tuple(b.name for b in backends),
        poller_interval=poller_interval or DEFAULTS["consensus_poller_interval"],
        ban_period=ban_period or DEFAULTS["consensus_ban_period"],
        max_update_threshold=max_update_threshold or DEFAULTS["consensus_max_update_threshold"],
        min_peer_count=min_peer_count or DEFAULTS["consensus_min_peer_count"],
    )
    methods = ("optimism_syncStatus", "optimism_outputAtBlock", "optimism_rollupConfig", "optimism_version",
               "optimism_safeHeadAtL1Block")
    return ProxyConfig(group=group, backends=tuple(backends), method_mappings={m: "node" for m in methods},
                       rpc_host=rpc_host, rpc_port=rpc_port, metrics_enabled=metrics_enabled,
                       metrics_host=metrics_host, metrics_port=metrics_port)

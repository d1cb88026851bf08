"""``opfleet proxy``: the consensus-aware deriver tier until Ctrl-C (see :mod:`opfleet.proxy`).

``--config FILE`` reads proxyd's TOML (:mod:`opfleet.config.proxyd`): every problem, including
keys of proxyd's other modes, is one line naming the file and the key (exit 3). ``--backend URL``
builds the same configuration from flags. Flags given explicitly (``--rpc.addr``, ``--rpc.port``,
``--metrics.*``) override the file's ``[server]`` / ``[metrics]``, so one file can serve a test
on port 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from opfleet.cli.daemon import run_daemon, run_until_signal
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import ConfigError

DEFAULT_ADDR = "127.0.0.1"
DEFAULT_PORT = 9545


def _given(settings: Any, key: str) -> bool:
    return settings.value(key).origin != "default"


def proxy_config(settings: Any, env: Any) -> Any:
    """A :class:`~opfleet.config.proxyd.ProxyConfig` from the merged settings."""
    from opfleet.config.proxyd import load_config, simple_config

    path = settings.get("config")
    urls = settings.get("backend") or []
    if isinstance(urls, str):
        urls = [urls]
    urls = [u.strip() for item in urls for u in str(item).split(",") if u.strip()]
    if path and urls:
        raise ConfigError("give either --config FILE or --backend URL, not both", key="backend")
    if path:
        config = load_config(str(path), env)
        changes: dict[str, Any] = {}
        if _given(settings, "rpc.addr"):
            changes["rpc_host"] = str(settings["rpc.addr"])
        if _given(settings, "rpc.port"):
            changes["rpc_port"] = int(settings["rpc.port"])
        for key, field in (("metrics.enabled", "metrics_enabled"), ("metrics.addr", "metrics_host"),
                           ("metrics.port", "metrics_port")):
            if _given(settings, key):
                changes[field] = settings[key]
        config = dataclasses.replace(config, **changes)
        if not config.rpc_port and not _given(settings, "rpc.port"):
            raise ConfigError("no [server] rpc_port: proxyd serves nothing without one (or pass --rpc.port)",
                              source=str(path), key="server.rpc_port")
        return config
    if not urls:
        raise ConfigError("nothing to proxy: give --config proxyd.toml, or --backend URL (repeat it)", key="backend")
    port = settings.get("rpc.port")
    return simple_config(
        urls, rpc_host=str(settings.get("rpc.addr") or DEFAULT_ADDR),
        rpc_port=int(port) if port is not None else DEFAULT_PORT,
        poller_interval=float(settings.get("consensus.poller-interval") or 1.0),
        ban_period=float(settings.get("consensus.ban-period") or 300.0),
        min_peer_count=int(settings.get("consensus.min-peer-count") or 0),
        timeout=float(settings.get("backend.timeout") or 5.0),
        metrics_enabled=bool(settings.get("metrics.enabled")),
        metrics_host=str(settings.get("metrics.addr") or "0.0.0.0"),
        metrics_port=int(settings.get("metrics.port") or 7300),
    )


async def serve(config: Any) -> ExitStatus:
    from opfleet.proxy import Proxy

    return await run_until_signal(Proxy(config).run)


def run(ctx: Context) -> ExitStatus:
    config = proxy_config(ctx.settings, ctx.env.vars)
    if config.log_level and not _given(ctx.settings, "log.level"):
        _apply_log_level(config)
    return run_daemon(serve, config)


def _apply_log_level(config: Any) -> None:
    """The file's ``[server] log_level`` (proxyd's names), unless ``--log.level`` was given."""
    import logging

    from opfleet.log import LEVELS

    level = LEVELS.get(str(config.log_level).lower())
    if level is None:
        raise ConfigError(f"unknown log_level {config.log_level!r} (one of {', '.join(LEVELS)})",
                          source=config.source, key="server.log_level")
    logging.getLogger("opfleet").setLevel(level)

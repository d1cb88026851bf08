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

from opfleet.cli._settings import setting
from opfleet.cli.daemon import run_daemon, run_until_signal
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.config import defaults
from opfleet.config.spec import PROXY
from opfleet.errors import ConfigError


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
    # No table default for --rpc.*: with --config the file's [server] decides. An empty
    # address listens on every interface and a zero duration keeps proxyd's default, as in the file.
    addr, port = setting(settings, "rpc.addr", PROXY), setting(settings, "rpc.port", PROXY)
    return simple_config(
        urls, rpc_host=str(defaults.RPC_ADDR if addr is None else addr),
        rpc_port=int(defaults.RPC_PORT if port is None else port),
        poller_interval=float(setting(settings, "consensus.poller-interval", PROXY)),
        ban_period=float(setting(settings, "consensus.ban-period", PROXY)),
        min_peer_count=int(setting(settings, "consensus.min-peer-count", PROXY)),
        timeout=float(setting(settings, "backend.timeout", PROXY)),
        metrics_enabled=bool(setting(settings, "metrics.enabled", PROXY)),
        metrics_host=str(setting(settings, "metrics.addr", PROXY)),
        metrics_port=int(setting(settings, "metrics.port", PROXY)),
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

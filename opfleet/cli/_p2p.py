"""``--p2p.*`` settings to an :class:`opfleet.p2p.P2PConfig` (shared by the node commands)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from opfleet.cli._settings import ADDRESS_HINT, nonempty, setting
from opfleet.config import defaults
from opfleet.errors import ConfigError


def p2p_config(settings: Any, *, sequencing: bool = False) -> Any:
    """The node's P2PConfig, or None when gossip is off.

    Gossip runs unless ``--p2p.disable``, once any of ``--p2p.static``, ``--p2p.listen.tcp``,
    ``--p2p.sequencer.key`` or ``--p2p.bootnodes`` is given (op-node runs it always; a node that
    neither dials nor is told to listen would only hold a port). Bootnodes are not dialled (no
    discv5): a warning says so."""
    if settings.get("p2p.disable"):
        return None
    bootnodes = settings.get("p2p.bootnodes")
    static = settings.get("p2p.static") or []
    if isinstance(static, str):
        static = [static]
    key_hex = settings.get("p2p.sequencer.key")
    listen = settings.get("p2p.listen.tcp")
    if not static and key_hex is None and listen is None and not bootnodes:
        return None
    if bootnodes:  # a drop-in keeps starting; it says once what it cannot do
        logging.getLogger("opfleet.p2p").warning(
            "--p2p.bootnodes ignored: discv5 discovery is not supported (no maintained discv5 library for "
            "Python); peers come from --p2p.static and inbound connections on --p2p.listen.tcp")
    from opfleet.p2p import P2PConfig
    from opfleet.p2p.wire import Multiaddr, WireError

    for text in static:
        try:
            addr = Multiaddr.parse(str(text))
        except WireError as exc:
            raise ConfigError(f"{exc}", key="p2p.static") from None
        if addr.peer_id is None:
            raise ConfigError(f"{text} lacks /p2p/<peer id>", key="p2p.static")
    key = None
    if key_hex is not None:
        try:
            key = bytes.fromhex(str(key_hex).strip().removeprefix("0x"))
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError("expected a 32-byte hex private key", key="p2p.sequencer.key")
        if not sequencing:
            raise ConfigError("it signs the blocks a sequencer builds: it needs "
                              "opfleet light --sequencer.enabled", key="p2p.sequencer.key")
    config = P2PConfig(
        listen_ip=nonempty(settings, "p2p.listen.ip", hint=ADDRESS_HINT),
        listen_tcp=int(listen) if listen is not None else defaults.P2P_LISTEN_TCP,
        static=tuple(str(s) for s in static),
        priv_path=Path(str(setting(settings, "p2p.priv.path"))),
        sequencer_key=key,
        ban_peers=bool(setting(settings, "p2p.ban.peers")),
        ban_threshold=_score(setting(settings, "p2p.ban.threshold")),
        ban_duration=float(setting(settings, "p2p.ban.duration")),  # 0: a ban ends at once, as in op-node
    )
    try:
        config.identity()
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{exc}", key="p2p.priv.path") from None
    return config


def _score(raw: Any) -> float:
    try:
        return float(str(raw))
    except ValueError:
        raise ConfigError(f"{raw!r} is not a number", key="p2p.ban.threshold") from None

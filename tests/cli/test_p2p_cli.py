"""``--p2p.*`` settings: op-node's names and environment variables, when gossip runs, and one clear
line (exit 3) for each bad value."""

from __future__ import annotations

import pytest

from opfleet.config import spec
from opfleet.cli._p2p import p2p_config
from opfleet.errors import ConfigError
from opfleet.p2p import Identity

PEER = Identity((7).to_bytes(32, "big")).peer_id_text
STATIC = f"/ip4/10.0.0.1/tcp/9222/p2p/{PEER}"


def test_flags_and_environment_follow_op_node():
    options = {o.key: o for o in spec.LIGHT.options}
    assert options["p2p.listen.tcp"].env == ("OP_NODE_P2P_LISTEN_TCP", "OP_NODE_P2P_LISTEN_TCP_PORT")
    assert options["p2p.static"].env == ("OP_NODE_P2P_STATIC",)
    assert options["p2p.sequencer.key"].env == ("OP_NODE_P2P_SEQUENCER_KEY",) and options["p2p.sequencer.key"].secret
    assert "OP_NODE_P2P_PEER_BANNING" in options["p2p.ban.peers"].env
    assert {o.key for o in spec.SOURCE.options} >= {"p2p.static", "p2p.listen.tcp", "p2p.priv.path"}


def test_gossip_runs_only_when_asked(tmp_path):
    assert p2p_config({}) is None
    assert p2p_config({"p2p.static": [STATIC], "p2p.disable": True}) is None
    key = tmp_path / "p2p.key"
    config = p2p_config({"p2p.static": [STATIC], "p2p.priv.path": str(key)})
    assert config.listen_tcp == 9222 and config.static == (STATIC,)
    assert config.identity().peer_id == p2p_config({"p2p.static": STATIC, "p2p.priv.path": str(key)}).identity().peer_id
    seq = p2p_config({"p2p.sequencer.key": "0x" + "ab" * 32, "p2p.listen.tcp": 0, "p2p.priv.path": str(key)},
                     sequencing=True)
    assert seq.sequencer_key == bytes.fromhex("ab" * 32) and seq.listen_tcp == 0
    assert p2p_config({"p2p.listen.tcp": 9333, "p2p.ban.threshold": "-50", "p2p.ban.peers": False,
                       "p2p.priv.path": str(key)}).ban_threshold == -50.0


@pytest.mark.parametrize("settings, key, message", [
    ({"p2p.static": ["/ip4/1.2.3.4/tcp/9222"]}, "p2p.static", "lacks /p2p/"),
    ({"p2p.static": ["garbage"]}, "p2p.static", "unsupported multiaddr"),
    ({"p2p.sequencer.key": "1234"}, "p2p.sequencer.key", "32-byte hex"),
    ({"p2p.sequencer.key": "zz" * 32}, "p2p.sequencer.key", "32-byte hex"),
    ({"p2p.sequencer.key": "ab" * 32}, "p2p.sequencer.key", "--sequencer.enabled"),
    ({"p2p.listen.tcp": 0, "p2p.ban.threshold": "abc"}, "p2p.ban.threshold", "not a number"),
])
def test_bad_values_are_one_line_naming_the_flag(settings, key, message, tmp_path):
    settings = {"p2p.priv.path": str(tmp_path / "k"), **settings}
    with pytest.raises(ConfigError, match=message) as info:
        p2p_config(settings)
    assert info.value.key == key


def test_bootnodes_are_not_dialled_and_a_warning_says_so(tmp_path):
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("opfleet.p2p")  # the CLI's logging may stop propagation to the root
    logger.addHandler(handler)
    try:
        config = p2p_config({"p2p.bootnodes": ["enr:-abc"], "p2p.priv.path": str(tmp_path / "k")})
    finally:
        logger.removeHandler(handler)
    assert config is not None and config.listen_tcp == 9222 and config.static == ()
    assert any("discv5 discovery is not supported" in r.getMessage() and r.levelno == logging.WARNING
               for r in records)


def test_an_unreadable_key_file_is_refused(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not hex")
    with pytest.raises(ConfigError, match="32-byte hex") as info:
        p2p_config({"p2p.static": [STATIC], "p2p.priv.path": str(bad)})
    assert info.value.key == "p2p.priv.path"

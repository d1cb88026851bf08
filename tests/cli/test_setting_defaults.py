"""One default per setting, in the option table (:mod:`opfleet.config.spec`).

A command reads its merged settings; code and tests that hand a plain mapping get the table's
default for what they leave out. An explicit 0 or empty value is the operator's: it keeps its own
meaning (op-node's, where opfleet mirrors an op-node flag) or is refused in one line naming where
it came from, never quietly replaced by the default.
"""

from __future__ import annotations

import json

import pytest

from opfleet.cli._settings import setting
from opfleet.cli.exit import ExitStatus
from opfleet.config import defaults, spec
from opfleet.config.settings import resolve
from opfleet.errors import ConfigError
from opfleet.testing.derive import FakeL1Chain, make_rollup_config

JWT = "0x" + "11" * 32


@pytest.fixture
def node_flags(tmp_path):
    """The flags a source or light node needs, with files to back them."""
    rollup = make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0)
    (tmp_path / "rollup.json").write_text(json.dumps(rollup.to_json()))
    (tmp_path / "jwt.hex").write_text(JWT)
    from opfleet.protocol.l1_chain_config import L1ChainConfig

    (tmp_path / "l1.json").write_text(json.dumps(L1ChainConfig.at_genesis(900, "prague").to_json()))
    return {"rollup.config": str(tmp_path / "rollup.json"), "rollup.l1-chain-config": str(tmp_path / "l1.json"),
            "l1": "http://l1:8545", "l1.beacon": "http://beacon:5052", "l2": "http://l2:8551",
            "l2.jwt-secret": str(tmp_path / "jwt.hex"), "l2.follow.source": "http://source:9545"}


def merged(command: spec.Command, flags: dict, env: dict | None = None):
    return resolve(command, flags=flags, env=env or {}, profile=None)


# --- the helper -------------------------------------------------------------------------------------


def test_what_a_mapping_lacks_reads_as_the_tables_default():
    assert setting({}, "l1.http-poll-interval") == defaults.L1_HTTP_POLL_INTERVAL == spec.L1_POLL.default
    assert setting(None, "timeout") == spec.POLL_TIMEOUT.default
    assert setting({}, "sequencer.l1-confs") == 4  # not 0: the light command's default
    assert setting({"p2p.ban.peers": None}, "p2p.ban.peers") is True


def test_an_explicit_zero_false_or_empty_value_is_kept():
    assert setting({"timeout": 0.0}, "timeout") == 0.0
    assert setting({"p2p.ban.peers": False}, "p2p.ban.peers") is False
    assert setting({"fleet": ""}, "fleet") == ""
    flags = merged(spec.LIGHT, {"l1.http-poll-interval": "0s", "sequencer.l1-confs": "0"})
    assert setting(flags, "l1.http-poll-interval") == 0.0 and setting(flags, "sequencer.l1-confs") == 0


def test_where_commands_differ_the_commands_own_default_is_read():
    with pytest.raises(KeyError, match="differ"):
        spec.default("data-dir")
    with pytest.raises(KeyError, match="no such setting"):
        spec.default("no-such-key")
    assert setting({}, "data-dir", spec.DEVNET) == "opfleet-devnet"
    assert setting({}, "data-dir", spec.SUPERNODE) == "opfleet-supernode"
    # A command's merged settings answer for their own command, whatever the caller names.
    assert setting(merged(spec.PROXY, {}), "rpc.port", spec.SOURCE) is None
    assert setting(merged(spec.SOURCE, {}), "rpc.port", spec.PROXY) == defaults.RPC_PORT


# --- zero and empty values, decided ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["source", "light"])
def test_a_zero_l1_poll_interval_is_refused_naming_the_flag(node_flags, command):
    # op-node takes 0 as "never poll for L1 heads" (a test setting); a node that never learns a
    # new L1 head derives or checks nothing, so opfleet refuses it rather than poll in a busy loop
    # or quietly poll every 12s.
    from opfleet.cli.light import light_config
    from opfleet.cli.source import source_config

    build, table = (source_config, spec.SOURCE) if command == "source" else (light_config, spec.LIGHT)
    with pytest.raises(ConfigError, match="above zero") as info:
        build(merged(table, {**node_flags, "l1.http-poll-interval": "0"}))
    assert info.value.key == "l1.http-poll-interval" and info.value.source == "--l1.http-poll-interval"
    with pytest.raises(ConfigError) as by_env:
        build(merged(table, node_flags, env={"OP_NODE_L1_HTTP_POLL_INTERVAL": "0s"}))
    assert by_env.value.source == "OP_NODE_L1_HTTP_POLL_INTERVAL"
    assert build(merged(table, {**node_flags, "l1.http-poll-interval": "250ms"})).l1_poll_interval == 0.25


def test_a_zero_l1_poll_interval_through_the_command_line_is_one_line_and_exit_3(cli, node_flags):
    argv = ["source", *[part for key, value in node_flags.items() if key != "l2.follow.source"
                        for part in (f"--{key}", value)], "--l1.http-poll-interval", "0"]
    result = cli(argv)
    assert result.status == ExitStatus.CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--l1.http-poll-interval" in lines[0] and "above zero" in lines[0], lines


def test_a_zero_batch_size_is_refused_as_op_node_does(node_flags):
    from opfleet.cli.source import source_config

    with pytest.raises(ConfigError, match="at least 1") as info:
        source_config(merged(spec.SOURCE, {**node_flags, "l1.rpc-max-batch-size": "0"}))
    assert info.value.key == "l1.rpc-max-batch-size"
    assert source_config(merged(spec.SOURCE, {**node_flags, "l1.rpc-max-batch-size": "1"})).l1_max_batch_size == 1


def test_light_zero_values_mean_what_they_mean_in_op_node(node_flags):
    from opfleet.cli.light import light_config

    config = light_config(merged(spec.LIGHT, {**node_flags, "l2.follow.source.rpc-timeout": "0",
                                              "l2.follow.source.poll-interval": "0", "sequencer.enabled": "true",
                                              "sequencer.l1-confs": "0"}))
    assert config.source_rpc_timeout == spec.FOLLOW_TIMEOUT.default  # op-node's RPC client: 0 is its 10s
    assert config.poll_interval == 0.0  # documented: 2 x block time
    assert config.sequencer_config.l1_confs == 0  # adopt the L1 head at once, not the default 4
    assert light_config(merged(spec.LIGHT, {**node_flags, "l2.follow.source.rpc-timeout": "3s"})
                        ).source_rpc_timeout == 3.0


def test_a_plain_mapping_gets_every_default_from_the_table(node_flags):
    from opfleet.cli.light import light_config
    from opfleet.cli.source import source_config

    light = light_config({**node_flags, "sequencer.enabled": True})
    assert light.sequencer_config.l1_confs == 4
    assert (light.l1_poll_interval, light.source_rpc_timeout) == (defaults.L1_HTTP_POLL_INTERVAL,
                                                                  defaults.FOLLOW_SOURCE_RPC_TIMEOUT)
    source = source_config(node_flags)
    assert (source.rpc_addr, source.rpc_port, source.metrics_addr, source.metrics_port) == (
        defaults.RPC_ADDR, defaults.RPC_PORT, defaults.METRICS_ADDR, defaults.METRICS_PORT)
    assert source.l1_max_batch_size == defaults.L1_RPC_MAX_BATCH_SIZE


@pytest.mark.parametrize("key", ["rpc.addr", "metrics.addr"])
def test_an_empty_listen_address_is_refused(node_flags, key):
    from opfleet.cli.source import source_config

    with pytest.raises(ConfigError, match="0.0.0.0 listens on every interface") as info:
        source_config(merged(spec.SOURCE, {**node_flags, key: ""}))
    assert info.value.key == key and info.value.source == f"--{key}"


def test_ports_zero_pick_a_free_port(node_flags):
    from opfleet.cli.source import source_config

    config = source_config(merged(spec.SOURCE, {**node_flags, "rpc.port": "0", "metrics.port": "0"}))
    assert (config.rpc_port, config.metrics_port) == (0, 0)


def test_p2p_zero_and_false_values_are_kept(tmp_path):
    from opfleet.cli._p2p import p2p_config

    config = p2p_config(merged(spec.LIGHT, {"p2p.listen.tcp": "0", "p2p.ban.duration": "0s", "p2p.ban.peers": "false",
                                            "p2p.priv.path": str(tmp_path / "key")}))
    assert (config.listen_tcp, config.ban_duration, config.ban_peers) == (0, 0.0, False)
    defaulted = p2p_config({"p2p.static": [], "p2p.listen.tcp": None, "p2p.bootnodes": None,
                            "p2p.sequencer.key": "0x" + "ab" * 32, "p2p.priv.path": str(tmp_path / "key")},
                           sequencing=True)
    assert (defaulted.listen_ip, defaulted.listen_tcp, defaulted.ban_threshold, defaulted.ban_duration) == (
        defaults.P2P_LISTEN_IP, defaults.P2P_LISTEN_TCP, defaults.P2P_BAN_THRESHOLD, defaults.P2P_BAN_DURATION)
    with pytest.raises(ConfigError, match="empty"):
        p2p_config({"p2p.listen.tcp": 0, "p2p.listen.ip": "", "p2p.priv.path": str(tmp_path / "key")})


def test_proxy_metrics_port_zero_is_a_free_port_and_zero_durations_keep_proxyds_defaults():
    from opfleet.cli.proxy import proxy_config

    config = proxy_config(merged(spec.PROXY, {"backend": ["http://a:9545"], "metrics.port": "0",
                                              "consensus.poller-interval": "0", "consensus.ban-period": "0",
                                              "backend.timeout": "0"}), {})
    assert config.metrics_port == 0  # was quietly 7300
    # proxyd applies these only above zero, in its file and here alike
    assert config.group.poller_interval == defaults.PROXY_POLLER_INTERVAL
    assert config.group.ban_period == defaults.PROXY_BAN_PERIOD
    assert config.backends[0].timeout == defaults.PROXY_BACKEND_TIMEOUT
    plain = proxy_config(merged(spec.PROXY, {"backend": ["http://a:9545"]}), {})
    assert (plain.rpc_host, plain.rpc_port, plain.metrics_port) == (defaults.RPC_ADDR, defaults.RPC_PORT,
                                                                     defaults.METRICS_PORT)
    everywhere = proxy_config(merged(spec.PROXY, {"backend": ["http://a:9545"], "rpc.addr": ""}), {})
    assert everywhere.rpc_host == ""  # proxyd's rule: an empty rpc_host listens on every interface


@pytest.mark.parametrize("key, hint", [("data-dir", "directory"), ("l1", "embedded, anvil")])
def test_devnet_empty_values_are_refused(key, hint):
    from opfleet.cli.devnet import fleet_config

    with pytest.raises(ConfigError, match=hint) as info:
        fleet_config(merged(spec.DEVNET, {key: ""}))
    assert info.value.key == key
    config = fleet_config({})
    assert (str(config.data_dir), config.l1) == ("opfleet-devnet", "embedded")


def test_supernode_gate_timeout_zero_answers_at_once(node_flags):
    from opfleet.cli.supernode import supernode_config

    def build(**flags):
        return supernode_config(
            merged(spec.SUPERNODE, {"chain": [node_flags["rollup.config"]], "l1": "http://l1:8545",
                                    "l1.beacon": "http://beacon:5052", **flags}),
            passthrough=[("vn.all.l2", "http://l2:8551"), ("vn.all.l2.jwt-secret", node_flags["l2.jwt-secret"]),
                         ("vn.all.rollup.l1-chain-config", node_flags["rollup.l1-chain-config"])], env={})

    # 0: a route whose chain is not ready answers 503 at once (it was quietly the 60s default)
    assert build(**{"interop.gate-timeout": "0"}).gate_timeout == 0.0
    assert build().gate_timeout == defaults.INTEROP_GATE_TIMEOUT
    with pytest.raises(ConfigError, match="above zero"):
        build(**{"l1.http-poll-interval": "0"})


def test_a_zero_gate_timeout_answers_503_without_waiting():
    import trio
    import trio.testing

    from opfleet.interop.router import ChainRouter
    from opfleet.rpc.server import HttpRequest, HttpResponse

    async def never(request: HttpRequest) -> HttpResponse:
        raise AssertionError("a chain that is not ready is not asked")

    async def main() -> tuple[int, float]:
        router = ChainRouter(never, gate_timeout=0.0)
        router.add_chain(901, never, lambda: "deriving")
        started = trio.current_time()
        response = await router(HttpRequest("POST", "/901"))
        return response.status, trio.current_time() - started

    status, waited = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert status == 503 and waited == 0.0

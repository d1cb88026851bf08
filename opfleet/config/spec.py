"""The one definition of opfleet's command line.

Everything an operator can type is declared here as data: the subcommands, their options, which
options are *settings* (mergeable from a TOML profile and the environment) and their op-node names.
argparse, ``profile show``, the man page and the shell completions are all generated from this
table, so they cannot drift apart. This module imports nothing heavy: ``opfleet --help`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opfleet.config import defaults

# Value kinds understood by opfleet.config.settings.parse_value.
STR, URL, INT, PORT, BOOL, DURATION, PATH, CHOICE, LIST = (
    "str", "url", "int", "port", "bool", "duration", "path", "choice", "list",
)

OP_NODE_ENV_PREFIX = "OP_NODE_"
OPFLEET_ENV_PREFIX = "OPFLEET_"


def env_name(prefix: str, key: str) -> str:
    """op-node's rule: the flag name upper-cased, dots and dashes as underscores."""
    return prefix + key.upper().replace(".", "_").replace("-", "_")


@dataclass(frozen=True, slots=True)
class Option:
    """One option of the command line.

    ``key`` is the setting's name: the long flag without ``--`` and the key used in TOML
    profiles. ``op_node`` marks settings that mirror an op-node flag: they read ``OP_NODE_*``
    environment variables (plus op-node's historical names in ``extra_env``); opfleet's own
    settings read ``OPFLEET_*``. Options with ``setting=False`` only exist on the command line.
    """

    key: str
    kind: str
    help: str
    default: Any = None
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    op_node: bool = False
    extra_env: tuple[str, ...] = ()
    setting: bool = True
    secret: bool = False
    positional: bool = False
    nargs: str | int | None = None
    # Values shells offer for completion without the parser restricting the value to them
    # (--network also takes plugin networks).
    suggestions: tuple[str, ...] = ()

    @property
    def all_flags(self) -> tuple[str, ...]:
        return ("--" + self.key, *self.flags) if not self.positional else ()

    @property
    def env(self) -> tuple[str, ...]:
        if not self.setting:
            return ()
        prefix = OP_NODE_ENV_PREFIX if self.op_node else OPFLEET_ENV_PREFIX
        return (env_name(prefix, self.key), *self.extra_env)

    @property
    def toml_key(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    description: str
    options: tuple[Option, ...] = ()
    subcommands: tuple[Command, ...] = ()
    examples: tuple[str, ...] = ()
    # Module under opfleet.cli holding ``run(ctx)``; imported only when the command runs.
    module: str | None = None
    uses_settings: bool = True
    # Flags starting with ``--<passthrough>`` are not parsed here but handed to the command
    # as ``ctx.args["passthrough"]`` [(flag without --, value)] (supernode's --vn.<chainID>.<flag>).
    passthrough: str | None = None

    def option(self, key: str) -> Option:
        for opt in self.options:
            if opt.key == key:
                return opt
        raise KeyError(key)

    @property
    def settings(self) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.setting)


def _opt(key: str, kind: str, help: str, **kw: Any) -> Option:
    return Option(key=key, kind=kind, help=help, **kw)


# --- options shared by several commands --------------------------------------------------------

PROFILE = _opt(
    "profile", STR,
    "TOML profile to read settings from: a name in $XDG_CONFIG_HOME/opfleet/profiles/ or a path "
    "(env: OPFLEET_PROFILE).",
    metavar="NAME|PATH", setting=False,
)
LOG_LEVEL = _opt(
    "log.level", CHOICE, "Lowest log level to print.", default="info",
    choices=("trace", "debug", "info", "warn", "error", "crit"), op_node=True,
)
LOG_FORMAT = _opt(
    "log.format", CHOICE,
    "Log format: text (coloured on a terminal), logfmt, or json (one object per line).",
    default="text", choices=("text", "logfmt", "json"), op_node=True,
)
L1 = _opt(
    "l1", URL, "L1 execution RPC endpoint (HTTP).", metavar="URL", op_node=True,
    extra_env=("OP_NODE_L1_ETH_RPC",),
)
L1_BEACON = _opt(
    "l1.beacon", URL, "L1 beacon API endpoint, for blobs.", metavar="URL", op_node=True,
)
L1_BEACON_SECONDS = _opt(
    "l1.beacon.seconds-per-slot", INT,
    "Seconds per beacon slot, for beacon nodes without /eth/v1/config/spec (anvil); 0 = ask the node.",
    default=0, metavar="N",
)
L1_POLL = _opt(
    "l1.http-poll-interval", DURATION, "How often to poll L1 for new heads (above zero).", default=defaults.L1_HTTP_POLL_INTERVAL,
    metavar="DURATION", op_node=True,
)
L1_BATCH = _opt(
    "l1.rpc-max-batch-size", INT, "Most requests sent in one JSON-RPC batch to L1 (at least 1).",
    default=defaults.L1_RPC_MAX_BATCH_SIZE,
    metavar="N", op_node=True,
)
L1_CONFS = _opt(
    "verifier.l1-confs", INT, "L1 blocks to wait behind the L1 head before deriving from it.",
    default=0, metavar="N", op_node=True,
)
L2 = _opt(
    "l2", URL, "Execution client Engine API endpoint (authenticated RPC, e.g. http://127.0.0.1:8551).",
    metavar="URL", op_node=True, extra_env=("OP_NODE_L2_ENGINE_RPC",),
)
L2_JWT = _opt(
    "l2.jwt-secret", PATH,
    "File holding the 32-byte hex JWT secret shared with the execution client.",
    metavar="FILE", op_node=True, extra_env=("OP_NODE_L2_ENGINE_AUTH",),
)
ROLLUP_CONFIG = _opt(
    "rollup.config", PATH, "Rollup config file in op-node's rollup.json format.", metavar="FILE",
    op_node=True,
)
L1_CHAIN_CONFIG = _opt(
    "rollup.l1-chain-config", PATH,
    "The L1's chain config (geth ChainConfig JSON or a genesis file, with a blobSchedule), for the "
    "blob base fee of L1-info deposits. Required when the L1 is not mainnet, Sepolia, Holesky or "
    "Hoodi (their config is built in and this is ignored).",
    metavar="FILE", op_node=True,
)
def _network_help() -> str:
    """``--network``'s help, from the list in :mod:`opfleet.config.networks`."""
    from opfleet.config import networks

    return (
        f"Built-in network, no file needed: {', '.join(networks.NETWORKS)}. "
        f"{' and '.join(networks.FROZEN_NETWORKS)}: {networks.FROZEN_NOTE}. "
        "opfleet version --verbose names the superchain-registry commit they come from."
    )


def _network_names() -> tuple[str, ...]:
    from opfleet.config import networks

    return tuple(networks.NETWORKS)


NETWORK = _opt("network", STR, _network_help(), metavar="NAME", op_node=True,
               suggestions=_network_names())
RPC_ADDR = _opt("rpc.addr", STR, "Address the RPC server listens on.", default=defaults.RPC_ADDR,
                metavar="ADDR", op_node=True)
RPC_PORT = _opt("rpc.port", PORT, "Port the RPC server listens on.", default=defaults.RPC_PORT, metavar="PORT",
                op_node=True)
RPC_ADMIN = _opt("rpc.enable-admin", BOOL, "Serve the admin_* RPC methods.", default=False,
                 op_node=True)
METRICS_ENABLED = _opt("metrics.enabled", BOOL, "Serve Prometheus metrics.", default=False,
                       op_node=True)
METRICS_ADDR = _opt("metrics.addr", STR, "Address the metrics server listens on.",
                    default=defaults.METRICS_ADDR, metavar="ADDR", op_node=True)
METRICS_PORT = _opt("metrics.port", PORT, "Port the metrics server listens on.", default=defaults.METRICS_PORT,
                    metavar="PORT", op_node=True)
SAFEDB = _opt(
    "safedb.path", PATH,
    "Where to keep the safe-head database behind optimism_safeHeadAtL1Block (sqlite).",
    metavar="FILE", op_node=True,
)
SEQUENCER = _opt("sequencer.enabled", BOOL, "Build unsafe blocks (run as a sequencer).",
                 default=False, op_node=True)
FOLLOW_SOURCE = _opt(
    "l2.follow.source", LIST,
    "op-node-compatible RPC of the source(s) to follow (repeat or comma-separate for several).",
    flags=("--follow",), metavar="URL", op_node=True, nargs=None,
)
FOLLOW_TIMEOUT = _opt(
    "l2.follow.source.rpc-timeout", DURATION, "Timeout of each call to the source (0 = the default, as op-node).",
    default=defaults.FOLLOW_SOURCE_RPC_TIMEOUT, metavar="DURATION", op_node=True,
)
FOLLOW_POLL = _opt(
    "l2.follow.source.poll-interval", DURATION,
    "Polling interval for sources that cannot push safe-head changes (op-node, supernode routes, "
    "proxies); 0 = 2 x block time, as op-node. opfleet sources push (opfleet_waitSyncStatus).",
    default=0.0, metavar="DURATION",
)
FOLLOW_PAYLOADS = _opt(
    "l2.follow.payloads", URL,
    "L2 execution RPC to copy unsafe blocks from when there is no p2p gossip.", metavar="URL",
)

P2P = (
    _opt("p2p.disable", BOOL, "Run without op-node's block gossip. Without this, gossip runs when a "
         "--p2p.* flag is given (op-node: always).", default=False, op_node=True),
    _opt("p2p.listen.ip", STR, "Address to accept p2p connections on.", default=defaults.P2P_LISTEN_IP, metavar="ADDR",
         op_node=True),
    _opt("p2p.listen.tcp", PORT, f"TCP port to accept p2p connections on (op-node's default "
         f"{defaults.P2P_LISTEN_TCP} once gossip runs; 0 = any free port).", metavar="PORT", op_node=True,
         extra_env=("OP_NODE_P2P_LISTEN_TCP_PORT",)),
    _opt("p2p.static", LIST, "Peers to stay connected to, as multiaddrs "
         "/ip4/HOST/tcp/PORT/p2p/PEER_ID (repeat or comma-separate).", metavar="MULTIADDR", op_node=True),
    _opt("p2p.bootnodes", LIST, "discv5 bootnodes: not supported (no maintained discv5 library); "
         "use --p2p.static.", metavar="ENR", op_node=True),
    _opt("p2p.priv.path", PATH, "File with this node's p2p private key (64 hex characters), created "
         "when missing, so the peer id survives restarts.", default="opnode_p2p_priv.txt",
         metavar="FILE", op_node=True),
    _opt("p2p.sequencer.key", STR, "Hex private key that signs the blocks this sequencer gossips "
         "(the chain's unsafe-block signer).", metavar="HEX", op_node=True, secret=True),
    _opt("p2p.ban.peers", BOOL, "Ban peers whose gossip score falls to --p2p.ban.threshold.",
         default=True, op_node=True, extra_env=("OP_NODE_P2P_PEER_BANNING",)),
    _opt("p2p.ban.threshold", STR, "Gossip score at or under which a peer is banned.", default=f"{defaults.P2P_BAN_THRESHOLD:g}",
         metavar="SCORE", op_node=True, extra_env=("OP_NODE_P2P_PEER_BANNING_THRESHOLD",)),
    _opt("p2p.ban.duration", DURATION, "How long a banned peer stays banned.", default=defaults.P2P_BAN_DURATION,
         metavar="DURATION", op_node=True, extra_env=("OP_NODE_P2P_PEER_BANNING_DURATION",)),
)
LOGGING = (LOG_LEVEL, LOG_FORMAT)
RPC = (RPC_ADDR, RPC_PORT, RPC_ADMIN)
METRICS = (METRICS_ENABLED, METRICS_ADDR, METRICS_PORT)
CHAIN = (NETWORK, ROLLUP_CONFIG)

JSON_OUT = _opt("json", BOOL, "Print JSON instead of a table.", default=False, setting=False)


# --- the commands ---------------------------------------------------------------------------------

SOURCE = Command(
    name="source",
    summary="run a source node: derive the L2 chain from L1 and serve op-node's RPC",
    description=(
        "A source node owns L1 derivation for the fleet. It reads batcher data from L1 (calldata "
        "and blobs), derives the L2 chain, drives its execution client through the Engine API and "
        "serves op-node's RPC API, so light nodes (opfleet or op-node with --l2.follow.source) can "
        "follow its safe chain. Probes on the RPC port: GET /healthz is readiness (503 until the "
        "execution client's heads are known), GET /livez is liveness (200 while it serves)."
    ),
    options=(PROFILE, *CHAIN, L1_CHAIN_CONFIG, L1, L1_BEACON, L1_BEACON_SECONDS, L1_POLL, L1_BATCH, L1_CONFS, L2,
             L2_JWT, *RPC, *METRICS, SAFEDB, SEQUENCER, *P2P, *LOGGING),
    examples=(
        "opfleet source --network op-sepolia --l1 http://l1:8545 --l1.beacon http://beacon:5052 "
        "--l2 http://op-geth:8551 --l2.jwt-secret jwt.hex",
    ),
    module="source",
)

LIGHT = Command(
    name="light",
    summary="run a light node: follow a source's safe chain, derive nothing",
    description=(
        "A light node runs no derivation. It takes the safe chain from one or more sources "
        "(an opfleet source, an op-node, an op-supernode route http://host/<chainID> or a proxy) "
        "and keeps its execution client moving, like op-node started with --l2.follow.source. "
        "With several sources it only advances as far as a majority agrees. Probes on the RPC "
        "port: GET /healthz is readiness (503 until it has its chain and a follow source answers "
        "a sane status, and again while every source is down), GET /livez is liveness (200 while "
        "it serves)."
    ),
    options=(PROFILE, FOLLOW_SOURCE, FOLLOW_TIMEOUT, FOLLOW_POLL, FOLLOW_PAYLOADS, *CHAIN, L1_CHAIN_CONFIG, L1,
             L1_POLL, L2,
             L2_JWT, *RPC, *METRICS, SEQUENCER, *P2P,
             _opt("sequencer.max-safe-lag", INT,
                  "Stop building when the unsafe head is this many blocks above the safe head (0 = off).",
                  default=0, metavar="BLOCKS", op_node=True),
             _opt("sequencer.l1-confs", INT,
                  "L1 blocks an L1 origin must be below the L1 head before the sequencer adopts it.",
                  default=4, metavar="N", op_node=True),
             *LOGGING),
    examples=(
        "opfleet light --follow http://source:9545 --network op-sepolia --l1 http://l1:8545 "
        "--l2 http://op-geth:8551 --l2.jwt-secret jwt.hex",
        "opfleet light --follow http://a:9545,http://b:9545,http://c:9545 --network op-sepolia "
        "--l1 http://l1:8545 --l2 http://op-geth:8551 --l2.jwt-secret jwt.hex",
    ),
    module="light",
)

SUPERNODE = Command(
    name="supernode",
    summary="derive every chain of an interop set in one process, serve each under /<chainID>",
    description=(
        "For chains in an interop dependency set the source tier is a supernode: one process that "
        "derives every chain of the set with one shared L1 connection, verifies cross-chain "
        "messages, and serves each chain's op-node API under /<chainID>. Per-chain settings "
        "(execution client URL, JWT, L1 chain config) come from the profile's [chains.<chainID>] "
        "tables or from --vn.<chainID>.<flag> / --vn.all.<flag> arguments: --vn.all.l2.jwt-secret, "
        "--vn.<chainID>.l2, --vn.all.rollup.l1-chain-config (required when the L1 is not mainnet, "
        "Sepolia, Holesky or Hoodi), --vn.<chainID>.verifier.l1-confs."
    ),
    options=(
        PROFILE,
        _opt("chain", LIST, "A chain of the set: a built-in network name or a rollup.json file "
             "(repeat for each chain).", metavar="NAME|FILE"),
        L1, L1_BEACON, L1_BEACON_SECONDS, L1_POLL, L1_BATCH, *RPC, *METRICS,
        _opt("data-dir", PATH, "Directory for the per-chain log and verification databases.",
             default="opfleet-supernode", metavar="DIR"),
        _opt("interop.gate-timeout", DURATION,
             "How long a request for a chain that is not ready waits before answering 503 (0 = at once).",
             default=defaults.INTEROP_GATE_TIMEOUT, metavar="DURATION"),
        _opt("interop.dependency-set", LIST,
             "Chain IDs messages may come from (default: the chains of this supernode).", metavar="ID"),
        *LOGGING,
    ),
    examples=("opfleet supernode --chain chain-a.json --chain chain-b.json --l1 http://l1:8545 "
              "--l1.beacon http://beacon:5052 --profile supernode",
              "opfleet supernode --chain a.json --chain b.json --l1 http://l1:8545 --l1.beacon http://beacon:5052 "
              "--vn.all.l2.jwt-secret jwt.hex --vn.901.l2 http://geth-a:8551 --vn.902.l2 http://geth-b:8551"),
    module="supernode",
    passthrough="vn.",
)

PROXY = Command(
    name="proxy",
    summary="run a consensus-aware proxy in front of the source tier (proxyd's CL mode)",
    description=(
        "A drop-in for proxyd with routing_strategy = \"consensus_aware_consensus_layer\": it polls "
        "every source (opp2p_peerStats, optimism_syncStatus), keeps the ones in sync and sane, checks "
        "their output roots at the lowest safe height (a minority is banned; no majority halts), and "
        "serves one optimism_syncStatus, the raw answer of the consensus member furthest behind on "
        "L1, so light nodes behind it see one highly available source. --config reads proxyd's own "
        "TOML file; keys of proxyd's other modes are refused. --backend URL (repeat or comma-separate) "
        "runs the same with proxyd's defaults and the op-node methods a light node reads. Light "
        "nodes (opfleet, or op-node with --l2.follow.source) point at it; opfleet light nodes also "
        "get pushed changes (opfleet_waitSyncStatus)."
    ),
    options=(
        PROFILE,
        _opt("config", PATH, "proxyd TOML file (a consensus_aware_consensus_layer backend group).",
             metavar="FILE"),
        _opt("backend", LIST, "Source RPC to put behind the proxy, instead of --config (repeat or "
             "comma-separate).", metavar="URL"),
        _opt("rpc.addr", STR, f"Address to listen on (default {defaults.RPC_ADDR}; with --config, [server] "
             "rpc_host).",
             metavar="ADDR"),
        _opt("rpc.port", PORT, f"Port to listen on (default {defaults.RPC_PORT}; with --config, [server] "
             "rpc_port).",
             metavar="PORT"),
        _opt("consensus.poller-interval", DURATION, "How often each backend and the group are polled "
             "(proxyd's consensus_poller_interval; --backend only).", default=defaults.PROXY_POLLER_INTERVAL,
             metavar="DURATION"),
        _opt("consensus.ban-period", DURATION, "How long a banned backend is left out (consensus_ban_period; "
             "--backend only).", default=defaults.PROXY_BAN_PERIOD, metavar="DURATION"),
        _opt("consensus.min-peer-count", INT, "Fewest p2p peers (opp2p_peerStats) a backend needs; 0 skips "
             "the check, for sources without p2p (--backend only).", default=0, metavar="N"),
        _opt("backend.timeout", DURATION, "Timeout of each call to a backend (--backend only).",
             default=defaults.PROXY_BACKEND_TIMEOUT,
             metavar="DURATION"),
        METRICS_ENABLED, METRICS_ADDR, METRICS_PORT,
        *LOGGING,
    ),
    examples=(
        "opfleet proxy --config proxyd.toml",
        "opfleet proxy --backend http://source-a:9545,http://source-b:9545,http://source-c:9545 --rpc.port 8545",
    ),
    module="proxy",
)

FLEET = _opt("fleet", PATH, "Fleet profile (TOML) listing the nodes to watch.", metavar="FILE")
NODE_URLS = _opt("urls", LIST, "Node RPC URLs to watch (op-node, opfleet or supernode routes).",
                 positional=True, nargs="*", setting=False, metavar="URL")
POLL_TIMEOUT = _opt("timeout", DURATION, "Timeout of each poll of a node.", default=2.0,
                    metavar="DURATION")

TUI = Command(
    name="tui",
    summary="live terminal view of the fleet's safe and unsafe heads",
    description=(
        "Shows every node of the fleet (source tier, light tier, supernode routes, sequencers) "
        "with its heads, lag, divergence and health, refreshed live. Works on real op-nodes, "
        "op-supernode routes and opfleet nodes alike."
    ),
    options=(PROFILE, NODE_URLS, FLEET,
             _opt("interval", DURATION, "Refresh interval.", default=2.0, metavar="DURATION"),
             POLL_TIMEOUT, *LOGGING),
    examples=("opfleet tui http://127.0.0.1:9545 http://127.0.0.1:9546", "opfleet tui --fleet fleet.toml"),
    module="tui",
)

STATUS = Command(
    name="status",
    summary="one-shot fleet status for scripts: table, --json, exit codes for alerting",
    description=(
        "Polls every node once and prints a table grouped by chain and tier (or JSON, schema 1). "
        "The exit code says what is wrong, the most urgent winning: 0 healthy, 10 lagging, "
        "11 stalled, 12 unreachable or not ready, 13 divergent. Each role is judged by what it "
        "owns: a source by its safe head and derivation lag, light nodes and sequencers by unsafe "
        "and safe, supernode routes by local-safe and safe. --check-follow exits 0 when the light "
        "node matches its source, 13 when it does not and 3 when the two are different chains."
    ),
    options=(
        PROFILE, NODE_URLS, FLEET, JSON_OUT,
        _opt("watch", DURATION, "Repeat every DURATION until interrupted (0 = once).", default=0.0,
             metavar="DURATION", setting=False),
        _opt("max-safe-lag", INT, "Safe-head lag (blocks) above which a node counts as lagging.",
             default=30, metavar="BLOCKS"),
        _opt("max-unsafe-lag", INT, "Unsafe-head lag (blocks) above which a light node or sequencer "
             "counts as lagging (a derive-only source is judged by safe and derivation lag).",
             default=10, metavar="BLOCKS"),
        _opt("max-derivation-lag", INT, "L1 blocks a source's current_l1 may trail its L1 head before "
             "it counts as lagging.", default=10, metavar="BLOCKS"),
        POLL_TIMEOUT,
        _opt("discover", BOOL, "Ask the given URLs what they are and print a fleet profile.",
             default=False, setting=False),
        _opt("check-follow", LIST, "Validate a light node against its source: same hashes and "
             "output roots at shared heights.", metavar="URL", nargs=2, setting=False),
        *LOGGING,
    ),
    examples=("opfleet status http://127.0.0.1:9545 --json", "opfleet status --fleet fleet.toml",
              "opfleet status --check-follow http://light:9545 http://source:9545"),
    module="status",
)

DOCTOR = Command(
    name="doctor",
    summary="check the specialized topology's Definition of Done against the running fleet",
    description=(
        "Checks every box of the Definition of Done for a specialized fleet and prints a checklist, "
        "each box ✔, ✗ or ? with its evidence and, for ✗, the change to make: sources deriving "
        "with failover (two or more per chain); every other op-node following "
        "(--l2.follow.source, seen in its metrics or behaviour); light nodes tracking their source "
        "(--check-follow); the deriver tier behind a consensus-aware proxy with every light node "
        "following the proxy; sequencers following a source; with --prometheus, alerts on the "
        "source tier going down and on follow failures. Also reports the L1 RPC calls per L1 block "
        "the fleet spends as deployed against every op-node deriving (from metrics_url). "
        "The fleet is looked at twice, --window apart. Exit 0 every box ✔, 10 some ?, 13 some ✗."
    ),
    options=(
        PROFILE, NODE_URLS, FLEET, JSON_OUT,
        _opt("discover", BOOL, "Ask the given URLs what they are (source, light, supernode, "
             "sequencer) instead of taking them as nodes of unknown role.", default=False,
             setting=False),
        _opt("window", DURATION, "Time between the two looks at the fleet: long enough for L1 to "
             "make a block, so derivation and L1 spend can be measured (0 = one look).",
             default=12.0, metavar="DURATION"),
        _opt("prometheus", URL, "Prometheus to read the loaded alerting rules from "
             "(/api/v1/rules); without it the alerting box is ?.", metavar="URL"),
        POLL_TIMEOUT, *LOGGING,
    ),
    examples=("opfleet doctor --fleet fleet.toml", "opfleet doctor --fleet fleet.toml --json "
              "--prometheus http://prometheus:9090",
              "opfleet doctor --discover http://source-a:9545 http://light-1:9545 --window 30s"),
    module="doctor",
)

DEPLOY = Command(
    name="deploy",
    summary="render deployment manifests for the fleet (kubernetes)",
    description="Renders the specialized topology of a fleet profile as files to apply.",
    subcommands=(
        Command(
            name="kubernetes",
            summary="render plain Kubernetes manifests, one kustomize directory per tier",
            description=(
                "Renders the fleet profile's topology as plain Kubernetes manifests under --out, one "
                "kustomize directory per tier: the sources as a StatefulSet per chain (safe-head DB "
                "and execution-client data on PVCs, the execution client beside opfleet in the pod), "
                "a supernode StatefulSet for interop sets, a consensus-aware proxy Deployment (two "
                "replicas) per chain, the light tier as a Deployment with a HorizontalPodAutoscaler "
                "and an execution client per pod, Services, probes, a PodDisruptionBudget per tier, "
                "NetworkPolicies (light -> proxy -> sources only) and a PrometheusRule and "
                "ServiceMonitor carrying the shipped alert rules. The output is the same for the "
                "same inputs. Before 'kubectl apply -k OUT', put the JWT secret in OUT/jwt.hex and "
                "the L1 endpoints in OUT/l1.env (OP_NODE_L1_ETH_RPC=..., OP_NODE_L1_BEACON=...)."
            ),
            options=(
                _opt("fleet", PATH, "Fleet profile (TOML) whose topology to render.", metavar="FILE",
                     setting=False),
                _opt("out", PATH, "Directory to write the manifests to.", default="opfleet-k8s",
                     metavar="DIR", setting=False),
                _opt("namespace", STR, "Namespace of every object.", default="opfleet", metavar="NAME",
                     setting=False),
                _opt("image", STR, "The opfleet image (built from the Containerfile).",
                     default="opfleet:latest", metavar="IMAGE", setting=False),
                _opt("el", CHOICE, "Execution client beside every node.", default="op-geth",
                     choices=("op-geth", "op-reth"), setting=False),
                _opt("el-image", STR, "Execution client image (default: the upstream image of --el).",
                     metavar="IMAGE", setting=False),
                _opt("proxy-image", STR, "Image of the consensus-aware proxy (default: --image, "
                     "running 'opfleet proxy' on the rendered proxyd.toml).", metavar="IMAGE",
                     setting=False),
                _opt("source-storage", STR, "Execution-client volume of each source.", default="1Ti",
                     metavar="SIZE", setting=False),
                _opt("light-storage", STR, "Execution-client volume of each light pod.",
                     default="500Gi", metavar="SIZE", setting=False),
                _opt("storage-class", STR, "StorageClass of every volume (default: the cluster's).",
                     metavar="NAME", setting=False),
                _opt("light-max-replicas", INT, "Most light pods per chain the autoscaler may run.",
                     default=10, metavar="N", setting=False),
                _opt("force", BOOL, "Overwrite files already in --out.", default=False, setting=False),
            ),
            examples=("opfleet deploy kubernetes --fleet fleet.toml --out k8s",
                      "opfleet deploy kubernetes --fleet fleet.toml --el op-reth --image "
                      "registry.example/opfleet:0.1.0"),
            module="deploy",
            uses_settings=False,
        ),
    ),
    module="deploy",
    uses_settings=False,
)

DEVNET = Command(
    name="devnet",
    summary="a whole specialized fleet on this machine in one command",
    description=(
        "Starts an embedded L1 with batcher data, a light sequencer, a source node and light nodes "
        "following it (with --interop a second chain and a supernode), prints every endpoint and "
        "writes a fleet profile for opfleet tui/status. The embedded L2 execution engine (the dev "
        "engine) builds real blocks with real hashes but is NOT an EVM: it moves value and runs no "
        "contract code. Real deployments point --l2 at op-geth or op-reth; --engine op-geth runs "
        "one op-geth per node instead. --l1 anvil installs "
        "Foundry's anvil from npm (pinned) on first use."
    ),
    options=(
        PROFILE,
        _opt("l1", STR, "L1 to use: 'embedded' (in-process), 'anvil' (start a local anvil) or "
             "the URL of an L1 you already run.", default="embedded", metavar="embedded|anvil|URL"),
        _opt("nodes", STR, "Fleet size: source=N, light=N and proxy=N (an opfleet proxy in front of the "
             "sources; the light nodes follow it), e.g. source=2,light=10 or source=3,proxy=1,light=4.",
             default=",".join(f"{role}={n}" for role, n in defaults.DEVNET_NODES.items() if n),
             metavar="SPEC"),
        _opt("interop", BOOL, "Add a second chain, a supernode and cross-chain messages.",
             default=False),
        _opt("tui", BOOL, "Open the TUI on the devnet.", default=False),
        _opt("duration", DURATION, "Stop cleanly after DURATION (0 = run until Ctrl-C).",
             default=0.0, metavar="DURATION"),
        _opt("base-port", PORT, "First port of the range the devnet listens on.", default=19545,
             metavar="PORT"),
        _opt("block-time", INT, "L2 block time in seconds.", default=2, metavar="SECONDS"),
        _opt("data-dir", PATH, "Directory for the devnet's state and fleet profile.",
             default="opfleet-devnet", metavar="DIR"),
        _opt("l1-fork", CHOICE, "Ethereum fork of the embedded L1 (or anvil): prague, or cancun for "
             "L1 clients from before Pectra (the reference op-node cannot verify Prague headers).",
             default="prague", choices=("prague", "cancun")),
        _opt("engine", STR, "L2 execution engine of every node: 'dev' (opfleet's dev engine, not an "
             "EVM) or 'op-geth' (one op-geth per node, a real EVM; found on PATH or in the reference "
             "binaries' cache, or named as op-geth=PATH). With op-geth the forks stop where that "
             "binary's do (the reference op-geth: Granite); a later --fork is refused.",
             default="dev", metavar="dev|op-geth[=PATH]"),
        _opt("fork", LIST, "Schedule a fork relative to the devnet's start to watch it activate, "
             "e.g. karst=+60s, or switch it off with NAME=off (repeatable). Every fork not named "
             "runs from genesis, but a later fork never comes before an earlier one: it follows "
             "it, or is off with it. An impossible schedule is refused.",
             metavar="NAME=+DURATION|NAME=off"),
        _opt("keep-karst-upgrade-gas", BOOL, "After Karst's activation block keep its upgrade gas "
             "(55,370,657) in the gas limit, as OP Mainnet and OP Sepolia do (the rollup config's "
             "keep_karst_upgrade_gas); without it the gas limit drops back.", default=False),
        *LOGGING,
    ),
    examples=("opfleet devnet", "opfleet devnet --interop --tui", "opfleet devnet --nodes source=2,light=10",
              "opfleet devnet --fork karst=+60s --keep-karst-upgrade-gas", "opfleet devnet --engine op-geth"),
    module="devnet",
)

_DECODE_INPUT = _opt("input", PATH, "File to read, or - for standard input (hex, 0x optional, "
                     "whitespace ignored).", positional=True, setting=False, default="-",
                     nargs="?", metavar="FILE|-")
_DECODE_RAW = _opt("raw", BOOL, "Input is raw bytes, not hex.", default=False, setting=False)


def _decode_sub(name: str, summary: str, description: str, *extra: Option) -> Command:
    return Command(name=name, summary=summary, description=description,
                   options=(_DECODE_INPUT, _DECODE_RAW, JSON_OUT, *extra), module="decode",
                   uses_settings=False)


DECODE = Command(
    name="decode",
    summary="look inside batcher data: blobs, calldata, channels, batcher transactions",
    description=(
        "The operator's microscope. Reads one item of batcher data and shows what is inside; "
        "--json prints a stable JSON shape for scripts. Invalid input gives one line saying what "
        "is wrong and at which byte."
    ),
    subcommands=(
        _decode_sub("blob", "decode an OP-encoded 4844 blob (131072 bytes)",
                    "Prints the data carried by an OP Stack blob: {\"data\": \"0x...\"}."),
        _decode_sub("calldata", "decode batcher calldata (version byte + frames)",
                    "Prints the frames carried by batcher transaction data."),
        _decode_sub("channel", "decode a channel's data (concatenated frame data) into batches",
                    "Decompresses a channel (zlib or brotli) and decodes its singular and span "
                    "batches; span batch transactions are rebuilt with --chain-id.",
                    _opt("chain-id", INT, "L2 chain id used to rebuild span batch transactions.",
                         default=10, setting=False, metavar="N"),
                    _opt("max-blocks", INT, "Refuse a span batch of more blocks than this (a "
                         "real one holds a few thousand; a tiny channel can declare millions); "
                         "0 allows what the spec does (10,000,000).", default=100_000,
                         setting=False, metavar="N")),
        _decode_sub("batcher-tx", "decode a signed L1 batcher transaction",
                    "Prints the transaction's hash, sender, recipient, type and frames."),
    ),
    examples=("opfleet decode calldata tx-data.hex --json", "opfleet decode blob --raw blob.bin",
              "cat channel.hex | opfleet decode channel --chain-id 10 --json"),
    module="decode",
    uses_settings=False,
)

PROFILE_CMD = Command(
    name="profile",
    summary="create and inspect TOML settings profiles",
    description=(
        "Settings merge in this order: built-in defaults < TOML profile < environment (OP_NODE_* "
        "for op-node's flags, OPFLEET_* for opfleet's own) < command-line flags."
    ),
    subcommands=(
        Command(name="init", summary="write a commented starter profile",
                description="Writes a starter profile with every setting commented out.",
                options=(_opt("name", STR, "Profile name (or path ending in .toml).", positional=True,
                              setting=False, metavar="NAME"),
                         _opt("force", BOOL, "Overwrite an existing profile.", default=False,
                              setting=False)),
                module="profile", uses_settings=False),
        Command(name="show", summary="print the merged settings and where each value came from",
                description="Prints every setting of a command with its value and origin "
                            "(default, profile, env or flag); secrets are masked. Flags of that "
                            "command may follow after --, to see how they merge.",
                options=(PROFILE,
                         _opt("for", CHOICE, "Command whose settings to show.", default="source",
                              choices=("source", "light", "supernode", "tui", "status", "devnet"),
                              setting=False, metavar="COMMAND"),
                         JSON_OUT,
                         _opt("flags", LIST, "Flags of that command (after --).", positional=True,
                              nargs="...", setting=False, metavar="FLAGS")),
                examples=("opfleet profile show --for light --profile sepolia -- --follow "
                          "http://source:9545",),
                module="profile", uses_settings=False),
        Command(name="list", summary="list the profiles in the profile directory",
                description="Lists profile names found in $XDG_CONFIG_HOME/opfleet/profiles/.",
                module="profile", uses_settings=False),
    ),
    module="profile",
    uses_settings=False,
)

VERSION = Command(
    name="version",
    summary="print the version (with --verbose: dependencies, networks and plugins)",
    description="Prints opfleet's version; --verbose adds library versions, the built-in networks "
                "with the superchain-registry commit their rollup configs were generated from, "
                "and every plugin found, with what failed to load.",
    options=(_opt("verbose", BOOL,
                  "Also show dependencies, built-in networks and their registry commit, and plugins.",
                  default=False, setting=False, flags=("-v",)),),
    module="version",
    uses_settings=False,
)

COMPLETION = Command(
    name="completion",
    summary="print a shell completion script (bash, zsh or fish)",
    description="Prints the completion script for the given shell; e.g. "
                "`opfleet completion bash > /etc/bash_completion.d/opfleet`.",
    options=(_opt("shell", CHOICE, "Shell to complete for.", choices=("bash", "zsh", "fish"),
                  positional=True, setting=False, metavar="SHELL"),),
    module="completion",
    uses_settings=False,
)

COMMANDS: tuple[Command, ...] = (SOURCE, LIGHT, SUPERNODE, PROXY, TUI, STATUS, DOCTOR, DEVNET, DEPLOY,
                                 DECODE, PROFILE_CMD, VERSION, COMPLETION)

PROGRAM = "opfleet"
PROGRAM_SUMMARY = "run and watch a specialized OP Stack node fleet"
PROGRAM_DESCRIPTION = (
    "opfleet runs a specialized OP Stack fleet: a few source nodes derive the chain from L1, many "
    "light nodes follow a source's safe chain, a supernode derives every chain of an interop set, "
    "and a terminal UI shows safe and unsafe heads across the fleet."
)


def command(name: str) -> Command:
    for cmd in COMMANDS:
        if cmd.name == name:
            return cmd
    raise KeyError(name)


def walk() -> list[tuple[str, Command]]:
    """Every command and subcommand with its path (``"decode channel"``), each command before
    its subcommands, in the table's order."""
    return [(path, node) for cmd in COMMANDS
            for path, node in ((cmd.name, cmd), *((f"{cmd.name} {c.name}", c) for c in cmd.subcommands))]


def default(key: str) -> Any:
    """The default of setting ``key``: what a command reads when neither flag, environment nor
    profile sets it. Raises KeyError for an unknown key, and for one whose default differs
    between commands (``data-dir``; ``proxy`` has no ``rpc.port`` default): ask that command."""
    found = [o for _, cmd in walk() for o in cmd.settings if o.key == key]
    if len({repr(o.default) for o in found}) != 1:
        raise KeyError(f"{key}: {'no such setting' if not found else 'defaults differ between commands'}")
    return found[0].default


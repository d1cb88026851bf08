"""A whole specialized fleet on one machine: what ``opfleet devnet`` runs, the e2e tests and the
fleet benchmark drive.

::

    Devnet.run()                                   one nursery, started in this order
    ├── L1: embedded (L1Chain + L1Server, a block every l1_block_time on the wall clock),
    │       anvil (opfleet.devnet.anvil) or an operator's URL
    ├── the sequencer's DevEngine (its genesis block defines the rollup config)
    ├── source nodes: SourceNode, each with its own DevEngine, deriving from L1
    ├── light sequencer: a LightNode with its sequencer on, following source-1 (its EL's tx
    │       pool fills blocks)
    ├── light nodes: LightNode following the sources round robin, own DevEngines, blocks
    │       pulled from the sequencer's EL (--l2.follow.payloads: the DevEngine cannot sync)
    ├── batcher: the sequencer's unsafe blocks -> channels -> L1 (blobs, calldata, or alternating)
    ├── tx generator: signed L2 transfers into the sequencer EL's pool
    ├── depositor: an L1 deposit now and then (portal), which must appear on L2
    └── with ``interop``: both chains get Jovian + interop from genesis, and
        ├── chain 902 on the same L1: its sequencer's DevEngine, its own batcher key, inbox,
        │       portal and SystemConfig addresses (the chains are one list: :data:`CHAINS`
        │       describes each, :attr:`Devnet.chains` holds each running :class:`DevnetChain`)
        ├── supernode: derives 901 and 902 (one DevEngine per chain), serves /901 and /902
        ├── light sequencer of 902: follows the supernode's /902 route; its EL imports the
        │       supernode's blocks it lacks (what EL p2p sync does; the DevEngine cannot sync),
        │       so a replaced block reaches it and the sequencer reorgs onto it
        ├── one light node per route (follows /901 or /902; blocks from the supernode's EL)
        ├── batcher of 902
        └── message stream: an initiating log on 901 (DEVNET_LOG_EMITTER), then its executing
                message on 902 (``validateMessage`` to CrossL2Inbox); every ``forged_every``-th
                is forged, alternately with a wrong payload hash and with no initiating log
                there. The supernode replaces a forged message's block by its deposits-only
                version; a valid one's block stays.

Every node's execution engine is an :class:`~opfleet.devnet.engine.ExecutionEngine` (each kind
is started its own way). By default it is :class:`~opfleet.devnet.engine.DevEngine`: real
blocks and hashes from payload attributes, **not an EVM**. Real deployments point ``--l2`` at op-geth or op-reth; with
``engine="op-geth"`` every node gets its own op-geth (:class:`~opfleet.devnet.opgeth.OpGeth`,
``DATA_DIR/op-geth/NAME``), the fork schedule must stop where the binary's does, and the
transaction generator also deploys and calls a contract (:mod:`opfleet.devnet.evm_traffic`).

Forks: every fork, Karst included, from genesis; ``FleetConfig.forks`` holds offsets from the
L2 genesis (``opfleet devnet --fork karst=+60s``, :mod:`opfleet.devnet.schedule`), so a fork's
activation block can be watched live: the light sequencer builds it with the attributes
builder derivation runs, the source nodes derive it, the light nodes follow it, and the batcher
refuses to post it should it ever carry user transactions.

``base_port`` 0 binds every service to an ephemeral port (tests); otherwise services take
consecutive ports from it, and a busy port or a second devnet on the same data directory is a
:class:`~opfleet.errors.ConfigError` (one line, exit status 3).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio

from opfleet.config import defaults
from opfleet.devnet.anvil import Anvil, AnvilConfig, send_transaction
from opfleet.devnet.batcher import BLOBS, CALLDATA, Batcher, BatcherConfig, ChannelConfig
from opfleet.devnet.engine import DEVNET_LOG_EMITTER, DevEngine, ExecutionEngine, ForkTimes, emitter_calldata
from opfleet.devnet.evm_traffic import traffic_tx
from opfleet.devnet.l1 import (
    DEFAULT_PORTAL_ADDRESS,
    DEFAULT_SYSTEM_CONFIG_ADDRESS,
    L1_FORKS,
    L1Chain,
    L1Config,
    L1Server,
    config_update_calldata,
    deposit_calldata,
    system_config_account,
)
from opfleet.devnet.opgeth import OpGeth, OpGethConfig, check_forks, find_op_geth, newest_fork, op_geth_version
from opfleet.devnet.rollup import DEFAULT_BATCH_INBOX, L1Anchor, devnet_rollup_config
from opfleet.errors import ConfigError, TemporaryError
from opfleet.interop.messages import CROSS_L2_INBOX, Identifier, payload_hash, validate_message_calldata
from opfleet.log import log_context, mask_url
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.engine_api import PayloadStatus
from opfleet.protocol.hexjson import parse_data, parse_quantity
from opfleet.protocol.l1_block_info import KNOWN_BLOB_SCHEDULES, BlobSchedule
from opfleet.protocol.l1_chain_config import BLOB_FORKS, DEFAULT_BLOB_CONFIGS, BlobConfig, L1ChainConfig
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.state import Account
from opfleet.protocol.system_config import ConfigUpdateType
from opfleet.protocol.transactions import DYNAMIC_FEE_TX_TYPE, Transaction, encode_transaction, sign_transaction
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError

log = logging.getLogger("opfleet.devnet")

JWT_SECRET = keccak256(b"opfleet devnet jwt")
BATCHER_KEY = keccak256(b"opfleet devnet batcher")
USER_KEY = keccak256(b"opfleet devnet user")
DEPOSITOR_KEY = keccak256(b"opfleet devnet depositor")
MESSENGER_KEY = keccak256(b"opfleet devnet messenger")
UNSAFE_BLOCK_SIGNER_KEY = keccak256(b"opfleet devnet unsafe block signer")
"""The light sequencer's ``--p2p.sequencer.key``: it signs the blocks it gossips."""
UNSAFE_BLOCK_SIGNER = private_key_to_address(UNSAFE_BLOCK_SIGNER_KEY)
"""In the embedded L1's SystemConfig storage (op-node proves that slot before it starts)."""
L2_CHAIN_ID = 901
L1_CHAIN_ID = 900
MESSAGE_TOPIC = keccak256(b"DevnetMessage(bytes)")
VALID = "valid"
FORGED_PAYLOAD = "forged-payload"
"""An executing message claiming a payload hash the initiating log does not have."""
FORGED_MISSING = "forged-missing"
"""An executing message naming a log index the initiating block does not have."""
ALTERNATE = "alternate"
DEV_ENGINE = "dev"
OP_GETH = "op-geth"
FUNDS = 10**24
L1_CHAIN_CONFIG_FILE = "l1-chain-config.json"
"""The L1's chain config in the data directory: what ``--rollup.l1-chain-config`` takes."""
JWT_FILE = "jwt.hex"
"""Every Engine API's JWT secret in the data directory: what ``--l2.jwt-secret`` takes."""


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """One L2 chain of the devnet as described before it starts: its id, where it sits on the L1
    (batch inbox, portal, SystemConfig) and the key that batches it."""

    chain_id: int
    batch_inbox: bytes
    portal_address: bytes
    system_config_address: bytes
    batcher_key: bytes

    def name(self, service: str) -> str:
        """A service's name on this chain: bare on chain 901 (``sequencer``), with the chain id
        on another (``sequencer-902``)."""
        return service if self.chain_id == L2_CHAIN_ID else f"{service}-{self.chain_id}"


CHAINS = (
    ChainSpec(L2_CHAIN_ID, DEFAULT_BATCH_INBOX, DEFAULT_PORTAL_ADDRESS, DEFAULT_SYSTEM_CONFIG_ADDRESS, BATCHER_KEY),
    # 902's portal is not the one the embedded L1 emulates, so 902 gets no deposits.
    ChainSpec(902, bytes.fromhex("ff00000000000000000000000000000000000902"),
              bytes.fromhex("4200000000000000000000000000000000000902"),
              bytes.fromhex("5300000000000000000000000000000000000902"), keccak256(b"opfleet devnet batcher 902")),
)
"""The devnet's chains: 901, the one the sources derive and the light nodes follow, and with
``interop`` 902 (followed through the supernode's route)."""


def parse_nodes(spec: str) -> dict[str, int]:
    """``--nodes source=3,proxy=1,light=4`` -> ``{"source": 3, "proxy": 1, "light": 4}`` (missing roles
    keep their defaults, :data:`opfleet.config.defaults.DEVNET_NODES`)."""
    counts = dict(defaults.DEVNET_NODES)
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        role, sep, value = part.partition("=")
        if not sep or role.strip() not in counts or not value.strip().isdigit():
            raise ConfigError(f"--nodes: expected role=count with role source, proxy or light, got {part!r}", key="nodes")
        counts[role.strip()] = int(value)
    if counts["source"] < 1:
        raise ConfigError("--nodes: a devnet needs at least one source node", key="nodes")
    return counts


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """What the devnet runs. Times are in seconds."""

    l1: str = "embedded"
    """``embedded``, ``anvil`` or the URL of an L1 the operator runs."""
    sources: int = defaults.DEVNET_NODES["source"]
    lights: int = defaults.DEVNET_NODES["light"]
    proxies: int = defaults.DEVNET_NODES["proxy"]
    """Consensus proxies (``opfleet proxy``) in front of every source; the light nodes follow them."""
    l2_block_time: int = 1
    l1_block_time: int = 2
    host: str = "127.0.0.1"
    base_port: int = 0
    data_dir: Path | None = None
    data_availability: str = ALTERNATE
    """``blobs``, ``calldata``, or ``alternate`` (switch per channel, so both kinds are exercised)."""
    max_channel_duration: int = 1
    """L1 blocks a channel stays open: batches land about every L1 block."""
    batcher_poll: float = 0.25
    tx_interval: float = 0.5
    """Seconds between generated L2 transactions (0: none)."""
    deposit_interval: float = 10.0
    """Seconds between L1 deposits (0: none)."""
    node_poll: float = 0.1
    """How often light nodes poll their source, and (unless ``l1_poll``) every node polls L1 heads."""
    l1_poll: float | None = None
    """How often nodes poll L1 for new heads (None: ``node_poll``)."""
    light_l1_poll_interval: float | None = None
    """How often light nodes poll L1 heads (None: the light node's default, op-node's 12 s)."""
    sequencer_l1_confs: int = 2
    forks: ForkTimes = field(default_factory=lambda: ForkTimes.up_to("karst"))
    """Fork times as offsets in seconds from the L2 genesis (the devnet's start); default: every
    fork from genesis."""
    keep_karst_upgrade_gas: bool = False
    """The rollup config's ``keep_karst_upgrade_gas``: after Karst's activation block the gas
    limit keeps its upgrade gas (True, as OP Mainnet and Sepolia) or drops it again (False)."""
    anvil_binary: Path | None = None
    l1_fork: str = "prague"
    """The embedded L1's (or anvil's) Ethereum fork: ``prague`` or ``cancun`` (what L1 clients
    from before Pectra, like the reference op-node, can verify headers of)."""
    engine: str = DEV_ENGINE
    """Every L2 node's execution engine: ``dev`` (the embedded dev engine, not an EVM) or
    ``op-geth`` (one op-geth process per node; the fork schedule must stop where the binary's does)."""
    engine_binary: Path | None = None
    """The op-geth binary (None: :func:`~opfleet.devnet.opgeth.find_op_geth` looks for it)."""
    interop: bool = False
    """Add chain 902, a supernode deriving both, route light nodes and cross-chain messages."""
    message_interval: float = 2.0
    """Seconds between cross-chain messages with ``interop`` (0: none)."""
    forged_every: int = 3
    """Every n-th message is forged (0: none)."""
    gossip: bool = True
    """op-node's block gossip: the sequencer publishes each block, every light node peers with it."""

    def __post_init__(self) -> None:
        if self.data_availability not in (BLOBS, CALLDATA, ALTERNATE):
            raise ConfigError(f"data availability must be {BLOBS}, {CALLDATA} or {ALTERNATE}")
        if self.l2_block_time < 1 or self.l1_block_time < 1:
            raise ConfigError("block times must be at least 1 second", key="block-time")
        if self.engine not in (DEV_ENGINE, OP_GETH):
            raise ConfigError(f"--engine: expected {DEV_ENGINE} or {OP_GETH}[=PATH], got {self.engine!r}", key="engine")
        if self.engine == OP_GETH and self.interop:
            raise ConfigError("--interop runs on the dev engine only (interop needs forks op-geth does not run)",
                              key="engine")
        if self.interop and self.forks != ForkTimes.up_to("karst"):  # interop implies every earlier fork
            raise ConfigError("--interop runs every fork from genesis; drop --fork or --interop", source="--fork")


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    role: str
    """``l1``, ``sequencer``, ``source``, ``proxy``, ``light``, ``engine``, ``supernode``."""
    url: str
    follows: tuple[str, ...] = ()
    chain: str = str(L2_CHAIN_ID)
    metrics_url: str = ""


@dataclass(frozen=True, slots=True)
class CrossMessage:
    """One message of the interop stream: where it was initiated (chain 901) and the block of
    chain 902's sequencer that executed it (before any replacement)."""

    kind: str
    """:data:`VALID`, :data:`FORGED_PAYLOAD` or :data:`FORGED_MISSING`."""
    identifier: Identifier
    tx_hash: bytes
    block_number: int
    block_hash: bytes


def message_kind(n: int, forged_every: int) -> str:
    """The kind of the stream's ``n``-th message (from 1): every ``forged_every``-th is forged,
    alternately with a wrong payload hash and with a missing initiating log."""
    if not forged_every or n % forged_every:
        return VALID
    return FORGED_PAYLOAD if (n // forged_every) % 2 else FORGED_MISSING


@dataclass(slots=True, eq=False)
class DevnetChain:
    """One running L2 chain of the devnet: its description, its rollup config, the sequencer's
    EL and light sequencer, and its batcher (``batcher_lock`` pauses it, e.g. while its key rotates)."""

    spec: ChainSpec
    rollup: RollupConfig
    sequencer_engine: ExecutionEngine
    sequencer: Any = None
    batcher: Batcher | None = None
    batcher_lock: trio.Lock = field(default_factory=trio.Lock)

    @property
    def chain_id(self) -> int:
        return self.spec.chain_id

    def name(self, service: str) -> str:
        return self.spec.name(service)


class DataDirLock:
    """An exclusive ``flock`` on ``DIR/devnet.lock``: a second devnet on the same directory fails fast."""

    def __init__(self, directory: Path):
        self.path = directory / "devnet.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"another opfleet devnet is running on {self.path.parent} "
                              "(stop it, or use another --data-dir)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Devnet:
    """A running fleet (see the module docstring). ``await nursery.start(devnet.run)`` returns
    it once every service listens; its attributes are the handles tests and benchmarks use."""

    def __init__(self, config: FleetConfig | None = None):
        self.config = config or FleetConfig()
        self.l1_chain: L1Chain | None = None
        self.l1_server: L1Server | None = None
        self.anvil: Anvil | None = None
        self.l1_url = ""
        self.l1_chain_id = L1_CHAIN_ID
        self.l1_chain_config: L1ChainConfig | None = None
        """The L1's chain config (None: an L1 with a built-in one, e.g. Sepolia given as --l1 URL)."""
        self.l1_chain_config_path: Path | None = None
        """Where it was written (``DATA_DIR/l1-chain-config.json``), for nodes started by hand."""
        self.chains: list[DevnetChain] = []
        """Chain 901, then with ``interop`` 902 (:data:`CHAINS`)."""
        self.jwt_path: Path | None = None
        """``DATA_DIR/jwt.hex``: the JWT secret of every Engine API (``--l2.jwt-secret``)."""
        self.rollup_paths: dict[int, Path] = {}
        """Each chain's rollup config, ``DATA_DIR/rollup[-CHAINID].json`` (``--rollup.config``)."""
        self.engine_apis: dict[str, str] = {}
        """An EL's endpoint name (``source-1-el``) -> its Engine API URL (authenticated with the JWT)."""
        self.sources: list[Any] = []
        self.proxies: list[Any] = []
        self.source_engines: list[ExecutionEngine] = []
        self.lights: list[Any] = []
        self.light_engines: list[ExecutionEngine] = []
        self.endpoints: list[Endpoint] = []
        # --interop: the supernode and what follows it
        self.supernode: Any = None
        self.supernode_engines: dict[int, ExecutionEngine] = {}
        self.route_lights: dict[int, Any] = {}
        self.route_light_engines: dict[int, ExecutionEngine] = {}
        self.messages: list[CrossMessage] = []
        self.blocks_synced = 0
        """Blocks the sequencer ELs of the supernode's chains (902) imported from its ELs (replacements)."""
        self.deposits_sent = 0
        self.txs_sent = 0
        self._next_port = self.config.base_port
        self._nursery: trio.Nursery | None = None
        self._stack: AsyncExitStack | None = None
        self._light_scopes: list[trio.CancelScope] = []
        self._source_scopes: list[trio.CancelScope] = []
        self._source_p2p: list[str] = []  # the sources' gossip multiaddrs: the sequencer dials them
        self._lock: DataDirLock | None = None
        self._op_geth: Path | None = None

    # --- chains -------------------------------------------------------------------------------------

    @property
    def main(self) -> DevnetChain:
        """Chain 901: the one the sources derive, the light nodes follow and the traffic goes to."""
        if not self.chains:
            raise RuntimeError("the devnet's chains are not prepared yet")
        return self.chains[0]

    def chain(self, chain_id: int) -> DevnetChain:
        for chain in self.chains:
            if chain.chain_id == chain_id:
                return chain
        raise KeyError(chain_id)

    @property
    def _chain_ids(self) -> str:
        """``901,902``: the log field of a service that speaks for every chain."""
        return ",".join(str(chain.chain_id) for chain in self.chains)

    @property
    def rollup(self) -> RollupConfig:
        return self.main.rollup

    @property
    def sequencer_engine(self) -> ExecutionEngine:
        return self.main.sequencer_engine

    @property
    def sequencer(self) -> Any:
        """Chain 901's light sequencer (a ``LightNode``)."""
        return self.main.sequencer

    @property
    def batcher(self) -> Batcher | None:
        return self.main.batcher

    # --- ports --------------------------------------------------------------------------------------

    def _port(self) -> int:
        if not self.config.base_port:
            return 0
        port, self._next_port = self._next_port, self._next_port + 1
        return port

    async def _start(self, nursery: trio.Nursery, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``nursery.start`` with a busy port turned into a one-line ConfigError."""
        try:
            return await nursery.start(fn, *args)
        except (OSError, BaseExceptionGroup) as exc:
            if _address_in_use(exc):
                # a node binds several ports from its config; only a bare serve() call names its one
                port = f"port {args[-1]}" if args and isinstance(args[-1], int) else "a port it listens on"
                raise ConfigError(f"{what}: {port} is already in use "
                                  "(another devnet running? choose another --base-port)") from None
            raise

    async def _serve_engine(self, nursery: trio.Nursery, engine: ExecutionEngine, name: str) -> None:
        el = f"{name.replace(' ', '-')}-el"
        with log_context(node=el):
            if isinstance(engine, OpGeth):
                await self._start_op_geth(nursery, engine, name)
            else:
                assert isinstance(engine, DevEngine)
                await self._start(nursery, f"{name} engine API", engine.serve_auth, self.config.host, self._port())
                await self._start(nursery, f"{name} RPC", engine.serve_rpc, self.config.host, self._port())
        self.engine_apis[el] = engine.auth_url or ""

    def _new_engine(self, genesis_time: int, chain_id: int = L2_CHAIN_ID) -> ExecutionEngine:
        alloc = {private_key_to_address(USER_KEY): Account(balance=FUNDS)}
        if self.config.interop:
            alloc[private_key_to_address(MESSENGER_KEY)] = Account(balance=FUNDS)
        if self.config.engine == OP_GETH:
            return OpGeth(OpGethConfig(
                chain_id=chain_id, genesis_time=genesis_time, forks=self.config.forks.shifted(genesis_time),
                jwt_secret=JWT_SECRET,
                alloc={address: account.balance for address, account in alloc.items()}, host=self.config.host),
                binary=self._op_geth)
        return DevEngine(chain_id=chain_id, genesis_time=genesis_time, forks=self.config.forks.shifted(genesis_time),
                         alloc=alloc, jwt_secret=JWT_SECRET)

    def _find_op_geth(self) -> None:
        """The op-geth binary, checked: op-geth, and able to run the devnet's fork schedule."""
        binary = find_op_geth(self.config.engine_binary)
        version = op_geth_version(binary)
        if version is None:
            raise ConfigError(f"{binary} is not op-geth (`{binary} version` names no upstream version)", key="engine")
        check_forks(self.config.forks, newest_fork(version), binary=f"op-geth {version}")
        self._op_geth = binary

    async def _start_op_geth(self, nursery: trio.Nursery, engine: OpGeth, name: str) -> None:
        """One op-geth for node ``name``, initialised afresh (every devnet is a new chain) in
        ``DATA_DIR/op-geth/NAME`` (a temporary directory without a data directory)."""
        cfg = self.config
        directory = Path(cfg.data_dir) / "op-geth" / name if cfg.data_dir is not None else None
        if directory is not None and directory.exists():
            await trio.to_thread.run_sync(shutil.rmtree, directory)
        engine.config = replace(engine.config, name=f"{name} op-geth", data_dir=directory,
                                http_port=self._port(), auth_port=self._port())
        await self._start(nursery, f"{name} op-geth", engine.run)

    # --- running ------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Devnet] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        if cfg.data_dir is not None:
            self._lock = DataDirLock(Path(cfg.data_dir))
            self._lock.acquire()
        try:
            # Clients close only after every task of the nursery has stopped (never under a running step).
            async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
                self._stack = stack
                stack.enter_context(log_context(node="devnet", chain=str(L2_CHAIN_ID)))  # tasks inherit it
                self._nursery = nursery
                if cfg.engine == OP_GETH:
                    await trio.to_thread.run_sync(self._find_op_geth)
                await trio.to_thread.run_sync(_warm_up_kzg)
                with log_context(node="l1", chain=""):
                    genesis = await self._start_l1(nursery)
                if cfg.data_dir is not None and self.l1_chain_config is not None:
                    self.l1_chain_config_path = write_l1_chain_config(
                        Path(cfg.data_dir) / L1_CHAIN_CONFIG_FILE, self.l1_chain_config)
                for spec in CHAINS[: 2 if cfg.interop else 1]:
                    self.chains.append(await self._prepare_chain(nursery, spec, genesis))
                await self._start_sources(nursery)
                if cfg.interop:
                    await self._start_supernode(nursery)
                for chain in self.chains:
                    await self._start_sequencer(nursery, chain)
                if cfg.proxies:
                    await self._start_proxies(nursery)
                await self._start_lights(nursery)
                if cfg.interop:
                    await self._start_route_lights(nursery)
                for chain in self.chains:
                    await self._start_batcher(nursery, chain)
                if cfg.tx_interval:
                    with log_context(node="txgen"):
                        nursery.start_soon(self._generate_txs)
                if cfg.deposit_interval and (self.anvil is not None or self.l1_chain is not None):
                    with log_context(node="depositor"):
                        nursery.start_soon(self._deposit_now_and_then)
                if cfg.interop and cfg.message_interval:
                    with log_context(node="messages", chain=self._chain_ids):
                        nursery.start_soon(self._stream_messages)
                if cfg.data_dir is not None:
                    self._write_attach_files(Path(cfg.data_dir))
                    self.write_profile(Path(cfg.data_dir) / "fleet.toml")
                task_status.started(self)
        finally:
            if self._lock is not None:
                self._lock.release()

    async def _start_l1(self, nursery: trio.Nursery) -> int:
        """Start (or connect to) the L1; the L2 genesis time."""
        cfg = self.config
        now = int(time.time())
        if cfg.l1 == "embedded":
            self.l1_chain = L1Chain(L1Config(chain_id=L1_CHAIN_ID, genesis_time=now, block_time=cfg.l1_block_time,
                                             safe_lag=2, finalized_lag=4, fork=cfg.l1_fork, alloc={
                                                 DEFAULT_SYSTEM_CONFIG_ADDRESS: system_config_account(UNSAFE_BLOCK_SIGNER)}))
            self.l1_server = L1Server(self.l1_chain)
            await self._start(nursery, "embedded L1", self.l1_server.serve, cfg.host, self._port())
            self.l1_url = self.l1_server.url or ""
            nursery.start_soon(self._mine_embedded)
            self.l1_chain_config = embedded_l1_chain_config(self.l1_chain.config)
            l1_genesis = BlockID(self.l1_chain.genesis.hash, 0)
        elif cfg.l1 == "anvil":
            self.anvil = Anvil(AnvilConfig(chain_id=L1_CHAIN_ID, block_time=cfg.l1_block_time, slots_in_an_epoch=2,
                                           genesis_time=now, host=cfg.host, port=self._port(), hardfork=cfg.l1_fork),
                               binary=cfg.anvil_binary)
            await nursery.start(self.anvil.run)
            self.l1_url = self.anvil.url or ""
            for key in (DEPOSITOR_KEY, *(spec.batcher_key for spec in CHAINS)):
                await self.anvil.fund(private_key_to_address(key), FUNDS)
            assert self.anvil.genesis is not None
            l1_genesis = self.anvil.genesis
            self.l1_chain_config = anvil_l1_chain_config(self.anvil.config)
        else:
            if not cfg.l1.startswith(("http://", "https://")):
                raise ConfigError(f"--l1: expected embedded, anvil or an http(s) URL, got {mask_url(cfg.l1)!r}",
                                  key="l1")
            self.l1_url = cfg.l1
            async with JsonRpcClient(cfg.l1, name="L1") as rpc:
                try:
                    self.l1_chain_id = parse_quantity(await rpc.call("eth_chainId"))
                    latest = await rpc.call("eth_getBlockByNumber", "latest", False)
                    if self.l1_chain_id not in KNOWN_BLOB_SCHEDULES:
                        self.l1_chain_config = await discover_l1_chain_config(rpc, self.l1_chain_id, latest)
                except TemporaryError as exc:
                    # a required endpoint we cannot reach: exit 5, as for every node
                    raise TemporaryError(f"--l1: {exc}") from None
            l1_genesis = BlockID(parse_data(latest["hash"], 32), parse_quantity(latest["number"]))
            now = max(now, parse_quantity(latest["timestamp"]))
        self._l1_genesis = l1_genesis
        self.endpoints.append(Endpoint("l1", "l1", self.l1_url, chain=str(self.l1_chain_id)))
        return now

    async def _mine_embedded(self) -> None:
        """A block at genesis + k * block time, when the wall clock gets there (slots stay regular)."""
        chain = self.l1_chain
        assert chain is not None
        while True:
            due = chain.head.timestamp + chain.config.block_time
            await trio.sleep(max(0.0, due - time.time()))
            chain.mine(timestamp=due)

    async def _prepare_chain(self, nursery: trio.Nursery, spec: ChainSpec, genesis_time: int) -> DevnetChain:
        """A chain's sequencer EL, serving before anything else of the chain (its genesis block
        defines the rollup config), and its rollup config: on the shared L1 with its own batcher,
        inbox, portal and SystemConfig; interop from genesis with ``interop``."""
        cfg = self.config
        engine = self._new_engine(genesis_time, spec.chain_id)
        with log_context(chain=str(spec.chain_id)):
            await self._serve_engine(nursery, engine, spec.name("sequencer"))
        anchor = L1Anchor(self._l1_genesis, self.l1_chain_id, spec.portal_address, spec.system_config_address)
        rollup = devnet_rollup_config(anchor, engine, batcher=private_key_to_address(spec.batcher_key),
                                      batch_inbox=spec.batch_inbox, block_time=cfg.l2_block_time,
                                      keep_karst_upgrade_gas=cfg.keep_karst_upgrade_gas)
        if cfg.interop:
            rollup = replace(rollup, interop_time=0)  # interop from genesis
        _check_supported(rollup, cfg.interop)
        return DevnetChain(spec, rollup, engine)

    def _light_config(self, engine: ExecutionEngine, sources: tuple[str, ...], *, rollup: RollupConfig | None = None,
                      **fields: Any) -> Any:
        from opfleet.node.light import LightConfig

        cfg = self.config
        rollup = rollup or self.rollup
        return LightConfig(rollup_config=rollup, sources=sources, l1_url=self.l1_url, blob_schedule=self.blob_schedule,
                           l2_url=engine.auth_url or "", jwt_secret=JWT_SECRET, poll_interval=cfg.node_poll,
                           push_wait=1.0, l1_poll_interval=cfg.light_l1_poll_interval or defaults.L1_HTTP_POLL_INTERVAL,
                           rpc_addr=cfg.host,
                           rpc_port=self._port(),
                           # metrics on a free port: opfleet doctor reads the follow and L1 counters
                           metrics_enabled=True, metrics_addr=cfg.host, metrics_port=0,
                           backoff_base=0.05, backoff_cap=1.0, **fields)

    async def _start_sequencer(self, nursery: trio.Nursery, chain: DevnetChain) -> None:
        """A chain's light sequencer: a light node with its sequencer on. Chain 901's follows the
        first source and gossips its blocks; another chain's follows the supernode's route of that
        chain (its cross-safe chain), and its EL imports the supernode's blocks it lacks."""
        from opfleet.node.light import LightNode
        from opfleet.node.sequencer import SequencerConfig

        cfg = self.config
        main = chain is self.main
        name, cid = chain.name("sequencer"), str(chain.chain_id)
        follows = "source-1" if main else "supernode"
        source = self.endpoint(follows).url if main else f"{self.supernode_url}/{cid}"
        config = self._light_config(chain.sequencer_engine, (source,), rollup=chain.rollup, sequencer_enabled=True,
                                    sequencer_config=SequencerConfig(l1_confs=cfg.sequencer_l1_confs,
                                                                     poll_interval=0.05,
                                                                     backoff_base=0.05, backoff_cap=1.0),
                                    p2p=self._p2p(sequencer=True) if main else None)
        node = chain.sequencer = LightNode(config)
        with log_context(node=name, chain=cid):
            await self._start(nursery, name, node.run)
        endpoint = Endpoint(name, "sequencer", f"http://{cfg.host}:{node.rpc_port}", follows=(follows,), chain=cid,
                            metrics_url=_metrics_url(cfg.host, node) if main else "")
        self.endpoints.insert(1 if main else len(self.endpoints), endpoint)  # 901's right after the L1
        self.endpoints.append(Endpoint(f"{name}-el", "engine", chain.sequencer_engine.rpc_url or "", chain=cid))
        if not main:
            with log_context(node=f"{name}-el", chain=cid):
                nursery.start_soon(self._sync_sequencer_el, chain)

    def stop_source(self, index: int) -> None:
        """Stop source ``index`` (its RPC goes away; its EL keeps running), as if it crashed."""
        self._source_scopes[index].cancel()

    def stop_light(self, index: int) -> None:
        """Stop light node ``index`` (as a kill would: its EL keeps its blocks)."""
        self._light_scopes[index].cancel()

    async def restart_light(self, index: int) -> Any:
        """Start light node ``index`` again on the same EL and port; the new node."""
        from opfleet.node.light import LightNode

        assert self._nursery is not None
        old = self.lights[index]
        node = LightNode(replace(old.config, rpc_port=old.rpc_port))
        with log_context(node=f"light-{index + 1}"):
            self._light_scopes[index] = await self._start(self._nursery, f"light-{index + 1}", _cancellable, node.run)
        self.lights[index] = node
        return node

    async def add_engine(self, name: str) -> Any:
        """One more execution engine on chain 901's genesis, running in the devnet (for a node
        started next to the fleet: a reference op-node, a light node started by hand)."""
        assert self._nursery is not None
        engine = self._new_engine(self.rollup.genesis.l2_time)
        await self._serve_engine(self._nursery, engine, name)
        self.endpoints.append(Endpoint(f"{name}-el", "engine", engine.rpc_url or ""))
        return engine

    def endpoint(self, name: str) -> Endpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(name)

    async def _start_sources(self, nursery: trio.Nursery) -> None:
        from opfleet.node.source import SourceConfig, SourceNode

        cfg = self.config
        for i in range(cfg.sources):
            name = f"source-{i + 1}"
            engine = self._new_engine(self.rollup.genesis.l2_time)
            await self._serve_engine(nursery, engine, name)
            rpc_port = self._port()
            node = SourceNode(SourceConfig(
                rollup_config=self.rollup, l1_url=self.l1_url, l2_url=engine.auth_url or "", jwt_secret=JWT_SECRET,
                blob_schedule=self.blob_schedule,
                l1_beacon_url=self.l1_url, l1_poll_interval=cfg.l1_poll or cfg.node_poll, rpc_addr=cfg.host,
                rpc_port=rpc_port,
                backoff_base=0.05, backoff_cap=1.0,
                safedb_path=(Path(cfg.data_dir) / f"{name}.safedb") if cfg.data_dir is not None else None,
                p2p=self._source_gossip(name), metrics_enabled=True, metrics_addr=cfg.host, metrics_port=0))
            with log_context(node=name):
                self._source_scopes.append(await self._start(nursery, name, _cancellable, node.run))
            self.sources.append(node)
            self.source_engines.append(engine)
            self.endpoints.append(Endpoint(name, "source", f"http://{cfg.host}:{node.rpc_port}",
                                           metrics_url=_metrics_url(cfg.host, node)))
            self.endpoints.append(Endpoint(f"{name}-el", "engine", engine.rpc_url or ""))

    def _p2p(self, *, sequencer: bool = False) -> Any:
        """Gossip settings: the sequencer listens on loopback and signs, light nodes dial it."""
        if not self.config.gossip:
            return None
        from opfleet.p2p import P2PConfig

        if sequencer:
            return P2PConfig(listen_ip=self.config.host, listen_tcp=0, sequencer_key=UNSAFE_BLOCK_SIGNER_KEY,
                             static=tuple(self._source_p2p))
        gossip = getattr(self.sequencer, "gossip", None)
        if gossip is None:
            return None
        return P2PConfig(listen_tcp=None, static=tuple(gossip.gossip.multiaddrs()))

    async def _start_proxies(self, nursery: trio.Nursery) -> None:
        """``opfleet proxy`` in front of every source (proxyd's CL consensus: bans a source whose
        output root disagrees, halts on a split), polling four times a block."""
        from opfleet.config.proxyd import simple_config
        from opfleet.proxy import Proxy

        cfg = self.config
        sources = [e for e in self.endpoints if e.role == "source"]
        interval = max(0.25, cfg.node_poll)
        for i in range(cfg.proxies):
            name = f"proxy-{i + 1}"
            config = simple_config([e.url for e in sources], names=[e.name for e in sources], rpc_host=cfg.host,
                                   rpc_port=self._port(), poller_interval=interval, timeout=2.0,
                                   max_update_threshold=max(2.0, 8 * interval))
            proxy = Proxy(config)
            await self._start(nursery, name, proxy.run)
            self.proxies.append(proxy)
            self.endpoints.append(Endpoint(name, "proxy", f"http://{cfg.host}:{proxy.rpc_port}",
                                           follows=tuple(e.name for e in sources)))

    def _source_gossip(self, name: str) -> Any:
        """A source listens on a port of its own, with a peer id kept across restarts."""
        if not self.config.gossip:
            return None
        from opfleet.devnet.opnode import free_port
        from opfleet.p2p import P2PConfig

        config = P2PConfig(listen_ip=self.config.host, listen_tcp=free_port(self.config.host),
                           priv_raw=keccak256(b"opfleet devnet p2p " + name.encode()))
        self._source_p2p.append(f"/ip4/{self.config.host}/tcp/{config.listen_tcp}/p2p/{config.identity().peer_id_text}")
        return config

    async def _start_lights(self, nursery: trio.Nursery) -> None:
        """Light nodes following the sources round robin; blocks pulled from the sequencer's EL."""
        from opfleet.node.light import LightNode

        for i in range(self.config.lights):
            name = f"light-{i + 1}"
            source = (f"proxy-{i % self.config.proxies + 1}" if self.config.proxies
                      else f"source-{i % self.config.sources + 1}")
            engine = self._new_engine(self.rollup.genesis.l2_time)
            await self._serve_engine(nursery, engine, name)
            node = LightNode(self._light_config(engine, (self.endpoint(source).url,),
                                                payloads_url=self.sequencer_engine.rpc_url, p2p=self._p2p()))
            with log_context(node=name):
                scope = await self._start(nursery, name, _cancellable, node.run)
            self.lights.append(node)
            self.light_engines.append(engine)
            self._light_scopes.append(scope)
            self.endpoints.append(Endpoint(name, "light", f"http://{self.config.host}:{node.rpc_port}",
                                           follows=(source,), metrics_url=_metrics_url(self.config.host, node)))
            self.endpoints.append(Endpoint(f"{name}-el", "engine", engine.rpc_url or ""))

    # --- interop (chain 902 and the supernode) ---------------------------------------------------------

    async def _start_supernode(self, nursery: trio.Nursery) -> None:
        """The supernode deriving every chain, each into its own DevEngine, serving /<chainID>."""
        from opfleet.interop.supernode import ChainSettings, Supernode, SupernodeConfig

        cfg = self.config
        chains = []
        for chain in self.chains:
            cid, rollup = chain.chain_id, chain.rollup
            engine = self.supernode_engines[cid] = self._new_engine(rollup.genesis.l2_time, cid)
            with log_context(chain=str(cid)):
                await self._serve_engine(nursery, engine, f"supernode {cid}")
            chains.append(ChainSettings(rollup_config=rollup, l2_url=engine.auth_url or "", jwt_secret=JWT_SECRET,
                                        blob_schedule=self.blob_schedule))
        # The log databases stay in memory: every devnet starts a new chain, so nothing to resume.
        node = self.supernode = Supernode(SupernodeConfig(
            chains=tuple(chains), l1_url=self.l1_url, l1_beacon_url=self.l1_url,
            l1_beacon_seconds_per_slot=cfg.l1_block_time if self.anvil is not None else 0,
            l1_poll_interval=cfg.l1_poll or cfg.node_poll, rpc_addr=cfg.host, rpc_port=self._port(),
            gate_timeout=5.0, interop_interval=max(0.05, cfg.node_poll), health_interval=1.0,
            backoff_base=0.05, backoff_cap=1.0))
        with log_context(node="supernode", chain=self._chain_ids):
            await self._start(nursery, "supernode", node.run)
        self.endpoints.append(Endpoint("supernode", "supernode", self.supernode_url, chain=""))
        for cid, engine in self.supernode_engines.items():
            self.endpoints.append(Endpoint(f"supernode-{cid}-el", "engine", engine.rpc_url or "", chain=str(cid)))

    @property
    def blob_schedule(self) -> BlobSchedule | None:
        """The L1's blob fee schedule every node of the devnet gets (None: the L1's built-in one)."""
        return self.l1_chain_config.blob_schedule if self.l1_chain_config is not None else None

    @property
    def supernode_url(self) -> str:
        """The supernode's root URL; chain routes are ``URL/<chainID>``."""
        return f"http://{self.config.host}:{self.supernode.rpc_port}" if self.supernode is not None else ""

    async def _start_route_lights(self, nursery: trio.Nursery) -> None:
        """One light node per supernode route; blocks pulled from the supernode's EL of that chain."""
        from opfleet.node.light import LightNode

        for chain in self.chains:
            cid, rollup = chain.chain_id, chain.rollup
            name = f"route-light-{cid}"
            engine = self._new_engine(rollup.genesis.l2_time, cid)
            with log_context(node=name, chain=str(cid)):
                await self._serve_engine(nursery, engine, name)
                node = LightNode(self._light_config(engine, (f"{self.supernode_url}/{cid}",), rollup=rollup,
                                                    payloads_url=self.supernode_engines[cid].rpc_url))
                await self._start(nursery, name, node.run)
            self.route_lights[cid] = node
            self.route_light_engines[cid] = engine
            self.endpoints.append(Endpoint(name, "light", f"http://{self.config.host}:{node.rpc_port}",
                                           follows=("supernode",), chain=str(cid)))
            self.endpoints.append(Endpoint(f"{name}-el", "engine", engine.rpc_url or "", chain=str(cid)))

    async def _sync_sequencer_el(self, chain: DevnetChain) -> None:
        """A supernode chain's sequencer EL imports the supernode's blocks it lacks: a replaced
        block (and what was derived on it) must be in the EL before the sequencer can reorg onto
        it. Real ELs do this through p2p sync; the DevEngine cannot sync by itself."""
        remote_url = self.supernode_engines[chain.chain_id].rpc_url or ""
        seq = chain.sequencer_engine
        async with JsonRpcClient(remote_url, name="el-sync-remote") as remote, \
                JsonRpcClient(seq.rpc_url or "", name="el-sync-local") as local, \
                EngineClient(seq.auth_url or "", JWT_SECRET, forks=chain.rollup) as engine:
            while True:
                try:
                    self.blocks_synced += await import_missing_blocks(remote, local, engine, chain.rollup)
                except Exception as exc:  # a devnet helper: retried next poll
                    log.debug("%s EL sync: %s", chain.name("sequencer"), exc)
                await trio.sleep(self.config.node_poll)

    async def _send_l2(self, rpc: JsonRpcClient, chain_id: int, to: bytes, data: bytes) -> dict[str, Any]:
        """Send a messenger transaction and wait for its receipt (a reorg may drop it: then a
        TemporaryError after a few block times)."""
        sender = private_key_to_address(MESSENGER_KEY)
        nonce = parse_quantity(await rpc.call("eth_getTransactionCount", "0x" + sender.hex(), "pending"))
        raw = encode_transaction(sign_transaction(Transaction(
            type=DYNAMIC_FEE_TX_TYPE, chain_id=chain_id, nonce=nonce, max_fee_per_gas=10**10,
            max_priority_fee_per_gas=10**6, gas=200_000, to=to, data=data), MESSENGER_KEY))
        tx_hash = await rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
        with trio.move_on_after(5 * self.config.l2_block_time + 1):
            while True:
                receipt = await rpc.call("eth_getTransactionReceipt", tx_hash)
                if receipt is not None:
                    return receipt
                await trio.sleep(0.05)
        raise TemporaryError(f"chain {chain_id}: transaction {tx_hash} not included")

    async def send_message(self, kind: str = VALID) -> CrossMessage:
        """One cross-chain message: a log initiated on 901, executed on 902 (forged if ``kind`` says so)."""
        source, target = self.chains[:2]
        text = b"opfleet devnet message %d" % len(self.messages)
        async with JsonRpcClient(source.sequencer_engine.rpc_url or "", name=f"messages-{source.chain_id}") as a, \
                JsonRpcClient(target.sequencer_engine.rpc_url or "", name=f"messages-{target.chain_id}") as b:
            initiated = await self._send_l2(a, source.chain_id, DEVNET_LOG_EMITTER,
                                            emitter_calldata((MESSAGE_TOPIC,), text))
            block = await a.call("eth_getBlockByHash", initiated["blockHash"], False)
            ident = Identifier(DEVNET_LOG_EMITTER, parse_quantity(initiated["blockNumber"]),
                               parse_quantity(initiated["logs"][0]["logIndex"]), parse_quantity(block["timestamp"]),
                               source.chain_id)
            claimed = payload_hash((MESSAGE_TOPIC,), text + b" (forged)" if kind == FORGED_PAYLOAD else text)
            if kind == FORGED_MISSING:
                ident = replace(ident, log_index=ident.log_index + 7)  # no such log in that block
            executed = await self._send_l2(b, target.chain_id, CROSS_L2_INBOX,
                                           validate_message_calldata(ident, claimed))
        message = CrossMessage(kind, ident, parse_data(executed["transactionHash"], 32),
                               parse_quantity(executed["blockNumber"]), parse_data(executed["blockHash"], 32))
        self.messages.append(message)
        log.info("Cross-chain message", extra={"fields": {
            "kind": kind, "initiated": f"{source.chain_id}/{ident.block_number}",
            "executed": f"{target.chain_id}/{message.block_number}"}})
        return message

    async def _stream_messages(self) -> None:
        cfg = self.config
        sent = 0
        while True:
            await trio.sleep(cfg.message_interval)
            sent += 1
            kind = message_kind(sent, cfg.forged_every)
            try:
                await self.send_message(kind)
            except Exception as exc:  # traffic: log and go on
                log.debug("message stream: %s", exc)

    # --- batchers -----------------------------------------------------------------------------------

    async def _start_batcher(self, nursery: trio.Nursery, chain: DevnetChain) -> None:
        """A chain's batcher: the sequencer's unsafe blocks -> channels -> L1, with the chain's key."""
        cfg = self.config
        rollup, name = chain.rollup, chain.name("batcher")
        da = BLOBS if cfg.data_availability in (BLOBS, ALTERNATE) else CALLDATA
        channel = ChannelConfig(genesis_time=rollup.genesis.l2_time, block_time=rollup.block_time,
                                chain_id=rollup.l2_chain_id)
        config = BatcherConfig(channel=channel, batch_inbox=rollup.batch_inbox_address,
                               l1_chain_id=self.l1_chain_id, batcher_key=chain.spec.batcher_key, data_availability=da,
                               max_channel_duration=cfg.max_channel_duration, poll_interval=cfg.batcher_poll,
                               start_block=1, rollup_config=rollup)
        assert self._stack is not None
        l1 = await self._stack.enter_async_context(JsonRpcClient(self.l1_url, name=f"{name}-L1"))
        l2 = await self._stack.enter_async_context(JsonRpcClient(chain.sequencer_engine.rpc_url or "",
                                                                 name=f"{name}-L2"))
        chain.batcher = Batcher(config, l1, l2)
        with log_context(node=name, chain=str(chain.chain_id)):
            nursery.start_soon(self._run_batcher, chain.batcher, chain.batcher_lock)

    async def _run_batcher(self, batcher: Batcher, lock: trio.Lock) -> None:
        while True:
            try:
                async with lock:
                    closed = batcher.statistics().channels_closed
                    await batcher.step()
                    if self.config.data_availability == ALTERNATE and batcher.statistics().channels_closed != closed:
                        other = CALLDATA if batcher.config.data_availability == BLOBS else BLOBS
                        batcher.config = replace(batcher.config, data_availability=other)
            except TemporaryError as exc:
                log.debug("batcher step failed: %s", exc)
            await trio.sleep(self.config.batcher_poll)

    # --- traffic -------------------------------------------------------------------------------------

    def _user_tx(self, nonce: int) -> bytes:
        if self.config.engine == OP_GETH:  # a real EVM: deploy a contract, then call it
            return traffic_tx(USER_KEY, nonce, L2_CHAIN_ID)
        return encode_transaction(sign_transaction(Transaction(
            type=DYNAMIC_FEE_TX_TYPE, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10,
            max_priority_fee_per_gas=10**6, gas=21_000, to=b"\x12" * 20, value=1), USER_KEY))

    async def _generate_txs(self) -> None:
        async with JsonRpcClient(self.sequencer_engine.rpc_url or "", name="txgen") as rpc:
            while True:
                try:
                    await rpc.call("eth_sendRawTransaction", "0x" + self._user_tx(self.txs_sent).hex())
                    self.txs_sent += 1
                except Exception as exc:  # a devnet traffic source: log and go on
                    log.debug("tx generator: %s", exc)
                await trio.sleep(self.config.tx_interval)

    async def send_l1(self, key: bytes, *, to: bytes, data: bytes = b"", value: int = 0) -> dict[str, Any]:
        """Send an L1 transaction and wait for its receipt (any L1 kind)."""
        receipt = await send_transaction(self.l1_url, self.l1_chain_id, key, to=to, data=data, value=value,
                                         timeout=max(30.0, 5 * self.config.l1_block_time))
        assert isinstance(receipt, dict)
        return receipt

    async def deposit(self, to: bytes, *, mint: int = 10**15, value: int = 0, gas_limit: int = 100_000,
                      data: bytes = b"") -> dict[str, Any]:
        """An L1 deposit through the portal; its L1 receipt."""
        receipt = await self.send_l1(DEPOSITOR_KEY, to=self.rollup.deposit_contract_address,
                                     data=deposit_calldata(to, value, gas_limit, data), value=mint)
        self.deposits_sent += 1
        return receipt

    async def _deposit_now_and_then(self) -> None:
        while True:
            await trio.sleep(self.config.deposit_interval)
            try:
                await self.deposit(b"\x34" * 20)
            except Exception as exc:  # traffic: log and go on
                log.debug("depositor: %s", exc)

    async def rotate_batcher(self, new_key: bytes) -> dict[str, Any]:
        """SystemConfig ``setBatcherHash`` to ``new_key``'s address, then batch with that key.

        The batcher is paused meanwhile, and its earlier transactions are mined first: a batch
        signed by the old key in or after the update's L1 block would be ignored by derivation.
        """
        chain = self.main
        batcher = chain.batcher
        assert batcher is not None
        async with chain.batcher_lock:
            async with JsonRpcClient(self.l1_url, name="rotate") as rpc:
                with trio.fail_after(30):
                    for tx_hash in batcher.statistics().sent:
                        while await rpc.call("eth_getTransactionReceipt", "0x" + tx_hash.hex()) is None:
                            await trio.sleep(0.05)
            address = private_key_to_address(new_key)
            if self.anvil is not None:
                await self.anvil.fund(address, FUNDS)
            receipt = await self.send_l1(chain.spec.batcher_key, to=chain.rollup.l1_system_config_address,
                                         data=config_update_calldata(ConfigUpdateType.BATCHER, bytes(12) + address))
            batcher.config = replace(batcher.config, batcher_key=new_key)
        log.info("Batcher key rotated", extra={"fields": {"batcher": "0x" + address.hex()}})
        return receipt

    # --- views ---------------------------------------------------------------------------------------

    def _write_attach_files(self, directory: Path) -> None:
        """What a node started by hand next to the fleet needs: the Engine APIs' JWT secret
        (``jwt.hex``) and each chain's rollup config (``rollup.json``, ``rollup-902.json``)."""
        self.jwt_path = directory / JWT_FILE
        self.jwt_path.write_text("0x" + JWT_SECRET.hex() + "\n")
        for chain in self.chains:
            path = self.rollup_paths[chain.chain_id] = directory / f"{chain.name('rollup')}.json"
            path.write_text(chain.rollup.to_json_text())

    def write_profile(self, path: Path) -> Path:
        """The fleet profile ``opfleet tui``/``opfleet status`` read (TOML)."""
        write_fleet_profile(path, self.endpoints)
        return path

    def node_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.role in ("sequencer", "source", "proxy", "light", "supernode")]


async def _cancellable(run: Callable[..., Any], *, task_status: trio.TaskStatus[trio.CancelScope]
                      = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``run(task_status=...)`` in its own cancel scope, handed back once it started."""
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as inner:
            await inner.start(run)
            task_status.started(scope)


async def import_missing_blocks(remote: JsonRpcClient, local: JsonRpcClient, engine: EngineClient,
                                rollup: RollupConfig, *, max_depth: int = 64) -> int:
    """Import into ``engine`` (``engine_newPayload``, no forkchoice change) the blocks of
    ``remote``'s chain up to its head that ``local`` (the same EL's RPC) lacks; how many."""
    from opfleet.node.payloads import payload_from_block

    block = await remote.call("eth_getBlockByNumber", "latest", True)
    missing: list[Any] = []
    while block is not None and await local.call("eth_getBlockByHash", block["hash"], False) is None:
        if len(missing) >= max_depth:
            raise TemporaryError(f"no common block within {max_depth} blocks of {remote.endpoint}'s head")
        missing.append(block)
        block = await remote.call("eth_getBlockByHash", block["parentHash"], True)
    for block in reversed(missing):
        payload, beacon_root, _ = payload_from_block(block, rollup)
        status = await engine.new_payload(payload, parent_beacon_block_root=beacon_root)
        if status.status is not PayloadStatus.VALID:
            raise TemporaryError(f"L2 block {parse_quantity(block['number'])}: our EL answered {status.status.value}")
    if missing:
        log.info("Imported blocks from a peer EL", extra={"fields": {
            "from": parse_quantity(missing[-1]["number"]), "to": parse_quantity(missing[0]["number"])}})
    return len(missing)


def _check_supported(rollup: RollupConfig, interop: bool) -> None:
    """What ``opfleet source`` checks at start (every scheduled fork's upgrade bundle intact;
    Lagoon only as the devnet's own interop mode), before anything is built on the chain."""
    from opfleet.node.source import check_supported

    check_supported(rollup, devnet_interop=interop)


def _address_in_use(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_address_in_use(inner) for inner in exc.exceptions)
    return isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE


def _warm_up_kzg() -> None:
    """Load the KZG trusted setup (seconds) before serving, not on the first blob."""
    from opfleet.protocol.blob import BLOB_SIZE
    from opfleet.protocol.kzg import blob_to_commitment

    blob_to_commitment(bytes(BLOB_SIZE))


def _metrics_url(host: str, node: Any) -> str:
    """Where a started node serves its metrics (empty: it serves none)."""
    return f"http://{host}:{node.metrics_port}/metrics" if getattr(node, "metrics_port", None) else ""


def write_fleet_profile(path: Path, endpoints: Sequence[Endpoint]) -> None:
    import tomli_w

    nodes = [{"name": e.name, "url": e.url, "role": e.role, **({"chain": e.chain} if e.chain else {}),
              **({"follows": list(e.follows)} if e.follows else {}),
              **({"metrics_url": e.metrics_url} if e.metrics_url else {})}
             for e in endpoints if e.role in ("sequencer", "source", "proxy", "light", "supernode")]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps({"fleet": {"name": "devnet"}, "nodes": nodes}).encode())


def embedded_l1_chain_config(config: L1Config) -> L1ChainConfig:
    """The embedded L1's chain config: its fork (Cancun or Prague) and every earlier blob fork
    from genesis, with the blob parameters it mines with."""
    forks = BLOB_FORKS[: BLOB_FORKS.index(config.fork) + 1]
    return L1ChainConfig.at_genesis(config.chain_id, config.fork, {
        fork: BlobConfig(L1_FORKS[fork].target_blobs, L1_FORKS[fork].max_blobs, L1_FORKS[fork].update_fraction)
        for fork in forks})


def anvil_l1_chain_config(config: AnvilConfig) -> L1ChainConfig:
    """The chain config of the anvil the devnet starts: ``--hardfork`` and every earlier blob fork
    from genesis, with Ethereum's blob parameters (anvil's)."""
    fork = config.hardfork.lower()
    if fork not in DEFAULT_BLOB_CONFIGS:
        raise ConfigError(f"anvil --hardfork {config.hardfork}: no blob parameters known for it "
                          f"(known: {', '.join(DEFAULT_BLOB_CONFIGS)})")
    return L1ChainConfig.at_genesis(config.chain_id, fork)


async def discover_l1_chain_config(rpc: JsonRpcClient, chain_id: int, latest: dict[str, Any]) -> L1ChainConfig:
    """The chain config of an operator's L1 (``--l1 URL``) that has no built-in one: geth's
    ``debug_chainConfig`` when it answers one with a blob schedule, else the fork anvil reports
    (``anvil_nodeInfo``), else the latest header's: Prague with ``requestsHash``, else Cancun."""
    try:
        config = L1ChainConfig.from_json(await rpc.call("debug_chainConfig"), source="debug_chainConfig")
        if config.has_blob_schedule and config.chain_id == chain_id:
            return config
    except (RpcCallError, ConfigError) as exc:
        log.debug("L1 chain config not from debug_chainConfig: %s", exc)
    fork = None
    try:
        info = await rpc.call("anvil_nodeInfo")
        fork = str((info or {}).get("hardFork", "")).lower() or None
    except RpcCallError as exc:
        log.debug("L1 fork not from anvil_nodeInfo: %s", exc)
    if fork is None or fork not in DEFAULT_BLOB_CONFIGS:
        fork = "prague" if latest.get("requestsHash") else "cancun"
    log.info("L1 chain config assumed from the L1's current fork", extra={"fields": {"fork": fork}})
    return L1ChainConfig.at_genesis(chain_id, fork)


def write_l1_chain_config(path: Path, config: L1ChainConfig) -> Path:
    """Write ``config`` as geth chain config JSON (``--rollup.l1-chain-config FILE``)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    return path

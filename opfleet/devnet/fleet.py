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
    └── depositor: an L1 deposit now and then (portal), which must appear on L2

The execution engine is :class:`~opfleet.devnet.engine.DevEngine`: real blocks and hashes from
payload attributes, **not an EVM**. Real deployments point ``--l2`` at op-geth or op-reth.

``base_port`` 0 binds every service to an ephemeral port (tests); otherwise services take
consecutive ports from it, and a busy port or a second devnet on the same data directory is a
:class:`~opfleet.errors.ConfigError` (one line, exit status 3).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio

from opfleet.devnet.anvil import Anvil, AnvilConfig, send_transaction
from opfleet.devnet.batcher import BLOBS, CALLDATA, Batcher, BatcherConfig, ChannelConfig
from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.devnet.l1 import (
    DEFAULT_PORTAL_ADDRESS,
    DEFAULT_SYSTEM_CONFIG_ADDRESS,
    L1Chain,
    L1Config,
    L1Server,
    config_update_calldata,
    deposit_calldata,
)
from opfleet.devnet.rollup import DEFAULT_BATCH_INBOX, devnet_rollup_config
from opfleet.devnet.state import Account
from opfleet.errors import ConfigError, TemporaryError
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import ConfigUpdateType, SystemConfig, encode_scalar
from opfleet.protocol.transactions import DYNAMIC_FEE_TX_TYPE, Transaction, encode_transaction, sign_transaction
from opfleet.providers.ethjson import parse_data, parse_quantity
from opfleet.providers.jsonrpc import JsonRpcClient

log = logging.getLogger("opfleet.devnet")

JWT_SECRET = keccak256(b"opfleet devnet jwt")
BATCHER_KEY = keccak256(b"opfleet devnet batcher")
USER_KEY = keccak256(b"opfleet devnet user")
DEPOSITOR_KEY = keccak256(b"opfleet devnet depositor")
L2_CHAIN_ID = 901
L1_CHAIN_ID = 900
ALTERNATE = "alternate"
FUNDS = 10**24


def parse_nodes(spec: str) -> dict[str, int]:
    """``--nodes source=2,light=10`` -> ``{"source": 2, "light": 10}`` (missing roles keep their defaults)."""
    counts = {"source": 1, "light": 2}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        role, sep, value = part.partition("=")
        if not sep or role.strip() not in counts or not value.strip().isdigit():
            raise ConfigError(f"--nodes: expected role=count with role source or light, got {part!r}", key="nodes")
        counts[role.strip()] = int(value)
    if counts["source"] < 1:
        raise ConfigError("--nodes: a devnet needs at least one source node", key="nodes")
    return counts


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """What the devnet runs. Times are in seconds."""

    l1: str = "embedded"
    """``embedded``, ``anvil`` or the URL of an L1 the operator runs."""
    sources: int = 1
    lights: int = 2
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
    sequencer_l1_confs: int = 2
    forks: ForkTimes = field(default_factory=lambda: ForkTimes.up_to("isthmus"))
    anvil_binary: Path | None = None

    def __post_init__(self) -> None:
        if self.data_availability not in (BLOBS, CALLDATA, ALTERNATE):
            raise ConfigError(f"data availability must be {BLOBS}, {CALLDATA} or {ALTERNATE}")
        if self.l2_block_time < 1 or self.l1_block_time < 1:
            raise ConfigError("block times must be at least 1 second", key="block-time")


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    role: str
    """``l1``, ``sequencer``, ``source``, ``light``, ``engine``, ``supernode``."""
    url: str
    follows: tuple[str, ...] = ()
    chain: str = str(L2_CHAIN_ID)


@dataclass(frozen=True, slots=True)
class _L1Facts:
    """The parts of an L1 a rollup config needs (the shape :func:`devnet_rollup_config` reads)."""

    genesis: Any
    config: Any


@dataclass(frozen=True, slots=True)
class _Block:
    hash: bytes


@dataclass(frozen=True, slots=True)
class _L1Params:
    chain_id: int
    portal_address: bytes = DEFAULT_PORTAL_ADDRESS
    system_config_address: bytes = DEFAULT_SYSTEM_CONFIG_ADDRESS


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
        self.rollup: RollupConfig | None = None
        self.sequencer_engine: DevEngine | None = None
        self.sequencer: Any = None
        self.sources: list[Any] = []
        self.source_engines: list[DevEngine] = []
        self.lights: list[Any] = []
        self.light_engines: list[DevEngine] = []
        self.batcher: Batcher | None = None
        self.batcher_lock = trio.Lock()
        self.endpoints: list[Endpoint] = []
        self.deposits_sent = 0
        self.txs_sent = 0
        self._next_port = self.config.base_port
        self._nursery: trio.Nursery | None = None
        self._stack: AsyncExitStack | None = None
        self._light_scopes: list[trio.CancelScope] = []
        self._lock: DataDirLock | None = None

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
                port = args[-1] if args and isinstance(args[-1], int) else "?"
                raise ConfigError(f"{what}: port {port} is already in use "
                                  "(another devnet running? choose another --base-port)") from None
            raise

    async def _serve_engine(self, nursery: trio.Nursery, engine: DevEngine, name: str) -> None:
        await self._start(nursery, f"{name} engine API", engine.serve_auth, self.config.host, self._port())
        await self._start(nursery, f"{name} RPC", engine.serve_rpc, self.config.host, self._port())

    def _new_engine(self, genesis_time: int) -> DevEngine:
        user = private_key_to_address(USER_KEY)
        return DevEngine(chain_id=L2_CHAIN_ID, genesis_time=genesis_time, forks=self.config.forks,
                         alloc={user: Account(balance=FUNDS)}, jwt_secret=JWT_SECRET)

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
                self._nursery = nursery
                await trio.to_thread.run_sync(_warm_up_kzg)
                genesis = await self._start_l1(nursery)
                await self._prepare_sequencer_engine(nursery, genesis)
                await self._start_sources(nursery)
                await self._start_sequencer(nursery)
                await self._start_lights(nursery)
                await self._start_batcher(nursery)
                if cfg.tx_interval:
                    nursery.start_soon(self._generate_txs)
                if cfg.deposit_interval and (self.anvil is not None or self.l1_chain is not None):
                    nursery.start_soon(self._deposit_now_and_then)
                if cfg.data_dir is not None:
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
                                             safe_lag=2, finalized_lag=4))
            self.l1_server = L1Server(self.l1_chain)
            await self._start(nursery, "embedded L1", self.l1_server.serve, cfg.host, self._port())
            self.l1_url = self.l1_server.url or ""
            nursery.start_soon(self._mine_embedded)
            l1_genesis = BlockID(self.l1_chain.genesis.hash, 0)
        elif cfg.l1 == "anvil":
            self.anvil = Anvil(AnvilConfig(chain_id=L1_CHAIN_ID, block_time=cfg.l1_block_time, slots_in_an_epoch=2,
                                           genesis_time=now, host=cfg.host, port=self._port()),
                               binary=cfg.anvil_binary)
            await nursery.start(self.anvil.run)
            self.l1_url = self.anvil.url or ""
            for key in (BATCHER_KEY, DEPOSITOR_KEY):
                await self.anvil.fund(private_key_to_address(key), FUNDS)
            assert self.anvil.genesis is not None
            l1_genesis = self.anvil.genesis
        else:
            if not cfg.l1.startswith(("http://", "https://")):
                raise ConfigError(f"--l1: expected embedded, anvil or an http(s) URL, got {cfg.l1!r}", key="l1")
            self.l1_url = cfg.l1
            async with JsonRpcClient(cfg.l1, name="L1") as rpc:
                try:
                    self.l1_chain_id = parse_quantity(await rpc.call("eth_chainId"))
                    latest = await rpc.call("eth_getBlockByNumber", "latest", False)
                except TemporaryError as exc:
                    raise ConfigError(f"--l1 {cfg.l1}: {exc}", key="l1") from None
            l1_genesis = BlockID(parse_data(latest["hash"], 32), parse_quantity(latest["number"]))
            now = max(now, parse_quantity(latest["timestamp"]))
        self._l1_genesis = l1_genesis
        self.endpoints.append(Endpoint("l1", "l1", self.l1_url))
        return now

    async def _mine_embedded(self) -> None:
        """A block at genesis + k * block time, when the wall clock gets there (slots stay regular)."""
        chain = self.l1_chain
        assert chain is not None
        while True:
            due = chain.head.timestamp + chain.config.block_time
            await trio.sleep(max(0.0, due - time.time()))
            chain.mine(timestamp=due)

    async def _prepare_sequencer_engine(self, nursery: trio.Nursery, genesis_time: int) -> None:
        """The sequencer's EL, serving before anything else: its genesis block defines the rollup."""
        cfg = self.config
        engine = self.sequencer_engine = self._new_engine(genesis_time)
        await self._serve_engine(nursery, engine, "sequencer")
        batcher = private_key_to_address(BATCHER_KEY)
        system_config = SystemConfig(batcher_address=batcher, scalar=encode_scalar(0, 1000),
                                     gas_limit=engine.config.gas_limit)
        facts = _L1Facts(_Block(self._l1_genesis.hash), _L1Params(self.l1_chain_id))
        rollup = devnet_rollup_config(facts, engine, batcher=batcher,  # type: ignore[arg-type]
                                      batch_inbox=DEFAULT_BATCH_INBOX, block_time=cfg.l2_block_time,
                                      system_config=system_config)
        if self._l1_genesis.number:
            rollup = replace(rollup, genesis=replace(rollup.genesis, l1=self._l1_genesis))
        self.rollup = rollup

    def _light_config(self, engine: DevEngine, sources: tuple[str, ...], **fields: Any) -> Any:
        from opfleet.node.light import LightConfig

        cfg = self.config
        assert self.rollup is not None
        return LightConfig(rollup_config=self.rollup, sources=sources, l1_url=self.l1_url,
                           l2_url=engine.auth_url or "", jwt_secret=JWT_SECRET, poll_interval=cfg.node_poll,
                           push_wait=1.0, l1_poll_interval=cfg.l1_poll or cfg.node_poll, rpc_addr=cfg.host,
                           rpc_port=self._port(),
                           backoff_base=0.05, backoff_cap=1.0, **fields)

    async def _start_sequencer(self, nursery: trio.Nursery) -> None:
        """The light sequencer: a light node with its sequencer on, following the first source."""
        from opfleet.node.light import LightNode
        from opfleet.node.sequencer import SequencerConfig

        cfg = self.config
        assert self.sequencer_engine is not None
        source = self.endpoint("source-1").url
        config = self._light_config(self.sequencer_engine, (source,), sequencer_enabled=True,
                                    sequencer_config=SequencerConfig(l1_confs=cfg.sequencer_l1_confs,
                                                                     poll_interval=0.05,
                                                                     backoff_base=0.05, backoff_cap=1.0))
        node = self.sequencer = LightNode(config)
        await self._start(nursery, "sequencer", node.run)
        self.endpoints.insert(1, Endpoint("sequencer", "sequencer", f"http://{cfg.host}:{node.rpc_port}",
                                          follows=("source-1",)))
        self.endpoints.append(Endpoint("sequencer-el", "engine", self.sequencer_engine.rpc_url or ""))

    def stop_light(self, index: int) -> None:
        """Stop light node ``index`` (as a kill would: its EL keeps its blocks)."""
        self._light_scopes[index].cancel()

    async def restart_light(self, index: int) -> Any:
        """Start light node ``index`` again on the same EL and port; the new node."""
        from opfleet.node.light import LightNode

        assert self._nursery is not None
        old = self.lights[index]
        node = LightNode(replace(old.config, rpc_port=old.rpc_port))
        self._light_scopes[index] = await self._start(self._nursery, f"light-{index + 1}", _cancellable, node.run)
        self.lights[index] = node
        return node

    def endpoint(self, name: str) -> Endpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(name)

    async def _start_sources(self, nursery: trio.Nursery) -> None:
        from opfleet.node.source import SourceConfig, SourceNode

        cfg = self.config
        assert self.rollup is not None and self.sequencer_engine is not None
        for i in range(cfg.sources):
            name = f"source-{i + 1}"
            engine = self._new_engine(self.sequencer_engine.genesis.timestamp)
            await self._serve_engine(nursery, engine, name)
            rpc_port = self._port()
            node = SourceNode(SourceConfig(
                rollup_config=self.rollup, l1_url=self.l1_url, l2_url=engine.auth_url or "", jwt_secret=JWT_SECRET,
                l1_beacon_url=self.l1_url, l1_poll_interval=cfg.l1_poll or cfg.node_poll, rpc_addr=cfg.host,
                rpc_port=rpc_port,
                backoff_base=0.05, backoff_cap=1.0,
                safedb_path=(Path(cfg.data_dir) / f"{name}.safedb") if cfg.data_dir is not None else None))
            await self._start(nursery, name, node.run)
            self.sources.append(node)
            self.source_engines.append(engine)
            self.endpoints.append(Endpoint(name, "source", f"http://{cfg.host}:{node.rpc_port}"))
            self.endpoints.append(Endpoint(f"{name}-el", "engine", engine.rpc_url or ""))

    async def _start_lights(self, nursery: trio.Nursery) -> None:
        """Light nodes following the sources round robin; blocks pulled from the sequencer's EL."""
        from opfleet.node.light import LightNode

        assert self.sequencer_engine is not None
        for i in range(self.config.lights):
            name = f"light-{i + 1}"
            source = f"source-{i % self.config.sources + 1}"
            engine = self._new_engine(self.sequencer_engine.genesis.timestamp)
            await self._serve_engine(nursery, engine, name)
            node = LightNode(self._light_config(engine, (self.endpoint(source).url,),
                                                payloads_url=self.sequencer_engine.rpc_url))
            scope = await self._start(nursery, name, _cancellable, node.run)
            self.lights.append(node)
            self.light_engines.append(engine)
            self._light_scopes.append(scope)
            self.endpoints.append(Endpoint(name, "light", f"http://{self.config.host}:{node.rpc_port}",
                                           follows=(source,)))
            self.endpoints.append(Endpoint(f"{name}-el", "engine", engine.rpc_url or ""))

    def _channel_config(self) -> ChannelConfig:
        assert self.rollup is not None
        return ChannelConfig(genesis_time=self.rollup.genesis.l2_time, block_time=self.rollup.block_time,
                             chain_id=self.rollup.l2_chain_id)

    async def _start_batcher(self, nursery: trio.Nursery) -> None:
        cfg = self.config
        assert self.sequencer_engine is not None
        da = BLOBS if cfg.data_availability in (BLOBS, ALTERNATE) else CALLDATA
        config = BatcherConfig(channel=self._channel_config(), batch_inbox=DEFAULT_BATCH_INBOX,
                               l1_chain_id=self.l1_chain_id, batcher_key=BATCHER_KEY, data_availability=da,
                               max_channel_duration=cfg.max_channel_duration, poll_interval=cfg.batcher_poll,
                               start_block=1)
        assert self._stack is not None
        l1 = await self._stack.enter_async_context(JsonRpcClient(self.l1_url, name="batcher-L1"))
        l2 = await self._stack.enter_async_context(JsonRpcClient(self.sequencer_engine.rpc_url or "",
                                                                 name="batcher-L2"))
        self.batcher = Batcher(config, l1, l2)
        nursery.start_soon(self._run_batcher)

    async def _run_batcher(self) -> None:
        batcher = self.batcher
        assert batcher is not None
        while True:
            try:
                async with self.batcher_lock:
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
        return encode_transaction(sign_transaction(Transaction(
            type=DYNAMIC_FEE_TX_TYPE, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10,
            max_priority_fee_per_gas=10**6, gas=21_000, to=b"\x12" * 20, value=1), USER_KEY))

    async def _generate_txs(self) -> None:
        assert self.sequencer_engine is not None
        async with JsonRpcClient(self.sequencer_engine.rpc_url or "", name="txgen") as rpc:
            while True:
                try:
                    await rpc.call("eth_sendRawTransaction", "0x" + self._user_tx(self.txs_sent).hex())
                    self.txs_sent += 1
                except Exception as exc:  # noqa: BLE001 - a devnet traffic source: log and go on
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
        assert self.rollup is not None
        receipt = await self.send_l1(DEPOSITOR_KEY, to=self.rollup.deposit_contract_address,
                                     data=deposit_calldata(to, value, gas_limit, data), value=mint)
        self.deposits_sent += 1
        return receipt

    async def _deposit_now_and_then(self) -> None:
        while True:
            await trio.sleep(self.config.deposit_interval)
            try:
                await self.deposit(b"\x34" * 20)
            except Exception as exc:  # noqa: BLE001 - traffic: log and go on
                log.debug("depositor: %s", exc)

    async def rotate_batcher(self, new_key: bytes) -> dict[str, Any]:
        """SystemConfig ``setBatcherHash`` to ``new_key``'s address, then batch with that key.

        The batcher is paused meanwhile, and its earlier transactions are mined first: a batch
        signed by the old key in or after the update's L1 block would be ignored by derivation.
        """
        assert self.batcher is not None and self.rollup is not None
        async with self.batcher_lock:
            async with JsonRpcClient(self.l1_url, name="rotate") as rpc:
                with trio.fail_after(30):
                    for tx_hash in self.batcher.statistics().sent:
                        while await rpc.call("eth_getTransactionReceipt", "0x" + tx_hash.hex()) is None:
                            await trio.sleep(0.05)
            address = private_key_to_address(new_key)
            if self.anvil is not None:
                await self.anvil.fund(address, FUNDS)
            receipt = await self.send_l1(BATCHER_KEY, to=self.rollup.l1_system_config_address,
                                         data=config_update_calldata(ConfigUpdateType.BATCHER, bytes(12) + address))
            self.batcher.config = replace(self.batcher.config, batcher_key=new_key)
        log.info("Batcher key rotated", extra={"fields": {"batcher": "0x" + address.hex()}})
        return receipt

    # --- views ---------------------------------------------------------------------------------------

    def write_profile(self, path: Path) -> Path:
        """The fleet profile ``opfleet tui``/``opfleet status`` read (TOML)."""
        write_fleet_profile(path, self.endpoints)
        return path

    def node_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.role in ("sequencer", "source", "light", "supernode")]


async def _cancellable(run: Callable[..., Any], *, task_status: trio.TaskStatus[trio.CancelScope]
                      = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``run(task_status=...)`` in its own cancel scope, handed back once it started."""
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as inner:
            await inner.start(run)
            task_status.started(scope)


def _address_in_use(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_address_in_use(inner) for inner in exc.exceptions)
    return isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE


def _warm_up_kzg() -> None:
    """Load the KZG trusted setup (seconds) before serving, not on the first blob."""
    from opfleet.protocol.blob import BLOB_SIZE
    from opfleet.protocol.kzg import blob_to_commitment

    blob_to_commitment(bytes(BLOB_SIZE))


def write_fleet_profile(path: Path, endpoints: Sequence[Endpoint]) -> None:
    import tomli_w

    nodes = [{"name": e.name, "url": e.url, "role": e.role, "chain": e.chain,
              **({"follows": list(e.follows)} if e.follows else {})}
             for e in endpoints if e.role in ("sequencer", "source", "light", "supernode")]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps({"fleet": {"name": "devnet"}, "nodes": nodes}).encode())

"""op-geth as the devnet's L2 execution engine: find the binary, write the L2 genesis, run one
op-geth per node on loopback and read its genesis block back.

What this follows was measured on op-geth ``v1.101411.1-rc.2`` (the reference binary the tests
install with ``../shared/refnodes/install.sh``):

- the genesis (:func:`genesis_json`) is post-merge from block 0 (every pre-merge fork at block 0,
  ``mergeNetsplitBlock`` 0, ``terminalTotalDifficulty`` 0 and ``terminalTotalDifficultyPassed``),
  with Shanghai at Canyon, Cancun at Ecotone, the OP forks as ``*Time`` fields (``bedrockBlock``
  0; Delta has no field) and ``config.optimism`` with the EIP-1559 parameters;
- ``geth init --state.scheme=hash`` then ``--gcmode archive`` (state at every block, which
  ``optimism_outputAtBlock`` reads through ``eth_getProof``);
- p2p stays on loopback and silent: ``--nat none --nodiscover --maxpeers 0`` and a config file
  with ``[Node.P2P] ListenAddr = "127.0.0.1:0"``;
- ``--http.port 0`` and ``--authrpc.port 0`` bind ephemeral ports, which op-geth logs as
  ``HTTP server started endpoint=HOST:PORT auth=false|true``;
- the genesis hash depends on every genesis field: :attr:`OpGeth.genesis_id` is read back with
  ``eth_getBlockByNumber(0)`` and goes into the rollup config.

Where the binary comes from, first match wins: an explicit path (``--engine op-geth=PATH``);
``$OPFLEET_OP_GETH``; ``op-geth`` on ``PATH``; ``geth`` on ``PATH`` if it is op-geth (its
``version`` names an upstream version); ``$XDG_CACHE_HOME/opfleet/refnodes/bin/geth``.

Which OP forks a binary runs is decided by its version (:func:`newest_fork`): op-geth releases
carry ``--override.<fork>`` flags for forks whose rules were not final yet (this one knows
``holocene`` as a release candidate and even ``interop``), so the flags cannot say it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from opfleet.devnet.engine import FORK_NAMES, MESSAGE_PASSER_CODE, ForkTimes
from opfleet.devnet.process import (
    find_reference_binary,
    first_answer,
    is_executable,
    last_lines,
    start_process,
    stop_process,
)
from opfleet.errors import ConfigError, CriticalError
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.hexjson import parse_data, parse_quantity
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from opfleet.providers.jsonrpc import JsonRpcClient

log = logging.getLogger("opfleet.devnet")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
GWEI = 10**9
INSTALL_HINT = ("install the reference binaries with `../shared/refnodes/install.sh` (they land in "
                "~/.cache/opfleet/refnodes/bin), put op-geth on PATH, or name it: --engine op-geth=PATH")

RELEASES: tuple[tuple[tuple[int, int, int], str], ...] = (
    ((1, 101408, 0), "granite"),
    ((1, 101411, 4), "holocene"),
)
"""op-geth versions from which a fork's final rules are in (newest last). Release candidates of a
version count as the version before it. A newer op-geth than the last entry is taken to run that
entry's fork (and no later one) until this table knows better."""

GETH_FORK_FIELDS = {
    "regolith": "regolithTime", "canyon": "canyonTime", "ecotone": "ecotoneTime", "fjord": "fjordTime",
    "granite": "graniteTime", "holocene": "holoceneTime", "isthmus": "isthmusTime", "jovian": "jovianTime",
}
"""The genesis ``config`` field of each OP fork (Delta has none: an L2 batch-format fork only)."""


# --- the binary ------------------------------------------------------------------------------------

def op_geth_version(binary: str | Path) -> str | None:
    """The ``Version:`` that ``binary version`` prints if it is op-geth (``1.101411.1-rc.2``),
    else None (not runnable, or an upstream geth: no ``Upstream Version`` line)."""
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    version = None
    upstream = False
    for line in out.splitlines():
        if line.startswith("Version:"):
            version = line.split(":", 1)[1].strip()
        elif line.startswith("Upstream Version:"):
            upstream = True
    return version if upstream else None


def find_op_geth(explicit: str | Path | None = None) -> Path:
    """The op-geth binary to run (see the module docstring for the order); ConfigError if none."""
    if explicit:
        path = Path(explicit).expanduser()
        if not is_executable(path):
            raise ConfigError(f"--engine op-geth={explicit}: no executable there", key="engine")
        return path
    found = find_reference_binary(env="OPFLEET_OP_GETH", cached="geth", on_path={
        "op-geth": None, "geth": lambda geth: op_geth_version(geth) is not None})
    if found is None:
        raise ConfigError(f"op-geth not found: {INSTALL_HINT}", key="engine")
    return found


def parse_version(text: str) -> tuple[tuple[int, int, int], bool]:
    """``1.101411.1-rc.2`` -> ``((1, 101411, 1), True)`` (the flag: a release candidate)."""
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)(\S*)", text.strip())
    if match is None:
        raise ValueError(f"not an op-geth version: {text!r}")
    numbers = (int(match[1]), int(match[2]), int(match[3]))
    return numbers, "rc" in match[4].lower()


def newest_fork(version: str) -> str | None:
    """The newest OP fork an op-geth of ``version`` runs with final rules (see :data:`RELEASES`);
    None if it predates them all."""
    numbers, candidate = parse_version(version)
    newest = None
    for since, fork in RELEASES:
        if numbers > since or (numbers == since and not candidate):
            newest = fork
    return newest


def check_forks(forks: ForkTimes, newest: str | None, *, binary: str = "op-geth") -> None:
    """ConfigError (one line) if ``forks`` schedules a fork after ``newest``."""
    last = FORK_NAMES.index(newest) if newest in FORK_NAMES else -1
    through = (newest or "bedrock").capitalize()
    for i, name in enumerate(FORK_NAMES):
        when = getattr(forks, name)
        if when is not None and i > last:
            raise ConfigError(f"{binary} runs the OP forks through {through} only: it cannot run "
                              f"{name.capitalize()} (schedule no fork after {through} with this engine)", key="fork")


def schedule_through(forks: ForkTimes, newest: str) -> ForkTimes:
    """``forks`` without the forks after ``newest`` (the default schedule cut to what a binary runs)."""
    last = FORK_NAMES.index(newest)
    return ForkTimes(**{name: (getattr(forks, name) if i <= last else None) for i, name in enumerate(FORK_NAMES)})


# --- the genesis ---------------------------------------------------------------------------------

def genesis_json(*, chain_id: int, timestamp: int, forks: ForkTimes, alloc: Mapping[bytes, int],
                 gas_limit: int = 30_000_000, base_fee: int = GWEI, eip1559_elasticity: int = 6,
                 eip1559_denominator: int = 50, eip1559_denominator_canyon: int = 250,
                 codes: Mapping[bytes, bytes] | None = None) -> dict[str, Any]:
    """The ``geth init`` genesis of an OP Stack L2 (see the module docstring): ``alloc`` maps
    addresses to balances (wei), ``codes`` places contract code. Fork times are absolute; a fork
    at or before ``timestamp`` is active from genesis."""
    config: dict[str, Any] = {"chainId": chain_id}
    for name in ("homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
                 "constantinopleBlock", "petersburgBlock", "istanbulBlock", "muirGlacierBlock", "berlinBlock",
                 "londonBlock", "arrowGlacierBlock", "grayGlacierBlock", "mergeNetsplitBlock", "bedrockBlock"):
        config[name] = 0

    when = forks.activation
    canyon, ecotone = when("canyon"), when("ecotone")
    if canyon is not None:
        config["shanghaiTime"] = canyon
    if ecotone is not None:
        config["cancunTime"] = ecotone
    for fork, key in GETH_FORK_FIELDS.items():
        t = when(fork)
        if t is not None:
            config[key] = t
    config["terminalTotalDifficulty"] = 0
    config["terminalTotalDifficultyPassed"] = True
    config["optimism"] = {"eip1559Elasticity": eip1559_elasticity, "eip1559Denominator": eip1559_denominator,
                          "eip1559DenominatorCanyon": eip1559_denominator_canyon}
    accounts: dict[str, dict[str, str]] = {}
    for address, balance in alloc.items():
        accounts["0x" + address.hex()] = {"balance": hex(balance)}
    for address, code in (codes or {}).items():
        accounts.setdefault("0x" + address.hex(), {"balance": "0x0"})["code"] = "0x" + code.hex()
    return {"config": config, "nonce": "0x0", "timestamp": hex(timestamp), "extraData": "0x",
            "gasLimit": hex(gas_limit), "difficulty": "0x0", "mixHash": "0x" + "00" * 32,
            "coinbase": "0x" + "00" * 20, "baseFeePerGas": hex(base_fee), "alloc": accounts}


def p2p_config() -> str:
    """op-geth's ``--config`` file: p2p on loopback only."""
    return '[Node.P2P]\nListenAddr = "127.0.0.1:0"\n'


# --- a running op-geth -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpGethConfig:
    """One op-geth node of a devnet chain (every node of a chain gets the same genesis)."""

    chain_id: int
    genesis_time: int
    forks: ForkTimes
    jwt_secret: bytes
    alloc: Mapping[bytes, int] = field(default_factory=dict)
    gas_limit: int = 30_000_000
    genesis_base_fee: int = GWEI
    host: str = "127.0.0.1"
    http_port: int = 0
    auth_port: int = 0
    name: str = "op-geth"
    data_dir: Path | None = None
    """This node's directory (made if missing); None: a temporary one, removed at stop."""

    def genesis(self) -> dict[str, Any]:
        return genesis_json(chain_id=self.chain_id, timestamp=self.genesis_time, forks=self.forks,
                            alloc=self.alloc, gas_limit=self.gas_limit, base_fee=self.genesis_base_fee,
                            codes={L2_TO_L1_MESSAGE_PASSER_ADDRESS: MESSAGE_PASSER_CODE})  # as the dev engine


@dataclass(frozen=True, slots=True)
class GenesisBlock:
    hash: bytes
    number: int
    timestamp: int


class OpGeth:
    """A running op-geth: ``await nursery.start(node.run)`` gives it back once its HTTP RPC answers
    and its genesis block is read; cancelling stops it (SIGTERM, then SIGKILL). Its log is
    ``DATA_DIR/geth.log``. An :class:`~opfleet.devnet.engine.ExecutionEngine`, as the dev engine."""

    def __init__(self, config: OpGethConfig, *, binary: Path | None = None):
        self.config = config
        self.binary = binary
        self.rpc_url: str | None = None
        self.auth_url: str | None = None
        self.pid: int | None = None
        self.genesis: GenesisBlock | None = None
        self.log_path: Path | None = None
        self._endpoints: dict[str, str] = {}
        self._seen_endpoints = trio.Event()
        self._lines: list[str] = []

    @property
    def genesis_id(self) -> BlockID:
        assert self.genesis is not None, "op-geth not started"
        return BlockID(self.genesis.hash, 0)

    async def run(self, *, task_status: trio.TaskStatus[OpGeth] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        binary = self.binary
        if binary is None:
            binary = await trio.to_thread.run_sync(find_op_geth)
        temporary = cfg.data_dir is None
        directory = Path(tempfile.mkdtemp(prefix="opfleet-op-geth-")) if temporary else Path(cfg.data_dir or "")
        try:
            await trio.to_thread.run_sync(self._init, binary, directory)
            await self._serve(binary, directory, task_status)
        finally:
            if temporary:
                await trio.to_thread.run_sync(lambda: shutil.rmtree(directory, ignore_errors=True))

    def _init(self, binary: Path, directory: Path) -> None:
        """Write the genesis, JWT and config files; ``geth init`` unless the chain is there."""
        directory.mkdir(parents=True, exist_ok=True)
        genesis = directory / "genesis.json"
        genesis.write_text(json.dumps(self.config.genesis(), indent=1) + "\n")
        (directory / "jwt.hex").write_text(self.config.jwt_secret.hex())
        (directory / "geth.toml").write_text(p2p_config())
        if (directory / "geth" / "chaindata").is_dir():
            return
        done = subprocess.run([str(binary), "init", "--datadir", str(directory), "--state.scheme=hash", str(genesis)],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            tail = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()][-1:] or ["no output"]
            raise ConfigError(f"{self.config.name}: `geth init` failed (exit {done.returncode}): {tail[0]}")

    def args(self, directory: Path) -> list[str]:
        cfg = self.config
        return ["--config", str(directory / "geth.toml"), "--datadir", str(directory),
                "--networkid", str(cfg.chain_id), "--syncmode", "full", "--gcmode", "archive",
                "--http", "--http.addr", cfg.host, "--http.port", str(cfg.http_port),
                "--http.api", "eth,net,web3,debug,txpool", "--http.vhosts", "*",
                "--authrpc.addr", cfg.host, "--authrpc.port", str(cfg.auth_port),
                "--authrpc.jwtsecret", str(directory / "jwt.hex"), "--authrpc.vhosts", "*",
                "--nat", "none", "--nodiscover", "--maxpeers", "0", "--port", "0", "--ipcdisable",
                "--rollup.disabletxpoolgossip", "--txpool.nolocals", "--verbosity", "3"]

    async def _serve(self, binary: Path, directory: Path, task_status: trio.TaskStatus[OpGeth]) -> None:
        cmd = [str(binary), *self.args(directory)]
        self.log_path = directory / "geth.log"
        process = await start_process(cmd, what="op-geth", hint=INSTALL_HINT, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
        self.pid = process.pid
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_output, process, self.log_path)
                with trio.move_on_after(START_TIMEOUT):
                    await self._seen_endpoints.wait()
                if not self._seen_endpoints.is_set():
                    tail = last_lines(self._lines) or "no output"
                    raise ConfigError(f"{self.config.name}: op-geth did not start: {tail}")
                self.rpc_url = f"http://{self._endpoints['http']}"
                self.auth_url = f"http://{self._endpoints['auth']}"
                await self._read_genesis()
                log.info("op-geth started", extra={"fields": {"name": self.config.name, "rpc": self.rpc_url,
                                                               "engine": self.auth_url, "pid": process.pid}})
                task_status.started(self)
                code = await process.wait()
                tail = last_lines(self._lines)
                raise CriticalError(f"{self.config.name}: op-geth (pid {process.pid}) exited with status {code}"
                                    + (f": {tail}" if tail else ""))
        finally:
            await stop_process(process, STOP_TIMEOUT)

    async def _read_output(self, process: trio.Process, path: Path) -> None:
        """Copy op-geth's output to its log file; note the HTTP endpoints when they are up."""
        assert process.stdout is not None
        buffer = b""
        with path.open("ab") as out:
            while True:
                chunk = await process.stdout.receive_some(65536)
                if not chunk:
                    return
                out.write(chunk)
                out.flush()
                if self._seen_endpoints.is_set():
                    continue
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    line = raw.decode(errors="replace")
                    self._lines = [*self._lines[-20:], line]
                    match = re.search(r"HTTP server started\s+endpoint=(\S+)\s+auth=(true|false)", line)
                    if match:
                        self._endpoints["auth" if match[2] == "true" else "http"] = match[1]
                if "http" in self._endpoints and "auth" in self._endpoints:
                    self._seen_endpoints.set()

    async def _read_genesis(self) -> None:
        assert self.rpc_url is not None
        async with JsonRpcClient(self.rpc_url, name=f"{self.config.name}-rpc") as rpc:
            with trio.fail_after(START_TIMEOUT):
                _, block = await first_answer(rpc, "eth_getBlockByNumber", "0x0", False, interval=0.05)
        self.genesis = GenesisBlock(parse_data(block["hash"], 32), 0, parse_quantity(block["timestamp"]))

"""Foundry's anvil as the devnet's L1: find or install it (npm, pinned), run it on loopback,
place the mock portal and SystemConfig (:mod:`opfleet.devnet.contracts`).

Facts this follows are in ``../shared/ref/anvil.md``: the install (section 1), start flags
(section 2: ``--slots-in-an-epoch S`` puts ``safe`` S and ``finalized`` 2S blocks behind the head),
``anvil_setCode`` (section 6) and the beacon route on the same port (section 4: ``blobs/{id}``
takes an execution block number or hash and there is no ``/eth/v1/config/spec``, which
:class:`~opfleet.providers.beacon.BeaconClient` handles by addressing blobs by L1 block hash).

Where the binary comes from, first match wins: ``$OPFLEET_ANVIL``; the cache
(``$XDG_CACHE_HOME/opfleet/anvil``, i.e. ``~/.cache/opfleet/anvil``, filled by
:func:`install_anvil`); ``anvil`` on ``PATH`` if it is version :data:`ANVIL_VERSION`.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from opfleet.devnet.contracts import portal_code, system_config_code
from opfleet.devnet.l1 import DEFAULT_PORTAL_ADDRESS, DEFAULT_SYSTEM_CONFIG_ADDRESS
from opfleet.devnet.process import first_answer, is_executable, last_lines, start_process, stop_process
from opfleet.errors import ConfigError, CriticalError
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.crypto import private_key_to_address
from opfleet.protocol.hexjson import parse_data, parse_quantity
from opfleet.protocol.transactions import DYNAMIC_FEE_TX_TYPE, Transaction, encode_transaction, sign_transaction
from opfleet.providers.jsonrpc import JsonRpcClient

log = logging.getLogger("opfleet.devnet")

ANVIL_VERSION = "1.7.1"
ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64"
INSTALL_HINT = (f"install it with `npm install --no-save --prefix ~/.cache/opfleet/anvil {ANVIL_PACKAGE}@{ANVIL_VERSION}` "
                f"(or `opfleet devnet --l1 anvil` does it when npm is installed), or set OPFLEET_ANVIL to an anvil "
                f"{ANVIL_VERSION} binary")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 2.0


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opfleet" / "anvil"


def _cached_binary(cache_dir: Path) -> Path:
    return cache_dir / "node_modules" / ANVIL_PACKAGE / "bin" / "anvil"


def anvil_version(binary: str | Path) -> str | None:
    """The version ``binary --version`` reports (``1.7.1``), or None if it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("anvil Version:"):
            return line.split(":", 1)[1].strip()
    return None


def find_anvil(cache_dir: Path | None = None) -> Path | None:
    """An anvil binary to run, or None (see the module docstring for the order)."""
    env = os.environ.get("OPFLEET_ANVIL")
    if env:
        return Path(env)
    cached = _cached_binary(cache_dir or default_cache_dir())
    if is_executable(cached):
        return cached
    on_path = shutil.which("anvil")
    if on_path and anvil_version(on_path) == ANVIL_VERSION:
        return Path(on_path)
    return None


def install_anvil(cache_dir: Path | None = None) -> Path:
    """``npm install`` the pinned platform package into ``cache_dir``; the binary's path.

    Nothing runs at install time (the platform package has no scripts). Raises
    :class:`ConfigError` when npm is missing or the install fails.
    """
    cache_dir = cache_dir or default_cache_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError("anvil is not installed and npm is missing: install Node.js and npm "
                          f"(e.g. `apt-get install -y npm`), or {INSTALL_HINT}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("Installing anvil", extra={"fields": {"package": f"{ANVIL_PACKAGE}@{ANVIL_VERSION}", "dir": str(cache_dir)}})
    try:
        done = subprocess.run([npm, "install", "--no-save", "--no-fund", "--no-audit", "--prefix", str(cache_dir),
                               f"{ANVIL_PACKAGE}@{ANVIL_VERSION}"], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"npm install of anvil failed: {exc}") from None
    binary = _cached_binary(cache_dir)
    if done.returncode != 0 or not binary.is_file():
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"npm install of anvil failed (exit {done.returncode}): {detail[0]}")
    return binary


def ensure_anvil(*, install: bool = True, cache_dir: Path | None = None) -> Path:
    """:func:`find_anvil`, else (with ``install``) :func:`install_anvil`; ConfigError if neither."""
    found = find_anvil(cache_dir)
    if found is not None:
        return found
    if not install:
        raise ConfigError(f"anvil {ANVIL_VERSION} not found: {INSTALL_HINT}")
    return install_anvil(cache_dir)


@dataclass(frozen=True, slots=True)
class AnvilConfig:
    """How to start anvil. ``block_time`` 0 means no interval mining (mine with ``anvil_mine``);
    ``genesis_time`` None lets anvil use the wall clock."""

    chain_id: int = 900
    block_time: int = 1
    slots_in_an_epoch: int = 2
    genesis_time: int | None = None
    hardfork: str = "prague"
    host: str = "127.0.0.1"
    port: int = 0
    portal_address: bytes = DEFAULT_PORTAL_ADDRESS
    system_config_address: bytes = DEFAULT_SYSTEM_CONFIG_ADDRESS

    def args(self) -> list[str]:
        args = ["--host", self.host, "--port", str(self.port), "--chain-id", str(self.chain_id),
                "--hardfork", self.hardfork, "--slots-in-an-epoch", str(self.slots_in_an_epoch)]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        else:
            args.append("--no-mining")
        if self.genesis_time is not None:
            args += ["--timestamp", str(self.genesis_time)]
        return args


class Anvil:
    """A running anvil: ``await nursery.start(anvil.run)`` gives it back once it answers JSON-RPC
    and the mock contracts are placed; cancelling stops the process (terminate, then kill)."""

    def __init__(self, config: AnvilConfig | None = None, *, binary: Path | None = None, install: bool = True):
        self.config = config or AnvilConfig()
        self._binary, self._install = binary, install
        self.url: str | None = None
        self.port: int | None = None
        self.pid: int | None = None
        self.genesis: BlockID | None = None
        self.genesis_time: int | None = None

    @property
    def chain_id(self) -> int:
        return self.config.chain_id

    async def run(self, *, task_status: trio.TaskStatus[Anvil] = trio.TASK_STATUS_IGNORED) -> None:
        binary = self._binary or await trio.to_thread.run_sync(lambda: ensure_anvil(install=self._install))
        cmd = [str(binary), *self.config.args()]
        process = await start_process(cmd, what="anvil", hint=INSTALL_HINT, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
        self.pid = process.pid
        try:
            lines: list[str] = []
            with trio.move_on_after(START_TIMEOUT):
                self.port = await _listening_port(process, lines)
            if self.port is None:
                tail = last_lines(lines) or "no output"
                raise ConfigError(f"anvil did not start on {self.config.host}:{self.config.port}: {tail}")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_drain, process)
                self.url = f"http://{self.config.host}:{self.port}"
                await self._prepare()
                log.info("anvil started", extra={"fields": {"url": self.url, "pid": process.pid}})
                task_status.started(self)
                code = await process.wait()
                raise CriticalError(f"anvil (pid {process.pid}) exited with status {code}")
        finally:
            await stop_process(process, STOP_TIMEOUT)

    async def _prepare(self) -> None:
        assert self.url is not None
        async with JsonRpcClient(self.url, name="anvil") as rpc:
            with trio.fail_after(START_TIMEOUT):
                await first_answer(rpc, "eth_chainId", interval=0.02)
            await rpc.call("anvil_setCode", "0x" + self.config.portal_address.hex(), "0x" + portal_code().hex())
            await rpc.call("anvil_setCode", "0x" + self.config.system_config_address.hex(),
                           "0x" + system_config_code().hex())
            block = await rpc.call("eth_getBlockByNumber", "0x0", False)
            self.genesis = BlockID(parse_data(block["hash"], 32), 0)
            self.genesis_time = parse_quantity(block["timestamp"])

    async def fund(self, address: bytes, wei: int) -> None:
        """``anvil_setBalance``: give ``address`` this balance (for devnet keys)."""
        async with JsonRpcClient(self.url or "", name="anvil") as rpc:
            await rpc.call("anvil_setBalance", "0x" + address.hex(), hex(wei))

    async def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call to this anvil."""
        async with JsonRpcClient(self.url or "", name="anvil") as rpc:
            return await rpc.call(method, *params)

    async def send(self, key: bytes, *, to: bytes, data: bytes = b"", value: int = 0, wait: bool = True
                   ) -> dict[str, Any] | bytes:
        """Sign (our own signer, EIP-1559) and send a transaction from ``key``; its receipt once
        mined (``wait``), else its hash. The sender must be funded (:meth:`fund`)."""
        return await send_transaction(self.url or "", self.chain_id, key, to=to, data=data, value=value, wait=wait)


async def send_transaction(url: str, chain_id: int, key: bytes, *, to: bytes, data: bytes = b"", value: int = 0,
                           wait: bool = True, timeout: float = 30.0) -> dict[str, Any] | bytes:
    """Sign and send an EIP-1559 transaction to the L1 at ``url`` (nonce, fees and gas asked
    from the node); the receipt once mined (``wait``), else the transaction hash."""
    sender = private_key_to_address(key)
    async with JsonRpcClient(url, name="L1") as rpc:
        nonce = parse_quantity(await rpc.call("eth_getTransactionCount", "0x" + sender.hex(), "pending"))
        latest = await rpc.call("eth_getBlockByNumber", "latest", False)
        base_fee = parse_quantity(latest.get("baseFeePerGas", "0x0"))
        call = {"from": "0x" + sender.hex(), "to": "0x" + to.hex(), "data": "0x" + data.hex(), "value": hex(value)}
        gas = parse_quantity(await rpc.call("eth_estimateGas", call))
        tx = Transaction(type=DYNAMIC_FEE_TX_TYPE, chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=10**9,
                         max_fee_per_gas=2 * base_fee + 10**9, gas=gas + gas // 4, to=to, value=value, data=data)
        raw = encode_transaction(sign_transaction(tx, key))
        tx_hash = await rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
        if not wait:
            return parse_data(tx_hash, 32)
        with trio.fail_after(timeout):
            while True:
                receipt = await rpc.call("eth_getTransactionReceipt", tx_hash)
                if receipt is not None:
                    return receipt
                await trio.sleep(0.05)


async def _listening_port(process: trio.Process, lines: list[str]) -> int | None:
    """Read anvil's output until ``Listening on host:port``; the port (None if it exited)."""
    assert process.stdout is not None
    buffer = b""
    while True:
        chunk = await process.stdout.receive_some(4096)
        if not chunk:
            return None
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            line = raw.decode(errors="replace").strip()
            lines.append(line)
            if line.startswith("Listening on "):
                return int(line.rsplit(":", 1)[1])


async def _drain(process: trio.Process) -> None:
    """Keep reading anvil's output so its pipe never fills up."""
    assert process.stdout is not None
    while await process.stdout.receive_some(65536):
        pass

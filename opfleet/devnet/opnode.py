"""A real op-node as a reference deriver next to opfleet's nodes: find the binary, write the
``rollup.json`` it accepts, run it on loopback against the devnet's L1 and an op-geth of its own.

Measured on op-node ``untagged-d317e96c`` (the reference binary ``../shared/refnodes/install.sh``
unpacks):

- it decodes ``rollup.json`` with unknown fields disallowed, so :func:`op_node_rollup_json` keeps
  only the keys that release knows (:data:`ROLLUP_KEYS`, :data:`SYSTEM_CONFIG_KEYS`);
- before deriving it reads its runtime config from L1: the SystemConfig's unsafe-block signer
  slot through ``eth_getProof``, checked against the block's state root (the embedded L1 serves
  that; see :func:`opfleet.devnet.l1.system_config_account`);
- blobs come from the beacon API (``/eth/v1/beacon/genesis``, ``/eth/v1/config/spec``,
  ``/eth/v1/beacon/blob_sidecars/{slot}``); receipts per ``--l1.rpckind``;
- without a websocket L1 it polls heads every ``--l1.http-poll-interval``;
- ``--rpc.port 0`` is not reported back, so :func:`free_port` picks one first.

Where the binary comes from, first match wins: an explicit path; ``$OPFLEET_OP_NODE``;
``op-node`` on ``PATH``; ``$XDG_CACHE_HOME/opfleet/refnodes/bin/op-node``.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from opfleet.devnet.process import find_reference_binary, first_answer, last_lines, start_process, stop_process
from opfleet.errors import ConfigError, CriticalError
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.providers.jsonrpc import JsonRpcClient

log = logging.getLogger("opfleet.devnet")

START_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0
INSTALL_HINT = ("install the reference binaries with `../shared/refnodes/install.sh` (they land in "
                "~/.cache/opfleet/refnodes/bin), or put op-node on PATH")

ROLLUP_KEYS = (
    "genesis", "block_time", "max_sequencer_drift", "seq_window_size", "channel_timeout", "l1_chain_id",
    "l2_chain_id", "regolith_time", "canyon_time", "delta_time", "ecotone_time", "fjord_time", "granite_time",
    "holocene_time", "batch_inbox_address", "deposit_contract_address", "l1_system_config_address",
    "protocol_versions_address",
)
"""``rollup.json`` keys the reference op-node knows (newer ones make it refuse the file)."""
SYSTEM_CONFIG_KEYS = ("batcherAddr", "overhead", "scalar", "gasLimit")


def find_op_node(explicit: str | Path | None = None) -> Path:
    """The op-node binary to run (see the module docstring); ConfigError if none."""
    if explicit:
        return Path(explicit)
    found = find_reference_binary(env="OPFLEET_OP_NODE", on_path={"op-node": None}, cached="op-node")
    if found is None:
        raise ConfigError(f"op-node not found: {INSTALL_HINT}")
    return found


def op_node_rollup_json(rollup: RollupConfig) -> dict[str, Any]:
    """``rollup`` as the reference op-node's ``rollup.json`` (only keys it knows)."""
    full = rollup.to_json()
    out = {key: full[key] for key in ROLLUP_KEYS if key in full}
    genesis = dict(full["genesis"])
    genesis["system_config"] = {key: value for key, value in genesis["system_config"].items()
                                if key in SYSTEM_CONFIG_KEYS}
    out["genesis"] = genesis
    return out


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for programs that cannot report an ephemeral one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class OpNodeConfig:
    rollup: RollupConfig
    l1_url: str
    l1_beacon_url: str
    l2_auth_url: str
    jwt_secret: bytes
    host: str = "127.0.0.1"
    rpc_port: int = 0
    """0: :func:`free_port`."""
    l1_rpckind: str = "basic"
    """``basic``: one ``eth_getTransactionReceipt`` per transaction; ``standard``/``any``: block receipts."""
    l1_poll_interval: str = "500ms"
    verifier_l1_confs: int = 0
    trust_rpc: bool = False
    """False: op-node verifies every L1 block, transaction list and receipt list against its header."""
    name: str = "op-node"
    data_dir: Path | None = None
    """Where rollup.json, the JWT, the safe-head DB and op-node's log go (None: a temporary one)."""
    log_level: str = "info"
    p2p_args: tuple[str, ...] = ()
    """op-node p2p flags (``--p2p.static …``, ``--p2p.sequencer.key …``); empty: ``--p2p.disable``."""
    extra_args: tuple[str, ...] = ()
    """More op-node flags, e.g. ``--sequencer.enabled``."""


class OpNode:
    """A running op-node: ``await nursery.start(node.run)`` gives it back once its RPC answers
    ``optimism_syncStatus``; cancelling stops it (SIGTERM, then SIGKILL). Its output is
    ``DATA_DIR/op-node.log``."""

    def __init__(self, config: OpNodeConfig, *, binary: Path | None = None):
        self.config = config
        self.binary = binary
        self.rpc_url: str | None = None
        self.pid: int | None = None
        self.log_path: Path | None = None

    async def run(self, *, task_status: trio.TaskStatus[OpNode] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        binary = self.binary or find_op_node()
        temporary = cfg.data_dir is None
        directory = Path(tempfile.mkdtemp(prefix="opfleet-op-node-")) if temporary else Path(cfg.data_dir or "")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "rollup.json").write_text(json.dumps(op_node_rollup_json(cfg.rollup), indent=1) + "\n")
            (directory / "jwt.hex").write_text(cfg.jwt_secret.hex())
            port = cfg.rpc_port or free_port(cfg.host)
            self.log_path = directory / "op-node.log"
            cmd = [str(binary), *self.args(directory, port)]
            with self.log_path.open("ab") as out:
                process = await start_process(cmd, what="op-node", hint=INSTALL_HINT, stdout=out,
                                              stderr=subprocess.STDOUT)
            self.pid = process.pid
            try:
                self.rpc_url = f"http://{cfg.host}:{port}"
                await self._wait_rpc(process)
                log.info("op-node started", extra={"fields": {"name": cfg.name, "rpc": self.rpc_url,
                                                               "pid": process.pid}})
                task_status.started(self)
                code = await process.wait()
                raise CriticalError(f"{cfg.name}: op-node (pid {process.pid}) exited with status {code}: "
                                    f"{self.tail()}")
            finally:
                await stop_process(process, STOP_TIMEOUT)
        finally:
            if temporary:
                shutil.rmtree(directory, ignore_errors=True)

    def args(self, directory: Path, port: int) -> list[str]:
        cfg = self.config
        args = ["--l1", cfg.l1_url, "--l1.beacon", cfg.l1_beacon_url, "--l1.rpckind", cfg.l1_rpckind,
                "--l1.http-poll-interval", cfg.l1_poll_interval, "--l2", cfg.l2_auth_url,
                "--l2.jwt-secret", str(directory / "jwt.hex"), "--rollup.config", str(directory / "rollup.json"),
                "--rpc.addr", cfg.host, "--rpc.port", str(port), *(cfg.p2p_args or ("--p2p.disable",)),
                "--verifier.l1-confs", str(cfg.verifier_l1_confs), "--safedb.path", str(directory / "safedb"),
                "--log.level", cfg.log_level, "--log.format", "logfmt", *cfg.extra_args]
        if cfg.trust_rpc:
            args.append("--l1.trustrpc")
        return args

    def tail(self, lines: int = 3) -> str:
        """The last lines of op-node's log that say something (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return "no output"
        return last_lines(self.log_path.read_text(errors="replace").splitlines(), lines) or "no output"

    async def _wait_rpc(self, process: trio.Process) -> None:
        assert self.rpc_url is not None
        async with JsonRpcClient(self.rpc_url, name=self.config.name) as rpc:
            with trio.move_on_after(START_TIMEOUT):
                answered, _ = await first_answer(rpc, "optimism_syncStatus", interval=0.1,
                                                 alive=lambda: process.returncode is None)
                if answered:
                    return
        if process.returncode is not None:
            raise ConfigError(f"{self.config.name}: op-node exited with status {process.returncode} at start: "
                              f"{self.tail()}")
        raise ConfigError(f"{self.config.name}: op-node did not answer within {START_TIMEOUT:g}s: {self.tail()}")

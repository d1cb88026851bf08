"""``opfleet devnet --engine op-geth``: the whole fleet with a real op-geth behind every node.

The light sequencer builds blocks in its op-geth (transactions from the pool: a contract deployed,
then called, its logs), the batcher posts them, the source derives them into its own op-geth, a
light node follows; every EL ends up with the same blocks, hash for hash. Skips (saying why) only
when no op-geth binary is found; CI installs the reference binary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import trio
from e2e_helpers import fast_config, source_safe, wait_for

from opfleet.cli.exit import ExitStatus
from opfleet.devnet.engine import ForkTimes
from opfleet.devnet.evm_traffic import COUNTED_TOPIC, counter_runtime
from opfleet.devnet.fleet import OP_GETH, USER_KEY, Devnet
from opfleet.devnet.opgeth import find_op_geth
from opfleet.errors import ConfigError
from opfleet.protocol.crypto import private_key_to_address
from opfleet.protocol.state import contract_address
from opfleet.providers.jsonrpc import JsonRpcClient

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


def op_geth_or_skip() -> Any:
    try:
        return find_op_geth()
    except ConfigError as exc:
        pytest.skip(f"no op-geth binary: {exc}")


async def block_hash(url: str, number: int) -> str | None:
    async with JsonRpcClient(url) as rpc:
        block = await rpc.call("eth_getBlockByNumber", hex(number), False)
    return block["hash"] if block else None


async def el_number(url: str, tag: str) -> int:
    async with JsonRpcClient(url) as rpc:
        try:
            block = await rpc.call("eth_getBlockByNumber", tag, False)
        except Exception:  # noqa: BLE001 - no safe block yet
            return 0
    return int(block["number"], 16) if block else 0


async def wait_el(url: str, tag: str, number: int, timeout: float = 60.0) -> None:
    with trio.move_on_after(timeout) as scope:
        while await el_number(url, tag) < number:
            await trio.sleep(0.1)
    assert not scope.cancelled_caught, f"{url}: {tag} block did not reach {number} in {timeout}s"


async def test_devnet_with_op_geth_derives_contract_traffic_hash_for_hash(nursery, tmp_path):
    op_geth_or_skip()
    config = fast_config(engine=OP_GETH, forks=ForkTimes.up_to("granite"), lights=1, data_dir=tmp_path / "devnet",
                         tx_interval=0.1)
    devnet = await nursery.start(Devnet(config).run)
    assert (tmp_path / "devnet" / "op-geth" / "sequencer" / "geth.log").is_file()
    seq_url = devnet.sequencer_engine.rpc_url
    user = private_key_to_address(USER_KEY)
    counter = contract_address(user, 0)

    # The contract is deployed and called in the sequencer's op-geth (a real EVM).
    await wait_for(lambda: devnet.txs_sent >= 6, what="generated transactions")
    async with JsonRpcClient(seq_url) as rpc:
        with trio.fail_after(30):
            while int(await rpc.call("eth_getTransactionCount", "0x" + user.hex(), "latest"), 16) < 4:
                await trio.sleep(0.1)
        assert await rpc.call("eth_getCode", "0x" + counter.hex(), "latest") == "0x" + counter_runtime().hex()
        logs = await rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": "0x" + counter.hex()})
        assert logs and logs[0]["topics"][0] == "0x" + COUNTED_TOPIC.hex()
        assert logs[0]["topics"][1] == "0x" + bytes(12).hex() + user.hex()
        assert int(logs[0]["data"][2:66], 16) == 1
        count = int(await rpc.call("eth_getStorageAt", "0x" + counter.hex(), "0x0", "latest"), 16)
        assert count >= 1
        target = int((await rpc.call("eth_getBlockByNumber", "latest", False))["number"], 16)
    receiver = b"\x77" * 20
    deposit_l1 = int((await devnet.deposit(receiver, mint=5 * 10**15, value=5 * 10**15))["blockNumber"], 16)

    # The source derives that chain into its own op-geth; the light node's op-geth follows.
    await wait_for(lambda: source_safe(devnet) >= target, timeout=90, what=f"source safe head at {target}")
    source_url = devnet.source_engines[0].rpc_url
    light_url = devnet.light_engines[0].rpc_url
    await wait_el(source_url, "safe", target)
    await wait_el(light_url, "safe", target)
    for n in range(target + 1):
        ours = await block_hash(seq_url, n)
        assert ours is not None
        assert await block_hash(source_url, n) == ours, f"source block {n}"
        assert await block_hash(light_url, n) == ours, f"light block {n}"
    async with JsonRpcClient(source_url) as rpc:
        assert int(await rpc.call("eth_getStorageAt", "0x" + counter.hex(), "0x0", hex(target)), 16) >= 1

    # An L1 deposit reaches every op-geth once its L1 block is a safe L2 block's origin.
    async def deposited(url: str) -> bool:
        async with JsonRpcClient(url) as rpc:
            return int(await rpc.call("eth_getBalance", "0x" + receiver.hex(), "safe"), 16) == 5 * 10**15

    with trio.fail_after(90):
        while not (await deposited(source_url) and await deposited(light_url)):
            await trio.sleep(0.2)
    assert deposit_l1 >= 1


async def test_a_fork_op_geth_cannot_run_is_refused_in_one_line():
    op_geth_or_skip()
    devnet = Devnet(fast_config(engine=OP_GETH, forks=ForkTimes.up_to("holocene")))
    with pytest.raises(ConfigError) as err:
        await trio.to_thread.run_sync(devnet._find_op_geth)  # what run() checks first
    assert "through Granite only" in str(err.value) and "Holocene" in str(err.value)
    assert "\n" not in str(err.value)


def _devnet_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "opfleet", "devnet", "--block-time", "1", "--nodes", "source=1,light=1",
            "--log.level", "warn", "--base-port", "0", *args]


def _processes_under(directory) -> list[int]:
    """Our processes whose command line names ``directory`` (op-geth runs with --datadir there)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if str(directory).encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_cli_engine_op_geth_runs_through_granite_and_stops_its_op_geths(tmp_path):
    op_geth_or_skip()
    data = tmp_path / "devnet"
    proc = subprocess.Popen(_devnet_cli("--engine", "op-geth", "--l1-fork", "cancun", "--data-dir", str(data)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"devnet exited early: {proc.stderr.read()[-800:]}"
            lines.append(line)
            if "fleet profile" in line:
                break
        text = "".join(lines)
        assert "L2 engine: op-geth" in text and "forks through Granite" in text and "not an EVM" not in text
        # One op-geth per node: sequencer, source-1, light-1; each from the same genesis.
        names = sorted(p.name for p in (data / "op-geth").iterdir())
        assert names == ["light-1", "sequencer", "source-1"]
        genesis = json.loads((data / "op-geth" / "sequencer" / "genesis.json").read_text())
        assert genesis["config"]["graniteTime"] == genesis["config"]["ecotoneTime"] == int(genesis["timestamp"], 16)
        assert "holoceneTime" not in genesis["config"]
        assert len(_processes_under(data)) >= 3
        # --l1-fork cancun: L1 headers without Prague's requestsHash (what pre-Pectra clients verify).
        l1_url = next(line.split()[2] for line in lines if line.startswith("  l1 "))
        l1_block = json.loads(subprocess.run(
            [sys.executable, "-c", "import httpx,sys; print(httpx.post(sys.argv[1], json={'jsonrpc': '2.0', 'id': 1, "
             "'method': 'eth_getBlockByNumber', 'params': ['0x0', False]}).text)", l1_url],
            capture_output=True, text=True, timeout=30).stdout)["result"]
        assert "requestsHash" not in l1_block and "parentBeaconBlockRoot" in l1_block
        status = subprocess.run([sys.executable, "-m", "opfleet", "status", "--fleet", str(data / "fleet.toml"),
                                 "--json"], capture_output=True, text=True, timeout=60)
        assert status.returncode in (0, 1), status.stderr  # reachable (lagging right after start is fine)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == ExitStatus.INTERRUPTED
        assert _processes_under(data) == []
    finally:
        proc.kill()


def test_cli_refuses_a_fork_op_geth_cannot_run_and_a_missing_binary(tmp_path):
    op_geth_or_skip()
    later = subprocess.run(_devnet_cli("--engine", "op-geth", "--fork", "holocene=+10s", "--data-dir",
                                       str(tmp_path / "a")), capture_output=True, text=True, timeout=60)
    assert later.returncode == ExitStatus.CONFIG, later.stderr
    assert "Holocene" in later.stderr and "through Granite" in later.stderr
    assert len(later.stderr.strip().splitlines()) == 1
    missing = subprocess.run(_devnet_cli("--engine", f"op-geth={tmp_path / 'nope'}", "--data-dir",
                                         str(tmp_path / "b")), capture_output=True, text=True, timeout=60)
    assert missing.returncode == ExitStatus.CONFIG and "no executable" in missing.stderr
    bad = subprocess.run(_devnet_cli("--engine", "reth", "--data-dir", str(tmp_path / "c")),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == ExitStatus.CONFIG and "--engine" in bad.stderr

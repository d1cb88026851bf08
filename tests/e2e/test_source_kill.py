"""SIGKILL the source node (a real ``python -m opfleet source`` process) and restart it: light
nodes following it hold their safe head meanwhile (never move it back), and after the restart
the source resumes from its EL and safe-head database, loses nothing, and the light node catches
up with the sequencer's chain hash for hash."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest
import trio

from e2e_helpers import same_chain, start_fleet, wait_for
from opfleet.devnet.fleet import JWT_SECRET
from opfleet.node.light import LightNode
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.rpc.optimism import rollup_config_json

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def safe_of(url: str) -> int:
    try:
        async with JsonRpcClient(url, timeout=1.0) as rpc:
            return (await rpc.call("optimism_syncStatus"))["safe_l2"]["number"]
    except Exception:  # noqa: BLE001 - down
        return -1


async def test_sigkilled_source_restarts_without_loss_and_lights_hold(nursery, tmp_path):
    devnet = await start_fleet(nursery, lights=0)
    engine = devnet._new_engine(devnet.sequencer_engine.genesis.timestamp)
    await devnet._serve_engine(nursery, engine, "external source")
    (tmp_path / "rollup.json").write_text(json.dumps(rollup_config_json(devnet.rollup)))
    (tmp_path / "jwt.hex").write_text("0x" + JWT_SECRET.hex())
    (tmp_path / "l1.json").write_text(json.dumps(devnet.l1_chain_config.to_json()))  # L1 900: not built in
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "opfleet", "source", "--rollup.config", str(tmp_path / "rollup.json"),
           "--rollup.l1-chain-config", str(tmp_path / "l1.json"),
           "--l1", devnet.l1_url, "--l1.beacon", devnet.l1_url, "--l2", engine.auth_url,
           "--l2.jwt-secret", str(tmp_path / "jwt.hex"), "--l1.http-poll-interval", "50ms",
           "--rpc.port", str(port), "--safedb.path", str(tmp_path / "safedb"), "--log.level", "warn"]

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    source = spawn()
    try:
        light_engine = devnet._new_engine(devnet.sequencer_engine.genesis.timestamp)
        await devnet._serve_engine(nursery, light_engine, "light")
        light = LightNode(devnet._light_config(light_engine, (url,), payloads_url=devnet.sequencer_engine.rpc_url))
        await nursery.start(light.run)
        await wait_for(lambda: light_engine.safe.number >= 3, what="the light node's first safe blocks")

        source.send_signal(signal.SIGKILL)
        source.wait(timeout=5)
        killed_at = engine.safe.number
        # A status fetched just before the kill may still land, and the EL may still be pulling
        # the block the node already labels safe; once both settle, the safe head must hold.
        await wait_for(lambda: light_engine.safe.number == light.l2_heads.safe.number,
                       what="the light node's EL reaching its safe head")
        await trio.sleep(0.3)
        held = light.l2_heads.safe.number
        await wait_for(lambda: devnet.sequencer_engine.head.number >= held + 3, what="the sequencer moving on")
        await trio.sleep(0.5)
        assert light_engine.safe.number == held  # holds: nothing newer to follow, nothing rolled back
        assert light.l2_heads.safe.number == held

        source = spawn()
        target = devnet.sequencer_engine.head.number
        await wait_for(lambda: engine.safe.number >= target, what="the restarted source deriving on")
        await wait_for(lambda: light_engine.safe.number >= target, what="the light node catching up")
        assert engine.safe.number >= killed_at
        same_chain(engine, devnet.sequencer_engine, target)
        same_chain(light_engine, devnet.sequencer_engine, target)
        assert await safe_of(url) >= target
    finally:
        source.kill()
        source.wait(timeout=5)

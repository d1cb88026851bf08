"""A real op-node as the reference deriver: on one devnet L1 (Granite, every node on op-geth), the
reference op-node with its own op-geth and ``opfleet source`` with its own op-geth derive the same
safe chain, block hash by block hash and output root by output root, through calldata and blob
batches, deposits, SystemConfig changes (gas limit, fee scalars, a batcher key rotation) and an L1
reorg.

Skips (saying why) only when no op-geth or op-node binary is found; CI installs both.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import trio

from e2e_helpers import fast_config
from opfleet.devnet.engine import ForkTimes
from opfleet.devnet.fleet import JWT_SECRET, OP_GETH, Devnet
from opfleet.devnet.l1 import config_update_calldata, setter_calldata
from opfleet.devnet.opgeth import find_op_geth
from opfleet.devnet.opnode import OpNode, OpNodeConfig, find_op_node
from opfleet.errors import ConfigError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.system_config import ConfigUpdateType
from opfleet.protocol.transactions import BLOB_TX_TYPE, DYNAMIC_FEE_TX_TYPE
from opfleet.providers.jsonrpc import JsonRpcClient

pytestmark = pytest.mark.slow
ADMIN_KEY = keccak256(b"opfleet reference test system config owner")


def binaries_or_skip() -> None:
    try:
        find_op_geth()
        find_op_node()
    except ConfigError as exc:
        pytest.skip(f"no reference binaries: {exc}")


async def safe_number(url: str) -> int:
    async with JsonRpcClient(url) as rpc:
        status = await rpc.call("optimism_syncStatus")
    return int(status["safe_l2"]["number"])


async def wait_safe(urls: dict[str, str], number: int, timeout: float) -> None:
    with trio.move_on_after(timeout) as scope:
        while True:
            heads = {name: await safe_number(url) for name, url in urls.items()}
            if min(heads.values()) >= number:
                return
            await trio.sleep(0.25)
    assert not scope.cancelled_caught, f"safe heads did not reach {number} in {timeout}s: {heads}"


async def chain_hashes(url: str, upto: int) -> list[str]:
    async with JsonRpcClient(url) as rpc:
        return [(await rpc.call("eth_getBlockByNumber", hex(n), False))["hash"] for n in range(upto + 1)]


async def start_reference(nursery: trio.Nursery, devnet: Devnet, tmp_path: Any, *, rpckind: str = "basic",
                          name: str = "op-node") -> OpNode:
    engine = await devnet.add_engine(name)
    node = OpNode(OpNodeConfig(rollup=devnet.rollup, l1_url=devnet.l1_url, l1_beacon_url=devnet.l1_url,
                               l2_auth_url=engine.auth_url, jwt_secret=JWT_SECRET, l1_rpckind=rpckind,
                               name=name, data_dir=tmp_path / name))
    node.engine = engine  # type: ignore[attr-defined]
    await nursery.start(node.run)
    return node


async def test_op_node_and_opfleet_source_derive_the_same_chain(nursery, tmp_path):
    binaries_or_skip()
    config = fast_config(engine=OP_GETH, forks=ForkTimes.up_to("granite"), lights=0, data_dir=tmp_path / "devnet",
                         tx_interval=0.2, l1_block_time=2, l2_block_time=1, l1_fork="cancun")
    devnet = await nursery.start(Devnet(config).run)
    reference = await start_reference(nursery, devnet, tmp_path)  # receipts one by one (--l1.rpckind basic)
    block_receipts = await start_reference(nursery, devnet, tmp_path, rpckind="standard", name="op-node-2")
    source_url = devnet.endpoint("source-1").url
    nodes = {"op-node": reference.rpc_url, "op-node-2": block_receipts.rpc_url, "source": source_url}

    # Traffic on L1 while both derive: deposits, SystemConfig changes, a batcher key rotation.
    await devnet.deposit(b"\x77" * 20, mint=10**16, value=10**15)
    await devnet.send_l1(ADMIN_KEY, to=devnet.rollup.l1_system_config_address,
                         data=config_update_calldata(ConfigUpdateType.GAS_LIMIT, 40_000_000))
    await devnet.send_l1(ADMIN_KEY, to=devnet.rollup.l1_system_config_address,
                         data=setter_calldata("setGasConfigEcotone(uint32,uint32)", 1500, 7))
    await devnet.deposit(b"\x78" * 20, mint=10**15, data=b"\x01\x02")
    await devnet.rotate_batcher(keccak256(b"opfleet reference test rotated batcher"))

    async with JsonRpcClient(devnet.sequencer_engine.rpc_url) as rpc:
        head = int(await rpc.call("eth_blockNumber"), 16)
    await wait_safe(nodes, head, timeout=120)

    # An L1 reorg: the last two L1 blocks are replaced, their batches mined again.
    devnet.l1_chain.reorg(2, requeue=True)
    async with JsonRpcClient(devnet.sequencer_engine.rpc_url) as rpc:
        head = int(await rpc.call("eth_blockNumber"), 16) + 4
    await wait_safe(nodes, head, timeout=120)

    # Batches went to L1 both ways.
    kinds = {t.tx.type for block in devnet.l1_chain.blocks for t in block.transactions
             if t.tx.to == devnet.rollup.batch_inbox_address}
    assert kinds >= {BLOB_TX_TYPE, DYNAMIC_FEE_TX_TYPE}, kinds

    # Same blocks in every EL, same output roots from every rollup node.
    upto = min([await safe_number(url) for url in nodes.values()])
    ours = await chain_hashes(devnet.source_engines[0].rpc_url, upto)
    for node in (reference, block_receipts):
        theirs = await chain_hashes(node.engine.rpc_url, upto)
        for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert a == b, f"L2 block {n}: opfleet source {a}, {node.config.name} {b}"
    async with JsonRpcClient(source_url) as src, JsonRpcClient(reference.rpc_url) as ref, \
            JsonRpcClient(block_receipts.rpc_url) as ref2:
        for n in range(1, upto + 1):
            a = await src.call("optimism_outputAtBlock", hex(n))
            for other in (ref, ref2):
                b = await other.call("optimism_outputAtBlock", hex(n))
                assert a["outputRoot"] == b["outputRoot"], f"output root at {n}"
                assert a["blockRef"] == b["blockRef"], f"block ref at {n}"
    # The gas limit change and the new scalars reached L2 in both.
    async with JsonRpcClient(reference.engine.rpc_url) as rpc:
        block = await rpc.call("eth_getBlockByNumber", hex(upto), False)
    assert int(block["gasLimit"], 16) == 40_000_000


async def test_opfleet_light_follows_a_real_op_node_and_status_checks_it(nursery, tmp_path):
    """The reverse direction: op-node is the source, an opfleet light node (its own op-geth,
    blocks pulled from the sequencer's) follows its safe chain; ``opfleet status --check-follow``
    compares the two, output root by output root."""
    from opfleet.monitor.check import check_follow
    from opfleet.node.light import LightNode

    binaries_or_skip()
    config = fast_config(engine=OP_GETH, forks=ForkTimes.up_to("granite"), lights=0, data_dir=tmp_path / "devnet",
                         tx_interval=0.3, l1_block_time=2, l2_block_time=1, l1_fork="cancun")
    devnet = await nursery.start(Devnet(config).run)
    reference = await start_reference(nursery, devnet, tmp_path)
    engine = await devnet.add_engine("light-of-op-node")
    light = LightNode(devnet._light_config(engine, (reference.rpc_url,), payloads_url=devnet.sequencer_engine.rpc_url))
    await nursery.start(light.run)
    light_url = f"http://127.0.0.1:{light.rpc_port}"

    await devnet.deposit(b"\x79" * 20, mint=10**15)
    async with JsonRpcClient(devnet.sequencer_engine.rpc_url) as rpc:
        head = int(await rpc.call("eth_blockNumber"), 16) + 3
    await wait_safe({"op-node": reference.rpc_url, "light": light_url}, head, timeout=120)
    with trio.fail_after(60):  # the light node's EL holds what it calls safe
        while True:
            async with JsonRpcClient(engine.rpc_url) as rpc:
                try:
                    safe = int((await rpc.call("eth_getBlockByNumber", "safe", False))["number"], 16)
                except Exception:  # noqa: BLE001 - no safe label yet
                    safe = 0
            if safe >= head:
                break
            await trio.sleep(0.2)
    assert await chain_hashes(engine.rpc_url, head) == await chain_hashes(reference.engine.rpc_url, head)

    result = await check_follow(light_url, reference.rpc_url)
    assert result.reachable and not result.divergent and result.compared, result.lines()
    done = await trio.run_process([sys.executable, "-m", "opfleet", "status", "--check-follow", light_url,
                                   reference.rpc_url, "--json"], capture_stdout=True, capture_stderr=True,
                                  check=False)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["ok"] and not report["divergent"] and report["heights"], report
    assert all(h["hash_match"] and h["output_root_match"] for h in report["heights"]), report

    # status tells the two apart and judges each by its role: the real op-node derives (a
    # source: its unsafe head is its safe head), the opfleet light node says what it follows
    from opfleet.monitor.fleet import discover

    specs, problems = await discover([reference.rpc_url, light_url])
    assert not problems, problems
    assert [(s.role.value, s.follows) for s in specs] == [("source", ()), ("light", (specs[0].name,))]
    bare = await trio.run_process([sys.executable, "-m", "opfleet", "status", "--json", reference.rpc_url,
                                   light_url], capture_stdout=True, capture_stderr=True, check=False)
    fleet = json.loads(bare.stdout)
    assert [n["role"] for n in fleet["nodes"]] == ["source", "light"], fleet
    assert bare.returncode == 0, fleet["alarms"]

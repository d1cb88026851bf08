"""``opfleet devnet --engine op-geth``: the whole fleet with a real op-geth behind every node.

The light sequencer builds blocks in its op-geth (transactions from the pool: a contract deployed,
then called, its logs), the batcher posts them, the source derives them into its own op-geth, a
light node follows; every EL ends up with the same blocks, hash for hash. Skips (saying why) only
when no op-geth binary is found; CI installs the reference binary.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from e2e_helpers import fast_config, source_safe, wait_for
from opfleet.devnet.engine import ForkTimes
from opfleet.devnet.evm_traffic import COUNTED_TOPIC, counter_runtime, create_address
from opfleet.devnet.fleet import OP_GETH, USER_KEY, Devnet
from opfleet.devnet.opgeth import find_op_geth
from opfleet.errors import ConfigError
from opfleet.protocol.crypto import private_key_to_address
from opfleet.providers.jsonrpc import JsonRpcClient


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
    counter = create_address(user, 0)

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

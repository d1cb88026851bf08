"""anvil as the L1 (../shared/ref/anvil.md): the mock portal and SystemConfig emit exactly the
logs the embedded L1 emits for the same calldata, batcher blobs come back through the beacon
client, and a missing anvil is a one-line error saying how to install it.

No skips: without anvil these tests fail with the install hint (bash .ci/setup installs it).
"""

from __future__ import annotations

import pytest
import trio

from opfleet.devnet.anvil import Anvil, AnvilConfig, ensure_anvil, find_anvil
from opfleet.devnet.batcher import BLOBS, Batcher, BatcherConfig, ChannelBuilder, ChannelConfig
from opfleet.devnet.contracts import Label, Ref, assemble
from opfleet.devnet.l1 import L1Chain, config_update_calldata, deposit_calldata
from opfleet.errors import ConfigError
from opfleet.protocol.block_ref import BlockID, L1BlockRef
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.deposits import user_deposits
from opfleet.protocol.ethjson import log_from_json
from opfleet.protocol.hexjson import parse_data, parse_quantity
from opfleet.protocol.system_config import ConfigUpdateType
from opfleet.providers.beacon import BeaconClient
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l1 import L1Provider

KEY = keccak256(b"opfleet anvil test key")
SENDER = private_key_to_address(KEY)


def anvil_binary():
    found = find_anvil()
    if found is None:
        pytest.fail("anvil 1.7.1 is not installed: run `npm install --no-save --prefix ~/.cache/opfleet/anvil "
                    "@foundry-rs/anvil-linux-amd64@1.7.1` (bash .ci/setup does this), or set OPFLEET_ANVIL")
    return found


async def start(nursery, **config) -> Anvil:
    anvil = Anvil(AnvilConfig(**config), binary=anvil_binary())
    await nursery.start(anvil.run)
    await anvil.fund(SENDER, 10**21)
    return anvil


def embedded_logs(calldata_to: bytes, data: bytes, value: int = 0):
    """The logs the embedded L1 emits for the same call from the same sender."""
    chain = L1Chain()
    chain.submit(chain.sign(KEY, to=calldata_to, data=data, value=value))
    block = chain.mine()
    return block.logs


def test_assembler_resolves_labels_and_push_widths():
    code = assemble([Ref("end"), "JUMP", 0x01, 0x1234, b"\x00\x01", Label("end"), "STOP"])
    # PUSH2 0x000c JUMP PUSH1 01 PUSH2 1234 PUSH2 0001 JUMPDEST STOP
    assert code.hex() == "61000c56" + "6001" + "611234" + "610001" + "5b00"


async def test_portal_and_system_config_emit_the_embedded_l1s_logs(nursery):
    anvil = await start(nursery, block_time=0)
    await anvil.call("evm_setAutomine", True)
    l1 = L1Chain()
    cases = [
        (l1.config.portal_address, deposit_calldata(b"\x11" * 20, 7, 100_000, b"\xca\xfe" * 40), 10**18),
        (l1.config.portal_address, deposit_calldata(None, 0, 200_000, b"\x60\x00", is_creation=True), 0),
        (l1.config.portal_address, b"", 5),  # receive()
        (l1.config.system_config_address, config_update_calldata(ConfigUpdateType.BATCHER, b"\x00" * 12 + b"\x42" * 20), 0),
        (l1.config.system_config_address, config_update_calldata(ConfigUpdateType.GAS_LIMIT, 60_000_000), 0),
        (l1.config.system_config_address, config_update_calldata(ConfigUpdateType.EIP_1559_PARAMS, 250, 6), 0),
        (l1.config.system_config_address, config_update_calldata(ConfigUpdateType.OPERATOR_FEE_PARAMS, 7, 9), 0),
    ]
    for to, data, value in cases:
        receipt = await anvil.send(KEY, to=to, data=data, value=value)
        assert parse_quantity(receipt["status"]) == 1
        got = [log_from_json(entry) for entry in receipt["logs"]]
        want = embedded_logs(to, data, value)
        assert [(g.address, g.topics, g.data) for g in got] == [(w.address, w.topics, w.data) for w in want]
    # Deposits decode on the node side from anvil's receipts (user_deposits), mint and data intact.
    receipt = await anvil.send(KEY, to=l1.config.portal_address, data=deposit_calldata(b"\x22" * 20, 3, 90_000, b"hi"),
                               value=4)
    logs = [log_from_json(entry) for entry in receipt["logs"]]
    (deposit,) = user_deposits([(1, logs)], l1.config.portal_address, parse_data(receipt["blockHash"], 32))
    assert (deposit.mint, deposit.value, deposit.gas, deposit.data, deposit.to) == (4, 3, 90_000, b"hi", b"\x22" * 20)
    assert deposit.from_address == SENDER


async def test_unknown_selector_reverts(nursery):
    anvil = await start(nursery, block_time=0)
    from opfleet.providers.jsonrpc import RpcCallError

    with pytest.raises(RpcCallError):
        await anvil.call("eth_estimateGas", {"from": "0x" + SENDER.hex(),
                                             "to": "0x" + AnvilConfig().system_config_address.hex(),
                                             "data": "0xdeadbeef"})


async def test_batcher_blobs_come_back_through_the_beacon_client(nursery):
    anvil = await start(nursery, block_time=1)
    channel = ChannelConfig(genesis_time=anvil.genesis_time, block_time=2, chain_id=901, max_frame_size=20_000)
    blocks = _fake_frames(channel)
    config = BatcherConfig(channel=channel, batch_inbox=b"\xff" * 20, l1_chain_id=anvil.chain_id, batcher_key=KEY,
                           data_availability=BLOBS)
    async with JsonRpcClient(anvil.url) as rpc:
        batcher = Batcher(config, rpc, rpc)
        batcher._channel = blocks  # one prepared channel: post it as a blob tx
        await batcher._submit_channel()
        (tx_hash,) = batcher.statistics().sent
        with trio.fail_after(10):
            while (receipt := await rpc.call("eth_getTransactionReceipt", "0x" + tx_hash.hex())) is None:
                await trio.sleep(0.05)
        assert parse_quantity(receipt["status"]) == 1
        provider = L1Provider(rpc)
        block, _ = await provider.block_with_receipts(parse_data(receipt["blockHash"], 32))
        ref: L1BlockRef = block.ref
        tx = await rpc.call("eth_getTransactionByHash", "0x" + tx_hash.hex())
        hashes = [parse_data(h, 32) for h in tx["blobVersionedHashes"]]
        async with BeaconClient(anvil.url) as beacon:
            blobs = await beacon.get_blobs(ref, list(enumerate(hashes)))
            assert await beacon.block_id_mode() == "hash"  # anvil has no /eth/v1/config/spec
        from opfleet.protocol.blob import decode_blob

        assert [decode_blob(b) for b in blobs] == blocks.tx_datas()


def _fake_frames(channel: ChannelConfig) -> ChannelBuilder:
    from opfleet.devnet.batcher import BatchBlock

    builder = ChannelBuilder(channel, channel_id=b"\x07" * 16)
    builder.add_block(BatchBlock(number=1, hash=b"\x01" * 32, parent_hash=b"\x00" * 32,
                                 timestamp=channel.genesis_time + 2, l1_origin=BlockID(b"\x02" * 32, 0),
                                 sequence_number=0))
    return builder


def test_missing_anvil_is_a_config_error_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.delenv("OPFLEET_ANVIL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no anvil, no npm
    with pytest.raises(ConfigError, match="npm install"):
        ensure_anvil(install=False, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="npm is missing"):
        ensure_anvil(install=True, cache_dir=tmp_path)


async def test_busy_port_is_a_clear_error(nursery):
    first = await start(nursery, block_time=0)
    with pytest.raises(ConfigError, match="anvil did not start"):
        await Anvil(AnvilConfig(port=first.port), binary=anvil_binary()).run()

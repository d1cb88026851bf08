"""op-geth as the devnet's engine (opfleet.devnet.opgeth): the genesis it is initialised from, the
binary lookup and the forks a version runs, and a real op-geth driven over the Engine API.

The tests that run op-geth skip (saying why) only when no op-geth binary is found; CI installs the
reference binary with ``../shared/refnodes/install.sh``.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from opfleet.devnet.engine import ForkTimes
from opfleet.devnet.opgeth import (
    MESSAGE_PASSER_CODE,
    OpGeth,
    OpGethConfig,
    check_forks,
    find_op_geth,
    genesis_json,
    newest_fork,
    op_geth_version,
    parse_version,
    schedule_through,
)
from opfleet.errors import ConfigError
from opfleet.protocol.account_proof import verify_account_proof
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.engine_api import PayloadStatus
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient

JWT = keccak256(b"op-geth test jwt")
USER = private_key_to_address(keccak256(b"op-geth test user"))


def op_geth_or_skip():
    try:
        return find_op_geth()
    except ConfigError as exc:
        pytest.skip(f"no op-geth binary: {exc}")


def test_genesis_is_post_merge_with_the_op_forks_as_times():
    g = genesis_json(chain_id=901, timestamp=1_700_000_000, forks=ForkTimes.up_to("granite"),
                     alloc={USER: 10**24}, gas_limit=30_000_000, base_fee=10**9)
    config = g["config"]
    assert config["chainId"] == 901
    for key in ("homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
                "constantinopleBlock", "petersburgBlock", "istanbulBlock", "muirGlacierBlock", "berlinBlock",
                "londonBlock", "arrowGlacierBlock", "grayGlacierBlock", "mergeNetsplitBlock", "bedrockBlock"):
        assert config[key] == 0, key
    assert config["terminalTotalDifficulty"] == 0 and config["terminalTotalDifficultyPassed"] is True
    for key in ("shanghaiTime", "cancunTime", "regolithTime", "canyonTime", "ecotoneTime", "fjordTime", "graniteTime"):
        assert config[key] == 0, key
    assert "holoceneTime" not in config and "isthmusTime" not in config and "deltaTime" not in config
    assert config["optimism"] == {"eip1559Elasticity": 6, "eip1559Denominator": 50, "eip1559DenominatorCanyon": 250}
    assert g["timestamp"] == hex(1_700_000_000) and g["gasLimit"] == hex(30_000_000)
    assert g["baseFeePerGas"] == hex(10**9) and g["difficulty"] == "0x0"
    assert g["alloc"] == {"0x" + USER.hex(): {"balance": hex(10**24)}}
    json.dumps(g)  # a plain JSON document


def test_genesis_shanghai_and_cancun_follow_canyon_and_ecotone_and_later_forks_imply_earlier():
    forks = ForkTimes(regolith=0, canyon=10, delta=20, ecotone=30, fjord=None, granite=40, holocene=None,
                      isthmus=None)
    config = genesis_json(chain_id=1, timestamp=0, forks=forks, alloc={})["config"]
    assert config["shanghaiTime"] == config["canyonTime"] == 10
    assert config["cancunTime"] == config["ecotoneTime"] == 30
    assert config["fjordTime"] == 40  # Granite at 40 implies Fjord by then
    assert config["graniteTime"] == 40
    bedrock = genesis_json(chain_id=1, timestamp=0, forks=ForkTimes(**dict.fromkeys(
        ("regolith", "canyon", "delta", "ecotone", "fjord", "granite", "holocene", "isthmus"))), alloc={})["config"]
    assert "shanghaiTime" not in bedrock and "regolithTime" not in bedrock and bedrock["bedrockBlock"] == 0


def test_genesis_places_code():
    code = bytes.fromhex("6001600055")
    g = genesis_json(chain_id=1, timestamp=0, forks=ForkTimes.up_to("granite"), alloc={USER: 5},
                     codes={b"\x42" * 20: code})
    assert g["alloc"]["0x" + "42" * 20] == {"balance": "0x0", "code": "0x6001600055"}


def test_versions_and_the_forks_they_run():
    assert parse_version("1.101411.1-rc.2") == ((1, 101411, 1), True)
    assert parse_version("v1.101408.0") == ((1, 101408, 0), False)
    assert newest_fork("1.101411.1-rc.2") == "granite"  # the reference binary: Holocene only as a candidate
    assert newest_fork("1.101408.0") == "granite"
    assert newest_fork("1.101408.0-rc.1") is None
    assert newest_fork("1.101411.4") == "holocene"
    assert newest_fork("1.101511.0") == "holocene"  # newer than the table knows: its newest entry


def test_a_fork_after_the_binarys_newest_is_refused_in_one_line():
    check_forks(ForkTimes.up_to("granite"), "granite")
    with pytest.raises(ConfigError) as err:
        check_forks(ForkTimes.up_to("karst"), "granite")
    assert "through Granite only" in str(err.value) and "Holocene" in str(err.value) and "\n" not in str(err.value)
    late = ForkTimes(**{**{f: 0 for f in ("regolith", "canyon", "delta", "ecotone", "fjord", "granite")},
                        "holocene": None, "isthmus": 1_800_000_000})
    with pytest.raises(ConfigError, match="Isthmus"):
        check_forks(late, "granite")
    cut = schedule_through(ForkTimes.up_to("karst"), "granite")
    assert cut == ForkTimes.up_to("granite")


def test_find_op_geth_order(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "geth"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho Geth\necho 'Version: 1.101411.1-rc.2'\necho 'Upstream Version: 1.14.11-stable'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    upstream = tmp_path / "up" / "geth"
    upstream.parent.mkdir()
    upstream.write_text("#!/bin/sh\necho Geth\necho 'Version: 1.14.11-stable'\n")
    upstream.chmod(upstream.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("OPFLEET_OP_GETH", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(upstream.parent))
    assert op_geth_version(upstream) is None and op_geth_version(fake) == "1.101411.1-rc.2"
    with pytest.raises(ConfigError, match="refnodes/install.sh"):
        find_op_geth()  # an upstream geth on PATH is not op-geth
    cached = tmp_path / "cache" / "opfleet" / "refnodes" / "bin" / "geth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(fake.read_bytes())
    cached.chmod(0o755)
    assert find_op_geth() == cached
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{upstream.parent}")
    assert find_op_geth() == fake
    assert find_op_geth(str(upstream)) == upstream
    with pytest.raises(ConfigError, match="no executable"):
        find_op_geth(tmp_path / "missing")


async def test_op_geth_builds_blocks_over_the_engine_api_and_two_nodes_share_a_genesis(nursery, tmp_path):
    binary = op_geth_or_skip()
    config = OpGethConfig(chain_id=901, genesis_time=1_700_000_000,
                          forks=ForkTimes.up_to("granite"), jwt_secret=JWT, alloc={USER: 10**24},
                          data_dir=tmp_path / "a")
    a = OpGeth(config, binary=binary)
    b = OpGeth(OpGethConfig(**{**_fields(config), "data_dir": None, "name": "b"}), binary=binary)
    await nursery.start(a.run)
    await nursery.start(b.run)
    assert a.genesis_id == b.genesis_id and a.genesis is not None and a.genesis.timestamp == 1_700_000_000
    assert (tmp_path / "a" / "geth.log").is_file()
    async with JsonRpcClient(a.rpc_url or "") as rpc:
        assert int(await rpc.call("eth_getBalance", "0x" + USER.hex(), "latest"), 16) == 10**24
        # The message passer exists, so its storage root can be proven (an output root needs it).
        genesis = await rpc.call("eth_getBlockByNumber", "0x0", False)
        proof = await rpc.call("eth_getProof", "0x" + L2_TO_L1_MESSAGE_PASSER_ADDRESS.hex(), [], "0x0")
        account = verify_account_proof(bytes.fromhex(genesis["stateRoot"][2:]), L2_TO_L1_MESSAGE_PASSER_ADDRESS, proof)
        assert account.code_hash == keccak256(MESSAGE_PASSER_CODE)
    async with EngineClient(a.auth_url or "", JWT) as engine:
        state = {"headBlockHash": "0x" + a.genesis_id.hash.hex(), "safeBlockHash": "0x" + a.genesis_id.hash.hex(),
                 "finalizedBlockHash": "0x" + a.genesis_id.hash.hex()}
        result = await engine.client.call("engine_forkchoiceUpdatedV3", state, None)
        assert result["payloadStatus"]["status"] == PayloadStatus.VALID.value


def _fields(config: OpGethConfig) -> dict:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}

"""The chain config the devnet writes for its L1: the embedded L1's fork and blob parameters,
anvil's --hardfork, or (``--l1 URL``) what the operator's L1 says about itself."""

from __future__ import annotations

import pytest
import trio

from opfleet.devnet.anvil import AnvilConfig
from opfleet.devnet.fleet import anvil_l1_chain_config, discover_l1_chain_config, embedded_l1_chain_config
from opfleet.devnet.l1 import L1_FORKS, L1Config
from opfleet.errors import ConfigError
from opfleet.protocol.l1_block_info import (
    BPO1_BLOB_UPDATE_FRACTION,
    CANCUN_BLOB_UPDATE_FRACTION,
    PRAGUE_BLOB_UPDATE_FRACTION,
)
from opfleet.protocol.l1_chain_config import L1ChainConfig
from opfleet.providers.jsonrpc import RpcCallError


@pytest.mark.parametrize("fork", ["cancun", "prague"])
def test_the_embedded_l1_config_is_its_fork_with_its_own_blob_parameters(fork):
    config = embedded_l1_chain_config(L1Config(chain_id=900, fork=fork))
    assert config.chain_id == 900 and config.fork_times[-1] == (fork, 0)
    blobs = dict(config.blob_configs)
    assert blobs[fork].update_fraction == L1_FORKS[fork].update_fraction
    assert (blobs[fork].target, blobs[fork].max) == (L1_FORKS[fork].target_blobs, L1_FORKS[fork].max_blobs)
    assert L1ChainConfig.from_json(config.to_json()) == config


def test_the_anvil_config_follows_its_hardfork():
    assert anvil_l1_chain_config(AnvilConfig(chain_id=900)).blob_schedule.update_fraction(0) == PRAGUE_BLOB_UPDATE_FRACTION
    bpo1 = anvil_l1_chain_config(AnvilConfig(chain_id=900, hardfork="Bpo1"))
    assert bpo1.blob_schedule.update_fraction(0) == BPO1_BLOB_UPDATE_FRACTION
    with pytest.raises(ConfigError, match="nonsense"):
        anvil_l1_chain_config(AnvilConfig(chain_id=900, hardfork="nonsense"))


class FakeL1:
    def __init__(self, answers):
        self.answers = answers

    async def call(self, method, *params):
        answer = self.answers.get(method)
        if answer is None:
            raise RpcCallError(-32601, f"the method {method} does not exist/is not available")
        return answer


def discover(answers, latest=None):
    return trio.run(discover_l1_chain_config, FakeL1(answers), 31337, latest or {})


def test_an_operators_l1_is_asked_for_its_chain_config_then_its_fork():
    geth = L1ChainConfig.at_genesis(31337, "bpo1")
    assert discover({"debug_chainConfig": geth.to_json()}) == geth
    anvil = discover({"anvil_nodeInfo": {"hardFork": "Osaka"}})
    assert anvil == L1ChainConfig.at_genesis(31337, "osaka")
    # a chain config for another chain, or without blob schedule, is not taken
    other = discover({"debug_chainConfig": L1ChainConfig.at_genesis(1, "bpo1").to_json(),
                      "anvil_nodeInfo": {"hardFork": "Prague"}})
    assert other == L1ChainConfig.at_genesis(31337, "prague")
    assert discover({}, {"requestsHash": "0x" + "00" * 32}).blob_schedule.update_fraction(0) == PRAGUE_BLOB_UPDATE_FRACTION
    assert discover({}, {"excessBlobGas": "0x0"}).blob_schedule.update_fraction(0) == CANCUN_BLOB_UPDATE_FRACTION

"""The devnet's L1 is not one op-node knows, so the devnet writes its chain config
(``DATA_DIR/l1-chain-config.json``, what ``--rollup.l1-chain-config`` takes) and gives its blob
schedule to every node it starts: the source's pipeline, the light sequencer, the light nodes."""

from __future__ import annotations

from e2e_helpers import start_fleet, wait_for
from opfleet.config.chain import l1_blob_schedule
from opfleet.devnet.fleet import L1_CHAIN_CONFIG_FILE, embedded_l1_chain_config
from opfleet.protocol.l1_block_info import PRAGUE_BLOB_UPDATE_FRACTION
from opfleet.protocol.l1_chain_config import L1ChainConfig


async def test_the_devnet_writes_its_l1_chain_config_and_every_node_prices_blobs_with_it(nursery, tmp_path):
    devnet = await start_fleet(nursery, lights=1, data_dir=tmp_path / "devnet")
    path = tmp_path / "devnet" / L1_CHAIN_CONFIG_FILE
    assert devnet.l1_chain_config_path == path
    written = L1ChainConfig.from_json_text(path.read_bytes(), source=str(path))
    assert written == devnet.l1_chain_config == embedded_l1_chain_config(devnet.l1_chain.config)
    assert written.chain_id == devnet.rollup.l1_chain_id == 900
    schedule = written.blob_schedule
    assert schedule is not None and schedule.update_fraction(devnet.l1_chain.head.timestamp) == PRAGUE_BLOB_UPDATE_FRACTION
    # What an operator adding a node passes is accepted for the devnet's chain.
    assert l1_blob_schedule(devnet.rollup, path) == schedule

    assert devnet.sources[0].config.blob_schedule == schedule
    assert devnet.sources[0].driver.pipeline.builder.blob_schedule == schedule
    assert devnet.lights[0].config.blob_schedule == schedule
    await wait_for(lambda: devnet.sequencer.sequencer is not None, what="the light sequencer")
    assert devnet.sequencer.sequencer.builder.blob_schedule == schedule

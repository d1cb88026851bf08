"""The devnet with Foundry's anvil as the L1: batches (blobs through anvil's beacon route, by L1
block hash) derive, and the source and light nodes converge on the sequencer's chain.

No skip: without anvil this fails with the install command (bash .ci/setup installs it)."""

from __future__ import annotations

import pytest

from e2e_helpers import all_safe_at_least, assert_converged, start_fleet, wait_for
from opfleet.devnet.anvil import find_anvil

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


async def test_fleet_converges_with_anvil_as_l1(nursery):
    binary = find_anvil()
    if binary is None:
        pytest.fail("anvil 1.7.1 is not installed: run `npm install --no-save --prefix ~/.cache/opfleet/anvil "
                    "@foundry-rs/anvil-linux-amd64@1.7.1` (bash .ci/setup does this), or set OPFLEET_ANVIL")
    devnet = await start_fleet(nursery, l1="anvil", anvil_binary=binary, lights=1)
    receipt = await devnet.deposit(b"\x55" * 20, mint=7, value=7)
    assert int(receipt["status"], 16) == 1 and len(receipt["logs"]) == 1
    batcher = devnet.batcher
    await wait_for(lambda: batcher.statistics().channels_closed >= 2, what="two channels (blob and calldata)")
    covered = batcher.statistics().next_block - 1
    await wait_for(lambda: all_safe_at_least(devnet, covered), what=f"every safe head at {covered}")
    assert batcher.statistics().blobs_sent >= 1
    assert_converged(devnet, covered)

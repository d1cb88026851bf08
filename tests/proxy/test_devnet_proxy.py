"""End to end: ``opfleet devnet --nodes source=3,proxy=1,light=2`` puts the light nodes behind a
consensus proxy. One source is made to lie about its output roots (outvoted, banned), another is
stopped (dropped once it stops answering): the light nodes behind the proxy keep following the
sequencer's chain, block for block."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from e2e_helpers import light_safe, start_fleet, wait_for  # noqa: E402

from opfleet.devnet.fleet import parse_nodes  # noqa: E402
from opfleet.errors import ConfigError  # noqa: E402
from opfleet.monitor.fleet import load_profile  # noqa: E402


def test_nodes_spec_takes_proxies():
    assert parse_nodes("source=3,proxy=1,light=4") == {"source": 3, "proxy": 1, "light": 4}
    assert parse_nodes("source=2")["proxy"] == 0
    with pytest.raises(ConfigError, match="source, proxy or light"):
        parse_nodes("proxies=1")


@pytest.mark.slow
async def test_lights_behind_the_proxy_survive_a_liar_and_a_dead_source(nursery, tmp_path):
    devnet = await start_fleet(nursery, sources=3, proxies=1, lights=2, data_dir=tmp_path)
    proxy = devnet.proxies[0]
    assert [e.follows for e in devnet.endpoints if e.role == "light"] == [("proxy-1",), ("proxy-1",)]
    fleet = load_profile(tmp_path / "fleet.toml")
    proxy_spec = next(n for n in fleet.nodes if n.name == "proxy-1")
    assert proxy_spec.role.value == "proxy" and proxy_spec.follows == ("source-1", "source-2", "source-3")
    assert all(n.follows == ("proxy-1",) for n in fleet.nodes if n.role.value == "light")

    def group() -> tuple[str, ...]:
        return proxy.statistics().consensus_group

    await wait_for(lambda: group() == ("source-1", "source-2", "source-3") and proxy.statistics().heads.safe >= 3,
                   60, "the proxy's consensus over three sources")
    await wait_for(lambda: all(light_safe(devnet, i) >= 3 for i in range(2)), 60, "light nodes following")

    # source-2 lies about every output root: two against one, it is banned
    liar = devnet.sources[1]
    honest = liar.output_at

    async def lying_output_at(number):
        output, ref, status = await honest(number)
        return replace(output, state_root=b"\x66" * 32), ref, status

    liar.output_at = lying_output_at
    await wait_for(lambda: any(b.name == "source-2" and b.banned for b in proxy.statistics().backends), 30,
                   "the liar banned")
    assert "source-2" not in group() and not proxy.statistics().halted

    # source-3 dies: the proxy drops it, source-1 alone carries on (no disagreement left to halt on)
    devnet.stop_source(2)
    await wait_for(lambda: group() == ("source-1",), 30, "the dead source dropped")
    safe_then = min(light_safe(devnet, i) for i in range(2))
    await wait_for(lambda: all(light_safe(devnet, i) >= safe_then + 5 for i in range(2)), 60,
                   "light nodes keep following behind the proxy")
    stats = proxy.statistics()
    assert stats.pinned == "source-1" and not stats.halted
    seq = devnet.sequencer_engine
    for engine in devnet.light_engines:
        head = engine.safe
        assert head.hash == seq.by_number(head.number).hash

"""Shared pieces of the end-to-end tests: a fast devnet (1 s L2 and L1 blocks, 50 ms polls, every
port ephemeral) and the checks the tests share."""

from __future__ import annotations

import socket
from typing import Any

import trio

from opfleet.devnet.engine import DevEngine
from opfleet.devnet.fleet import Devnet, FleetConfig


def fast_config(**overrides: Any) -> FleetConfig:
    fields: dict[str, Any] = dict(base_port=0, l2_block_time=1, l1_block_time=1, node_poll=0.05, batcher_poll=0.1,
                                  tx_interval=0.2, deposit_interval=0, sources=1, lights=2)
    fields.update(overrides)
    return FleetConfig(**fields)


async def start_fleet(nursery: trio.Nursery, **overrides: Any) -> Devnet:
    return await nursery.start(Devnet(fast_config(**overrides)).run)


async def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    with trio.move_on_after(timeout) as scope:
        while not predicate():
            await trio.sleep(0.02)
    assert not scope.cancelled_caught, f"timed out after {timeout}s waiting for {what}"


def source_safe(devnet: Devnet, index: int = 0) -> int:
    driver = devnet.sources[index].driver
    return driver.safe_head.number if driver is not None and driver.started else 0


def light_safe(devnet: Devnet, index: int) -> int:
    """The safe head of light node ``index``'s EL: the node may label a block safe before its EL
    has pulled it (op-node's "source ahead" row), so convergence is checked where blocks are."""
    return devnet.light_engines[index].safe.number


def all_safe_at_least(devnet: Devnet, number: int) -> bool:
    return (all(source_safe(devnet, i) >= number for i in range(len(devnet.sources)))
            and all(light_safe(devnet, i) >= number for i in range(len(devnet.lights))))


def same_chain(engine: DevEngine, reference: DevEngine, upto: int) -> None:
    for n in range(upto + 1):
        ours, theirs = engine.by_number(n), reference.by_number(n)
        assert ours is not None and theirs is not None, f"block {n} missing"
        assert ours.hash == theirs.hash, f"block {n} differs"


def assert_converged(devnet: Devnet, upto: int) -> None:
    """Every source's and light node's safe block at ``upto`` (and below) is the sequencer's."""
    seq = devnet.sequencer_engine
    assert seq is not None
    for i, node in enumerate(devnet.sources):
        assert node.driver.safe_head.hash == seq.by_number(node.driver.safe_head.number).hash
        same_chain(devnet.source_engines[i], seq, upto)
    for engine in devnet.light_engines:
        assert engine.safe.hash == seq.by_number(engine.safe.number).hash
        same_chain(engine, seq, upto)


def free_base_port(span: int = 16) -> int:
    """A base port with ``span`` free loopback ports above it (for the devnet's --base-port)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + span < 65535 and all(_port_free(base + i) for i in range(span)):
            return base
    raise AssertionError("no free port range")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

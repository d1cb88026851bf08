"""``opfleet devnet``: a whole specialized fleet on this machine (see :mod:`opfleet.devnet.fleet`).

Prints every endpoint once the fleet listens, writes ``DATA_DIR/fleet.toml`` for
``opfleet tui``/``opfleet status``, runs until ``--duration`` or Ctrl-C/SIGTERM (exit 130; the
shutdown is one cancellation, well under two seconds). With ``--tui`` the TUI runs in the
foreground on the profile (``--duration`` ends it with SIGINT) and the devnet's logs go to
``DATA_DIR/devnet.log``. A busy port or a
second devnet on the same data directory is a one-line ConfigError (exit 3). ``--interop`` adds
chain 902, a supernode deriving both chains (routes ``/901`` and ``/902``), a light node on each
route and a stream of cross-chain messages, some forged (their blocks get replaced).

Every fork, Karst included, runs from genesis unless ``--fork NAME=+DURATION`` (or
``NAME=off``, repeatable) schedules it relative to the start (:mod:`opfleet.devnet.schedule`;
an impossible schedule is a one-line ConfigError, exit 3); ``--keep-karst-upgrade-gas`` sets the
rollup config's ``keep_karst_upgrade_gas``.

The L2 execution engine is the dev engine (real blocks and hashes, **not an EVM**) unless
``--engine op-geth[=PATH]`` runs one op-geth per node (:mod:`opfleet.devnet.opgeth`); then the
default schedule stops at the newest fork that binary runs and a later ``--fork`` is refused.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import ConfigError

log = logging.getLogger("opfleet.devnet")


def fleet_config(settings: Any) -> Any:
    """A :class:`~opfleet.devnet.fleet.FleetConfig` from ``opfleet devnet``'s merged settings."""
    from opfleet.devnet.fleet import FleetConfig, parse_nodes
    from opfleet.devnet.schedule import DEFAULT_FORKS, parse_fork_schedule

    counts = parse_nodes(str(settings.get("nodes") or "source=1,light=2"))
    block_time = int(settings.get("block-time") or 2)
    if block_time < 1:
        raise ConfigError("--block-time must be at least 1 second", key="block-time")
    base_port = int(settings.get("base-port") if settings.get("base-port") is not None else 19545)
    engine, binary, newest = engine_setting(str(settings.get("engine") or "dev"))
    forks = parse_fork_schedule(list(settings.get("fork") or []),
                                base=DEFAULT_FORKS if newest is None else _through(newest))
    if binary is not None:
        from opfleet.devnet.opgeth import check_forks

        check_forks(forks, newest, binary=f"op-geth {binary[1]}")
    return FleetConfig(
        l1=str(settings.get("l1") or "embedded"),
        sources=counts["source"],
        lights=counts["light"],
        proxies=counts["proxy"],
        l2_block_time=block_time,
        l1_block_time=max(2, 2 * block_time),
        base_port=base_port,
        data_dir=Path(str(settings.get("data-dir") or "opfleet-devnet")),
        node_poll=min(0.5, block_time / 4),
        interop=bool(settings.get("interop")),
        message_interval=2.0 * block_time,
        forks=forks,
        l1_fork=str(settings.get("l1-fork") or "prague"),
        engine=engine,
        engine_binary=binary[0] if binary is not None else None,
        keep_karst_upgrade_gas=bool(settings.get("keep-karst-upgrade-gas")),
    )


def engine_setting(value: str) -> tuple[str, tuple[Path, str] | None, str | None]:
    """``--engine dev|op-geth[=PATH]`` -> (engine, (op-geth binary, its version) or None, the newest
    fork that binary runs or None). A missing or unusable op-geth is a one-line ConfigError."""
    name, sep, path = value.partition("=")
    name = name.strip().lower()
    if name == "dev" and not sep:
        return "dev", None, None
    if name != "op-geth" or (sep and not path.strip()):
        raise ConfigError(f"--engine: expected dev, op-geth or op-geth=PATH, got {value!r}", key="engine")
    from opfleet.devnet.opgeth import find_op_geth, newest_fork, op_geth_version

    binary = find_op_geth(path.strip() or None)
    version = op_geth_version(binary)
    if version is None:
        raise ConfigError(f"--engine op-geth: {binary} is not op-geth (its `version` names no upstream version)",
                          key="engine")
    newest = newest_fork(version)
    if newest is None:
        raise ConfigError(f"--engine op-geth: op-geth {version} ({binary}) predates every fork this devnet knows "
                          "to run; use op-geth 1.101408.0 or newer", key="engine")
    return "op-geth", (binary, version), newest


def _through(newest: str) -> Any:
    """The default schedule with an engine that stops at ``newest``: every fork through it from
    genesis, later ones off."""
    from opfleet.devnet.engine import ForkTimes

    return ForkTimes.up_to(newest)


def engine_line(config: Any) -> str:
    """What runs the L2: the dev engine, or op-geth (which binary, which forks)."""
    if getattr(config, "engine", "dev") != "op-geth":
        return "opfleet devnet is running (L2 engine: the dev engine, real blocks but not an EVM)"
    from opfleet.devnet.engine import FORK_NAMES

    active = [name for name in FORK_NAMES if getattr(config.forks, name) is not None]
    through = active[-1].capitalize() if active else "Bedrock"
    return (f"opfleet devnet is running (L2 engine: op-geth, one per node, {config.engine_binary}; "
            f"forks through {through})")


def endpoint_lines(devnet: Any) -> list[str]:
    """One line per endpoint: role, name, URL (and whom a follower follows; with --interop, the
    chain, and the supernode's routes)."""
    interop = devnet.config.interop
    width = max([14, *(len(e.name) for e in devnet.endpoints)])
    lines = []
    for e in devnet.endpoints:
        notes = []
        if interop and e.chain and e.role != "l1":
            notes.append(f"chain {e.chain}")
        if e.follows:
            notes.append(f"follows {', '.join(e.follows)}")
        if e.role == "supernode":
            notes.append("routes " + " ".join(f"{e.url}/{cid}" for cid in sorted(devnet.supernode.chains)))
        suffix = f"  ({'; '.join(notes)})" if notes else ""
        lines.append(f"  {e.role:<9} {e.name:<{width}} {e.url}{suffix}")
    return lines


def fork_lines(config: Any) -> list[str]:
    """What ``--fork`` moved off genesis (nothing by default), and the Karst gas rule."""
    from opfleet.devnet.schedule import describe_schedule

    scheduled = describe_schedule(config.forks, config.l2_block_time)
    if not scheduled:
        return []
    lines = [f"  forks: {', '.join(scheduled)}; every other fork from genesis"]
    if config.forks.karst is not None:
        kept = "kept" if config.keep_karst_upgrade_gas else "stripped"
        lines.append(f"  karst upgrade gas: {kept} after the activation block (keep_karst_upgrade_gas="
                     f"{str(config.keep_karst_upgrade_gas).lower()})")
    return lines


async def serve(config: Any, *, out: Any, duration: float = 0.0, tui: bool = False) -> ExitStatus:
    from opfleet.devnet.fleet import Devnet

    devnet = Devnet(config)
    stopped_by: list[int] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    stopped_by.append(signum)
                    log.info("Shutting down", extra={"fields": {"signal": signal.Signals(signum).name}})
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(watch_signals)
            await nursery.start(devnet.run)
            profile = Path(config.data_dir) / "fleet.toml"
            out(engine_line(config))
            for line in endpoint_lines(devnet):
                out(line)
            out(f"  fleet profile: {profile}   (opfleet tui --fleet {profile})")
            for line in fork_lines(config):
                out(line)
            if devnet.l1_chain_config_path is not None:
                out(f"  L1 chain config: {devnet.l1_chain_config_path}   "
                    f"(--rollup.l1-chain-config for nodes you attach)")
            if tui:
                code = await _run_tui(profile, duration)
                nursery.cancel_scope.cancel()
                if code not in (0, 130):
                    out(f"the TUI exited with status {code}")
            elif duration > 0:
                await trio.sleep(duration)
                nursery.cancel_scope.cancel()
            else:
                out("Ctrl-C to stop")
    return ExitStatus.INTERRUPTED if stopped_by else ExitStatus.OK


async def _run_tui(profile: Path, duration: float = 0.0) -> int:
    """``opfleet tui --fleet PROFILE`` in the foreground (our terminal); its exit status. With a
    ``duration`` the TUI gets SIGINT when it is over (it restores the terminal and exits 130)."""
    async with trio.open_nursery() as nursery:
        process = await nursery.start(functools.partial(
            trio.run_process, [sys.executable, "-m", "opfleet", "tui", "--fleet", str(profile)], check=False))
        if duration > 0:
            with trio.move_on_after(duration):
                await process.wait()
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
        return await process.wait()


def _logs_to_file(path: Path) -> None:
    """While the TUI owns the terminal, the devnet logs into ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("opfleet")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)


def run(ctx: Context) -> ExitStatus:
    config = fleet_config(ctx.settings)
    tui = bool(ctx.settings.get("tui"))
    if tui:
        _logs_to_file(Path(config.data_dir) / "devnet.log")
    duration = float(ctx.settings.get("duration") or 0.0)
    from opfleet.cli.daemon import run_daemon

    return run_daemon(functools.partial(serve, config, out=ctx.out, duration=duration, tui=tui))

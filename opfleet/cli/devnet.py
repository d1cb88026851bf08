"""``opfleet devnet``: a whole specialized fleet on this machine (see :mod:`opfleet.devnet.fleet`).

Prints every endpoint once the fleet listens (each node's RPC, its EL's RPC and Engine API, the
L1's RPC and beacon API, and the files a node attached by hand needs: JWT secret, rollup config,
L1 chain config), writes ``DATA_DIR/fleet.toml`` for ``opfleet tui``/``opfleet status``, runs
until ``--duration`` or Ctrl-C/SIGTERM (exit 130; the shutdown is one cancellation, well under
two seconds). Stopping on its own (``--duration``, or ``q`` in the TUI) it prints what the fleet
did: blocks sequenced, derived and followed, and whether the nodes agree. Every log line names
the node (and chain) that wrote it, on the terminal and in ``DATA_DIR/devnet.log``. With
``--tui`` the TUI runs in the foreground on the profile, reading our terminal's keyboard
(``--duration`` ends it with SIGINT), and the logs go to the file only. An unreachable ``--l1``
URL exits 5. A busy port or a
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
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from opfleet.cli._settings import nonempty, setting
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.config.spec import DEVNET
from opfleet.errors import ConfigError

LOG_FILE = "devnet.log"


def fleet_config(settings: Any) -> Any:
    """A :class:`~opfleet.devnet.fleet.FleetConfig` from ``opfleet devnet``'s merged settings."""
    from opfleet.devnet.fleet import FleetConfig, parse_nodes
    from opfleet.devnet.schedule import DEFAULT_FORKS, parse_fork_schedule

    counts = parse_nodes(str(setting(settings, "nodes", DEVNET)))
    block_time = int(setting(settings, "block-time", DEVNET))
    if block_time < 1:
        raise ConfigError("--block-time must be at least 1 second", key="block-time")
    base_port = int(setting(settings, "base-port", DEVNET))
    engine, binary, newest = engine_setting(str(setting(settings, "engine", DEVNET)))
    forks = parse_fork_schedule(list(settings.get("fork") or []),
                                base=DEFAULT_FORKS if newest is None else _through(newest))
    if binary is not None:
        from opfleet.devnet.opgeth import check_forks

        check_forks(forks, newest, binary=f"op-geth {binary[1]}")
    return FleetConfig(
        l1=nonempty(settings, "l1", DEVNET, hint="give embedded, anvil or the URL of an L1"),
        sources=counts["source"],
        lights=counts["light"],
        proxies=counts["proxy"],
        l2_block_time=block_time,
        l1_block_time=max(2, 2 * block_time),
        base_port=base_port,
        data_dir=Path(nonempty(settings, "data-dir", DEVNET, hint="give a directory")),
        node_poll=min(0.5, block_time / 4),
        interop=bool(settings.get("interop")),
        message_interval=2.0 * block_time,
        forks=forks,
        l1_fork=str(setting(settings, "l1-fork", DEVNET)),
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
    """Every endpoint, labelled with what it serves: the L1's RPC and beacon API, then each node's
    RPC (whom it follows; with --interop its chain, the supernode's routes) with its execution
    client's RPC and Engine API below it."""
    from opfleet.log import mask_url

    interop = devnet.config.interop
    width = max([14, *(len(e.name) for e in devnet.endpoints)])
    url_width = max([22, *(len(e.url) for e in devnet.endpoints)])
    els = {e.name: e for e in devnet.endpoints if e.role == "engine"}
    shown: set[str] = set()
    lines = []

    def row(role: str, name: str, url: str, what: str) -> None:
        lines.append(f"  {role:<9} {name:<{width}} {url:<{url_width}}  {what}")

    def el_rows(name: str) -> None:
        el = els.get(name)
        if el is None:
            return
        shown.add(name)
        row("", el.name, el.url, "EL RPC (eth_ JSON-RPC)")
        if devnet.engine_apis.get(name):
            row("", "", devnet.engine_apis[name], "Engine API (--l2, with the JWT secret)")

    for e in devnet.endpoints:
        if e.role == "engine":
            continue
        if e.role == "l1":  # an operator's L1 URL may carry credentials
            row("l1", e.name, mask_url(e.url), f"L1 RPC (--l1), chain {e.chain}")
            row("", "l1-beacon", mask_url(e.url), "L1 beacon API (--l1.beacon)")
            continue
        notes = []
        if interop and e.chain:
            notes.append(f"chain {e.chain}")
        if e.follows:
            notes.append(f"follows {', '.join(e.follows)}")
        if e.role == "supernode":
            notes.append("routes " + " ".join(f"{e.url}/{cid}" for cid in sorted(devnet.supernode.chains)))
        row(e.role, e.name, e.url, "node RPC" + (f" ({'; '.join(notes)})" if notes else ""))
        if e.role == "supernode":
            for cid in sorted(devnet.supernode.chains):
                el_rows(f"supernode-{cid}-el")
        else:
            el_rows(f"{e.name}-el")
    for name in els:  # engines started for nodes outside the fleet
        if name not in shown:
            el_rows(name)
    return lines


def file_lines(devnet: Any, log_file: Path | None = None) -> list[str]:
    """The files the devnet wrote, and one command attaching a node of your own to it."""
    from opfleet.log import mask_url

    config = devnet.config
    files = [("JWT secret", devnet.jwt_path, "--l2.jwt-secret of every Engine API above")]
    files += [(f"rollup config {cid}" if config.interop else "rollup config", path, "--rollup.config")
              for cid, path in sorted(devnet.rollup_paths.items())]
    files += [("L1 chain config", devnet.l1_chain_config_path, "--rollup.l1-chain-config for nodes you attach"),
              ("fleet profile", Path(config.data_dir) / "fleet.toml" if config.data_dir is not None else None,
               f"opfleet tui --fleet {Path(config.data_dir or '.') / 'fleet.toml'}"),
              ("logs", log_file, "every line names its node")]
    lines = [f"  {label + ':':<18} {path}   ({what})" for label, path, what in files if path is not None]
    source = next((e for e in devnet.endpoints if e.role == "source"), None)
    rollup = devnet.rollup_paths.get(min(devnet.rollup_paths)) if devnet.rollup_paths else None
    if source is not None and rollup is not None and devnet.jwt_path is not None:
        extra = (f" --rollup.l1-chain-config {devnet.l1_chain_config_path}"
                 if devnet.l1_chain_config_path is not None else "")
        lines.append(f"  attach a light node: opfleet light --follow {source.url} --l1 {mask_url(devnet.l1_url)} "
                     f"--rollup.config {rollup}{extra} --l2 YOUR_EL_ENGINE_API --l2.jwt-secret {devnet.jwt_path} "
                     "--rpc.port PORT")
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


async def summary_lines(devnet: Any, elapsed: float, *, timeout: float = 5.0) -> list[str]:
    """What the fleet did, read from its nodes as it stops: blocks each sequencer sequenced
    (its unsafe head), each source derived and each light node followed (their safe heads), and,
    per chain, whether every node has the same block at the lowest safe head they share (read
    from each node's execution client)."""
    from opfleet.providers.jsonrpc import JsonRpcClient

    rows: list[tuple[str, str, str, str]] = []  # (name, chain, node URL, EL RPC URL)
    els = {e.name: e.url for e in devnet.endpoints if e.role == "engine"}
    roles: dict[str, str] = {}
    for e in devnet.endpoints:
        if e.role in ("sequencer", "source", "light"):
            rows.append((e.name, e.chain, e.url, els.get(f"{e.name}-el", "")))
            roles[e.name] = e.role
        elif e.role == "supernode":
            for cid in sorted(devnet.supernode.chains):
                name = f"supernode/{cid}"
                rows.append((name, str(cid), f"{e.url}/{cid}", els.get(f"supernode-{cid}-el", "")))
                roles[name] = "source"
    heads: dict[str, tuple[int, int] | str] = {}
    hashes: dict[str, str | None] = {}

    async def call(url: str, method: str, *params: Any) -> Any:
        async with JsonRpcClient(url, name="summary", timeout=timeout) as rpc:
            return await rpc.call(method, *params)

    async def read_heads(name: str, url: str) -> None:
        try:
            status = await call(url, "optimism_syncStatus")
            heads[name] = (int(status["unsafe_l2"]["number"]), int(status["safe_l2"]["number"]))
        except Exception as exc:  # reported as that node's line
            heads[name] = f"no answer ({str(exc).splitlines()[0][:80]})"

    async def read_hash(name: str, url: str, number: int) -> None:
        try:
            block = await call(url, "eth_getBlockByNumber", hex(number), False)
            hashes[name] = block["hash"] if block else None
        except Exception:  # an EL that cannot answer shows as no block
            hashes[name] = None

    with trio.move_on_after(2 * timeout):
        async with trio.open_nursery() as nursery:
            for name, _, url, _ in rows:
                nursery.start_soon(read_heads, name, url)
    lines = [f"opfleet devnet stopped after {elapsed:.0f}s:"]
    verbs = {"sequencer": "sequenced", "source": "derived", "light": "followed"}
    width = max([12, *(len(name) for name, *_ in rows)])
    for name, chain, _, _ in rows:
        head = heads.get(name, "no answer (timed out)")
        if isinstance(head, str):
            lines.append(f"  {name:<{width}} {head}")
            continue
        unsafe, safe = head
        count = unsafe if roles[name] == "sequencer" else safe
        chain_note = f", chain {chain}" if devnet.config.interop else ""
        lines.append(f"  {name:<{width}} {verbs[roles[name]]:<9} {count:>7,} blocks   "
                     f"(unsafe #{unsafe:,}, safe #{safe:,}{chain_note})")
    for chain in sorted({chain for _, chain, _, _ in rows}):
        safe_heads = {name: head[1] for name, head in heads.items() if isinstance(head, tuple)}
        members = [(name, el) for name, c, _, el in rows if c == chain and name in safe_heads and el]
        if len(members) < 2:
            continue
        common = min(safe_heads[name] for name, _ in members)
        if common == 0:
            lines.append(f"  chain {chain}: no safe block beyond genesis yet, nothing to compare")
            continue
        with trio.move_on_after(2 * timeout):
            async with trio.open_nursery() as nursery:
                for name, el in members:
                    nursery.start_soon(read_hash, name, el, common)
        by_hash: dict[str | None, list[str]] = {}
        for name, _ in members:
            by_hash.setdefault(hashes.get(name), []).append(name)
        if len(by_hash) == 1 and None not in by_hash:
            only = next(iter(by_hash))
            lines.append(f"  chain {chain}: no divergence ({len(members)} nodes have the same block "
                         f"#{common:,} {str(only)[:10]}…)")
        else:
            groups = "  vs  ".join(f"{','.join(names)} {str(h)[:10] + '…' if h else 'none'}"
                                   for h, names in by_hash.items())
            lines.append(f"  chain {chain}: DIVERGENCE at safe block #{common:,}: {groups}")
    return lines


async def serve(config: Any, *, out: Any, duration: float = 0.0, tui: bool = False,
                log_file: Path | None = None) -> ExitStatus:
    from opfleet.cli.daemon import open_signal_scope
    from opfleet.devnet.fleet import Devnet

    devnet = Devnet(config)
    async with open_signal_scope() as scope:
        await scope.nursery.start(devnet.run)
        started = trio.current_time()
        profile = Path(config.data_dir) / "fleet.toml"
        out(engine_line(config))
        for line in endpoint_lines(devnet):
            out(line)
        for line in file_lines(devnet, log_file):
            out(line)
        for line in fork_lines(config):
            out(line)
        if tui:
            code = await _run_tui(profile, duration)
            if code not in (0, 130):
                out(f"the TUI exited with status {code}")
        elif duration > 0:
            await trio.sleep(duration)
        else:
            out("Ctrl-C to stop")
            await trio.sleep_forever()
        if scope.signal is None:  # stopped on its own: say what the fleet did
            for line in await summary_lines(devnet, trio.current_time() - started):
                out(line)
    return scope.exit_status


async def _run_tui(profile: Path, duration: float = 0.0) -> int:
    """``opfleet tui --fleet PROFILE`` in the foreground (our terminal); its exit status. With a
    ``duration`` the TUI gets SIGINT when it is over (it restores the terminal and exits 130)."""
    async with trio.open_nursery() as nursery:
        # stdin=None: the TUI reads our terminal (trio's default would hand it an empty pipe).
        process = await nursery.start(functools.partial(
            trio.run_process, [sys.executable, "-m", "opfleet", "tui", "--fleet", str(profile)], check=False,
            stdin=None))
        if duration > 0:
            with trio.move_on_after(duration):
                await process.wait()
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
        return await process.wait()


def run(ctx: Context) -> ExitStatus:
    from opfleet.log import log_to_file

    config = fleet_config(ctx.settings)
    tui = bool(ctx.settings.get("tui"))
    # The logs also go to a file (only there while the TUI owns the terminal), fields included.
    log_file = log_to_file(Path(config.data_dir) / LOG_FILE, fmt=str(ctx.setting("log.format")), only=tui)
    duration = float(ctx.setting("duration"))
    from opfleet.cli.daemon import run_daemon

    return run_daemon(functools.partial(serve, config, out=ctx.out, duration=duration, tui=tui,
                                        log_file=log_file))

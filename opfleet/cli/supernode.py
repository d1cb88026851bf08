"""``opfleet supernode``: run every chain of an interop set in one process until Ctrl-C
(see :mod:`opfleet.interop.supernode`).

Chains come from ``--chain NAME|FILE`` (a built-in network or a rollup.json; repeat). Each chain's
execution client comes from, lowest to highest precedence (op-supernode's style,
``op-supernode/README.md``, ``op-supernode/flags/flags.go``):

1. the profile's ``[chains.<chainID>]`` table (keys ``l2``, ``l2.jwt-secret``, ``verifier.l1-confs``,
   ``rollup.l1-chain-config``; relative paths are relative to the profile);
2. ``OP_SUPERNODE_VN_ALL_<SUFFIX>`` then ``OP_SUPERNODE_VN_<CHAINID>_<SUFFIX>`` (suffix = the flag
   upper-cased, ``.``/``-`` as ``_``: ``L2``, ``L2_JWT_SECRET``);
3. ``--vn.all.<flag> VALUE`` then ``--vn.<chainID>.<flag> VALUE``.

Everything is checked before anything starts: a missing or unknown per-chain setting is a
:class:`~opfleet.errors.ConfigError` naming the flag that would set it. SIGINT/SIGTERM stop the
supernode with exit status 130.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opfleet.cli._settings import positive, setting
from opfleet.cli.daemon import batch_size, required, run_daemon, run_until_signal, server_settings
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.config import spec
from opfleet.errors import ConfigError

CHAIN_KEYS = ("l2", "l2.jwt-secret", "verifier.l1-confs", "rollup.l1-chain-config")
"""The per-chain settings (``--vn.<chainID>.<key>``)."""
_PATH_KEYS = ("l2.jwt-secret", "rollup.l1-chain-config")
"""Per-chain settings naming a file: relative to the profile when they come from it."""


def _load_chain(ref: str) -> Any:
    from opfleet.config.chain import load_rollup_config

    looks_like_file = ref.endswith(".json") or "/" in ref or Path(ref).expanduser().is_file()
    return load_rollup_config({"rollup.config": ref} if looks_like_file else {"network": ref})


def _env_suffix(key: str) -> str:
    return key.upper().replace(".", "_").replace("-", "_")


def chain_settings(chain_id: int, *, profile_table: dict[str, Any] | None, profile_dir: Path | None,
                   env: dict[str, str], passthrough: list[tuple[str, str]]) -> dict[str, tuple[Any, str]]:
    """One chain's raw settings with where each came from (see the module docstring)."""
    from opfleet.config.settings import normalize_key

    known = {normalize_key(k): k for k in CHAIN_KEYS}
    out: dict[str, tuple[Any, str]] = {}
    for raw_key, value in _flatten(profile_table or {}).items():
        key = known.get(normalize_key(raw_key))
        if key is None:
            raise ConfigError(f"unknown per-chain setting {raw_key!r} (known: {', '.join(CHAIN_KEYS)})",
                              source=f"[chains.{chain_id}]")
        if key in _PATH_KEYS and profile_dir is not None and not Path(str(value)).expanduser().is_absolute():
            value = str(profile_dir / str(value))
        out[key] = (value, f"[chains.{chain_id}]")
    for scope in ("ALL", str(chain_id)):
        for key in CHAIN_KEYS:
            name = f"OP_SUPERNODE_VN_{scope}_{_env_suffix(key)}"
            if env.get(name):
                out[key] = (env[name], f"${name}")
    for scope in ("all", str(chain_id)):
        for flag, value in passthrough:
            _, _, rest = flag.partition(".")
            which, _, raw_key = rest.partition(".")
            if which not in ("all", str(chain_id)) and not which.isdigit():
                raise ConfigError(f"--{flag}: expected --vn.<chainID>.<flag> or --vn.all.<flag>")
            if which != scope:
                continue
            key = known.get(normalize_key(raw_key))
            if key is None:
                raise ConfigError(f"unknown per-chain flag --{flag} (known: "
                                  f"{', '.join('--vn.<chainID>.' + k for k in CHAIN_KEYS)})")
            out[key] = (value, f"--{flag}")
    return out


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def supernode_config(settings: Any, *, profile: Any = None, env: dict[str, str] | None = None,
                     passthrough: list[tuple[str, str]] | None = None) -> Any:
    """A :class:`~opfleet.interop.supernode.SupernodeConfig` from ``opfleet supernode``'s settings."""
    from opfleet.config.chain import l1_blob_schedule
    from opfleet.interop.supernode import ChainSettings, SupernodeConfig
    from opfleet.node.source import check_supported
    from opfleet.providers.jwt import load_jwt_secret

    refs = settings.get("chain") or ()
    if not refs:
        raise ConfigError("no chains given: set --chain NAME|FILE once per chain of the set", key="chain")
    l1 = required(settings, "l1", "the L1 execution RPC endpoint")
    beacon = settings.get("l1.beacon") or None
    tables = (getattr(profile, "raw_tables", {}) or {}).get("chains", {}) if profile is not None else {}
    profile_dir = profile.path.parent if profile is not None else None
    chains = []
    seen: set[int] = set()
    for ref in refs:
        rollup = _load_chain(str(ref))
        check_supported(rollup)
        cid = rollup.l2_chain_id
        if cid in seen:
            raise ConfigError(f"chain {cid} is given twice", key="chain")
        seen.add(cid)
        if beacon is None and rollup.ecotone_time is not None:
            raise ConfigError("missing the L1 beacon endpoint (blobs are read from it from Ecotone): set --l1.beacon",
                              key="l1.beacon")
        raw = chain_settings(cid, profile_table=tables.get(str(cid)), profile_dir=profile_dir, env=env or {},
                             passthrough=passthrough or [])
        for key, what in (("l2", "execution client's Engine API endpoint"),
                          ("l2.jwt-secret", "JWT secret file shared with the execution client")):
            if key not in raw:
                raise ConfigError(f"chain {cid}: missing the {what}: set --vn.{cid}.{key} (or --vn.all.{key}, "
                                  f"or {key} in the profile's [chains.{cid}])")
        confs_raw, confs_where = raw.get("verifier.l1-confs", (spec.default("verifier.l1-confs"), "default"))
        try:
            confs = int(confs_raw)
        except (TypeError, ValueError):
            raise ConfigError(f"chain {cid}: verifier.l1-confs must be an integer, not {confs_raw!r}",
                              source=confs_where) from None
        l1_chain_config, _ = raw.get("rollup.l1-chain-config", (None, "default"))
        blob_schedule = l1_blob_schedule(
            rollup, l1_chain_config, key=None,
            flag=f"--vn.all.rollup.l1-chain-config (or --vn.{cid}.rollup.l1-chain-config)")
        chains.append(ChainSettings(rollup_config=rollup, l2_url=str(raw["l2"][0]),
                                    jwt_secret=load_jwt_secret(str(raw["l2.jwt-secret"][0])), l1_confs=confs,
                                    blob_schedule=blob_schedule))
    for flag, _ in passthrough or []:
        which = flag.split(".")[1] if flag.count(".") >= 2 else ""
        if which.isdigit() and int(which) not in seen:
            raise ConfigError(f"--{flag}: chain {which} is not one of the --chain chains ({', '.join(map(str, seen))})")
    dep_set = settings.get("interop.dependency-set")
    try:
        dependency_set = tuple(int(x) for x in dep_set) if dep_set else None
    except ValueError:
        raise ConfigError(f"--interop.dependency-set takes decimal chain IDs, not {dep_set!r}") from None
    return SupernodeConfig(
        chains=tuple(chains),
        l1_url=str(l1),
        l1_beacon_url=str(beacon) if beacon else None,
        l1_beacon_seconds_per_slot=int(setting(settings, "l1.beacon.seconds-per-slot", spec.SUPERNODE)),
        l1_poll_interval=positive(settings, "l1.http-poll-interval", spec.SUPERNODE),
        l1_max_batch_size=batch_size(settings, spec.SUPERNODE),
        **server_settings(settings, spec.SUPERNODE),
        data_dir=settings.get("data-dir") or None,
        # 0: a route whose chain is not ready answers 503 at once
        gate_timeout=float(setting(settings, "interop.gate-timeout", spec.SUPERNODE)),
        dependency_set=dependency_set,
    )


async def serve(config: Any) -> ExitStatus:
    """Run the supernode until SIGINT/SIGTERM (-> 130) or a critical error (raised)."""
    from opfleet.interop.supernode import Supernode

    return await run_until_signal(Supernode(config).run)


def run(ctx: Context) -> ExitStatus:
    from opfleet.config import profiles

    profile_ref = ctx.args.get("profile") or ctx.env.vars.get("OPFLEET_PROFILE") or None
    profile = profiles.load(profile_ref, ctx.env.config_dir) if profile_ref else None
    config = supernode_config(ctx.settings, profile=profile, env=dict(ctx.env.vars),
                              passthrough=ctx.args.get("passthrough") or [])
    return run_daemon(serve, config)

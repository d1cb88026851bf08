"""Generate the built-in network rollup configs from superchain-registry TOMLs.

Usage::

    python -m opfleet.config.networks._build SRC_DIR [--out DIR] [--check]

``SRC_DIR`` holds ``<network>.toml`` for each name in :data:`NETWORKS` (a registry chain file,
``superchain/configs/<superchain>/<chain>.toml``) and ``superchain-<superchain>.toml`` (the
registry's ``superchain.toml``), where ``<superchain>`` is the part of the network name after
its last ``-`` (``op-mainnet`` → ``superchain-mainnet.toml``). The assembly follows op-node's
``LoadOPStackRollupConfig`` (``op-node/rollup/superchain.go``): regolith at 0 unless set,
channel timeout 300 (Granite's is the constant 50), deposit contract = ``OptimismPortalProxy``,
L1 system config = ``SystemConfigProxy``, L1 chain id from the superchain file. The chain's own
``[hardforks]`` table is used as is: the registry already resolved superchain-wide times into it.

Without ``--out`` the files are written next to this module; ``--check`` writes nothing and
exits 1 if any committed file differs from what the TOMLs give.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from opfleet.config.networks import NETWORKS
from opfleet.protocol.rollup_config import RollupConfig

DEFAULT_CHANNEL_TIMEOUT = 300
DEFAULT_REGOLITH_TIME = 0
GRANITE_CHANNEL_TIMEOUT = 50

_FORK_TIME_KEYS = (
    "canyon_time",
    "delta_time",
    "ecotone_time",
    "fjord_time",
    "granite_time",
    "holocene_time",
    "pectra_blob_schedule_time",
    "isthmus_time",
    "jovian_time",
    "karst_time",
    "interop_time",
    "lagoon_time",
)
_SYSTEM_CONFIG_EXTRA_KEYS = (
    "eip1559Params",
    "operatorFeeParams",
    "minBaseFee",
    "daFootprintGasScalar",
)


def superchain_of(network: str) -> str:
    """``op-mainnet`` → ``mainnet``: which ``superchain-*.toml`` a network belongs to."""
    return network.rsplit("-", 1)[1]


def rollup_json_from_registry(chain: dict[str, Any], superchain: dict[str, Any]) -> dict[str, Any]:
    """Assemble an op-node rollup.json object from a registry chain TOML and its superchain TOML."""
    genesis = chain["genesis"]
    system = genesis["system_config"]
    hardforks = chain.get("hardforks", {})
    optimism = chain.get("optimism")
    addresses = chain["addresses"]

    system_config = {
        "batcherAddr": system["batcherAddress"],
        "overhead": system["overhead"],
        "scalar": system["scalar"],
        "gasLimit": system["gasLimit"],
    }
    system_config.update({key: system[key] for key in _SYSTEM_CONFIG_EXTRA_KEYS if key in system})

    out: dict[str, Any] = {
        "genesis": {
            "l1": {"hash": genesis["l1"]["hash"], "number": genesis["l1"]["number"]},
            "l2": {"hash": genesis["l2"]["hash"], "number": genesis["l2"]["number"]},
            "l2_time": genesis["l2_time"],
            "system_config": system_config,
        },
        "block_time": chain["block_time"],
        "max_sequencer_drift": chain["max_sequencer_drift"],
        "seq_window_size": chain["seq_window_size"],
        "channel_timeout": DEFAULT_CHANNEL_TIMEOUT,
        "granite_channel_timeout": GRANITE_CHANNEL_TIMEOUT,
        "l1_chain_id": superchain["l1"]["chain_id"],
        "l2_chain_id": chain["chain_id"],
        "regolith_time": hardforks.get("regolith_time", DEFAULT_REGOLITH_TIME),
    }
    out.update({key: hardforks[key] for key in _FORK_TIME_KEYS if key in hardforks})
    if hardforks.get("keep_karst_upgrade_gas"):
        out["keep_karst_upgrade_gas"] = True
    out["batch_inbox_address"] = chain["batch_inbox_addr"]
    out["deposit_contract_address"] = addresses["OptimismPortalProxy"]
    out["l1_system_config_address"] = addresses["SystemConfigProxy"]
    if optimism is not None:
        out["chain_op_config"] = {
            "eip1559Elasticity": optimism["eip1559_elasticity"],
            "eip1559Denominator": optimism["eip1559_denominator"],
            "eip1559DenominatorCanyon": optimism["eip1559_denominator_canyon"],
        }
    if "alt_da" in chain:
        out["alt_da"] = dict(chain["alt_da"])
    return out


def build_network(src_dir: Path, network: str) -> str:
    """The committed JSON text for ``network``: parsed and re-emitted by :class:`RollupConfig`."""
    chain_path = src_dir / f"{network}.toml"
    superchain_path = src_dir / f"superchain-{superchain_of(network)}.toml"
    chain = tomllib.loads(chain_path.read_text(encoding="utf-8"))
    superchain = tomllib.loads(superchain_path.read_text(encoding="utf-8"))
    obj = rollup_json_from_registry(chain, superchain)
    config = RollupConfig.from_json(obj, source=str(chain_path))
    return json.dumps(config.to_json(), indent=1) + "\n"


def build_all(src_dir: Path) -> dict[str, str]:
    """JSON text for every built-in network, keyed by network name."""
    return {network: build_network(src_dir, network) for network in NETWORKS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opfleet.config.networks._build",
        description="Generate the built-in network rollup configs from registry TOMLs.",
    )
    parser.add_argument(
        "src_dir", type=Path, help="directory with <network>.toml and superchain-<name>.toml"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent, help="where to write <network>.json"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a committed file is stale"
    )
    args = parser.parse_args(argv)

    stale = []
    for network, text in build_all(args.src_dir).items():
        target = args.out / f"{network}.json"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(network)
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    if stale:
        print(f"stale: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

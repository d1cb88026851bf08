"""``opfleet deploy kubernetes``: write the fleet's manifests (:mod:`opfleet.deploy.kubernetes`).

The renderer is pure; this module reads the fleet profile and the shipped rules, and writes the
files. Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

from pathlib import Path

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import ConfigError, UsageError


def _networks() -> dict[str, str]:
    """Chain ID -> built-in network name."""
    from opfleet.config import networks

    return {str(networks.network_json(name)["l2_chain_id"]): name for name in networks.NETWORKS}


def run(ctx: Context) -> ExitStatus:
    from opfleet.deploy.kubernetes import Parameters, plan, render
    from opfleet.monitor.alerts import load_rules
    from opfleet.monitor.fleet import load_profile

    path = ctx.arg("fleet")
    if not path:
        raise UsageError("--fleet FILE is required: the fleet profile whose topology to render")
    fleet = load_profile(path)
    params = Parameters(
        namespace=ctx.arg("namespace", "opfleet"), image=ctx.arg("image", "opfleet:latest"),
        el=ctx.arg("el", "op-geth"), el_image=ctx.arg("el-image"), proxy_image=ctx.arg("proxy-image"),
        source_storage=ctx.arg("source-storage", "1Ti"), light_storage=ctx.arg("light-storage", "500Gi"),
        storage_class=ctx.arg("storage-class"), light_max_replicas=int(ctx.arg("light-max-replicas", 10)),
    )
    topology = plan(fleet.nodes, networks=_networks(), name=fleet.name)
    files = render(topology, params, load_rules())
    out = Path(ctx.arg("out", "opfleet-k8s"))
    existing = sorted(rel for rel in files if (out / rel).exists())
    if existing and not ctx.arg("force"):
        raise ConfigError(f"{len(existing)} file(s) already there (e.g. {existing[0]}); pass --force "
                          "to overwrite", source=str(out))
    try:
        for rel, text in files.items():
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the manifests: {exc.strerror or exc}", source=str(out)) from None
    for note in topology.notes:
        ctx.env.stderr.write(f"opfleet: note: {note}\n")
    ctx.out(f"wrote {len(files)} files to {out}/ ({', '.join(sorted({r.split('/')[0] for r in files if '/' in r}))})")
    ctx.out(f"next: add {out}/jwt.hex and {out}/l1.env (see {out}/README.txt), then kubectl apply -k {out}")
    return ExitStatus.OK

"""``opfleet version [--verbose]``."""

from __future__ import annotations

import platform

from opfleet._version import __version__
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context

DEPENDENCIES = ("trio", "httpx", "rlp", "ckzg", "brotli", "textual", "rich", "tomli_w",
                "pycryptodome", "coincurve")


def run(ctx: Context) -> ExitStatus:
    ctx.out(f"opfleet {__version__}")
    if not ctx.args.get("verbose"):
        return ExitStatus.OK
    from importlib.metadata import PackageNotFoundError, version

    from opfleet import plugins
    from opfleet.config import networks

    ctx.out(f"python {platform.python_version()} ({platform.platform()})")
    ctx.out("dependencies:")
    for name in DEPENDENCIES:
        try:
            ctx.out(f"  {name} {version(name)}")
        except PackageNotFoundError:
            ctx.out(f"  {name} (not installed)")
    registry = plugins.load_plugins(plugins.plugin_dirs(ctx.env.config_dir))
    ctx.out("networks: " + ", ".join([*networks.NETWORKS, *sorted(registry.networks)]))
    ctx.out("built-in networks from: " + networks.registry_snapshot())
    ctx.out("plugins:" if registry.statuses else "plugins: none found (searched: "
            + ", ".join(str(d) for d in plugins.plugin_dirs(ctx.env.config_dir)) + ")")
    for status in registry.statuses:
        state = "loaded" if status.loaded else f"FAILED: {status.error}"
        ctx.out(f"  {status.name} ({status.origin}): {state}")
    return ExitStatus.OK

"""Child processes the devnet runs (anvil, op-geth, op-node): how they are stopped."""

from __future__ import annotations

import trio


async def stop_process(process: trio.Process, timeout: float) -> None:
    """SIGTERM, up to ``timeout`` seconds for a clean exit, then SIGKILL; close its output pipe.

    Shielded, so a devnet being cancelled still leaves no child behind.
    """
    with trio.CancelScope(shield=True):
        if process.returncode is None:
            process.terminate()
            with trio.move_on_after(timeout):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()

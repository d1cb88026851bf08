"""``status --check-follow LIGHT SOURCE``: does a light node hold exactly its source's chain?

The migration guide asks operators to verify a light node against its source before shifting
traffic to it (``docs/public-docs/notices/specialized-node-topology.mdx``). This compares the two
nodes at heights both have: each node's ``optimism_syncStatus`` (``op-service/eth/sync_status.go``)
gives the heads; at the shared finalized, safe and unsafe heights (and a few between) both are
asked ``optimism_outputAtBlock`` (``op-service/eth/output.go``) and must
agree on the block hash and the output root. A node that does not serve ``optimism_outputAtBlock``
is compared on block hashes from the heads alone, and the report says so.

First of all both are asked ``optimism_rollupConfig`` (``op-node/rollup/types.go``): two nodes of
different chains (L2 chain id, or L2/L1 genesis) are not a divergence but a wrong pair of URLs,
reported as such (``status`` exits 3, a setting is wrong) before any block is compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from opfleet.errors import OpfleetError
from opfleet.log import mask_url
from opfleet.protocol.rollup_api import ChainIdentity
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import RpcCallError
from opfleet.providers.rollup_node import RollupNodeClient

__all__ = ["FollowCheck", "HeightCheck", "chain_difference", "check_follow"]


@dataclass(frozen=True, slots=True)
class HeightCheck:
    """One compared height: hashes (and output roots when both served them)."""

    number: int
    label: str  # "finalized", "safe", "unsafe" or "sample"
    light_hash: bytes | None
    source_hash: bytes | None
    light_output: bytes | None = None
    source_output: bytes | None = None

    @property
    def hash_match(self) -> bool | None:
        if self.light_hash is None or self.source_hash is None:
            return None
        return self.light_hash == self.source_hash

    @property
    def output_match(self) -> bool | None:
        if self.light_output is None or self.source_output is None:
            return None
        return self.light_output == self.source_output

    @property
    def mismatch(self) -> bool:
        return self.hash_match is False or self.output_match is False

    def to_json(self) -> dict[str, Any]:
        def hx(value: bytes | None) -> str | None:
            return None if value is None else "0x" + value.hex()

        return {"number": self.number, "label": self.label, "light_hash": hx(self.light_hash),
                "source_hash": hx(self.source_hash), "light_output_root": hx(self.light_output),
                "source_output_root": hx(self.source_output), "hash_match": self.hash_match,
                "output_root_match": self.output_match}


@dataclass(frozen=True, slots=True)
class FollowCheck:
    light_url: str
    source_url: str
    light_error: str | None = None
    source_error: str | None = None
    light_status: SyncStatus | None = None
    source_status: SyncStatus | None = None
    heights: tuple[HeightCheck, ...] = ()
    notes: tuple[str, ...] = field(default=())
    different_chains: str | None = None
    """Why the two are not the same chain (from their rollup configs); None: same, or unknown."""

    @property
    def reachable(self) -> bool:
        return self.light_status is not None and self.source_status is not None

    @property
    def divergent(self) -> bool:
        return self.different_chains is None and any(h.mismatch for h in self.heights)

    @property
    def compared(self) -> int:
        return sum(h.hash_match is not None for h in self.heights)

    @property
    def ok(self) -> bool:
        return (self.reachable and self.different_chains is None and not self.divergent
                and self.compared > 0)

    def lines(self) -> list[str]:
        """The short human report."""
        out = [f"light  {mask_url(self.light_url)}", f"source {mask_url(self.source_url)}"]
        for who, error in (("light", self.light_error), ("source", self.source_error)):
            if error:
                out.append(f"  {who} unreachable: {error}")
        if self.light_status is not None and self.source_status is not None:
            light, source = self.light_status, self.source_status
            out.append(f"  heads (light/source): unsafe {light.unsafe_l2.number}/{source.unsafe_l2.number}"
                       f"  safe {light.safe_l2.number}/{source.safe_l2.number}"
                       f"  finalized {light.finalized_l2.number}/{source.finalized_l2.number}")
        for h in self.heights:
            hash_text = {True: "same hash", False: "DIFFERENT HASH", None: "hash n/a"}[h.hash_match]
            root_text = {True: "same output root", False: "DIFFERENT OUTPUT ROOT",
                         None: "output root n/a"}[h.output_match]
            out.append(f"  block {h.number:>10} ({h.label}): {hash_text}, {root_text}")
        out.extend(f"  note: {n}" for n in self.notes)
        if self.different_chains is not None:
            out.append(f"result: DIFFERENT CHAINS: {self.different_chains}; nothing compared "
                       "(check the two URLs)")
        elif not self.reachable:
            out.append("result: cannot compare (a node is unreachable)")
        elif self.divergent:
            out.append("result: DIVERGENT: the light node does not follow this source's chain")
        elif self.compared == 0:
            out.append("result: no shared height to compare yet")
        else:
            out.append(f"result: OK: {self.compared} shared heights agree")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"light": self.light_url, "source": self.source_url, "ok": self.ok,
                "reachable": self.reachable, "divergent": self.divergent,
                "different_chains": self.different_chains,
                "light_error": self.light_error, "source_error": self.source_error,
                "heights": [h.to_json() for h in self.heights], "notes": list(self.notes)}


def chain_difference(light: ChainIdentity | None, source: ChainIdentity | None) -> str | None:
    """Why two nodes' ``optimism_rollupConfig`` say different chains: L2 chain id, then the L2
    and L1 genesis blocks. None when they agree or either is unknown (not served, not a config)."""
    if light is None or source is None:
        return None
    a, b = light.l2_chain_id, source.l2_chain_id
    if a is not None and b is not None and a != b:
        return f"the light node is on chain {a}, the source on chain {b}"
    for layer in ("l2", "l1"):
        a, b = getattr(light, f"{layer}_genesis_hash"), getattr(source, f"{layer}_genesis_hash")
        if a is not None and b is not None and a != b:
            return f"their {layer.upper()} genesis blocks differ (light {a[:10]}…, source {b[:10]}…)"
    return None


async def _config(client: RollupNodeClient) -> ChainIdentity | None:
    try:
        return await client.chain_identity()
    except OpfleetError:
        return None  # not served, not a config, or down (the status call reports that)


def _shared_heights(light: SyncStatus, source: SyncStatus, samples: int) -> list[tuple[int, str]]:
    """finalized, safe and unsafe heights both nodes have, plus up to ``samples`` spread below."""
    picks: dict[int, str] = {}
    for label, a, b in (("finalized", light.finalized_l2, source.finalized_l2),
                        ("safe", light.safe_l2, source.safe_l2),
                        ("unsafe", light.unsafe_l2, source.unsafe_l2)):
        if a.is_zero() or b.is_zero():
            continue
        picks.setdefault(min(a.number, b.number), label)
    if picks and samples > 0:
        top = max(picks)
        low = min(picks)
        step = max(1, (top - low) // (samples + 1))
        for i in range(1, samples + 1):
            number = low + i * step
            if number < top:
                picks.setdefault(number, "sample")
    return sorted(picks.items())


async def _status(client: RollupNodeClient) -> tuple[SyncStatus | None, str | None]:
    try:
        return await client.sync_status(), None
    except OpfleetError as exc:
        return None, " ".join(str(exc).split())


async def _output(client: RollupNodeClient, number: int) -> tuple[bytes | None, bytes | None, bool]:
    """(block hash, output root, served) at ``number`` via optimism_outputAtBlock."""
    try:
        output = await client.output_at_block(number)
    except RpcCallError as exc:
        return None, None, not exc.is_method_not_found
    except OpfleetError:
        return None, None, True
    return output.block_ref.hash, output.output_root, True


def _head_hash(status: SyncStatus, number: int) -> bytes | None:
    for ref in (status.finalized_l2, status.safe_l2, status.local_safe_l2, status.cross_unsafe_l2,
                status.unsafe_l2):
        if ref.number == number and not ref.is_zero():
            return ref.hash
    return None


async def check_follow(light_url: str, source_url: str, *, timeout: float = 5.0, samples: int = 3,
                       transport: httpx.AsyncBaseTransport | None = None) -> FollowCheck:
    """Compare ``light_url`` against ``source_url`` at their shared heights."""
    async with RollupNodeClient(light_url, transport=transport, timeout=timeout, name="light") as light, \
            RollupNodeClient(source_url, transport=transport, timeout=timeout, name="source") as source:
        statuses: dict[str, tuple[SyncStatus | None, str | None]] = {}
        configs: dict[str, ChainIdentity | None] = {}

        async def read(key: str, client: RollupNodeClient) -> None:
            statuses[key] = await _status(client)
            # an unreachable node is not asked twice (the check reports it as unreachable)
            configs[key] = await _config(client) if statuses[key][0] is not None else None

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read, "light", light)
            nursery.start_soon(read, "source", source)
        (light_status, light_error), (source_status, source_error) = statuses["light"], statuses["source"]
        different = chain_difference(configs["light"], configs["source"])
        if different is not None:
            return FollowCheck(light_url, source_url, light_error, source_error, light_status, source_status,
                               different_chains=different)
        if light_status is None or source_status is None:
            return FollowCheck(light_url, source_url, light_error, source_error, light_status, source_status)
        checks: list[HeightCheck] = []
        served = {"light": True, "source": True}
        for number, label in _shared_heights(light_status, source_status, samples):
            found: dict[str, tuple[bytes | None, bytes | None, bool]] = {}

            async def fetch(key: str, client: RollupNodeClient, number: int = number,
                            found: dict[str, tuple[bytes | None, bytes | None, bool]] = found) -> None:
                found[key] = await _output(client, number)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(fetch, "light", light)
                nursery.start_soon(fetch, "source", source)
            for key in ("light", "source"):
                served[key] = served[key] and found[key][2]
            light_hash = found["light"][0] or _head_hash(light_status, number)
            source_hash = found["source"][0] or _head_hash(source_status, number)
            checks.append(HeightCheck(number, label, light_hash, source_hash, found["light"][1],
                                      found["source"][1]))
        notes = tuple(f"the {key} node does not serve optimism_outputAtBlock: compared block hashes "
                      "from its sync status only" for key, ok in served.items() if not ok)
        return FollowCheck(light_url, source_url, None, None, light_status, source_status,
                           tuple(checks), notes)

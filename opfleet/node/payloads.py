"""``--l2.follow.payloads URL``: keep a light node's execution client at the tip without p2p.

op-node light nodes get unsafe blocks from CL gossip, or let the EL sync itself when a forkchoice
update names a block it lacks (``op-acceptance-tests/tests/sync/follow_l2/sync_test.go``). A fleet
without L2 p2p (and an EL that cannot sync by itself, like the dev engine) needs another way:
copy the blocks from an L2 execution RPC that has them (the sequencer's EL, another node's EL).

The puller keeps its own cursor: the last block it imported (at the first round, our EL's head).
It does not go by our EL's head, because the forkchoice may leave that behind what was imported:
a light node that starts behind makes the source's local-safe block its unsafe head at once (the
decision table's "source ahead" row, as op-node), a block its EL does not have yet, so the EL's
head stays where it was until the puller has imported up to that block (op-node's EL sync works
the same way, the EL fetching the blocks itself).

Each round (every ``interval``, or sooner when woken; at once while blocks are waiting):

1. one batched request to the payloads endpoint: its ``latest`` header and its header at the
   cursor's height;
2. same hash as the cursor: nothing to do. Otherwise find where the chains meet: the cursor if
   the remote chain has it at that height, else walk back (a reorg on the remote side), at most
   ``max_reorg_depth``, comparing with the blocks imported recently or, below them, our EL's;
3. fetch the missing blocks with full transactions, batched (``max_batch`` per request), turn
   each into an execution payload (raw transactions rebuilt from JSON and checked against their
   hashes, :func:`opfleet.engine.l2_chain.raw_transaction`) and ``engine_newPayload`` it (version
   by timestamp, parent beacon root from the header); the next batch is fetched while this one
   is imported;
4. hand the new tip to the node (``on_head``), which makes it the unsafe head with a forkchoice
   update under its engine lock, as op-node does for a gossiped payload, unless the node's unsafe
   head is further on (the block the EL is catching up to).

Our EL answering SYNCING to the first block of a batch (it lost the parent: restarted empty)
sends the cursor back to its head.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio

from opfleet.engine.driver import ref_from_transactions
from opfleet.engine.l2_chain import EngineL2Chain, raw_transaction
from opfleet.errors import BlockNotFoundError, DecodeError, NodeError, TemporaryError
from opfleet.node.outage import Outage
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.engine_api import PayloadStatus
from opfleet.protocol.ethjson import data, header_from_json, quantity
from opfleet.protocol.hexjson import hex_data, hex_quantity, json_object
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient

log = logging.getLogger("opfleet.light")

__all__ = ["PayloadPuller", "PullerStatistics", "payload_from_block"]


def payload_from_block(block: Any, forks: Any) -> tuple[dict[str, Any], bytes | None, list[bytes]]:
    """An ``ExecutionPayload`` (JSON), its parent beacon block root and raw transactions, from an
    ``eth_getBlockByNumber(n, true)`` answer. Raises DecodeError on a malformed block."""
    b = json_object(block, "block")
    header = header_from_json(b)
    txs = b.get("transactions")
    if not isinstance(txs, list):
        raise DecodeError("transactions: expected a list of transaction objects")
    raw = [raw_transaction(tx) for tx in txs]
    payload: dict[str, Any] = {
        "parentHash": hex_data(header.parent_hash),
        "feeRecipient": hex_data(data(b, "miner", 20)),
        "stateRoot": hex_data(header.state_root),
        "receiptsRoot": hex_data(header.receipts_root),
        "logsBloom": hex_data(data(b, "logsBloom", 256)),
        "prevRandao": hex_data(header.mix_hash),
        "blockNumber": hex_quantity(header.number),
        "gasLimit": hex_quantity(header.gas_limit),
        "gasUsed": hex_quantity(header.gas_used),
        "timestamp": hex_quantity(header.timestamp),
        "extraData": hex_data(data(b, "extraData")),
        "baseFeePerGas": hex_quantity(quantity(b, "baseFeePerGas") if b.get("baseFeePerGas") is not None else 0),
        "blockHash": hex_data(header.hash),
        "transactions": [hex_data(tx) for tx in raw],
    }
    if isinstance(b.get("withdrawals"), list):
        payload["withdrawals"] = b["withdrawals"]
    if header.blob_gas_used is not None:
        payload["blobGasUsed"] = hex_quantity(header.blob_gas_used)
        payload["excessBlobGas"] = hex_quantity(header.excess_blob_gas or 0)
    if forks.is_isthmus(header.timestamp) and header.withdrawals_root is not None:
        payload["withdrawalsRoot"] = hex_data(header.withdrawals_root)
    return payload, header.parent_beacon_block_root, raw


@dataclass(frozen=True, slots=True)
class PullerStatistics:
    """A snapshot of a :class:`PayloadPuller`."""

    rounds: int
    blocks_imported: int
    reorgs: int
    invalid: int
    head: L2BlockRef | None
    """The last block imported (the cursor)."""


class PayloadPuller:
    """Copy blocks from ``remote`` (an L2 execution RPC) into our EL; see the module docstring."""

    def __init__(self, rollup_config: RollupConfig, *, remote: JsonRpcClient, engine: EngineClient,
                 l2: EngineL2Chain, on_head: Callable[[L2BlockRef], Awaitable[None]], interval: float,
                 max_batch: int = 20, max_reorg_depth: int = 64):
        self.rollup_config = rollup_config
        self.remote, self.engine, self.l2, self.on_head = remote, engine, l2, on_head
        self.interval = interval
        self.max_batch = max_batch
        self.max_reorg_depth = max_reorg_depth
        self._wake = trio.Event()
        self._counts = {"rounds": 0, "imported": 0, "reorgs": 0, "invalid": 0}
        self._head: L2BlockRef | None = None
        self._cursor: tuple[int, bytes] | None = None
        """(number, hash) of the last block imported, or our EL's head at the first round."""
        self._recent: dict[int, bytes] = {}
        """number -> hash of the blocks imported lately (where a remote reorg is looked for)."""

    def statistics(self) -> PullerStatistics:
        c = self._counts
        return PullerStatistics(c["rounds"], c["imported"], c["reorgs"], c["invalid"], self._head)

    def wake(self) -> None:
        """Pull now rather than at the next interval (the node learned the chain moved)."""
        self._wake.set()

    async def run(self, outage: Outage) -> None:
        """Pull every ``interval`` until cancelled; failures go to ``outage`` (one line per outage)."""
        while True:
            try:
                more = await self.pull_once()
            except (NodeError, DecodeError) as exc:
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            if more:
                continue  # still behind: next batch at once
            with trio.move_on_after(self.interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _remote_header(self, number: int | str) -> Any:
        raw = await self.remote.call("eth_getBlockByNumber", number if isinstance(number, str) else
                                     hex_quantity(number), False)
        if raw is None:
            raise BlockNotFoundError(f"{self.remote.endpoint}: L2 block {number} not found")
        return header_from_json(raw)

    async def _ours(self, height: int) -> bytes | None:
        """The hash of the block we hold at ``height`` on the cursor's chain (None: none known)."""
        cursor = self._cursor
        if cursor is not None and height == cursor[0]:
            return cursor[1]
        known = self._recent.get(height)
        if known is not None:
            return known
        try:
            return (await self.l2.l2_block_ref(height)).hash
        except BlockNotFoundError:
            return None

    async def _meeting_point(self, height: int, theirs: bytes | None) -> tuple[int, bytes]:
        """The highest height at or below ``height`` where our chain and the remote one have the
        same block, and that block's hash (``theirs``: the remote's hash at ``height``, if read)."""
        for _ in range(self.max_reorg_depth + 1):
            if theirs is None:
                theirs = (await self._remote_header(height)).hash
            if await self._ours(height) == theirs:
                return height, theirs
            if height == 0:
                break
            height -= 1
            theirs = None
        raise TemporaryError(f"{self.remote.endpoint}: no common block within {self.max_reorg_depth} blocks "
                             "of our EL's head (another chain?)")

    async def _fetch(self, start: int, end: int) -> list[Any]:
        return await self.remote.batch([("eth_getBlockByNumber", [hex_quantity(n), True])
                                        for n in range(start, end + 1)])

    async def pull_once(self) -> bool:
        """One round; returns True when more blocks are waiting (the remote head is not reached)."""
        self._counts["rounds"] += 1
        if self._cursor is None:
            local = await self.l2.l2_block_ref("latest")
            self._cursor = (local.number, local.hash)
        number, cursor_hash = self._cursor
        latest, at_cursor = await self.remote.batch([("eth_getBlockByNumber", ["latest", False]),
                                                     ("eth_getBlockByNumber", [hex_quantity(number), False])])
        if latest is None:
            raise BlockNotFoundError(f"{self.remote.endpoint}: no latest L2 block")
        remote_head = header_from_json(latest)
        if remote_head.hash == cursor_hash:
            return False
        theirs = header_from_json(at_cursor).hash if at_cursor is not None else None
        height = min(number, remote_head.number)
        meeting, meeting_hash = await self._meeting_point(height, theirs if height == number else None)
        start = meeting + 1
        if start <= number:
            self._counts["reorgs"] += 1
            log.info("Payloads source reorged: re-importing", extra={"fields": {
                "from": start, "local_head": number, "remote_head": remote_head.number}})
            self._cursor = (meeting, meeting_hash)  # the remote chain's blocks from here on
        if remote_head.number < start:
            return False
        end = min(remote_head.number, start + self.max_batch - 1)
        blocks = await self._fetch(start, end)
        async with trio.open_nursery() as nursery:
            while True:
                # The next batch is fetched while this one is imported (the remote answers while
                # our EL re-executes); it is used only if this batch went in whole.
                pending: _Pending | None = None
                if end < remote_head.number:
                    pending = _Pending(end + 1, min(remote_head.number, end + self.max_batch))
                    nursery.start_soon(self._fetch_into, pending)
                imported = await self._import(start, blocks)
                if imported is not None:
                    await self.on_head(imported)
                if pending is None or imported is None or imported.number < end:
                    nursery.cancel_scope.cancel()
                    break
                await pending.done.wait()
                if pending.error is not None:
                    raise pending.error
                start, end, blocks = pending.start, pending.end, pending.blocks
        return self._head is not None and self._head.number < remote_head.number

    async def _fetch_into(self, pending: _Pending) -> None:
        try:
            pending.blocks = await self._fetch(pending.start, pending.end)
        except (NodeError, DecodeError) as exc:
            pending.error = exc
        finally:
            pending.done.set()

    async def _import(self, start: int, blocks: list[Any]) -> L2BlockRef | None:
        """``engine_newPayload`` each block in order; the last imported, None if none was."""
        head: L2BlockRef | None = None
        for number, block in zip(range(start, start + len(blocks)), blocks):
            if block is None:
                break  # the remote chain moved under us; the next round sorts it out
            payload, beacon_root, raw = payload_from_block(block, self.rollup_config)
            status = await self.engine.new_payload(payload, parent_beacon_block_root=beacon_root)
            if status.status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
                self._counts["invalid"] += 1
                raise TemporaryError(f"our EL refused L2 block {number} from {self.remote.endpoint}: "
                                     f"{status.validation_error or status.status.value}")
            if status.status is not PayloadStatus.VALID:
                if number == start:
                    self._cursor = None  # our EL lacks the parent: start again from its head
                raise TemporaryError(f"our EL answered {status.status.value} to L2 block {number}")
            header = header_from_json(block)
            head = ref_from_transactions(self.rollup_config, header.hash, header.number, header.parent_hash,
                                         header.timestamp, raw)
            self._counts["imported"] += 1
            self._cursor = (head.number, head.hash)
            self._head = head
            self._recent[head.number] = head.hash
            self._recent.pop(head.number - self.max_reorg_depth - self.max_batch, None)
        return head


class _Pending:
    """A batch of remote blocks being fetched in the background."""

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end
        self.blocks: list[Any] = []
        self.error: BaseException | None = None
        self.done = trio.Event()

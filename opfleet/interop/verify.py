"""Cross-chain message verification as pure functions over indexed logs (no I/O).

The supernode verifies one timestamp at a time: once every chain of the dependency set has
indexed its local-safe blocks up to timestamp ``T``, the blocks *at* ``T`` are checked together
(:func:`verify_timestamp`); everything older was verified in an earlier round, so a message
can only depend on verified blocks or on blocks of the same round.

Checks per executing message (``specs/interop/messaging.md``, ``specs/interop/derivation.md``
"Invariants"; op-supernode ``supernode/activity/interop/algo.go``):

1. the initiating chain is in the dependency set;
2. ``id.timestamp <= executing timestamp`` (no messages from the future);
3. ``id.timestamp > executing timestamp - expiry window`` (604800 s);
4. the initiating log exists at ``(chain, block number, log index)``, its block has timestamp
   ``id.timestamp``, it was emitted by ``id.origin`` and its payload hashes to ``msgHash``;
5. messages between blocks of the same timestamp form no cycle: logs of a block are ordered
   (log ``i`` comes after log ``i - 1``) and an executing message comes after the log it
   executes; a cycle in that graph (including a message executing a later log of its own
   block) invalidates every block on it (op-supervisor's "hazard cycle" check).

A block with any invalid message is invalid; and since an invalid block is replaced, a block of
the same round executing one of its logs becomes invalid too (iterated to a fixpoint).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from opfleet.interop.messages import EXPIRY_WINDOW, ExecutingMessage


class Reason(enum.Enum):
    """Why an executing message is invalid."""

    UNKNOWN_CHAIN = "initiating chain is not in the dependency set"
    FUTURE = "initiating message is newer than the executing block"
    EXPIRED = "initiating message is older than the expiry window"
    MISSING = "no initiating log at the identifier"
    TIMESTAMP_MISMATCH = "identifier timestamp differs from the initiating block's"
    ORIGIN_MISMATCH = "initiating log was emitted by another address"
    PAYLOAD_MISMATCH = "payload hash differs from the initiating log's"
    CYCLE = "same-timestamp messages form a cycle"
    DEPENDS_ON_INVALID = "initiating block of the same timestamp is invalid"


@dataclass(frozen=True, slots=True)
class IndexedLog:
    """One log as the log database keeps it."""

    log_index: int
    origin: bytes
    payload_hash: bytes
    executing: ExecutingMessage | None = None


@dataclass(frozen=True, slots=True)
class BlockLogs:
    """A block with its logs, in log-index order."""

    chain_id: int
    number: int
    hash: bytes
    timestamp: int
    logs: tuple[IndexedLog, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid executing message."""

    chain_id: int
    block_number: int
    log_index: int
    reason: Reason

    def __str__(self) -> str:
        return f"chain {self.chain_id} block {self.block_number} log {self.log_index}: {self.reason.value}"


LogLookup = Callable[[int, int, int], "tuple[int, IndexedLog] | None"]
"""``(chain_id, block_number, log_index) -> (block timestamp, log)`` or None when there is none."""


def check_message(
    message: ExecutingMessage,
    *,
    executing_timestamp: int,
    dependency_set: Collection[int],
    lookup: LogLookup,
    expiry_window: int = EXPIRY_WINDOW,
) -> Reason | None:
    """Checks 1-4 of the module docstring for one message; None when it is valid."""
    ident = message.identifier
    if ident.chain_id not in dependency_set:
        return Reason.UNKNOWN_CHAIN
    if ident.timestamp > executing_timestamp:
        return Reason.FUTURE
    if ident.timestamp + expiry_window <= executing_timestamp:
        return Reason.EXPIRED
    found = lookup(ident.chain_id, ident.block_number, ident.log_index)
    if found is None:
        return Reason.MISSING
    block_timestamp, log = found
    if block_timestamp != ident.timestamp:
        return Reason.TIMESTAMP_MISMATCH
    if log.origin != ident.origin:
        return Reason.ORIGIN_MISMATCH
    if log.payload_hash != message.payload_hash:
        return Reason.PAYLOAD_MISMATCH
    return None


def check_block(
    block: BlockLogs,
    *,
    dependency_set: Collection[int],
    lookup: LogLookup,
    expiry_window: int = EXPIRY_WINDOW,
) -> list[Problem]:
    """Every invalid executing message of ``block`` (checks 1-4)."""
    problems = []
    for log in block.logs:
        if log.executing is None:
            continue
        reason = check_message(log.executing, executing_timestamp=block.timestamp, dependency_set=dependency_set,
                               lookup=lookup, expiry_window=expiry_window)
        if reason is not None:
            problems.append(Problem(block.chain_id, block.number, log.log_index, reason))
    return problems


def cyclic_messages(blocks: Mapping[int, BlockLogs]) -> list[tuple[int, int]]:
    """``(chain_id, log_index)`` of executing messages left unresolved by a topological sort of
    the same-timestamp graph (check 5): those on a cycle or executing a log that is.

    ``blocks`` maps chain ID to that chain's block at one timestamp.
    """
    Node = tuple[int, int]
    edges: dict[Node, list[Node]] = {}
    indegree: dict[Node, int] = {}
    for chain_id, block in blocks.items():
        previous: Node | None = None
        for log in block.logs:
            node = (chain_id, log.log_index)
            indegree.setdefault(node, 0)
            if previous is not None:
                edges.setdefault(previous, []).append(node)
                indegree[node] += 1
            previous = node
    for chain_id, block in blocks.items():
        for log in block.logs:
            msg = log.executing
            if msg is None:
                continue
            source = blocks.get(msg.chain_id)
            if source is None or source.timestamp != msg.timestamp or source.number != msg.identifier.block_number:
                continue  # not a same-timestamp dependency
            initiating = (msg.chain_id, msg.identifier.log_index)
            if initiating not in indegree:
                continue  # no such log: check 4 reports it
            edges.setdefault(initiating, []).append((chain_id, log.log_index))
            indegree[(chain_id, log.log_index)] += 1
    ready = [node for node, degree in indegree.items() if degree == 0]
    while ready:
        node = ready.pop()
        for nxt in edges.get(node, ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    executing = {(chain_id, log.log_index) for chain_id, block in blocks.items() for log in block.logs
                 if log.executing is not None}
    return sorted(node for node, degree in indegree.items() if degree > 0 and node in executing)


def verify_timestamp(
    blocks: Mapping[int, BlockLogs],
    *,
    dependency_set: Collection[int],
    lookup: LogLookup,
    expiry_window: int = EXPIRY_WINDOW,
) -> dict[int, list[Problem]]:
    """Verify the blocks of one timestamp together (checks 1-5 and invalid-dependency
    propagation); maps each chain ID with an invalid block to its problems (valid chains are
    absent). ``lookup`` must see these blocks' own logs too."""
    problems: dict[int, list[Problem]] = {}
    for chain_id, block in blocks.items():
        found = check_block(block, dependency_set=dependency_set, lookup=lookup, expiry_window=expiry_window)
        if found:
            problems[chain_id] = found
    for chain_id, log_index in cyclic_messages(blocks):
        problems.setdefault(chain_id, []).append(
            Problem(chain_id, blocks[chain_id].number, log_index, Reason.CYCLE))
    changed = True
    while changed:  # a block executing a log of an invalid block of this round is invalid too
        changed = False
        for chain_id, block in blocks.items():
            if chain_id in problems:
                continue
            for log in block.logs:
                msg = log.executing
                if msg is None or msg.chain_id not in problems:
                    continue
                source = blocks.get(msg.chain_id)
                if source is not None and source.number == msg.identifier.block_number:
                    problems[chain_id] = [Problem(chain_id, block.number, log.log_index, Reason.DEPENDS_ON_INVALID)]
                    changed = True
                    break
    return problems

"""What a derivation stage tells its caller, as exceptions sorted by what the caller must do.

::

    NodeError (opfleet.errors)
    ├── TemporaryError        retry the same step later (endpoint failed, data not there yet)
    │   └── NotEnoughData     progress was made but nothing to hand out yet: call again now
    ├── ResetError            the L1/L2 view is inconsistent (reorg): reset the pipeline
    ├── CriticalError         continuing would derive a wrong chain: stop
    └── EndOfData             this stage has drained the current L1 origin: advance the origin

``EndOfData`` and ``NotEnoughData`` are control flow between stages; :class:`Pipeline.step`
turns them into a :class:`~opfleet.derive.pipeline.StepResult`, so only the first three
branches reach the driver. ``EndOfData`` is op-node's ``io.EOF`` and kona's ``PipelineError::Eof``;
``NotEnoughData`` is op-node's ``NotEnoughData``. L1 traversal raises ``EndOfData`` from
``advance_origin`` when the next L1 block does not exist yet (the pipeline reached the L1 head).

Spec: ``specs/protocol/derivation.md`` ("Pipeline", "Resetting the Pipeline"); op-node
``op-node/rollup/derive/error.go``; kona ``crates/protocol/derive/src/errors``.
"""

from __future__ import annotations

from opfleet.errors import CriticalError, NodeError, ResetError, TemporaryError

__all__ = ["CriticalError", "EndOfData", "NotEnoughData", "ResetError", "TemporaryError"]


class NotEnoughData(TemporaryError):
    """A stage consumed input but has no output yet; the caller should call again at once."""


class EndOfData(NodeError):
    """A stage has no more data for the current L1 origin: the pipeline must advance it."""

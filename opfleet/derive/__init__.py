"""L2 chain derivation: L1 blocks in, payload attributes out.

One module per stage, named as the spec names it (``specs/protocol/derivation.md``,
"L2 Chain Derivation Pipeline"): :mod:`~opfleet.derive.l1_traversal`,
:mod:`~opfleet.derive.l1_retrieval` (with :mod:`~opfleet.derive.data_sources`),
:mod:`~opfleet.derive.frame_queue`, :mod:`~opfleet.derive.channel_bank` /
:mod:`~opfleet.derive.channel_assembler`, :mod:`~opfleet.derive.channel_reader`,
:mod:`~opfleet.derive.batch_queue` / :mod:`~opfleet.derive.batch_stream` +
:mod:`~opfleet.derive.batch_validator`, :mod:`~opfleet.derive.attributes`; the muxes that
switch at Holocene (:mod:`~opfleet.derive.mux`), the shared batch rules
(:mod:`~opfleet.derive.batches`), :mod:`~opfleet.derive.pipeline` and
:mod:`~opfleet.derive.reset` (sync start). Seams: :mod:`~opfleet.derive.interfaces`;
errors: :mod:`~opfleet.derive.errors`; fakes for tests: :mod:`opfleet.testing.derive`.

The stages call the pure codecs of :mod:`opfleet.protocol` and reach L1/L2 only through the
provider protocols; they make no trio calls.
"""

from opfleet.derive.errors import EndOfData, NotEnoughData
from opfleet.derive.interfaces import (
    Activation,
    AttributesWithParent,
    BlobProvider,
    ChainProvider,
    FlushChannel,
    L2ChainProvider,
    Reset,
)
from opfleet.derive.pipeline import Pipeline, PipelineStatistics, StepKind, StepResult
from opfleet.derive.reset import SyncStart, find_safe_start, find_sync_start

__all__ = [
    "Activation",
    "AttributesWithParent",
    "BlobProvider",
    "ChainProvider",
    "EndOfData",
    "FlushChannel",
    "L2ChainProvider",
    "NotEnoughData",
    "Pipeline",
    "PipelineStatistics",
    "Reset",
    "StepKind",
    "StepResult",
    "SyncStart",
    "find_safe_start",
    "find_sync_start",
]

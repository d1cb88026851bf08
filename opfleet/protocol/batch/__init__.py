"""Batch codecs: singular (type 0) and span (type 1) batches, and the channel batch reader.

Spec: ``specs/protocol/derivation.md`` ("Batch Format") and
``specs/protocol/delta/span-batches.md``.
"""

from opfleet.protocol.batch.reader import (
    Batch,
    channel_to_json,
    decode_batch,
    decode_channel,
    encode_batch,
    encode_channel_batches,
    iter_channel_json,
    read_batches,
    read_channel_batches,
)
from opfleet.protocol.batch.singular import SINGULAR_BATCH_TYPE, SingularBatch
from opfleet.protocol.batch.span import (
    MAX_SPAN_BATCH_ELEMENT_COUNT,
    SPAN_BATCH_TYPE,
    RawSpanBatch,
    SpanBatchElement,
    SpanBatchTooLong,
)

__all__ = [
    "MAX_SPAN_BATCH_ELEMENT_COUNT",
    "SINGULAR_BATCH_TYPE",
    "SPAN_BATCH_TYPE",
    "Batch",
    "RawSpanBatch",
    "SingularBatch",
    "SpanBatchElement",
    "SpanBatchTooLong",
    "channel_to_json",
    "decode_batch",
    "decode_channel",
    "encode_batch",
    "encode_channel_batches",
    "iter_channel_json",
    "read_batches",
    "read_channel_batches",
]

"""Channel frames and the batcher-transaction data that carries them.

Spec: ``specs/protocol/derivation.md`` ("Batcher Transaction Format", "Frame Format") and
``specs/protocol/holocene/derivation.md`` ("Frame Queue").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from opfleet.errors import DecodeError

DERIVATION_VERSION_0 = 0x00
"""Version byte of batcher-tx data that holds frames (``0x01`` is an alt-DA commitment)."""

CHANNEL_ID_LENGTH = 16
FRAME_OVERHEAD = 200
"""Per-frame overhead added to ``len(data)`` when sizing channels and the channel bank."""
MAX_FRAME_LEN = 1_000_000
"""Largest ``frame_data_length`` a frame may declare."""
FRAME_V0_OVERHEAD_SIZE = 23
"""Bytes of a frame that are not frame data: id 16 + number 2 + length 4 + is_last 1."""

_HEADER_SIZE = CHANNEL_ID_LENGTH + 2 + 4
_MAX_FRAME_NUMBER = 0xFFFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a channel: ``channel_id ++ frame_number ++ len(data) ++ data ++ is_last``."""

    channel_id: bytes
    frame_number: int
    data: bytes
    is_last: bool

    def __post_init__(self) -> None:
        # Reject frames that could never be encoded, so encode() cannot emit unparseable bytes.
        if len(self.channel_id) != CHANNEL_ID_LENGTH:
            raise ValueError(
                f"channel id must be {CHANNEL_ID_LENGTH} bytes, got {len(self.channel_id)}"
            )
        if not 0 <= self.frame_number <= _MAX_FRAME_NUMBER:
            raise ValueError(f"frame number out of uint16 range: {self.frame_number}")
        if len(self.data) > MAX_FRAME_LEN:
            raise ValueError(f"frame data is {len(self.data)} bytes, above {MAX_FRAME_LEN}")

    @property
    def size(self) -> int:
        """Accounting size of the frame: ``len(data) + FRAME_OVERHEAD``.

        Spec: specs/protocol/derivation.md, Channel Bank ("Pruning").
        """
        return len(self.data) + FRAME_OVERHEAD

    def encode(self) -> bytes:
        """Serialize the frame (without the batcher-tx version byte).

        Spec: specs/protocol/derivation.md, Frame Format.
        """
        return b"".join(
            (
                self.channel_id,
                self.frame_number.to_bytes(2, "big"),
                len(self.data).to_bytes(4, "big"),
                self.data,
                b"\x01" if self.is_last else b"\x00",
            )
        )

    def to_json(self) -> dict[str, object]:
        """Return the frame as JSON-ready values (lowercase 0x-hex strings, plain ints)."""
        return {
            "channel_id": "0x" + self.channel_id.hex(),
            "frame_number": self.frame_number,
            "data": "0x" + self.data.hex(),
            "is_last": self.is_last,
        }


def parse_frame(data: bytes, offset: int = 0) -> tuple[Frame, int]:
    """Read one frame starting at ``offset``; return ``(frame, next_offset)``.

    Raises :class:`DecodeError` (offset = position of the bad field) on a short read, a declared
    length above ``MAX_FRAME_LEN`` or an ``is_last`` byte other than 0 or 1.

    Spec: specs/protocol/derivation.md, Frame Format.
    """
    end_of_header = offset + _HEADER_SIZE
    if end_of_header > len(data):
        raise DecodeError(
            f"truncated frame header: need {_HEADER_SIZE} bytes, have {max(len(data) - offset, 0)}",
            offset=offset,
        )
    channel_id = bytes(data[offset : offset + CHANNEL_ID_LENGTH])
    number_at = offset + CHANNEL_ID_LENGTH
    frame_number = int.from_bytes(data[number_at : number_at + 2], "big")
    length_at = number_at + 2
    length = int.from_bytes(data[length_at:end_of_header], "big")
    # Checked before slicing so a hostile length never drives an allocation.
    if length > MAX_FRAME_LEN:
        raise DecodeError(f"frame data length {length} exceeds {MAX_FRAME_LEN}", offset=length_at)
    data_end = end_of_header + length
    if data_end > len(data):
        raise DecodeError(
            f"truncated frame data: declared {length} bytes, have {len(data) - end_of_header}",
            offset=end_of_header,
        )
    if data_end >= len(data):
        raise DecodeError("truncated frame: missing is_last byte", offset=data_end)
    is_last = data[data_end]
    if is_last > 1:
        raise DecodeError(f"is_last byte must be 0 or 1, got {is_last}", offset=data_end)
    frame = Frame(channel_id, frame_number, bytes(data[end_of_header:data_end]), is_last == 1)
    return frame, data_end + 1


def parse_frames(tx_data: bytes) -> list[Frame]:
    """Parse batcher-tx data (``0x00 ++ frame ++ frame ...``) into frames, all or nothing.

    Empty data, a version byte other than ``DERIVATION_VERSION_0`` (including ``0x01``, alt-DA),
    no frames, or any frame failing to parse (including trailing bytes that do not form a frame)
    make the whole transaction invalid: :class:`DecodeError` with the failing byte offset.

    Spec: specs/protocol/derivation.md, Batcher Transaction Format; op-node ``ParseFrames``.
    """
    if not tx_data:
        raise DecodeError("empty batcher transaction data", offset=0)
    if tx_data[0] != DERIVATION_VERSION_0:
        raise DecodeError(f"unknown derivation version {tx_data[0]:#04x}", offset=0)
    if len(tx_data) == 1:
        raise DecodeError("batcher transaction data holds no frames", offset=1)
    frames: list[Frame] = []
    offset = 1
    while offset < len(tx_data):
        frame, offset = parse_frame(tx_data, offset)
        frames.append(frame)
    return frames


def encode_frames(frames: Iterable[Frame]) -> bytes:
    """Serialize frames as batcher-tx data: the version byte followed by each frame.

    Spec: specs/protocol/derivation.md, Batcher Transaction Format.
    """
    encoded = [frame.encode() for frame in frames]
    if not encoded:
        raise ValueError("batcher transaction data must carry at least one frame")
    return bytes([DERIVATION_VERSION_0]) + b"".join(encoded)


def prune_frame_queue(frames: Iterable[Frame]) -> list[Frame]:
    """Keep only the contiguous, ordered frames that Holocene's frame queue admits.

    Adjacent pairs ``(prev, next)`` are checked in order, as op-node's ``pruneFrameQueue``:

    - same channel: ``next`` is dropped if ``prev.is_last`` or ``next`` is not ``prev + 1``;
    - different channel: ``next`` is dropped unless it is frame 0; a frame 0 that follows an
      unclosed channel drops that channel's queued frames (walking back), the new channel wins.

    Spec: specs/protocol/holocene/derivation.md, Frame Queue.
    """
    kept: list[Frame] = []
    for frame in frames:
        admitted = True
        while kept:
            prev = kept[-1]
            if prev.channel_id == frame.channel_id:
                admitted = not prev.is_last and frame.frame_number == prev.frame_number + 1
                break
            if frame.frame_number != 0:
                admitted = False
                break
            if prev.is_last:
                break
            kept.pop()  # an unclosed channel is superseded by the new first frame
        if admitted:
            kept.append(frame)
    return kept

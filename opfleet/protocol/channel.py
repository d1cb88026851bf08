"""Channels: frames of one channel id, the pre-Holocene channel bank and the Holocene assembler.

These are pure state machines: callers pass the current L1 origin (number and time) and the fork
predicates as plain callables of the origin time, so no rollup config is needed here.

Spec: ``specs/protocol/derivation.md`` ("Channel Format", "Channel Bank"),
``specs/protocol/fjord/derivation.md`` (size limits), ``specs/protocol/granite/derivation.md``
(channel timeout) and ``specs/protocol/holocene/derivation.md`` ("Channel Stage").
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from opfleet.protocol.frame import Frame

MAX_RLP_BYTES_PER_CHANNEL = 10_000_000
FJORD_MAX_RLP_BYTES_PER_CHANNEL = 100_000_000
MAX_CHANNEL_BANK_SIZE = 100_000_000
FJORD_MAX_CHANNEL_BANK_SIZE = 1_000_000_000
GRANITE_CHANNEL_TIMEOUT = 50

ForkPredicate = Callable[[int], bool]
"""``predicate(origin_time) -> bool``: whether a fork is active at an L1 origin timestamp."""


def _never(_time: int) -> bool:
    return False


def max_rlp_bytes_per_channel(is_fjord: bool) -> int:
    """Limit on a channel's RLP bytes (and, from Holocene, its frame-size sum).

    Spec: specs/protocol/fjord/derivation.md, Increasing MAX_RLP_BYTES_PER_CHANNEL.
    """
    return FJORD_MAX_RLP_BYTES_PER_CHANNEL if is_fjord else MAX_RLP_BYTES_PER_CHANNEL


def max_channel_bank_size(is_fjord: bool) -> int:
    """Limit on the channel bank's total size before it prunes.

    Spec: specs/protocol/fjord/derivation.md, Increasing MAX_CHANNEL_BANK_SIZE.
    """
    return FJORD_MAX_CHANNEL_BANK_SIZE if is_fjord else MAX_CHANNEL_BANK_SIZE


def channel_timeout(rollup_timeout: int, is_granite: bool) -> int:
    """Channel timeout in L1 blocks: the rollup config value, 50 once Granite is active.

    Spec: specs/protocol/granite/derivation.md, Reduce Channel Timeout.
    """
    return GRANITE_CHANNEL_TIMEOUT if is_granite else rollup_timeout


def channel_timed_out(open_block_number: int, channel_timeout: int, origin_number: int) -> bool:
    """Whether a channel opened at ``open_block_number`` has timed out at ``origin_number``.

    Spec: specs/protocol/derivation.md, Channel Bank ("Timeouts").
    """
    return open_block_number + channel_timeout < origin_number


class FrameRejection(str, enum.Enum):
    """Why :meth:`Channel.add_frame` refused a frame (the frame is dropped)."""

    WRONG_CHANNEL = "frame id does not match the channel id"
    SECOND_CLOSING_FRAME = "closing frame for an already closed channel"
    DUPLICATE = "duplicate frame number"
    PAST_END = "frame number at or after the closing frame of a closed channel"
    OUT_OF_ORDER = "frame out of order (Holocene requires the next frame number)"
    TIMED_OUT = "channel timed out"


class Channel:
    """The frames received so far for one channel id.

    Spec: specs/protocol/derivation.md, Channel Bank ("Reading", "Loading frames").
    """

    __slots__ = (
        "channel_id",
        "open_block_number",
        "require_in_order",
        "_frames",
        "_size",
        "_closed",
        "_end_number",
        "_highest_number",
    )

    def __init__(
        self, channel_id: bytes, open_block_number: int, *, require_in_order: bool = False
    ):
        self.channel_id = channel_id
        self.open_block_number = open_block_number
        self.require_in_order = require_in_order
        self._frames: dict[int, Frame] = {}
        self._size = 0
        self._closed = False
        self._end_number = 0
        self._highest_number = 0

    @property
    def size(self) -> int:
        """Accounting size: Σ(len(data) + 200) over buffered frames, as op-node and kona keep it.

        Both reset the running sum while pruning frames past a late closing frame (they subtract
        every buffered frame, not only the pruned ones), so after such a close the size counts
        only the closing frame and later ones. We reproduce that: it feeds bank pruning.
        """
        return self._size

    def timed_out(self, timeout: int, origin_number: int) -> bool:
        """See :func:`channel_timed_out`."""
        return channel_timed_out(self.open_block_number, timeout, origin_number)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def frame_count(self) -> int:
        return len(self._frames)

    def add_frame(self, frame: Frame) -> FrameRejection | None:
        """Buffer ``frame``; return ``None`` if accepted, else why it was dropped.

        Rejected: another channel's frame; a second closing frame; a duplicate number; a number
        at or past the end of a closed channel; with ``require_in_order`` (Holocene), any number
        other than the count of frames so far. A closing frame prunes higher buffered frames.

        Spec: specs/protocol/derivation.md, Channel Bank; holocene/derivation.md, Channel Stage.
        """
        number = frame.frame_number
        if frame.channel_id != self.channel_id:
            return FrameRejection.WRONG_CHANNEL
        if frame.is_last and self._closed:
            return FrameRejection.SECOND_CLOSING_FRAME
        if number in self._frames:
            return FrameRejection.DUPLICATE
        if self._closed and number >= self._end_number:
            return FrameRejection.PAST_END
        if self.require_in_order and number != len(self._frames):
            return FrameRejection.OUT_OF_ORDER

        if frame.is_last:
            self._closed = True
            self._end_number = number
            if number < self._highest_number:
                self._frames = {n: f for n, f in self._frames.items() if n < number}
                self._size = 0  # op-node/kona quirk, see ``size``
                self._highest_number = number
        if number > self._highest_number:
            self._highest_number = number
        self._frames[number] = frame
        self._size += frame.size
        return None

    def is_ready(self) -> bool:
        """Closed, and every frame ``0..end`` is present.

        Spec: specs/protocol/derivation.md, Channel Bank ("Reading").
        """
        if not self._closed or len(self._frames) != self._end_number + 1:
            return False
        return all(n in self._frames for n in range(self._end_number + 1))

    def data(self) -> bytes:
        """The channel bytes: frame data concatenated in frame-number order (requires ready).

        Spec: specs/protocol/derivation.md, Channel Format.
        """
        if not self.is_ready():
            raise ValueError("channel is not ready: closing frame or earlier frames missing")
        return b"".join(self._frames[n].data for n in range(self._end_number + 1))


class ChannelBank:
    """Pre-Holocene channel bank: buffers channels in first-seen order and emits ready ones.

    Usage per pipeline step: call :meth:`read` first; if it returns ``None``, feed the next frame
    with :meth:`ingest_frame`. Fork predicates take the L1 origin timestamp.

    Spec: specs/protocol/derivation.md, Channel Bank.
    """

    __slots__ = ("rollup_channel_timeout", "is_canyon", "is_fjord", "is_granite", "_channels")

    def __init__(
        self,
        *,
        rollup_channel_timeout: int,
        is_canyon: ForkPredicate = _never,
        is_fjord: ForkPredicate = _never,
        is_granite: ForkPredicate = _never,
    ):
        self.rollup_channel_timeout = rollup_channel_timeout
        self.is_canyon = is_canyon
        self.is_fjord = is_fjord
        self.is_granite = is_granite
        # dicts keep insertion order: this is the FIFO channel queue by first-seen frame.
        self._channels: dict[bytes, Channel] = {}

    def __len__(self) -> int:
        return len(self._channels)

    @property
    def channel_ids(self) -> list[bytes]:
        """Channel ids in queue (first-seen) order."""
        return list(self._channels)

    @property
    def total_size(self) -> int:
        return sum(channel.size for channel in self._channels.values())

    def channel(self, channel_id: bytes) -> Channel | None:
        return self._channels.get(channel_id)

    def reset(self) -> None:
        """Drop every channel (pipeline reset)."""
        self._channels.clear()

    def _timeout(self, origin_time: int) -> int:
        return channel_timeout(self.rollup_channel_timeout, self.is_granite(origin_time))

    def ingest_frame(
        self, frame: Frame, origin_number: int, origin_time: int
    ) -> FrameRejection | None:
        """Add a frame read at the given L1 origin; return ``None`` or why it was dropped.

        Opens the channel (at ``origin_number``) if unknown; drops frames of timed-out channels and
        frames the channel rejects; after an accepted frame, prunes whole channels from the head
        of the queue while the total size exceeds the bank limit.

        Spec: specs/protocol/derivation.md, Channel Bank ("Loading frames", "Pruning").
        """
        channel = self._channels.get(frame.channel_id)
        if channel is None:
            channel = Channel(frame.channel_id, origin_number)
            self._channels[frame.channel_id] = channel
        if channel.timed_out(self._timeout(origin_time), origin_number):
            return FrameRejection.TIMED_OUT
        rejection = channel.add_frame(frame)
        if rejection is not None:
            return rejection
        self._prune(max_channel_bank_size(self.is_fjord(origin_time)))
        return None

    def _prune(self, limit: int) -> None:
        total = self.total_size
        while total > limit:
            head = next(iter(self._channels))
            total -= self._channels.pop(head).size

    def read(self, origin_number: int, origin_time: int) -> bytes | None:
        """Remove and return the next ready channel's bytes, or ``None`` if none can be read.

        Timed-out channels at the head of the queue are removed first (op-node removes one per
        call and asks to be called again with the same origin; looping is equivalent). Before
        Canyon only the head channel may be read; from Canyon the first ready, non-timed-out
        channel in queue order is read.

        Spec: specs/protocol/derivation.md, Channel Bank ("Reading", incl. the Canyon change).
        """
        timeout = self._timeout(origin_time)
        while self._channels:
            head_id = next(iter(self._channels))
            if not self._channels[head_id].timed_out(timeout, origin_number):
                break
            del self._channels[head_id]
        if not self._channels:
            return None
        if not self.is_canyon(origin_time):
            head_id, head = next(iter(self._channels.items()))
            if not head.is_ready():
                return None
            del self._channels[head_id]
            return head.data()
        for channel_id, channel in self._channels.items():
            if channel.is_ready() and not channel.timed_out(timeout, origin_number):
                del self._channels[channel_id]
                return channel.data()
        return None


class ChannelAssembler:
    """Holocene channel stage: one staging channel, frames strictly in order.

    Spec: specs/protocol/holocene/derivation.md, Channel Stage; op-node ``ChannelAssembler``.
    """

    __slots__ = ("rollup_channel_timeout", "is_fjord", "is_granite", "_channel")

    def __init__(
        self,
        *,
        rollup_channel_timeout: int,
        is_fjord: ForkPredicate = _never,
        is_granite: ForkPredicate = _never,
    ):
        self.rollup_channel_timeout = rollup_channel_timeout
        self.is_fjord = is_fjord
        self.is_granite = is_granite
        self._channel: Channel | None = None

    @property
    def channel(self) -> Channel | None:
        """The staging channel, if any."""
        return self._channel

    def reset(self) -> None:
        self._channel = None

    def ingest_frame(self, frame: Frame, origin_number: int, origin_time: int) -> bytes | None:
        """Feed one frame read at the given L1 origin; return the channel bytes once complete.

        A timed-out staging channel is dropped first. Frame 0 always opens a new channel
        (discarding an unfinished one); a later frame without a channel, of another channel or
        not exactly the next number is dropped (op-node's in-order rule; kona lacks it). A channel
        whose size exceeds ``MAX_RLP_BYTES_PER_CHANNEL`` is dropped; a closing frame emits it.

        Spec: specs/protocol/holocene/derivation.md, Channel Stage.
        """
        channel = self._channel
        timeout = channel_timeout(self.rollup_channel_timeout, self.is_granite(origin_time))
        if channel is not None and channel.timed_out(timeout, origin_number):
            channel = self._channel = None
        if frame.frame_number == 0:
            channel = Channel(frame.channel_id, origin_number, require_in_order=True)
            self._channel = channel
        if channel is None:
            return None
        if channel.add_frame(frame) is not None:
            return None
        if channel.size > max_rlp_bytes_per_channel(self.is_fjord(origin_time)):
            self._channel = None
            return None
        if frame.is_last:
            self._channel = None
            return channel.data()
        return None

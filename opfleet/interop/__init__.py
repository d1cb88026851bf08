"""Interop: cross-chain message verification and the supernode (``opfleet supernode``).

Re-exports only. The pure pieces (:mod:`~opfleet.interop.messages`, :mod:`~opfleet.interop.verify`,
:mod:`~opfleet.interop.superroot`) and the log database load eagerly; the supernode service
(which pulls in the source node) loads on first use.
"""

from typing import Any

from opfleet.interop.logdb import LogDB as LogDB
from opfleet.interop.logdb import LogDBError as LogDBError
from opfleet.interop.messages import CROSS_L2_INBOX as CROSS_L2_INBOX
from opfleet.interop.messages import EXECUTING_MESSAGE_TOPIC as EXECUTING_MESSAGE_TOPIC
from opfleet.interop.messages import EXPIRY_WINDOW as EXPIRY_WINDOW
from opfleet.interop.messages import ExecutingMessage as ExecutingMessage
from opfleet.interop.messages import Identifier as Identifier
from opfleet.interop.messages import decode_executing_message as decode_executing_message
from opfleet.interop.messages import payload_hash as payload_hash
from opfleet.interop.messages import validate_message_calldata as validate_message_calldata
from opfleet.interop.router import ChainRouter as ChainRouter
from opfleet.interop.superroot import super_root_v1 as super_root_v1
from opfleet.interop.verify import BlockLogs as BlockLogs
from opfleet.interop.verify import IndexedLog as IndexedLog
from opfleet.interop.verify import Problem as Problem
from opfleet.interop.verify import Reason as Reason
from opfleet.interop.verify import check_message as check_message
from opfleet.interop.verify import verify_timestamp as verify_timestamp

_LAZY = ("ChainSettings", "Supernode", "SupernodeConfig", "SupernodeStatistics")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from opfleet.interop import supernode

        return getattr(supernode, name)
    raise AttributeError(f"module 'opfleet.interop' has no attribute {name!r}")


__all__ = [
    "CROSS_L2_INBOX", "EXECUTING_MESSAGE_TOPIC", "EXPIRY_WINDOW", "BlockLogs", "ChainRouter", "ChainSettings",
    "ExecutingMessage", "Identifier", "IndexedLog", "LogDB", "LogDBError", "Problem", "Reason", "Supernode",
    "SupernodeConfig", "SupernodeStatistics", "check_message", "decode_executing_message", "payload_hash",
    "super_root_v1", "validate_message_calldata", "verify_timestamp",
]

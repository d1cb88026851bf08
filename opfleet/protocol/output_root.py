"""L2 output roots (version 0): what proposers post and ``optimism_outputAtBlock`` returns.

Spec: ``specs/protocol/proposals.md`` ("L2 Output Commitment Construction"); op-node
``op-service/eth/output.go``; kona ``crates/protocol/protocol/src/output_root.rs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import ZERO_HASH, keccak256

OUTPUT_VERSION_V0 = ZERO_HASH
OUTPUT_V0_PREIMAGE_LENGTH = 128

L2_TO_L1_MESSAGE_PASSER_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000016")
"""Its storage root is ``messagePasserStorageRoot`` (from Isthmus, the header ``withdrawalsRoot``).
"""


@dataclass(frozen=True, slots=True)
class OutputV0:
    """The three 32-byte values committed by a version-0 output root.

    Spec: ``specs/protocol/proposals.md`` ("L2 Output Commitment Construction").
    """

    state_root: bytes
    message_passer_storage_root: bytes
    block_hash: bytes

    def __post_init__(self) -> None:
        for name in ("state_root", "message_passer_storage_root", "block_hash"):
            if len(getattr(self, name)) != 32:
                raise ValueError(f"{name} must be 32 bytes")

    def marshal(self) -> bytes:
        """The 128-byte preimage.

        ``bytes32(0) ++ stateRoot ++ messagePasserStorageRoot ++ blockHash``.
        """
        roots = self.state_root + self.message_passer_storage_root
        return OUTPUT_VERSION_V0 + roots + self.block_hash

    def output_root(self) -> bytes:
        """``keccak256`` of the preimage."""
        return keccak256(self.marshal())

    def to_json(self) -> dict[str, Any]:
        """The committed values and the root, as lowercase 0x-hex."""
        return {
            "version": "0x" + OUTPUT_VERSION_V0.hex(),
            "stateRoot": "0x" + self.state_root.hex(),
            "messagePasserStorageRoot": "0x" + self.message_passer_storage_root.hex(),
            "blockHash": "0x" + self.block_hash.hex(),
            "outputRoot": "0x" + self.output_root().hex(),
        }

    @classmethod
    def unmarshal(cls, preimage: bytes) -> OutputV0:
        """Parse a 128-byte version-0 preimage (op-node ``UnmarshalOutput``)."""
        if len(preimage) != OUTPUT_V0_PREIMAGE_LENGTH:
            size = OUTPUT_V0_PREIMAGE_LENGTH
            raise DecodeError(
                f"output root preimage must be {size} bytes, got {len(preimage)}",
                offset=min(len(preimage), size),
            )
        if preimage[:32] != OUTPUT_VERSION_V0:
            raise DecodeError(f"unknown output version 0x{bytes(preimage[:32]).hex()}", offset=0)
        return cls(bytes(preimage[32:64]), bytes(preimage[64:96]), bytes(preimage[96:128]))


def output_root(state_root: bytes, message_passer_storage_root: bytes, block_hash: bytes) -> bytes:
    """The version-0 output root. Spec: ``specs/protocol/proposals.md``."""
    return OutputV0(state_root, message_passer_storage_root, block_hash).output_root()


def output_response_json(
    output: OutputV0, block_ref: Mapping[str, Any], sync_status: Mapping[str, Any]
) -> dict[str, Any]:
    """op-node's ``optimism_outputAtBlock`` result (``eth.OutputResponse``), keys in its order.

    ``block_ref`` is the L2BlockRef JSON and ``sync_status`` the SyncStatus JSON, both already
    shaped by their owners; ``withdrawalStorageRoot`` is the message-passer storage root.
    """
    return {
        "version": "0x" + OUTPUT_VERSION_V0.hex(),
        "outputRoot": "0x" + output.output_root().hex(),
        "blockRef": dict(block_ref),
        "withdrawalStorageRoot": "0x" + output.message_passer_storage_root.hex(),
        "stateRoot": "0x" + output.state_root.hex(),
        "syncStatus": dict(sync_status),
    }

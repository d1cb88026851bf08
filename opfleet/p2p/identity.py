"""libp2p identities: secp256k1 keys, peer ids, and op-node's ``--p2p.priv.path`` key file.

Spec: libp2p ``peer-ids/peer-ids.md`` (keys as ``PublicKey{Type, Data}`` protobuf, the identity
multihash for encodings of at most 42 bytes, base58btc text: secp256k1 ids start ``16Uiu2``);
op-node keeps its key as 64 hex characters in ``opnode_p2p_priv.txt`` (``op-node/p2p/cli/load_config.go``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from opfleet.p2p.wire import WireError, b58encode, pb_bytes, pb_fields, pb_varint, read_uvarint

KEY_TYPE_SECP256K1 = 2
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def encode_public_key(compressed: bytes) -> bytes:
    """The ``PublicKey`` protobuf of a 33-byte compressed secp256k1 key."""
    return pb_varint(1, KEY_TYPE_SECP256K1) + pb_bytes(2, compressed)


def peer_id_from_public_key(encoded_key: bytes) -> bytes:
    """The peer id (multihash bytes): identity hash when the key encoding is at most 42 bytes."""
    if len(encoded_key) <= 42:
        return b"\x00" + bytes([len(encoded_key)]) + encoded_key
    import hashlib

    return b"\x12\x20" + hashlib.sha256(encoded_key).digest()


def decode_public_key(encoded_key: bytes) -> bytes:
    """The compressed secp256k1 key of a ``PublicKey`` protobuf; other key types are refused."""
    fields = dict(pb_fields(encoded_key))
    key = fields.get(2)
    if fields.get(1) != KEY_TYPE_SECP256K1 or not isinstance(key, bytes) or len(key) != 33:
        raise WireError("only secp256k1 peer keys are supported (op-node's key type)")
    return key


def public_key_from_peer_id(peer_id: bytes) -> bytes | None:
    """The compressed key inlined in an identity-multihash peer id, or None."""
    try:
        code, pos = read_uvarint(peer_id)
        size, pos = read_uvarint(peer_id, pos)
    except WireError:
        return None
    if code != 0 or pos + size != len(peer_id):
        return None
    try:
        return decode_public_key(peer_id[pos:])
    except WireError:
        return None


def peer_id_text(peer_id: bytes) -> str:
    return b58encode(peer_id)


@dataclass(frozen=True)
class Identity:
    """A node's libp2p identity: a secp256k1 private key and what follows from it."""

    private_key: bytes

    def __post_init__(self) -> None:
        if len(self.private_key) != 32 or not 0 < int.from_bytes(self.private_key, "big") < _SECP256K1_N:
            raise ValueError("a p2p private key is 32 bytes in 1..n-1")

    @classmethod
    def generate(cls) -> Identity:
        while True:
            key = secrets.token_bytes(32)
            if 0 < int.from_bytes(key, "big") < _SECP256K1_N:
                return cls(key)

    @property
    def public_key(self) -> bytes:
        from coincurve import PrivateKey

        return PrivateKey(self.private_key).public_key.format(compressed=True)

    @property
    def encoded_public_key(self) -> bytes:
        return encode_public_key(self.public_key)

    @property
    def peer_id(self) -> bytes:
        return peer_id_from_public_key(self.encoded_public_key)

    @property
    def peer_id_text(self) -> str:
        return peer_id_text(self.peer_id)

    def sign(self, message: bytes) -> bytes:
        """libp2p's secp256k1 signature: DER ECDSA over sha256(message)."""
        from coincurve import PrivateKey

        return PrivateKey(self.private_key).sign(message)


def verify(compressed_key: bytes, signature: bytes, message: bytes) -> bool:
    from coincurve import PublicKey

    try:
        return PublicKey(compressed_key).verify(signature, message)
    except Exception:  # malformed key or DER: not a valid signature
        return False


def load_or_create(path: Path) -> Identity:
    """op-node's ``--p2p.priv.path``: read the hex key, or write a new one (mode 0600) if absent."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        identity = Identity.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(identity.private_key.hex())
        return identity
    text = text.removeprefix("0x")
    try:
        key = bytes.fromhex(text)
        return Identity(key)
    except ValueError:
        raise ValueError(f"{path}: not a 32-byte hex secp256k1 private key") from None

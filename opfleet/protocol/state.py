"""A minimal account state (nonces, balances, code, storage) committed in a Merkle-Patricia trie.

Spec: Yellow Paper, section 4.1 (world state: ``address -> rlp([nonce, balance, storageRoot,
codeHash])`` in a secure trie) and EIP-161 (empty accounts are not stored). There is no EVM:
code and storage are only ever what a genesis allocation put there (or a test set), so the
L2ToL1MessagePasser storage root, for instance, is whatever the devnet configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from opfleet.protocol.crypto import keccak256
from opfleet.protocol.rlp_codec import int_bytes, rlp_encode
from opfleet.protocol.trie import EMPTY_TRIE_ROOT, secure_trie_proof, secure_trie_root

EMPTY_CODE_HASH = keccak256(b"")
"""``0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470``."""


@dataclass(frozen=True, slots=True)
class Account:
    """One account. ``storage`` maps 32-byte slots to non-zero word values."""

    nonce: int = 0
    balance: int = 0
    code: bytes = b""
    storage: Mapping[bytes, int] = field(default_factory=lambda: MappingProxyType({}))
    _storage_root: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.nonce < 0 or self.balance < 0:
            raise ValueError("nonce and balance must not be negative")
        clean = {}
        for slot, value in self.storage.items():
            if len(slot) != 32:
                raise ValueError("storage slots must be 32 bytes")
            if not 0 <= value < 1 << 256:
                raise ValueError("storage values must be 256-bit words")
            if value:
                clean[bytes(slot)] = value
        object.__setattr__(self, "storage", MappingProxyType(clean))

    @property
    def code_hash(self) -> bytes:
        return keccak256(self.code)

    @property
    def is_empty(self) -> bool:
        """EIP-161: no nonce, no balance, no code (storage aside, which needs code to exist)."""
        return self.nonce == 0 and self.balance == 0 and not self.code and not self.storage

    def storage_items(self) -> dict[bytes, bytes]:
        """Storage as trie items: slot -> ``rlp(value)`` (the word with leading zeros dropped)."""
        return {slot: rlp_encode(int_bytes(value)) for slot, value in self.storage.items()}

    @property
    def storage_root(self) -> bytes:
        """Root of the account's storage trie (cached: the account is immutable)."""
        root = self._storage_root
        if root is None:
            root = secure_trie_root(self.storage_items()) if self.storage else EMPTY_TRIE_ROOT
            object.__setattr__(self, "_storage_root", root)
        return root

    def encode(self) -> bytes:
        """The state-trie value: ``rlp([nonce, balance, storageRoot, codeHash])``."""
        return rlp_encode([int_bytes(self.nonce), int_bytes(self.balance), self.storage_root, self.code_hash])

    def with_changes(self, **changes: Any) -> Account:
        """A copy with some fields replaced (the storage root is recomputed if storage changes)."""
        return replace(self, _storage_root=None, **changes) if "storage" in changes else replace(self, **changes)


class WorldState:
    """A mutable address -> :class:`Account` map; :meth:`copy` is cheap (accounts are immutable)."""

    def __init__(self, accounts: Mapping[bytes, Account] | Iterable[tuple[bytes, Account]] = ()):
        pairs = accounts.items() if isinstance(accounts, Mapping) else accounts
        self._accounts: dict[bytes, Account] = {}
        for address, account in pairs:
            if len(address) != 20:
                raise ValueError("addresses must be 20 bytes")
            self._accounts[bytes(address)] = account
        self._root: bytes | None = None

    def copy(self) -> WorldState:
        """An independent copy (per block or per transaction attempt)."""
        clone = WorldState()
        clone._accounts = dict(self._accounts)
        clone._root = self._root
        return clone

    def get(self, address: bytes) -> Account:
        """The account at ``address`` (an empty one if absent)."""
        return self._accounts.get(bytes(address)) or Account()

    def __contains__(self, address: object) -> bool:
        return address in self._accounts

    def set(self, address: bytes, account: Account) -> None:
        self._accounts[bytes(address)] = account
        self._root = None

    def addresses(self) -> list[bytes]:
        return sorted(self._accounts)

    def nonce(self, address: bytes) -> int:
        return self.get(address).nonce

    def balance(self, address: bytes) -> int:
        return self.get(address).balance

    def add_balance(self, address: bytes, amount: int) -> None:
        account = self.get(address)
        self.set(address, account.with_changes(balance=account.balance + amount))

    def sub_balance(self, address: bytes, amount: int) -> None:
        account = self.get(address)
        if account.balance < amount:
            raise ValueError("insufficient balance")
        self.set(address, account.with_changes(balance=account.balance - amount))

    def increment_nonce(self, address: bytes) -> None:
        account = self.get(address)
        self.set(address, account.with_changes(nonce=account.nonce + 1))

    def _trie_items(self) -> dict[bytes, bytes]:
        return {a: acct.encode() for a, acct in self._accounts.items() if not acct.is_empty}

    def root(self) -> bytes:
        """The state root (Yellow Paper 4.1); empty accounts are left out (EIP-161)."""
        if self._root is None:
            self._root = secure_trie_root(self._trie_items())
        return self._root

    def account_proof(self, address: bytes) -> list[bytes]:
        """The state-trie nodes proving ``address`` (EIP-1186 ``accountProof``)."""
        return secure_trie_proof(self._trie_items(), bytes(address))

    def storage_proof(self, address: bytes, slot: bytes) -> list[bytes]:
        """The storage-trie nodes proving ``slot`` of ``address`` (EIP-1186 ``storageProof[].proof``)."""
        account = self.get(address)
        if not account.storage:
            return []
        return secure_trie_proof(account.storage_items(), bytes(slot))


def contract_address(sender: bytes, nonce: int) -> bytes:
    """CREATE address: ``keccak256(rlp([sender, nonce]))[12:]`` (Yellow Paper, section 7)."""
    return keccak256(rlp_encode([bytes(sender), int_bytes(nonce)]))[12:]

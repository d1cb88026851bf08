"""Merkle-Patricia trie roots and proofs, headers and account encoding against public vectors.

Vectors:
- ethereum/tests ``TrieTests/trietest.json`` (``emptyValues``, ``branchingTests``, ``jeff``,
  ``insert-middle-leaf``): final key sets after the listed inserts and deletions, and roots.
- ethereum/tests ``BlockchainTests/ValidBlocks/bcValidBlockTest/eip2930.json``
  (``eip2930_Cancun``, block 1): the full block RLP in ``tests/vectors/execution/eip2930_cancun_block1.rlp.hex``,
  block hash ``0xec8f7115...7d96`` and transactionsTrie ``0x3dec43d5...b72e``. Clients validate
  these blocks, so the transaction root is a real one (13 legacy and access-list transactions).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.protocol.block import EMPTY_OMMERS_HASH, EMPTY_REQUESTS_HASH, Header
from opfleet.protocol.state import EMPTY_CODE_HASH, Account, WorldState, contract_address
from opfleet.protocol.trie import (
    EMPTY_TRIE_ROOT,
    hex_prefix,
    ordered_trie_root,
    secure_trie_proof,
    secure_trie_root,
    trie_proof,
    trie_root,
    verify_proof,
)
from opfleet.protocol.crypto import keccak256

DATA = Path(__file__).parent.parent / "vectors" / "execution"


def b(text: str) -> bytes:
    return bytes.fromhex(text[2:]) if text.startswith("0x") else text.encode()


def test_empty_trie_root_is_the_well_known_constant():
    assert EMPTY_TRIE_ROOT.hex() == "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    assert trie_root({}) == EMPTY_TRIE_ROOT
    assert ordered_trie_root([]) == EMPTY_TRIE_ROOT
    assert EMPTY_OMMERS_HASH.hex() == "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
    assert EMPTY_CODE_HASH.hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert EMPTY_REQUESTS_HASH.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_trietest_empty_values():
    # trietest.json "emptyValues": ether and shaman are inserted, then deleted (null).
    items = {b("do"): b("verb"), b("horse"): b("stallion"), b("doge"): b("coin"), b("dog"): b("puppy"),
             b("ether"): b"", b("shaman"): b""}
    assert trie_root(items).hex() == "5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84"


def test_trietest_branching_tests_all_deleted_is_empty():
    keys = ["0x04110d816c380812a427968ece99b1c963dfbce6", "0x095e7baea6a6c7c4c2dfeb977efac326af552d87"]
    assert trie_root({b(k): b"" for k in keys}) == EMPTY_TRIE_ROOT


def test_trietest_jeff():
    # trietest.json "jeff": final state after the deletion of ...1234567890 and the overwrite.
    pairs = [
        ("0x0000000000000000000000000000000000000000000000000000000000000045", "0x22b224a1420a802ab51d326e29fa98e34c4f24ea"),
        ("0x0000000000000000000000000000000000000000000000000000000000000046", "0x67706c2076330000000000000000000000000000000000000000000000000000"),
        ("0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6", "0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000"),
        ("0x0000000000000000000000007ef9e639e2733cb34e4dfc576d4b23f72db776b2", "0x4655474156000000000000000000000000000000000000000000000000000000"),
        ("0x000000000000000000000000ec4f34c97e43fbb2816cfd95e388353c7181dab1", "0x4e616d6552656700000000000000000000000000000000000000000000000000"),
        ("0x4655474156000000000000000000000000000000000000000000000000000000", "0x7ef9e639e2733cb34e4dfc576d4b23f72db776b2"),
        ("0x4e616d6552656700000000000000000000000000000000000000000000000000", "0xec4f34c97e43fbb2816cfd95e388353c7181dab1"),
        ("0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000", "0x697c7b8c961b56f675d570498424ac8de1a918f6"),
    ]
    assert trie_root({b(k): b(v) for k, v in pairs}).hex() == (
        "9f6221ebb8efe7cff60a716ecb886e67dd042014be444669f0159d8e68b42100")


def test_trietest_insert_middle_leaf():
    pairs = [("key1aa", "0123456789012345678901234567890123456789xxx"),
             ("key1", "0123456789012345678901234567890123456789Very_Long"),
             ("key2bb", "aval3"), ("key2", "short"), ("key3cc", "aval3"),
             ("key3", "1234567890123456789012345678901")]
    assert trie_root({b(k): b(v) for k, v in pairs}).hex() == (
        "cb65032e2f76c48b82b5c24b3db8f670ce73982869d38cd39a624f23d62a9e89")


def test_root_does_not_depend_on_insertion_order():
    pairs = [(b("do"), b("verb")), (b("dog"), b("puppy")), (b("doge"), b("coin")), (b("horse"), b("stallion"))]
    assert trie_root(pairs) == trie_root(list(reversed(pairs)))


def test_hex_prefix_encoding_yellow_paper_examples():
    # Yellow Paper Appendix C: flags 0/1 (extension, even/odd) and 2/3 (leaf, even/odd).
    assert hex_prefix(bytes([1, 2, 3, 4, 5]), leaf=False) == bytes([0x11, 0x23, 0x45])
    assert hex_prefix(bytes([0, 1, 2, 3, 4, 5]), leaf=False) == bytes([0x00, 0x01, 0x23, 0x45])
    assert hex_prefix(bytes([0, 0xF, 1, 0xC, 0xB, 8]), leaf=True) == bytes([0x20, 0x0F, 0x1C, 0xB8])
    assert hex_prefix(bytes([0xF, 1, 0xC, 0xB, 8]), leaf=True) == bytes([0x3F, 0x1C, 0xB8])


def test_cancun_block_header_hash_and_transactions_root():
    raw = bytes.fromhex((DATA / "eip2930_cancun_block1.rlp.hex").read_text().strip())
    header_fields, txs, ommers, withdrawals = rlp.decode(raw)
    assert ommers == [] and withdrawals == []
    # Block body items: legacy transactions are lists, typed ones byte strings.
    encoded = [t if isinstance(t, bytes) else rlp.encode(t) for t in txs]
    assert len(encoded) == 14
    assert ordered_trie_root(encoded).hex() == "3dec43d5f362c17c444579fd3d828e60c4cc2f273ddb4958ab0002730104b72e"
    names = ("parent_hash", "ommers_hash", "coinbase", "state_root", "transactions_root", "receipts_root",
             "logs_bloom", "difficulty", "number", "gas_limit", "gas_used", "timestamp", "extra_data", "mix_hash",
             "nonce", "base_fee_per_gas", "withdrawals_root", "blob_gas_used", "excess_blob_gas",
             "parent_beacon_block_root")
    ints = {"difficulty", "number", "gas_limit", "gas_used", "timestamp", "base_fee_per_gas", "blob_gas_used",
            "excess_blob_gas"}
    values = {n: int.from_bytes(v, "big") if n in ints else v for n, v in zip(names, header_fields)}
    header = Header(**values)
    assert header.encode() == rlp.encode(header_fields)
    assert header.hash().hex() == "ec8f711531a4aa2ddcf1a066f8bb95928dc68bd32c5063c4315c506ff9027d96"
    assert header.withdrawals_root == EMPTY_TRIE_ROOT
    json_view = header.to_json()
    assert json_view["gasUsed"] == "0x9f7f8" and json_view["extraData"] == "0x42"
    assert "requestsHash" not in json_view


def test_header_rejects_fork_fields_with_gaps():
    with pytest.raises(ValueError):
        Header(parent_hash=bytes(32), number=1, timestamp=1, gas_limit=1, base_fee_per_gas=1, blob_gas_used=0)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.binary(min_size=1, max_size=6), st.binary(min_size=1, max_size=40), max_size=24),
       st.binary(min_size=1, max_size=6))
def test_proofs_verify_every_key_and_absence(items, probe):
    root = trie_root(items)
    for key, value in items.items():
        assert verify_proof(root, key, trie_proof(items, key)) == value
    expected = items.get(probe)
    assert verify_proof(root, probe, trie_proof(items, probe)) == expected


def test_proof_against_another_root_fails():
    items = {bytes([i]) * 3: bytes([i]) * 40 for i in range(1, 20)}
    proof = trie_proof(items, b"\x05\x05\x05")
    with pytest.raises(ValueError):
        verify_proof(keccak256(b"not the root"), b"\x05\x05\x05", proof)
    with pytest.raises(ValueError):
        verify_proof(trie_root(items), b"\x05\x05\x05", proof[:1])


def test_secure_trie_and_account_state():
    alice, bob = b"\xaa" * 20, b"\xbb" * 20
    state = WorldState({alice: Account(nonce=1, balance=10**18), bob: Account(balance=5)})
    expected = secure_trie_root({
        alice: rlp.encode([1, 10**18, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]),
        bob: rlp.encode([0, 5, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]),
    })
    assert state.root() == expected
    # EIP-161: an empty account is not in the trie.
    state.set(b"\xcc" * 20, Account())
    assert state.root() == expected
    proof = state.account_proof(alice)
    assert rlp.decode(verify_proof(state.root(), keccak256(alice), proof)) == [b"\x01", (10**18).to_bytes(8, "big"),
                                                                                EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]
    assert verify_proof(state.root(), keccak256(b"\xdd" * 20), state.account_proof(b"\xdd" * 20)) is None


def test_storage_root_and_storage_proof():
    slot = (1).to_bytes(32, "big")
    account = Account(nonce=1, code=b"\x00", storage={slot: 0x1234, (2).to_bytes(32, "big"): 0})
    assert dict(account.storage) == {slot: 0x1234}  # zero words are not stored
    assert account.storage_root == secure_trie_root({slot: rlp.encode(0x1234)})
    state = WorldState({b"\x42" * 20: account})
    proof = state.storage_proof(b"\x42" * 20, slot)
    assert verify_proof(account.storage_root, keccak256(slot), proof) == rlp.encode(0x1234)
    assert secure_trie_proof(account.storage_items(), slot) == proof


def test_contract_address_known_value():
    # The first contract deployed by 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0 (nonce 0), a
    # widely quoted CREATE example.
    sender = bytes.fromhex("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0")
    assert contract_address(sender, 0).hex() == "cd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
    assert contract_address(sender, 1).hex() == "343c43a37d37dff08ae8c4a11544c718abb4fcf8"

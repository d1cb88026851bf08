"""eth_getProof answers checked against a state root (op-node's AccountResult.Verify): a proven
account passes, a tampered one, an absent one and an incomplete proof do not."""

from __future__ import annotations

import pytest

from opfleet.protocol.account_proof import ProofError, verify_account_proof
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from opfleet.protocol.state import Account, WorldState
from opfleet.protocol.trie import verify_proof

PASSER = L2_TO_L1_MESSAGE_PASSER_ADDRESS


def answer(state: WorldState, address: bytes, **override) -> dict:
    account = state.get(address)
    out = {"address": "0x" + address.hex(), "accountProof": ["0x" + n.hex() for n in state.account_proof(address)],
           "balance": hex(account.balance), "codeHash": "0x" + account.code_hash.hex(), "nonce": hex(account.nonce),
           "storageHash": "0x" + account.storage_root.hex(), "storageProof": []}
    out.update(override)
    return out


def state_with_passer() -> WorldState:
    accounts = {bytes([i]) * 20: Account(balance=i * 10**18) for i in range(1, 40)}
    accounts[PASSER] = Account(code=b"\x60\x00\x60\x00\xfd", storage={bytes(31) + b"\x01": 5})
    return WorldState(accounts)


def test_a_proven_account_passes_and_gives_its_storage_root():
    state = state_with_passer()
    proven = verify_account_proof(state.root(), PASSER, answer(state, PASSER))
    assert proven.storage_hash == state.get(PASSER).storage_root
    assert proven.code_hash == keccak256(b"\x60\x00\x60\x00\xfd")
    single = WorldState({PASSER: Account(code=b"\x00")})  # the root node is the account's leaf
    assert verify_account_proof(single.root(), PASSER, answer(single, PASSER)).nonce == 0


def test_a_tampered_claim_is_refused():
    state = state_with_passer()
    with pytest.raises(ProofError, match="does not match"):
        verify_account_proof(state.root(), PASSER, answer(state, PASSER, storageHash="0x" + "00" * 32))
    with pytest.raises(ProofError, match="does not match"):
        verify_account_proof(state.root(), PASSER, answer(state, PASSER, balance="0x1"))


def test_an_absent_account_cannot_be_proven():
    state = WorldState({bytes([i]) * 20: Account(balance=1) for i in range(1, 40)})
    zero = "0x" + "00" * 32
    with pytest.raises(ProofError, match="not in the state"):
        verify_account_proof(state.root(), PASSER, answer(state, PASSER, storageHash=zero, codeHash=zero))


def test_an_incomplete_or_foreign_proof_is_refused():
    state = state_with_passer()
    full = answer(state, PASSER)
    with pytest.raises(ProofError, match="missing"):
        verify_account_proof(state.root(), PASSER, {**full, "accountProof": full["accountProof"][1:]})
    with pytest.raises(ProofError, match="asked for"):
        verify_account_proof(state.root(), PASSER, {**full, "address": "0x" + "11" * 20})
    with pytest.raises(ProofError):
        verify_account_proof(state.root(), PASSER, {**full, "accountProof": "0x00"})


def test_walk_proof_reads_storage_values():
    state = state_with_passer()
    slot = bytes(31) + b"\x01"
    value = verify_proof(state.get(PASSER).storage_root, keccak256(slot), state.storage_proof(PASSER, slot))
    assert value == b"\x05"
    assert verify_proof(state.get(PASSER).storage_root, keccak256(bytes(32)), state.storage_proof(PASSER, bytes(32))) is None

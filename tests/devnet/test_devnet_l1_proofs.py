"""The embedded L1 serves EIP-1186 proofs (``eth_getProof``) and ``eth_getStorageAt``: what op-node
reads, and verifies against the block's state root, before it starts (the SystemConfig's
unsafe-block signer slot)."""

from __future__ import annotations

import rlp

from opfleet.devnet.l1 import (
    DEFAULT_SYSTEM_CONFIG_ADDRESS,
    UNSAFE_BLOCK_SIGNER_SLOT,
    L1Chain,
    L1Config,
    L1Server,
    system_config_account,
)
from opfleet.protocol.state import Account
from opfleet.protocol.trie import EMPTY_TRIE_ROOT, verify_proof
from opfleet.protocol.crypto import keccak256
from opfleet.providers.jsonrpc import JsonRpcClient

SIGNER = bytes.fromhex("9965507d1a55bcc2695c58ba16fb37d819b0a4dc")
RICH = b"\x11" * 20


def _b(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def check_account_proof(state_root: bytes, proof: dict) -> None:
    """What op-node's ``AccountResult.Verify`` checks: storage values against storageHash, the
    account (nonce, balance, storageHash, codeHash) against the state root."""
    for entry in proof["storageProof"]:
        found = verify_proof(_b(proof["storageHash"]), keccak256(_b(entry["key"]).rjust(32, b"\0")),
                             [_b(n) for n in entry["proof"]])
        value = int(entry["value"], 16)
        if found is None:
            assert value == 0
        else:
            assert found == rlp.encode(value)
    claimed = rlp.encode([int(proof["nonce"], 16), int(proof["balance"], 16), _b(proof["storageHash"]),
                          _b(proof["codeHash"])])
    assert verify_proof(state_root, keccak256(_b(proof["address"])), [_b(n) for n in proof["accountProof"]]) == claimed


async def test_system_config_signer_slot_is_proven_against_the_state_root(nursery):
    chain = L1Chain(L1Config(alloc={DEFAULT_SYSTEM_CONFIG_ADDRESS: system_config_account(SIGNER),
                                    RICH: Account(balance=10**21)}))
    chain.mine()
    server = L1Server(chain)
    await nursery.start(server.serve, "127.0.0.1", 0)
    async with JsonRpcClient(server.url) as rpc:
        block = await rpc.call("eth_getBlockByNumber", "latest", False)
        slot = "0x" + UNSAFE_BLOCK_SIGNER_SLOT.hex()
        proof = await rpc.call("eth_getProof", "0x" + DEFAULT_SYSTEM_CONFIG_ADDRESS.hex(), [slot, "0x1"], block["hash"])
        assert proof["storageProof"][0]["key"] == slot
        assert int(proof["storageProof"][0]["value"], 16) == int.from_bytes(SIGNER, "big")
        assert int(proof["storageProof"][1]["value"], 16) == 0  # an empty slot: proven absent
        assert proof["storageHash"] != "0x" + EMPTY_TRIE_ROOT.hex()
        check_account_proof(_b(block["stateRoot"]), proof)
        stored = await rpc.call("eth_getStorageAt", "0x" + DEFAULT_SYSTEM_CONFIG_ADDRESS.hex(), slot, "latest")
        assert _b(stored) == bytes(12) + SIGNER

        # Any other account, present or not, by number too.
        for address in (RICH, b"\x99" * 20):
            other = await rpc.call("eth_getProof", "0x" + address.hex(), [], block["number"])
            assert other["storageHash"] == "0x" + EMPTY_TRIE_ROOT.hex() and other["storageProof"] == []
            if address == RICH:
                check_account_proof(_b(block["stateRoot"]), other)
                assert int(other["balance"], 16) == 10**21

"""L2Provider: refs with L1 origin and sequence number from the L1-info deposit; genesis; output pieces.

Vectors: tests/vectors/l1-info-calldata.json (OP Mainnet Ecotone L1-info calldata and its decoded
fields) and tests/vectors/rollup-configs/op-mainnet.rollup.json (adapted to a test genesis).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import rlp
from providers_fakes import FakeNode

from opfleet.errors import CriticalError
from opfleet.protocol.block_ref import BlockID, L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.l1_block_info import L1BlockInfo, encode_l1_block_info
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS, OutputV0
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.providers import BlockNotFoundError, JsonRpcClient
from opfleet.providers.l2 import L2Provider


def _state(n: int) -> dict[bytes, bytes]:
    """Block ``n``'s state trie items: the message passer (storage root PASSER_ROOT) and an
    account whose nonce is ``n`` (so every block has its own state root)."""
    from opfleet.devnet.trie import EMPTY_TRIE_ROOT

    return {L2_TO_L1_MESSAGE_PASSER_ADDRESS: rlp.encode([0, 0, PASSER_ROOT, keccak256(b"")]),
            b"\x01" * 20: rlp.encode([n, 0, EMPTY_TRIE_ROOT, keccak256(b"")])}


def state_root(n: int) -> bytes:
    from opfleet.devnet.trie import secure_trie_root

    return secure_trie_root(_state(n))


def passer_proof(n: int) -> dict:
    """``eth_getProof(message passer, [], block n)`` as op-geth answers it: provable."""
    from opfleet.devnet.trie import secure_trie_proof

    return {"address": "0x" + L2_TO_L1_MESSAGE_PASSER_ADDRESS.hex(), "nonce": "0x0", "balance": "0x0",
            "storageHash": h(PASSER_ROOT), "codeHash": h(keccak256(b"")), "storageProof": [],
            "accountProof": [h(node) for node in secure_trie_proof(_state(n), L2_TO_L1_MESSAGE_PASSER_ADDRESS)]}

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ECOTONE = next(v for v in json.loads((VECTORS / "l1-info-calldata.json").read_text())["vectors"] if v["fork"] == "ecotone")
T0 = 1_700_000_000
L2_GENESIS = keccak256(b"l2 genesis")
L1_GENESIS = BlockID(keccak256(b"l1 genesis"), 50)
ISTHMUS_BLOCK = 4
PASSER_ROOT = keccak256(b"message passer storage")


def rollup_config() -> RollupConfig:
    base = RollupConfig.from_json_text((VECTORS / "rollup-configs" / "op-mainnet.rollup.json").read_text())
    genesis = dataclasses.replace(base.genesis, l1=L1_GENESIS, l2=BlockID(L2_GENESIS, 0), l2_time=T0)
    return dataclasses.replace(
        base, genesis=genesis, block_time=2, regolith_time=0, canyon_time=0, delta_time=0, ecotone_time=0,
        fjord_time=0, granite_time=0, holocene_time=0, isthmus_time=T0 + 2 * ISTHMUS_BLOCK, jovian_time=None,
        karst_time=None, interop_time=None,
    )


def h(b: bytes) -> str:
    return "0x" + b.hex()


def l1_info(n: int) -> bytes:
    if n == 3:
        return bytes.fromhex(ECOTONE["calldata"][2:])  # a real OP Mainnet deposit
    return encode_l1_block_info(L1BlockInfo(
        layout="ecotone", number=50 + n // 2, time=T0 + 12 * (n // 2), base_fee=1,
        block_hash=keccak256(b"l1 %d" % (n // 2)), sequence_number=n % 2, batcher_address=b"\x66" * 20,
    ))


class FakeL2:
    def __init__(self, length: int = 6, *, genesis_hash: bytes = L2_GENESIS, first_tx_type: str = "0x7e"):
        self.blocks: list[dict[str, Any]] = []
        self.first_txs: dict[str, dict[str, Any] | None] = {}
        self.race_once = False
        for n in range(length):
            block_hash = genesis_hash if n == 0 else keccak256(b"l2 %d" % n)
            parent = self.blocks[-1]["hash"] if self.blocks else h(bytes(32))
            block = {
                "hash": h(block_hash), "number": hex(n), "parentHash": parent, "timestamp": hex(T0 + 2 * n),
                "baseFeePerGas": "0x1", "mixHash": h(bytes(32)), "gasLimit": hex(30_000_000), "gasUsed": "0x0",
                "stateRoot": h(state_root(n)), "receiptsRoot": h(bytes(32)),
                "transactionsRoot": h(bytes(32)), "withdrawalsRoot": h(PASSER_ROOT if n >= ISTHMUS_BLOCK else keccak256(b"x")),
                "transactions": [],
            }
            self.blocks.append(block)
            self.first_txs[block["hash"]] = None if n == 0 else {
                "type": first_tx_type, "hash": h(keccak256(b"tx %d" % n)), "blockHash": block["hash"],
                "blockNumber": hex(n), "transactionIndex": "0x0", "input": h(l1_info(n)),
                "from": "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001", "to": "0x4200000000000000000000000000000000000015",
            }
        self.node = FakeNode({
            "eth_getBlockByNumber": lambda ident, full: self._find(ident),
            "eth_getBlockByHash": lambda ident, full: self._find(ident),
            "eth_getTransactionByBlockNumberAndIndex": self._first_tx,
            "eth_getTransactionByBlockHashAndIndex": self._first_tx,
            "eth_getProof": lambda address, keys, block: passer_proof(
                next(int(b["number"], 16) for b in self.blocks if b["hash"] == block)),
        })

    def _find(self, ident: str) -> dict[str, Any] | None:
        if ident == "latest":
            return self.blocks[-1]
        if len(ident) == 66:
            return next((b for b in self.blocks if b["hash"] == ident), None)
        n = int(ident, 16)
        return self.blocks[n] if n < len(self.blocks) else None

    def _first_tx(self, ident: str, index: str) -> dict[str, Any] | None:
        assert index == "0x0"
        if self.race_once and len(ident) != 66:
            self.race_once = False
            return self.first_txs[self.blocks[1]["hash"]]  # the tx of another block
        block = self._find(ident)
        return None if block is None else self.first_txs[block["hash"]]


def provider(chain: FakeL2) -> L2Provider:
    return L2Provider(JsonRpcClient("http://l2.test", transport=chain.node.transport(), name="L2 RPC"), rollup_config())


async def test_ref_from_a_real_ecotone_l1_info_deposit():
    chain = FakeL2()
    ref = await provider(chain).l2_block_ref(3)
    decoded = ECOTONE["decoded"]
    assert ref.l1_origin == BlockID(bytes.fromhex(decoded["block_hash"][2:]), decoded["number"])
    assert ref.sequence_number == decoded["sequence_number"] == 5
    assert ref.to_json() == {
        "hash": chain.blocks[3]["hash"], "number": 3, "parentHash": chain.blocks[2]["hash"], "timestamp": T0 + 6,
        "l1origin": {"hash": decoded["block_hash"], "number": decoded["number"]}, "sequenceNumber": 5,
    }
    assert chain.node.http_log == [["eth_getBlockByNumber", "eth_getTransactionByBlockNumberAndIndex"]]


async def test_refs_by_number_label_and_hash_agree_and_hash_is_cached():
    chain = FakeL2()
    l2 = provider(chain)
    by_number = await l2.l2_block_ref(5)
    assert by_number.l1_origin == BlockID(keccak256(b"l1 2"), 52) and by_number.sequence_number == 1
    assert await l2.l2_block_ref("latest") == by_number
    assert await l2.l2_block_ref(by_number.hash) == by_number
    assert await l2.l2_block_ref("0x" + by_number.hash.hex()) == by_number
    assert len(chain.node.http_log) == 2  # the two hash lookups were served from the cache
    assert L2BlockRef.from_json(by_number.to_json()) == by_number


async def test_genesis_uses_the_rollup_config_origin():
    chain = FakeL2()
    ref = await provider(chain).l2_block_ref(0)
    assert ref == L2BlockRef(L2_GENESIS, 0, bytes(32), T0, L1_GENESIS, 0)


async def test_genesis_hash_mismatch_is_critical():
    chain = FakeL2(genesis_hash=keccak256(b"another chain"))
    with pytest.raises(CriticalError, match="rollup config's L2 genesis is " + h(L2_GENESIS)):
        await provider(chain).l2_block_ref(0)


async def test_a_block_without_l1_info_deposit_is_critical():
    chain = FakeL2(first_tx_type="0x2")
    with pytest.raises(CriticalError, match="first transaction is not a deposit"):
        await provider(chain).l2_block_ref(2)
    chain = FakeL2()
    chain.first_txs[chain.blocks[2]["hash"]]["input"] = "0x12345678"
    with pytest.raises(CriticalError, match="cannot decode the L1-info deposit"):
        await provider(chain).l2_block_ref(2)


async def test_tx_from_another_block_is_refetched_by_hash():
    chain = FakeL2()
    chain.race_once = True
    ref = await provider(chain).l2_block_ref(4)
    assert ref.l1_origin == BlockID(keccak256(b"l1 2"), 52) and ref.sequence_number == 0
    assert chain.node.http_log[-1] == ["eth_getTransactionByBlockHashAndIndex"]


async def test_unknown_block_is_not_found():
    with pytest.raises(BlockNotFoundError, match="L2 block 42 not found"):
        await provider(FakeL2()).l2_block_ref(42)


async def test_output_pre_isthmus_uses_eth_get_proof():
    chain = FakeL2()
    output, ref = await provider(chain).output_v0(ISTHMUS_BLOCK - 1)
    assert output == OutputV0(state_root(3), PASSER_ROOT, ref.hash)
    assert chain.node.http_log[-1] == ["eth_getProof"]
    proof_call = [m for m in chain.node.calls if m == "eth_getProof"]
    assert len(proof_call) == 1


async def test_output_from_isthmus_reads_the_header_withdrawals_root():
    chain = FakeL2()
    chain.node.methods["eth_getProof"] = lambda *a: pytest.fail("no eth_getProof from Isthmus")
    output, ref = await provider(chain).output_v0(ISTHMUS_BLOCK)
    assert output.message_passer_storage_root == PASSER_ROOT
    assert output.output_root() == keccak256(bytes(32) + state_root(4) + PASSER_ROOT + ref.hash)
    del chain.blocks[5]["withdrawalsRoot"]
    with pytest.raises(CriticalError, match="no withdrawalsRoot"):
        await provider(chain).output_v0(5)

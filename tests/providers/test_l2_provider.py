"""L2Provider: refs with L1 origin and sequence number from the L1-info deposit of a full block
(``eth_getBlockBy*(…, true)``, what the engine endpoint guarantees); genesis; bad blocks; output pieces.

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

from opfleet.engine.driver import ref_from_transactions
from opfleet.errors import BlockNotFoundError, CriticalError, TemporaryError
from opfleet.protocol.block_ref import BlockID, L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import DepositTx
from opfleet.protocol.engine_api import ENGINE_ETH_METHODS
from opfleet.protocol.l1_block_info import L1BlockInfo, encode_l1_block_info
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS, OutputV0
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.providers import JsonRpcClient
from opfleet.providers.l2 import L2Provider


def _state(n: int) -> dict[bytes, bytes]:
    """Block ``n``'s state trie items: the message passer (storage root PASSER_ROOT) and an
    account whose nonce is ``n`` (so every block has its own state root)."""
    from opfleet.protocol.trie import EMPTY_TRIE_ROOT

    return {L2_TO_L1_MESSAGE_PASSER_ADDRESS: rlp.encode([0, 0, PASSER_ROOT, keccak256(b"")]),
            b"\x01" * 20: rlp.encode([n, 0, EMPTY_TRIE_ROOT, keccak256(b"")])}


def state_root(n: int) -> bytes:
    from opfleet.protocol.trie import secure_trie_root

    return secure_trie_root(_state(n))


def passer_proof(n: int) -> dict:
    """``eth_getProof(message passer, [], block n)`` as op-geth answers it: provable."""
    from opfleet.protocol.trie import secure_trie_proof

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
    """An L2 engine endpoint serving only what the Engine API specification lists (and
    ``eth_getProof``): blocks carry full transaction objects when asked for them."""

    def __init__(self, length: int = 6, *, genesis_hash: bytes = L2_GENESIS, first_tx_type: str = "0x7e"):
        self.blocks: list[dict[str, Any]] = []
        self.txs: dict[str, list[dict[str, Any]]] = {}
        self.full_flags: list[bool] = []
        for n in range(length):
            block_hash = genesis_hash if n == 0 else keccak256(b"l2 %d" % n)
            parent = self.blocks[-1]["hash"] if self.blocks else h(bytes(32))
            block = {
                "hash": h(block_hash), "number": hex(n), "parentHash": parent, "timestamp": hex(T0 + 2 * n),
                "baseFeePerGas": "0x1", "mixHash": h(bytes(32)), "gasLimit": hex(30_000_000), "gasUsed": "0x0",
                "stateRoot": h(state_root(n)), "receiptsRoot": h(bytes(32)),
                "transactionsRoot": h(bytes(32)), "withdrawalsRoot": h(PASSER_ROOT if n >= ISTHMUS_BLOCK else keccak256(b"x")),
            }
            self.blocks.append(block)
            self.txs[block["hash"]] = [] if n == 0 else [{
                "type": first_tx_type, "hash": h(keccak256(b"tx %d" % n)), "blockHash": block["hash"],
                "blockNumber": hex(n), "transactionIndex": "0x0", "input": h(l1_info(n)),
                "from": "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001", "to": "0x4200000000000000000000000000000000000015",
            }, {
                "type": "0x2", "hash": h(keccak256(b"user tx %d" % n)), "blockHash": block["hash"],
                "blockNumber": hex(n), "transactionIndex": "0x1", "input": "0x",
            }]
        self.node = FakeNode({
            "eth_getBlockByNumber": self._find,
            "eth_getBlockByHash": self._find,
            "eth_getProof": lambda address, keys, block: passer_proof(
                next(int(b["number"], 16) for b in self.blocks if b["hash"] == block)),
        })

    def _find(self, ident: str, full: bool) -> dict[str, Any] | None:
        self.full_flags.append(full)
        if ident == "latest":
            block = self.blocks[-1]
        elif len(ident) == 66:
            block = next((b for b in self.blocks if b["hash"] == ident), None)
        else:
            n = int(ident, 16)
            block = self.blocks[n] if n < len(self.blocks) else None
        if block is None:
            return None
        txs = self.txs[block["hash"]]
        return {**block, "transactions": txs if full else [t["hash"] for t in txs]}


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
    # One call, with full transactions: transaction 0 comes from the block itself.
    assert chain.node.http_log == [["eth_getBlockByNumber"]] and chain.full_flags == [True]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
async def test_the_ref_is_the_one_the_raw_deposit_gives(n):
    """The JSON path (engine endpoint) and the raw-bytes path (full blocks the driver compares)
    apply the same rule: same ref from the same L1-info deposit."""
    chain = FakeL2()
    ref = await provider(chain).l2_block_ref(n)
    block = chain.blocks[n]
    deposit = DepositTx(source_hash=keccak256(b"src"), from_address=b"\xde" * 20, to=b"\x42" * 20, mint=0, value=0,
                        gas=1_000_000, is_system_tx=False, data=l1_info(n))
    assert ref == ref_from_transactions(
        rollup_config(), bytes.fromhex(block["hash"][2:]), n, bytes.fromhex(block["parentHash"][2:]), T0 + 2 * n,
        [deposit.encode(), b"\x02user"])
    if n != 3:  # block 3 carries the OP Mainnet vector
        assert (ref.l1_origin, ref.sequence_number) == (BlockID(keccak256(b"l1 %d" % (n // 2)), 50 + n // 2), n % 2)


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


async def test_a_number_is_asked_again_and_follows_a_reorg():
    chain = FakeL2()
    l2 = provider(chain)
    before = await l2.l2_block_ref(4)
    chain.blocks[4] = {**chain.blocks[4], "hash": h(keccak256(b"reorged 4"))}
    chain.txs[chain.blocks[4]["hash"]] = chain.txs[h(before.hash)]
    after = await l2.l2_block_ref(4)
    assert after.hash == keccak256(b"reorged 4") != before.hash
    assert await l2.l2_block_ref(before.hash) == before  # a hash still names its own block (cached)
    assert chain.node.calls == ["eth_getBlockByNumber", "eth_getBlockByNumber"]


async def test_only_methods_the_engine_api_guarantees_are_used():
    chain = FakeL2()
    l2 = provider(chain)
    ref = await l2.l2_block_ref(2)
    await l2.l2_block_ref("latest")
    await l2.l2_block_ref(keccak256(b"l2 3"))
    await l2.output_v0(ISTHMUS_BLOCK)
    assert ref.number == 2
    assert set(chain.node.calls) <= set(ENGINE_ETH_METHODS)


async def test_genesis_uses_the_rollup_config_origin():
    chain = FakeL2()
    ref = await provider(chain).l2_block_ref(0)
    assert ref == L2BlockRef(L2_GENESIS, 0, bytes(32), T0, L1_GENESIS, 0)


async def test_genesis_hash_mismatch_is_critical():
    chain = FakeL2(genesis_hash=keccak256(b"another chain"))
    with pytest.raises(CriticalError, match="rollup config's L2 genesis is " + h(L2_GENESIS)):
        await provider(chain).l2_block_ref(0)


async def test_a_block_without_transactions_after_genesis_is_critical():
    chain = FakeL2()
    chain.txs[chain.blocks[2]["hash"]] = []
    with pytest.raises(CriticalError, match=r"http://l2.test.*: L2 block 2 \(0x[0-9a-f]{64}\) has no transactions: "
                                            "it is missing the L1-info deposit"):
        await provider(chain).l2_block_ref(2)


async def test_a_block_whose_first_transaction_is_not_a_deposit_is_critical():
    chain = FakeL2(first_tx_type="0x2")
    with pytest.raises(CriticalError, match=r"L2 block 2 .*first transaction is not a deposit \(type 0x2\)"):
        await provider(chain).l2_block_ref(2)


@pytest.mark.parametrize("calldata, reason", [
    ("0x12345678", "unknown L1-info selector 0x12345678"),
    (lambda n: h(l1_info(n)[:100]), "ecotone L1-info calldata must be 164 bytes, got 100"),
    ("0x", "too short for a selector"),
])
async def test_a_bad_l1_info_deposit_is_critical(calldata, reason):
    chain = FakeL2()
    chain.txs[chain.blocks[2]["hash"]][0]["input"] = calldata(2) if callable(calldata) else calldata
    with pytest.raises(CriticalError, match=r"L2 block 2 .*cannot decode the L1-info deposit: .*" + reason):
        await provider(chain).l2_block_ref(2)


@pytest.mark.parametrize("spoil, reason", [
    (lambda tx: tx.pop("input"), "malformed transaction 0: input: missing"),
    (lambda tx: tx.update(type="seven"), "malformed transaction 0: transaction type"),
])
async def test_a_malformed_first_transaction_is_critical(spoil, reason):
    chain = FakeL2()
    spoil(chain.txs[chain.blocks[2]["hash"]][0])
    with pytest.raises(CriticalError, match=r"L2 block 2 .*" + reason):
        await provider(chain).l2_block_ref(2)


async def test_transaction_hashes_instead_of_objects_is_a_clear_error():
    chain = FakeL2()
    chain.node.methods["eth_getBlockByNumber"] = lambda ident, full: chain._find(ident, False)
    with pytest.raises(CriticalError, match="transaction 0 is a str, not a transaction object"):
        await provider(chain).l2_block_ref(2)


async def test_a_block_without_a_transactions_list_is_malformed():
    chain = FakeL2()
    chain.node.methods["eth_getBlockByNumber"] = lambda ident, full: {
        k: v for k, v in chain._find(ident, full).items() if k != "transactions"}
    with pytest.raises(TemporaryError, match="malformed L2 block 2: transactions: expected a list"):
        await provider(chain).l2_block_ref(2)


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


# --- chain id and a block's logs (the supernode's log index reads them) ---------------------------


def logs_provider(answer: Any, seen: list | None = None) -> L2Provider:
    def get_logs(query):
        if seen is not None:
            seen.append(query)
        return answer
    node = FakeNode({"eth_getLogs": get_logs, "eth_chainId": lambda: "0x385"})
    return L2Provider(JsonRpcClient("http://l2.test", transport=node.transport()), rollup_config())


def log_json(index: Any, *, address: str = "0x" + "aa" * 20) -> dict:
    return {"address": address, "topics": ["0x" + "01" * 32], "data": "0xbeef", "logIndex": index,
            "blockHash": "0x" + "cc" * 32}


async def test_block_logs_by_hash_in_log_index_order():
    seen: list = []
    provider = logs_provider([log_json("0x2"), log_json("0x0"), log_json("0x1")], seen)
    logs = await provider.block_logs(b"\xcc" * 32)
    assert [entry.log_index for entry in logs] == [0, 1, 2]
    assert logs[0].address == b"\xaa" * 20 and logs[0].topics == (b"\x01" * 32,) and logs[0].data == b"\xbe\xef"
    assert seen == [{"blockHash": "0x" + "cc" * 32}]
    assert await logs_provider(None).block_logs(b"\xcc" * 32) == []
    assert await provider.chain_id() == 901


@pytest.mark.parametrize("answer", [
    {"logs": []}, "0x", [None], [log_json(None)], [log_json("1")], [log_json("0x1", address="0x1234")],
    [{**log_json("0x0"), "topics": "0x01"}],
])
async def test_block_logs_refuse_malformed_answers(answer):
    from opfleet.errors import DecodeError

    with pytest.raises(DecodeError):
        await logs_provider(answer).block_logs(b"\xcc" * 32)

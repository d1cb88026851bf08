"""Microseconds per call of the RLP-based codecs: deposits, transactions, singular batches,
account leaves, proof checks and the header an execution payload commits to.

Each figure is the best of 7 repeats (the least disturbed by other work on the machine).
No targets: the numbers are for comparing two versions of the code on one machine.

Run: .venv/bin/python bench/rlp_codecs.py [--scale N]
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable

from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.block import header_from_execution_payload
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import DepositTx, decode_deposit_tx
from opfleet.protocol.state import Account
from opfleet.protocol.transactions import (
    AccessTuple,
    Transaction,
    decode_transaction,
    encode_transaction,
    signing_hash,
)
from opfleet.protocol.trie import secure_trie_proof, secure_trie_root, verify_proof


def best_us(func: Callable[[], object], number: int) -> float:
    return round(min(timeit.repeat(func, number=number, repeat=7)) / number * 1e6, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="multiply the call counts (steadier, slower)")
    n = parser.parse_args().scale

    deposit = DepositTx(bytes(range(32)), b"\x11" * 20, b"\x22" * 20, 10**18, 5, 100_000, False, b"\x33" * 200)
    raw_deposit = deposit.encode()
    tx = Transaction(type=2, chain_id=10, nonce=7, max_priority_fee_per_gas=10**9, max_fee_per_gas=3 * 10**9,
                     gas=21_000, to=b"\x44" * 20, value=10**17, data=b"\x55" * 100,
                     access_list=(AccessTuple(b"\x66" * 20, (b"\x77" * 32, b"\x88" * 32)),),
                     v=1, r=2**255 + 7, s=2**200 + 9)
    raw_tx = encode_transaction(tx)
    batch = SingularBatch(b"\x11" * 32, 5, b"\x22" * 32, 7, tuple(b"\x02" + bytes(range(120)) * 2 for _ in range(200)))
    raw_batch = batch.encode()
    leaves = {i.to_bytes(20, "big"): b"\x01" * 70 for i in range(500)}
    root = secure_trie_root(leaves)
    key = (7).to_bytes(20, "big")
    proof = secure_trie_proof(leaves, key)
    payload = {
        "parentHash": "0x" + "11" * 32, "feeRecipient": "0x" + "22" * 20, "stateRoot": "0x" + "33" * 32,
        "receiptsRoot": "0x" + "44" * 32, "logsBloom": "0x" + "00" * 256, "prevRandao": "0x" + "55" * 32,
        "blockNumber": "0x10", "gasLimit": "0x1c9c380", "gasUsed": "0x5208", "timestamp": "0x6553f100",
        "extraData": "0x", "baseFeePerGas": "0x7", "transactions": ["0x" + raw_tx.hex()] * 20,
        "withdrawals": [], "blobGasUsed": "0x0", "excessBlobGas": "0x0",
    }

    figures = {
        "deposit_encode_us": best_us(deposit.encode, 20_000 * n),
        "deposit_decode_us": best_us(lambda: decode_deposit_tx(raw_deposit), 20_000 * n),
        "tx_encode_us": best_us(lambda: encode_transaction(tx), 20_000 * n),
        "tx_decode_us": best_us(lambda: decode_transaction(raw_tx), 20_000 * n),
        "tx_signing_hash_us": best_us(lambda: signing_hash(tx), 20_000 * n),
        "singular_batch_200tx_encode_us": best_us(batch.encode, 300 * n),
        "singular_batch_200tx_decode_us": best_us(lambda: SingularBatch.decode(raw_batch), 300 * n),
        "account_encode_us": best_us(
            lambda: Account(nonce=3, balance=10**20, storage={b"\x01" * 32: 5}).encode(), 5_000 * n),
        "verify_proof_500_accounts_us": best_us(lambda: verify_proof(root, keccak256(key), proof), 3_000 * n),
        "header_from_payload_20tx_us": best_us(
            lambda: header_from_execution_payload(payload, withdrawals=True, withdrawals_root=False,
                                                  blob_properties=True, parent_beacon_block_root=bytes(32)).hash(),
            1_000 * n),
    }
    print(json.dumps({"benchmark": "rlp_codecs", **figures}))


if __name__ == "__main__":
    main()

"""A fake L1 execution node with real signed transactions of every type, for the L1 provider tests."""

from __future__ import annotations

from typing import Any

from providers_fakes import FakeNode, RpcFailure

from opfleet.protocol.crypto import keccak256
from opfleet.protocol.transactions import (
    AccessTuple,
    Authorization,
    Transaction,
    encode_transaction,
    sign_transaction,
)

KEY = keccak256(b"opfleet test key")
CHAIN_ID = 900
INBOX = bytes.fromhex("ff00000000000000000000000000000000000900")
DEPOSIT_CONTRACT = bytes.fromhex("4200000000000000000000000000000000000bee")
TOPIC = keccak256(b"TransactionDeposited(address,address,uint256,bytes)")
UNKNOWN_TYPE_RAW = b"\x64" + b"future transaction type"


def q(value: int) -> str:
    return hex(value)


def h(value: bytes) -> str:
    return "0x" + value.hex()


def sample_transactions(nonce: int) -> list[Transaction]:
    """One signed transaction of each type 0-4 (nonces from ``nonce``)."""
    access = (AccessTuple(INBOX, (bytes(31) + b"\x01",)),)
    txs = [
        Transaction(type=0, chain_id=CHAIN_ID, nonce=nonce, gas_price=10**9, gas=21000, to=INBOX, value=1, data=b"\x00frame"),
        Transaction(type=0, chain_id=None, nonce=nonce + 1, gas_price=10**9, gas=60000, to=None, data=b"\x60\x00"),
        Transaction(type=1, chain_id=CHAIN_ID, nonce=nonce + 2, gas_price=2 * 10**9, gas=30000, to=INBOX,
                    data=b"\x00abc", access_list=access),
        Transaction(type=2, chain_id=CHAIN_ID, nonce=nonce + 3, max_priority_fee_per_gas=1, max_fee_per_gas=3 * 10**9,
                    gas=50000, to=INBOX, value=0, data=b"\x00" + bytes(100)),
        Transaction(type=3, chain_id=CHAIN_ID, nonce=nonce + 4, max_priority_fee_per_gas=1, max_fee_per_gas=3 * 10**9,
                    gas=21000, to=INBOX, max_fee_per_blob_gas=7,
                    blob_versioned_hashes=(b"\x01" + bytes(31), b"\x01" + b"\x22" * 31)),
        Transaction(type=4, chain_id=CHAIN_ID, nonce=nonce + 5, max_priority_fee_per_gas=1, max_fee_per_gas=3 * 10**9,
                    gas=80000, to=INBOX, access_list=access,
                    authorization_list=(Authorization(CHAIN_ID, DEPOSIT_CONTRACT, 3, 1, 12345, 67890),)),
    ]
    return [sign_transaction(tx, KEY) for tx in txs]


def tx_json(tx: Transaction, block_hash: bytes, number: int, index: int) -> dict[str, Any]:
    """The JSON object geth returns for ``tx`` (plus anvil-style extra sidecar fields on blob txs)."""
    raw = encode_transaction(tx)
    out: dict[str, Any] = {
        "blockHash": h(block_hash), "blockNumber": q(number), "transactionIndex": q(index),
        "hash": h(keccak256(raw)), "from": "0x" + "11" * 20, "type": q(tx.type), "nonce": q(tx.nonce),
        "gas": q(tx.gas), "to": h(tx.to) if tx.to is not None else None, "value": q(tx.value), "input": h(tx.data),
        "r": q(tx.r), "s": q(tx.s), "v": q(tx.v),
    }
    if tx.type in (0, 1):
        out["gasPrice"] = q(tx.gas_price)
    else:
        out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
        out["maxFeePerGas"] = q(tx.max_fee_per_gas)
        out["gasPrice"] = q(tx.max_fee_per_gas)
    if tx.type != 0:
        out["chainId"] = q(tx.chain_id)
        out["yParity"] = q(tx.v)
        out["accessList"] = [{"address": h(e.address), "storageKeys": [h(k) for k in e.storage_keys]}
                             for e in tx.access_list]
    elif tx.chain_id is not None:
        out["chainId"] = q(tx.chain_id)
    if tx.type == 3:
        out["maxFeePerBlobGas"] = q(tx.max_fee_per_blob_gas)
        out["blobVersionedHashes"] = [h(x) for x in tx.blob_versioned_hashes]
        out["blobs"] = ["0x00"]  # anvil adds sidecar data inline: must be ignored
        out["commitments"] = ["0x00"]
    if tx.type == 4:
        out["authorizationList"] = [
            {"chainId": q(a.chain_id), "address": h(a.address), "nonce": q(a.nonce), "yParity": q(a.y_parity),
             "r": q(a.r), "s": q(a.s)} for a in tx.authorization_list]
    return out


class FakeL1:
    """A linear L1 chain served over JSON-RPC; ``reorg(n)`` replaces blocks from ``n`` on."""

    def __init__(self, length: int = 8, *, block_receipts: bool = True, unknown_type_in: int | None = None):
        self.block_receipts = block_receipts
        self.unknown_type_in = unknown_type_in
        self.blocks: list[dict[str, Any]] = []
        self.receipts: dict[str, list[dict[str, Any]]] = {}
        self.raw: dict[str, bytes] = {}
        self.fork = 0
        self.finalized = 0
        for _ in range(length):
            self.add_block()
        methods = {
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_getTransactionReceipt": self.get_receipt,
            "eth_getRawTransactionByHash": lambda tx_hash: h(self.raw[tx_hash]) if tx_hash in self.raw else None,
        }
        if block_receipts:
            methods["eth_getBlockReceipts"] = self.get_block_receipts
        self.node = FakeNode(methods)

    def add_block(self) -> dict[str, Any]:
        number = len(self.blocks)
        parent = bytes.fromhex(self.blocks[-1]["hash"][2:]) if self.blocks else bytes(32)
        block_hash = keccak256(b"block %d fork %d" % (number, self.fork))
        txs = sample_transactions(number * 10) if number % 2 == 1 else []
        tx_objs = [tx_json(tx, block_hash, number, i) for i, tx in enumerate(txs)]
        for tx, obj in zip(txs, tx_objs):
            self.raw[obj["hash"]] = encode_transaction(tx)
        if number == self.unknown_type_in:
            unknown = {"hash": h(keccak256(UNKNOWN_TYPE_RAW)), "type": "0x64", "blockHash": h(block_hash),
                       "transactionIndex": q(len(tx_objs))}
            tx_objs.append(unknown)
            self.raw[unknown["hash"]] = UNKNOWN_TYPE_RAW
        block = {
            "hash": h(block_hash), "number": q(number), "parentHash": h(parent), "timestamp": q(1_700_000_000 + 12 * number),
            "baseFeePerGas": q(7 + number), "mixHash": h(keccak256(b"randao %d" % number)), "gasLimit": q(30_000_000),
            "gasUsed": q(21000 * len(tx_objs)), "stateRoot": h(keccak256(b"state")), "receiptsRoot": h(keccak256(b"r")),
            "transactionsRoot": h(keccak256(b"t")), "excessBlobGas": q(0), "blobGasUsed": q(0),
            "parentBeaconBlockRoot": h(bytes(32)), "withdrawalsRoot": h(keccak256(b"w")), "withdrawals": [],
            "logsBloom": "0x" + "00" * 256, "transactions": tx_objs,
        }
        self.blocks.append(block)
        self.receipts[block["hash"]] = [
            {
                "transactionHash": obj["hash"], "transactionIndex": q(i), "blockHash": block["hash"],
                "blockNumber": q(number), "status": "0x1", "type": obj["type"], "gasUsed": q(21000),
                "cumulativeGasUsed": q(21000 * (i + 1)), "contractAddress": None,
                "logs": [{"address": h(DEPOSIT_CONTRACT), "topics": [h(TOPIC), h(bytes(32))], "data": "0x1234",
                          "blockHash": block["hash"], "logIndex": q(i), "transactionHash": obj["hash"],
                          "transactionIndex": q(i), "removed": False}],
            }
            for i, obj in enumerate(tx_objs)
        ]
        return block

    def reorg(self, from_number: int) -> None:
        self.fork += 1
        del self.blocks[from_number:]
        length = from_number
        while len(self.blocks) < length + 2:
            self.add_block()

    def _present(self, block: dict[str, Any], full: bool) -> dict[str, Any]:
        if full:
            return block
        return dict(block, transactions=[t["hash"] for t in block["transactions"]])

    def _resolve(self, ident: str) -> dict[str, Any] | None:
        if ident in ("latest", "pending"):
            return self.blocks[-1]
        if ident == "safe":
            return self.blocks[max(0, len(self.blocks) - 3)]
        if ident == "finalized":
            return self.blocks[self.finalized]
        if ident == "earliest":
            return self.blocks[0]
        if len(ident) == 66:
            return next((b for b in self.blocks if b["hash"] == ident), None)
        number = int(ident, 16)
        return self.blocks[number] if number < len(self.blocks) else None

    def get_block_by_number(self, ident: str, full: bool) -> dict[str, Any] | None:
        if len(ident) == 66:
            raise RpcFailure(-32602, "invalid argument 0: hex number > 64 bits")
        block = self._resolve(ident)
        return None if block is None else self._present(block, full)

    def get_block_by_hash(self, block_hash: str, full: bool) -> dict[str, Any] | None:
        block = next((b for b in self.blocks if b["hash"] == block_hash), None)
        return None if block is None else self._present(block, full)

    def get_block_receipts(self, ident: str) -> list[dict[str, Any]] | None:
        block = self._resolve(ident)
        return None if block is None else self.receipts[block["hash"]]

    def get_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        for block in self.blocks:
            for receipt in self.receipts[block["hash"]]:
                if receipt["transactionHash"] == tx_hash:
                    return receipt
        return None

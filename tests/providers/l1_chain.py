"""The L1 the provider tests read: the devnet's L1 (chain core, real signed transactions of every
type, receipts with deposit logs) served by its JSON-RPC server, reached in-process."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from opfleet.devnet.blobtx import BlobSidecar, encode_pooled_blob_tx, make_sidecar
from opfleet.devnet.l1 import IncludedTx, L1Chain, L1ChainBlock, L1Server, deposit_calldata
from opfleet.protocol.blob import encode_blob
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.deposits import DEPOSIT_EVENT_TOPIC
from opfleet.protocol.hexjson import hex_data as h
from opfleet.protocol.hexjson import hex_quantity as q
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    AccessTuple,
    Authorization,
    Transaction,
    encode_transaction,
    sign_transaction,
)
from opfleet.rpc.server import HttpRequest, RpcError
from opfleet.testing.http import handler_transport

KEY = keccak256(b"opfleet test key")
SENDER = private_key_to_address(KEY)
CHAIN_ID = 900
GENESIS_TIME = 1_700_000_000
INBOX = bytes.fromhex("ff00000000000000000000000000000000000900")
DEPOSIT_CONTRACT = bytes.fromhex("4200000000000000000000000000000000000bee")
TOPIC = DEPOSIT_EVENT_TOPIC
assert TOPIC == keccak256(b"TransactionDeposited(address,address,uint256,bytes)")
UNKNOWN_TYPE_RAW = b"\x64" + b"future transaction type"


@cache
def _sidecar() -> BlobSidecar:
    return make_sidecar(encode_blob(b"\x00frame in a blob"))


def sample_transactions(nonce: int) -> list[bytes]:
    """One signed transaction of each type 0-4 and an unprotected legacy creation, nonces from
    ``nonce``: batcher-like transactions to the inbox (calldata, blob) and deposits through the
    portal (types 1, 2 and 4), which log ``TransactionDeposited``. The blob transaction is in
    its network form (with the sidecar), as the chain takes it."""
    access = (AccessTuple(INBOX, (bytes(31) + b"\x01",)),)
    deposit = deposit_calldata(SENDER, 1, 100_000, b"\x12\x34")
    sidecar = _sidecar()
    fees: dict[str, Any] = {"max_priority_fee_per_gas": 1, "max_fee_per_gas": 3 * 10**9}
    txs = [
        Transaction(type=0, chain_id=CHAIN_ID, nonce=nonce, gas_price=2 * 10**9, gas=30_000, to=INBOX, value=1,
                    data=b"\x00frame"),
        Transaction(type=0, chain_id=None, nonce=nonce + 1, gas_price=2 * 10**9, gas=60_000, to=None, data=b"\x60\x00"),
        Transaction(type=1, chain_id=CHAIN_ID, nonce=nonce + 2, gas_price=2 * 10**9, gas=150_000,
                    to=DEPOSIT_CONTRACT, data=deposit, access_list=access),
        Transaction(type=2, chain_id=CHAIN_ID, nonce=nonce + 3, gas=150_000, to=DEPOSIT_CONTRACT, data=deposit, **fees),
        Transaction(type=3, chain_id=CHAIN_ID, nonce=nonce + 4, gas=30_000, to=INBOX, max_fee_per_blob_gas=7,
                    blob_versioned_hashes=(sidecar.versioned_hash,), **fees),
        Transaction(type=4, chain_id=CHAIN_ID, nonce=nonce + 5, gas=200_000, to=DEPOSIT_CONTRACT, data=deposit,
                    access_list=access, authorization_list=(Authorization(CHAIN_ID, DEPOSIT_CONTRACT, 3, 1, 12345, 67890),),
                    **fees),
    ]
    signed = [sign_transaction(tx, KEY) for tx in txs]
    return [encode_pooled_blob_tx(tx, (sidecar,)) if tx.type == BLOB_TX_TYPE else encode_transaction(tx)
            for tx in signed]


class _Server(L1Server):
    """The devnet L1's server as anvil answers, with what a test needs to break: anvil inlines
    a blob transaction's sidecar in its JSON (readers must ignore it); ``unknown_type_in`` adds
    a transaction of a type no client knows to that block (its JSON cannot be rebuilt, so its
    raw form must be fetched: ``unknown_raw``); ``tampered_receipts`` replaces the receipts
    ``eth_getBlockReceipts`` gives for a block hash."""

    def __init__(self, chain: L1Chain, *, unknown_type_in: int | None):
        super().__init__(chain)
        self.unknown_type_in = unknown_type_in
        self.unknown_raw = UNKNOWN_TYPE_RAW
        self.tampered_receipts: dict[bytes, list[dict[str, Any]]] = {}

    def _unknown_in(self, block: L1ChainBlock) -> bool:
        return block.number == self.unknown_type_in

    def _unknown_json(self, block: L1ChainBlock) -> dict[str, Any]:
        return {"hash": h(keccak256(UNKNOWN_TYPE_RAW)), "type": "0x64", "blockHash": h(block.hash),
                "transactionIndex": q(len(block.transactions))}

    def _block_json(self, block: L1ChainBlock, full: bool) -> dict[str, Any]:
        out = super()._block_json(block, full)
        if self._unknown_in(block):
            unknown = self._unknown_json(block)
            out["transactions"].append(unknown if full else unknown["hash"])
        return out

    def _transaction_json(self, block: L1ChainBlock, t: IncludedTx) -> dict[str, Any]:
        out = super()._transaction_json(block, t)
        if t.sidecars:
            out["blobs"] = [h(s.blob[:1]) for s in t.sidecars]
            out["commitments"] = [h(s.commitment) for s in t.sidecars]
        return out

    async def eth_getBlockReceipts(self, block: Any) -> list[dict[str, Any]] | None:
        found = self._block(block)
        if found is not None and found.hash in self.tampered_receipts:
            return self.tampered_receipts[found.hash]
        receipts = await super().eth_getBlockReceipts(block)
        if found is not None and receipts is not None and self._unknown_in(found):
            unknown = self._unknown_json(found)
            receipts.append({"transactionHash": unknown["hash"], "transactionIndex": unknown["transactionIndex"],
                             "blockHash": h(found.hash), "blockNumber": q(found.number), "status": "0x1",
                             "type": "0x64", "gasUsed": q(21_000), "cumulativeGasUsed": q(found.header.gas_used),
                             "contractAddress": None, "logs": []})
        return receipts

    async def eth_getRawTransactionByHash(self, tx_hash: Any) -> str | None:
        if tx_hash == h(keccak256(UNKNOWN_TYPE_RAW)):
            return h(self.unknown_raw)
        return await super().eth_getRawTransactionByHash(tx_hash)


async def _no_block_receipts(block: Any) -> Any:
    raise RpcError(-32601, "the method eth_getBlockReceipts does not exist/is not available")


class FakeL1:
    """``length`` blocks of the devnet's :class:`~opfleet.devnet.l1.L1Chain` (odd blocks hold
    :func:`sample_transactions`; ``safe`` two blocks behind the head, ``finalized`` set by
    :meth:`finalize`), served by its JSON-RPC server through an in-process transport.

    ``http_log`` records, per HTTP request, the JSON-RPC methods it carried (a batch lists all).
    """

    def __init__(self, length: int = 8, *, block_receipts: bool = True, unknown_type_in: int | None = None):
        self.chain = L1Chain(chain_id=CHAIN_ID, genesis_time=GENESIS_TIME, block_time=12,
                             portal_address=DEPOSIT_CONTRACT, safe_lag=2, finalized_lag=1 << 20)
        self.server = _Server(self.chain, unknown_type_in=unknown_type_in)
        if not block_receipts:
            self.override("eth_getBlockReceipts", _no_block_receipts)
        self.http_log: list[list[str]] = []
        while len(self.chain.blocks) < length:
            self.add_block()

    # --- the chain --------------------------------------------------------------------------------

    def block(self, number: int) -> L1ChainBlock:
        found = self.chain.by_number(number)
        assert found is not None, f"no block {number}"
        return found

    def hash_hex(self, number: int) -> str:
        return h(self.block(number).hash)

    def _transactions(self, number: int, nonce: int) -> list[bytes]:
        return sample_transactions(nonce) if number % 2 == 1 else []

    def add_block(self) -> L1ChainBlock:
        return self.chain.mine(self._transactions(self.chain.head.number + 1, self.chain.nonce(SENDER)))

    def reorg(self, from_number: int) -> None:
        """Replace blocks ``from_number`` on by two new ones (a different branch)."""
        nonce = self.block(from_number - 1).state.nonce(SENDER)
        first = self._transactions(from_number, nonce)
        second = self._transactions(from_number + 1, nonce + len(first))
        self.chain.reorg(self.chain.head.number - from_number + 1, [first, second])

    def finalize(self, number: int) -> None:
        self.chain.set_finalized(self.block(number))

    # --- the server -------------------------------------------------------------------------------

    def override(self, method: str, fn: Any) -> None:
        """Answer ``method`` with ``fn`` (async) from now on."""
        self.server.rpc.register(method, fn)

    def _record(self, request: HttpRequest) -> None:
        body = json.loads(request.body)
        self.http_log.append([m["method"] for m in body] if isinstance(body, list) else [body["method"]])

    def transport(self) -> Any:
        return handler_transport(self.server.rpc, on_request=self._record)

    @property
    def calls(self) -> list[str]:
        return [m for request in self.http_log for m in request]

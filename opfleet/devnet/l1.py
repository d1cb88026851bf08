"""An embedded L1 chain (:class:`L1Chain`) and a server that answers like a real L1 (:class:`L1Server`).

:class:`L1Chain` is an in-memory, synchronous model of an Ethereum (Cancun or Prague) chain:
real headers whose hash is ``keccak256(rlp(header))``, real signed transactions (types 0-4,
blob transactions with their sidecars), receipts with logs and blooms, an account state
committed in a Merkle-Patricia trie, ``safe``/``finalized`` tags trailing the head by a
configurable number of blocks, blocks mined on demand (:meth:`L1Chain.mine`) and scriptable
reorgs (:meth:`L1Chain.reorg`). It is **not an EVM**: a transaction moves value and pays gas
(intrinsic gas, EIP-7623 floor, a fixed cost per emulated call), and two contracts are
emulated from their calldata the way the OP Stack's L1 contracts behave:

- the OptimismPortal (``depositTransaction(address,uint256,uint64,bool,bytes)`` and plain
  value transfers to ``receive()``) emits ``TransactionDeposited(from, to, 0, opaqueData)``
  with ``opaqueData = mint ++ value ++ gasLimit ++ isCreation ++ data`` ABI-encoded as
  ``bytes``, which is what ``opfleet.protocol.deposits.deposit_from_log`` decodes
  (``specs/protocol/deposits.md``, "Deposit Contract");
- the SystemConfig setters (``setBatcherHash``, ``setGasConfig``, ``setGasConfigEcotone``,
  ``setGasLimit``, ``setUnsafeBlockSigner``, ``setEIP1559Params``, ``setOperatorFeeScalars``,
  ``setMinBaseFee``, ``setDAFootprintGasScalar``) emit ``ConfigUpdate(0, type, abi.encode(bytes))``
  for update types 0-7 (``specs/protocol/system-config.md``).

A call the real contract would revert (bad ABI, a non-owner calling a setter, a deposit with
too little gas) gets a failed receipt (status 0) and no logs, as on a real chain.

:class:`L1Server` serves the chain over JSON-RPC (the ``eth_`` methods a rollup node and a
batcher use, batch requests included) and, on the same port, the beacon API routes a rollup
node reads blobs from: ``/eth/v1/beacon/genesis``, ``/eth/v1/config/spec``,
``/eth/v1/beacon/blobs/{block_id}`` and ``/eth/v1/beacon/blob_sidecars/{block_id}``, with
``slot = (timestamp - genesis_time) // seconds_per_slot`` (``seconds_per_slot`` is the block
time). JSON shapes follow go-ethereum and the beacon-APIs, checked against what anvil 1.7.1
(a real local L1) returns.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import trio

from opfleet.devnet.blobtx import (
    BlobSidecar,
    decode_pooled_transaction,
    encode_pooled_blob_tx,
    make_sidecar,
)
from opfleet.devnet.chain import (
    ChainStore,
    EthReadApi,
    HeaderBlock,
    PoolEntry,
    TxPool,
    child_header,
    genesis_header,
)
from opfleet.errors import DecodeError
from opfleet.protocol.abi import abi_encode_bytes, abi_word
from opfleet.protocol.abi import selector as abi_selector
from opfleet.protocol.block import (
    EMPTY_REQUESTS_HASH,
    GAS_PER_BLOB,
    ReceiptData,
    calc_base_fee,
    calc_excess_blob_gas,
    effective_gas_price,
    floor_data_gas,
    intrinsic_gas,
    log_gas,
    max_gas_price,
    transaction_json,
)
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.crypto import ZERO_ADDRESS, ZERO_HASH, keccak256, private_key_to_address, sha256
from opfleet.protocol.deposits import deposit_log
from opfleet.protocol.hexjson import hex_data as h
from opfleet.protocol.hexjson import hex_quantity as q
from opfleet.protocol.l1_block_info import blob_base_fee
from opfleet.protocol.log import Log
from opfleet.protocol.state import Account, WorldState, contract_address
from opfleet.protocol.system_config import ConfigUpdateType, config_update_log
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    SET_CODE_TX_TYPE,
    Transaction,
    encode_transaction,
    recover_sender,
    sign_transaction,
)
from opfleet.protocol.trie import EMPTY_TRIE_ROOT
from opfleet.rpc.server import (
    HttpRequest,
    HttpResponse,
    InvalidParams,
    JsonRpcServer,
    RpcError,
    param_data,
    param_quantity,
)

log = logging.getLogger("opfleet.devnet")

DEFAULT_PORTAL_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000bee")
DEFAULT_SYSTEM_CONFIG_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000c0f")
DEFAULT_CHAIN_ID = 900
DEFAULT_GENESIS_TIME = 1_700_000_000
GWEI = 10**9

UNSAFE_BLOCK_SIGNER_SLOT = bytes.fromhex("65a7ed542fb37fe237fdfbdd70b31598523fe5b32879e307bae27a0bd9581c08")
"""The SystemConfig's storage slot of the unsafe-block signer, ``keccak256("systemconfig.unsafeblocksigner")``:
what op-node reads (with a verified ``eth_getProof``) before it starts."""


def system_config_account(unsafe_block_signer: bytes) -> Account:
    """A SystemConfig account for an L1 genesis: the mock contract's code and the unsafe-block
    signer in its slot, so a rollup node that proves that slot (op-node) finds a real account
    with real storage. The embedded L1 runs the SystemConfig natively either way."""
    from opfleet.devnet.contracts import system_config_code

    return Account(code=system_config_code(), storage={UNSAFE_BLOCK_SIGNER_SLOT: int.from_bytes(unsafe_block_signer, "big")})


L1_BASE_FEE_DENOMINATOR = 8
L1_ELASTICITY = 2
DEPOSIT_CALL_GAS = 50_000
"""Execution gas charged for an emulated portal deposit (plus the log's gas)."""
SETTER_CALL_GAS = 30_000
"""Execution gas charged for an emulated SystemConfig setter (plus the log's gas)."""
RECEIVE_DEFAULT_GAS_LIMIT = 100_000
"""L2 gas limit of a deposit made by sending ETH to the portal (``OptimismPortal.receive``)."""
MAX_DEPOSIT_DATA = 120_000
"""``OptimismPortal``: largest deposit calldata (``LargeCalldata``)."""
REPLACEMENT_BUMP_PERCENT = 10
BEACON_SLOTS_PER_EPOCH = 32


@dataclass(frozen=True, slots=True)
class BlobParams:
    """Per-fork blob limits (EIP-4844, EIP-7691)."""

    target_blobs: int
    max_blobs: int
    update_fraction: int

    @property
    def target_blob_gas(self) -> int:
        return self.target_blobs * GAS_PER_BLOB

    @property
    def max_blob_gas(self) -> int:
        return self.max_blobs * GAS_PER_BLOB


L1_FORKS: Mapping[str, BlobParams] = MappingProxyType({
    "cancun": BlobParams(3, 6, 3_338_477),
    "prague": BlobParams(6, 9, 5_007_716),
})


DEPOSIT_TRANSACTION_SELECTOR = abi_selector("depositTransaction(address,uint256,uint64,bool,bytes)")

# SystemConfig setters: signature -> argument types. The effects are in _apply_setter.
_SETTERS: dict[bytes, tuple[str, tuple[str, ...]]] = {
    abi_selector(sig): (sig, types)
    for sig, types in (
        ("setBatcherHash(bytes32)", ("bytes32",)),
        ("setBatcherHash(address)", ("address",)),
        ("setGasConfig(uint256,uint256)", ("uint256", "uint256")),
        ("setGasConfigEcotone(uint32,uint32)", ("uint32", "uint32")),
        ("setGasLimit(uint64)", ("uint64",)),
        ("setUnsafeBlockSigner(address)", ("address",)),
        ("setEIP1559Params(uint32,uint32)", ("uint32", "uint32")),
        ("setOperatorFeeScalars(uint32,uint64)", ("uint32", "uint64")),
        ("setMinBaseFee(uint64)", ("uint64",)),
        ("setDAFootprintGasScalar(uint16)", ("uint16",)),
    )
}

CONFIG_UPDATE_SETTERS: Mapping[ConfigUpdateType, str] = MappingProxyType({
    ConfigUpdateType.BATCHER: "setBatcherHash(bytes32)",
    ConfigUpdateType.FEE_SCALARS: "setGasConfig(uint256,uint256)",
    ConfigUpdateType.GAS_LIMIT: "setGasLimit(uint64)",
    ConfigUpdateType.UNSAFE_BLOCK_SIGNER: "setUnsafeBlockSigner(address)",
    ConfigUpdateType.EIP_1559_PARAMS: "setEIP1559Params(uint32,uint32)",
    ConfigUpdateType.OPERATOR_FEE_PARAMS: "setOperatorFeeScalars(uint32,uint64)",
    ConfigUpdateType.MIN_BASE_FEE: "setMinBaseFee(uint64)",
    ConfigUpdateType.DA_FOOTPRINT_GAS_SCALAR: "setDAFootprintGasScalar(uint16)",
})
"""The SystemConfig function that emits each ``ConfigUpdate`` type."""


# --- ABI helpers ----------------------------------------------------------------------------------


def _type_bits(abi_type: str) -> int | None:
    if abi_type.startswith("uint"):
        return int(abi_type[4:])
    if abi_type == "address":
        return 160
    if abi_type == "bool":
        return 1
    return None  # bytes32: any word


def _encode_static_args(types: Sequence[str], values: Sequence[Any]) -> bytes:
    if len(types) != len(values):
        raise ValueError(f"expected {len(types)} arguments, got {len(values)}")
    out = []
    for abi_type, value in zip(types, values):
        if abi_type == "bytes32":
            if len(value) != 32:
                raise ValueError("bytes32 argument must be 32 bytes")
            out.append(bytes(value))
        elif abi_type == "address":
            if len(value) != 20:
                raise ValueError("address argument must be 20 bytes")
            out.append(abi_word(value))
        else:
            bits = _type_bits(abi_type) or 256
            if not 0 <= int(value) < 1 << bits:
                raise ValueError(f"{abi_type} argument out of range")
            out.append(abi_word(int(value)))
    return b"".join(out)


def _decode_words(types: Sequence[str], data: bytes) -> list[int] | None:
    """Static ABI arguments as integers; None where the contract's ABI decoder would revert."""
    if len(data) < 32 * len(types):
        return None
    values = []
    for i, abi_type in enumerate(types):
        value = int.from_bytes(data[32 * i : 32 * i + 32], "big")
        bits = _type_bits(abi_type)
        if bits is not None and value >> bits:
            return None
        values.append(value)
    return values


def deposit_calldata(to: bytes | None, value: int, gas_limit: int, data: bytes = b"", *, is_creation: bool = False) -> bytes:
    """Calldata of ``OptimismPortal.depositTransaction(_to, _value, _gasLimit, _isCreation, _data)``."""
    head = (abi_word(to if to is not None else ZERO_ADDRESS) + abi_word(value) + abi_word(gas_limit)
            + abi_word(int(is_creation)) + abi_word(5 * 32))
    return DEPOSIT_TRANSACTION_SELECTOR + head + abi_encode_bytes(data)[32:]


def setter_calldata(signature: str, *args: Any) -> bytes:
    """Calldata of a SystemConfig setter, e.g. ``setter_calldata("setGasLimit(uint64)", 30_000_000)``."""
    selector = abi_selector(signature)
    if selector not in _SETTERS:
        raise ValueError(f"not an emulated SystemConfig setter: {signature}")
    return selector + _encode_static_args(_SETTERS[selector][1], args)


def config_update_calldata(update_type: ConfigUpdateType | int, *args: Any) -> bytes:
    """Calldata of the setter that emits a ``ConfigUpdate`` of ``update_type`` (see :data:`CONFIG_UPDATE_SETTERS`)."""
    return setter_calldata(CONFIG_UPDATE_SETTERS[ConfigUpdateType(update_type)], *args)


def minimum_deposit_gas_limit(data_length: int) -> int:
    """``OptimismPortal.minimumGasLimit``: ``len(data) * 40 + 21000``."""
    return data_length * 40 + 21_000





# --- chain model ----------------------------------------------------------------------------------


class TxRejected(ValueError):
    """A transaction the chain will not accept; the message is go-ethereum's."""


class _NotYet(Exception):
    """A pooled transaction that cannot go in this block but may in a later one."""


@dataclass(frozen=True, slots=True)
class L1Config:
    """Parameters of an :class:`L1Chain`.

    ``safe_lag``/``finalized_lag``: how many blocks the ``safe``/``finalized`` tags trail the
    head (clamped at genesis), like anvil's ``--slots-in-an-epoch``. ``default_balance`` is
    the balance an address the chain has never seen starts with when it first sends a
    transaction (every key can transact without a faucet); use 0 for strict accounting.
    ``system_config_owner`` None lets anyone call the SystemConfig setters.
    """

    chain_id: int = DEFAULT_CHAIN_ID
    genesis_time: int = DEFAULT_GENESIS_TIME
    block_time: int = 12
    fork: str = "prague"
    gas_limit: int = 30_000_000
    genesis_base_fee: int = GWEI
    coinbase: bytes = ZERO_ADDRESS
    portal_address: bytes = DEFAULT_PORTAL_ADDRESS
    system_config_address: bytes = DEFAULT_SYSTEM_CONFIG_ADDRESS
    system_config_owner: bytes | None = None
    alloc: Mapping[bytes, Account] = field(default_factory=dict)
    default_balance: int = 10**24
    safe_lag: int = 4
    finalized_lag: int = 8
    genesis_extra_data: bytes = b""

    def __post_init__(self) -> None:
        if self.fork not in L1_FORKS:
            raise ValueError(f"L1 fork must be one of {', '.join(L1_FORKS)}")
        if self.block_time <= 0:
            raise ValueError("block_time must be positive")
        if self.safe_lag < 0 or self.finalized_lag < self.safe_lag:
            raise ValueError("lags must satisfy 0 <= safe_lag <= finalized_lag")

    @property
    def blob_params(self) -> BlobParams:
        return L1_FORKS[self.fork]

    @property
    def prague(self) -> bool:
        """Prague rules: the EIP-7623 calldata floor, EIP-7702 set-code transactions and the
        EIP-7685 ``requestsHash`` in headers."""
        return self.fork != "cancun"

    @property
    def requests_hash(self) -> bytes | None:
        """The header's ``requestsHash``: empty from Prague (an L1 here has no requests)."""
        return EMPTY_REQUESTS_HASH if self.prague else None

    @property
    def seconds_per_slot(self) -> int:
        return self.block_time


@dataclass(frozen=True, slots=True)
class IncludedTx:
    """A transaction in a mined block, with its receipt and what it paid."""

    raw: bytes
    tx: Transaction
    sender: bytes
    hash: bytes
    index: int
    receipt: ReceiptData
    gas_used: int
    effective_gas_price: int
    first_log_index: int
    contract_address: bytes | None = None
    blob_gas_price: int | None = None
    sidecars: tuple[BlobSidecar, ...] = ()

    @property
    def blob_gas_used(self) -> int:
        return GAS_PER_BLOB * len(self.tx.blob_versioned_hashes)


@dataclass(frozen=True, slots=True)
class _SystemConfigSlots:
    """The SystemConfig storage the emulated setters read back (the fee-scalar words)."""

    overhead: int = 0
    scalar: int = 0


@dataclass(frozen=True)
class L1ChainBlock(HeaderBlock):
    """A mined L1 block: header, hash, transactions (:class:`IncludedTx`) with receipts, post-state and beacon slot."""

    slot: int
    beacon_root: bytes
    system_config: _SystemConfigSlots = field(default=_SystemConfigSlots(), repr=False)

    @property
    def ref(self) -> L1BlockRef:
        return L1BlockRef(self.hash, self.number, self.parent_hash, self.timestamp)

    @property
    def blob_sidecars(self) -> list[BlobSidecar]:
        """The block's blobs in block order (the beacon block's commitment order)."""
        return [s for t in self.transactions for s in t.sidecars]

    def to_json(self, full_transactions: bool) -> dict[str, Any]:
        return self.block_json(full_transactions, self.transaction_json)

    def transaction_json(self, t: IncludedTx) -> dict[str, Any]:
        return self.signed_transaction_json(t)

    def receipt_json(self, t: IncludedTx) -> dict[str, Any]:
        out = self.base_receipt_json(t, tx_type=t.tx.type, to=t.tx.to)
        if t.tx.type == BLOB_TX_TYPE:
            out["blobGasUsed"] = q(t.blob_gas_used)
            out["blobGasPrice"] = q(t.blob_gas_price or 0)
        return out


def _beacon_root(block_hash: bytes) -> bytes:
    """A stand-in beacon block root for the slot holding ``block_hash`` (the devnet has no beacon chain)."""
    return sha256(b"opfleet-devnet-beacon-block" + block_hash)


class _BlockBuilder:
    """Applies transactions on top of a parent block and seals the result."""

    def __init__(self, chain: L1Chain, parent: L1ChainBlock, timestamp: int, mix_hash: bytes):
        config = chain.config
        self.chain = chain
        self.config = config
        self.parent = parent
        self.timestamp = timestamp
        self.mix_hash = mix_hash
        self.state = parent.state.copy()
        self.system_config = parent.system_config
        parent_header = parent.header
        self.base_fee = calc_base_fee(parent_header.gas_used, parent_header.gas_limit,
                                      parent_header.base_fee_per_gas or config.genesis_base_fee,
                                      denominator=L1_BASE_FEE_DENOMINATOR, elasticity=L1_ELASTICITY)
        self.excess_blob_gas = calc_excess_blob_gas(parent_header.excess_blob_gas or 0,
                                                    parent_header.blob_gas_used or 0,
                                                    config.blob_params.target_blob_gas)
        self.blob_base_fee = blob_base_fee(self.excess_blob_gas, config.blob_params.update_fraction)
        self.included: list[IncludedTx] = []
        self.gas_used = 0
        self.blob_gas_used = 0
        self.log_index = 0

    def nonce(self, address: bytes) -> int:
        return self.state.nonce(address)

    def apply(self, entry: PoolEntry) -> IncludedTx:
        """Execute one transaction; :class:`TxRejected` if invalid, :class:`_NotYet` if it must wait."""
        tx, sender = entry.tx, entry.sender
        before = self.state.copy()  # committed only if the transaction is included
        self.chain._ensure_funded(before, sender)
        nonce = before.nonce(sender)
        if tx.nonce < nonce:
            raise TxRejected(f"nonce too low: address 0x{sender.hex()}, tx: {tx.nonce} state: {nonce}")
        if tx.nonce > nonce:
            raise _NotYet("nonce too high")
        if tx.gas > self.config.gas_limit - self.gas_used:
            raise _NotYet("gas limit reached")
        if max_gas_price(tx) < self.base_fee:
            raise _NotYet("max fee per gas less than block base fee")
        blob_gas = GAS_PER_BLOB * len(tx.blob_versioned_hashes)
        if blob_gas:
            if self.blob_gas_used + blob_gas > self.config.blob_params.max_blob_gas:
                raise _NotYet("blob gas limit reached")
            if tx.max_fee_per_blob_gas < self.blob_base_fee:
                raise _NotYet("max fee per blob gas less than block blob gas fee")
        price = effective_gas_price(tx, self.base_fee)
        cost = tx.gas * max_gas_price(tx) + tx.value + blob_gas * tx.max_fee_per_blob_gas
        if before.balance(sender) < cost:
            raise TxRejected(f"insufficient funds for gas * price + value: address 0x{sender.hex()} "
                             f"have {before.balance(sender)} want {cost}")
        state = before.copy()
        state.increment_nonce(sender)
        status, logs, exec_gas, created, slots = self.chain._execute(state, self, sender, tx)
        gas_used = intrinsic_gas(tx) + exec_gas
        if gas_used > tx.gas:  # out of gas: everything reverts, all gas is spent
            state = before.copy()
            state.increment_nonce(sender)
            status, logs, created, gas_used, slots = 0, [], None, tx.gas, self.system_config
        if self.config.prague:
            gas_used = max(gas_used, floor_data_gas(tx.data))
        state.sub_balance(sender, gas_used * price + blob_gas * self.blob_base_fee)
        state.add_balance(self.config.coinbase, gas_used * (price - self.base_fee))
        if created is not None and state.get(created).is_empty:
            state.set(created, Account(nonce=1))
        self.state = state
        self.system_config = slots
        self.gas_used += gas_used
        self.blob_gas_used += blob_gas
        receipt = ReceiptData(tx.type, status, self.gas_used, tuple(logs))
        included = IncludedTx(
            raw=entry.raw, tx=tx, sender=sender, hash=entry.hash, index=len(self.included), receipt=receipt,
            gas_used=gas_used, effective_gas_price=price, first_log_index=self.log_index, contract_address=created,
            blob_gas_price=self.blob_base_fee if blob_gas else None, sidecars=entry.sidecars,
        )
        self.log_index += len(logs)
        self.included.append(included)
        return included

    def seal(self) -> L1ChainBlock:
        config = self.config
        parent = self.parent
        header = child_header(
            parent, self.included, self.state,
            timestamp=self.timestamp,
            gas_limit=config.gas_limit,
            gas_used=self.gas_used,
            coinbase=config.coinbase,
            mix_hash=self.mix_hash,
            base_fee_per_gas=self.base_fee,
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=self.blob_gas_used,
            excess_blob_gas=self.excess_blob_gas,
            parent_beacon_block_root=parent.beacon_root,
            requests_hash=config.requests_hash,
        )
        block_hash = header.hash()
        return L1ChainBlock(header, block_hash, tuple(self.included), self.state,
                            self.chain.slot_of(self.timestamp), _beacon_root(block_hash), self.system_config)


class L1Chain(ChainStore[L1ChainBlock]):
    """An in-memory L1 chain; see the module docstring. Not thread-safe; no I/O.

    Blocks, the canonical index, tags (``safe``/``finalized`` trailing the head by the
    configured lags) and reorgs are the chain core's (:class:`~opfleet.devnet.chain.ChainStore`).
    """

    def __init__(self, config: L1Config | None = None, **overrides: Any):
        if config is None:
            config = L1Config(**overrides)
        elif overrides:
            config = replace(config, **overrides)
        self.config = config
        self._slots: dict[int, int] = {}
        self._pool = TxPool()
        self._reorgs = 0
        self._listeners: list[Callable[[L1ChainBlock], None]] = []
        super().__init__(self._genesis(), safe_lag=config.safe_lag, finalized_lag=config.finalized_lag)

    # --- genesis and bookkeeping --------------------------------------------------------------

    def _genesis(self) -> L1ChainBlock:
        config = self.config
        state = WorldState(config.alloc)
        header = genesis_header(
            state,
            timestamp=config.genesis_time,
            gas_limit=config.gas_limit,
            coinbase=config.coinbase,
            extra_data=config.genesis_extra_data,
            base_fee_per_gas=config.genesis_base_fee,
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=0,
            excess_blob_gas=0,
            parent_beacon_block_root=ZERO_HASH,
            requests_hash=config.requests_hash,
        )
        block_hash = header.hash()
        return L1ChainBlock(header, block_hash, (), state, 0, _beacon_root(block_hash))

    def _indexed(self, block: L1ChainBlock) -> None:
        self._slots[block.slot] = block.number

    def _unindexed(self, block: L1ChainBlock) -> None:
        self._slots.pop(block.slot, None)

    def add_listener(self, callback: Callable[[L1ChainBlock], None]) -> None:
        """Call ``callback(new_head)`` after every mined block and reorg."""
        self._listeners.append(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback(self.head)

    def _ensure_funded(self, state: WorldState, address: bytes) -> None:
        if self.config.default_balance and address not in state:
            state.set(address, Account(balance=self.config.default_balance))

    def slot_of(self, timestamp: int) -> int:
        """The beacon slot of an L1 timestamp: ``(timestamp - genesis_time) // seconds_per_slot``."""
        return (timestamp - self.config.genesis_time) // self.config.seconds_per_slot

    # --- reading --------------------------------------------------------------------------------

    def by_slot(self, slot: int) -> L1ChainBlock | None:
        number = self._slots.get(slot)
        return self._canonical[number] if number is not None else None

    def pending_transaction(self, tx_hash: bytes) -> PoolEntry | None:
        return self._pool.get(tx_hash)

    @property
    def pending(self) -> tuple[bytes, ...]:
        """Hashes of the transactions waiting in the pool, in arrival order."""
        return self._pool.hashes

    def nonce(self, address: bytes, *, pending: bool = False) -> int:
        nonce = self.head.state.nonce(address)
        if pending:
            nonce = self._pool.pending_nonce(address, nonce)
        return nonce

    def balance(self, address: bytes, block: L1ChainBlock | None = None) -> int:
        state = (block or self.head).state
        if address not in state and self.config.default_balance:
            return self.config.default_balance
        return state.balance(address)

    def next_base_fee(self) -> int:
        parent = self.head.header
        return calc_base_fee(parent.gas_used, parent.gas_limit, parent.base_fee_per_gas or 0,
                             denominator=L1_BASE_FEE_DENOMINATOR, elasticity=L1_ELASTICITY)

    def next_blob_base_fee(self) -> int:
        parent = self.head.header
        excess = calc_excess_blob_gas(parent.excess_blob_gas or 0, parent.blob_gas_used or 0,
                                      self.config.blob_params.target_blob_gas)
        return blob_base_fee(excess, self.config.blob_params.update_fraction)

    # --- transactions ----------------------------------------------------------------------------

    def _check(self, raw: bytes) -> PoolEntry:
        try:
            pooled = decode_pooled_transaction(raw)
        except DecodeError as exc:
            raise TxRejected(f"invalid transaction: {exc.reason}") from None
        tx = pooled.tx
        if tx.is_protected and tx.chain_id != self.config.chain_id:
            raise TxRejected(f"invalid chain id for signer: have {tx.chain_id} want {self.config.chain_id}")
        try:
            sender = recover_sender(tx)
        except DecodeError:
            raise TxRejected("invalid sender: signature does not recover") from None
        if tx.type == BLOB_TX_TYPE and len(tx.blob_versioned_hashes) > self.config.blob_params.max_blobs:
            raise TxRejected("too many blobs in transaction")
        if tx.type == SET_CODE_TX_TYPE and not self.config.prague:
            raise TxRejected("transaction type not supported")
        if tx.gas < intrinsic_gas(tx):
            raise TxRejected(f"intrinsic gas too low: gas {tx.gas}, minimum needed {intrinsic_gas(tx)}")
        if self.config.prague and tx.gas < floor_data_gas(tx.data):
            raise TxRejected(f"insufficient gas for floor data gas cost: gas {tx.gas}, minimum needed "
                             f"{floor_data_gas(tx.data)}")
        if tx.gas > self.config.gas_limit:
            raise TxRejected("exceeds block gas limit")
        return PoolEntry(pooled.raw, keccak256(pooled.raw), sender, tx, pooled.sidecars)

    def submit(self, raw: bytes) -> bytes:
        """Validate a transaction (``eth_sendRawTransaction`` input) and add it to the pool; its hash.

        Checks: decoding (blob transactions need their sidecar and valid KZG data), chain id,
        signature, intrinsic and EIP-7623 floor gas, nonce not below the account's, balance.
        A pooled transaction with the same sender and nonce is replaced when both fee caps
        rise by at least 10%. Raises :class:`TxRejected` with go-ethereum's message.
        """
        entry = self._check(raw)
        tx, sender = entry.tx, entry.sender
        if entry.hash in self._tx_index or self.pending_transaction(entry.hash) is not None:
            raise TxRejected("already known")
        state_nonce = self.head.state.nonce(sender)
        if tx.nonce < state_nonce:
            raise TxRejected(f"nonce too low: next nonce {state_nonce}, tx nonce {tx.nonce}")
        balance = self.balance(sender)
        cost = tx.gas * max_gas_price(tx) + tx.value + GAS_PER_BLOB * len(tx.blob_versioned_hashes) * tx.max_fee_per_blob_gas
        if balance < cost:
            raise TxRejected(f"insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")
        if not self._pool.add(entry, price_bump=REPLACEMENT_BUMP_PERCENT):
            raise TxRejected("replacement transaction underpriced")
        return entry.hash

    def _execute(self, state: WorldState, builder: _BlockBuilder, sender: bytes, tx: Transaction
                 ) -> tuple[int, list[Log], int, bytes | None, _SystemConfigSlots]:
        """Run a transaction's effect on ``state``: (status, logs, execution gas, created address, new slots)."""
        config = self.config
        slots = builder.system_config
        if tx.to is None:
            created = contract_address(sender, tx.nonce)
            state.sub_balance(sender, tx.value)
            state.add_balance(created, tx.value)
            return 1, [], 0, created, slots
        exec_gas = 0
        logs: list[Log] = []
        if tx.to == config.portal_address:
            exec_gas = DEPOSIT_CALL_GAS
            found = self._portal_call(sender, tx)
            if found is None:
                return 0, [], exec_gas, None, slots
            logs = found
        elif tx.to == config.system_config_address:
            exec_gas = SETTER_CALL_GAS
            outcome = self._system_config_call(slots, sender, tx)
            if outcome is None:
                return 0, [], exec_gas, None, slots
            logs, slots = outcome
        state.sub_balance(sender, tx.value)
        state.add_balance(tx.to, tx.value)
        return 1, logs, exec_gas + sum(log_gas(entry) for entry in logs), None, slots

    def _portal_call(self, sender: bytes, tx: Transaction) -> list[Log] | None:
        """``OptimismPortal``: the deposit log, or None where the portal would revert."""
        data = tx.data
        if not data:  # receive(): deposit the sent ETH to the sender on L2
            to, value, gas_limit, is_creation, payload = sender, tx.value, RECEIVE_DEFAULT_GAS_LIMIT, False, b""
        elif data[:4] == DEPOSIT_TRANSACTION_SELECTOR:
            body = data[4:]
            words = _decode_words(("address", "uint256", "uint64", "bool", "uint256"), body)
            if words is None:
                return None
            to_word, value, gas_limit, flag, offset = words
            if offset + 32 > len(body):
                return None
            length = int.from_bytes(body[offset : offset + 32], "big")
            if offset + 32 + length > len(body):
                return None
            to = to_word.to_bytes(20, "big")
            payload = body[offset + 32 : offset + 32 + length]
            is_creation = bool(flag)
        else:
            return None
        if is_creation and to != ZERO_ADDRESS:
            return None  # BadTarget
        if len(payload) > MAX_DEPOSIT_DATA or gas_limit < minimum_deposit_gas_limit(len(payload)):
            return None  # LargeCalldata / SmallGasLimit
        # EOAs deposit as themselves; the devnet has no contract senders to alias.
        return [deposit_log(self.config.portal_address, sender, None if is_creation else to, mint=tx.value,
                            value=value, gas_limit=gas_limit, data=payload)]

    def _system_config_call(self, slots: _SystemConfigSlots, sender: bytes, tx: Transaction
                            ) -> tuple[list[Log], _SystemConfigSlots] | None:
        """``SystemConfig`` setters: the ConfigUpdate log and new slots, or None on revert."""
        owner = self.config.system_config_owner
        if owner is not None and sender != owner:
            return None  # Ownable: caller is not the owner
        if tx.value:
            return None  # setters are not payable
        found = _SETTERS.get(tx.data[:4])
        if found is None:
            return None
        signature, types = found
        args = _decode_words(types, tx.data[4:])
        if args is None:
            return None
        name = signature.split("(")[0]
        if name == "setGasConfig":
            overhead, scalar = args
            if scalar >> 248:
                return None  # "SystemConfig: scalar exceeds max." (versioned scalars need setGasConfigEcotone)
            slots = _SystemConfigSlots(overhead, scalar)
            update, words = ConfigUpdateType.FEE_SCALARS, [overhead, scalar]
        elif name == "setGasConfigEcotone":
            base, blob = args
            slots = _SystemConfigSlots(slots.overhead, (1 << 248) | (blob << 32) | base)
            update, words = ConfigUpdateType.FEE_SCALARS, [slots.overhead, slots.scalar]
        elif name == "setEIP1559Params":
            denominator, elasticity = args
            if denominator < 1 or elasticity < 1:
                return None
            update, words = ConfigUpdateType.EIP_1559_PARAMS, [(denominator << 32) | elasticity]
        elif name == "setOperatorFeeScalars":
            scalar, constant = args
            update, words = ConfigUpdateType.OPERATOR_FEE_PARAMS, [(scalar << 64) | constant]
        else:  # one-word setters emit their argument as is
            update = {
                "setBatcherHash": ConfigUpdateType.BATCHER,
                "setGasLimit": ConfigUpdateType.GAS_LIMIT,
                "setUnsafeBlockSigner": ConfigUpdateType.UNSAFE_BLOCK_SIGNER,
                "setMinBaseFee": ConfigUpdateType.MIN_BASE_FEE,
                "setDAFootprintGasScalar": ConfigUpdateType.DA_FOOTPRINT_GAS_SCALAR,
            }[name]
            words = args
        payload = b"".join(abi_word(w) for w in words)
        return [config_update_log(self.config.system_config_address, update, payload)], slots

    # --- mining ----------------------------------------------------------------------------------

    def _mix_hash(self, parent: L1ChainBlock) -> bytes:
        # Distinct per reorg so that replacement blocks never repeat a hash.
        return keccak256(b"opfleet-devnet-prevrandao" + parent.hash + self._reorgs.to_bytes(8, "big"))

    def _next_timestamp(self, parent: L1ChainBlock, timestamp: int | None) -> int:
        if timestamp is None:
            return parent.timestamp + self.config.block_time
        if self.slot_of(timestamp) <= parent.slot:
            raise ValueError(f"timestamp {timestamp} is not in a later beacon slot than the parent's "
                             f"({parent.timestamp}, slot {parent.slot})")
        return timestamp

    def _build(self, parent: L1ChainBlock, txs: Iterable[bytes], timestamp: int | None, include_pool: bool
               ) -> tuple[L1ChainBlock, list[PoolEntry]]:
        builder = _BlockBuilder(self, parent, self._next_timestamp(parent, timestamp), self._mix_hash(parent))
        for raw in txs:
            entry = self._check(raw)
            try:
                builder.apply(entry)
            except _NotYet as exc:
                raise TxRejected(str(exc)) from None
        if not include_pool:
            return builder.seal(), list(self._pool.entries)
        remaining = list(self._pool.entries)
        progress = True
        while progress and remaining:
            progress = False
            kept = []
            for entry in remaining:
                if entry.nonce < builder.nonce(entry.sender):
                    continue  # its nonce was used meanwhile: drop it
                try:
                    builder.apply(entry)
                    progress = True
                except _NotYet:
                    kept.append(entry)
                except TxRejected as exc:
                    log.debug("dropping pooled transaction 0x%s: %s", entry.hash.hex(), exc)
            remaining = kept
        return builder.seal(), remaining

    def mine(self, txs: Iterable[bytes] = (), *, timestamp: int | None = None, include_pool: bool = True) -> L1ChainBlock:
        """Mine one block on the head: ``txs`` first (raw, network form for blob txs), then the pool.

        ``timestamp`` defaults to the parent's plus the block time and must fall in a later
        beacon slot. A transaction in ``txs`` that cannot be included raises :class:`TxRejected`
        and no block is mined.
        """
        block, remaining = self._build(self.head, txs, timestamp, include_pool)
        self._pool.entries = remaining
        self._add_canonical(block)
        self._notify()
        return block

    def mine_blocks(self, count: int) -> list[L1ChainBlock]:
        """Mine ``count`` blocks (with whatever the pool holds)."""
        return [self.mine() for _ in range(count)]

    def reorg(
        self,
        depth: int,
        new_blocks: int | Sequence[Sequence[bytes]] | None = None,
        *,
        timestamps: Sequence[int | None] | None = None,
        requeue: bool = False,
        allow_finalized: bool = False,
    ) -> list[L1ChainBlock]:
        """Replace the last ``depth`` blocks with new ones; returns the new blocks.

        ``new_blocks`` is a count of blocks to mine (default ``depth``, keeping the height) or
        one list of raw transactions per new block. The pool is left alone; with ``requeue``,
        the transactions of the removed blocks go back into it (those still valid). Removed
        blocks stay readable by hash, like a side chain in geth. Reorging the finalized block
        raises ``ValueError`` unless ``allow_finalized``.
        """
        if not 0 < depth <= self.head.number:
            raise ValueError(f"reorg depth must be in 1..{self.head.number}")
        ancestor_number = self.head.number - depth
        if ancestor_number < self.finalized.number and not allow_finalized:
            raise ValueError(f"reorg to block {ancestor_number} would remove finalized block {self.finalized.number}")
        if new_blocks is None:
            new_blocks = depth
        tx_lists: list[Sequence[bytes]] = [()] * new_blocks if isinstance(new_blocks, int) else list(new_blocks)
        self._reorgs += 1
        removed = self._drop_canonical_above(ancestor_number)
        pool = self._pool.entries
        self._pool.entries = []
        try:
            mined = []
            for i, txs in enumerate(tx_lists):
                when = timestamps[i] if timestamps is not None and i < len(timestamps) else None
                block, _ = self._build(self.head, txs, when, include_pool=False)
                self._add_canonical(block)
                mined.append(block)
        finally:
            self._pool.entries = pool
        if requeue:
            for block in removed:
                for t in block.transactions:
                    raw = encode_pooled_blob_tx(t.tx, t.sidecars) if t.sidecars else t.raw
                    try:
                        self.submit(raw)
                    except TxRejected:
                        pass
        self._notify()
        return mined

    # --- signing helpers --------------------------------------------------------------------------

    def sign(
        self,
        key: bytes,
        *,
        to: bytes | None,
        value: int = 0,
        data: bytes = b"",
        gas: int | None = None,
        tx_type: int = DYNAMIC_FEE_TX_TYPE,
        nonce: int | None = None,
        blobs: Sequence[bytes] = (),
        max_priority_fee_per_gas: int = GWEI,
        max_fee_per_gas: int | None = None,
        max_fee_per_blob_gas: int | None = None,
    ) -> bytes:
        """A signed transaction from ``key`` with sensible defaults (nonce from the pool, fees from the head).

        With ``blobs`` (raw 131072-byte blobs, e.g. from ``opfleet.protocol.blob.encode_blob``)
        this is a type-3 transaction in its network form, ready for :meth:`submit`.
        """
        sender = private_key_to_address(key)
        if nonce is None:
            nonce = self.nonce(sender, pending=True)
        if max_fee_per_gas is None:
            max_fee_per_gas = 2 * self.next_base_fee() + max_priority_fee_per_gas
        sidecars = tuple(make_sidecar(b) for b in blobs)
        if sidecars:
            tx_type = BLOB_TX_TYPE
        fields: dict[str, Any] = {"type": tx_type, "chain_id": self.config.chain_id, "nonce": nonce, "to": to,
                                  "value": value, "data": data}
        if tx_type in (LEGACY_TX_TYPE, 1):
            fields["gas_price"] = max_fee_per_gas
        else:
            fields["max_priority_fee_per_gas"] = max_priority_fee_per_gas
            fields["max_fee_per_gas"] = max_fee_per_gas
        if sidecars:
            fields["max_fee_per_blob_gas"] = max_fee_per_blob_gas or max(2 * self.next_blob_base_fee(), GWEI)
            fields["blob_versioned_hashes"] = tuple(s.versioned_hash for s in sidecars)
        unsigned = Transaction(**fields, gas=0)
        if gas is None:
            gas = self.estimate_gas(sender, unsigned)
        signed = sign_transaction(replace(unsigned, gas=gas), key)
        if sidecars:
            return encode_pooled_blob_tx(signed, sidecars)
        return encode_transaction(signed)

    def estimate_gas(self, sender: bytes, tx: Transaction) -> int:
        """Gas a call would use on top of the head (``eth_estimateGas``), never below the floor."""
        builder = _BlockBuilder(self, self.head, self.head.timestamp + self.config.block_time, ZERO_HASH)
        state = builder.state
        self._ensure_funded(state, sender)
        state.set(sender, state.get(sender).with_changes(balance=max(state.balance(sender), tx.value)))
        status, _, exec_gas, _, _ = self._execute(state, builder, sender, tx)
        if status == 0:
            raise TxRejected("execution reverted")
        gas = intrinsic_gas(tx) + exec_gas
        if self.config.prague:
            gas = max(gas, floor_data_gas(tx.data))
        return gas

    def deposit(
        self,
        key: bytes,
        *,
        to: bytes | None,
        mint: int = 0,
        value: int = 0,
        gas_limit: int = 100_000,
        data: bytes = b"",
        is_creation: bool = False,
        gas: int | None = None,
    ) -> bytes:
        """A signed call to the portal's ``depositTransaction`` (``mint`` is the ETH sent along).

        ``gas`` is the L1 gas; by default estimated, which fails for a deposit the portal rejects.
        """
        calldata = deposit_calldata(to, value, gas_limit, data, is_creation=is_creation)
        return self.sign(key, to=self.config.portal_address, value=mint, data=calldata, gas=gas)

    def config_update(self, key: bytes, update_type: ConfigUpdateType | int, *args: Any, gas: int | None = None) -> bytes:
        """A signed SystemConfig setter call emitting a ``ConfigUpdate`` of ``update_type``."""
        return self.sign(key, to=self.config.system_config_address, data=config_update_calldata(update_type, *args),
                         gas=gas)


# --- the server -----------------------------------------------------------------------------------


_BEACON_BLOCK_TAGS: Mapping[str, str] = MappingProxyType({
    "head": "latest", "genesis": "earliest", "finalized": "finalized", "justified": "safe",
})
"""Beacon API block ids that name a tagged block (the devnet's justified block is its safe one)."""


def _beacon_error(status: int, message: str) -> HttpResponse:
    return HttpResponse.json({"code": status, "message": message}, status)


class L1Server(EthReadApi):
    """Serve an :class:`L1Chain` over JSON-RPC and the beacon API (one port).

    ``automine`` mines a block after every accepted ``eth_sendRawTransaction`` (anvil's
    default). ``blobs_endpoint``/``sidecars_endpoint``/``spec_endpoint`` switch beacon routes
    off, to imitate beacon nodes that lack them (pre-Fulu, post-Fulu, anvil).
    """

    def __init__(
        self,
        chain: L1Chain,
        *,
        automine: bool = False,
        blobs_endpoint: bool = True,
        sidecars_endpoint: bool = True,
        spec_endpoint: bool = True,
        max_request_bytes: int = 32 * 1024 * 1024,
    ):
        self.chain = chain
        self.automine = automine
        self.url: str | None = None
        methods = {name: getattr(self, name) for name in dir(self) if name.startswith(("eth_", "net_", "web3_", "evm_"))}
        routes = {"/eth/v1/beacon/genesis": self._beacon_genesis, "/eth/v1/node/version": self._beacon_version}
        if spec_endpoint:
            routes["/eth/v1/config/spec"] = self._beacon_spec
        mounts = {}
        if blobs_endpoint:
            mounts["/eth/v1/beacon/blobs"] = self._beacon_blobs
        mounts["/eth/v1/beacon/blob_sidecars"] = self._beacon_sidecars if sidecars_endpoint else self._sidecars_gone
        mounts["/eth"] = self._beacon_not_found  # any other beacon route (a switched-off one included)
        self.rpc = JsonRpcServer(methods, extra_routes=routes, mounts=mounts, max_request_bytes=max_request_bytes,
                                 name="devnet-l1")

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started(port)`` once listening (``self.url`` set)."""
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(self.rpc.serve, host, port)
            self.url = f"http://{host}:{bound}"
            task_status.started(bound)

    async def mine_every(self, interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Mine a block every ``interval`` seconds (trio clock) until cancelled."""
        task_status.started()
        while True:
            await trio.sleep(interval)
            self.chain.mine()

    # --- what the shared eth_ API reads -------------------------------------------------------

    client_version = "opfleet-devnet-l1/v0"

    @property
    def store(self) -> L1Chain:
        return self.chain

    @property
    def chain_id(self) -> int:
        return self.chain.config.chain_id

    def _pending_transaction(self, tx_hash: bytes) -> tuple[dict[str, Any], bytes] | None:
        pending = self.chain.pending_transaction(tx_hash)
        if pending is None:
            return None
        return transaction_json(pending.tx, tx_hash=pending.hash, sender=pending.sender, block_hash=None,
                                block_number=None, index=None, base_fee=None), pending.raw

    def _pending_nonce(self, address: bytes) -> int:
        return self.chain.nonce(address, pending=True)

    def _balance(self, block: L1ChainBlock, address: bytes) -> int:
        return self.chain.balance(address, block)

    def _unknown_log_block(self) -> list[dict[str, Any]]:
        return []  # the embedded L1 answers an unknown block hash with no logs

    # --- eth_ --------------------------------------------------------------------------------------

    async def eth_gasPrice(self) -> str:
        return q(self.chain.next_base_fee() + GWEI)

    async def eth_maxPriorityFeePerGas(self) -> str:
        return q(GWEI)

    async def eth_blobBaseFee(self) -> str:
        return q(self.chain.next_blob_base_fee())

    async def eth_sendRawTransaction(self, raw: Any) -> str:
        try:
            tx_hash = self.chain.submit(param_data(raw, "raw transaction"))
        except TxRejected as exc:
            raise RpcError(-32000, str(exc)) from None
        if self.automine:
            self.chain.mine()
        return h(tx_hash)

    async def eth_estimateGas(self, call: Any, block: Any = "latest") -> str:
        if not isinstance(call, dict):
            raise InvalidParams("invalid argument 0: call must be an object")
        sender = param_data(call.get("from", "0x" + "00" * 20), "from", 20)
        to = param_data(call["to"], "to", 20) if call.get("to") else None
        data = param_data(call.get("input", call.get("data", "0x")), "input")
        value = param_quantity(call.get("value", "0x0"), "value")
        tx = Transaction(type=DYNAMIC_FEE_TX_TYPE, chain_id=self.chain.config.chain_id, to=to, value=value, data=data,
                         nonce=self.chain.nonce(sender, pending=True))
        try:
            return q(self.chain.estimate_gas(sender, tx))
        except (TxRejected, ValueError) as exc:
            raise RpcError(3 if "reverted" in str(exc) else -32000, str(exc)) from None

    async def evm_mine(self, timestamp: Any = None) -> str:
        """anvil/hardhat-style: mine one block now (optionally at ``timestamp``)."""
        when = param_quantity(timestamp, "timestamp") if isinstance(timestamp, str) else timestamp
        try:
            block = self.chain.mine(timestamp=when)
        except ValueError as exc:
            raise RpcError(-32000, str(exc)) from None
        return h(block.hash)

    # --- beacon API ----------------------------------------------------------------------------------

    async def _beacon_genesis(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"data": {
            "genesis_time": str(self.chain.config.genesis_time),
            "genesis_validators_root": h(ZERO_HASH),
            "genesis_fork_version": "0x00000000",
        }})

    async def _beacon_version(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json({"data": {"version": "opfleet-devnet-beacon/v0"}})

    async def _beacon_spec(self, request: HttpRequest) -> HttpResponse:
        config = self.chain.config
        return HttpResponse.json({"data": {
            "CONFIG_NAME": "opfleet-devnet",
            "PRESET_BASE": "mainnet",
            "SECONDS_PER_SLOT": str(config.seconds_per_slot),
            "SLOTS_PER_EPOCH": str(BEACON_SLOTS_PER_EPOCH),
            "DEPOSIT_CHAIN_ID": str(config.chain_id),
            "DEPOSIT_NETWORK_ID": str(config.chain_id),
            "MAX_BLOBS_PER_BLOCK": str(config.blob_params.max_blobs),
            "FIELD_ELEMENTS_PER_BLOB": "4096",
        }})

    def _beacon_block(self, block_id: str) -> L1ChainBlock | HttpResponse:
        chain = self.chain
        if block_id in _BEACON_BLOCK_TAGS:
            return chain.by_tag(_BEACON_BLOCK_TAGS[block_id])
        if block_id.isdigit():
            found = chain.by_slot(int(block_id))
            return found if found is not None else _beacon_error(404, f"NOT_FOUND: beacon block at slot {block_id}")
        if block_id.startswith("0x") and len(block_id) == 66:
            try:
                root = bytes.fromhex(block_id[2:])
            except ValueError:
                return _beacon_error(400, f"Invalid block ID: {block_id}")
            for block in reversed(chain.blocks):
                # A beacon block root, or (like anvil) the execution block hash.
                if root in (block.beacon_root, block.hash):
                    return block
            return _beacon_error(404, f"NOT_FOUND: beacon block with root {block_id}")
        return _beacon_error(400, f"Invalid block ID: {block_id}")

    @staticmethod
    def _query_list(request: HttpRequest, name: str) -> list[str]:
        values = urllib.parse.parse_qs(request.query).get(name, [])
        return [item for value in values for item in value.split(",") if item]

    def _beacon_envelope(self, block: L1ChainBlock, data: Any) -> HttpResponse:
        return HttpResponse.json({
            "execution_optimistic": False,
            "finalized": block.number <= self.chain.finalized.number and self.chain.is_canonical(block),
            "data": data,
        })

    def _beacon_route_block(self, request: HttpRequest) -> Any:
        """The block a ``.../{block_id}`` blob route names, or the error response to send."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponse.text("method not allowed\n", 405)
        block_id = request.path.strip("/")
        if not block_id or "/" in block_id:
            return _beacon_error(404, "NOT_FOUND: route")
        return self._beacon_block(block_id)

    async def _beacon_blobs(self, request: HttpRequest) -> HttpResponse:
        """``GET /eth/v1/beacon/blobs/{block_id}?versioned_hashes=...`` (Fulu ``getBlobs``)."""
        found = self._beacon_route_block(request)
        if isinstance(found, HttpResponse):
            return found
        try:
            wanted = [bytes.fromhex(v[2:]) for v in self._query_list(request, "versioned_hashes")]
        except ValueError:
            return _beacon_error(400, "Invalid versioned_hashes")
        sidecars = found.blob_sidecars
        if wanted:
            sidecars = [s for s in sidecars if s.versioned_hash in set(wanted)]
        return self._beacon_envelope(found, [h(s.blob) for s in sidecars])

    async def _beacon_sidecars(self, request: HttpRequest) -> HttpResponse:
        """``GET /eth/v1/beacon/blob_sidecars/{block_id}?indices=...`` (Deneb ``getBlobSidecars``)."""
        found = self._beacon_route_block(request)
        if isinstance(found, HttpResponse):
            return found
        try:
            indices = {int(i) for i in self._query_list(request, "indices")}
        except ValueError:
            return _beacon_error(400, "Invalid indices")
        parent = self.chain.by_hash(found.parent_hash)
        header = {
            "message": {
                "slot": str(found.slot),
                "proposer_index": "0",
                "parent_root": h(parent.beacon_root if parent is not None else ZERO_HASH),
                "state_root": h(found.header.state_root),
                "body_root": h(keccak256(b"opfleet-devnet-body" + found.hash)),
            },
            "signature": "0x" + "00" * 96,
        }
        data = [
            {
                "index": str(i),
                "blob": h(s.blob),
                "kzg_commitment": h(s.commitment),
                "kzg_proof": h(s.proof),
                "signed_block_header": header,
                "kzg_commitment_inclusion_proof": [h(ZERO_HASH)] * 17,
            }
            for i, s in enumerate(found.blob_sidecars)
            if not indices or i in indices
        ]
        return self._beacon_envelope(found, data)

    async def _beacon_not_found(self, request: HttpRequest) -> HttpResponse:
        return _beacon_error(404, "NOT_FOUND: route")

    async def _sidecars_gone(self, request: HttpRequest) -> HttpResponse:
        return _beacon_error(410, "This endpoint is deprecated. Use `GET /eth/v1/beacon/blobs/{block_id}` instead.")

"""A development Engine API server: an OP Stack L2 execution client without an EVM.

:class:`DevEngine` answers the Engine API as op-node drives it (``op-node/rollup/types.go``,
``op-service/sources/engine_client.go``) and the ``eth_`` reads a rollup node, a batcher and a
light sequencer need. It builds
deterministic blocks from payload attributes: the attributes' transactions (deposits first),
then, when ``noTxPool`` is false, user transactions from its pool (``eth_sendRawTransaction``).
Blocks are real: headers per fork with ``keccak256(rlp(header))`` block hashes, transaction and
receipt tries, and an account state committed in a Merkle-Patricia trie
(:mod:`opfleet.protocol.trie`), so ``eth_getProof`` answers verify against the state root.

**It is not an EVM.** Transactions move value and pay gas, nothing runs:

- deposits (``specs/protocol/deposits.md``): ``mint`` is credited to ``from``, then ``value``
  moves ``from -> to`` (or to the created address); if ``from`` cannot afford ``value`` the
  deposit fails (status 0) but keeps its mint and nonce bump. Gas used is the intrinsic gas
  (capped at the deposit's gas limit); before Regolith, system deposits use 0 and the others
  their whole gas limit.
- user transactions (types 0, 1, 2; 4 from Isthmus; blob transactions are invalid on L2):
  signature, chain id, nonce, intrinsic gas (and the EIP-7623 floor from Isthmus) and balance
  are checked; the sender pays ``gas_used * effective_gas_price``, the base fee going to the
  BaseFeeVault and the tip to the fee recipient. No L1 data fee and no operator fee are
  charged. Logs come only from two devnet conventions (:func:`devnet_logs`), so interop can
  be exercised without an EVM: a call to CrossL2Inbox (``0x42…22``) with
  ``validateMessage(Identifier,bytes32)`` calldata emits its ``ExecutingMessage`` event (no
  access-list or validity check: that is the supernode's job), and a call to
  :data:`DEVNET_LOG_EMITTER` emits one log from that address whose calldata is
  ``n ++ topic_1 … topic_n ++ data`` (``n`` one byte, at most 4). Each log costs its ``LOGn``
  gas on top of the intrinsic gas; a call whose gas cannot cover it emits nothing.
- code and storage never change: the L2ToL1MessagePasser storage root (the header's
  ``withdrawalsRoot`` from Isthmus, and ``eth_getProof(...).storageHash``) is whatever the
  genesis allocation put there.

Header fields by L2 timestamp: base fee (EIP-1559 with OP's parameters: denominator 50, 250
from Canyon, elasticity 6; from Holocene the parent's ``extraData`` parameters; from Jovian
clamped to the parent's ``minBaseFee``), ``withdrawalsRoot`` from Canyon (empty trie; the
message-passer storage root from Isthmus), ``blobGasUsed``/``excessBlobGas`` (0) and
``parentBeaconBlockRoot`` from Ecotone, ``requestsHash = sha256(b"")`` from Isthmus, and
``extraData`` = ``0x00 ++ denominator ++ elasticity`` from Holocene, ``0x01 ++ denominator ++
elasticity ++ minBaseFee`` from Jovian (``specs/protocol/holocene/exec-engine.md``,
``jovian/exec-engine.md``; all-zero ``eip1559Params`` select the chain's defaults, as op-geth
does). Not modelled: Jovian's DA footprint in ``blobGasUsed`` (it stays 0).

Payload statuses: VALID for a payload that re-executes to the same header; INVALID for one
whose transactions do not decode or do not apply (bad nonce, balance, signature), whose
roots differ, or whose block hash does not match its fields (then with a null
``latestValidHash``, as go-ethereum); SYNCING when the parent is unknown. A forkchoice update
to an unknown head answers SYNCING; one naming an unknown or non-ancestor safe/finalized
block fails with -38002. Moving the head to another known block reorganises the unsafe chain.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import trio

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
from opfleet.interop.messages import CROSS_L2_INBOX, decode_validate_message_calldata, executing_message_log
from opfleet.protocol.block import (
    EMPTY_REQUESTS_HASH,
    Header,
    ReceiptData,
    calc_base_fee,
    deposit_transaction_json,
    effective_gas_price,
    floor_data_gas,
    header_from_execution_payload,
    intrinsic_gas,
    log_gas,
    max_gas_price,
)
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.crypto import ZERO_ADDRESS, ZERO_HASH, keccak256
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, DepositTx, decode_deposit_tx
from opfleet.protocol.engine_api import ENGINE_ETH_METHODS, ENGINE_ETH_PROOF_METHOD
from opfleet.protocol.hexjson import hex_data as h
from opfleet.protocol.hexjson import hex_quantity as q
from opfleet.protocol.hexjson import parse_json_uint
from opfleet.protocol.log import Log
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from opfleet.protocol.rollup_config import FORKS, fork_activation, fork_active
from opfleet.protocol.state import Account, WorldState, contract_address
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    SET_CODE_TX_TYPE,
    Transaction,
    decode_transaction,
    recover_sender,
)
from opfleet.protocol.trie import EMPTY_TRIE_ROOT
from opfleet.rpc.jwt import require_jwt
from opfleet.rpc.server import (
    HttpServer,
    InvalidParams,
    JsonRpcServer,
    RpcError,
    invalid_params,
    param_data,
    param_quantity,
)

log = logging.getLogger("opfleet.devnet")

GWEI = 10**9
SEQUENCER_FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000011")
BASE_FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000019")

UNKNOWN_PAYLOAD = -38001
INVALID_FORKCHOICE_STATE = -38002
INVALID_PAYLOAD_ATTRIBUTES = -38003
UNSUPPORTED_FORK = -38005

MAX_PAYLOADS = 64
"""Built payloads kept for ``engine_getPayload`` (oldest dropped first)."""

DEVNET_LOG_EMITTER = bytes.fromhex("00000000000000000000000000000000000e1e77")
"""Devnet-only: a call here emits one log described by its calldata (see :func:`devnet_logs`)."""


def emitter_calldata(topics: tuple[bytes, ...], data: bytes = b"") -> bytes:
    """Calldata making :data:`DEVNET_LOG_EMITTER` emit a log with these topics and data."""
    if len(topics) > 4 or any(len(t) != 32 for t in topics):
        raise ValueError("at most 4 topics of 32 bytes each")
    return bytes([len(topics)]) + b"".join(topics) + data


def devnet_logs(to: bytes | None, data: bytes) -> tuple[Log, ...]:
    """The logs a user transaction emits on the dev engine (devnet conventions, see the module
    docstring): ``ExecutingMessage`` for CrossL2Inbox ``validateMessage`` calls, one log for a
    well-formed call to :data:`DEVNET_LOG_EMITTER`, nothing otherwise."""
    if to == CROSS_L2_INBOX:
        call = decode_validate_message_calldata(data)
        return (executing_message_log(*call),) if call is not None else ()
    if to == DEVNET_LOG_EMITTER and data and data[0] <= 4 and len(data) >= 1 + 32 * data[0]:
        n = data[0]
        topics = tuple(bytes(data[1 + 32 * i:33 + 32 * i]) for i in range(n))
        return (Log(DEVNET_LOG_EMITTER, topics, bytes(data[1 + 32 * n:])),)
    return ()


MESSAGE_PASSER_CODE = bytes.fromhex("60006000fd")
"""``PUSH1 0 PUSH1 0 REVERT``: the stand-in code at the L2ToL1MessagePasser address (withdrawals are
not a devnet feature; the account exists so its storage root can be proven)."""

FORK_NAMES = tuple(fork for fork in FORKS if fork != "interop")
"""The forks a devnet schedule (:class:`ForkTimes`) names, in order: the protocol's, but interop
(which the devnet's own interop mode switches on)."""


AUTH_ETH_METHODS: tuple[str, ...] = (*ENGINE_ETH_METHODS, ENGINE_ETH_PROOF_METHOD)
"""The ``eth_`` methods of the authenticated port: the Engine API specification's list, plus
``eth_getProof`` for pre-Isthmus output roots (op-geth and op-reth serve it there too)."""


class L2Forks(Protocol):
    """The fork predicates the engine needs (``opfleet.protocol.rollup_config.RollupConfig`` has them)."""

    def is_regolith(self, ts: int) -> bool: ...
    def is_canyon(self, ts: int) -> bool: ...
    def is_ecotone(self, ts: int) -> bool: ...
    def is_holocene(self, ts: int) -> bool: ...
    def is_isthmus(self, ts: int) -> bool: ...
    def is_jovian(self, ts: int) -> bool: ...
    def is_karst(self, ts: int) -> bool: ...


class EngineSettings(Protocol):
    """The genesis settings of an engine's chain the devnet reads (:class:`EngineConfig`,
    :class:`~opfleet.devnet.opgeth.OpGethConfig`)."""

    @property
    def chain_id(self) -> int: ...
    @property
    def genesis_time(self) -> int: ...
    @property
    def gas_limit(self) -> int: ...
    @property
    def forks(self) -> L2Forks: ...


class ExecutionEngine(Protocol):
    """What the devnet uses of an L2 execution engine, :class:`DevEngine` or op-geth
    (:class:`~opfleet.devnet.opgeth.OpGeth`): its chain's settings, its genesis block and, once
    it serves, its public RPC and Engine API URLs (None before)."""

    @property
    def config(self) -> EngineSettings: ...
    @property
    def genesis_id(self) -> BlockID: ...
    @property
    def rpc_url(self) -> str | None: ...
    @property
    def auth_url(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ForkTimes:
    """L2 fork activation times: the devnet's schedule as data. Whether a fork is active follows
    the protocol's rule (:func:`~opfleet.protocol.rollup_config.fork_active`: a later fork being
    active implies the earlier ones).

    The default activates everything through Isthmus at genesis and leaves Jovian off.
    """

    regolith: int | None = 0
    canyon: int | None = 0
    delta: int | None = 0
    ecotone: int | None = 0
    fjord: int | None = 0
    granite: int | None = 0
    holocene: int | None = 0
    isthmus: int | None = 0
    jovian: int | None = None
    karst: int | None = None

    @classmethod
    def up_to(cls, fork: str, at: int = 0) -> ForkTimes:
        """Every fork up to and including ``fork`` active from ``at``; later ones off."""
        if fork not in FORK_NAMES:
            raise ValueError(f"unknown fork {fork!r}")
        last = FORK_NAMES.index(fork)
        return cls(**{name: (at if i <= last else None) for i, name in enumerate(FORK_NAMES)})

    def _time(self, fork: str) -> int | None:
        return getattr(self, fork, None)  # interop: never in a devnet schedule

    def is_active(self, fork: str, ts: int) -> bool:
        return fork_active(fork, ts, self._time)

    def activation(self, fork: str) -> int | None:
        """When ``fork`` is active from: its own time or a later fork's, whichever is first."""
        return fork_activation(fork, self._time)

    def is_regolith(self, ts: int) -> bool:
        return self.is_active("regolith", ts)

    def is_canyon(self, ts: int) -> bool:
        return self.is_active("canyon", ts)

    def is_ecotone(self, ts: int) -> bool:
        return self.is_active("ecotone", ts)

    def is_holocene(self, ts: int) -> bool:
        return self.is_active("holocene", ts)

    def is_isthmus(self, ts: int) -> bool:
        return self.is_active("isthmus", ts)

    def is_jovian(self, ts: int) -> bool:
        return self.is_active("jovian", ts)

    def is_karst(self, ts: int) -> bool:
        return self.is_active("karst", ts)

    def shifted(self, by: int) -> ForkTimes:
        """These times moved by ``by`` seconds (offsets from a genesis -> timestamps); off stays off."""
        return ForkTimes(**{name: None if (t := getattr(self, name)) is None else t + by for name in FORK_NAMES})

    def rollup_config_fields(self) -> dict[str, int | None]:
        """``{fork}_time`` keyword arguments for ``RollupConfig``."""
        return {f"{name}_time": getattr(self, name) for name in FORK_NAMES}


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Parameters of a :class:`DevEngine` chain (its genesis and EIP-1559 settings)."""

    chain_id: int = 901
    genesis_time: int = 1_700_000_000
    forks: L2Forks = field(default_factory=ForkTimes)
    gas_limit: int = 30_000_000
    genesis_base_fee: int = GWEI
    alloc: Mapping[bytes, Account] = field(default_factory=dict)
    eip1559_elasticity: int = 6
    eip1559_denominator: int = 50
    eip1559_denominator_canyon: int = 250
    genesis_extra_data: bytes | None = None
    """None: the fork's default (EIP-1559 defaults in Holocene/Jovian form, else empty)."""
    genesis_fee_recipient: bytes = ZERO_ADDRESS

    def denominator(self, ts: int) -> int:
        return self.eip1559_denominator_canyon if self.forks.is_canyon(ts) else self.eip1559_denominator


# --- extraData ---------------------------------------------------------------------------------------


def encode_holocene_extra_data(denominator: int, elasticity: int) -> bytes:
    """``0x00 ++ u32 denominator ++ u32 elasticity`` (spec: holocene/exec-engine.md, "Dynamic EIP-1559 Parameters")."""
    return b"\x00" + denominator.to_bytes(4, "big") + elasticity.to_bytes(4, "big")


def encode_jovian_extra_data(denominator: int, elasticity: int, min_base_fee: int) -> bytes:
    """``0x01 ++ u32 denominator ++ u32 elasticity ++ u64 minBaseFee`` (spec: jovian/exec-engine.md)."""
    return b"\x01" + denominator.to_bytes(4, "big") + elasticity.to_bytes(4, "big") + min_base_fee.to_bytes(8, "big")


def decode_extra_data(extra: bytes, *, jovian: bool) -> tuple[int, int, int]:
    """``(denominator, elasticity, min_base_fee)`` from a Holocene or Jovian ``extraData``; ValueError if malformed."""
    size, version = (17, 1) if jovian else (9, 0)
    if len(extra) != size or extra[0] != version:
        raise ValueError(f"extraData must be {size} bytes with version {version}")
    denominator = int.from_bytes(extra[1:5], "big")
    elasticity = int.from_bytes(extra[5:9], "big")
    if denominator == 0:
        raise ValueError("extraData has a zero EIP-1559 denominator")
    return denominator, elasticity, int.from_bytes(extra[9:17], "big") if jovian else 0


# --- blocks ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class L2Tx:
    """A transaction in an L2 block, with its receipt."""

    raw: bytes
    hash: bytes
    index: int
    sender: bytes
    receipt: ReceiptData
    gas_used: int
    effective_gas_price: int
    first_log_index: int = 0
    tx: Transaction | None = None
    deposit: DepositTx | None = None
    nonce: int = 0
    contract_address: bytes | None = None

    @property
    def is_deposit(self) -> bool:
        return self.deposit is not None


@dataclass(frozen=True)
class L2Block(HeaderBlock):
    """A block of the dev engine's chain (its transactions are :class:`L2Tx`)."""

    def block_value(self) -> int:
        base_fee = self.header.base_fee_per_gas or 0
        return sum(t.gas_used * (t.effective_gas_price - base_fee) for t in self.transactions if not t.is_deposit)

    def transaction_json(self, t: L2Tx, *, deposit_receipt_version: int | None) -> dict[str, Any]:
        if t.deposit is not None:
            return deposit_transaction_json(t.deposit, tx_hash=t.hash, nonce=t.nonce, block_hash=self.hash,
                                            block_number=self.number, index=t.index,
                                            deposit_receipt_version=deposit_receipt_version)
        return self.signed_transaction_json(t)

    def to_json(self, full_transactions: bool, *, deposit_receipt_version: int | None) -> dict[str, Any]:
        return self.block_json(full_transactions,
                               lambda t: self.transaction_json(t, deposit_receipt_version=deposit_receipt_version))

    def receipt_json(self, t: L2Tx) -> dict[str, Any]:
        if t.deposit is not None:
            out = self.base_receipt_json(t, tx_type=DEPOSIT_TX_TYPE, to=t.deposit.to)
        else:
            assert t.tx is not None
            out = self.base_receipt_json(t, tx_type=t.tx.type, to=t.tx.to)
        if t.receipt.deposit_nonce is not None:
            out["depositNonce"] = q(t.receipt.deposit_nonce)
        if t.receipt.deposit_receipt_version is not None:
            out["depositReceiptVersion"] = q(t.receipt.deposit_receipt_version)
        return out

    def payload_json(self, forks: L2Forks) -> dict[str, Any]:
        """The ``ExecutionPayload`` (V1-V3 fields, plus OP's ``withdrawalsRoot`` from Isthmus)."""
        header = self.header
        out: dict[str, Any] = {
            "parentHash": h(header.parent_hash),
            "feeRecipient": h(header.coinbase),
            "stateRoot": h(header.state_root),
            "receiptsRoot": h(header.receipts_root),
            "logsBloom": h(header.logs_bloom),
            "prevRandao": h(header.mix_hash),
            "blockNumber": q(header.number),
            "gasLimit": q(header.gas_limit),
            "gasUsed": q(header.gas_used),
            "timestamp": q(header.timestamp),
            "extraData": h(header.extra_data),
            "baseFeePerGas": q(header.base_fee_per_gas or 0),
            "blockHash": h(self.hash),
            "transactions": [h(t.raw) for t in self.transactions],
        }
        if self.has_withdrawals:
            out["withdrawals"] = []
        if header.blob_gas_used is not None:
            out["blobGasUsed"] = q(header.blob_gas_used)
            out["excessBlobGas"] = q(header.excess_blob_gas or 0)
        if forks.is_isthmus(header.timestamp):
            out["withdrawalsRoot"] = h(header.withdrawals_root or EMPTY_TRIE_ROOT)
        return out


class InvalidTransaction(ValueError):
    """A transaction that cannot be applied to the block being built."""


@dataclass(frozen=True, slots=True)
class BuildInput:
    """Everything a block is built from besides its parent (payload attributes or a payload's fields)."""

    timestamp: int
    prev_randao: bytes
    fee_recipient: bytes
    gas_limit: int
    transactions: tuple[bytes, ...]
    no_tx_pool: bool = True
    parent_beacon_block_root: bytes | None = None
    withdrawals: bool = False
    eip1559_params: bytes | None = None
    min_base_fee: int | None = None
    extra_data: bytes | None = None
    """Set when re-executing a payload: its ``extraData`` as given (params are read from it)."""


class _Builder:
    def __init__(self, engine: DevEngine, parent: L2Block, spec: BuildInput):
        self.engine = engine
        self.config = engine.config
        self.forks = engine.config.forks
        self.parent = parent
        self.spec = spec
        self.ts = spec.timestamp
        self.state = parent.state.copy()
        self.base_fee = engine.next_base_fee(parent, self.ts)
        self.included: list[L2Tx] = []
        self.gas_used = 0
        self.log_index = 0

    def apply(self, raw: bytes) -> L2Tx:
        if raw[:1] == bytes([DEPOSIT_TX_TYPE]):
            return self._apply_deposit(raw)
        return self._apply_user(raw)

    def _apply_deposit(self, raw: bytes) -> L2Tx:
        try:
            dep = decode_deposit_tx(raw)
        except DecodeError as exc:
            raise InvalidTransaction(f"invalid deposit transaction: {exc}") from None
        regolith = self.forks.is_regolith(self.ts)
        # Bedrock system deposits (the 150M-gas L1-info tx) are outside the block gas pool.
        if (regolith or not dep.is_system_tx) and dep.gas > self.spec.gas_limit - self.gas_used:
            raise InvalidTransaction("gas limit reached")
        state = self.state
        if dep.mint:
            state.add_balance(dep.from_address, dep.mint)
        nonce = state.nonce(dep.from_address)
        state.increment_nonce(dep.from_address)
        created: bytes | None = None
        if dep.to is None:
            created = recipient = contract_address(dep.from_address, nonce)
        else:
            recipient = dep.to
        status = 1
        if dep.value:
            if state.balance(dep.from_address) >= dep.value:
                state.sub_balance(dep.from_address, dep.value)
                state.add_balance(recipient, dep.value)
            else:
                status = 0
        if created is not None and status and state.get(created).is_empty:
            state.set(created, Account(nonce=1))
        if not regolith:  # Bedrock: system deposits use no gas, others their whole gas limit
            gas_used = 0 if dep.is_system_tx else dep.gas
        else:
            gas_used = min(dep.gas, intrinsic_gas(Transaction(to=dep.to, data=dep.data)))
        self.gas_used += gas_used
        receipt = ReceiptData(
            DEPOSIT_TX_TYPE, status, self.gas_used, (),
            deposit_nonce=nonce if regolith else None,
            deposit_receipt_version=1 if self.forks.is_canyon(self.ts) else None,
        )
        included = L2Tx(raw=bytes(raw), hash=keccak256(raw), index=len(self.included), sender=dep.from_address,
                        receipt=receipt, gas_used=gas_used, effective_gas_price=0, deposit=dep, nonce=nonce,
                        contract_address=created if status else None)
        self.included.append(included)
        return included

    def _apply_user(self, raw: bytes) -> L2Tx:
        try:
            tx = decode_transaction(raw)
        except DecodeError as exc:
            raise InvalidTransaction(f"invalid transaction: {exc}") from None
        if tx.type == BLOB_TX_TYPE:
            raise InvalidTransaction("transaction type not supported: blob transactions are not allowed on L2")
        if tx.type == SET_CODE_TX_TYPE and not self.forks.is_isthmus(self.ts):
            raise InvalidTransaction("transaction type not supported: set-code transactions need Isthmus")
        if tx.is_protected and tx.chain_id != self.config.chain_id:
            raise InvalidTransaction(f"invalid chain id for signer: have {tx.chain_id} want {self.config.chain_id}")
        try:
            sender = recover_sender(tx)
        except DecodeError as exc:
            raise InvalidTransaction(f"invalid sender: {exc}") from None
        state = self.state
        nonce = state.nonce(sender)
        if tx.nonce != nonce:
            kind = "low" if tx.nonce < nonce else "high"
            raise InvalidTransaction(f"nonce too {kind}: address 0x{sender.hex()}, tx: {tx.nonce} state: {nonce}")
        if tx.gas > self.spec.gas_limit - self.gas_used:
            raise InvalidTransaction("gas limit reached")
        minimum = intrinsic_gas(tx)
        if self.forks.is_isthmus(self.ts):
            minimum = max(minimum, floor_data_gas(tx.data))
        if tx.gas < minimum:
            raise InvalidTransaction(f"intrinsic gas too low: have {tx.gas}, want {minimum}")
        if max_gas_price(tx) < self.base_fee:
            raise InvalidTransaction(f"max fee per gas less than block base fee: maxFeePerGas: {max_gas_price(tx)}, "
                                     f"baseFee: {self.base_fee}")
        cost = tx.gas * max_gas_price(tx) + tx.value
        if state.balance(sender) < cost:
            raise InvalidTransaction(f"insufficient funds for gas * price + value: address 0x{sender.hex()} "
                                     f"have {state.balance(sender)} want {cost}")
        price = effective_gas_price(tx, self.base_fee)
        gas_used = minimum
        logs = devnet_logs(tx.to, tx.data)
        with_logs = max(minimum, intrinsic_gas(tx) + sum(log_gas(entry) for entry in logs))
        if logs and with_logs <= tx.gas:
            gas_used = with_logs
        else:
            logs = ()
        state.increment_nonce(sender)
        state.sub_balance(sender, gas_used * price + tx.value)
        state.add_balance(BASE_FEE_VAULT, gas_used * self.base_fee)
        state.add_balance(self.spec.fee_recipient, gas_used * (price - self.base_fee))
        created = None
        if tx.to is None:
            created = contract_address(sender, nonce)
            state.add_balance(created, tx.value)
            if state.get(created).is_empty:
                state.set(created, Account(nonce=1))
        else:
            state.add_balance(tx.to, tx.value)
        self.gas_used += gas_used
        receipt = ReceiptData(tx.type, 1, self.gas_used, logs)
        included = L2Tx(raw=bytes(raw), hash=keccak256(raw), index=len(self.included), sender=sender,
                        receipt=receipt, gas_used=gas_used, effective_gas_price=price, tx=tx, nonce=tx.nonce,
                        contract_address=created, first_log_index=self.log_index)
        self.log_index += len(logs)
        self.included.append(included)
        return included

    def try_apply(self, raw: bytes) -> bool:
        """Apply a pool transaction if it fits (every check runs before the state changes)."""
        try:
            self.apply(raw)
        except InvalidTransaction:
            return False
        return True

    def extra_data(self) -> bytes:
        spec, forks, config = self.spec, self.forks, self.config
        if spec.extra_data is not None:
            return spec.extra_data
        if not forks.is_holocene(self.ts):
            return b""
        params = spec.eip1559_params or bytes(8)
        denominator = int.from_bytes(params[:4], "big")
        elasticity = int.from_bytes(params[4:], "big")
        if denominator == 0:
            denominator, elasticity = config.denominator(self.ts), config.eip1559_elasticity
        if forks.is_jovian(self.ts):
            return encode_jovian_extra_data(denominator, elasticity, spec.min_base_fee or 0)
        return encode_holocene_extra_data(denominator, elasticity)

    def seal(self) -> L2Block:
        spec = self.spec
        header = child_header(
            self.parent, self.included, self.state,
            timestamp=self.ts,
            gas_limit=spec.gas_limit,
            gas_used=self.gas_used,
            coinbase=spec.fee_recipient,
            extra_data=self.extra_data(),
            mix_hash=spec.prev_randao,
            base_fee_per_gas=self.base_fee,
            **_fork_header_fields(self.forks, self.ts, self.state, spec.parent_beacon_block_root or ZERO_HASH),
        )
        return L2Block(header, header.hash(), tuple(self.included), self.state)


def _fork_header_fields(forks: L2Forks, ts: int, state: WorldState, beacon_root: bytes) -> dict[str, Any]:
    """The header fields OP forks add to a block this engine seals at ``ts``: the withdrawals
    root from Canyon (the L2ToL1MessagePasser's storage root from Isthmus, else the empty root:
    ``specs/protocol/exec-engine.md``), no blob gas and the beacon root from Ecotone, the empty
    EIP-7685 requests hash from Isthmus."""
    ecotone, isthmus = forks.is_ecotone(ts), forks.is_isthmus(ts)
    withdrawals_root = None
    if forks.is_canyon(ts):
        withdrawals_root = state.get(L2_TO_L1_MESSAGE_PASSER_ADDRESS).storage_root if isthmus else EMPTY_TRIE_ROOT
    return {
        "withdrawals_root": withdrawals_root,
        "blob_gas_used": 0 if ecotone else None,
        "excess_blob_gas": 0 if ecotone else None,
        "parent_beacon_block_root": beacon_root if ecotone else None,
        "requests_hash": EMPTY_REQUESTS_HASH if isthmus else None,
    }


def _attributes_error(message: str) -> RpcError:
    return RpcError(INVALID_PAYLOAD_ATTRIBUTES, "Invalid payload attributes", {"err": message})


def _forkchoice_error(message: str) -> RpcError:
    return RpcError(INVALID_FORKCHOICE_STATE, "Invalid forkchoice state", {"err": message})


def _unsupported(message: str) -> RpcError:
    return RpcError(UNSUPPORTED_FORK, "Unsupported fork", {"err": message})


def _status(status: str, latest_valid: bytes | None = None, error: str | None = None) -> dict[str, Any]:
    return {"status": status, "latestValidHash": h(latest_valid) if latest_valid is not None else None,
            "validationError": error}


def header_from_payload(payload: Mapping[str, Any], beacon_root: Any, forks: L2Forks) -> Header:
    """The header an ``ExecutionPayload`` commits to (what its ``blockHash`` must be the hash of),
    under this engine's fork schedule.

    ``beacon_root`` is the ``parentBeaconBlockRoot`` passed next to the payload (0x-hex, from
    Ecotone). Raises ``ValueError``/``InvalidParams`` for a malformed payload. Spec: Engine API
    ``ExecutionPayloadV3`` and OP's ``withdrawalsRoot`` (``specs/protocol/exec-engine.md``).
    """
    ts = param_quantity(payload.get("timestamp"), "timestamp")
    ecotone = forks.is_ecotone(ts)
    canyon = forks.is_canyon(ts)
    if canyon and payload.get("withdrawals") is None:
        raise ValueError("missing withdrawals")
    if canyon and payload.get("withdrawals"):
        raise ValueError("withdrawals must be empty on OP Stack chains")
    return header_from_execution_payload(
        payload, withdrawals=canyon, withdrawals_root=forks.is_isthmus(ts), blob_properties=ecotone,
        parent_beacon_block_root=param_data(beacon_root, "parentBeaconBlockRoot", 32) if ecotone else None,
    )


class DevEngine(ChainStore[L2Block], EthReadApi):
    """A dev L2 execution client; see the module docstring. One instance is one chain.

    ``auth_rpc`` holds the Engine API plus :data:`AUTH_ETH_METHODS` and nothing else, as a client
    that keeps to the specification would (serve it with :meth:`serve_auth`, JWT-checked; any other
    method is -32601); ``rpc`` holds every ``eth_`` method (:meth:`serve_rpc`). The sync methods
    (:meth:`forkchoice_updated`, :meth:`get_payload`, :meth:`new_payload`) take and return the
    Engine API JSON, so tests can drive the engine without HTTP too. Blocks, the canonical
    index, tags, reorgs and the read-only ``eth_`` methods are the chain core's
    (:mod:`opfleet.devnet.chain`); ``safe``/``finalized`` move only by forkchoice updates.
    """

    def __init__(self, config: EngineConfig | None = None, *, jwt_secret: bytes = bytes(32), **overrides: Any):
        if config is None:
            config = EngineConfig(**overrides)
        elif overrides:
            config = replace(config, **overrides)
        self.config = config
        self.jwt_secret = jwt_secret
        genesis = self._make_genesis()
        super().__init__(genesis)
        self.set_safe(genesis)
        self.set_finalized(genesis)
        self._payloads: dict[bytes, L2Block] = {}
        self._pool = TxPool()
        self.auth_url: str | None = None
        self.rpc_url: str | None = None
        eth = {name: getattr(self, name) for name in dir(self) if name.startswith(("eth_", "net_", "web3_"))}
        engine = {name: getattr(self, name) for name in dir(self) if name.startswith("engine_")}
        self.rpc = JsonRpcServer(eth, name="devnet-l2")
        self.auth_rpc = JsonRpcServer({**{name: eth[name] for name in AUTH_ETH_METHODS}, **engine}, name="devnet-engine")

    # --- genesis and state ---------------------------------------------------------------------

    def _make_genesis(self) -> L2Block:
        config, forks, ts = self.config, self.config.forks, self.config.genesis_time
        # The L2ToL1MessagePasser predeploy exists from genesis, as on every OP chain: output roots
        # take its storage root from a proof that must check against the state root.
        state = WorldState({L2_TO_L1_MESSAGE_PASSER_ADDRESS: Account(code=MESSAGE_PASSER_CODE), **config.alloc})
        extra = config.genesis_extra_data
        if extra is None:
            extra = b""
            if forks.is_jovian(ts):
                extra = encode_jovian_extra_data(config.denominator(ts), config.eip1559_elasticity, 0)
            elif forks.is_holocene(ts):
                extra = encode_holocene_extra_data(config.denominator(ts), config.eip1559_elasticity)
        header = genesis_header(
            state,
            timestamp=ts,
            gas_limit=config.gas_limit,
            coinbase=config.genesis_fee_recipient,
            extra_data=extra,
            base_fee_per_gas=config.genesis_base_fee,
            **_fork_header_fields(forks, ts, state, ZERO_HASH),
        )
        return L2Block(header, header.hash(), (), state)

    def next_base_fee(self, parent: L2Block, timestamp: int) -> int:
        """Base fee of a child of ``parent`` at ``timestamp`` (EIP-1559 with OP's parameters)."""
        config, forks = self.config, self.config.forks
        header = parent.header
        denominator, elasticity, min_base_fee = config.denominator(timestamp), config.eip1559_elasticity, 0
        jovian_parent = forks.is_jovian(parent.timestamp)
        if forks.is_holocene(parent.timestamp):
            try:
                denominator, elasticity, min_base_fee = decode_extra_data(header.extra_data, jovian=jovian_parent)
            except ValueError:
                pass  # a genesis configured without Holocene extraData: chain defaults
        fee = calc_base_fee(header.gas_used, header.gas_limit, header.base_fee_per_gas or config.genesis_base_fee,
                            denominator=denominator, elasticity=elasticity)
        return max(fee, min_base_fee) if jovian_parent else fee

    # --- chain views ----------------------------------------------------------------------------

    def block(self, block_hash: bytes) -> L2Block | None:
        """Any block the engine has built or imported, canonical or not."""
        return self.by_hash(block_hash)

    @property
    def genesis_id(self) -> BlockID:
        """The L2 genesis ``BlockID`` for the rollup config."""
        return self.genesis.id

    def _deposit_receipt_version(self, block: L2Block) -> int | None:
        return 1 if self.config.forks.is_canyon(block.timestamp) else None

    # --- building and importing ---------------------------------------------------------------

    def build(self, parent: L2Block, spec: BuildInput) -> L2Block:
        """Build a block on ``parent``; :class:`InvalidTransaction` if a forced transaction fails."""
        if spec.timestamp <= parent.timestamp:
            raise InvalidTransaction(f"timestamp {spec.timestamp} is not after the parent's {parent.timestamp}")
        builder = _Builder(self, parent, spec)
        for i, raw in enumerate(spec.transactions):
            try:
                builder.apply(raw)
            except InvalidTransaction as exc:
                raise InvalidTransaction(f"failed to force-include tx {i}: {exc}") from None
        if not spec.no_tx_pool:
            included = {t.hash for t in builder.included}
            waiting = [e for e in self._pool.entries if e.hash not in included]
            progress = True
            while progress and waiting:  # repeat so that a sender's later nonces follow its earlier ones
                progress = False
                later = []
                for entry in waiting:
                    if builder.try_apply(entry.raw):
                        progress = True
                    else:
                        later.append(entry)
                waiting = later
        return builder.seal()

    def _set_head(self, head: L2Block) -> list[L2Block]:
        removed = super()._set_head(head)
        head_state = head.state
        self._pool.retain(lambda e: e.nonce >= head_state.nonce(e.sender))
        return removed

    def _check_attributes_version(self, version: int, ts: int) -> None:
        forks = self.config.forks
        if version == 3 and not forks.is_ecotone(ts):
            raise _unsupported("forkchoiceUpdatedV3 needs Ecotone attributes")
        if version == 2 and forks.is_ecotone(ts):
            raise _unsupported("forkchoiceUpdatedV2 cannot carry Ecotone attributes")
        if version == 1 and forks.is_canyon(ts):
            raise _unsupported("forkchoiceUpdatedV1 cannot carry Canyon attributes")

    def _parse_attributes(self, attrs: Any, version: int) -> BuildInput:
        if not isinstance(attrs, dict):
            raise InvalidParams("invalid argument 1: payload attributes must be an object")
        forks = self.config.forks
        ts = param_quantity(attrs.get("timestamp"), "timestamp")
        self._check_attributes_version(version, ts)
        withdrawals = attrs.get("withdrawals")
        if forks.is_canyon(ts):
            if withdrawals is None:
                raise _attributes_error("missing withdrawals")
            if withdrawals:
                raise _attributes_error("withdrawals must be empty on OP Stack chains")
        elif withdrawals is not None:
            raise _attributes_error("withdrawals before Canyon")
        beacon_root = attrs.get("parentBeaconBlockRoot")
        if forks.is_ecotone(ts):
            if beacon_root is None:
                raise _attributes_error("missing beacon root")
        elif beacon_root is not None:
            raise _attributes_error("parentBeaconBlockRoot before Ecotone")
        gas_limit = attrs.get("gasLimit")
        if gas_limit is None:
            raise _attributes_error("gasLimit parameter is required")
        eip1559 = attrs.get("eip1559Params")
        params = None
        if forks.is_holocene(ts):
            if eip1559 is None:
                raise _attributes_error("holocene eip-1559 params must be provided")
            params = param_data(eip1559, "eip1559Params", 8)
            if params[:4] == bytes(4) and params[4:] != bytes(4):
                raise _attributes_error("eip1559Params has a zero denominator with a non-zero elasticity")
        elif eip1559 is not None:
            raise _attributes_error("eip155Params not supported prior to Holocene upgrade")
        min_base_fee = attrs.get("minBaseFee")
        if forks.is_jovian(ts):
            if min_base_fee is None:
                raise _attributes_error("minBaseFee required post-jovian")
            with invalid_params():  # a JSON number (op-geth's *uint64), as op-node sends it
                min_base_fee = parse_json_uint(min_base_fee, "minBaseFee")
        elif min_base_fee is not None:
            raise _attributes_error("minBaseFee not supported prior to Jovian upgrade")
        txs = attrs.get("transactions") or []
        if not isinstance(txs, list):
            raise InvalidParams("invalid argument 1: transactions must be a list")
        return BuildInput(
            timestamp=ts,
            prev_randao=param_data(attrs.get("prevRandao"), "prevRandao", 32),
            fee_recipient=param_data(attrs.get("suggestedFeeRecipient"), "suggestedFeeRecipient", 20),
            gas_limit=param_quantity(gas_limit, "gasLimit"),
            transactions=tuple(param_data(t, "transaction") for t in txs),
            no_tx_pool=bool(attrs.get("noTxPool", False)),
            parent_beacon_block_root=param_data(beacon_root, "parentBeaconBlockRoot", 32) if beacon_root is not None else None,
            withdrawals=forks.is_canyon(ts),
            eip1559_params=params,
            min_base_fee=min_base_fee,
        )

    def forkchoice_updated(self, state: Any, attributes: Any = None, *, version: int = 3) -> dict[str, Any]:
        """``engine_forkchoiceUpdatedV{version}``."""
        if not isinstance(state, dict):
            raise InvalidParams("invalid argument 0: forkchoice state must be an object")
        head_hash = param_data(state.get("headBlockHash"), "headBlockHash", 32)
        safe_hash = param_data(state.get("safeBlockHash", h(ZERO_HASH)), "safeBlockHash", 32)
        final_hash = param_data(state.get("finalizedBlockHash", h(ZERO_HASH)), "finalizedBlockHash", 32)
        head = self.by_hash(head_hash)
        if head is None:
            return {"payloadStatus": _status("SYNCING"), "payloadId": None}
        marks: dict[str, L2Block | None] = {}
        for name, wanted in (("safe", safe_hash), ("finalized", final_hash)):
            if wanted == ZERO_HASH:
                marks[name] = None
                continue
            found = self.by_hash(wanted)
            if found is None:
                raise _forkchoice_error(f"{name} block not available in database")
            if not self.is_ancestor(found, head):
                raise _forkchoice_error(f"{name} block not in canonical chain")
            marks[name] = found
        spec = self._parse_attributes(attributes, version) if attributes is not None else None
        if head.hash != self.head.hash:
            self._set_head(head)
        if marks["safe"] is not None:
            self.set_safe(marks["safe"])
        if marks["finalized"] is not None:
            self.set_finalized(marks["finalized"])
        payload_id = None
        if spec is not None:
            payload_id = self._payload_id(head, attributes, version)
            if payload_id not in self._payloads:
                try:
                    self._payloads[payload_id] = self.build(head, spec)
                except InvalidTransaction as exc:
                    raise _attributes_error(str(exc)) from None
                while len(self._payloads) > MAX_PAYLOADS:
                    del self._payloads[next(iter(self._payloads))]
        return {"payloadStatus": _status("VALID", head.hash), "payloadId": h(payload_id) if payload_id else None}

    def _payload_id(self, parent: L2Block, attributes: Any, version: int) -> bytes:
        digest = hashlib.sha256(parent.hash + json.dumps(attributes, sort_keys=True).encode()).digest()
        return bytes([version]) + digest[1:8]

    def get_payload(self, payload_id: Any, *, version: int) -> dict[str, Any]:
        """``engine_getPayloadV{version}``: the built payload's envelope."""
        block = self._payloads.get(param_data(payload_id, "payloadId", 8))
        if block is None:
            raise RpcError(UNKNOWN_PAYLOAD, "Unknown payload")
        forks, ts = self.config.forks, block.timestamp
        wanted = 5 if forks.is_karst(ts) else 4 if forks.is_isthmus(ts) else 3 if forks.is_ecotone(ts) else 2
        if version != wanted:
            raise _unsupported(f"engine_getPayloadV{version} for a payload that needs V{wanted}")
        envelope: dict[str, Any] = {"executionPayload": block.payload_json(forks), "blockValue": q(block.block_value())}
        if version >= 3:
            envelope["blobsBundle"] = {"commitments": [], "proofs": [], "blobs": []}
            envelope["shouldOverrideBuilder"] = False
            envelope["parentBeaconBlockRoot"] = h(block.header.parent_beacon_block_root or ZERO_HASH)
        if version >= 4:
            envelope["executionRequests"] = []
        return envelope

    def new_payload(self, payload: Any, versioned_hashes: Any = None, beacon_root: Any = None,
                    requests: Any = None, *, version: int) -> dict[str, Any]:
        """``engine_newPayloadV{version}``: import (re-execute) a payload; its status."""
        if not isinstance(payload, dict):
            raise InvalidParams("invalid argument 0: payload must be an object")
        forks = self.config.forks
        ts = param_quantity(payload.get("timestamp"), "timestamp")
        # Karst changes only getPayload (V5); newPayload stays V4 (op-node NewPayloadVersion).
        wanted = 4 if forks.is_isthmus(ts) else 3 if forks.is_ecotone(ts) else 2
        if version != wanted:
            raise _unsupported(f"engine_newPayloadV{version} for a payload that needs V{wanted}")
        if version >= 3:
            if versioned_hashes is None or beacon_root is None:
                raise InvalidParams(f"engine_newPayloadV{version} needs versioned hashes and a beacon root")
            if versioned_hashes:
                return _status("INVALID", None, "blob versioned hashes must be empty on OP Stack chains")
        if version == 4 and requests:
            return _status("INVALID", None, "execution requests must be empty on OP Stack chains")
        if ("withdrawalsRoot" in payload and payload["withdrawalsRoot"] is not None) != forks.is_isthmus(ts):
            raise InvalidParams("withdrawalsRoot must be set exactly from Isthmus")
        try:
            claimed = header_from_payload(payload, beacon_root, forks)
        except (InvalidParams, ValueError) as exc:
            return _status("INVALID", None, str(exc))
        block_hash = param_data(payload.get("blockHash"), "blockHash", 32)
        if claimed.hash() != block_hash:
            return _status("INVALID", None, f"blockhash mismatch, want 0x{claimed.hash().hex()}, got 0x{block_hash.hex()}")
        if self.by_hash(block_hash) is not None:
            return _status("VALID", block_hash)
        parent = self.by_hash(claimed.parent_hash)
        if parent is None:
            return _status("SYNCING")
        built = next((b for b in self._payloads.values() if b.hash == block_hash), None)
        if built is None:
            spec = BuildInput(
                timestamp=ts,
                prev_randao=claimed.mix_hash,
                fee_recipient=claimed.coinbase,
                gas_limit=claimed.gas_limit,
                transactions=tuple(param_data(t, "transaction") for t in payload.get("transactions") or []),
                parent_beacon_block_root=claimed.parent_beacon_block_root,
                withdrawals=forks.is_canyon(ts),
                extra_data=claimed.extra_data,
            )
            try:
                self._check_extra_data(claimed.extra_data, ts)
                built = self.build(parent, spec)
            except (InvalidTransaction, ValueError) as exc:
                return _status("INVALID", parent.hash, str(exc))
            if built.hash != block_hash:
                mismatches = [name for name in ("state_root", "receipts_root", "gas_used", "logs_bloom",
                                                "base_fee_per_gas", "withdrawals_root")
                              if getattr(built.header, name) != getattr(claimed, name)]
                return _status("INVALID", parent.hash, f"block does not re-execute to its header ({', '.join(mismatches)})")
        self.insert(built)
        return _status("VALID", block_hash)

    def _check_extra_data(self, extra: bytes, ts: int) -> None:
        forks = self.config.forks
        if forks.is_jovian(ts):
            decode_extra_data(extra, jovian=True)
        elif forks.is_holocene(ts):
            decode_extra_data(extra, jovian=False)

    # --- engine_ RPC methods ----------------------------------------------------------------------

    async def engine_forkchoiceUpdatedV1(self, state: Any, attributes: Any = None) -> dict[str, Any]:
        return self.forkchoice_updated(state, attributes, version=1)

    async def engine_forkchoiceUpdatedV2(self, state: Any, attributes: Any = None) -> dict[str, Any]:
        return self.forkchoice_updated(state, attributes, version=2)

    async def engine_forkchoiceUpdatedV3(self, state: Any, attributes: Any = None) -> dict[str, Any]:
        return self.forkchoice_updated(state, attributes, version=3)

    async def engine_getPayloadV2(self, payload_id: Any) -> dict[str, Any]:
        return self.get_payload(payload_id, version=2)

    async def engine_getPayloadV3(self, payload_id: Any) -> dict[str, Any]:
        return self.get_payload(payload_id, version=3)

    async def engine_getPayloadV4(self, payload_id: Any) -> dict[str, Any]:
        return self.get_payload(payload_id, version=4)

    async def engine_getPayloadV5(self, payload_id: Any) -> dict[str, Any]:
        """Karst (Osaka): the same envelope as V4 (op-node ``GetPayloadVersion``)."""
        return self.get_payload(payload_id, version=5)

    async def engine_newPayloadV2(self, payload: Any) -> dict[str, Any]:
        return self.new_payload(payload, version=2)

    async def engine_newPayloadV3(self, payload: Any, versioned_hashes: Any, beacon_root: Any) -> dict[str, Any]:
        return self.new_payload(payload, versioned_hashes, beacon_root, version=3)

    async def engine_newPayloadV4(self, payload: Any, versioned_hashes: Any, beacon_root: Any,
                                  requests: Any) -> dict[str, Any]:
        return self.new_payload(payload, versioned_hashes, beacon_root, requests, version=4)

    async def engine_exchangeCapabilities(self, methods: Any) -> list[str]:
        return sorted(name for name in self.auth_rpc.methods if name.startswith("engine_"))

    # --- eth_ reads --------------------------------------------------------------------------------

    client_version = "opfleet-devnet-engine/v0"

    @property
    def store(self) -> DevEngine:
        return self

    @property
    def chain_id(self) -> int:
        return self.config.chain_id

    def _block_json(self, block: L2Block, full: bool) -> dict[str, Any]:
        return block.to_json(full, deposit_receipt_version=self._deposit_receipt_version(block))

    def _transaction_json(self, block: L2Block, t: L2Tx) -> dict[str, Any]:
        return block.transaction_json(t, deposit_receipt_version=self._deposit_receipt_version(block))

    def _pending_nonce(self, address: bytes) -> int:
        return self._pool.pending_nonce(address, self.head.state.nonce(address))

    async def eth_gasPrice(self) -> str:
        return q(self.next_base_fee(self.head, self.head.timestamp + 1) + 1)

    async def eth_maxPriorityFeePerGas(self) -> str:
        return q(1)

    async def eth_call(self, call: Any, block: Any = "latest") -> str:
        """No EVM: a call to an account without code returns nothing, as on any client; a call
        into code is refused."""
        if not isinstance(call, dict):
            raise InvalidParams("invalid argument 0: call must be an object")
        state = self._state_block(block).state
        to = call.get("to")
        if to is not None and state.get(param_data(to, "to", 20)).code:
            raise RpcError(-32000, "the devnet engine runs no contract code (it is not an EVM)")
        return "0x"

    async def eth_sendRawTransaction(self, raw: Any) -> str:
        """Add a user transaction to the pool (included when attributes allow the pool)."""
        data = param_data(raw, "raw transaction")
        try:
            if data[:1] == bytes([DEPOSIT_TX_TYPE]):
                raise InvalidTransaction("transaction type not supported")
            tx = decode_transaction(data)
            if tx.type == BLOB_TX_TYPE:
                raise InvalidTransaction("transaction type not supported")
            if tx.is_protected and tx.chain_id != self.config.chain_id:
                raise InvalidTransaction(f"invalid chain id for signer: have {tx.chain_id} want {self.config.chain_id}")
            sender = recover_sender(tx)
        except (DecodeError, InvalidTransaction) as exc:
            raise RpcError(-32000, str(exc)) from None
        if tx.nonce < self.head.state.nonce(sender):
            raise RpcError(-32000, "nonce too low")
        if tx.gas < intrinsic_gas(tx):
            raise RpcError(-32000, "intrinsic gas too low")
        tx_hash = keccak256(data)
        if self.transaction(tx_hash) is not None or self._pool.get(tx_hash) is not None:
            raise RpcError(-32000, "already known")
        # a later transaction with the same nonce replaces the pooled one at the back of the queue
        self._pool.retain(lambda e: not (e.sender == sender and e.nonce == tx.nonce))
        self._pool.add(PoolEntry(data, tx_hash, sender, tx))
        return h(tx_hash)

    @property
    def pending(self) -> tuple[bytes, ...]:
        """Hashes of the transactions in the pool."""
        return self._pool.hashes

    # --- serving --------------------------------------------------------------------------------------

    async def serve_auth(self, host: str = "127.0.0.1", port: int = 0, *,
                         task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the Engine API (JWT required) until cancelled; ``task_status.started(port)``."""
        server = HttpServer(require_jwt(self.auth_rpc, self.jwt_secret), name="devnet-engine")
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(server.serve, host, port)
            self.auth_url = f"http://{host}:{bound}"
            task_status.started(bound)

    async def serve_rpc(self, host: str = "127.0.0.1", port: int = 0, *,
                        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the public ``eth_`` RPC until cancelled; ``task_status.started(port)``."""
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(self.rpc.serve, host, port)
            self.rpc_url = f"http://{host}:{bound}"
            task_status.started(bound)

"""The L1 attributes deposit: the first transaction of every L2 block.

Spec: ``specs/protocol/deposits.md`` ("L1 Attributes Deposited Transaction"),
``specs/protocol/ecotone/l1-attributes.md``, ``isthmus/l1-attributes.md``,
``jovian/l1-attributes.md``, ``pectra-blob-schedule/derivation.md``. op-node:
``op-node/rollup/derive/l1_block_info.go``; kona: ``crates/protocol/protocol/src/info/*``.

Four calldata layouts exist: ``bedrock`` (260 bytes, ABI words), ``ecotone`` (164 bytes,
packed), ``isthmus`` (176 bytes) and ``jovian`` (178 bytes). The layout follows the L2 block
time, lagging one block at each fork's activation block (the L1Block contract is upgraded by
that block's own upgrade transactions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opfleet.errors import ConfigError, DecodeError
from opfleet.protocol.block_ref import BlockID, L2BlockRef
from opfleet.protocol.crypto import ZERO_HASH
from opfleet.protocol.deposits import (
    DEPOSIT_TX_TYPE,
    L1_INFO_DEPOSITOR,
    DepositTx,
    decode_deposit_tx,
    l1_info_source_hash,
)
from opfleet.protocol.system_config import SystemConfig, batcher_from_hash, batcher_hash, encode_scalar
from opfleet.protocol.upgrades import upgrade_gas_to_strip

if TYPE_CHECKING:
    from opfleet.protocol.rollup_config import RollupConfig

L1_BLOCK_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000015")
"""The L1Block predeploy, receiver of the L1-info deposit."""

L1_INFO_DEPOSIT_GAS_BEDROCK = 150_000_000
L1_INFO_DEPOSIT_GAS_REGOLITH = 1_000_000
DEFAULT_DA_FOOTPRINT_GAS_SCALAR = 400
"""Jovian: the DA footprint gas scalar written when the system config holds 0."""

LAYOUTS: tuple[str, ...] = ("bedrock", "ecotone", "isthmus", "jovian")

SELECTORS: dict[str, bytes] = {
    # setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)
    "bedrock": bytes.fromhex("015d8eb9"),
    "ecotone": bytes.fromhex("440a5e20"),  # setL1BlockValuesEcotone()
    "isthmus": bytes.fromhex("098999be"),  # setL1BlockValuesIsthmus()
    "jovian": bytes.fromhex("3db6be2b"),  # setL1BlockValuesJovian()
}
LENGTHS: dict[str, int] = {"bedrock": 260, "ecotone": 164, "isthmus": 176, "jovian": 178}
_LAYOUT_BY_SELECTOR = {selector: layout for layout, selector in SELECTORS.items()}

# EIP-4844 / EIP-7691 / EIP-7892 blob base fee update fractions.
CANCUN_BLOB_UPDATE_FRACTION = 3_338_477
PRAGUE_BLOB_UPDATE_FRACTION = 5_007_716
BPO1_BLOB_UPDATE_FRACTION = 8_346_193
BPO2_BLOB_UPDATE_FRACTION = 11_684_671
MIN_BLOB_BASE_FEE = 1

_UINT16_MAX = (1 << 16) - 1
_UINT32_MAX = (1 << 32) - 1
_UINT64_MAX = (1 << 64) - 1
_UINT256_MAX = (1 << 256) - 1
# fake_exponential(1, x, f) is about e**(x/f); past e**200 it cannot fit a uint256 anyway.
_MAX_BLOB_FEE_EXPONENT = 200


@dataclass(frozen=True, slots=True)
class L1BlockInfo:
    """The values an L1-info deposit sets in the L1Block contract.

    Spec: ``specs/protocol/deposits.md`` and the per-fork ``l1-attributes.md``. ``layout`` names
    the calldata format. Bedrock uses ``l1_fee_overhead``/``l1_fee_scalar`` (raw 32-byte words);
    the later layouts use the split scalars and the blob base fee; Isthmus adds the operator
    fee and Jovian the DA footprint gas scalar. Fields a layout does not carry are 0.
    """

    layout: str
    number: int
    time: int
    base_fee: int
    block_hash: bytes
    sequence_number: int
    batcher_address: bytes
    l1_fee_overhead: bytes = ZERO_HASH
    l1_fee_scalar: bytes = ZERO_HASH
    base_fee_scalar: int = 0
    blob_base_fee_scalar: int = 0
    blob_base_fee: int = 0
    operator_fee_scalar: int = 0
    operator_fee_constant: int = 0
    da_footprint_gas_scalar: int = 0

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown L1-info layout {self.layout!r}")
        sizes = (
            ("block_hash", 32),
            ("batcher_address", 20),
            ("l1_fee_overhead", 32),
            ("l1_fee_scalar", 32),
        )
        for name, size in sizes:
            if len(getattr(self, name)) != size:
                raise ValueError(f"{name} must be {size} bytes")
        for name, maximum in (
            ("number", _UINT64_MAX),
            ("time", _UINT64_MAX),
            ("base_fee", _UINT256_MAX),
            ("sequence_number", _UINT64_MAX),
            ("base_fee_scalar", _UINT32_MAX),
            ("blob_base_fee_scalar", _UINT32_MAX),
            ("blob_base_fee", _UINT256_MAX),
            ("operator_fee_scalar", _UINT32_MAX),
            ("operator_fee_constant", _UINT64_MAX),
            ("da_footprint_gas_scalar", _UINT16_MAX),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
                raise ValueError(f"{name} must be an integer in 0..{maximum}, got {value!r}")

    def encode(self) -> bytes:
        """The deposit calldata for this layout. Spec: see the module docstring."""
        return encode_l1_block_info(self)

    def to_json(self) -> dict[str, Any]:
        """The decoded fields (the ones this layout carries) as plain ints and 0x-hex."""
        out: dict[str, Any] = {
            "layout": self.layout,
            "number": self.number,
            "time": self.time,
            "baseFee": self.base_fee,
            "blockHash": "0x" + self.block_hash.hex(),
            "sequenceNumber": self.sequence_number,
            "batcherAddr": "0x" + self.batcher_address.hex(),
        }
        if self.layout == "bedrock":
            out["l1FeeOverhead"] = "0x" + self.l1_fee_overhead.hex()
            out["l1FeeScalar"] = "0x" + self.l1_fee_scalar.hex()
            return out
        out["baseFeeScalar"] = self.base_fee_scalar
        out["blobBaseFeeScalar"] = self.blob_base_fee_scalar
        out["blobBaseFee"] = self.blob_base_fee
        if self.layout in ("isthmus", "jovian"):
            out["operatorFeeScalar"] = self.operator_fee_scalar
            out["operatorFeeConstant"] = self.operator_fee_constant
        if self.layout == "jovian":
            out["daFootprintGasScalar"] = self.da_footprint_gas_scalar
        return out


def encode_l1_block_info(info: L1BlockInfo) -> bytes:
    """Encode L1-info calldata in ``info.layout``.

    Spec: ``specs/protocol/deposits.md`` (Bedrock ABI call), ``ecotone/l1-attributes.md``
    (packed layout), ``isthmus/l1-attributes.md``, ``jovian/l1-attributes.md``.
    """
    if info.layout == "bedrock":
        return b"".join(
            (
                SELECTORS["bedrock"],
                info.number.to_bytes(32, "big"),
                info.time.to_bytes(32, "big"),
                info.base_fee.to_bytes(32, "big"),
                info.block_hash,
                info.sequence_number.to_bytes(32, "big"),
                batcher_hash(info.batcher_address),
                info.l1_fee_overhead,
                info.l1_fee_scalar,
            )
        )
    parts = [
        SELECTORS[info.layout],
        info.base_fee_scalar.to_bytes(4, "big"),
        info.blob_base_fee_scalar.to_bytes(4, "big"),
        info.sequence_number.to_bytes(8, "big"),
        info.time.to_bytes(8, "big"),
        info.number.to_bytes(8, "big"),
        info.base_fee.to_bytes(32, "big"),
        info.blob_base_fee.to_bytes(32, "big"),
        info.block_hash,
        batcher_hash(info.batcher_address),
    ]
    if info.layout in ("isthmus", "jovian"):
        parts.append(info.operator_fee_scalar.to_bytes(4, "big"))
        parts.append(info.operator_fee_constant.to_bytes(8, "big"))
    if info.layout == "jovian":
        parts.append(info.da_footprint_gas_scalar.to_bytes(2, "big"))
    return b"".join(parts)


def decode_l1_block_info(data: bytes) -> L1BlockInfo:
    """Decode L1-info calldata; the selector picks the layout, whose length must match exactly.

    Spec: as :func:`encode_l1_block_info`. Bedrock ABI words holding a uint64 must have zero
    high bytes, and every ``batcherHash`` zero address padding (op-node's ``solabi`` readers).
    """
    if len(data) < 4:
        message = f"L1-info calldata too short for a selector ({len(data)} bytes)"
        raise DecodeError(message, offset=0)
    layout = _LAYOUT_BY_SELECTOR.get(bytes(data[:4]))
    if layout is None:
        raise DecodeError(f"unknown L1-info selector 0x{bytes(data[:4]).hex()}", offset=0)
    if len(data) != LENGTHS[layout]:
        raise DecodeError(
            f"{layout} L1-info calldata must be {LENGTHS[layout]} bytes, got {len(data)}",
            offset=min(len(data), LENGTHS[layout]),
        )
    data = bytes(data)
    if layout == "bedrock":
        return L1BlockInfo(
            layout=layout,
            number=_u64_word(data, 4, "number"),
            time=_u64_word(data, 36, "timestamp"),
            base_fee=int.from_bytes(data[68:100], "big"),
            block_hash=data[100:132],
            sequence_number=_u64_word(data, 132, "sequence number"),
            batcher_address=_batcher(data, 164),
            l1_fee_overhead=data[196:228],
            l1_fee_scalar=data[228:260],
        )
    fields: dict[str, Any] = {
        "layout": layout,
        "base_fee_scalar": int.from_bytes(data[4:8], "big"),
        "blob_base_fee_scalar": int.from_bytes(data[8:12], "big"),
        "sequence_number": int.from_bytes(data[12:20], "big"),
        "time": int.from_bytes(data[20:28], "big"),
        "number": int.from_bytes(data[28:36], "big"),
        "base_fee": int.from_bytes(data[36:68], "big"),
        "blob_base_fee": int.from_bytes(data[68:100], "big"),
        "block_hash": data[100:132],
        "batcher_address": _batcher(data, 132),
    }
    if layout in ("isthmus", "jovian"):
        fields["operator_fee_scalar"] = int.from_bytes(data[164:168], "big")
        fields["operator_fee_constant"] = int.from_bytes(data[168:176], "big")
    if layout == "jovian":
        fields["da_footprint_gas_scalar"] = int.from_bytes(data[176:178], "big")
    return L1BlockInfo(**fields)


def _u64_word(data: bytes, offset: int, name: str) -> int:
    if any(data[offset : offset + 24]):
        raise DecodeError(f"L1-info {name} does not fit in 64 bits", offset=offset)
    return int.from_bytes(data[offset + 24 : offset + 32], "big")


def _batcher(data: bytes, offset: int) -> bytes:
    try:
        return batcher_from_hash(data[offset : offset + 32])
    except DecodeError as exc:
        raise exc.at(offset) from None


# --- the L2 block ref ---------------------------------------------------------------------------


def l2_block_ref(
    rollup_config: RollupConfig,
    *,
    block_hash: bytes,
    number: int,
    parent_hash: bytes,
    timestamp: int,
    first_tx_type: int | None,
    first_tx_data: bytes = b"",
) -> L2BlockRef:
    """The :class:`~opfleet.protocol.block_ref.L2BlockRef` of an L2 block (op-node
    ``derive.L2BlockToBlockRef``): its L1 origin and sequence number come from the L1-info
    deposit, which must be transaction 0. ``first_tx_type`` is that transaction's EIP-2718 type
    (None for a block without transactions) and ``first_tx_data`` its calldata.

    The rollup's genesis block carries no deposit: its origin is the rollup config's
    ``genesis.l1``, its sequence number 0, and its hash must be ``genesis.l2.hash``.
    Raises :class:`DecodeError` naming the block when any of this does not hold.
    """
    genesis = rollup_config.genesis
    if number == genesis.l2.number:
        if block_hash != genesis.l2.hash:
            raise DecodeError(
                f"L2 block {number} has hash 0x{block_hash.hex()}, but the rollup config's L2 genesis is "
                f"0x{genesis.l2.hash.hex()} (wrong chain or rollup config?)"
            )
        return L2BlockRef(block_hash, number, parent_hash, timestamp, genesis.l1, 0)
    where = f"L2 block {number} (0x{block_hash.hex()})"
    if first_tx_type is None:
        raise DecodeError(f"{where} has no transactions: it is missing the L1-info deposit")
    if first_tx_type != DEPOSIT_TX_TYPE:
        raise DecodeError(
            f"{where}: first transaction is not a deposit (type {first_tx_type:#x}), so not the L1-info deposit")
    try:
        info = decode_l1_block_info(first_tx_data)
    except DecodeError as exc:
        raise DecodeError(f"{where}: cannot decode the L1-info deposit: {exc}") from None
    return L2BlockRef(block_hash, number, parent_hash, timestamp,
                      BlockID(info.block_hash, info.number), info.sequence_number)


def l2_block_ref_from_transactions(
    rollup_config: RollupConfig,
    *,
    block_hash: bytes,
    number: int,
    parent_hash: bytes,
    timestamp: int,
    transactions: Sequence[bytes],
) -> L2BlockRef:
    """:func:`l2_block_ref` of a block given its EIP-2718 transactions (as an engine payload or a
    rebuilt block holds them): the first one's type, and its calldata once decoded as a deposit."""
    first = transactions[0] if transactions else None
    data = b""
    if first is not None and first[:1] == bytes([DEPOSIT_TX_TYPE]) and number != rollup_config.genesis.l2.number:
        try:
            data = decode_deposit_tx(first).data
        except DecodeError as exc:
            raise DecodeError(f"L2 block {number} (0x{block_hash.hex()}): cannot decode the L1-info "
                              f"deposit: {exc}") from None
    first_type = None if first is None else (first[0] if first and first[0] < 0x80 else 0)  # legacy: an RLP list
    return l2_block_ref(rollup_config, block_hash=block_hash, number=number, parent_hash=parent_hash,
                        timestamp=timestamp, first_tx_type=first_type, first_tx_data=data)


# --- blob base fee ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobSchedule:
    """An L1 chain's blob base-fee update fraction by L1 timestamp, after Cancun.

    Spec: EIP-4844 (Cancun), EIP-7691 (Prague), EIP-7892 (blob-parameter-only forks).
    ``forks`` is ``(activation_time, update_fraction)`` in ascending time order; before the
    first entry, Cancun's fraction applies.
    """

    forks: tuple[tuple[int, int], ...] = ()

    def update_fraction(self, l1_timestamp: int) -> int:
        """The update fraction in force at ``l1_timestamp``."""
        fraction = CANCUN_BLOB_UPDATE_FRACTION
        for activation, value in self.forks:
            if l1_timestamp >= activation:
                fraction = value
        return fraction


MAINNET_BLOB_SCHEDULE = BlobSchedule(
    (
        (1746612311, PRAGUE_BLOB_UPDATE_FRACTION),  # Prague
        (1764798551, PRAGUE_BLOB_UPDATE_FRACTION),  # Osaka keeps Prague's blob parameters
        (1765290071, BPO1_BLOB_UPDATE_FRACTION),
        (1767747671, BPO2_BLOB_UPDATE_FRACTION),
    )
)
SEPOLIA_BLOB_SCHEDULE = BlobSchedule(
    (
        (1741159776, PRAGUE_BLOB_UPDATE_FRACTION),
        (1760427360, PRAGUE_BLOB_UPDATE_FRACTION),
        (1761017184, BPO1_BLOB_UPDATE_FRACTION),
        (1761607008, BPO2_BLOB_UPDATE_FRACTION),
    )
)
HOLESKY_BLOB_SCHEDULE = BlobSchedule(
    (
        (1740434112, PRAGUE_BLOB_UPDATE_FRACTION),
        (1759308480, PRAGUE_BLOB_UPDATE_FRACTION),
        (1759800000, BPO1_BLOB_UPDATE_FRACTION),
        (1760389824, BPO2_BLOB_UPDATE_FRACTION),
    )
)
HOODI_BLOB_SCHEDULE = BlobSchedule(
    (
        (1742999832, PRAGUE_BLOB_UPDATE_FRACTION),
        (1761677592, PRAGUE_BLOB_UPDATE_FRACTION),
        (1762365720, BPO1_BLOB_UPDATE_FRACTION),
        (1762955544, BPO2_BLOB_UPDATE_FRACTION),
    )
)
KNOWN_BLOB_SCHEDULES: dict[int, BlobSchedule] = {
    1: MAINNET_BLOB_SCHEDULE,
    11155111: SEPOLIA_BLOB_SCHEDULE,
    17000: HOLESKY_BLOB_SCHEDULE,
    560048: HOODI_BLOB_SCHEDULE,
}
"""Blob schedules of the public L1s op-node has built in (``eth.L1ChainConfigByChainID``; fork
times from geth's ``params/config.go``), by L1 chain id. Any other L1 (a devnet) brings its own:
``--rollup.l1-chain-config``, read by :mod:`opfleet.protocol.l1_chain_config`."""
KNOWN_L1_NAMES: dict[int, str] = {1: "mainnet", 11155111: "Sepolia", 17000: "Holesky", 560048: "Hoodi"}


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """``factor * e ** (numerator / denominator)`` by Taylor expansion, in integers.

    Spec: EIP-4844 ("Helpers", ``fake_exponential``).
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    i = 1
    output = 0
    accumulator = factor * denominator
    while accumulator > 0:
        output += accumulator
        accumulator = (accumulator * numerator) // (denominator * i)
        i += 1
    return output // denominator


def blob_base_fee(excess_blob_gas: int, update_fraction: int) -> int:
    """The blob base fee for a header's ``excess_blob_gas``.

    Spec: EIP-4844 (``get_base_fee_per_blob_gas``).

    Raises :class:`DecodeError` when the fee cannot fit in a uint256 (an absurd header value).
    """
    if excess_blob_gas // update_fraction > _MAX_BLOB_FEE_EXPONENT:
        raise DecodeError(f"excess_blob_gas {excess_blob_gas} gives a blob base fee beyond uint256")
    fee = fake_exponential(MIN_BLOB_BASE_FEE, excess_blob_gas, update_fraction)
    if fee > _UINT256_MAX:
        raise DecodeError(f"excess_blob_gas {excess_blob_gas} gives a blob base fee beyond uint256")
    return fee


class L1HeaderFields(Protocol):
    """The L1 origin header fields the L1-info deposit needs (see :class:`L1OriginHeader`).

    Read-only members, so frozen dataclasses (``BlockHeader``, ``L1OriginHeader``) match."""

    @property
    def number(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def base_fee(self) -> int: ...
    @property
    def hash(self) -> bytes: ...
    @property
    def excess_blob_gas(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class L1OriginHeader:
    """L1 header fields for :func:`l1_info_deposit`; ``excess_blob_gas`` is None pre-Cancun."""

    number: int
    timestamp: int
    base_fee: int
    hash: bytes
    excess_blob_gas: int | None = None


def l1_blob_base_fee(
    rollup_config: RollupConfig,
    l1_header: L1HeaderFields,
    blob_schedule: BlobSchedule | None = None,
) -> int:
    """The L1 origin's blob base fee as the L1-info deposit reports it.

    Spec: ``specs/protocol/ecotone/l1-attributes.md`` and ``pectra-blob-schedule/derivation.md``.
    1 when the header has no ``excess_blob_gas``. With a Pectra blob schedule time configured,
    L1 origins before it keep Cancun's fraction. Otherwise the fraction comes from
    ``blob_schedule``, or the known schedule of ``rollup_config.l1_chain_id``; an unknown L1
    with non-zero excess blob gas and no schedule is a :class:`ConfigError`.
    """
    excess = l1_header.excess_blob_gas
    if excess is None:
        return MIN_BLOB_BASE_FEE
    pectra_fix_pending = rollup_config.pectra_blob_schedule_time is not None and not (
        rollup_config.is_pectra_blob_schedule(l1_header.timestamp)
    )
    if pectra_fix_pending:
        return blob_base_fee(excess, CANCUN_BLOB_UPDATE_FRACTION)
    schedule = blob_schedule or KNOWN_BLOB_SCHEDULES.get(rollup_config.l1_chain_id)
    if schedule is None:
        if excess == 0:
            return MIN_BLOB_BASE_FEE  # e**0: the same under every fraction
        raise ConfigError(
            f"no blob schedule known for L1 chain {rollup_config.l1_chain_id}: "
            "give its chain config with a blobSchedule (--rollup.l1-chain-config)"
        )
    return blob_base_fee(excess, schedule.update_fraction(l1_header.timestamp))


# --- the deposit ------------------------------------------------------------------------------


def l1_info_layout(rollup_config: RollupConfig, l2_timestamp: int) -> str:
    """The calldata layout for the L2 block at ``l2_timestamp``.

    Spec: ``ecotone/l1-attributes.md``, ``isthmus/l1-attributes.md``, ``jovian/l1-attributes.md``:
    each layout starts one block after its fork's activation block.
    """
    for layout in ("jovian", "isthmus", "ecotone"):
        if rollup_config.is_active(layout, l2_timestamp):
            if not rollup_config.is_activation_block(layout, l2_timestamp):
                return layout
    return "bedrock"


def l1_block_info_for(
    rollup_config: RollupConfig,
    system_config: SystemConfig,
    l1_header: L1HeaderFields,
    seq_number: int,
    l2_timestamp: int,
    *,
    blob_schedule: BlobSchedule | None = None,
) -> L1BlockInfo:
    """The :class:`L1BlockInfo` for an L2 block (see :func:`l1_info_deposit`)."""
    layout = l1_info_layout(rollup_config, l2_timestamp)
    common: dict[str, Any] = {
        "layout": layout,
        "number": l1_header.number,
        "time": l1_header.timestamp,
        "base_fee": l1_header.base_fee,
        "block_hash": bytes(l1_header.hash),
        "sequence_number": seq_number,
        "batcher_address": system_config.batcher_address,
    }
    if layout == "bedrock":
        return L1BlockInfo(
            **common, l1_fee_overhead=system_config.overhead, l1_fee_scalar=system_config.scalar
        )
    blob_scalar, base_scalar = system_config.ecotone_scalars()
    common.update(
        base_fee_scalar=base_scalar,
        blob_base_fee_scalar=blob_scalar,
        blob_base_fee=l1_blob_base_fee(rollup_config, l1_header, blob_schedule),
    )
    if layout in ("isthmus", "jovian"):
        common.update(
            operator_fee_scalar=system_config.operator_fee_scalar,
            operator_fee_constant=system_config.operator_fee_constant,
        )
    if layout == "jovian":
        da_scalar = system_config.da_footprint_gas_scalar or DEFAULT_DA_FOOTPRINT_GAS_SCALAR
        common["da_footprint_gas_scalar"] = da_scalar
    return L1BlockInfo(**common)


def l1_info_deposit(
    rollup_config: RollupConfig,
    system_config: SystemConfig,
    l1_header_fields: L1HeaderFields,
    seq_number: int,
    l2_timestamp: int,
    *,
    blob_schedule: BlobSchedule | None = None,
) -> DepositTx:
    """The L1 attributes deposited transaction for the L2 block at ``l2_timestamp``.

    Spec: ``specs/protocol/deposits.md`` ("L1 Attributes Deposited Transaction") and the fork
    ``l1-attributes.md`` files. From the depositor account to the L1Block predeploy, mint and
    value 0, source-hash domain 1 (L1 block hash, sequence number); gas 1,000,000 and
    ``isSystemTx = false`` from Regolith (150,000,000 and ``true`` before). The layout follows
    :func:`l1_info_layout`; scalars come from ``system_config`` (op-node's 0xFFFFFFFF rule for a
    version-0 scalar with padding), the blob base fee from :func:`l1_blob_base_fee`.
    """
    info = l1_block_info_for(
        rollup_config,
        system_config,
        l1_header_fields,
        seq_number,
        l2_timestamp,
        blob_schedule=blob_schedule,
    )
    regolith = rollup_config.is_regolith(l2_timestamp)
    return DepositTx(
        source_hash=l1_info_source_hash(info.block_hash, seq_number),
        from_address=L1_INFO_DEPOSITOR,
        to=L1_BLOCK_ADDRESS,
        mint=0,
        value=0,
        gas=L1_INFO_DEPOSIT_GAS_REGOLITH if regolith else L1_INFO_DEPOSIT_GAS_BEDROCK,
        is_system_tx=not regolith,
        data=info.encode(),
    )


# --- system config of an existing L2 block ---------------------------------------------------


def system_config_from_l2_block(
    rollup_config: RollupConfig,
    *,
    number: int,
    timestamp: int,
    gas_limit: int,
    extra_data: bytes,
    l1_info_data: bytes | None,
    block_hash: bytes | None = None,
) -> SystemConfig:
    """Reconstruct the system config that produced an existing L2 block (for restarts).

    Spec: ``specs/protocol/derivation.md`` ("Resetting the Pipeline"); kona
    ``protocol/src/utils.rs`` ``to_system_config``, op-node ``PayloadToSystemConfig``. The
    genesis block yields the rollup config's genesis system config (``block_hash``, when given,
    must match). Otherwise ``l1_info_data`` (calldata of the block's first transaction, the
    L1-info deposit) gives the batcher, the scalars (re-encoded as a version-1 scalar from
    Ecotone), the operator fee (Isthmus) and the DA footprint scalar (Jovian layout), the header
    gives the gas limit (less an activation block's upgrade gas, see
    :func:`~opfleet.protocol.upgrades.upgrade_gas_to_strip`), and ``extra_data`` the EIP-1559 parameters (Holocene: 9 bytes,
    version 0) and the min base fee (Jovian: 17 bytes, version 1).
    """
    genesis = rollup_config.genesis
    if number == genesis.l2.number:
        if block_hash is not None and block_hash != genesis.l2.hash:
            raise DecodeError(
                f"block {number} hash 0x{block_hash.hex()} is not the genesis hash "
                f"0x{genesis.l2.hash.hex()}"
            )
        return genesis.system_config
    if l1_info_data is None:
        raise DecodeError(f"L2 block {number} has no L1-info deposit")
    info = decode_l1_block_info(l1_info_data)
    if info.layout == "bedrock":
        overhead, scalar = info.l1_fee_overhead, info.l1_fee_scalar
    else:
        overhead, scalar = ZERO_HASH, encode_scalar(info.blob_base_fee_scalar, info.base_fee_scalar)
    fields: dict[str, Any] = {
        "batcher_address": info.batcher_address,
        "overhead": overhead,
        "scalar": scalar,
        "gas_limit": gas_limit - upgrade_gas_to_strip(rollup_config, timestamp),
    }
    if rollup_config.is_jovian(timestamp):
        fields.update(_decode_extra_data(extra_data, version=1, size=17))
    elif rollup_config.is_holocene(timestamp):
        fields.update(_decode_extra_data(extra_data, version=0, size=9))
    if rollup_config.is_isthmus(timestamp):
        fields["operator_fee_scalar"] = info.operator_fee_scalar
        fields["operator_fee_constant"] = info.operator_fee_constant
    if info.layout == "jovian":
        fields["da_footprint_gas_scalar"] = info.da_footprint_gas_scalar
    return SystemConfig(**fields)


def _decode_extra_data(extra_data: bytes, *, version: int, size: int) -> dict[str, int]:
    """Holocene (version 0) / Jovian (version 1) header ``extraData``."""
    if len(extra_data) != size:
        raise DecodeError(f"extraData must be {size} bytes, got {len(extra_data)}", offset=0)
    if extra_data[0] != version:
        raise DecodeError(f"extraData version must be {version}, got {extra_data[0]}", offset=0)
    denominator = int.from_bytes(extra_data[1:5], "big")
    elasticity = int.from_bytes(extra_data[5:9], "big")
    if denominator == 0 and elasticity != 0:
        raise DecodeError(
            "extraData has a zero EIP-1559 denominator with non-zero elasticity", offset=1
        )
    out = {"eip1559_denominator": denominator, "eip1559_elasticity": elasticity}
    if version == 1:
        out["min_base_fee"] = int.from_bytes(extra_data[9:17], "big")
    return out


# --- addresses and JSON field readers (shared with rollup_config) -----------------------------

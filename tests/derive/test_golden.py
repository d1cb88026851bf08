"""Golden tests: scripted L1 histories whose payload attributes are written out by hand.

The expected values below are laid out field by field from the spec text, not computed by
opfleet's encoders: L1-info calldata from the layouts of specs/protocol/deposits.md (Bedrock)
and jovian/l1-attributes.md (Jovian); deposit transactions as
``0x7E ++ rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data])`` with the ``rlp``
package; source hashes from the formulas of deposits.md "Source hash computation" with plain
keccak. Inputs taken from the scripted chain (block hashes, mix hashes) are named as such.
"""

from __future__ import annotations

import rlp
from derive_helpers import Rollup

from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import deposit_log
from opfleet.protocol.engine_api import PayloadAttributes
from opfleet.protocol.system_config import SystemConfig
from opfleet.testing.derive import BATCHER_ADDRESS, DEPOSIT_CONTRACT, l2_transfer

T = 1_700_000_000  # L1 genesis time = L2 genesis time; 0x6553f100
DEPOSITOR = bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001")
L1_BLOCK = bytes.fromhex("4200000000000000000000000000000000000015")
FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000011")


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def source_hash(domain: int, block_hash: bytes, index: int) -> bytes:
    return keccak256(word(domain) + keccak256(block_hash + word(index)))


def deposit(
    source: bytes, sender: bytes, to: bytes, mint: int, value: int, gas: int, data: bytes
) -> bytes:
    return b"\x7e" + rlp.encode([source, sender, to, mint, value, gas, b"", data])


async def test_golden_jovian_two_blocks_with_a_user_deposit():
    genesis_config = SystemConfig(
        batcher_address=BATCHER_ADDRESS,
        scalar=bytes.fromhex("01" + "00" * 23 + "000c5fc5" + "00000558"),  # blob 810949, base 1368
        gas_limit=30_000_000,
        eip1559_denominator=250,
        eip1559_elasticity=6,
        operator_fee_scalar=7,
        operator_fee_constant=11,
        min_base_fee=1000,
    )
    r = Rollup(jovian_time=0, block_time=6, genesis_system_config=genesis_config)
    r.l1.mine(
        events=[deposit_log(DEPOSIT_CONTRACT, from_address=b"\x11" * 20, to=b"\x22" * 20, mint=10**18,
                            value=5, gas_limit=100_000, data=b"\xde\xad")],
        base_fee=1_000_000_000,
        excess_blob_gas=0,
        parent_beacon_block_root=b"\xaa" * 32,
        mix_hash=b"\xcc" * 32,
    )
    transfer = l2_transfer(0)
    r.post([r.seq.block(r.epoch(0)), r.seq.block(r.epoch(1), [transfer])])
    first, second = await r.derive()

    l1_0, l1_1 = r.l1.block(0).header, r.l1.block(1).header  # inputs: hashes and mix hash
    batcher_hash = bytes(12) + BATCHER_ADDRESS
    info_1 = bytes.fromhex(
        "3db6be2b"  # setL1BlockValuesJovian()
        "00000558"  # baseFeeScalar
        "000c5fc5"  # blobBaseFeeScalar
        "0000000000000001"  # sequenceNumber: second block of epoch 0
        "000000006553f100"  # L1 timestamp T
        "0000000000000000"  # L1 number 0
    ) + word(7) + word(1) + l1_0.hash + batcher_hash + bytes.fromhex(
        "00000007"  # operatorFeeScalar
        "000000000000000b"  # operatorFeeConstant
        "0190"  # daFootprintGasScalar: 0 in the config means 400
    )
    assert len(info_1) == 178
    expected_1 = PayloadAttributes(
        timestamp=T + 6,
        prev_randao=l1_0.mix_hash,
        suggested_fee_recipient=FEE_VAULT,
        withdrawals=(),
        parent_beacon_block_root=bytes(32),  # the L1 genesis header has none
        transactions=(
            deposit(source_hash(1, l1_0.hash, 1), DEPOSITOR, L1_BLOCK, 0, 0, 1_000_000, info_1),
        ),
        no_tx_pool=True,
        gas_limit=30_000_000,
        eip1559_params=bytes.fromhex("000000fa" "00000006"),
        min_base_fee=1000,
    )
    assert first.attributes == expected_1
    assert first.parent == r.seq.blocks[0] and first.is_last_in_span
    assert first.derived_from == r.l1.ref(2)

    info_2 = bytes.fromhex(
        "3db6be2b" "00000558" "000c5fc5"
        "0000000000000000"  # sequenceNumber 0: first block of epoch 1
        "000000006553f10c"  # L1 timestamp T + 12
        "0000000000000001"  # L1 number 1
    ) + word(1_000_000_000) + word(1) + l1_1.hash + batcher_hash + bytes.fromhex(
        "00000007" "000000000000000b" "0190"
    )
    user_deposit = deposit(
        source_hash(0, l1_1.hash, 0), b"\x11" * 20, b"\x22" * 20, 10**18, 5, 100_000, b"\xde\xad"
    )
    expected_2 = PayloadAttributes(
        timestamp=T + 12,
        prev_randao=b"\xcc" * 32,
        suggested_fee_recipient=FEE_VAULT,
        withdrawals=(),
        parent_beacon_block_root=b"\xaa" * 32,
        transactions=(
            deposit(source_hash(1, l1_1.hash, 0), DEPOSITOR, L1_BLOCK, 0, 0, 1_000_000, info_2),
            user_deposit,
            transfer,
        ),
        no_tx_pool=True,
        gas_limit=30_000_000,
        eip1559_params=bytes.fromhex("000000fa00000006"),
        min_base_fee=1000,
    )
    assert second.attributes == expected_2
    assert second.parent == r.seq.blocks[1]


async def test_golden_bedrock_layout_after_regolith():
    r = Rollup()  # Regolith only; genesis config overhead 188, scalar 684000, batcher, 30M gas
    r.post([r.seq.block(r.epoch(0))])
    (attrs,) = await r.derive()
    l1_0 = r.l1.block(0).header
    info = (
        # setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)
        bytes.fromhex("015d8eb9")
        + word(0) + word(T) + word(7) + l1_0.hash + word(1)
        + bytes(12) + BATCHER_ADDRESS + word(188) + word(684000)
    )
    assert len(info) == 260
    assert attrs.attributes == PayloadAttributes(
        timestamp=T + 2,
        prev_randao=l1_0.mix_hash,
        suggested_fee_recipient=FEE_VAULT,
        withdrawals=None,
        parent_beacon_block_root=None,
        transactions=(
            deposit(source_hash(1, l1_0.hash, 1), DEPOSITOR, L1_BLOCK, 0, 0, 1_000_000, info),
        ),
        no_tx_pool=True,
        gas_limit=30_000_000,
        eip1559_params=None,
        min_base_fee=None,
    )

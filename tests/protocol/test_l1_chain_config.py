"""The L1 chain config of ``--rollup.l1-chain-config``: a geth ChainConfig or a genesis file,
reduced to the chain id and the blob base-fee update fraction by L1 time; every bad input is one
ConfigError naming the file and the key."""

from __future__ import annotations

import json

import pytest

from opfleet.errors import ConfigError
from opfleet.protocol.l1_block_info import (
    BPO1_BLOB_UPDATE_FRACTION,
    BPO2_BLOB_UPDATE_FRACTION,
    CANCUN_BLOB_UPDATE_FRACTION,
    KNOWN_BLOB_SCHEDULES,
    MAINNET_BLOB_SCHEDULE,
    PRAGUE_BLOB_UPDATE_FRACTION,
    SEPOLIA_BLOB_SCHEDULE,
)
from opfleet.protocol.l1_chain_config import (
    BLOB_FORKS,
    DEFAULT_BLOB_CONFIGS,
    BlobConfig,
    L1ChainConfig,
    known_l1_schedule,
)

SOURCE = "l1.json"

# Sepolia's chain config as geth prints it (params.SepoliaChainConfig), trimmed of nothing we need.
SEPOLIA = {
    "chainId": 11155111,
    "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0, "byzantiumBlock": 0,
    "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0, "muirGlacierBlock": 0,
    "berlinBlock": 0, "londonBlock": 0, "mergeNetsplitBlock": 1735371,
    "terminalTotalDifficulty": 17000000000000000,
    "shanghaiTime": 1677557088, "cancunTime": 1706655072, "pragueTime": 1741159776,
    "osakaTime": 1760427360, "bpo1Time": 1761017184, "bpo2Time": 1761607008,
    "depositContractAddress": "0x7f02c3e3c98b133055b8b348b2ac625669ed295d",
    "ethash": {},
    "blobSchedule": {
        "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477},
        "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
        "osaka": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
        "bpo1": {"target": 10, "max": 15, "baseFeeUpdateFraction": 8346193},
        "bpo2": {"target": 14, "max": 21, "baseFeeUpdateFraction": 11684671},
    },
}


def devnet(**changes) -> dict:
    """A devnet L1: chain 900, Cancun and Prague at genesis, Osaka at 1000, BPO1 at 2000."""
    obj = {
        "chainId": 900, "londonBlock": 0, "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0,
        "osakaTime": 1000, "bpo1Time": 2000,
        "blobSchedule": {fork: DEFAULT_BLOB_CONFIGS[fork].to_json() for fork in ("cancun", "prague", "osaka", "bpo1")},
    }
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def parse(obj) -> L1ChainConfig:
    return L1ChainConfig.from_json_text(json.dumps(obj), source=SOURCE)


def refused(obj_or_text, *, key: str | None, match: str) -> ConfigError:
    text = obj_or_text if isinstance(obj_or_text, (str, bytes)) else json.dumps(obj_or_text)
    with pytest.raises(ConfigError) as caught:
        L1ChainConfig.from_json_text(text, source=SOURCE)
    message = str(caught.value)
    assert message.startswith(SOURCE), message
    assert "\n" not in message
    if key is not None:
        assert f"key {key!r}" in message, message
    assert match in message, message
    return caught.value


# --- the two accepted forms ----------------------------------------------------------------------


def test_a_geth_chain_config_gives_its_chain_id_and_fractions_by_time() -> None:
    config = parse(SEPOLIA)
    assert config.chain_id == 11155111 and config.has_blob_schedule and not config.optimism
    assert [fork for fork, _ in config.fork_times] == ["cancun", "prague", "osaka", "bpo1", "bpo2"]
    schedule = config.blob_schedule
    assert schedule is not None
    for time, fraction in [
        (1706655072 - 1, CANCUN_BLOB_UPDATE_FRACTION),
        (1706655072, CANCUN_BLOB_UPDATE_FRACTION),
        (1741159776, PRAGUE_BLOB_UPDATE_FRACTION),
        (1760427360, PRAGUE_BLOB_UPDATE_FRACTION),  # Osaka keeps Prague's parameters
        (1761017184 - 1, PRAGUE_BLOB_UPDATE_FRACTION),
        (1761017184, BPO1_BLOB_UPDATE_FRACTION),
        (1761607008, BPO2_BLOB_UPDATE_FRACTION),
        (2**63, BPO2_BLOB_UPDATE_FRACTION),
    ]:
        assert schedule.update_fraction(time) == fraction, time
        # ... the same as the built-in Sepolia schedule, which op-node uses instead of any file
        assert SEPOLIA_BLOB_SCHEDULE.update_fraction(time) == fraction, time


def test_a_genesis_file_carries_the_chain_config_under_config() -> None:
    genesis = {"config": SEPOLIA, "nonce": "0x0", "timestamp": "0x0", "gasLimit": "0x1c9c380",
               "difficulty": "0x0", "alloc": {}}
    assert parse(genesis) == parse(SEPOLIA)


def test_errors_in_a_genesis_file_name_the_key_under_config() -> None:
    bad = devnet(blobSchedule={"cancun": {"target": 3}})
    refused({"config": bad, "alloc": {}}, key="config.blobSchedule.cancun.baseFeeUpdateFraction",
            match="missing required key")
    genesis = parse({"config": devnet(blobSchedule=None), "alloc": {}})
    with pytest.raises(ConfigError, match="key 'config.blobSchedule'"):
        genesis.blob_schedule_for(900, source=SOURCE)
    with pytest.raises(ConfigError, match="key 'config.chainId'"):
        genesis.blob_schedule_for(1, source=SOURCE)


def test_bpo_forks_and_values_not_known_to_mainnet_come_from_the_file() -> None:
    custom = BlobConfig(48, 72, 40_000_000)
    obj = devnet(bpo2Time=3000, bpo3Time=3000, bpo5Time=4000,
                 blobSchedule={**devnet()["blobSchedule"], "bpo2": custom.to_json(), "bpo3": custom.to_json(),
                               "bpo5": {"baseFeeUpdateFraction": 77}, "verkle": {"baseFeeUpdateFraction": 1}})
    schedule = parse(obj).blob_schedule
    assert schedule is not None
    assert schedule.update_fraction(0) == PRAGUE_BLOB_UPDATE_FRACTION  # Cancun and Prague both at 0
    assert schedule.update_fraction(999) == PRAGUE_BLOB_UPDATE_FRACTION
    assert schedule.update_fraction(2000) == BPO1_BLOB_UPDATE_FRACTION
    assert schedule.update_fraction(3000) == 40_000_000  # BPO2 and BPO3 together: the later wins
    assert schedule.update_fraction(4000) == 77  # target and max may be left out, as in geth's JSON


def test_amsterdam_is_a_blob_fork_too() -> None:
    obj = devnet(amsterdamTime=5000, blobSchedule={**devnet()["blobSchedule"],
                                                   "amsterdam": {"target": 1, "max": 2, "baseFeeUpdateFraction": 99}})
    assert parse(obj).blob_schedule.update_fraction(5000) == 99
    assert BLOB_FORKS[-1] == "amsterdam"


def test_unscheduled_entries_and_other_keys_are_ignored() -> None:
    obj = devnet(osakaTime=None, bpo1Time=None, someFutureField={"x": 1}, clique={"period": 0, "epoch": 30000})
    config = parse(obj)
    assert [fork for fork, _ in config.fork_times] == ["cancun", "prague"]
    assert config.blob_schedule.update_fraction(10**9) == PRAGUE_BLOB_UPDATE_FRACTION


def test_without_a_blob_schedule_the_config_still_parses_but_has_none() -> None:
    config = parse(devnet(blobSchedule=None))
    assert not config.has_blob_schedule and config.blob_schedule is None
    with pytest.raises(ConfigError, match="no blob schedule") as caught:
        config.blob_schedule_for(900, source=SOURCE)
    assert "key 'blobSchedule'" in str(caught.value)


def test_an_op_stack_l1_may_go_without_a_blob_schedule_as_in_op_node() -> None:
    config = parse(devnet(blobSchedule=None, optimism={"eip1559Elasticity": 6, "eip1559Denominator": 50}))
    assert config.optimism
    assert config.blob_schedule_for(900) is None


def test_the_chain_id_must_be_the_rollup_configs_l1_chain_id() -> None:
    config = parse(devnet())
    assert config.blob_schedule_for(900) == config.blob_schedule
    with pytest.raises(ConfigError) as caught:
        config.blob_schedule_for(901, source=SOURCE)
    assert "chain 900" in str(caught.value) and "l1_chain_id is 901" in str(caught.value)
    assert "key 'chainId'" in str(caught.value)


def test_round_trip_of_what_a_devnet_writes() -> None:
    for fork in ("cancun", "prague", "osaka", "bpo1", "bpo2"):
        config = L1ChainConfig.at_genesis(900, fork)
        assert parse(config.to_json()) == config
        assert config.blob_schedule.update_fraction(0) == DEFAULT_BLOB_CONFIGS[fork].update_fraction
    written = L1ChainConfig.at_genesis(900, "prague").to_json()
    assert written["cancunTime"] == written["pragueTime"] == 0 and "osakaTime" not in written
    assert written["blobSchedule"]["prague"] == {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716}
    with pytest.raises(ValueError):
        L1ChainConfig.at_genesis(900, "london")


def test_the_known_l1s_are_the_four_op_node_builds_in() -> None:
    assert set(KNOWN_BLOB_SCHEDULES) == {1, 11155111, 17000, 560048}
    assert known_l1_schedule(1) is MAINNET_BLOB_SCHEDULE
    assert known_l1_schedule(900) is None
    # Holesky and Hoodi (geth params.HoleskyChainConfig / HoodiChainConfig): BPO2 in force now.
    assert known_l1_schedule(17000).update_fraction(1760389824) == BPO2_BLOB_UPDATE_FRACTION
    assert known_l1_schedule(17000).update_fraction(1760389823) == BPO1_BLOB_UPDATE_FRACTION
    assert known_l1_schedule(560048).update_fraction(1742999831) == CANCUN_BLOB_UPDATE_FRACTION
    assert known_l1_schedule(560048).update_fraction(1762955544) == BPO2_BLOB_UPDATE_FRACTION


# --- bad input, every kind: one line naming the file and the key ------------------------------


@pytest.mark.parametrize("text, match", [
    ("", "invalid JSON"),
    ("{", "invalid JSON"),
    ("not json at all", "line 1, column 1"),
    ('{"chainId": 900,}', "invalid JSON"),
    ('{"chainId": NaN}', "NaN is not a JSON number"),
    ('{"chainId": Infinity}', "Infinity is not a JSON number"),
    ('{"chainId": ' + "9" * 5000 + "}", "too many digits"),
    ("[" * 100_000, "invalid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_garbage_is_refused_with_the_file_named(text, match) -> None:
    refused(text, key=None, match=match)


@pytest.mark.parametrize("value, match", [
    ([1, 2], "expected a JSON object"),
    ("chain", "expected a JSON object"),
    (None, "expected a JSON object"),
    ({}, "missing required key"),
    ({"alloc": {}}, "missing required key"),
])
def test_neither_a_chain_config_nor_a_genesis_file(value, match) -> None:
    refused(json.dumps(value), key=None, match=match)


@pytest.mark.parametrize("chain_id, match", [
    (0, "positive"), (-1, "positive"), (2**256, "positive"), ("900", "string '900'"), ("0x384", "string"),
    (900.0, "number 900.0"), (True, "boolean true"), (None, "nothing"),
])
def test_a_bad_chain_id(chain_id, match) -> None:
    refused(devnet(chainId=chain_id) if chain_id is not None else {**devnet(), "chainId": None},
            key="chainId", match=match)


@pytest.mark.parametrize("value, match", [
    (-1, "out of range"), (2**64, "out of range"), (1.5, "expected a JSON integer"), ("0", "expected a JSON integer"),
    (False, "expected a JSON integer"), ({"t": 0}, "expected a JSON integer"),
])
def test_a_bad_fork_time(value, match) -> None:
    refused(devnet(osakaTime=value), key="osakaTime", match=match)


def test_a_fork_time_without_a_schedule_entry() -> None:
    schedule = devnet()["blobSchedule"]
    del schedule["osaka"]
    refused(devnet(blobSchedule=schedule), key="blobSchedule.osaka", match="no entry for it")
    refused(devnet(blobSchedule={}), key="blobSchedule.cancun", match="no entry for it")


@pytest.mark.parametrize("entry, key, match", [
    ({"target": 3, "max": 6}, "baseFeeUpdateFraction", "missing required key"),
    ({"baseFeeUpdateFraction": None}, "baseFeeUpdateFraction", "got null"),
    ({"baseFeeUpdateFraction": 0}, "baseFeeUpdateFraction", "non-zero"),
    ({"baseFeeUpdateFraction": -5}, "baseFeeUpdateFraction", "out of range"),
    ({"baseFeeUpdateFraction": 2**64}, "baseFeeUpdateFraction", "out of range"),
    ({"baseFeeUpdateFraction": "5007716"}, "baseFeeUpdateFraction", "expected a JSON integer"),
    ({"baseFeeUpdateFraction": 5007716.0}, "baseFeeUpdateFraction", "expected a JSON integer"),
    ({"baseFeeUpdateFraction": 1, "target": -1}, "target", "out of range"),
    ({"baseFeeUpdateFraction": 1, "max": 2**40}, "max", "out of range"),
    ({"baseFeeUpdateFraction": 1, "max": "9"}, "max", "expected a JSON integer"),
])
def test_a_bad_schedule_entry(entry, key, match) -> None:
    schedule = {**devnet()["blobSchedule"], "prague": entry}
    refused(devnet(blobSchedule=schedule), key=f"blobSchedule.prague.{key}", match=match)


def test_a_schedule_or_entry_that_is_not_an_object() -> None:
    refused(devnet(blobSchedule=[1, 2]), key="blobSchedule", match="expected a JSON object")
    refused(devnet(blobSchedule={**devnet()["blobSchedule"], "bpo1": 8346193}), key="blobSchedule.bpo1",
            match="expected a JSON object")


def test_an_unknown_fork_in_the_schedule_is_refused_rather_than_priced_wrong() -> None:
    refused(devnet(blobSchedule={**devnet()["blobSchedule"], "bpo6": {"baseFeeUpdateFraction": 1}}),
            key="blobSchedule.bpo6", match="unknown fork 'bpo6'")


def test_forks_out_of_order_are_refused() -> None:
    refused(devnet(bpo1Time=500), key="bpo1Time", match="before osaka at 1000")
    refused(devnet(cancunTime=None), key="pragueTime", match="cancunTime is not")
    refused(devnet(osakaTime=None), key="bpo1Time", match="osakaTime is not")
    # a BPO fork may be skipped, as in geth
    obj = devnet(bpo1Time=None, bpo2Time=3000, blobSchedule={**devnet()["blobSchedule"],
                                                             "bpo2": DEFAULT_BLOB_CONFIGS["bpo2"].to_json()})
    assert parse(obj).blob_schedule.update_fraction(3000) == BPO2_BLOB_UPDATE_FRACTION


# --- the L1-info deposit priced with a file's schedule ---------------------------------------------


@pytest.mark.parametrize("l1_time, fraction", [
    (500, PRAGUE_BLOB_UPDATE_FRACTION),  # Cancun and Prague from genesis: Prague's
    (1000, PRAGUE_BLOB_UPDATE_FRACTION),  # Osaka keeps Prague's parameters
    (1999, PRAGUE_BLOB_UPDATE_FRACTION),
    (2000, BPO1_BLOB_UPDATE_FRACTION),
    (10**9, BPO1_BLOB_UPDATE_FRACTION),
])
def test_the_l1_info_blob_base_fee_uses_the_fork_active_at_the_l1_origin(l1_time, fraction) -> None:
    from opfleet.protocol.l1_block_info import (
        L1OriginHeader,
        decode_l1_block_info,
        fake_exponential,
        l1_info_deposit,
    )
    from opfleet.protocol.system_config import SystemConfig, encode_scalar
    from opfleet.testing.derive import FakeL1Chain, make_rollup_config

    rollup = make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0, fjord_time=0,
                                granite_time=0, holocene_time=0, isthmus_time=0)
    assert rollup.l1_chain_id == 900
    schedule = parse(devnet()).blob_schedule_for(rollup.l1_chain_id, source=SOURCE)
    excess = 50_000_000
    header = L1OriginHeader(7, l1_time, 10**9, b"\x01" * 32, excess)
    system = SystemConfig(batcher_address=b"\x02" * 20, scalar=encode_scalar(0, 1000), gas_limit=30_000_000)
    deposit = l1_info_deposit(rollup, system, header, 0, l1_time + 2, blob_schedule=schedule)
    info = decode_l1_block_info(deposit.data)
    assert info.layout == "isthmus"
    assert info.blob_base_fee == fake_exponential(1, excess, fraction)
    assert fake_exponential(1, excess, fraction) > 1  # the fraction matters at this excess

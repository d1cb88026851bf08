"""``opfleet devnet --fork NAME=+DURATION|NAME=off`` and ``--keep-karst-upgrade-gas``: the schedule
(offsets from the devnet's start; a later fork implies every earlier one, as op-node's
rollup config), the one-line refusal of an impossible schedule (exit status 3), and what reaches
the fleet's config."""

from __future__ import annotations

import pytest

from opfleet.cli.exit import ExitStatus
from opfleet.devnet.engine import FORK_NAMES, ForkTimes
from opfleet.devnet.fleet import FleetConfig
from opfleet.devnet.schedule import DEFAULT_FORKS, describe_schedule, parse_fork_schedule
from opfleet.errors import ConfigError


def offsets(schedule: ForkTimes) -> dict[str, int | None]:
    return {name: getattr(schedule, name) for name in FORK_NAMES}


def test_default_is_every_fork_at_genesis():
    assert parse_fork_schedule([]) == DEFAULT_FORKS == ForkTimes.up_to("karst") == FleetConfig().forks
    assert describe_schedule(DEFAULT_FORKS, 2) == []


def test_a_named_fork_moves_and_later_forks_follow():
    karst = parse_fork_schedule(["karst=+60s"])
    assert offsets(karst) == {**offsets(DEFAULT_FORKS), "karst": 60}
    assert describe_schedule(karst, 2) == ["karst +60s (L2 block 30)"]
    jovian = parse_fork_schedule(["jovian=+1m30s"])  # Karst implies Jovian: it follows
    assert (jovian.isthmus, jovian.jovian, jovian.karst) == (0, 90, 90)
    both = parse_fork_schedule(["isthmus=+10s,karst=+40s"])  # comma lists too
    assert (both.holocene, both.isthmus, both.jovian, both.karst) == (0, 10, 10, 40)
    assert parse_fork_schedule(["karst=+500ms"]).karst == 1  # whole seconds, rounded up
    assert parse_fork_schedule(["KARST=+5s", "karst=+5s"]).karst == 5  # the same twice is fine


def test_off_switches_later_forks_off_too():
    off = parse_fork_schedule(["jovian=off"])
    assert (off.isthmus, off.jovian, off.karst) == (0, None, None)
    assert describe_schedule(off, 2) == ["jovian off", "karst off"]
    assert parse_fork_schedule(["karst=off"]) == ForkTimes.up_to("jovian")


@pytest.mark.parametrize(("items", "message"), [
    (["karst=+30s", "jovian=+60s"], "--fork: karst=+30s comes before jovian=+60s (a fork implies every earlier one)"),
    (["jovian=off", "karst=+5s"], "--fork: karst=+5s needs jovian, which is off (a fork implies every earlier one)"),
    (["karst=+1s", "karst=+2s"], "--fork: karst is scheduled twice (karst=+1s and karst=+2s)"),
    (["karst=60s"], "--fork: 'karst=60s': a fork time is relative to the devnet's start, e.g. karst=+60s"),
    (["karst=+soon"], "--fork: 'karst=+soon': 'soon' is not a duration (e.g. 60s, 1m30s)"),
    (["lagoon=+5s"], "--fork: unknown fork 'lagoon' (forks: " + ", ".join(FORK_NAMES) + ")"),
    (["karst"], "--fork: expected NAME=+DURATION or NAME=off, got 'karst'"),
])
def test_an_impossible_or_malformed_schedule_is_one_line(items, message):
    with pytest.raises(ConfigError) as caught:
        parse_fork_schedule(items)
    assert str(caught.value) == message


def test_shifted_turns_offsets_into_timestamps():
    schedule = parse_fork_schedule(["jovian=+10s", "karst=off"])
    shifted = schedule.shifted(1_700_000_000)
    assert (shifted.isthmus, shifted.jovian, shifted.karst) == (1_700_000_000, 1_700_000_010, None)
    assert shifted.is_jovian(1_700_000_010) and not shifted.is_jovian(1_700_000_009)


def test_interop_runs_every_fork_from_genesis():
    assert FleetConfig(interop=True).forks == DEFAULT_FORKS
    with pytest.raises(ConfigError, match="--interop runs every fork from genesis"):
        FleetConfig(interop=True, forks=parse_fork_schedule(["karst=+60s"]))


@pytest.fixture
def captured(monkeypatch):
    """Run ``opfleet devnet`` up to the point it would start the fleet; the FleetConfig it built."""
    import opfleet.cli.daemon

    seen = []

    def run_daemon(fn):
        seen.append(fn.args[0])
        return ExitStatus.OK

    monkeypatch.setattr(opfleet.cli.daemon, "run_daemon", run_daemon)
    return seen


def test_cli_flags_reach_the_fleet_config(cli, captured, tmp_path):
    data_dir = str(tmp_path / "devnet")
    result = cli(["devnet", "--data-dir", data_dir, "--fork", "karst=+60s", "--keep-karst-upgrade-gas"])
    assert result.status == ExitStatus.OK, result.stderr
    (config,) = captured
    assert config.forks == parse_fork_schedule(["karst=+60s"]) and config.keep_karst_upgrade_gas
    result = cli(["devnet", "--data-dir", data_dir], env={"OPFLEET_FORK": "jovian=+30s,karst=+60s"})
    assert result.status == ExitStatus.OK, result.stderr
    assert (captured[1].forks.jovian, captured[1].forks.karst) == (30, 60)
    assert not captured[1].keep_karst_upgrade_gas
    assert cli(["devnet", "--data-dir", data_dir]).status == ExitStatus.OK
    assert captured[2].forks == DEFAULT_FORKS


@pytest.mark.parametrize(("argv", "line"), [
    (["--fork", "karst=+30s", "--fork", "jovian=+60s"],
     "opfleet: error: --fork: karst=+30s comes before jovian=+60s (a fork implies every earlier one)"),
    (["--interop", "--fork", "karst=+30s"],
     "opfleet: error: --fork: --interop runs every fork from genesis; drop --fork or --interop"),
])
def test_cli_refuses_an_impossible_schedule_with_exit_3(cli, captured, tmp_path, argv, line):
    result = cli(["devnet", "--data-dir", str(tmp_path / "devnet"), *argv])
    assert result.status == ExitStatus.CONFIG == 3
    assert result.stderr.strip().splitlines() == [line]
    assert captured == []


def test_fork_times_follow_the_rollup_configs_activation_rule():
    """A devnet schedule answers "is this fork active" exactly as a rollup config with those
    times does, including a fork that is off but implied by a later one."""
    from opfleet.devnet.rollup import devnet_rollup_config
    from opfleet.devnet.engine import DevEngine
    from opfleet.devnet.l1 import L1Chain

    schedule = ForkTimes(regolith=0, canyon=10, delta=None, ecotone=30, fjord=None, granite=40, holocene=None,
                         isthmus=35, jovian=None, karst=100)
    engine = DevEngine(genesis_time=0, forks=schedule)
    rollup = devnet_rollup_config(L1Chain(), engine, batcher=b"\x11" * 20)
    for name in FORK_NAMES:
        for ts in (0, 9, 10, 29, 30, 34, 35, 39, 40, 99, 100, 10**6):
            assert schedule.is_active(name, ts) == rollup.is_active(name, ts), (name, ts)
    assert schedule.activation("delta") == 30  # off itself; Ecotone implies it
    assert schedule.activation("fjord") == 35  # Isthmus, before Granite's 40
    assert schedule.activation("jovian") == 100
    assert not schedule.is_active("holocene", 34) and schedule.is_active("holocene", 35)
    assert ForkTimes.up_to("isthmus").activation("jovian") is None
    with pytest.raises(ValueError):
        schedule.is_active("bogus", 0)

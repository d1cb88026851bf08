"""Fleet monitoring: one engine that polls every node, shared by ``opfleet status`` and ``opfleet tui``.

- :mod:`opfleet.monitor.model`: the frozen snapshots (and the ``status --json`` schema).
- :mod:`opfleet.monitor.analysis`: pure derivations (lag, divergence, stalls, tier health).
- :mod:`opfleet.monitor.engine`: :class:`FleetMonitor`, the trio poller.
- :mod:`opfleet.monitor.fleet`: fleet profiles (TOML) and discovery.
"""

from opfleet.monitor.model import (
    HEADS as HEADS,
    SCHEMA_VERSION as SCHEMA_VERSION,
    Alarm as Alarm,
    AlarmKind as AlarmKind,
    Divergence as Divergence,
    FleetSnapshot as FleetSnapshot,
    HeadChange as HeadChange,
    HistoryPoint as HistoryPoint,
    Lag as Lag,
    NodeSnapshot as NodeSnapshot,
    NodeSpec as NodeSpec,
    Role as Role,
    Verdict as Verdict,
)
from opfleet.monitor.analysis import Thresholds as Thresholds
from opfleet.monitor.engine import FleetMonitor as FleetMonitor, MonitorStatistics as MonitorStatistics

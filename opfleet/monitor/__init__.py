"""Fleet monitoring: one engine that polls every node, shared by ``opfleet status`` and ``opfleet tui``.

- :mod:`opfleet.monitor.model`: the frozen snapshots (and the ``status --json`` schema).
- :mod:`opfleet.monitor.analysis`: pure derivations (lag, divergence, stalls, tier health).
- :mod:`opfleet.monitor.engine`: :class:`FleetMonitor`, the trio poller.
- :mod:`opfleet.monitor.fleet`: fleet profiles (TOML) and discovery.
"""

from opfleet.monitor.analysis import Thresholds as Thresholds
from opfleet.monitor.engine import FleetMonitor as FleetMonitor
from opfleet.monitor.engine import MonitorStatistics as MonitorStatistics
from opfleet.monitor.model import (
    HEADS as HEADS,
)
from opfleet.monitor.model import (
    SCHEMA_VERSION as SCHEMA_VERSION,
)
from opfleet.monitor.model import (
    Alarm as Alarm,
)
from opfleet.monitor.model import (
    AlarmKind as AlarmKind,
)
from opfleet.monitor.model import (
    Divergence as Divergence,
)
from opfleet.monitor.model import (
    FleetSnapshot as FleetSnapshot,
)
from opfleet.monitor.model import (
    HeadChange as HeadChange,
)
from opfleet.monitor.model import (
    HistoryPoint as HistoryPoint,
)
from opfleet.monitor.model import (
    Lag as Lag,
)
from opfleet.monitor.model import (
    NodeSnapshot as NodeSnapshot,
)
from opfleet.monitor.model import (
    NodeSpec as NodeSpec,
)
from opfleet.monitor.model import (
    Role as Role,
)
from opfleet.monitor.model import (
    Verdict as Verdict,
)

"""``opfleet tui``: the Textual fleet view (issue 7), drawn from the one monitor engine.

- :class:`FleetApp`: the app (fleet table, divergence banner, sparklines, detail and help screens);
- :class:`TrioGuest`: hosts the trio :class:`~opfleet.monitor.engine.FleetMonitor` in Textual's
  asyncio loop (trio guest mode);
- :func:`demo_fleet`: a deterministic made-up fleet (snapshot tests, README capture, bench).

Styles live in ``opfleet.tcss`` next to this file (package data).
"""

from opfleet.monitor.tui._app import INTERVALS as INTERVALS
from opfleet.monitor.tui._app import FleetApp as FleetApp
from opfleet.monitor.tui._demo import DEMO_TIME as DEMO_TIME
from opfleet.monitor.tui._demo import demo_fleet as demo_fleet
from opfleet.monitor.tui._guest import TrioGuest as TrioGuest

__all__ = ["DEMO_TIME", "INTERVALS", "FleetApp", "TrioGuest", "demo_fleet"]

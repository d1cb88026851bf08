"""Shipped alerting assets: Prometheus rules and a Grafana dashboard for a specialized fleet.

``RULES`` (``opfleet-rules.yml``) and ``DASHBOARD`` (``grafana-dashboard.json``) use op-node's
and opfleet's metric names (op-node ``op-node/metrics/metrics.go``,
``op-service/metrics/ref_metrics.go``); copy them into the Prometheus rules directory and import
the dashboard into Grafana.
"""

from pathlib import Path

RULES = Path(__file__).with_name("opfleet-rules.yml")
DASHBOARD = Path(__file__).with_name("grafana-dashboard.json")

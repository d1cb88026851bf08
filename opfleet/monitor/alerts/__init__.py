"""Shipped alerting assets: Prometheus rules and a Grafana dashboard for a specialized fleet.

``RULES`` (``opfleet-rules.yml``) and ``DASHBOARD`` (``grafana-dashboard.json``) use op-node's
and opfleet's metric names (op-node ``op-node/metrics/metrics.go``,
``op-service/metrics/ref_metrics.go``); copy them into the Prometheus rules directory and import
the dashboard into Grafana.
"""

from pathlib import Path

RULES = Path(__file__).with_name("opfleet-rules.yml")
DASHBOARD = Path(__file__).with_name("grafana-dashboard.json")


def parse_rules(text: str) -> dict:
    """The shipped rules file as data. It is written in a plain YAML subset (block maps and lists,
    plain or single-quoted scalars, ``#`` comment lines) so no YAML library is needed; anything
    outside that subset is a ValueError naming the line."""
    lines = [(i + 1, len(raw) - len(raw.lstrip(" ")), raw.strip()) for i, raw in enumerate(text.splitlines())
             if raw.strip() and not raw.lstrip().startswith("#")]
    pos = 0

    def scalar(value: str, number: int) -> str:
        if value.startswith("'"):
            if len(value) < 2 or not value.endswith("'"):
                raise ValueError(f"line {number}: unterminated quoted scalar")
            return value[1:-1].replace("''", "'")
        if value.startswith(('"', "|", ">", "&", "*", "{", "[", "!")):
            raise ValueError(f"line {number}: outside the plain YAML subset: {value[:20]}")
        return value

    def block(indent: int) -> object:
        nonlocal pos
        if lines[pos][2].startswith("- "):
            items = []
            while pos < len(lines) and lines[pos][1] == indent and lines[pos][2].startswith("- "):
                number, _, rest = lines[pos]
                lines[pos] = (number, indent + 2, rest[2:])  # a list item is a map opened after "- "
                items.append(block(indent + 2))
            return items
        out: dict[str, object] = {}
        while pos < len(lines) and lines[pos][1] == indent and not lines[pos][2].startswith("- "):
            number, _, content = lines[pos]
            key, colon, rest = content.partition(":")
            if not colon or not key or key in out:
                raise ValueError(f"line {number}: expected a new 'key: value'")
            pos += 1
            rest = rest.strip()
            if rest:
                out[key] = scalar(rest, number)
            elif pos < len(lines) and lines[pos][1] > indent:
                out[key] = block(lines[pos][1])
            else:
                raise ValueError(f"line {number}: {key} has no value")
        return out

    if not lines:
        raise ValueError("no rules")
    document = block(0)
    if pos != len(lines):
        raise ValueError(f"line {lines[pos][0]}: unexpected indentation")
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise ValueError("no 'groups' list at the top")
    return document


def load_rules() -> dict:
    """The shipped Prometheus rules (:data:`RULES`) as data: ``{"groups": [...]}``."""
    return parse_rules(RULES.read_text(encoding="utf-8"))

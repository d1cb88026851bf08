"""Start-up time of `opfleet --help` (target: median < 150 ms). Prints JSON.

Each run is a fresh interpreter, as an operator's shell would start it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

RUNS = 15


def measure(argv: list[str]) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    python_floor = measure([sys.executable, "-c", "pass"])
    help_times = measure([sys.executable, "-m", "opfleet", "--help"])
    result = {
        "benchmark": "startup",
        "command": "python -m opfleet --help",
        "runs": RUNS,
        "median_seconds": round(statistics.median(help_times), 4),
        "p90_seconds": round(sorted(help_times)[int(RUNS * 0.9) - 1], 4),
        "python_only_median_seconds": round(statistics.median(python_floor), 4),
        "target_seconds": 0.150,
    }
    result["meets_target"] = result["median_seconds"] < result["target_seconds"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""opfleet proxy: latency it adds to ``optimism_syncStatus``, and how hard it polls its backends.

The servers run in this process on 127.0.0.1: three fake op-node backends (the tests' loopback
fakes, ``tests/proxy/fakes.py``) and one :class:`opfleet.proxy.Proxy` in front of them with
proxyd's default poller interval (1 s). The clients run in a **separate process** (this script
with ``--client``), so their own work does not share the servers' event loop: 1, 50 and 500
clients, each on its own keep-alive connection, each sending ``optimism_syncStatus`` every
``--period`` seconds (a light node polls every 2 x block time; 0.5 s is several times that rate
for 2 s blocks) from a random phase, for ``--seconds``.

The same clients then ask one backend directly. **Added latency** is the proxy's figure minus the
direct one at the same percentile: what putting the proxy in the path costs (proxyd serves this
method from its cache; the target is < 2 ms median on loopback, flat in the number of clients).
Also printed: backend requests per second (peer count, status and output root per backend per
cycle), from the proxy's statistics.

    .venv/bin/python bench/proxy.py [--clients 1,50,500] [--seconds 10] [--period 0.5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "proxy"))

REQUEST = b'{"jsonrpc":"2.0","id":1,"method":"optimism_syncStatus","params":[]}'


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --- the client process ------------------------------------------------------------------------


async def _one_client(port: int, period: float, until: float, out: list[float], errors: list[int]) -> None:
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(REQUEST)}\r\n\r\n").encode() + REQUEST
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await trio.sleep(random.random() * period)
        buffer = b""
        warm_until = trio.current_time() + period  # the first round opens connections: not counted
        while trio.current_time() < until:
            started = trio.current_time()
            await stream.send_all(head)
            while True:  # read one response: headers, then Content-Length bytes
                end = buffer.find(b"\r\n\r\n")
                if end >= 0:
                    headers = buffer[:end].decode("latin-1").lower()
                    length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
                    if len(buffer) >= end + 4 + length:
                        body = buffer[end + 4:end + 4 + length]
                        buffer = buffer[end + 4 + length:]
                        break
                data = await stream.receive_some(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                buffer += data
            elapsed = trio.current_time() - started
            if b'"result"' not in body:
                errors.append(1)
            elif started >= warm_until:
                out.append(elapsed)
            await trio.sleep(max(0.0, period - elapsed))


async def _clients(port: int, clients: int, seconds: float, period: float) -> dict[str, Any]:
    out: list[float] = []
    errors: list[int] = []
    until = trio.current_time() + seconds
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(_one_client, port, period, until, out, errors)
    return {"latencies": out, "errors": len(errors)}


def client_main(port: int, clients: int, seconds: float, period: float) -> None:
    result = trio.run(_clients, port, clients, seconds, period)
    json.dump(result, sys.stdout)


# --- the server process ------------------------------------------------------------------------


async def _measure(port: int, clients: int, seconds: float, period: float) -> dict[str, Any]:
    process = await trio.run_process(
        [sys.executable, __file__, "--client", str(port), str(clients), str(seconds), str(period)],
        capture_stdout=True, check=True)
    return json.loads(process.stdout)


def _summary(latencies: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies]
    return {"median": round(statistics.median(ms), 3), "p99": round(_percentile(ms, 0.99), 3), "requests": len(ms)}


async def run(levels: list[int], seconds: float, period: float) -> dict[str, Any]:
    from fakes import FakeBackend, cl_config, serve_backends

    from opfleet.proxy import Proxy

    backends = [FakeBackend(f"node{i}", time.time) for i in (1, 2, 3)]
    results: dict[str, Any] = {}
    async with serve_backends(*backends):
        proxy = Proxy(cl_config(backends))  # proxyd's defaults: 1 s poller interval
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.run)
            while proxy.poller.sync_status_body() is None:
                await trio.sleep(0.05)
            direct_port = int(backends[0].url.rsplit(":", 1)[1])
            polls_before, t0 = proxy.statistics().backend_requests, trio.current_time()
            for clients in levels:
                via_proxy = await _measure(proxy.rpc_port, clients, seconds, period)
                direct = await _measure(direct_port, clients, seconds, period)
                p, d = _summary(via_proxy["latencies"]), _summary(direct["latencies"])
                results[str(clients)] = {
                    "proxy_ms": p, "direct_ms": d,
                    "added_ms": {"median": round(p["median"] - d["median"], 3), "p99": round(p["p99"] - d["p99"], 3)},
                    "errors": via_proxy["errors"] + direct["errors"],
                }
            elapsed = trio.current_time() - t0
            polls = proxy.statistics().backend_requests - polls_before
            nursery.cancel_scope.cancel()
    return {
        "bench": "proxy",
        "optimism_syncStatus": results,
        "clients_period_s": period,
        "backend_requests_per_s": round(polls / elapsed, 2),
        "backend_requests_per_s_per_backend": round(polls / elapsed / len(backends), 2),
        "poller_interval_s": 1.0,
        "target": "added median < 2 ms, flat in clients",
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        port, clients, seconds, period = sys.argv[2:6]
        client_main(int(port), int(clients), float(seconds), float(period))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,50,500")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--period", type=float, default=0.5)
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",") if x]
    print(json.dumps(trio.run(run, levels, args.seconds, args.period), indent=2))


if __name__ == "__main__":
    main()

"""What ``opfleet devnet`` prints when it stops on its own (``--duration``, or ``q`` in the TUI):
blocks each node sequenced, derived or followed, and per chain whether the nodes have the same
block at the lowest safe head they share. Nodes and execution clients here are small JSON-RPC
servers on 127.0.0.1 answering what the summary asks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import trio

from opfleet.cli.devnet import summary_lines
from opfleet.devnet.fleet import Endpoint


@dataclass
class Answers:
    """A node (``optimism_syncStatus``) or an execution client (``eth_getBlockByNumber``)."""

    unsafe: int = 0
    safe: int = 0
    hashes: dict[int, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def answer(self, method: str, params: list[Any]) -> Any:
        self.calls.append(method)
        if method == "optimism_syncStatus":
            return {"unsafe_l2": {"number": self.unsafe}, "safe_l2": {"number": self.safe}}
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            return {"hash": self.hashes[number], "number": params[0]} if number in self.hashes else None
        raise KeyError(method)


class Servers:
    """One ThreadingHTTPServer per name, answering JSON-RPC from an :class:`Answers`."""

    def __init__(self, answers: dict[str, Answers]):
        self.answers = answers
        self.servers: dict[str, ThreadingHTTPServer] = {}

    def __enter__(self) -> dict[str, str]:
        for name, answers in self.answers.items():
            self.servers[name] = server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answers))
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return {name: f"http://127.0.0.1:{server.server_address[1]}" for name, server in self.servers.items()}

    def __exit__(self, *exc: object) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


def _handler(answers: Answers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                body = {"jsonrpc": "2.0", "id": request["id"],
                        "result": answers.answer(request["method"], request.get("params") or [])}
            except KeyError:
                body = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "no"}}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _devnet(urls: dict[str, str], *, down: tuple[str, ...] = (), interop: bool = False) -> Any:
    endpoints = [Endpoint("l1", "l1", "http://127.0.0.1:1", chain="900")]
    for name, role in (("sequencer", "sequencer"), ("source-1", "source"), ("light-1", "light"),
                       ("light-2", "light")):
        url = "http://127.0.0.1:9" if name in down else urls[name]
        endpoints.append(Endpoint(name, role, url, follows=() if role == "source" else ("source-1",)))
        endpoints.append(Endpoint(f"{name}-el", "engine", urls[f"{name}-el"]))
    return SimpleNamespace(endpoints=endpoints, config=SimpleNamespace(interop=interop), supernode=None)


def _fleet(light_2_hash: str = "aa") -> dict[str, Answers]:
    same = {n: "0x" + f"{n:02x}" * 32 for n in range(1, 30)}
    return {
        "sequencer": Answers(unsafe=20, safe=14), "sequencer-el": Answers(hashes=same),
        "source-1": Answers(unsafe=14, safe=14), "source-1-el": Answers(hashes=same),
        "light-1": Answers(unsafe=20, safe=12), "light-1-el": Answers(hashes=same),
        "light-2": Answers(unsafe=19, safe=14), "light-2-el": Answers(hashes={**same, 12: "0x" + light_2_hash * 32}),
    }


def test_summary_counts_blocks_per_role_and_finds_no_divergence_when_every_el_agrees():
    answers = _fleet(light_2_hash="0c")  # the same block #12 as every other EL
    with Servers(answers) as urls:
        lines = trio.run(summary_lines, _devnet(urls), 60.4)
    text = "\n".join(lines)
    assert lines[0] == "opfleet devnet stopped after 60s:"
    row = {line.split()[0]: line for line in lines[1:5]}
    assert "sequenced" in row["sequencer"] and " 20 blocks" in row["sequencer"]  # its unsafe head
    assert "derived" in row["source-1"] and " 14 blocks" in row["source-1"]  # its safe head
    assert "followed" in row["light-1"] and " 12 blocks" in row["light-1"]
    assert "(unsafe #20, safe #12)" in row["light-1"]
    # compared at the lowest safe head every node has (#12), on each node's execution client
    assert "chain 901: no divergence (4 nodes have the same block #12 0x0c0c0c0c" in text
    assert all(a.calls == ["eth_getBlockByNumber"] for name, a in answers.items() if name.endswith("-el"))


def test_summary_names_the_nodes_of_a_divergence():
    with Servers(_fleet(light_2_hash="dd")) as urls:
        lines = trio.run(summary_lines, _devnet(urls), 10.0)
    divergence = next(line for line in lines if "chain 901" in line)
    assert "DIVERGENCE at safe block #12" in divergence
    assert "sequencer,source-1,light-1 0x0c0c0c0c" in divergence and "light-2 0xdddddddd" in divergence


def test_a_node_that_does_not_answer_is_reported_and_left_out_of_the_comparison():
    with Servers(_fleet()) as urls:
        lines = trio.run(lambda: summary_lines(_devnet(urls, down=("light-1",)), 5.0, timeout=1.0))
    row = next(line for line in lines if line.split()[0] == "light-1")
    assert "no answer" in row
    # without light-1 (safe #12) the lowest shared safe head is #14, where all agree
    assert any("chain 901: no divergence (3 nodes have the same block #14" in line for line in lines)


def test_nothing_to_compare_before_the_first_safe_block():
    answers = _fleet()
    for name in ("sequencer", "source-1", "light-1", "light-2"):
        answers[name].safe = 0
    with Servers(answers) as urls:
        lines = trio.run(summary_lines, _devnet(urls), 3.0)
    assert any("chain 901: no safe block beyond genesis yet" in line for line in lines)

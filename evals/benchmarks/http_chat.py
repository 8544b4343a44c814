"""Chat and retrieval throughput against a real ``lectern serve`` on 127.0.0.1, with the instant test model.

    python -m evals.benchmarks.http_chat [--sessions 50] [--turns 10] [--retrieval-clients 8]
                                         [--tree DIR] [--profile OUT.svg|OUT.txt]

Starts ``lectern serve --demo`` in a fresh home with ``LECTERN_MODEL=test`` (answers
at once by quoting source [1]), so the figures are Lectern's: HTTP, auth, rate
limiting, retrieval, the agent loop, persistence and SSE. Then N concurrent
sessions each send T messages over SSE, and K clients hammer ``/v1/retrieve``.

``cpu_ms_per_turn`` is the server process's CPU time (user + system, all its threads,
from ``/proc/<pid>/stat``) over the measured chat phase divided by its turns: unlike
the latencies it does not depend on how many turns are in flight, so it is the figure
to compare code by. ``--tree`` serves another checkout (e.g. an old commit's worktree)
with this driver, so both sides are measured alike. ``--profile`` samples the server
with py-spy (``pip install py-spy``) during the chat phase: a flame graph for ``.svg``,
py-spy's collapsed stacks for ``.txt``; its sampling costs the server CPU, so take the
CPU figure from a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from ..metrics import percentile
from .servers import start_chroma_server

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "How long is the warranty?", "How do I descale the machine?", "What are the support hours?",
    "When is the European launch?", "How do I return the machine?", "What does error E3 mean?",
    "How much milk goes in the jug?", "What is the launch price?", "Which parts ship within 2 days?",
    "How do I claim under warranty?",
]  # fmt: skip


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds so far of a process and its descendants, all threads (Linux
    ``/proc``): with ``--api-processes N`` the server is uvicorn's supervisor and N children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_s(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def _py_spy(pid: int, out: Path, extra: str) -> subprocess.Popen[bytes]:
    """Sample ``pid`` until stopped (SIGINT writes the file); only running threads, as CPU profiles do."""
    form = "flamegraph" if out.suffix == ".svg" else "raw"
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--output", str(out), "--format", form,
                             "--rate", "200", *extra.split()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _start(home: Path, tree: Path, processes: int = 1, chroma_url: str | None = None) -> tuple[subprocess.Popen[str], str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LECTERN_HOME": str(home), "LECTERN_MODEL": "test", "PYTHONPATH": str(tree),
           "LECTERN_RATE_LIMIT_CHAT": "100000", "LECTERN_RATE_LIMIT_RETRIEVAL": "100000",
           "LECTERN_RATE_LIMIT_LISTING": "100000", "LECTERN_RATE_LIMIT_WRITE": "100000"}  # fmt: skip
    if chroma_url:
        env["LECTERN_CHROMA_URL"] = chroma_url
    workers = ["--workers", str(processes)] if processes > 1 else []
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--demo", "--port", str(port), *workers],
                               cwd=tree, env=env, stdout=subprocess.PIPE, stderr=(home.parent / "server.log").open("w"), text=True)  # fmt: skip
    assert process.stdout is not None
    key = None
    while key is None:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("lectern serve exited")
        found = re.search(r"Admin API key \(shown once\): (\S+)", line)
        key = found.group(1) if found else None
    # Keep draining stdout (uvicorn's access log): a full pipe would block the server.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, base, key


async def _session(http: httpx.AsyncClient, turns: int, offset: int, stats: dict[str, list[float]]) -> None:
    session = (await http.post("/v1/chat/sessions")).json()["session_id"]
    for t in range(turns):
        started = time.perf_counter()
        first_event = first_token = None
        events = 0
        try:
            async with http.stream("POST", f"/v1/chat/sessions/{session}/messages", headers={"Accept": "text/event-stream"},
                                   json={"content": QUESTIONS[(offset + t) % len(QUESTIONS)]}) as response:  # fmt: skip
                if response.status_code != 200:
                    stats["errors"].append(1)
                    continue
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    now = time.perf_counter() - started
                    events += 1
                    first_event = now if first_event is None else first_event
                    if first_token is None and '"type":"token"' in line.replace(" ", ""):
                        first_token = now
                    if '"type":"error"' in line.replace(" ", ""):
                        stats["errors"].append(1)
        except httpx.HTTPError:
            stats["errors"].append(1)
            continue
        stats["first_event"].append((first_event or 0) * 1000)
        stats["first_token"].append((first_token or 0) * 1000)
        stats["turn"].append((time.perf_counter() - started) * 1000)
        stats["events"].append(events)


async def _retrieval(http: httpx.AsyncClient, requests: int, latencies: list[float], errors: list[int]) -> None:
    for i in range(requests):
        started = time.perf_counter()
        response = await http.get("/v1/retrieve", params={"q": QUESTIONS[i % len(QUESTIONS)], "topK": 5})
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            errors.append(1)


async def _run(base: str, key: str, pid: int, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.sessions + 10, max_keepalive_connections=args.sessions + 10)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits) as http:
        warm: dict[str, list[float]] = {"first_event": [], "first_token": [], "turn": [], "events": [], "errors": []}
        await _session(http, 1, 0, warm)  # the server's first turn pays litellm's lazy imports
        print(f"warm-up turn: {warm['turn'][0]:.0f} ms")
        stats: dict[str, list[float]] = {"first_event": [], "first_token": [], "turn": [], "events": [], "errors": []}
        profiler = _py_spy(pid, args.profile, args.profile_args) if args.profile else None
        cpu, started = _cpu_s(pid), time.perf_counter()
        await asyncio.gather(*(_session(http, args.turns, i, stats) for i in range(args.sessions)))
        wall, cpu = time.perf_counter() - started, _cpu_s(pid) - cpu
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            _, err = profiler.communicate(timeout=120)
            print(f"profile: {args.profile}" if args.profile.exists() else f"py-spy failed: {err.decode()[-300:]}")
        turns = len(stats["turn"])
        print(f"chat: {args.sessions} concurrent sessions, {turns} turns in {wall:.1f} s, errors {len(stats['errors'])}")
        for name in ("first_event", "first_token", "turn"):
            print(f"  {name:12} p50 {percentile(stats[name], 0.5):8.1f} ms   p95 {percentile(stats[name], 0.95):8.1f} ms")
        print(f"  {sum(stats['events']) / wall:.0f} SSE events/s, {turns / wall:.1f} turns/s")
        print(f"  cpu_ms_per_turn {cpu * 1000 / max(1, turns):.1f} (server CPU {cpu:.2f} s over {wall:.1f} s)")

        latencies: list[float] = []
        errors: list[int] = []
        cpu, started = _cpu_s(pid), time.perf_counter()
        await asyncio.gather(*(_retrieval(http, args.retrievals, latencies, errors) for _ in range(args.retrieval_clients)))
        wall, cpu = time.perf_counter() - started, _cpu_s(pid) - cpu
        print(f"retrieval: {args.retrieval_clients} clients, {len(latencies)} requests in {wall:.1f} s = "
              f"{len(latencies) / wall:.1f} req/s, p50 {percentile(latencies, 0.5):.1f} ms, "
              f"p95 {percentile(latencies, 0.95):.1f} ms, errors {len(errors)}")  # fmt: skip
        print(f"  cpu_ms_per_request {cpu * 1000 / max(1, len(latencies)):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--retrieval-clients", type=int, default=8)
    parser.add_argument("--retrievals", type=int, default=50, help="requests per retrieval client")
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout whose `lectern serve` is measured")
    parser.add_argument("--profile", type=Path, help="py-spy output of the chat phase (.svg flame graph, else raw)")
    parser.add_argument("--profile-args", default="", help="more py-spy options, e.g. '--gil' (the GIL holder only)")
    parser.add_argument("--api-processes", type=int, default=1,
                        help="`lectern serve --workers N`; above 1 implies --chroma-server")  # fmt: skip
    parser.add_argument("--chroma-server", action="store_true",
                        help="vectors on a `chroma run` server the benchmark starts (for 1 vs N processes alike)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        chroma = start_chroma_server(Path(tmp) / "chroma") if args.chroma_server or args.api_processes > 1 else None
        try:
            url = chroma.url if chroma else None
            process, base, key = _start(Path(tmp) / "home", args.tree.resolve(), args.api_processes, url)
            print(f"api processes: {args.api_processes}; vectors: {url or 'embedded'}")
            try:
                asyncio.run(_run(base, key, process.pid, args))
            finally:
                process.terminate()
                process.wait(timeout=30)
        finally:
            if chroma is not None:
                chroma.stop()


if __name__ == "__main__":
    main()

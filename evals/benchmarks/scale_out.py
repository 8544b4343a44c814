"""Scaling out: ingestion with 1 vs 2 ``lectern worker`` processes, and hybrid search on PostgreSQL vs SQLite.

    python -m evals.benchmarks.scale_out workers [--docs 1000] [--rounds 4] [--out FILE]
    python -m evals.benchmarks.scale_out catalogs [--split train] [--out FILE]

``workers``: every round is a fresh deployment on the scaled engines: a PostgreSQL cluster
(initdb in a temp dir) and a Chroma server, both on free loopback ports. The first ``--docs``
SciFact abstracts are queued as JSONL collection documents (this process never indexes),
then 1 or 2 ``lectern worker`` processes start and the queue is timed until empty. Rounds
run 1, 2, 2, 1, 1, 2, … so both counts see the same machine load, even a drifting one; medians
and the ratio are reported, with the cores each part kept busy (workers, Chroma, PostgreSQL,
and the whole machine, which other work may share). Throughput counts from the first claimed job (the workers' start-up, model
load included, is reported apart: a worker is a long-running process).

``catalogs``: the SciFact eval index (built on first use under the eval cache, 10–30 min) on
its SQLite catalog, and the same catalog copied row by row into a fresh PostgreSQL database;
both searchers share one embedded Chroma store and one embedder, so only the catalog differs.
Every query runs on both, interleaved query by query (the order alternating), as
``retrieval_latency`` runs them: hybrid, top_k 10, chunk-level, reference expansion on.
The catalog share is the time spent inside catalog transactions (connection, queries,
fetching rows) summed over the search's threads, over the search's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from core.db import Database
from core.settings import Settings
from ingestion import jobs
from ingestion.catalog import jobs as job_rows
from ingestion.service import Ingestion
from tools.search import Retriever

from ..beir import load
from ..metrics import percentile
from ..retrieval import EVAL_PRINCIPAL, open_index
from .ingest import beir_lines
from .servers import Postgres, start_chroma_server

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATASET = REPO.parent / "shared" / "data" / "beir" / "scifact"
OWNER = "bench"
COLLECTION = "scifact"


# --- workers ------------------------------------------------------------------------------------


@dataclass
class WorkersRound:
    """One fresh deployment drained by ``workers`` processes."""

    workers: int
    documents: int
    chunks: int
    failed: int
    startup_s: float
    """From spawning the workers to the first claimed job (imports, model load, connections)."""
    drain_s: float
    """From the first claimed job to an empty queue: what the throughput is computed on."""
    wall_s: float
    """From spawning the workers to an empty queue: what an operator waits for."""
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds over the wall time per part: the workers, the Chroma server, PostgreSQL, and the
    whole machine (``machine`` includes the other work sharing the cores)."""
    per_worker_documents: list[int] = field(default_factory=list)

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.drain_s

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.drain_s

    @property
    def docs_per_worker_cpu_s(self) -> float:
        """Documents per CPU second of the workers: how much work a document costs, whatever share
        of the cores the workers won from other load."""
        return self.documents / self.cpu_s["workers"]

    def busy_cores(self, part: str) -> float:
        """Cores ``part`` kept busy on average while the workers ran."""
        return self.cpu_s.get(part, 0.0) / self.wall_s


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    """A temp dir, removed afterwards, that the ``postgres`` user may traverse to its cluster's
    directory inside (mkdtemp makes it 0700)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _worker_env(home: Path, database_url: str, chroma_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LECTERN_HOME": str(home),
        "LECTERN_DATABASE_URL": database_url,
        "LECTERN_CHROMA_URL": chroma_url,
        "PYTHONPATH": str(REPO),
    }


_TICK = os.sysconf("SC_CLK_TCK")


def _process_tree_cpu_s(root_pid: int) -> float:
    """CPU seconds (user + system) of ``root_pid`` and its live descendants, read from /proc."""
    parent: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parent[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += used.get(pid, 0)
        stack.extend(child for child, ppid in parent.items() if ppid == pid)
    return total / _TICK


def _machine_busy_s() -> float:
    """CPU seconds every core has spent busy since boot (all of /proc/stat's "cpu" line but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK


def _postmaster_pid(postgres: Postgres) -> int:
    return int((postgres.root / "data" / "postmaster.pid").read_text().split()[0])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the worker finish its batch and log its totals; SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        _stop(process)


def _indexed_by(log: Path) -> int:
    """The document total a worker logs when it stops (``… stopped: N document(s), …``)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if " stopped: " in line:
            return int(line.split(" stopped: ")[1].split()[0])
    return -1


def workers_round(lines: list[str], workers: int, batch_size: int | None, timeout_s: float) -> WorkersRound:
    """Queue ``lines`` in a fresh PostgreSQL + Chroma server deployment and drain it with ``workers`` processes."""
    with _scratch("lectern-scale-out-") as root, ExitStack() as cleanup:
        postgres = Postgres.start(root / "pg")
        cleanup.callback(postgres.stop)
        chroma = start_chroma_server(root / "chroma")
        cleanup.callback(chroma.stop)
        processes: list[subprocess.Popen[bytes]] = []
        cleanup.callback(_stop_all, processes)
        database_url = postgres.new_database()
        home = root / "home"
        settings = Settings(home=home).with_overrides(database_url=database_url, chroma_url=chroma.url)
        service = Ingestion(settings)
        step = settings.ingestion.max_jsonl_lines
        for start in range(0, len(lines), step):
            service.add_collection_jsonl(lines[start : start + step], collection=COLLECTION, owner=OWNER)
        queued = jobs.pending_count(service.db)
        assert queued == len(lines), f"{queued} jobs queued for {len(lines)} documents"

        env = _worker_env(home, database_url, chroma.url)
        command = [sys.executable, "-m", "api.cli", "worker"]
        if batch_size is not None:
            command += ["--batch-size", str(batch_size)]
        logs = [root / f"worker{i}.log" for i in range(workers)]
        assert chroma.process is not None
        servers = {"chroma": chroma.process.pid, "postgresql": _postmaster_pid(postgres)}
        cpu_before = {name: _process_tree_cpu_s(pid) for name, pid in servers.items()}
        cpu_before["machine"] = _machine_busy_s()
        spawned = time.perf_counter()
        for log in logs:
            with log.open("ab") as out:
                processes.append(
                    subprocess.Popen(
                        command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                    )
                )
        first_claim = None
        deadline = spawned + timeout_s
        while True:
            pending = jobs.pending_count(service.db)
            now = time.perf_counter()
            if first_claim is None and (pending < queued or _any_running(service)):
                first_claim = now
            if pending == 0:
                break
            if now > deadline or any(p.poll() is not None for p in processes):
                tails = "\n".join(log.read_text(errors="replace")[-1500:] for log in logs)
                raise RuntimeError(f"the queue did not drain ({pending} pending after {now - spawned:.0f} s):\n{tails}")
            time.sleep(0.1)
        finished = time.perf_counter()
        cpu_s = {name: _process_tree_cpu_s(pid) - cpu_before[name] for name, pid in servers.items()}
        cpu_s["workers"] = sum(_process_tree_cpu_s(p.pid) for p in processes)  # they started at ~0
        cpu_s["machine"] = _machine_busy_s() - cpu_before["machine"]
        for process in processes:
            _stop(process)
        documents, _ = service.list_documents(collection=COLLECTION, limit=len(lines) + 1)
        completed = [d for d in documents if d.status == "completed"]
        service.close()
        assert first_claim is not None
        return WorkersRound(
            workers=workers,
            documents=len(completed),
            chunks=sum(d.chunk_count or 0 for d in completed),
            failed=len(documents) - len(completed),
            startup_s=first_claim - spawned,
            drain_s=finished - first_claim,
            wall_s=finished - spawned,
            cpu_s={name: round(value, 1) for name, value in cpu_s.items()},
            per_worker_documents=[_indexed_by(log) for log in logs],
        )


def _any_running(service: Ingestion) -> bool:
    """A job claimed but not finished: the first batch has started even though none is done yet."""
    with service.db.read() as conn:
        return bool(job_rows.running(conn))


def run_workers(args: argparse.Namespace) -> dict[str, Any]:
    lines = beir_lines(args.corpus, args.docs)
    # ABBA (1, 2, 2, 1, …): a load that drifts during the run weighs on both counts alike.
    order = [counts for pair in range(args.rounds // 2) for counts in ((1, 2) if pair % 2 == 0 else (2, 1))]
    print(f"{len(lines)} SciFact documents, rounds {order}, {os.cpu_count()} CPUs")
    rounds: list[WorkersRound] = []
    for n, workers in enumerate(order, start=1):
        result = workers_round(lines, workers, args.batch_size, args.timeout_s)
        rounds.append(result)
        print(
            f"round {n}: {workers} worker(s): {result.documents} docs, {result.chunks} chunks in {result.drain_s:.1f} s "
            f"({result.docs_per_s:.1f} docs/s, {result.chunks_per_s:.1f} chunks/s), start-up {result.startup_s:.1f} s, "
            f"failed {result.failed}, per worker {result.per_worker_documents}; busy cores: "
            + ", ".join(f"{part} {result.busy_cores(part):.2f}" for part in result.cpu_s)
        )
    summary: dict[str, Any] = {"documents": len(lines), "cpus": os.cpu_count(), "order": order}
    for workers in (1, 2):
        mine = [r for r in rounds if r.workers == workers]
        summary[f"workers_{workers}"] = {
            "docs_per_s": [round(r.docs_per_s, 2) for r in mine],
            "chunks_per_s": [round(r.chunks_per_s, 2) for r in mine],
            "median_docs_per_s": round(statistics.median(r.docs_per_s for r in mine), 2),
            "median_chunks_per_s": round(statistics.median(r.chunks_per_s for r in mine), 2),
            "median_startup_s": round(statistics.median(r.startup_s for r in mine), 2),
            "median_wall_s": round(statistics.median(r.wall_s for r in mine), 1),
            "docs_per_worker_cpu_s": [round(r.docs_per_worker_cpu_s, 2) for r in mine],
            "cpu_s": [r.cpu_s for r in mine],
            "per_worker_documents": [r.per_worker_documents for r in mine],
            "median_busy_cores": {
                part: round(statistics.median(r.busy_cores(part) for r in mine), 2) for part in mine[0].cpu_s
            },
        }
    ratio = summary["workers_2"]["median_docs_per_s"] / summary["workers_1"]["median_docs_per_s"]
    summary["ratio_2_over_1_docs_per_s"] = round(ratio, 2)
    for workers in (1, 2):
        s = summary[f"workers_{workers}"]
        print(
            f"{workers} worker(s): median {s['median_docs_per_s']} docs/s, {s['median_chunks_per_s']} chunks/s "
            f"(rounds {s['docs_per_s']}), start-up {s['median_startup_s']} s, busy cores {s['median_busy_cores']}, "
            f"docs per worker CPU second {s['docs_per_worker_cpu_s']}"
        )
    print(f"2 workers / 1 worker: {ratio:.2f}x docs/s")
    return summary


# --- catalogs -----------------------------------------------------------------------------------


def copy_catalog(source: Database, target: Database) -> dict[str, int]:
    """Every table's rows from ``source`` into ``target`` (migrated, so the same schema), parents first.

    Rows the migrations seeded in ``target`` (the schema log, the access counter) are replaced."""
    target.migrate()
    read_schema, write_schema = MetaData(), MetaData()
    read_schema.reflect(source.engine)
    write_schema.reflect(target.engine)
    copied: dict[str, int] = {}
    with source.read() as reader, target.transaction() as writer:
        for table in reversed(write_schema.sorted_tables):
            writer.execute(table.delete())
        for table in write_schema.sorted_tables:
            rows = [dict(row._mapping) for row in reader.execute(read_schema.tables[table.name].select())]
            for start in range(0, len(rows), 5_000):
                writer.execute(table.insert(), rows[start : start + 5_000])
            copied[table.name] = len(rows)
    return copied


@dataclass
class _CatalogClock:
    """Seconds spent inside one ``Database``'s transactions, and how many, over every thread."""

    seconds: float = 0.0
    transactions: int = 0

    def wrap(self, db: Database) -> None:
        for name in ("read", "transaction"):
            setattr(db, name, self._timed(getattr(db, name)))

    def _timed(self, enter: Callable[[], AbstractContextManager[Any]]) -> Callable[[], AbstractContextManager[Any]]:
        @contextmanager
        def timed() -> Iterator[Any]:
            started = time.perf_counter()
            self.transactions += 1
            try:
                with enter() as conn:
                    yield conn
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def run_catalogs(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load(args.dataset, args.split)
    sqlite = open_index(dataset, Settings())
    with _scratch("lectern-catalogs-") as root, ExitStack() as cleanup:
        postgres = Postgres.start(root / "pg")
        cleanup.callback(postgres.stop)
        database_url = postgres.new_database()
        started = time.perf_counter()
        target = Database(database_url)
        copied = copy_catalog(sqlite.db, target)
        target.dispose()
        print(f"copied the catalog into PostgreSQL in {time.perf_counter() - started:.1f} s: {copied}")
        pg = Ingestion(sqlite.settings.with_overrides(database_url=database_url))
        # One Chroma client and one embedder for both: the vector leg is the same object, only the catalog differs.
        pg.__dict__["embedder"] = sqlite.embedder
        pg.__dict__["vectors"] = sqlite.vectors
        searchers = {"sqlite": Retriever(sqlite), "postgresql": Retriever(pg)}
        clocks = {name: _CatalogClock() for name in searchers}
        for name, service in (("sqlite", sqlite), ("postgresql", pg)):
            clocks[name].wrap(service.db)
        queries = list(dataset.queries.values())
        for query in queries[: args.warmup]:
            for retriever in searchers.values():
                retriever.search(query, principal=EVAL_PRINCIPAL, top_k=args.top_k)
        timings: dict[str, list[float]] = {name: [] for name in searchers}
        catalog_s: dict[str, list[float]] = {name: [] for name in searchers}
        transactions = {name: clock.transactions for name, clock in clocks.items()}
        results_differ = 0
        for i, query in enumerate(queries):
            order = list(searchers) if i % 2 == 0 else list(reversed(searchers))
            ranked: dict[str, list[str]] = {}
            for name in order:
                before = clocks[name].seconds
                t = time.perf_counter()
                response = searchers[name].search(query, principal=EVAL_PRINCIPAL, top_k=args.top_k)
                timings[name].append((time.perf_counter() - t) * 1000)
                catalog_s[name].append((clocks[name].seconds - before) * 1000)
                ranked[name] = [h.chunk_id for h in response.results]
            results_differ += ranked["sqlite"] != ranked["postgresql"]
        transactions = {name: clock.transactions - transactions[name] for name, clock in clocks.items()}
        pg.close()
        sqlite.close()

    summary: dict[str, Any] = {"queries": len(queries), "top_k": args.top_k, "results_differ": results_differ}
    for name, values in timings.items():
        summary[name] = {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "mean_ms": round(statistics.fmean(values), 2),
            "catalog_p50_ms": round(statistics.median(catalog_s[name]), 2),
            "catalog_share": round(sum(catalog_s[name]) / sum(values), 3),
            "catalog_transactions_per_search": round(transactions[name] / len(values), 2),
        }
    for key in ("p50_ms", "p95_ms"):
        summary[f"ratio_{key}"] = round(summary["postgresql"][key] / summary["sqlite"][key], 2)
    print(f"{len(queries)} queries ({args.split}), hybrid, top_k={args.top_k}, reference expansion on, interleaved")
    for name in searchers:
        s = summary[name]
        print(
            f"{name:10} p50 {s['p50_ms']:6.1f} ms  p95 {s['p95_ms']:6.1f} ms  catalog p50 {s['catalog_p50_ms']:5.1f} ms, "
            f"{s['catalog_share']:.0%} of search time, {s['catalog_transactions_per_search']} transactions per search"
        )
    print(f"postgresql / sqlite: p50 {summary['ratio_p50_ms']}x, p95 {summary['ratio_p95_ms']}x")
    print(f"queries whose ranked chunk ids differ between the catalogs: {results_differ}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    workers = sub.add_parser("workers", help="ingest throughput with 1 vs 2 `lectern worker` processes")
    workers.add_argument("--corpus", type=Path, default=DEFAULT_DATASET / "corpus.jsonl")
    workers.add_argument("--docs", type=int, default=1000, help="the first N SciFact documents")
    workers.add_argument("--rounds", type=int, default=4, help="even: 1 and 2 workers alternate")
    workers.add_argument(
        "--batch-size", type=int, default=None, help="`lectern worker --batch-size` (default: its own)"
    )
    workers.add_argument("--timeout-s", type=float, default=1800.0, help="give up on a round after this long")
    workers.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    catalogs = sub.add_parser("catalogs", help="hybrid search latency on the PostgreSQL catalog vs SQLite")
    catalogs.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    catalogs.add_argument("--split", default="train")
    catalogs.add_argument("--top-k", type=int, default=10)
    catalogs.add_argument("--warmup", type=int, default=50, help="queries run on both before measuring")
    catalogs.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    summary = run_workers(args) if args.command == "workers" else run_catalogs(args)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

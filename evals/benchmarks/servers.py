"""Throwaway servers on 127.0.0.1 for the scaled engines: a Chroma server and a PostgreSQL cluster.

Benchmarks start them to measure a deployment the way it runs scaled out, and the tests
start them to run the store and catalog suites on real services. They live here rather than
in ``tests/support.py`` because evals may not import tests; ``tests/support.py`` re-exports them.
A server that does not come up raises :class:`ServerStartError` with the tail of its log.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
"""Debian's PostgreSQL 15 (``make postgres`` installs it)."""


class ServerStartError(RuntimeError):
    """A server did not start; the message carries the reason and its log's tail."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_answering(args: list[str], log: Path, probe_url: str, timeout_s: float) -> subprocess.Popen[bytes]:
    """Starts ``args`` (output appended to ``log``) and waits until ``GET probe_url`` answers 200.
    A server that exits or stays silent is stopped and raises :class:`ServerStartError` with its log's tail."""
    import httpx

    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(probe_url, timeout=1.0).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    tail = log.read_text(errors="replace")[-2000:]
    raise ServerStartError(f"{args[0]} did not answer {probe_url} within {timeout_s} s:\n{tail}")


@dataclass
class ChromaServer:
    """``chroma run`` from the running interpreter's venv on 127.0.0.1, persisting under ``path``.

    It is the Rust engine the embedded client runs in-process; it sends no product telemetry
    and exports traces only when a config file names a collector, which this one never gets."""

    path: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Starts the server and waits for its heartbeat; raises :class:`ServerStartError` if it does not come up."""
        chroma = Path(sys.executable).parent / "chroma"
        if not chroma.exists():
            raise ServerStartError(f"cannot start a Chroma server: {chroma} is missing (chromadb not installed here?)")
        args = [str(chroma), "run", "--host", "127.0.0.1", "--port", str(self.port), "--path", str(self.path)]
        self.process = start_answering(args, self.log, f"{self.url}/api/v2/heartbeat", timeout_s)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: nothing is left running."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def reset(self) -> None:
        """Drops Lectern's collection, so each user starts from an empty store as it does embedded."""
        import httpx

        from ingestion.vectors import CHROMA_COLLECTION

        path = f"/api/v2/tenants/default_tenant/databases/default_database/collections/{CHROMA_COLLECTION}"
        response = httpx.delete(f"{self.url}{path}", timeout=10.0)
        if response.status_code not in (200, 404):
            raise RuntimeError(f"could not drop the collection on {self.url}: {response.status_code} {response.text}")


def start_chroma_server(root: Path) -> ChromaServer:
    """A started Chroma server persisting under ``root/data``, logging to ``root/chroma.log``."""
    root.mkdir(parents=True, exist_ok=True)
    server = ChromaServer(path=root / "data", port=free_port(), log=root / "chroma.log")
    server.start()
    return server


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (socket in its own temp dir), run as ``postgres``.

    PostgreSQL refuses to run as root, so initdb and the server run through ``runuser`` when the
    caller is root. Durability is switched off: the cluster lives for one test session or one
    benchmark round, and a benchmark then measures Lectern's work rather than the disk's fsyncs."""

    root: Path
    port: int
    _databases: itertools.count[int]

    @classmethod
    def start(cls, root: Path) -> Postgres:
        """initdb under ``root/data`` and start the server on a free port; raises
        :class:`ServerStartError` when PostgreSQL is missing or does not start."""
        if not (PG_BIN / "initdb").exists():
            raise ServerStartError(f"PostgreSQL is not installed ({PG_BIN}/initdb missing): run `make postgres`")
        root.mkdir(parents=True, exist_ok=True)
        data = root / "data"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server = cls(root=root, port=free_port(), _databases=itertools.count())
        server._run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        server._run(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"
        )
        return server

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this cluster (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database (no migrations applied): what a new deployment starts from."""
        import psycopg

        name = f"lectern_{next(self._databases)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.url(name)

    def stop(self) -> None:
        """Immediate shutdown: the cluster's data is thrown away anyway."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerStartError(f"{command[0]} failed ({done.returncode}): {done.stderr or done.stdout}\n{tail}")

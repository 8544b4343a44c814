"""Several API processes serving one deployment, as real processes.

Two ``lectern serve`` processes on their own ports share a PostgreSQL catalog, a Chroma server and a
home (blobs), with one ``lectern worker``: whichever process a request reaches, an upload becomes
searchable once any process says ``completed``, a chat session continues on the other process, and
two turns of one session never run at once. Then ``lectern serve --workers 2``: two processes behind
one port, both answering, both built from the command line's settings."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import ChromaServer, Postgres, free_port, healthy, start_cli, stop_process, wait_for

pytestmark = pytest.mark.slow

_WORD = "wombatwolfram"  # a term no other text has: a hit can only be the uploaded document
_BODY = f"The {_WORD} gasket is replaced every autumn. It seals the boiler door against steam.\n".encode()



def _admin_key(database_url: str) -> dict[str, str]:
    from api.keys import KeyStore
    from core.db import Database

    db = Database(database_url)
    try:
        db.migrate()
        _, secret = KeyStore(db).create(role="admin", name="ops")
    finally:
        db.dispose()
    return {"Authorization": f"Bearer {secret}"}


def test_two_api_processes_and_a_worker_share_one_deployment(
    tmp_path: Path, postgres: Postgres, chroma_server: ChromaServer, processes: list[subprocess.Popen[bytes]]
) -> None:
    if chroma_server.process is None or chroma_server.process.poll() is not None:
        chroma_server.start()
    chroma_server.reset()
    database_url = postgres.new_database()
    headers = _admin_key(database_url)
    home = tmp_path / "home"  # blobs and upload parts: shared by every process, like the catalog
    shared = {"LECTERN_DATABASE_URL": database_url, "LECTERN_CHROMA_URL": chroma_server.url, "LECTERN_MODEL": "test"}
    bases, logs = [], []
    for name in ("a", "b"):
        port, log = free_port(), tmp_path / f"serve-{name}.log"
        processes.append(start_cli(home, log, "serve", "--no-indexing", "--port", str(port), **shared))
        bases.append(f"http://127.0.0.1:{port}")
        logs.append(log)
    a, b = bases
    for base in bases:
        wait_for(functools.partial(healthy, base), 90, f"{base} did not answer", logs)
    ready = [httpx.get(f"{base}/readyz", timeout=10).json() for base in bases]
    assert [r["process"] for r in ready] == [{"pid": p.pid, "indexing": False} for p in processes]
    assert all(r["status"] == "ready" and "postgresql" in r["checks"]["catalog"]["detail"] for r in ready), ready

    # -- an upload on A, indexed by the worker, polled and found on B ---------------------------------
    uploaded = httpx.post(
        f"{a}/v1/files/upload", headers=headers, files={"file": ("gaskets.txt", _BODY, "text/plain")}, timeout=30
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.headers["x-lectern-process"] == str(processes[0].pid)
    file_id = uploaded.json()["file_id"]
    worker_log = tmp_path / "worker.log"
    logs.append(worker_log)
    processes.append(start_cli(home, worker_log, "worker", "--idle-s", "0.1", **shared))

    def found(base: str, search_type: str) -> list[str]:
        response = httpx.get(
            f"{base}/v1/retrieve", params={"q": _WORD, "search_type": search_type}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return [hit["document_id"] for hit in response.json()["results"]]

    assert found(b, "keyword") == []  # B has loaded its keyword index before the document completes

    def completed_on_b() -> bool:
        response = httpx.get(f"{b}/v1/files/{file_id}", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["status"] != "failed", response.text
        return bool(response.json()["status"] == "completed")

    wait_for(completed_on_b, 90, "the upload was not indexed", logs)
    # Read-your-writes: B said `completed`, so B's very next search finds it, on both legs.
    assert found(b, "keyword") == [file_id]
    assert found(b, "vector")[:1] == [file_id]
    assert file_id in found(a, "hybrid")

    # -- a chat session started on A continues on B --------------------------------------------------
    session = httpx.post(f"{a}/v1/chat/sessions", headers=headers, timeout=10).json()["session_id"]

    def ask(base: str, question: str, accept: str = "application/json") -> httpx.Response:
        return httpx.post(
            f"{base}/v1/chat/sessions/{session}/messages",
            headers={**headers, "Accept": accept},
            json={"content": question},
            timeout=60,
        )

    first = ask(a, f"When is the {_WORD} gasket replaced?")
    assert first.status_code == 200, first.text
    assert first.json()["citations"][0]["document_id"] == file_id
    second = ask(b, "And what does it seal?")
    assert second.status_code == 200, second.text
    history = httpx.get(f"{b}/v1/chat/sessions/{session}", headers=headers, timeout=10).json()["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == [
        f"When is the {_WORD} gasket replaced?",
        "And what does it seal?",
    ]

    # -- a turn running on one process: the other refuses the session's next turn -------------------
    from agent.store import SessionStore
    from core.db import Database

    db = Database(database_url)
    try:
        store = SessionStore(db)
        assert store.claim_turn(session, "a-turn-elsewhere", lease_s=60)  # as a running turn holds it
        for base in bases:
            for accept in ("text/event-stream", "application/json"):
                busy = ask(base, "Is it busy?", accept)
                assert busy.status_code == 409 and busy.json()["error_code"] == "SESSION_BUSY", busy.text
        store.release_turn(session, "a-turn-elsewhere")

        # Both processes at once: each turn runs whole or is refused; none interleave.
        barrier = threading.Barrier(8)

        def race(i: int) -> httpx.Response:
            barrier.wait(timeout=30)
            return ask(bases[i % 2], f"Race {i}?", "text/event-stream" if i % 4 < 2 else "application/json")

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(race, range(8)))
        outcomes = [r.status_code for r in responses]
        assert set(outcomes) <= {200, 409} and 200 in outcomes, [r.text for r in responses]
        assert all(r.json()["error_code"] == "SESSION_BUSY" for r in responses if r.status_code == 409)
        messages = store.messages(session)
    finally:
        db.dispose()
    roles = [m.role for m in messages]
    assert roles.count("user") == 2 + outcomes.count(200)  # a refused turn wrote nothing
    for n, message in enumerate(messages):  # each question is followed by its own answer, never another question
        if message.role == "user":
            assert roles[n + 1 :][:1] and roles[n + 1] != "user", roles
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    for process in processes:
        assert process.poll() is None  # nothing crashed along the way


def _children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def test_serve_with_two_workers_runs_two_answering_processes(
    tmp_path: Path, chroma_server: ChromaServer, processes: list[subprocess.Popen[bytes]]
) -> None:
    if chroma_server.process is None or chroma_server.process.poll() is not None:
        chroma_server.start()
    port, log = free_port(), tmp_path / "serve.log"
    env = {"LECTERN_CHROMA_URL": chroma_server.url, "LECTERN_MODEL": "test"}
    server = start_cli(tmp_path / "home", log, "serve", "--workers", "2", "--no-indexing", "--port", str(port), **env)
    processes.append(server)
    base = f"http://127.0.0.1:{port}"
    seen: dict[int, dict] = {}

    def both_answered() -> bool:
        assert server.poll() is None, log.read_text()
        try:  # a new connection each time: the kernel hands it to whichever worker accepts first
            response = httpx.get(f"{base}/readyz", timeout=5)
        except httpx.HTTPError:
            return False
        seen[int(response.headers["x-lectern-process"])] = response.json()["process"]
        return len(seen) >= 2

    try:
        wait_for(both_answered, 120, "two distinct worker processes did not answer", [log])
        workers = _children(server.pid)
        assert set(seen) <= workers and len(seen) == 2, (seen, workers)  # the supervisor's own children
        # --no-indexing reached every worker process through the environment.
        assert all(info == {"pid": pid, "indexing": False} for pid, info in seen.items()), seen
        assert "share the SQLite catalog" in log.read_text()
        stop_process(server, timeout_s=30)
        assert server.returncode == 0, log.read_text()[-2000:]
        assert not [pid for pid in seen if Path(f"/proc/{pid}").exists()]  # SIGTERM ended the workers too
    finally:
        for pid in seen:  # never leave a worker behind, even when the supervisor failed to end it
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)

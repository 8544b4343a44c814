"""An API process that does not index and a separate ``lectern worker`` on one home, as real processes.

The upload is accepted by the API process and stays queued until a worker runs; the worker's
commit is then visible to the API process's very next search (the keyword index follows the
catalog's change log), and SIGTERM stops the worker cleanly."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, healthy, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow

_WORD = "quokkaquartz"  # a term no other text has: a hit can only be the uploaded document
_BODY = f"The {_WORD} valve is checked every spring. It keeps the boiler pressure under two bar.\n".encode()



def test_uploads_wait_for_a_worker_process_and_are_found_as_soon_as_they_complete(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    home = tmp_path / "home"
    created = run_cli(home, "keys", "create", "--role", "admin", "--name", "ops")
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.split()[0]}"}

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api_log = tmp_path / "serve.log"
    api = start_cli(home, api_log, "serve", "--no-indexing", "--port", str(port), LECTERN_MODEL="test")
    processes.append(api)
    wait_for(lambda: healthy(base) or api.poll() is not None, 60, "the API process did not answer", [api_log])
    assert api.poll() is None, api_log.read_text()

    uploaded = httpx.post(
        f"{base}/v1/files/upload", headers=headers, files={"file": ("valves.txt", _BODY, "text/plain")}, timeout=30
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["file_id"]

    def status() -> str:
        response = httpx.get(f"{base}/v1/files/{file_id}/status", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    def found(search_type: str) -> list[str]:
        response = httpx.get(
            f"{base}/v1/retrieve", params={"q": _WORD, "search_type": search_type}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return [hit["document_id"] for hit in response.json()["results"]]

    time.sleep(1.5)  # many times the in-process loop's 0.2 s poll: an indexing API process would have claimed it
    assert status() == "pending"
    assert found("keyword") == []

    worker_log = tmp_path / "worker.log"
    worker = start_cli(home, worker_log, "worker", "--idle-s", "0.1", "--batch-size", "4", LECTERN_MODEL="test")
    processes.append(worker)
    wait_for(lambda: status() != "pending" and status() != "processing", 60, "the upload was not indexed", [worker_log])
    # Read-your-writes across processes: the status and the keyword postings commit together,
    # and every search first replays the change log past what this process has seen.
    assert found("keyword") == [file_id]
    assert status() == "completed"
    assert file_id in found("hybrid")

    worker.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert worker.wait(timeout=10) == 0, worker_log.read_text()
    assert time.monotonic() - started < 5
    lines = worker_log.read_text()
    assert "batch: 1 document(s)" in lines
    assert "SIGTERM: stopping after the current batch" in lines
    assert "stopped: 1 document(s)" in lines
    assert api.poll() is None  # the API process is unaffected and still serves
    assert status() == "completed"


def test_sigterm_during_a_batch_finishes_it_and_leaves_the_rest_queued(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    from ingestion.service import Ingestion
    from tests.support import make_settings

    home = tmp_path / "home"
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(6):
        (folder / f"note-{n}.txt").write_text(f"Note {n} about the {_WORD} valve and its spring check.\n")
    # Queue the files without indexing them (`lectern ingest` would drain the queue).
    ingestion = Ingestion(make_settings(home))
    try:
        for path in sorted(folder.iterdir()):
            ingestion.add_file(path, path.name, owner="admin")
    finally:
        ingestion.close()

    def statuses() -> list[str]:
        with closing(sqlite3.connect(home / "lectern.db", timeout=10)) as conn:
            return sorted(str(row[0]) for row in conn.execute("SELECT status FROM documents"))

    log = tmp_path / "worker.log"
    worker = start_cli(home, log, "worker", "--batch-size", "1", "--idle-s", "0.1", LECTERN_MODEL="test")
    processes.append(worker)
    # The first batch's document turns `processing` before the embedding model is even loaded.
    wait_for(lambda: "processing" in statuses() or "completed" in statuses(), 60, "no batch was claimed", [log])
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, log.read_text()

    after = statuses()
    assert "processing" not in after, after  # the batch in hand was finished, not abandoned
    assert after.count("completed") >= 1 and after.count("pending") >= 1, after  # it stopped early, between batches
    assert "SIGTERM: stopping after the current batch" in log.read_text()

    again = start_cli(home, log, "worker", "--idle-s", "0.1", LECTERN_MODEL="test")
    processes.append(again)
    wait_for(lambda: statuses() == ["completed"] * 6, 60, "a second worker did not finish the queue", [log])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_extraction_child_outlives_a_signal_to_the_process_group(signum: signal.Signals) -> None:
    """Ctrl-C signals the worker's whole process group: the worker finishes its batch, so the
    extraction child must not die under it (a PDF in hand would fail as ``extractor_crashed``)."""
    import os

    from ingestion.extract.sandbox import ExtractionSandbox
    from tests.support import REPO

    pdf = REPO / "api" / "demo" / "docs" / "aurora-x2-quick-start.pdf"
    box = ExtractionSandbox(timeout_s=30)
    try:
        first = box.extract(pdf, "application/pdf", 10**8)
        child = box._proc
        assert child is not None
        os.kill(child.pid, signum)
        time.sleep(0.3)
        assert child.poll() is None
        assert box.extract(pdf, "application/pdf", 10**8) == first
        assert box._proc is child  # the same child answered: it was not silently replaced
    finally:
        box.close()

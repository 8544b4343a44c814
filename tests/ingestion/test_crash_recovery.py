import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from ingestion.service import Ingestion
from tests.support import REPO, make_settings

DEMO = REPO / "api" / "demo" / "docs"


def _run_until_stalled(home: Path, stage: str) -> None:
    marker = home.parent / f"{stage}.marker"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.ingestion._crash_worker", str(home), str(marker), stage],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert worker.poll() is None, "the worker exited before reaching the crash point"
            assert time.monotonic() < deadline, "the worker never reached the crash point"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()


@pytest.mark.parametrize("stage", ["embedding", "committing"])
def test_a_killed_worker_s_job_completes_exactly_once_after_restart(tmp_path: Path, stage: str) -> None:
    settings = make_settings(tmp_path / "home")
    service = Ingestion(settings)
    try:
        added = service.add_file(DEMO / "aurora-x2-cleaning.md", "cleaning.md", owner="u1")
    finally:
        service.close()

    _run_until_stalled(settings.home, stage)

    restarted = Ingestion(settings)
    try:
        doc = restarted.get(added.document.id)
        assert doc.status == "processing"  # the dead worker's claim is still visible
        totals = restarted.run_until_idle()
        assert totals.documents == 1
        doc = restarted.get(added.document.id)
        assert doc.status == "completed"
        chunk_ids = sorted(c.id for c in restarted.chunks(doc.id))
        assert len(chunk_ids) == doc.chunk_count
        assert sorted(restarted.vectors.ids_for_document(doc.id)) == chunk_ids  # no duplicate or stale vectors
        assert restarted.vectors.count() == len(chunk_ids)
        with restarted.db.read() as conn:
            jobs = conn.execute(text("SELECT status, attempts FROM jobs WHERE document_id = :d"), {"d": doc.id}).all()
            postings = conn.execute(
                text("SELECT COUNT(*) FROM keyword_terms WHERE document_id = :d"), {"d": doc.id}
            ).scalar_one()
        assert [tuple(j) for j in jobs] == [("done", 2)]
        assert postings == len(chunk_ids)
        assert restarted.run_until_idle().documents == 0  # nothing left to do twice
    finally:
        restarted.close()

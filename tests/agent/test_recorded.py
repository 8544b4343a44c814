"""Replays of real exchanges with SmolLM2 on llama.cpp's server (vcrpy cassettes in tests/cassettes/).

Re-record against a live local server with ``LECTERN_RECORD_CASSETTES=1 pytest tests/agent/test_recorded.py``
(it starts the server itself on the recorded ports). In CI they replay with ``record_mode="none"``:
a request the cassette does not hold fails the test instead of reaching a network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import vcr

from agent.events import CitationEvent, DoneEvent, ErrorEvent, TokenEvent, ToolCallEvent, ToolResultEvent
from agent.local_model import LocalModelServer
from agent.session import SessionManager
from ingestion.service import Ingestion
from tests.support import add_docs, collect, make_settings
from tools.agent_tools import TOOL_NAMES

pytestmark = pytest.mark.anyio
CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
RECORDING = os.environ.get("LECTERN_RECORD_CASSETTES") == "1"
RETRIEVE_FIRST_PORT = 18766
NATIVE_PORT = 18767


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def _model_server(port: int, chat_format: str | None) -> Iterator[None]:
    if not RECORDING:
        yield
        return
    with LocalModelServer(port=port, chat_format=chat_format):
        yield


def _cassette(name: str) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "scheme", "host", "port", "path"],
        filter_headers=["authorization"],
        decode_compressed_response=True,
    ).use_cassette(name)


@contextmanager
def _manager(tmp_path: Path, port: int, **settings: object) -> Iterator[SessionManager]:
    config = make_settings(tmp_path / "home", llm_api_base=f"http://127.0.0.1:{port}/v1", **settings)
    service = Ingestion(config)
    add_docs(service, tmp_path / "docs")
    manager = SessionManager(ingestion=service)
    try:
        yield manager
    finally:
        manager.close()
        service.close()


async def test_recorded_retrieve_first_turn_streams_a_grounded_answer(tmp_path: Path) -> None:
    with (
        _manager(tmp_path, RETRIEVE_FIRST_PORT, tool_mode="retrieve_first") as manager,
        _model_server(RETRIEVE_FIRST_PORT, None),
        _cassette("smollm2_retrieve_first.yaml"),
    ):
        session = manager.create()
        events = await collect(session.send("How long is the warranty on the heating element?", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:3] == ["session", "tool_call", "tool_result"] and kinds[-1] == "done", kinds
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert len(tokens) > 5, "the answer must arrive as many streamed tokens"
    done = events[-1]
    assert isinstance(done, DoneEvent)
    # What a 135M model says is its own business (here it mixes up the two warranties);
    # what is tested is the streaming, the events and that citations resolve.
    assert "year" in done.answer.lower() and done.answer == "".join(t.text for t in tokens)
    results = next(e for e in events if isinstance(e, ToolResultEvent)).results
    shown = {r["n"]: r["chunk_id"] for r in results}
    cited = [e for e in events if isinstance(e, CitationEvent)]
    assert cited and [c.n for c in cited] == [c.n for c in done.citations]
    assert all(shown[c.n] == c.chunk_id for c in cited), "every citation resolves to a source shown to the model"
    assert done.usage.completion_tokens > 0


async def test_recorded_native_tool_call_exchange(tmp_path: Path) -> None:
    """SmolLM2 with llama.cpp's chatml-function-calling: it does call tools (often with junk arguments)."""
    with (
        _manager(tmp_path, NATIVE_PORT, tool_mode="native", agent_max_steps=2) as manager,
        _model_server(NATIVE_PORT, "chatml-function-calling"),
        _cassette("smollm2_native_tools.yaml"),
    ):
        session = manager.create()
        events = await collect(session.send("Search the documents: how often should I descale?", stream=True))
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert calls and len(calls) == len(results)
    assert all(c.name in TOOL_NAMES or r.error for c, r in zip(calls, results))
    assert [c.id for c in calls] == [r.id for r in results]
    last = events[-1]
    assert isinstance(last, DoneEvent | ErrorEvent)
    if isinstance(last, DoneEvent):
        shown = {r["n"] for res in results for r in res.results if "n" in r}
        assert {c.n for c in last.citations} <= shown

"""The enrichment model the agent hands to ingestion (``ConfiguredTextModel``): the synchronous litellm call
(``llm.complete_text``) through a scripted provider, its readiness check, and a replayed exchange with
SmolLM2 on llama.cpp's OpenAI-compatible server (``tests/cassettes/enrichment_smollm2.yaml``) going through
litellm's openai provider into a whole enrichment.

Re-record against a live local server with ``LECTERN_RECORD_CASSETTES=1 pytest tests/agent/test_text_model.py``
(it starts the server itself on the recorded port). Replays use ``record_mode="none"``: a request the cassette
does not hold fails the test instead of reaching a network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import vcr

from agent.llm import ModelError
from agent.local_model import LocalModelServer
from agent.scripted import Reply, ScriptedModel, register
from agent.session import SessionManager
from agent.text_model import ConfiguredTextModel
from ingestion.service import Ingestion
from tests.support import make_settings

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
RECORDING = os.environ.get("LECTERN_RECORD_CASSETTES") == "1"
ENRICH_PORT = 18768
NOTE = b"""# Meeting note: kitchen renovation

The team met on 14 October to plan the kitchen renovation. The budget is 12,000 euros and work starts in
November. Anna orders the cabinets; Ben books the electrician for the new oven circuit.
"""


def test_complete_sends_one_user_message_greedy_and_bounded(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def respond(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Reply:
        seen.extend(messages)
        return Reply.text("SYNOPSIS: fine.")

    name = register("text-model", ScriptedModel(respond))
    manager = SessionManager(make_settings(tmp_path / "home"))
    try:
        model = ConfiguredTextModel(manager, name)
        assert model.name == name and model.unusable() is None and model.context_tokens() > 1000
        assert model.complete("Describe it.", 40) == "SYNOPSIS: fine."
        assert seen == [{"role": "user", "content": "Describe it."}]
    finally:
        manager.close()


def test_model_errors_carry_their_code(tmp_path: Path) -> None:
    name = register("text-model-broken", ScriptedModel([Reply(raise_before=ValueError("bad request"))]))
    manager = SessionManager(make_settings(tmp_path / "home"))
    try:
        with pytest.raises(ModelError) as raised:
            ConfiguredTextModel(manager, name).complete("x", 10)
        assert raised.value.code.startswith("MODEL_")
    finally:
        manager.close()


def test_a_provider_model_without_its_key_is_unusable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    manager = SessionManager(make_settings(tmp_path / "home"))
    try:
        reason = ConfiguredTextModel(manager, "openai/gpt-4o-mini").unusable()
        assert reason is not None and "OPENAI_API_KEY" in reason
        # The deployment's chat model is the default.
        assert ConfiguredTextModel(manager).name == manager.settings.agent.model
    finally:
        manager.close()


@contextmanager
def _model_server(port: int) -> Iterator[None]:
    if not RECORDING:
        yield
        return
    with LocalModelServer(port=port):
        yield


def _cassette(name: str) -> Any:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "scheme", "host", "port", "path"],
        filter_headers=["authorization"],
        decode_compressed_response=True,
    ).use_cassette(name)


def test_recorded_enrichment_by_the_local_model(tmp_path: Path) -> None:
    """SmolLM2 rarely keeps to the three-line format: the recorded exchange is the combined prompt, then
    the fields it left out asked for one by one; whatever it wrote is parsed into the fields."""
    settings = make_settings(tmp_path / "home", llm_api_base=f"http://127.0.0.1:{ENRICH_PORT}/v1")
    service = Ingestion(settings)
    manager = SessionManager(ingestion=service)
    try:
        service.enrichment_model = ConfiguredTextModel(manager)
        doc_id = service.add_file(NOTE, "renovation.md", owner="alice", enrich=True).document.id
        service.worker().run()
        with _model_server(ENRICH_PORT), _cassette("enrichment_smollm2.yaml") as cassette:
            service.enrichment_worker().run()
        doc = service.get(doc_id)
        requests = [r.uri for r in cassette.requests]
    finally:
        manager.close()
        service.close()
    assert doc.enrichment_status == "completed", doc.enrichment_reason
    assert requests and all(u == f"http://127.0.0.1:{ENRICH_PORT}/v1/chat/completions" for u in requests)
    assert doc.file_synopsis and len(doc.file_synopsis) <= 1200
    assert doc.description and "\n" not in doc.description
    assert doc.enriched_fields == sorted(f for f in ("description", "document_type") if getattr(doc, f))

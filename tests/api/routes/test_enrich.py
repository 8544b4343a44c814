"""Enrichment over HTTP: ``enrich=true`` on uploads, FileInfo's fields, ``POST /v1/files/{id}/enrich`` and its
errors, search hits (Lectern's and the clinical seed's ``file_synopsis``), the ``document_type=`` filter and
the files API's ``summarization.enable``. The model is a scripted litellm provider, reached through the
same ``ConfiguredTextModel`` and ``llm.complete_text`` as a real one."""

from __future__ import annotations

from typing import Any

import pytest

from agent.scripted import Reply, ScriptedModel, register
from agent.text_model import ConfiguredTextModel
from tests.support import Api, upload

pytestmark = pytest.mark.anyio
MANUAL = b"# Kettle Manual\n\nDescale the kettle every month with citric acid.\n\n## Warranty\n\nFive years on the element.\n"
ANSWER = (
    "TYPE: User Manual\nDESCRIPTION: How to look after the kettle.\n"
    "SYNOPSIS: The manual explains descaling. It states the warranty."
)


def _wire(api: Api, answer: str = ANSWER) -> ScriptedModel:
    def respond(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Reply:
        prompt = str(messages[-1]["content"])
        if prompt.startswith("Summarise the whole"):
            return Reply.text("A kettle manual: descaling and warranty in brief.")
        return Reply.text(answer)

    model = ScriptedModel(respond)
    name = register("enrich-api", model)
    api.services.ingestion.enrichment_model = ConfiguredTextModel(api.services.sessions, name)
    return model


async def test_an_upload_with_enrich_shows_the_models_fields(api: Api) -> None:
    model = _wire(api)
    file_id = (await upload(api, api.alice, "kettle.md", MANUAL, enrich="true"))["file_id"]
    info = (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).json()
    assert info["enrichment_status"] == "completed", info
    assert info["file_synopsis"] == "The manual explains descaling. It states the warranty."
    assert (info["document_type"], info["description"]) == ("User Manual", "How to look after the kettle.")
    assert info["enrichment_reason"] is None and info["enriched_at"]
    assert len(model.calls) == 1 and "Warranty" in model.calls[0].messages[-1]["content"]
    listed = (await api.client.get("/v1/files?document_type=User%20Manual", headers=api.alice)).json()
    assert [f["file_id"] for f in listed["files"]] == [file_id]
    hits = (await api.client.get("/v1/retrieve?q=descale&document_type=User%20Manual", headers=api.alice)).json()
    assert hits["results"] and hits["results"][0]["file_synopsis"] == info["file_synopsis"]
    seed = (await api.client.get("/retrieve?q=descale", headers=api.alice)).json()  # seed 002's shapes
    assert seed["results"][0]["file_synopsis"] == info["file_synopsis"]
    (listed_entry,) = (await api.client.get("/documents/all", headers=api.alice)).json()
    assert listed_entry["file_synopsis"] == info["file_synopsis"]


async def test_a_plain_upload_is_not_enriched(api: Api) -> None:
    model = _wire(api)
    file_id = (await upload(api, api.alice, "kettle.md", MANUAL))["file_id"]
    info = (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).json()
    assert (info["enrichment_status"], info["file_synopsis"], model.calls) == ("none", None, [])


async def test_retry_with_summaries_and_its_errors(api: Api) -> None:
    _wire(api, answer="gibberish without any sentence end")
    file_id = (await upload(api, api.alice, "kettle.md", MANUAL))["file_id"]
    # Only the owner or an admin; a stranger sees nothing.
    assert (await api.client.post(f"/v1/files/{file_id}/enrich", headers=api.bob)).status_code == 404
    response = await api.client.post(f"/v1/files/{file_id}/enrich", headers=api.alice, json={"summaries": True})
    assert response.status_code == 202 and response.json()["enrichment_status"] == "pending"
    again = await api.client.post(f"/v1/files/{file_id}/enrich", headers=api.alice)
    assert again.status_code == 409 and again.json()["error_code"] == "ENRICHMENT_IN_PROGRESS"
    api.services.ingestion.run_until_idle()
    chunks = (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json()
    summaries = [c for c in chunks if c["kind"] == "summary"]
    assert summaries and summaries[-1]["breadcrumb"] == "Kettle Manual > Summary"
    hits = (await api.client.get("/v1/retrieve?q=brief&search_type=keyword", headers=api.alice)).json()["results"]
    assert hits[0]["kind"] == "summary" and hits[0]["title"] == "Kettle Manual"
    bad = await api.client.post(f"/v1/files/{file_id}/enrich", headers=api.alice, json={"summaries": "maybe"})
    assert bad.status_code in (400, 422) and "error_code" in bad.json()


async def test_without_a_model_enrichment_is_model_not_configured(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    api.services.ingestion.enrichment_model = ConfiguredTextModel(api.services.sessions, "openai/gpt-4o-mini")
    response = await api.client.post(
        "/v1/files/upload", headers=api.alice, files={"file": ("k.md", MANUAL)}, data={"enrich": "true"}
    )
    assert response.status_code == 503 and response.json()["error_code"] == "MODEL_NOT_CONFIGURED"
    file_id = (await upload(api, api.alice, "k.md", MANUAL))["file_id"]
    retry = await api.client.post(f"/v1/files/{file_id}/enrich", headers=api.alice)
    assert retry.status_code == 503 and retry.json()["error_code"] == "MODEL_NOT_CONFIGURED"


async def test_a_stored_file_cannot_be_enriched(api: Api) -> None:
    _wire(api)
    file_id = (await upload(api, api.alice, "k.md", MANUAL, index="false"))["file_id"]
    response = await api.client.post(f"/v1/files/{file_id}/enrich", headers=api.alice)
    assert response.status_code == 409 and response.json()["error_code"] == "DOCUMENT_NOT_INDEXED"


async def test_the_sdk_uploads_with_enrich_and_asks_again(api: Api, tmp_path: Any) -> None:
    from api.client import Client

    _wire(api)
    (tmp_path / "kettle.md").write_bytes(MANUAL)
    key = api.alice["Authorization"].split()[1]
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        uploaded = await client.files.upload(tmp_path / "kettle.md", enrich=True)
        api.services.ingestion.run_until_idle()
        info = await client.files.get(uploaded.file_id)
        assert info.enrichment_status == "completed" and info.file_synopsis
        again = await client.files.enrich(uploaded.file_id, summaries=True)
        assert again.enrichment_status == "pending"

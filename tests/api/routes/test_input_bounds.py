"""What the fuzz run (tests/e2e/test_openapi_fuzz.py) found, each pinned by one focused test:
bounds the schema states are the bounds the routes keep, and input the schema admits is served."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from api.schemas.patterns import NOT_BLANK
from tests.support import Api, upload

pytestmark = pytest.mark.anyio

KETTLE = b"# Kettle\n\nDescale the kettle every month with citric acid.\n"
HUGE_PAGE = "9223372036854775809"  # past SQLite's 64-bit offsets


def _envelope(body: dict[str, Any], code: str) -> None:
    assert body["error_code"] == code and body["message"] and body["request_id"].startswith("req-"), body


async def _spec(api: Api) -> dict[str, Any]:
    spec: dict[str, Any] = (await api.client.get("/openapi.json")).json()
    return spec


def _parameter(spec: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in spec["paths"][path][method]["parameters"] if p["name"] == name)
    return found


async def test_a_page_past_the_last_possible_one_is_a_422_not_a_500(api: Api) -> None:
    for path in ("/v1/files", "/v1/collections/faq/documents"):
        response = await api.client.get(path, params={"page": HUGE_PAGE}, headers=api.admin)
        assert response.status_code == 422, response.text
        _envelope(response.json(), "INVALID_REQUEST")
        assert response.json()["details"]["errors"][0]["field"] == "query.page"
        last = await api.client.get(path, params={"page": 1_000_000, "limit": 100}, headers=api.admin)
        assert last.status_code == 200 and last.json()["total_count"] == 0
    spec = await _spec(api)
    assert _parameter(spec, "/v1/files", "page")["schema"]["maximum"] == 1_000_000


async def test_a_5000_character_chat_message_is_answered(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", KETTLE)
    session = (await api.client.post("/v1/chat/sessions", headers=api.alice)).json()["session_id"]
    long = "How often should I descale the kettle? " + "Please answer briefly. " * 220
    assert len(long) > 5000
    answered = await api.client.post(f"/v1/chat/sessions/{session}/messages", headers=api.alice, json={"content": long})
    assert answered.status_code == 200, answered.text
    assert answered.json()["citations"][0]["title"] == "Kettle"
    for spaces in ("  \n", "\x1c\x85"):  # what str.strip() removes, including what regex \s misses
        blank = await api.client.post(f"/v1/chat/sessions/{session}/messages", headers=api.alice, json={"content": spaces})
        assert blank.status_code == 422, blank.text
        _envelope(blank.json(), "INVALID_REQUEST")
    completion = await api.client.post(
        "/v1/chat/completions", headers=api.alice, json={"messages": [{"role": "user", "content": long}]}
    )
    assert completion.status_code == 200 and completion.json()["citations"], completion.text


async def test_retrieve_documents_the_query_rules_it_keeps(api: Api) -> None:
    q = _parameter(await _spec(api), "/v1/retrieve", "q")
    assert q["required"] is True
    assert (q["schema"]["minLength"], q["schema"]["maxLength"], q["schema"]["pattern"]) == (1, 2000, NOT_BLANK)
    missing = await api.client.get("/v1/retrieve", headers=api.alice)
    assert missing.status_code == 422 and missing.json()["details"]["errors"][0]["field"] == "query.q"
    await upload(api, api.alice, "kettle.md", KETTLE)
    found = await api.client.get(
        "/v1/retrieve", headers=api.alice,
        params={"q": "kettle " + "x" * 1993, "topK": 100, "search_type": "keyword", "document_ids": "",
                "tags": "", "collection": "default", "similarity_threshold": 0.0},
    )  # fmt: skip
    assert found.status_code == 200, found.text
    assert "400" in (await _spec(api))["paths"]["/v1/retrieve"]["get"]["responses"]


async def test_chat_completions_takes_the_last_user_question_wherever_it_is(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", KETTLE)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "How often to descale the kettle?"}]},
        {"role": "user", "content": "   "},
        {"role": "tool"},
    ]
    answered = await api.client.post("/v1/chat/completions", headers=api.alice, json={"messages": messages})
    assert answered.status_code == 200, answered.text
    assert answered.json()["citations"][0]["title"] == "Kettle"
    streamed = await api.client.post("/v1/chat/completions", headers=api.alice, json={"messages": messages, "stream": True})
    assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
    none = await api.client.post("/v1/chat/completions", headers=api.alice, json={"messages": [{"role": "tool"}]})
    assert none.status_code == 400
    _envelope(none.json(), "INVALID_REQUEST")
    spec = await _spec(api)
    body = spec["components"]["schemas"]["CompletionRequest"]["properties"]["messages"]
    assert body["contains"]["properties"]["role"] == {"const": "user"}, "the schema states the rule the route keeps"
    responses = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "text/event-stream" in responses["200"]["content"] and "400" in responses


async def test_collection_document_writes_accept_what_their_schema_admits(api: Api) -> None:
    duplicated = [{"docid": "a", "text": "first"}, {"docid": "b", "text": "other"}, {"docid": "a", "text": "second"}]
    put = await api.client.put("/v1/collections/faq/documents", headers=api.alice, json=duplicated)
    assert put.status_code == 200, put.text
    assert [r["docid"] for r in put.json()] == ["a", "b"]
    api.services.ingestion.run_until_idle()
    doc_id = put.json()[0]["document_id"]
    assert "second" in (await api.client.get(f"/v1/files/{doc_id}/text", headers=api.alice)).json()["text"]
    for body in ([], [{"docid": " ", "text": "x"}], [{"docid": "a", "text": "\t"}]):
        refused = await api.client.put("/v1/collections/faq/documents", headers=api.alice, json=body)
        assert refused.status_code == 422, (body, refused.text)
    for name in ("..", "a/b", "semi;colon"):
        put = await api.client.put(f"/v1/collections/{name}/documents", headers=api.alice, json=duplicated[:1])
        pushed = await api.client.post(f"/v1/collections/{name}/documents", headers=api.alice,
                                       files={"file": ("x.jsonl", b'{"docid": "a", "text": "t"}\n')})  # fmt: skip
        assert {put.status_code, pushed.status_code} <= {404, 422}, (name, put.text, pushed.text)
    spec = await _spec(api)
    pattern = _parameter(spec, "/v1/collections/{collection}/documents", "collection", "put")["schema"]["pattern"]
    assert pattern == spec["components"]["schemas"]["NewCollection"]["properties"]["name"]["pattern"]


async def test_completing_an_upload_before_its_parts_is_a_409(api: Api) -> None:
    started = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "k.md"})
    base = f"/v1/files/uploads/{started.json()['upload_id']}"
    early = await api.client.post(f"{base}/complete", headers=api.alice, json={"sha256": hashlib.sha256(KETTLE).hexdigest()})
    assert early.status_code == 409
    _envelope(early.json(), "UPLOAD_INCOMPLETE")
    assert (await api.client.put(f"{base}/parts/1", headers=api.alice, content=KETTLE)).status_code == 200
    done = await api.client.post(f"{base}/complete", headers=api.alice, json={"sha256": hashlib.sha256(KETTLE).hexdigest()})
    assert done.status_code == 201, done.text
    bad = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "k.md", "collection": "a/b"})
    assert bad.status_code == 422, "a collection name complete() would refuse is refused up front"


async def test_files_without_a_filename_and_listing_filters_by_enum(api: Api) -> None:
    boundary = b"b0undary"
    body = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n" + KETTLE
    body += b"\r\n--b0undary--\r\n"
    response = await api.client.post(
        "/v1/files/upload", content=body,
        headers={**api.alice, "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "upload"
    api.services.ingestion.run_until_idle()
    listed = await api.client.get("/v1/files", params={"status": "completed"}, headers=api.alice)
    assert listed.status_code == 200 and listed.json()["total_count"] == 1, listed.text
    kind = listed.json()["files"][0]["file_type"]
    by_type = await api.client.get("/v1/files", params={"file_type": kind.upper()}, headers=api.alice)
    assert by_type.status_code == 200 and by_type.json()["total_count"] == 1, "file_type is matched in any case"
    for params in ({"file_type": "exe"}, {"status": "done"}):
        refused = await api.client.get("/v1/files", params=params, headers=api.alice)
        assert refused.status_code == 422, refused.text
    spec = await _spec(api)
    assert "pdf" in _parameter(spec, "/v1/files", "file_type")["schema"]["anyOf"][0]["enum"]
    batch = await api.client.post("/v1/files/upload/batch", headers=api.alice, data={"collection": "default"})
    assert batch.status_code == 422


async def test_every_error_status_is_documented_as_the_envelope(api: Api) -> None:
    spec = await _spec(api)
    envelope = "#/components/schemas/ErrorEnvelope"
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            errors = {code for code in responses if code.startswith(("4", "5"))}
            if path == "/readyz":  # no key; its 503 carries the same readiness report as its 200
                readiness = {"$ref": "#/components/schemas/Readiness"}
                assert errors == {"503"} and responses["503"]["content"]["application/json"]["schema"] == readiness
                continue
            if any("(seed " in tag for tag in operation.get("tags", [])):
                # A drop-in adapter answers in its seed's own error shape, documented under its own schema.
                assert {"401", "429"} <= errors, (method, path)
                for code in errors:
                    assert "$ref" in responses[code]["content"]["application/json"]["schema"], (method, path, code)
                continue
            if path not in ("/healthz", "/v1/files/download/{token}"):  # no key there: the signed URL is the authority
                assert {"401", "422", "429"} <= errors, (method, path)
            for code in errors:
                schema = responses[code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": envelope}, (method, path, code)
    assert "404" in spec["paths"]["/v1/files/{file_id}"]["get"]["responses"]
    assert "*/*" in spec["paths"]["/v1/files/{file_id}/content"]["get"]["responses"]["200"]["content"]


async def test_an_unknown_model_is_a_404_up_front_not_a_502(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", KETTLE)
    created = await api.client.post("/v1/chat/sessions", headers=api.alice, json={"model": "0"})
    assert created.status_code == 404
    _envelope(created.json(), "MODEL_NOT_FOUND")
    session = (await api.client.post("/v1/chat/sessions", headers=api.alice)).json()["session_id"]
    url = f"/v1/chat/sessions/{session}/messages"
    refused = await api.client.post(url, headers=api.alice, json={"content": "How often to descale?", "model": "0"})
    assert refused.status_code == 404
    _envelope(refused.json(), "MODEL_NOT_FOUND")
    answered = await api.client.post(url, headers=api.alice, json={"content": "How often to descale?", "model": "test"})
    assert answered.status_code == 200 and answered.json()["citations"], answered.text

"""``POST /v1/chat/completions`` (api/routes/completions.py): the OpenAI shape over Lectern's agent."""

from __future__ import annotations

import json

import pytest

from api.schemas import CompletionResponse
from tests.support import PUBLIC, SECRET, Api, assert_needs_a_key, upload

pytestmark = pytest.mark.anyio

ROUTES = [
    ("POST", "/v1/chat/completions"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_a_completion_answers_from_the_callers_documents_with_citations(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", PUBLIC)
    await upload(api, api.bob, "vault.md", SECRET)
    body = {"model": "lectern", "messages": [{"role": "user", "content": "How often to descale the kettle?"}]}
    response = await api.client.post("/v1/chat/completions", headers=api.alice, json=body)
    assert response.status_code == 200, response.text
    completion = CompletionResponse.model_validate(response.json())
    assert completion.object == "chat.completion" and completion.model == "lectern"
    assert completion.choices[0].message.content.endswith("[1]") and completion.choices[0].finish_reason == "stop"
    assert [c.title for c in completion.citations] == ["Kettle"]
    asked_vault = {"messages": [{"role": "user", "content": "What is the vault code?"}]}
    assert "4711" not in (await api.client.post("/v1/chat/completions", headers=api.alice, json=asked_vault)).text


async def test_a_streamed_completion_ends_with_citations_then_done(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", PUBLIC)
    body = {"stream": True, "messages": [{"role": "user", "content": "How often to descale the kettle?"}]}
    response = await api.client.post("/v1/chat/completions", headers=api.alice, json=body)
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.endswith("[1]") and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert [c["title"] for c in chunks[-1]["citations"]] == ["Kettle"]


async def test_messages_without_a_user_question_are_refused(api: Api) -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."}]}
    response = await api.client.post("/v1/chat/completions", headers=api.alice, json=body)
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_REQUEST"

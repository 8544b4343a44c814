"""``GET /v1/models`` (api/routes/models.py) and the scope check it gives ``POST /v1/chat/completions``."""

from __future__ import annotations

import json

import pytest

from tests.support import PUBLIC, SECRET, Api, assert_needs_a_key, serving, upload

pytestmark = pytest.mark.anyio

ROUTES = [("GET", "/v1/models"), ("GET", "/v1/models/lectern")]
KETTLE = [{"role": "user", "content": "How often to descale the kettle?"}]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def _ids(api: Api, headers: dict[str, str]) -> list[str]:
    response = await api.client.get("/v1/models", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    for card in body["data"]:
        assert set(card) == {"id", "object", "created", "owned_by"}, card
        assert card["object"] == "model" and isinstance(card["created"], int) and isinstance(card["owned_by"], str)
    return [card["id"] for card in body["data"]]


async def test_models_are_lectern_and_the_collections_the_key_sees(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", PUBLIC, collection="kitchen")
    await upload(api, api.bob, "vault.md", SECRET, collection="vault")
    assert await _ids(api, api.alice) == ["lectern", "lectern:kitchen"]
    assert await _ids(api, api.bob) == ["lectern", "lectern:vault"]
    assert await _ids(api, api.admin) == ["lectern", "lectern:kitchen", "lectern:vault"]
    # the same collections as /v1/collections shows each key
    for headers in (api.alice, api.bob, api.admin):
        names = [c["name"] for c in (await api.client.get("/v1/collections", headers=headers)).json()]
        assert (await _ids(api, headers))[1:] == [f"lectern:{n}" for n in names]

    one = await api.client.get("/v1/models/lectern:kitchen", headers=api.alice)
    assert one.status_code == 200 and one.json()["id"] == "lectern:kitchen" and one.json()["object"] == "model"
    assert (await api.client.get("/v1/models/lectern", headers=api.bob)).json()["id"] == "lectern"
    for unknown in ("lectern:kitchen", "lectern:nowhere", "gpt-4o"):
        hidden = await api.client.get(f"/v1/models/{unknown}", headers=api.bob)
        assert hidden.status_code == 404 and hidden.json()["error_code"] == "MODEL_NOT_FOUND", hidden.text
        assert "GET /v1/models" in hidden.json()["message"]


async def test_a_completion_over_a_collection_the_key_does_not_see_is_a_404_not_an_empty_answer(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", PUBLIC, collection="kitchen")
    for stream in (False, True):
        for model in ("lectern:kitchen", "lectern:typo"):
            refused = await api.client.post(
                "/v1/chat/completions", headers=api.bob, json={"model": model, "messages": KETTLE, "stream": stream}
            )
            assert refused.status_code == 404, refused.text
            assert refused.json()["error_code"] == "MODEL_NOT_FOUND" and refused.json()["details"] == {"model": model}
    answered = await api.client.post(
        "/v1/chat/completions", headers=api.alice, json={"model": "lectern:kitchen", "messages": KETTLE}
    )
    assert answered.status_code == 200 and [c["title"] for c in answered.json()["citations"]] == ["Kettle"]
    anything = await api.client.post(
        "/v1/chat/completions", headers=api.alice, json={"model": "gpt-4o", "messages": KETTLE}
    )
    assert anything.status_code == 200, anything.text  # a UI's default model name still means "everything"




async def test_a_chat_uis_first_calls_work_with_the_official_openai_client(api: Api) -> None:
    """What a chat UI does on a real server: list the models, pick one, stream a completion."""
    import openai

    await upload(api, api.alice, "kettle.md", PUBLIC, collection="kitchen")
    key = api.alice["Authorization"].removeprefix("Bearer ")
    with serving(api.services) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
        listed = client.models.list()
        assert [m.id for m in listed.data] == ["lectern", "lectern:kitchen"]
        assert all(m.object == "model" and isinstance(m.created, int) for m in listed.data)
        assert client.models.retrieve("lectern:kitchen").owned_by == "lectern"
        stream = client.chat.completions.create(model=listed.data[1].id, messages=KETTLE, stream=True)  # type: ignore[arg-type]
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "citric acid" in text and chunks[-1].choices[0].finish_reason == "stop"
        assert [c["title"] for c in json.loads(chunks[-1].model_dump_json())["citations"]] == ["Kettle"]
        with pytest.raises(openai.NotFoundError) as unknown:
            client.chat.completions.create(model="lectern:typo", messages=KETTLE)  # type: ignore[arg-type]
        assert unknown.value.status_code == 404 and "MODEL_NOT_FOUND" in str(unknown.value)

"""``/v1/chat/sessions`` (api/routes/chat.py): sessions, history, an answer over SSE or as JSON."""

from __future__ import annotations

import json

import pytest

from tests.support import PUBLIC, Api, assert_needs_a_key, upload

pytestmark = pytest.mark.anyio


ROUTES = [
    ("POST", "/v1/chat/sessions"),
    ("GET", "/v1/chat/sessions"),
    ("GET", "/v1/chat/sessions/x"),
    ("DELETE", "/v1/chat/sessions/x"),
    ("POST", "/v1/chat/sessions/x/messages"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_chat_over_sse_and_as_json(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", PUBLIC)
    session = (await api.client.post("/v1/chat/sessions", headers=api.alice)).json()["session_id"]
    url = f"/v1/chat/sessions/{session}/messages"
    streamed = await api.client.post(
        url, headers={**api.alice, "Accept": "text/event-stream"}, json={"content": "How often to descale?"}
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["x-accel-buffering"] == "no"
    events = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data:")]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session" and kinds[-1] == "done" and "citation" in kinds, events
    assert events[-1]["citations"][0]["title"] == "Kettle"
    plain = await api.client.post(url, headers=api.alice, json={"content": "How often to descale?"})
    assert plain.json()["content"].endswith("[1]") and plain.json()["citations"][0]["n"] == 1
    history = (await api.client.get(f"/v1/chat/sessions/{session}", headers=api.alice)).json()
    assert [m["role"] for m in history["messages"] if m["content"]][:2] == ["user", "assistant"]
    assert (await api.client.get(f"/v1/chat/sessions/{session}", headers=api.bob)).status_code == 404
    empty = await api.client.post(url, headers=api.alice, json={"content": ""})
    assert empty.status_code == 422


async def test_a_message_to_a_session_busy_with_another_turn_is_a_409_before_any_stream(api: Api) -> None:
    """The turn's lease is claimed before the response starts, so SSE clients get a status, not a
    200 stream that fails; the lease here is held as another API process's running turn would."""
    session = (await api.client.post("/v1/chat/sessions", headers=api.alice)).json()["session_id"]
    assert api.services.sessions.store.claim_turn(session, "another-process", lease_s=60)
    url = f"/v1/chat/sessions/{session}/messages"
    for accept in ("text/event-stream", "application/json"):
        busy = await api.client.post(url, headers={**api.alice, "Accept": accept}, json={"content": "Descale?"})
        assert busy.status_code == 409, busy.text
        assert busy.headers["content-type"] == "application/json"
        assert busy.json()["error_code"] == "SESSION_BUSY"
    history = (await api.client.get(f"/v1/chat/sessions/{session}", headers=api.alice)).json()
    assert history["messages"] == []  # a refused turn writes nothing
    api.services.sessions.store.release_turn(session, "another-process")
    done = await api.client.post(url, headers=api.alice, json={"content": "Descale?"})
    assert done.status_code == 200, done.text


async def test_a_session_is_renamed_by_whoever_may_see_it(api: Api) -> None:
    session_id = (await api.client.post("/v1/chat/sessions", json={}, headers=api.alice)).json()["session_id"]
    renamed = await api.client.patch(
        f"/v1/chat/sessions/{session_id}", json={"title": "Kettle care"}, headers=api.alice
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Kettle care"
    listed = (await api.client.get("/v1/chat/sessions", headers=api.alice)).json()
    assert [s["title"] for s in listed if s["id"] == session_id] == ["Kettle care"]
    other = await api.client.patch(f"/v1/chat/sessions/{session_id}", json={"title": "Mine"}, headers=api.bob)
    assert other.status_code == 404
    blank = await api.client.patch(f"/v1/chat/sessions/{session_id}", json={"title": "   "}, headers=api.alice)
    assert blank.status_code in (400, 422) and "error_code" in blank.json()

"""``/v1/collections`` (api/routes/collections.py): push JSONL, upsert by docid, list, delete."""

from __future__ import annotations

import pytest

from tests.support import Api, assert_needs_a_key

pytestmark = pytest.mark.anyio


ROUTES = [
    ("GET", "/v1/collections"),
    ("POST", "/v1/collections"),
    ("POST", "/v1/collections/c/documents"),
    ("PUT", "/v1/collections/c/documents"),
    ("GET", "/v1/collections/c/documents"),
    ("GET", "/v1/collections/c/documents/x"),
    ("DELETE", "/v1/collections/c/documents/x"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_collections_push_upsert_list_and_delete(api: Api) -> None:
    created = await api.client.post("/v1/collections", headers=api.alice, json={"name": "faq"})
    assert created.status_code == 201 and created.json() == {"name": "faq", "document_count": 0}
    lines = b'{"docid": "a", "text": "Returns are accepted within 30 days.", "__ref": "returns", "__tags": ["policy"]}\n'
    lines += b'{"docid": "b", "text": "Refunds take five working days.", "__ref": "returns"}\n'
    pushed = await api.client.post("/v1/collections/faq/documents", headers=api.alice, files={"file": ("faq.jsonl", lines)})
    assert pushed.status_code == 200 and [r["status"] for r in pushed.json()] == ["Created", "Created"]
    upsert = await api.client.put("/v1/collections/faq/documents", headers=api.alice,
                                  json=[{"docid": "a", "text": "Returns are accepted within 60 days."}, {"docid": "c", "text": "New."}])  # fmt: skip
    assert [r["status"] for r in upsert.json()] == ["Modified", "Created"]
    api.services.ingestion.run_until_idle()
    listed = (await api.client.get("/v1/collections/faq/documents", headers=api.alice)).json()
    assert listed["total_count"] == 3 and {d["status"] for d in listed["documents"]} == {"Indexed"}
    assert {c["name"]: c["document_count"] for c in (await api.client.get("/v1/collections", headers=api.alice)).json()}["faq"] == 3
    assert (await api.client.get("/v1/collections/faq/documents", headers=api.bob)).json()["total_count"] == 0
    bad = await api.client.post("/v1/collections/faq/documents", headers=api.alice, files={"file": ("x.jsonl", b'{"text": "no id"}\n')})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_JSONL"
    for line in (b'{"docid": "n\\u0000", "text": "t"}\n', b'{"docid": "n", "text": "t", "__tags": ["a\\u0000"]}\n'):
        nul = await api.client.post("/v1/collections/faq/documents", headers=api.alice, files={"file": ("n.jsonl", line)})
        assert nul.status_code == 400 and "NUL" in nul.json()["message"], "PostgreSQL refuses NUL: a 400, not a 500"
    doc_id = listed["documents"][0]["document_id"]
    assert (await api.client.delete(f"/v1/collections/faq/documents/{doc_id}", headers=api.bob)).status_code == 404
    assert (await api.client.delete(f"/v1/collections/other/documents/{doc_id}", headers=api.alice)).status_code == 404
    deleted = await api.client.delete(f"/v1/collections/faq/documents/{doc_id}", headers=api.alice)  # its owner
    assert deleted.status_code == 200 and deleted.json()["document_id"] == doc_id


async def test_under_the_admin_delete_policy_a_user_may_not_delete_its_collection_document(api: Api) -> None:
    api.services.settings.http.delete_policy = "admin"
    pushed = await api.client.put("/v1/collections/faq/documents", headers=api.alice, json=[{"docid": "a", "text": "A."}])
    doc_id = pushed.json()[0]["document_id"]
    denied = await api.client.delete(f"/v1/collections/faq/documents/{doc_id}", headers=api.alice)
    assert denied.status_code == 403 and denied.json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.get(f"/v1/collections/faq/documents/{doc_id}", headers=api.alice)).status_code == 200
    deleted = await api.client.delete(f"/v1/collections/faq/documents/{doc_id}", headers=api.admin)
    assert deleted.status_code == 200 and deleted.json()["document_id"] == doc_id

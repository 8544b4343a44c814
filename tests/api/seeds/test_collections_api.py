"""Seed 003, the hosted collections API (api/seeds/collections_api.py): the seed's documented
requests replayed unchanged (only host and key), each documented response field checked by name
and type, its errors in the seed's ``{message, data}`` envelope, and the same visibility as ``/v1``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.seeds.collections_api import stable_collection_id
from api.services import Services
from ingestion.catalog.documents import update_document
from tests.support import REPO, Api, bearer, make_settings, serving

pytestmark = pytest.mark.anyio

BASE = "/api/v1/collections"
HONDA = (  # the seed's bulk example, verbatim
    b'{"docid":"Cars/HondaCivic2015.rmd:1","text":"The Honda Civic 2015 is available in [...]","__ref":null,"__tags":["Cars","Honda-Civic-2015"]}\n'
    b'{"docid":"Cars/HondaCivic2015.rmd:2","text":"The engine of the Honda Civic 2015 is [...]","__ref":null,"__tags":["Cars","Honda-Civic-2015"]}\n'
    b'{"docid":"Cars/HondaCivic2015.rmd:3","text":"The color of the Honda Civic 2015 is Yellow [...]","__ref":null,"__tags":["Cars","Honda-Civic-2015"]}\n'
)
PUT_EXAMPLE = {"name": "document-name", "contents": "Content of my document", "reference": None,
               "tags": ["products", "my-product"]}  # fmt: skip


def _ok(response: httpx.Response, message: str | None = None) -> Any:
    """The seed's success envelope: exactly ``message`` and ``data``; returns ``data``."""
    assert response.status_code in (200, 201), response.text
    body = response.json()
    assert set(body) == {"message", "data"} and body["message"] == message, body
    return body["data"]


def _refused(response: httpx.Response, status: int, code: str) -> None:
    """An error in the seed's envelope: ``message`` says why, ``data`` is null; the code is a header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "data"} and body["data"] is None and isinstance(body["message"], str), body
    assert body["message"] and response.headers["x-error-code"] == code
    assert response.headers["x-request-id"].startswith("req-")


async def _push(api: Api, headers: dict[str, str], collection: str, body: bytes) -> list[dict[str, str]]:
    response = await api.client.post(f"{BASE}/{collection}/documents", headers=headers,
                                     files={"documents": ("documents.jsonl", body)})  # fmt: skip
    data: list[dict[str, str]] = _ok(response)
    return data


ROUTES = [("GET", BASE), ("POST", BASE), ("GET", f"{BASE}/c"), ("POST", f"{BASE}/c/documents"),
          ("PUT", f"{BASE}/c/documents"), ("GET", f"{BASE}/c/documents"), ("GET", f"{BASE}/c/documents/x"),
          ("DELETE", f"{BASE}/c/documents/x")]  # fmt: skip


async def test_every_route_wants_a_key_and_answers_in_the_seed_envelope(api: Api) -> None:
    for method, path in ROUTES:
        for headers in ({}, {"Authorization": "Bearer lk_wrong"}):
            _refused(await api.client.request(method, path, headers=headers), 401, "UNAUTHORIZED")


async def test_the_seed_examples_push_put_list_view_and_delete(api: Api) -> None:
    pushed = await _push(api, api.alice, "cars", HONDA)
    assert [p["name"] for p in pushed] == [f"Cars/HondaCivic2015.rmd:{n}" for n in (1, 2, 3)]
    assert all(set(p) == {"name", "documentId"} and isinstance(p["documentId"], str) for p in pushed)

    created = _ok(await api.client.put(f"{BASE}/cars/documents", headers=api.alice, json=PUT_EXAMPLE))
    assert set(created) == {"documentId", "state"} and created["state"] == "Created"
    changed = {**PUT_EXAMPLE, "contents": "Content of my document, revised", "reference": "catalogue"}
    modified = _ok(await api.client.put(f"{BASE}/cars/documents", headers=api.alice, json=changed))
    assert modified == {"documentId": created["documentId"], "state": "Modified"}

    queued = _ok(await api.client.get(f"{BASE}/cars/documents/{created['documentId']}", headers=api.alice))
    assert queued["state"] == "Queued"
    api.services.ingestion.run_until_idle()
    viewed = _ok(await api.client.get(f"{BASE}/cars/documents/{created['documentId']}", headers=api.alice))
    assert viewed == {"id": created["documentId"], "name": "document-name", "state": "Indexed",
                      "contents": "Content of my document, revised", "reference": "catalogue"}  # fmt: skip

    first = _ok(await api.client.get(f"{BASE}/cars/documents", params={"limit": 3}, headers=api.alice))
    assert first["pageInfo"] == {"currentPage": 1, "hasMoreItems": True}
    second = _ok(await api.client.get(f"{BASE}/cars/documents", params={"page": 2, "limit": 3}, headers=api.alice))
    assert second["pageInfo"] == {"currentPage": 2, "hasMoreItems": False}
    items = first["items"] + second["items"]
    assert all(set(i) == {"id", "name", "reference", "tags"} for i in items)
    assert all(isinstance(i["id"], str) and isinstance(i["tags"], list) for i in items)
    assert {i["name"]: (i["reference"], i["tags"]) for i in items} == {
        **{p["name"]: (None, ["Cars", "Honda-Civic-2015"]) for p in pushed},
        "document-name": ("catalogue", ["my-product", "products"]),  # Lectern keeps tags sorted
    }

    removed = await api.client.delete(f"{BASE}/cars/documents/{created['documentId']}", headers=api.alice)
    assert _ok(removed, "Document removed.") is None
    gone = await api.client.get(f"{BASE}/cars/documents/{created['documentId']}", headers=api.alice)
    _refused(gone, 404, "DOCUMENT_NOT_FOUND")
    v1 = (await api.client.get("/v1/collections/cars/documents", headers=api.alice)).json()
    assert {d["document_id"] for d in v1["documents"]} == {p["documentId"] for p in pushed}  # the same documents


async def test_a_collection_is_addressed_by_its_id_or_its_name(api: Api) -> None:
    made = await api.client.post(BASE, headers=api.alice, json={"name": "faq"})
    assert made.status_code == 201
    faq = _ok(made)
    assert faq == {"id": stable_collection_id("faq"), "name": "faq", "documentCount": 0}
    listed = _ok(await api.client.get(BASE, headers=api.alice))
    assert listed["pageInfo"] == {"currentPage": 1, "hasMoreItems": False} and listed["items"] == [faq]
    pushed = await _push(api, api.alice, faq["id"], HONDA)  # by id
    assert _ok(await api.client.get(f"{BASE}/{faq['id']}", headers=api.alice))["documentCount"] == 3
    by_name = _ok(await api.client.get(f"{BASE}/faq/documents", headers=api.alice))["items"]
    by_id = _ok(await api.client.get(f"{BASE}/{faq['id']}/documents", headers=api.alice))["items"]
    # One push is one transaction: its documents share a created_at, so compare them as a set.
    assert by_name == by_id and {i["id"] for i in by_id} == {p["documentId"] for p in pushed}
    view = await api.client.get(f"{BASE}/{faq['id'].upper()}/documents/{pushed[0]['documentId']}", headers=api.alice)
    assert _ok(view)["name"] == "Cars/HondaCivic2015.rmd:1"  # any spelling of the UUID
    unknown = "0196663c-3a15-72c7-98e6-b496f8e8bb8c"
    _refused(await api.client.get(f"{BASE}/{unknown}/documents", headers=api.alice), 404, "COLLECTION_NOT_FOUND")
    _refused(await api.client.put(f"{BASE}/{unknown}/documents", headers=api.alice, json=PUT_EXAMPLE),
             404, "COLLECTION_NOT_FOUND")  # fmt: skip
    _refused(await api.client.get(f"{BASE}/nothing-here/documents", headers=api.alice), 404, "COLLECTION_NOT_FOUND")
    hex_name = "0123456789abcdef0123456789abcdef"  # a UUID to uuid.UUID, but not spelt as an id: a name
    assert (
        _ok(await api.client.put(f"{BASE}/{hex_name}/documents", headers=api.alice, json=PUT_EXAMPLE))["state"]
        == "Created"
    )


async def test_lines_past_the_limit_are_ignored_and_the_message_says_how_many(api: Api) -> None:
    api.services.settings.ingestion.max_jsonl_lines = 2  # the seed's 1,000, made small
    lines = b"".join(json.dumps({"docid": f"d{n}", "text": f"Document number {n}."}).encode() + b"\n" for n in range(5))
    response = await api.client.post(f"{BASE}/big/documents", headers=api.alice,
                                     files={"documents": ("documents.jsonl", lines + b"\n\n")})  # fmt: skip
    data = _ok(response, "3 line(s) past the first 2 were ignored.")
    assert [d["name"] for d in data] == ["d0", "d1"]
    listed = _ok(await api.client.get(f"{BASE}/big/documents", headers=api.alice))["items"]
    assert [i["name"] for i in listed] == ["d0", "d1"]


async def test_errors_come_in_the_seed_envelope(api: Api) -> None:
    no_id = await api.client.post(f"{BASE}/cars/documents", headers=api.alice,
                                  files={"documents": ("x.jsonl", b'{"text": "no id"}\n')})  # fmt: skip
    _refused(no_id, 400, "INVALID_JSONL")
    _refused(await api.client.post(f"{BASE}/cars/documents", headers=api.alice,
                                   files={"file": ("x.jsonl", HONDA)}), 422, "INVALID_REQUEST")  # fmt: skip
    missing = await api.client.put(f"{BASE}/cars/documents", headers=api.alice, json={"name": "n"})
    _refused(missing, 422, "INVALID_REQUEST")
    assert "contents" in missing.json()["message"]
    bad_name = await api.client.put(f"{BASE}/bad!name/documents", headers=api.alice, json=PUT_EXAMPLE)
    _refused(bad_name, 422, "INVALID_REQUEST")
    assert "collection_id" in bad_name.json()["message"]
    reader = bearer(api, "readonly", "alice-reader", user_id="alice")
    _refused(await api.client.put(f"{BASE}/cars/documents", headers=reader, json=PUT_EXAMPLE), 403, "READ_ONLY_KEY")
    _refused(await api.client.get(f"{BASE}/cars/documents/nope", headers=api.alice), 404, "COLLECTION_NOT_FOUND")
    created = _ok(await api.client.put(f"{BASE}/cars/documents", headers=api.alice, json=PUT_EXAMPLE))
    _refused(await api.client.get(f"{BASE}/cars/documents/nope", headers=api.alice), 404, "DOCUMENT_NOT_FOUND")
    api.services.settings.http.delete_policy = "admin"
    denied = await api.client.delete(f"{BASE}/cars/documents/{created['documentId']}", headers=api.alice)
    _refused(denied, 403, "ACCESS_DENIED")


async def test_a_body_over_the_size_limit_is_refused_in_the_seed_envelope(api: Api) -> None:
    """The body-size limit answers before any route runs (api/body_limit.py): on these paths, in this envelope."""
    small = dataclasses.replace(api.services, settings=api.services.settings.with_overrides(max_upload_bytes=1000))
    transport = httpx.ASGITransport(app=create_app(services=small))
    big = b"x" * (1100 * 1024 + 1000)  # past the limit and the multipart allowance (1 MiB)
    async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
        pushed = await client.post(f"{BASE}/cars/documents", headers=api.alice, files={"documents": ("d.jsonl", big)})
        _refused(pushed, 413, "FILE_TOO_LARGE")
        put = await client.put(f"{BASE}/cars/documents", headers=api.alice,
                               json={**PUT_EXAMPLE, "contents": big.decode()})  # fmt: skip
        _refused(put, 413, "FILE_TOO_LARGE")
        own = await client.post("/v1/collections/cars/documents", headers=api.alice, files={"file": ("d.jsonl", big)})
        assert own.status_code == 413 and own.json()["error_code"] == "FILE_TOO_LARGE"  # Lectern's own: its envelope


async def test_a_stored_or_failed_document_is_cancelled(api: Api) -> None:
    created = _ok(await api.client.put(f"{BASE}/cars/documents", headers=api.alice, json=PUT_EXAMPLE))
    api.services.ingestion.run_until_idle()
    api.services.ingestion.stop_indexing(created["documentId"])
    path = f"{BASE}/cars/documents/{created['documentId']}"
    assert _ok(await api.client.get(path, headers=api.alice))["state"] == "Cancelled"
    with api.services.ingestion.db.transaction() as conn:
        update_document(conn, created["documentId"], status="failed", failure_reason="extraction_failed")
    assert _ok(await api.client.get(path, headers=api.alice))["state"] == "Cancelled"
    again = _ok(await api.client.put(f"{BASE}/cars/documents", headers=api.alice, json=PUT_EXAMPLE))
    assert again["state"] == "Modified"
    assert _ok(await api.client.get(path, headers=api.alice))["state"] == "Queued"  # sent again: queued again


async def test_a_user_key_sees_through_the_adapter_exactly_what_it_sees_through_v1(api: Api) -> None:
    alices = await _push(api, api.alice, "shared", HONDA)
    bobs = _ok(await api.client.put(f"{BASE}/shared/documents", headers=api.bob, json=PUT_EXAMPLE))
    api.services.ingestion.run_until_idle()
    assigned = await api.client.post(f"/v1/files/{alices[0]['documentId']}/assignments", headers=api.admin,
                                     json={"user_id": "bob"})  # fmt: skip
    assert assigned.status_code == 201
    for who, headers in (("alice", api.alice), ("bob", api.bob), ("admin", api.admin)):
        v1 = (await api.client.get("/v1/collections/shared/documents", headers=headers)).json()["documents"]
        seed = _ok(await api.client.get(f"{BASE}/shared/documents", headers=headers))["items"]
        assert [i["id"] for i in seed] == [d["document_id"] for d in v1], who
        for doc_id in [p["documentId"] for p in alices] + [bobs["documentId"]]:
            status_v1 = (
                await api.client.get(f"/v1/collections/shared/documents/{doc_id}", headers=headers)
            ).status_code
            status_seed = (await api.client.get(f"{BASE}/shared/documents/{doc_id}", headers=headers)).status_code
            assert status_seed == status_v1, (who, doc_id)
    bob_sees = _ok(await api.client.get(f"{BASE}/shared/documents", headers=api.bob))["items"]
    assert {i["id"] for i in bob_sees} == {alices[0]["documentId"], bobs["documentId"]}
    carol = bearer(api, "user", "carol")
    _refused(await api.client.get(f"{BASE}/shared/documents", headers=carol), 404, "COLLECTION_NOT_FOUND")
    stranger = await api.client.delete(f"{BASE}/shared/documents/{alices[1]['documentId']}", headers=api.bob)
    _refused(stranger, 404, "DOCUMENT_NOT_FOUND")
    assert (await api.client.get(f"/v1/files/{alices[1]['documentId']}", headers=api.alice)).status_code == 200


async def test_the_adapter_has_its_tag_and_one_setting_switches_it_off(api: Api, tmp_path: Path) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    tagged = {
        p for p, ops in spec["paths"].items() for op in ops.values() if "collections API (seed 003)" in op["tags"]
    }
    assert tagged == {BASE, f"{BASE}/{{collection_id}}", f"{BASE}/{{collection_id}}/documents",
                      f"{BASE}/{{collection_id}}/documents/{{document_id}}"}  # fmt: skip
    off = Services.build(make_settings(tmp_path / "off", seed_collections=False))
    try:
        transport = httpx.ASGITransport(app=create_app(services=off))
        async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
            assert not any(p.startswith(BASE) for p in (await client.get("/openapi.json")).json()["paths"])
            assert (await client.get(BASE)).status_code == 404
    finally:
        off.close()


def _bodies(output: str) -> list[Any]:
    """The JSON bodies curl printed one after the other (without newlines between them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(output):
        body, at = decoder.raw_decode(output, at)
        found.append(body)
    return found


def test_the_readme_curl_lines_work_against_a_real_server(services: Services, tmp_path: Path) -> None:
    """README's "Coming from the hosted collections API" lines, run by bash and curl with only the
    host and key changed: the seed's multipart ``documents`` field, its ``PUT``, list, view, delete."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    script = readme.split("## Coming from the hosted collections API (seed 003)", 1)[1].split("```sh\n", 1)[1]
    script = script.split("```", 1)[0]
    key = services.keys.create(role="user", name="alice")[1]  # type: ignore[arg-type]
    (tmp_path / "documents.jsonl").write_bytes(HONDA)
    with serving(services) as base:
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:8000", base)],
                             cwd=tmp_path, env={**os.environ, "KEY": key}, capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    pushed, listed, viewed, removed, by_id = _bodies(ran.stdout)
    assert [d["name"] for d in pushed["data"]] == [f"Cars/HondaCivic2015.rmd:{n}" for n in (1, 2, 3)]
    assert listed["data"]["pageInfo"] == {"currentPage": 1, "hasMoreItems": False}
    assert len(listed["data"]["items"]) == 4 and viewed["data"]["name"] == "document-name"
    assert viewed["data"]["state"] in ("Queued", "Indexed") and viewed["data"]["contents"] == PUT_EXAMPLE["contents"]
    assert removed == {"message": "Document removed.", "data": None}
    assert {i["id"] for i in by_id["data"]["items"]} == {d["documentId"] for d in pushed["data"]}  # one created_at

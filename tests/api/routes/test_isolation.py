"""Who sees what, on every route that returns document data.

One world: ``alice`` owns a file and a collection document, an admin assigns both to
``bob``, ``carol`` owns only a file of her own, ``root`` is an admin, and ``reader`` is a
read-only key acting as ``bob`` (it sees what bob sees and writes nothing). Each route is a
probe that answers "did this caller get the document?"; the table says who must.
A detail route must answer 200 or 404 (nothing else); a listing, search or chat
answer must contain the document (or its secret) or not mention it at all. The row
"expired document": once the clock reaches a document's expiry, nobody sees it on any
route, its owner and admins included, before any sweep.

Policies are rows of the same table: a ``public_content`` document is seen by exactly the same
callers (the policy makes its original downloadable by its public URL, without a key; it does
not list it, nor let anyone search or chat over it), and a read-only key is refused by every
route that writes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from api.app import create_app
from core.access import is_expired
from ingestion.catalog.documents import update_document
from tests.support import Api, ManualClock, bearer, set_policies, upload

pytestmark = pytest.mark.anyio

VAULT = b"# Vault\n\nThe vault code for the Zurich office is 4711. Keep it private.\n"
KETTLE = b"# Kettle\n\nDescale the kettle every month with citric acid.\n"
GATE = b'{"docid": "gate", "text": "The harbour gate password is marlin-9. Tell nobody."}\n'
GATE_SECOND = b'{"docid": "crane", "text": "The crane moves containers onto the ships."}\n'

WHO = ("owner", "assignee", "stranger", "admin", "reader")
SEES_ALICES = {"owner": True, "assignee": True, "stranger": False, "admin": True, "reader": True}


@dataclass(frozen=True)
class Secret:
    """One of alice's documents, the question that finds it, and the words only it contains."""

    document_id: str
    question: str
    words: str
    filename: str
    key: str


@dataclass
class World:
    api: Api
    keys: dict[str, dict[str, str]]
    vault: Secret
    gate: Secret
    crane_id: str
    carols: str


async def _world(api: Api) -> World:
    carol = bearer(api, "user", "carol")
    vault = (await upload(api, api.alice, "offices/vault.md", VAULT, key="vault-key"))["file_id"]
    kettle = (await upload(api, carol, "kettle.md", KETTLE))["file_id"]
    pushed = await api.client.post(
        "/v1/collections/ledger/documents", headers=api.alice, files={"file": ("ledger.jsonl", GATE + GATE_SECOND)}
    )
    assert pushed.status_code == 200, pushed.text
    gate, crane = (r["document_id"] for r in pushed.json())
    api.services.ingestion.run_until_idle()
    for document_id in (vault, gate):
        assigned = await api.client.post(
            f"/v1/files/{document_id}/assignments", headers=api.admin, json={"user_id": "bob"}
        )
        assert assigned.status_code == 201, assigned.text
    return World(
        api=api,
        keys={
            "owner": api.alice,
            "assignee": api.bob,
            "stranger": carol,
            "admin": api.admin,
            "reader": bearer(api, "readonly", "bob-reader", user_id="bob"),
        },
        vault=Secret(vault, "What is the vault code for the Zurich office?", "4711", "offices/vault.md", "vault-key"),
        gate=Secret(gate, "What is the harbour gate password?", "marlin-9", "gate", "gate"),
        crane_id=crane,
        carols=kettle,
    )


@pytest.fixture
async def world(api: Api) -> World:
    return await _world(api)


Probe = Callable[[World, dict[str, str], Secret], Awaitable[bool]]


def _detail(path: str) -> Probe:
    async def probe(world: World, headers: dict[str, str], secret: Secret) -> bool:
        response = await world.api.client.get(path.format(id=secret.document_id), headers=headers)
        assert response.status_code in (200, 404), (path, response.status_code, response.text)
        if response.status_code == 404:
            assert response.json()["error_code"] == "DOCUMENT_NOT_FOUND"
            return False
        return True

    return probe


async def _download_url(world: World, headers: dict[str, str], secret: Secret) -> bool:
    """Whoever may read a document may sign a URL to it (which then serves its bytes without a key)."""
    response = await world.api.client.post(f"/v1/files/{secret.document_id}/download-url", headers=headers)
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        assert response.json()["error_code"] == "DOCUMENT_NOT_FOUND"
        return False
    fetched = await world.api.client.get(response.json()["url"])
    assert fetched.status_code == 200 and secret.words.encode() in fetched.content
    return True


def _lookup(kind: str) -> Probe:
    """``/v1/files/by-name/...`` or ``/v1/files/by-key/...``: 200 with this document, or a 404."""

    async def probe(world: World, headers: dict[str, str], secret: Secret) -> bool:
        value = secret.filename if kind == "name" else secret.key
        response = await world.api.client.get(f"/v1/files/by-{kind}/{value}", headers=headers)
        assert response.status_code in (200, 404), (kind, response.status_code, response.text)
        if response.status_code == 404:
            assert response.json()["error_code"] == "DOCUMENT_NOT_FOUND"
            return False
        assert response.json()["file_id"] == secret.document_id
        return True

    return probe


async def _files_list(world: World, headers: dict[str, str], secret: Secret) -> bool:
    found = (await world.api.client.get("/v1/files", params={"limit": 100}, headers=headers)).json()
    return secret.document_id in {f["file_id"] for f in found["files"]}


async def _collection_documents(world: World, headers: dict[str, str], secret: Secret) -> bool:
    found = (await world.api.client.get("/v1/collections/ledger/documents", headers=headers)).json()
    return secret.document_id in {d["document_id"] for d in found["documents"]}


async def _seed_collection_documents(world: World, headers: dict[str, str], secret: Secret) -> bool:
    """Seed 003's listing (api/seeds/collections_api.py): a collection the key sees nothing in is a 404."""
    response = await world.api.client.get("/api/v1/collections/ledger/documents", headers=headers)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200 and secret.document_id in {d["id"] for d in response.json()["data"]["items"]}


async def _seed_collection_document(world: World, headers: dict[str, str], secret: Secret) -> bool:
    response = await world.api.client.get(f"/api/v1/collections/ledger/documents/{secret.document_id}", headers=headers)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200 and secret.words in response.json()["data"]["contents"]


async def _retrieve(world: World, headers: dict[str, str], secret: Secret) -> bool:
    response = await world.api.client.get("/v1/retrieve", params={"q": secret.question, "topK": 10}, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    seen = any(r["document_id"] == secret.document_id for r in results)
    assert seen == any(secret.words in r["snippet"] for r in results)
    return seen


async def _retrieve_by_source_url(world: World, headers: dict[str, str], secret: Secret) -> bool:
    """Naming the document by its URL (``source_urls``) narrows the search; it never widens access."""
    body = {"q": secret.question, "source_urls": [f"http://lectern.test/v1/files/{secret.document_id}/content"]}
    response = await world.api.client.post("/v1/retrieve", json=body, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert {r["document_id"] for r in results} <= {secret.document_id}
    return bool(results)


async def _session_message(world: World, headers: dict[str, str], secret: Secret) -> bool:
    """Asking about exactly this document (``document_ids``) must not widen anyone's access."""
    session = (await world.api.client.post("/v1/chat/sessions", headers=headers)).json()["session_id"]
    response = await world.api.client.post(
        f"/v1/chat/sessions/{session}/messages",
        headers=headers,
        json={"content": secret.question, "document_ids": [secret.document_id]},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    cited = any(c["document_id"] == secret.document_id for c in answer["citations"])
    assert cited == (secret.words in answer["content"]), answer
    return cited


async def _completions(world: World, headers: dict[str, str], secret: Secret) -> bool:
    response = await world.api.client.post(
        "/v1/chat/completions", headers=headers, json={"messages": [{"role": "user", "content": secret.question}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    cited = any(c["document_id"] == secret.document_id for c in body["citations"])
    assert cited == (secret.words in body["choices"][0]["message"]["content"]), body
    return cited


FILE_ROUTES: dict[str, Probe] = {
    "GET /v1/files": _files_list,
    "GET /v1/files/{id}": _detail("/v1/files/{id}"),
    "GET /v1/files/{id}/status": _detail("/v1/files/{id}/status"),
    "GET /v1/files/{id}/text": _detail("/v1/files/{id}/text"),
    "GET /v1/files/{id}/chunks": _detail("/v1/files/{id}/chunks"),
    "GET /v1/files/{id}/pages": _detail("/v1/files/{id}/pages"),
    "GET /v1/files/{id}/pages/{n}": _detail("/v1/files/{id}/pages/1"),
    "GET /v1/files/{id}/content": _detail("/v1/files/{id}/content"),
    "POST /v1/files/{id}/download-url": _download_url,
    "GET /v1/files/by-name/{path}": _lookup("name"),
    "GET /v1/files/by-key/{key}": _lookup("key"),
    "GET /v1/retrieve": _retrieve,
    "POST /v1/retrieve (source_urls)": _retrieve_by_source_url,
}
COLLECTION_ROUTES: dict[str, Probe] = {
    "GET /v1/collections/ledger/documents": _collection_documents,
    "GET /v1/collections/ledger/documents/{id}": _detail("/v1/collections/ledger/documents/{id}"),
    "GET /api/v1/collections/ledger/documents (seed 003)": _seed_collection_documents,
    "GET /api/v1/collections/ledger/documents/{id} (seed 003)": _seed_collection_document,
    "GET /v1/files/{id} (a collection document)": _detail("/v1/files/{id}"),
    "POST /v1/files/{id}/download-url (a collection document)": _download_url,
    "GET /v1/files/by-key/{docid} (a collection document)": _lookup("key"),
    "GET /v1/retrieve (a collection document)": _retrieve,
    "POST /v1/retrieve (source_urls, a collection document)": _retrieve_by_source_url,
}
CHAT_ROUTES: dict[str, Probe] = {
    "POST /v1/chat/sessions/{id}/messages": _session_message,
    "POST /v1/chat/completions": _completions,
}


async def _digitization_list(world: World, headers: dict[str, str], secret: Secret) -> bool:
    found = (await world.api.client.get("/api/v2/files", params={"limit": 100}, headers=headers)).json()
    return secret.document_id in {f["image_id"] for f in found["items"]}


async def _digitization_search(world: World, headers: dict[str, str], secret: Secret) -> bool:
    body = {"query": secret.question, "limit": 10}
    response = await world.api.client.post("/api/v2/files/search", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return any(hit["document_id"] == secret.document_id for hit in response.json()["items"])


DIGITIZATION_ROUTES: dict[str, Probe] = {  # seed 000's adapter (api/seeds/digitization_api.py)
    "GET /api/v2/files": _digitization_list,
    **{f"GET /api/v2/files/{{id}}{tail}": _detail(f"/api/v2/files/{{id}}{tail}") for tail in (
        "", "/processing-status", "/digitization", "/digitization/status", "/digitization/pages/1", "/text",
        "/chunks", "/download-url")},
    "POST /api/v2/files/search": _digitization_search,
}  # fmt: skip


SEES_NOTHING = dict.fromkeys(WHO, False)


async def _walk(world: World, routes: dict[str, Probe], secret: Secret, sees: dict[str, bool] = SEES_ALICES) -> None:
    wrong = []
    for route, probe in routes.items():
        for who in WHO:
            seen = await probe(world, world.keys[who], secret)
            if seen != sees[who]:
                wrong.append(f"{route}: the {who} {'saw' if seen else 'did not see'} it")
    assert wrong == []


async def test_files_routes_show_a_file_to_exactly_its_owner_assignee_and_admins(world: World) -> None:
    await _walk(world, FILE_ROUTES, world.vault)


async def test_the_digitization_adapter_shows_a_file_to_exactly_who_v1_shows_it(world: World) -> None:
    await _walk(world, DIGITIZATION_ROUTES, world.vault)


async def test_collection_routes_show_a_document_to_exactly_its_owner_assignee_and_admins(world: World) -> None:
    await _walk(world, COLLECTION_ROUTES, world.gate)


async def test_chat_routes_answer_from_a_document_for_exactly_its_owner_assignee_and_admins(world: World) -> None:
    await _walk(world, CHAT_ROUTES, world.vault)
    await _walk(world, CHAT_ROUTES, world.gate)


async def test_an_expired_document_is_gone_for_everyone_on_every_route(world: World) -> None:
    """Admins included, from the minute of its expiry, with no sweep (nor any write) in between;
    a download URL issued before then stops working too."""
    api = world.api
    with ManualClock("2026-06-01T12:00:00Z") as clock:
        with api.services.ingestion.db.transaction() as conn:
            for secret in (world.vault, world.gate):
                update_document(conn, secret.document_id, expires_at="2026-06-01T12:30:00Z")
        issued = await api.client.post(f"/v1/files/{world.vault.document_id}/download-url", headers=api.alice)
        clock.now = "2026-06-01T12:29:00Z"
        await _walk(
            world, {"GET /v1/retrieve": _retrieve, "GET /v1/files/{id}": _detail("/v1/files/{id}")}, world.vault
        )

        clock.now = "2026-06-01T12:30:00Z"
        await _walk(world, FILE_ROUTES, world.vault, SEES_NOTHING)
        await _walk(world, COLLECTION_ROUTES, world.gate, SEES_NOTHING)
        await _walk(world, CHAT_ROUTES, world.vault, SEES_NOTHING)
        fetched = await api.client.get(issued.json()["url"])
        assert fetched.status_code == 403 and fetched.json()["details"]["reason"] == "the file expired"
        listed = (await api.client.get("/v1/collections", headers=world.keys["admin"])).json()
        assert {c["name"]: c["document_count"] for c in listed} == {"default": 1, "ledger": 1}
        assigned = await api.client.post(
            f"/v1/files/{world.vault.document_id}/assignments", headers=api.admin, json={"user_id": "carol"}
        )
        assert assigned.status_code == 404  # nothing left to assign, even for an admin
        assert is_expired(api.services.ingestion.get(world.vault.document_id).expires_at)  # hidden, not yet swept


MANAGES = {"owner": 200, "assignee": 403, "stranger": 404, "admin": 200, "reader": 403}
"""Who may see a document's assignees (and un-assign): its owner and admins; an assignee knows the
document exists (403), a stranger does not (404, as for reads)."""


async def test_only_the_owner_and_admins_see_a_documents_assignees(world: World) -> None:
    for secret in (world.vault, world.gate):
        for who in WHO:
            response = await world.api.client.get(
                f"/v1/files/{secret.document_id}/assignments", headers=world.keys[who]
            )
            assert response.status_code == MANAGES[who], (who, response.text)
            if response.status_code == 200:
                assert response.json()["assignees"] == [{"user_id": "bob"}], who


async def test_listings_hold_exactly_what_each_caller_sees(world: World) -> None:
    """The other side of the table: nobody but the admin sees carol's file, nor the unassigned
    collection document, and every listing shows the stranger its own file."""
    client, keys = world.api.client, world.keys
    expected_files = {
        "owner": {world.vault.document_id},
        "assignee": {world.vault.document_id},
        "reader": {world.vault.document_id},
        "stranger": {world.carols},
        "admin": {world.vault.document_id, world.carols},
    }
    expected_ledger = {
        "owner": {world.gate.document_id, world.crane_id},
        "assignee": {world.gate.document_id},
        "reader": {world.gate.document_id},
        "stranger": set(),
        "admin": {world.gate.document_id, world.crane_id},
    }
    for who in WHO:
        files = (await client.get("/v1/files", headers=keys[who])).json()
        assert {f["file_id"] for f in files["files"]} == expected_files[who] and files["total_count"] == len(
            expected_files[who]
        ), who
        ledger = (await client.get("/v1/collections/ledger/documents", headers=keys[who])).json()
        assert {d["document_id"] for d in ledger["documents"]} == expected_ledger[who], who
        assert ledger["total_count"] == len(expected_ledger[who]), who
        crane = await client.get(f"/v1/collections/ledger/documents/{world.crane_id}", headers=keys[who])
        assert crane.status_code == (404 if who in ("assignee", "reader", "stranger") else 200), who


async def test_collections_listing_counts_the_documents_each_caller_sees(world: World) -> None:
    """A user assigned a document in someone else's collection sees that collection, counting
    only the documents it may see (before the fix it saw only collections it owned)."""
    expected = {
        "owner": {"default": 1, "ledger": 2},
        "assignee": {"default": 1, "ledger": 1},
        "reader": {"default": 1, "ledger": 1},
        "stranger": {"default": 1},
        "admin": {"default": 2, "ledger": 2},
    }
    for who in WHO:
        listed = (await world.api.client.get("/v1/collections", headers=world.keys[who])).json()
        assert {c["name"]: c["document_count"] for c in listed} == expected[who], who


async def test_a_public_document_downloads_by_its_url_without_a_key_but_is_seen_by_the_same_callers(
    world: World,
) -> None:
    """``public_content`` is about the original's URL, not search visibility: every route keeps
    the table above (the stranger still cannot list, look up, search or chat over it), while the
    URL that the callers who see it are shown fetches the bytes with no key at all."""
    set_policies(world.api, world.vault.document_id, ["public_content"])
    await _walk(world, FILE_ROUTES, world.vault)
    await _walk(world, CHAT_ROUTES, world.vault)
    shown = set()
    for who in WHO:
        detail = await world.api.client.get(f"/v1/files/{world.vault.document_id}", headers=world.keys[who])
        if SEES_ALICES[who]:
            shown.add(detail.json()["public_url"])
    (url,) = shown
    fetched = await world.api.client.get(url)  # anyone holding it: no Authorization header
    assert fetched.status_code == 200 and world.vault.words.encode() in fetched.content
    set_policies(world.api, world.vault.document_id, [])
    refused = await world.api.client.get(url)
    assert refused.status_code == 403 and refused.json()["error_code"] == "DOWNLOAD_URL_INVALID"


READ_ONLY_SAFE = {
    "POST /v1/files/{file_id}/download-url",  # a read: the URL grants exactly what the key may read
    "POST /v1/retrieve",  # a search, with its filters in a JSON body
    "POST /v1/chat/sessions",  # chat writes only the caller's own sessions, never a document
    "DELETE /v1/chat/sessions/{session_id}",
    "PATCH /v1/chat/sessions/{session_id}",  # renaming the caller's own session
    "POST /v1/chat/sessions/{session_id}/messages",
    "POST /v1/chat/completions",
    "POST /api/v2/files/search",  # seed 000's search (POST /v1/retrieve under its names)
}
"""The routes besides GET that a read-only key may call."""


def _writes() -> dict[tuple[str, str], dict[str, object]]:
    """Every route of the app besides GET, as (method, path), with the responses it documents. Read
    from the OpenAPI document, which lists every route (the app hides none from it)."""
    paths = create_app().openapi()["paths"]
    return {
        (method.upper(), path): operation["responses"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method != "get"
    }


async def test_a_read_only_key_is_refused_by_every_route_that_writes_and_changes_nothing(world: World) -> None:
    """Walks the app's routes, so a write route added later is covered (or this test names it)."""
    client, reader = world.api.client, world.keys["reader"]
    before = (await client.get("/v1/files", headers=world.keys["admin"])).json()
    refused, allowed = [], []
    for (method, path), documented in _writes().items():
        url = re.sub(r"\{(\w+)\}", lambda m: world.vault.document_id if "id" in m[1] else "1", path)
        response = await client.request(method, url, headers=reader)
        code = response.json().get("error_code") if response.content else None
        code = code or response.headers.get("x-error-code")  # the seed adapters' envelopes carry it as a header
        if f"{method} {path}" in READ_ONLY_SAFE:
            assert code != "READ_ONLY_KEY", (method, path)
            allowed.append(f"{method} {path}")
            continue
        assert response.status_code == 403 and code == "READ_ONLY_KEY", (method, path, response.text)
        assert "403" in documented, f"{method} {path} does not document its 403"
        refused.append(f"{method} {path}")
    assert sorted(allowed) == sorted(READ_ONLY_SAFE)
    assert {"POST /v1/files/upload", "DELETE /v1/files/{file_id}", "POST /v1/files/{file_id}/assignments",
            "PUT /v1/collections/{collection}/documents", "POST /v1/files/uploads"} <= set(refused)  # fmt: skip
    # A real upload, with a file, is refused the same way, and nothing anyone sees changed.
    upload_attempt = await client.post("/v1/files/upload", headers=reader, files={"file": ("x.md", b"# x\n")})
    assert upload_attempt.status_code == 403 and upload_attempt.json()["error_code"] == "READ_ONLY_KEY"
    assert (await client.get("/v1/files", headers=world.keys["admin"])).json() == before


async def test_a_named_empty_collection_is_listed_for_its_creator_and_admins_only(api: Api) -> None:
    created = await api.client.post("/v1/collections", headers=api.alice, json={"name": "drafts"})
    assert created.status_code == 201
    names = {who: {c["name"] for c in (await api.client.get("/v1/collections", headers=h)).json()}
             for who, h in (("alice", api.alice), ("bob", api.bob), ("root", api.admin))}  # fmt: skip
    assert names == {"alice": {"drafts"}, "bob": set(), "root": {"drafts"}}

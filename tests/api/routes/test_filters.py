"""Filters, sorts and the status default on listings (``GET /v1/files``, a collection's documents),
retrieval (``GET``/``POST /v1/retrieve``, ``source_urls``) and chat, the hits' document fields, and
the same through the SDK (api/filters.py, ingestion/catalog/filters.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import Api, describe, upload

pytestmark = pytest.mark.anyio

BASE = "http://lectern.test"


@dataclass
class Trials:
    boston: str
    paris: str
    notes: str


async def _trials(api: Api) -> Trials:
    """Three of the admin's files about one thing; two carry a site, a phase and a document type."""
    body = "# {0}\n\nPatients are screened for eligibility {1} before the first dose.\n"
    boston = await upload(
        api, api.admin, "boston.md", body.format("Boston", "at the Boston site").encode(), tags="trial,fda"
    )
    paris = await upload(api, api.admin, "paris.md", body.format("Paris", "at the Paris site").encode(), tags="trial")
    notes = await upload(api, api.admin, "notes.md", body.format("Notes", "by the nurses").encode())
    trials = Trials(boston["file_id"], paris["file_id"], notes["file_id"])
    ingestion = api.services.ingestion
    describe(ingestion, trials.boston, metadata={"site": "Boston", "phase": 3, "blinded": True},
             document_type="Clinical Trial Protocol", description="Phase III protocol", custom_title="Boston Protocol",
             created_at="2026-01-10T08:00:00.000+00:00")  # fmt: skip
    describe(ingestion, trials.paris, metadata={"site": "Paris", "phase": 2}, document_type="Statistical Analysis Plan",
             created_at="2026-02-10T08:00:00.000+00:00")  # fmt: skip
    return trials


async def _listed(api: Api, params: Any, path: str = "/v1/files", key: str = "files") -> list[str]:
    response = await api.client.get(path, params=params, headers=api.admin)
    assert response.status_code == 200, response.text
    return [f["file_id" if key == "files" else "document_id"] for f in response.json()[key]]


async def _found(api: Api, params: Any = None, body: dict[str, Any] | None = None) -> set[str]:
    if body is not None:
        response = await api.client.post(
            "/v1/retrieve", json={"q": "screened for eligibility", **body}, headers=api.admin
        )
    else:
        query = [("q", "screened for eligibility"), *(params or [])]
        response = await api.client.get("/v1/retrieve", params=query, headers=api.admin)
    assert response.status_code == 200, response.text
    return {hit["document_id"] for hit in response.json()["results"]}


async def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.text


async def test_listing_filters_combine_and_sort(api: Api) -> None:
    t = await _trials(api)
    assert await _listed(api, {"metadata.site": "Boston"}) == [t.boston]
    assert await _listed(api, [("metadata.site", "Boston"), ("metadata.site", "Paris")]) == [t.boston, t.paris]
    assert await _listed(api, {"metadata.site": "Boston", "metadata.phase": "2"}) == []  # fields: all of them
    assert await _listed(api, {"metadata.phase": "3", "metadata.blinded": "true"}) == [t.boston]  # JSON's text form
    assert await _listed(api, {"document_type": "Statistical Analysis Plan"}) == [t.paris]
    assert await _listed(api, {"created_after": "2026-02-01"}) == [t.paris, t.notes]
    assert await _listed(api, {"created_before": "2026-02-10T08:00:00Z"}) == [t.boston]  # exclusive
    assert await _listed(api, {"tags": "trial,fda"}) == [t.boston]  # a listing's default: all of the tags
    assert await _listed(api, {"tags": "trial,fda", "tags_mode": "any"}) == [t.boston, t.paris]
    assert await _listed(api, {"tags": "trial", "metadata.site": "Paris", "file_type": "md"}) == [t.paris]
    assert await _listed(api, {"sort": "-created_at"}) == [t.notes, t.paris, t.boston]
    assert await _listed(api, {"sort": "filename"}) == [t.boston, t.notes, t.paris]
    assert await _listed(api, {"sort": "-filename", "limit": 1, "page": 2}) == [t.notes]

    get = api.client.get
    await _error(await get("/v1/files", params={"created_after": "last week"}, headers=api.admin), 400, "INVALID_DATE")
    assert await _listed(api, {"created_after": "2026-03-01", "created_before": "2026-02-01"}) == []  # empty, not bad
    await _error(await get("/v1/files", params={"metadata.": "x"}, headers=api.admin), 400, "INVALID_FILTER")
    await _error(await get("/v1/files", params={"sort": "size"}, headers=api.admin), 422, "INVALID_REQUEST")
    await _error(await get("/v1/files", params={"tags_mode": "some"}, headers=api.admin), 422, "INVALID_REQUEST")


async def test_a_deployment_lists_one_status_by_default_and_a_request_lifts_it(api: Api) -> None:
    done = (await upload(api, api.admin, "done.md", b"# Done\n\nIndexed already.\n"))["file_id"]
    queued = await api.client.post("/v1/files/upload", headers=api.admin, files={"file": ("queued.md", b"# Queued\n")})
    waiting = queued.json()["file_id"]  # not processed: still pending
    assert await _listed(api, {}) == [done, waiting]  # unset: every status
    api.services.settings.http.list_status_default = "completed"
    assert await _listed(api, {}) == [done]
    assert await _listed(api, {"status": "any"}) == [done, waiting]
    assert await _listed(api, {"status": "pending"}) == [waiting]
    assert await _listed(api, {}, "/v1/collections/default/documents", "documents") == []  # files, not entries


async def test_collection_documents_filter_and_sort_too(api: Api) -> None:
    lines = b'{"docid": "a", "text": "Alpha entry."}\n{"docid": "b", "text": "Beta entry.", "__tags": ["x"]}\n'
    pushed = await api.client.post(
        "/v1/collections/kb/documents", headers=api.admin, files={"file": ("kb.jsonl", lines)}
    )
    a, b = (r["document_id"] for r in pushed.json())
    describe(api.services.ingestion, a, metadata={"lang": "en"}, created_at="2026-01-01T00:00:00.000+00:00")
    path = "/v1/collections/kb/documents"
    assert await _listed(api, {"metadata.lang": "en"}, path, "documents") == [a]
    assert await _listed(api, {"sort": "-created_at"}, path, "documents") == [b, a]
    assert await _listed(api, {"tags": "x", "created_after": "2026-06-01"}, path, "documents") == [b]


async def test_retrieval_filters_by_metadata_type_dates_and_tags(api: Api) -> None:
    t = await _trials(api)
    assert await _found(api) == {t.boston, t.paris, t.notes}
    assert await _found(api, [("metadata.site", "Boston")]) == {t.boston}
    assert await _found(api, body={"metadata": {"site": ["Boston", "Paris"]}}) == {t.boston, t.paris}
    assert await _found(api, body={"metadata": {"site": "Boston", "phase": 3, "blinded": True}}) == {t.boston}
    assert await _found(api, body={"metadata": {"site": "Boston", "phase": 2}}) == set()
    assert await _found(api, [("document_type", "Clinical Trial Protocol")]) == {t.boston}
    assert await _found(api, [("created_after", "2026-02-01")]) == {t.paris, t.notes}
    assert await _found(api, body={"created_before": "2026-02-01T00:00:00+00:00"}) == {t.boston}
    assert await _found(api, [("tags", "trial,fda")]) == {t.boston, t.paris}  # retrieval's default: any of them
    assert await _found(api, body={"tags": ["trial", "fda"], "tags_mode": "all"}) == {t.boston}

    post = api.client.post
    await _error(await post("/v1/retrieve", json={"q": "x", "metadata": {"site": {"city": "Boston"}}},
                            headers=api.admin), 422, "INVALID_REQUEST")  # fmt: skip
    await _error(await post("/v1/retrieve", json={"q": "x", "created_after": "soon"}, headers=api.admin),
                 400, "INVALID_DATE")  # fmt: skip
    await _error(await post("/v1/retrieve", json={"q": " "}, headers=api.admin), 400, "INVALID_QUERY")


async def test_a_hit_says_what_the_document_is_and_where_to_download_it(api: Api) -> None:
    t = await _trials(api)
    response = await api.client.get("/v1/retrieve", params={"q": "Boston site eligibility", "metadata.site": "Boston"},
                                    headers=api.admin)  # fmt: skip
    hit = response.json()["results"][0]
    assert hit["document_id"] == t.boston and hit["title"] == "Boston Protocol"
    assert (hit["document_type"], hit["description"]) == ("Clinical Trial Protocol", "Phase III protocol")
    assert hit["metadata"] == {"site": "Boston", "phase": 3, "blinded": True} and hit["file_type"] == "md"
    assert hit["url"] == f"{BASE}/v1/files/{t.boston}/content"
    downloaded = await api.client.get(hit["url"], headers=api.admin)
    assert downloaded.status_code == 200 and b"Boston site" in downloaded.content


async def test_source_urls_restrict_a_search_to_the_documents_lectern_handed_out(api: Api) -> None:
    t = await _trials(api)
    signed = await api.client.post(f"/v1/files/{t.paris}/download-url", json={"expires_in": 1}, headers=api.admin)
    signed_url = signed.json()["url"]
    clock = api.services.download_urls.clock
    api.services.download_urls.clock = lambda: clock() + 3600  # the signed URL has expired: still a fine key
    content_url = f"{BASE}/v1/files/{t.boston}/content"
    assert await _found(api, body={"source_urls": [content_url]}) == {t.boston}
    assert await _found(api, body={"source_urls": [content_url, signed_url]}) == {t.boston, t.paris}
    assert await _found(api, [("sourceUrls", f"{content_url},{signed_url}")]) == {t.boston, t.paris}
    assert await _found(api, body={"source_urls": [f"/v1/files/{t.notes}/content"]}) == {
        t.notes
    }  # the chat tool's form
    assert await _found(api, body={"source_urls": [signed_url], "document_ids": [t.boston]}) == set()  # both narrow

    token = signed_url.rsplit("/", 1)[1]
    tampered = signed_url.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    for bad in ("s3://bucket/ingested/protocol.docx", f"http://elsewhere.test/v1/files/{t.boston}/content",
                tampered, f"{BASE}/v1/files/{t.boston}", f"{BASE}/v1/files/{t.boston}/content?x=1",
                "http://[lectern.test/v1/files/x/content"):  # fmt: skip
        response = await api.client.post("/v1/retrieve", json={"q": "eligibility", "source_urls": [bad]},
                                         headers=api.admin)  # fmt: skip
        await _error(response, 400, "INVALID_SOURCE_URL")
        assert response.json()["details"]["url"] == bad


async def test_a_chat_turn_keeps_to_the_messages_filters(api: Api) -> None:
    t = await _trials(api)
    session = (await api.client.post("/v1/chat/sessions", headers=api.admin)).json()["session_id"]
    for metadata, expected in (({"site": "Paris"}, t.paris), ({"site": ["Boston"], "phase": 3}, t.boston)):
        response = await api.client.post(f"/v1/chat/sessions/{session}/messages", headers=api.admin,
                                          json={"content": "Who is screened for eligibility?", "metadata": metadata})  # fmt: skip
        assert response.status_code == 200, response.text
        cited = {c["document_id"] for c in response.json()["citations"]}
        assert cited == {expected}, metadata
    history = (await api.client.get(f"/v1/chat/sessions/{session}", headers=api.admin)).json()["messages"]
    rows = [row for m in history if m["role"] == "tool" for row in m["tool_results"] or []]
    boston = next(row for row in rows if row["document_id"] == t.boston)  # the tool's hits say what they are
    assert (boston["title"], boston["document_type"], boston["description"]) == (
        "Boston Protocol",
        "Clinical Trial Protocol",
        "Phase III protocol",
    )
    assert boston["metadata"]["site"] == "Boston" and boston["url"] == f"/v1/files/{t.boston}/content"
    bad = await api.client.post(f"/v1/chat/sessions/{session}/messages", headers=api.admin,
                                json={"content": "Anything?", "created_before": "tomorrow"})  # fmt: skip
    await _error(bad, 400, "INVALID_DATE")


async def test_the_sdk_passes_every_filter(api: Api) -> None:
    from api.client import Client, LecternAPIError

    t = await _trials(api)
    key = api.admin["Authorization"].split()[1]
    async with Client(base_url=BASE, api_key=key, transport=api.client._transport) as client:
        hits = await client.search("screened for eligibility", metadata={"site": ["Boston", "Paris"]}, tags=["fda"])
        assert {h.document_id for h in hits.results} == {t.boston}
        top = hits.results[0]
        assert (top.title, top.document_type, top.metadata["phase"]) == (
            "Boston Protocol",
            "Clinical Trial Protocol",
            3,
        )
        again = await client.search(
            "screened for eligibility", source_urls=[top.url], document_type="Clinical Trial Protocol"
        )
        assert {h.document_id for h in again.results} == {t.boston}
        dated = await client.search("screened", created_after="2026-02-01", tags=["trial", "fda"], tags_mode="any")
        assert {h.document_id for h in dated.results} == {t.paris}
        listed = await client.files.list(metadata={"site": ["Boston", "Paris"], "phase": 2}, sort="-created_at")
        assert [f.file_id for f in listed.items] == [t.paris]
        newest = await client.files.list(tags=["trial", "fda"], tags_mode="any", sort="-created_at", status="any")
        assert [f.file_id for f in newest.items] == [t.paris, t.boston]
        assert (await client.collections.documents("default", metadata={"site": "Boston"})).total_count == 0
        with pytest.raises(LecternAPIError) as refused:
            await client.search("x", source_urls=["s3://bucket/a.docx"])
        assert refused.value.error_code == "INVALID_SOURCE_URL"

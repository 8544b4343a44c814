"""The clinical retrieval API (seed 002) replayed against Lectern: its documented requests, every
documented response field by name and type, its error codes, 429 body and rate-limit headers, and
that a key sees through it exactly what it sees through ``/v1``. One test pastes the seed's own
curl lines (host and key changed) against a real uvicorn server."""

from __future__ import annotations

import functools
import io
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest

from api.app import create_app
from api.seeds.clinical_api import TAG
from api.services import Services
from ingestion.catalog.documents import update_document
from tests.support import (
    RTF,
    Api,
    ManualClock,
    RedisServer,
    bearer,
    make_settings,
    serving,
    upload,
)

pytestmark = pytest.mark.anyio

SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LISTED = {
    "document_id": str, "filename": str, "upload_date": str, "file_size": int, "s3_url": str,
    "file_type": str, "document_type": (str, type(None)), "description": (str, type(None)),
    "file_synopsis": type(None), "processing_status": str,
}  # fmt: skip
EXTRACTION = {"total_pages": int, "total_words": (int, type(None)), "total_images": type(None),
              "total_tables": (int, type(None)), "extraction_format": str, "last_processed": str}  # fmt: skip
HIT = {"url": str, "snippet": str, "score": float, "document_title": str, "document_type": (str, type(None)),
       "file_synopsis": type(None)}  # fmt: skip
ENVELOPE = {"error_code": str, "message": str, "details": dict, "request_id": str}


@functools.cache  # one file: python-docx stamps the time into each one it saves
def _protocol_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Phase III Clinical Trial Protocol", level=1)
    document.add_paragraph(
        "Primary efficacy endpoint will be assessed using the modified intention-to-treat population. "
        "Patient eligibility criteria: adults aged 18 to 65 with confirmed diagnosis."
    )
    document.add_heading("Adverse events reporting", level=2)
    document.add_paragraph("Serious adverse events are reported to the sponsor within 24 hours.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


GUIDELINES = b"<html><head><title>FDA Regulatory Guidelines</title></head><body><h1>FDA guidance</h1><p>The FDA approval process requires clinically meaningful endpoints.</p></body></html>"


@dataclass
class Corpus:
    protocol: str
    guidelines: str
    dosing: str


async def _corpus(api: Api) -> Corpus:
    protocol = await upload(
        api, api.alice, "trials/2024/clinical-trial-protocol.docx", _protocol_docx(),
        document_type="Clinical Trial Protocol", description="Phase III randomized controlled trial protocol",
    )  # fmt: skip
    guidelines = await upload(api, api.alice, "regulatory-guidelines.html", GUIDELINES)
    dosing = await upload(api, api.alice, "dosing.rtf", RTF)
    await upload(api, api.alice, "archive.md", b"# Archive\n\nNot indexed.\n", index="false")  # stored, not completed
    return Corpus(protocol["file_id"], guidelines["file_id"], dosing["file_id"])


def _typed(body: dict[str, Any], fields: dict[str, Any]) -> None:
    for name, kind in fields.items():
        assert name in body, name
        assert isinstance(body[name], kind) and not (kind is int and isinstance(body[name], bool)), (name, body[name])


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    _typed(body, ENVELOPE)
    assert body["error_code"] == code and body["request_id"].startswith("req-"), body
    return body


async def test_documents_all_and_one_document_in_the_seeds_shapes(api: Api) -> None:
    c = await _corpus(api)
    headers = {**api.alice, "Content-Type": "application/json"}
    # The seed's example request: page=1&limit=20&file_type=docx.
    listed = await api.client.get("/documents/all?page=1&limit=20&file_type=docx", headers=headers)
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()  # a bare array
    _typed(entry, LISTED)
    assert entry["document_id"] == c.protocol and entry["filename"] == "trials/2024/clinical-trial-protocol.docx"
    assert entry["file_type"] == "docx" and entry["document_type"] == "Clinical Trial Protocol"
    assert entry["description"] == "Phase III randomized controlled trial protocol"
    assert entry["processing_status"] == "completed" and SECONDS.match(entry["upload_date"])
    assert entry["s3_url"] == f"http://lectern.test/v1/files/{c.protocol}/content"
    assert (await api.client.get(entry["s3_url"], headers=api.alice)).content == _protocol_docx()
    # Completed documents only (the stored one is left out), oldest first; rtf is a file type; names match partly.
    every = (await api.client.get("/documents/all", headers=headers)).json()
    assert [d["document_id"] for d in every] == [c.protocol, c.guidelines, c.dosing]
    assert [d["file_type"] for d in every] == ["docx", "html", "rtf"]
    rtf = (await api.client.get("/documents/all", params={"file_type": "RTF"}, headers=headers)).json()
    assert [d["document_id"] for d in rtf] == [c.dosing]
    named = (await api.client.get("/documents/all", params={"document_name": "GUIDE"}, headers=headers)).json()
    assert [d["document_id"] for d in named] == [c.guidelines]
    second = (await api.client.get("/documents/all", params={"page": 2, "limit": 2}, headers=headers)).json()
    assert [d["document_id"] for d in second] == [c.dosing]
    # One document by its full filename, folders included, with its extraction metadata.
    detail = await api.client.get("/documents/trials/2024/clinical-trial-protocol.docx", headers=headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    _typed(body, {**LISTED, "extraction_metadata": dict})
    _typed(body["extraction_metadata"], EXTRACTION)
    assert {k: body[k] for k in LISTED} == entry
    meta = body["extraction_metadata"]
    assert meta["total_pages"] >= 1 and meta["extraction_format"] == "json" and SECONDS.match(meta["last_processed"])
    assert (await api.client.get(f"/documents/{c.protocol}", headers=headers)).json()["filename"] == entry["filename"]
    # The documented errors: an unknown document, a malformed parameter (400, never 422).
    missing = _error(await api.client.get("/documents/nope.docx", headers=headers), 404, "DOCUMENT_NOT_FOUND")
    assert missing["details"]["filename"] == "nope.docx" and missing["details"]["user_id"] == "alice"
    _error(await api.client.get("/documents/all", params={"limit": 500}, headers=headers), 400, "INVALID_QUERY")


async def test_retrieve_replays_the_seeds_search_examples(api: Api) -> None:
    c = await _corpus(api)
    examples = [
        ("q=patient%20eligibility%20criteria&topK=15", "hybrid", c.protocol),
        ("q=adverse%20events%20reporting&search_type=vector&topK=10", "vector", c.protocol),
        ("q=FDA%20approval%20process&search_type=keyword&topK=20", "keyword", c.guidelines),
    ]
    for query, search_type, top in examples:
        response = await api.client.get(f"/retrieve?{query}", headers=api.alice)
        assert response.status_code == 200, response.text
        body = response.json()
        _typed(body, {"results": list, "query": str, "search_type": str, "total_results": int,
                      "processing_time_ms": int})  # fmt: skip
        assert body["search_type"] == search_type and body["total_results"] == len(body["results"]) >= 1
        for hit in body["results"]:
            _typed(hit, HIT)
            assert 0.0 <= hit["score"] <= 1.0
        assert body["results"][0]["document_id"] == top, (query, body)
    first = (await api.client.get("/retrieve?q=patient%20eligibility%20criteria", headers=api.alice)).json()
    assert first["query"] == "patient eligibility criteria" and first["search_type"] == "hybrid"
    hit = first["results"][0]
    assert (hit["document_title"], hit["document_type"]) == (
        "Phase III Clinical Trial Protocol",
        "Clinical Trial Protocol",
    )
    # sourceUrls takes the listing's s3_url values (comma-separated) and searches only those documents.
    urls = {d["document_id"]: d["s3_url"] for d in (await api.client.get("/documents/all", headers=api.alice)).json()}
    scoped = await api.client.get(
        "/retrieve", params={"q": "dosage recommendations", "sourceUrls": f"{urls[c.dosing]},{urls[c.guidelines]}",
                             "topK": 10}, headers=api.alice,
    )  # fmt: skip
    assert scoped.status_code == 200 and scoped.json()["results"]
    assert {h["url"] for h in scoped.json()["results"]} <= {urls[c.dosing], urls[c.guidelines]}
    # topK defaults to 5: eight notes on eligibility, five results unless topK asks for more (the admin key:
    # alice has used her 5 searches a minute, tests/api/conftest.py).
    for n in range(8):
        note = f"# Site {n}\n\nEligibility criteria at site {n}.\n".encode()
        await upload(api, api.alice, f"notes/site-{n}.md", note)
    default = await api.client.get("/retrieve", params={"q": "eligibility"}, headers=api.admin)
    assert len(default.json()["results"]) == 5
    more = await api.client.get("/retrieve", params={"q": "eligibility", "topK": 8}, headers=api.admin)
    assert len(more.json()["results"]) == 8
    # Empty results: a key that sees no document.
    empty = (await api.client.get("/retrieve", params={"q": "nonexistent topic"}, headers=api.bob)).json()
    assert empty["results"] == [] and empty["total_results"] == 0 and empty["search_type"] == "hybrid"


async def test_retrieve_errors_are_the_seeds_codes(api: Api) -> None:
    headers = api.admin
    _error(await api.client.get("/retrieve", headers=headers), 400, "INVALID_QUERY")  # q missing
    _error(await api.client.get("/retrieve", params={"q": "  "}, headers=headers), 400, "INVALID_QUERY")
    _error(await api.client.get("/retrieve", params={"q": "x", "search_type": "fuzzy"}, headers=headers), 400,
           "INVALID_QUERY")  # fmt: skip
    for bad_url in ("s3://bucket", "https://elsewhere.example/doc1.docx", "ftp://bucket/doc1.docx"):
        bad = await api.client.get("/retrieve", params={"q": "x", "sourceUrls": bad_url}, headers=headers)
        _error(bad, 400, "INVALID_SOURCE_URL")
    # SEARCH_TIMEOUT (408) when a search takes longer than LECTERN_SEARCH_TIMEOUT_S.
    api.services.settings.http.search_timeout_s = 1e-6
    try:
        slow = await api.client.get("/retrieve", params={"q": "eligibility criteria"}, headers=headers)
        _error(slow, 408, "SEARCH_TIMEOUT")
        _error(
            await api.client.get("/v1/retrieve", params={"q": "eligibility"}, headers=headers), 408, "SEARCH_TIMEOUT"
        )
    finally:
        api.services.settings.http.search_timeout_s = 30.0


async def test_s3_source_urls_as_the_seeds_clients_build_them_name_documents_by_filename_or_id(api: Api) -> None:
    """The seed's own example (``sourceUrls=s3://bucket/doc1.docx,s3://bucket/doc2.html``) works: an s3 URL's key
    names a document by its filename (or last segment), or by an id in it; one naming nothing matches nothing."""
    c = await _corpus(api)
    urls = "s3://bucket/regulatory-guidelines.html,s3://bucket/dosing.rtf"
    found = await api.client.get("/retrieve", params={"q": "dosage recommendations", "sourceUrls": urls, "topK": 10},
                                 headers=api.alice)  # fmt: skip
    assert found.status_code == 200 and found.json()["results"]
    assert {h["document_id"] for h in found.json()["results"]} <= {c.guidelines, c.dosing}
    seeds_own = f"s3://your-bucket/ingested/{c.protocol}/clinical-trial-protocol.docx,s3://b/2024/protocol-x.docx"
    by_id = await api.client.get("/retrieve", params={"q": "eligibility", "sourceUrls": seeds_own}, headers=api.alice)
    assert {h["document_id"] for h in by_id.json()["results"]} == {c.protocol}
    verbatim = "dosage%20recommendations&sourceUrls=s3://bucket/doc1.docx,s3://bucket/doc2.html&topK=10"
    nothing = await api.client.get(f"/retrieve?q={verbatim}", headers=api.alice)
    assert nothing.status_code == 200 and nothing.json()["results"] == [] and nothing.json()["total_results"] == 0
    # bob sees none of alice's documents, by s3 URL either.
    hidden = await api.client.get("/retrieve", params={"q": "dosage", "sourceUrls": urls}, headers=api.bob)
    assert hidden.status_code == 200 and hidden.json()["results"] == []


async def test_only_admins_delete_and_the_answer_has_deleted_at(api: Api) -> None:
    c = await _corpus(api)
    owner = _error(await api.client.delete(f"/documents/{c.dosing}", headers=api.alice), 403, "ACCESS_DENIED")
    assert "admin" in owner["message"]
    reader = bearer(api, "readonly", "reader", user_id="alice")
    _error(await api.client.delete(f"/documents/{c.dosing}", headers=reader), 403, "READ_ONLY_KEY")
    deleted = await api.client.delete(f"/documents/{c.dosing}", headers=api.admin)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    _typed(body, {"message": str, "document_id": str, "deleted_at": str})
    assert body["message"] == "Document successfully deleted" and body["document_id"] == c.dosing
    assert SECONDS.match(body["deleted_at"])
    assert (await api.client.get(f"/v1/files/{c.dosing}", headers=api.admin)).status_code == 404
    again = _error(await api.client.delete(f"/documents/{c.dosing}", headers=api.admin), 404, "DOCUMENT_NOT_FOUND")
    assert again["details"]["document_id"] == c.dosing


GATE = b'{"docid": "gate", "text": "The harbour gate password is marlin-9. Tell nobody."}\n'
QUESTIONS = ("patient eligibility criteria", "harbour gate password")  # 4 searches: within a key's 5 a minute
CALLERS = (("alice", "user", "alice"), ("bob", "user", "bob"), ("carol", "user", "carol"), ("admin", "admin", "root"),
           ("reader", "readonly", "bob"))  # fmt: skip
"""(who, role, acting user id): fresh keys for each look, so no look spends another's search budget."""


async def _seen_alike(api: Api, names: dict[str, str], round_: str) -> dict[str, set[str]]:
    """For each caller: what ``/documents/all`` lists equals the completed files and indexed collection
    documents ``/v1`` lists; a lookup by name answers as ``/v1/files/{id}`` does; ``/retrieve`` finds
    the hits ``/v1/retrieve`` finds, in order. Returns who saw which documents."""
    seen = {}
    for who, role, user_id in CALLERS:
        headers = bearer(api, role, f"{who}-{round_}", user_id=user_id)
        files = (
            await api.client.get("/v1/files", params={"status": "completed", "limit": 100}, headers=headers)
        ).json()
        ledger = (await api.client.get("/v1/collections/ledger/documents", headers=headers)).json()
        v1 = {f["file_id"] for f in files["files"]} | {
            d["document_id"] for d in ledger["documents"] if d["status"] == "Indexed"
        }
        listed = (await api.client.get("/documents/all", params={"limit": 100}, headers=headers)).json()
        seen[who] = {d["document_id"] for d in listed}
        assert seen[who] == v1, who
        for name, document_id in names.items():
            by_name = await api.client.get(f"/documents/{name}", headers=headers)
            assert (
                by_name.status_code == (await api.client.get(f"/v1/files/{document_id}", headers=headers)).status_code
            )
            assert by_name.status_code in (200, 404), (who, name, by_name.text)
        for q in QUESTIONS:
            v1_hits = (await api.client.get("/v1/retrieve", params={"q": q, "topK": 20}, headers=headers)).json()
            hits = (await api.client.get("/retrieve", params={"q": q, "topK": 20}, headers=headers)).json()
            assert [h["document_id"] for h in hits["results"]] == [h["document_id"] for h in v1_hits["results"]], who
    return seen


async def test_a_key_sees_through_the_adapter_exactly_what_it_sees_through_v1(api: Api) -> None:
    """alice owns the corpus and a collection document and assigns the protocol and the collection
    document to bob (whose read-only key sees what he sees); carol owns one file; the admin sees
    all; once the protocol expires nobody sees it, through either door."""
    c = await _corpus(api)
    carols = await upload(api, bearer(api, "user", "carol"), "kettle.md", b"# Kettle\n\nDescale the kettle.\n")
    pushed = await api.client.post("/v1/collections/ledger/documents", headers=api.alice,
                                   files={"file": ("ledger.jsonl", GATE)})  # fmt: skip
    assert pushed.status_code == 200, pushed.text
    (gate,) = (r["document_id"] for r in pushed.json())
    api.services.ingestion.run_until_idle()
    for document_id in (c.protocol, gate):
        assigned = await api.client.post(f"/v1/files/{document_id}/assignments", headers=api.admin,
                                         json={"user_id": "bob"})  # fmt: skip
        assert assigned.status_code == 201
    names = {"trials/2024/clinical-trial-protocol.docx": c.protocol, "kettle.md": carols["file_id"], "gate": gate}
    alices = {c.protocol, c.guidelines, c.dosing, gate}
    seen = await _seen_alike(api, names, "before")
    assert seen == {"alice": alices, "bob": {c.protocol, gate}, "carol": {carols["file_id"]},
                    "admin": alices | {carols["file_id"]}, "reader": {c.protocol, gate}}  # fmt: skip
    with ManualClock("2026-06-01T12:00:00Z") as clock:
        with api.services.ingestion.db.transaction() as conn:
            update_document(conn, c.protocol, expires_at="2026-06-01T12:30:00Z")
        clock.now = "2026-06-01T12:30:00Z"
        expired = await _seen_alike(api, names, "expired")
    assert all(c.protocol not in documents for documents in expired.values()) and expired["bob"] == {gate}


async def test_the_429_body_and_rate_headers_are_the_seeds(api: Api) -> None:
    """The retrieval class allows 5 a minute here (tests/api/conftest.py); the sixth search is refused."""
    for remaining in (4, 3, 2, 1, 0):
        response = await api.client.get("/retrieve", params={"q": "kettle"}, headers=api.alice)
        assert response.status_code == 200
        limit, left = response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]
        assert (limit, left) == ("5", str(remaining))
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()
    refused = await api.client.get("/retrieve", params={"q": "kettle"}, headers=api.alice)
    body = _error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert body["message"] == "Search rate limit exceeded"
    _typed(body, {"retry_after": int, "requests_remaining": int, "reset_time": str})
    assert body["requests_remaining"] == 0 and 1 <= body["retry_after"] <= 60 and SECONDS.match(body["reset_time"])


@pytest.mark.parametrize("counters", ["in_process", "redis"])
def test_the_clinical_preset_gives_the_seeds_per_role_limits(tmp_path: Path, counters: str) -> None:
    """``LECTERN_RATE_LIMIT_PRESET=clinical``: the seed's user/admin limits for listings and searches, in
    this process's counters or in Redis; chat keeps its setting, admins 5x."""
    redis = RedisServer.start() if counters == "redis" else None
    settings = make_settings(tmp_path / "home", rate_limit_preset="clinical", rate_limit_chat=7,
                             redis_url=redis.url if redis else None)  # fmt: skip
    services = Services.build(settings)
    try:
        hit = services.limiter.hit
        limits = {(cls, admin): hit(f"k{admin}", cls, admin).limit for cls in ("listing", "retrieval", "chat")
                  for admin in (False, True)}  # fmt: skip
    finally:
        services.close()
        if redis:
            redis.stop()
    assert type(services.limiter).__name__ == ("RedisRateLimiter" if redis else "RateLimiter")
    assert limits == {("listing", False): 50, ("listing", True): 100, ("retrieval", False): 20,
                      ("retrieval", True): 50, ("chat", False): 7, ("chat", True): 35}  # fmt: skip


def test_the_adapter_is_one_tag_and_one_setting(tmp_path: Path) -> None:
    spec = create_app(make_settings(tmp_path / "on")).openapi()
    mine = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m, op in ops.items() if TAG in op["tags"]}
    assert mine == {"GET /documents/all", "GET /documents/{filename}", "DELETE /documents/{document_id}",
                    "GET /retrieve"}  # fmt: skip
    off = create_app(make_settings(tmp_path / "off", seed_clinical=False)).openapi()
    assert not {"/documents/all", "/retrieve"} & set(off["paths"]) and "/v1/retrieve" in off["paths"]


SEED_CURLS = [
    """curl -X GET "https://api.yourdomain.com/documents/all?page=1&limit=20&file_type=docx" \\
  -H "Authorization: Bearer your-access-token" \\
  -H "Content-Type: application/json\"""",
    """curl -X GET "https://api.yourdomain.com/documents/clinical-trial-protocol.docx" \\
  -H "Authorization: Bearer your-access-token" \\
  -H "Content-Type: application/json\"""",
    """curl -X GET "https://api.yourdomain.com/retrieve?q=patient%20eligibility%20criteria&topK=15" \\
  -H "Authorization: Bearer your-access-token\"""",
    """curl -X GET "https://api.yourdomain.com/retrieve?q=adverse%20events%20reporting&search_type=vector&topK=10" \\
  -H "Authorization: Bearer your-access-token\"""",
    """curl -X GET "https://api.yourdomain.com/retrieve?q=FDA%20approval%20process&search_type=keyword&topK=20" \\
  -H "Authorization: Bearer your-access-token\"""",
    """curl -X GET "https://api.yourdomain.com/retrieve?q=dosage%20recommendations&sourceUrls=s3://bucket/doc1.docx,s3://bucket/doc2.html&topK=10" \\
  -H "Authorization: Bearer your-access-token\"""",
]
"""The seed's curl lines as it prints them; only the host and the key are replaced."""


SEED_PYTHON_CLIENT = '''
import requests
import time
from typing import List, Dict, Any

class DocumentSearchClient:
    def __init__(self, base_url: str, access_token: str):
        self.base_url = base_url
        self.access_token = access_token
        self.headers = {
            'Authorization': f'Bearer {access_token}',
            'Content-Type': 'application/json'
        }

    def get_all_documents(self, file_type: str = None) -> List[Dict]:
        """Retrieve all accessible documents"""
        params = {}
        if file_type:
            params['file_type'] = file_type

        response = requests.get(
            f"{self.base_url}/documents/all",
            headers=self.headers,
            params=params
        )
        response.raise_for_status()
        return response.json()

    def search_documents(self, query: str, source_urls: List[str] = None,
                        top_k: int = 15, search_type: str = "hybrid") -> Dict:
        """Search for relevant content across documents"""
        params = {
            'q': query,
            'topK': top_k,
            'search_type': search_type
        }

        if source_urls:
            params['sourceUrls'] = ','.join(source_urls)

        response = requests.get(
            f"{self.base_url}/retrieve",
            headers=self.headers,
            params=params
        )
        response.raise_for_status()
        return response.json()

    def search_specific_documents(self, query: str, document_types: List[str]) -> Dict:
        """Search within documents of specific types"""
        # First, get documents of specified types
        all_docs = self.get_all_documents()
        target_docs = [
            doc for doc in all_docs
            if doc['document_type'] in document_types
        ]

        if not target_docs:
            return {"results": [], "message": "No documents found of specified types"}

        # Extract S3 URLs for targeted search
        source_urls = [doc['s3_url'] for doc in target_docs]

        # Perform search within these documents
        return self.search_documents(query, source_urls=source_urls)
'''
"""The seed's "Complete Document Search Workflow" client, as its documentation prints it."""


async def test_the_seeds_curl_lines_and_python_client_work_against_a_real_server(api: Api) -> None:
    """The one real-server test of this seed: its curl lines pasted (host and key replaced), then its
    Python ``DocumentSearchClient`` as printed, against uvicorn on 127.0.0.1."""
    protocol = await upload(api, api.alice, "clinical-trial-protocol.docx", _protocol_docx(),
                            document_type="Clinical Trial Protocol")  # fmt: skip
    await upload(api, api.alice, "regulatory-guidelines.html", GUIDELINES, document_type="Regulatory Guidelines")
    curl_key = api.alice["Authorization"].split()[1]
    key = bearer(api, "user", "alice-client", user_id="alice")["Authorization"].split()[1]
    namespace: dict[str, Any] = {}
    exec(SEED_PYTHON_CLIENT, namespace)  # noqa: S102  (the seed's own code, unchanged)
    with serving(api.services) as base:
        for line in SEED_CURLS:
            pasted = line.replace("https://api.yourdomain.com", base).replace("your-access-token", curl_key)
            args = shlex.split(pasted.replace("\\\n", " ")) + ["-s", "-w", "\n%{http_code}"]
            out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
            body, status = out.rsplit("\n", 1)
            assert status == "200", (line, body)
            nothing = "sourceUrls=s3://bucket/doc1" in line  # names no document here: 200, no results
            assert ('"results":[]' in body) if nothing else ('"s3_url"' in body or '"results":[{"url"' in body), body
        client = namespace["DocumentSearchClient"](base, key)
        assert [d["filename"] for d in client.get_all_documents("docx")] == ["clinical-trial-protocol.docx"]
        results = client.search_specific_documents(
            query="patient inclusion exclusion criteria", document_types=["Clinical Trial Protocol", "Study Protocol"]
        )
        assert results["results"] and {r["document_type"] for r in results["results"]} == {"Clinical Trial Protocol"}
        assert {r["document_id"] for r in results["results"]} == {protocol["file_id"]}
        keyword = client.search_documents("FDA approval process", search_type="keyword")
        assert (
            keyword["search_type"] == "keyword"
            and keyword["results"][0]["document_title"] == "FDA Regulatory Guidelines"
        )

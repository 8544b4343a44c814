"""``GET /v1/retrieve`` (api/routes/retrieve.py)."""

from __future__ import annotations

import pytest

from tests.support import Api, assert_needs_a_key, upload

pytestmark = pytest.mark.anyio


ROUTES = [
    ("GET", "/v1/retrieve?q=a"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_retrieve_validates_the_query(api: Api) -> None:
    for q in ("", "   ", "x" * 2001):
        response = await api.client.get("/v1/retrieve", params={"q": q}, headers=api.alice)
        assert response.status_code == 400 and response.json()["error_code"] == "INVALID_QUERY"


LONG = (
    "# Descaling guide\n\n"
    + " ".join(f"Step {i}: pour the citric acid solution into the kettle and wait a while." for i in range(1, 9))
    + "\n"
).encode()


async def test_a_hit_carries_the_chunk_text_a_short_snippet_and_where_it_came_from(api: Api) -> None:
    file_id = (await upload(api, api.alice, "descaling.md", LONG))["file_id"]
    response = await api.client.get("/v1/retrieve", params={"q": "citric acid kettle", "topK": 3}, headers=api.alice)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "citric acid kettle" and body["search_type"] == "hybrid"
    assert body["total_results"] == len(body["results"]) >= 1 and body["processing_time_ms"] >= 0
    hit = body["results"][0]
    stored = {c.id: c.text for c in api.services.ingestion.chunks(file_id)}
    assert hit["content"] == stored[hit["chunk_id"]] and len(hit["content"].split()) > 40
    words = [w for w in hit["snippet"].split() if w != "…"]
    assert 0 < len(words) <= 40 and " ".join(words) in " ".join(hit["content"].split())
    assert hit["filename"] == "descaling.md" and hit["file_type"] == "md"
    assert hit["url"] == f"http://lectern.test/v1/files/{file_id}/content" and hit["title"] and 0 < hit["score"] <= 1
    assert "page" in hit and hit["description"] is None and hit["metadata"] == {} and hit["document_type"] is None


async def test_similarity_threshold_drops_hits_below_the_returned_score(api: Api) -> None:
    await upload(api, api.alice, "descaling.md", LONG)
    params = {"q": "citric acid kettle", "search_type": "vector"}
    found = (await api.client.get("/v1/retrieve", params=params, headers=api.alice)).json()["results"]
    best = found[0]["score"]
    assert 0.01 < best < 1  # a vector score: cosine similarity, clipped at 0
    above = await api.client.get("/v1/retrieve", params={**params, "similarity_threshold": min(1.0, best + 0.001)},
                                 headers=api.alice)  # fmt: skip
    assert above.json()["results"] == [] and above.json()["total_results"] == 0
    at = await api.client.get("/v1/retrieve", params={**params, "similarity_threshold": best - 0.001},
                              headers=api.alice)  # fmt: skip
    assert at.status_code == 200, (best, at.text)
    assert at.json()["results"][0]["chunk_id"] == found[0]["chunk_id"]


async def test_hits_carry_each_legs_score_and_a_vector_weight_remixes_the_fused_one(api: Api) -> None:
    """The web page's search playground: both legs' scores beside the fused one, and the convex
    mix's weight per search (``POST`` only)."""
    await upload(api, api.alice, "descaling.md", b"# Descaling\n\nDescale the kettle every month with citric acid.\n")
    for i, line in enumerate([b"The apple trees bloom in April.", b"Bees visit the lavender.", b"Rain fell all week."]):
        await upload(api, api.alice, f"garden-{i}.md", b"# Garden\n\n" + line + b"\n")  # BM25's idf needs a corpus

    async def top(weight: float | None) -> dict:
        body = {"q": "descale the kettle with citric acid", "top_k": 1}
        if weight is not None:
            body["vector_weight"] = weight
        response = await api.client.post("/v1/retrieve", json=body, headers=api.alice)
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    default, vector_only, keyword_only = await top(None), await top(1.0), await top(0.0)
    assert default["vector_score"] > 0 and default["keyword_score"] > 0
    assert vector_only["score"] == pytest.approx(vector_only["vector_score"], abs=1e-5)
    assert keyword_only["score"] == pytest.approx(keyword_only["keyword_score"], abs=1e-5)
    bad = await api.client.post("/v1/retrieve", json={"q": "kettle", "vector_weight": 2}, headers=api.alice)
    assert bad.status_code in (400, 422) and "error_code" in bad.json()

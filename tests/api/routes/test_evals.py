"""``/v1/evals``: runs queued by the API, run by the worker loop of a real server, read back as reports."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from api.client import Client, LecternAPIError
from api.ratelimit import RateLimiter
from api.services import Services
from evals.retrieval import evaluate
from evals.runs import EvalRunner
from ingestion.catalog import eval_runs
from tests.support import Api, make_settings, serving, write_beir

pytestmark = pytest.mark.anyio

DOCS = {
    "d1": ("Descaling", "Descale the espresso machine every eight weeks with citric acid."),
    "d2": ("Grinding", "A burr grinder produces an even grind for espresso."),
    "d3": ("Milk", "Steam milk to 60 degrees for a silky microfoam."),
    "d4": ("Water", "Soft water reduces limescale in the boiler."),
    "d5": ("Warranty", "The warranty covers the pump for two years."),
}
QUERIES = {
    "q1": "how to remove limescale with citric acid",
    "q2": "which grinder for even espresso grind",
    "q3": "pump warranty length",
}
QRELS = [("q1", "d1", 1), ("q1", "d4", 1), ("q2", "d2", 1), ("q3", "d5", 1)]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Services, str]]:
    """A real server on 127.0.0.1 whose worker thread runs eval runs, and an admin key."""
    services = Services.build(make_settings(tmp_path / "home"),
                              RateLimiter({"listing": 1000, "retrieval": 1000, "chat": 100, "write": 1000}))  # fmt: skip
    services.start_indexing(idle_s=0.05)
    secret = services.keys.create(role="admin", name="root")[1]
    try:
        with serving(services) as base:
            yield base, services, secret
    finally:
        services.close()


def _envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code and body["request_id"].startswith("req-"), body
    return body


async def test_a_run_is_queued_run_by_the_worker_and_reported(
    served: tuple[str, Services, str], tmp_path: Path
) -> None:
    base, services, secret = served
    dataset = write_beir(tmp_path / "tiny", DOCS, QUERIES, QRELS)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as http:
        response = await http.post("/v1/evals", json={"dataset": str(dataset), "search_type": "keyword", "name": "kw"})
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "queued" and queued["progress"]["total"] == 3 and queued["metrics"] is None

    async with Client(base, secret) as client:
        run = await client.evals.wait(queued["eval_id"], timeout=180, poll=0.2)
        assert run.status == "completed", run.error
        assert run.progress.done == run.progress.total == 3 and run.started_at and run.finished_at
        metrics = run.metrics or {}
        assert metrics["ndcg@10"] > 0.8 and metrics["recall@100"] == 1.0 and metrics["mrr@10"] > 0.8
        assert {f"recall@{k}" for k in (1, 3, 5, 10, 20, 50, 100)} <= set(metrics)
        # The same function as `lectern eval retrieval`, on the same cached index: the same numbers.
        local = evaluate(dataset, split="test", types=["keyword"], settings=services.settings, log=lambda _: None)[0]
        assert {k: metrics[k] for k in local.metrics} == local.metrics

        png = await client.evals.report(run.eval_id, "png")
        assert png.startswith(PNG) and Image.open(io.BytesIO(png)).size[0] > 300
        table = list(csv.reader(io.StringIO(await client.evals.report(run.eval_id, "csv"))))
        assert table[0][:6] == ["query_id", "query", "ndcg@10", "recall@10", "recall@100", "mrr@10"]
        assert sorted(row[0] for row in table[1:]) == ["q1", "q2", "q3"]
        report = await client.evals.report(run.eval_id, "json")
        assert len(report.rows) == 3 and report.metrics == metrics
        assert next(r for r in report.rows if r["query_id"] == "q3")["top10"][0] == "d5"

        second = await client.evals.create(dataset, search_type="vector", limit=2)
        assert (await client.evals.wait(second.eval_id, timeout=180, poll=0.2)).progress.total == 2
        listed = await client.evals.list()
        assert [r.eval_id for r in listed.items] == [second.eval_id, run.eval_id] and listed.total_count == 2
        both = await client.evals.report(run.eval_id, "png", compare=[second.eval_id])
        assert both.startswith(PNG) and both != png

        removed = await client.evals.delete(run.eval_id)
        assert removed.status == "completed"
        with pytest.raises(LecternAPIError) as missing:
            await client.evals.get(run.eval_id)
        assert missing.value.status == 404 and missing.value.error_code == "EVAL_NOT_FOUND"


async def test_uploaded_datasets_with_a_corpus_or_over_lecterns_own_documents(
    served: tuple[str, Services, str], tmp_path: Path
) -> None:
    base, services, secret = served
    full = write_beir(tmp_path / "upload", DOCS, QUERIES, QRELS, split="dev")
    # Judgments without a corpus name the documents already in Lectern (here by collection docid).
    lines = [json.dumps({"docid": i, "title": t, "text": x}) for i, (t, x) in DOCS.items()]
    services.ingestion.add_collection_jsonl(lines, collection="coffee", owner="root")
    async with Client(base, secret) as client:
        uploaded = await client.evals.create(queries=full / "queries.jsonl", qrels=full / "qrels" / "dev.tsv",
                                             corpus=full / "corpus.jsonl", split="dev", search_type="hybrid")  # fmt: skip
        live = await client.evals.create(queries=full / "queries.jsonl", qrels=full / "qrels" / "dev.tsv",
                                         split="dev", search_type="keyword", name="live")  # fmt: skip
        assert uploaded.dataset != live.dataset and uploaded.split == "dev"
        for created in (uploaded, live):
            run = await client.evals.wait(created.eval_id, timeout=180, poll=0.2)
            assert run.status == "completed", run.error
            assert (run.metrics or {})["recall@100"] == 1.0 and (run.metrics or {})["ndcg@10"] > 0.8
        top = (await client.evals.report(live.eval_id)).rows
        assert next(r for r in top if r["query_id"] == "q3")["top10"][0] == "d5"
        assert Path(live.dataset).is_dir()
        await client.evals.delete(live.eval_id)  # a finished run goes, with its uploaded files
        assert not Path(live.dataset).exists()
        homes = services.settings.home / "eval-cache"
        assert list(homes.glob(f"{uploaded.eval_id}-*"))  # the uploaded corpus's own index
        await client.evals.delete(uploaded.eval_id)
        assert not list(homes.glob(f"{uploaded.eval_id}-*")) and not Path(uploaded.dataset).exists()


async def test_only_admins_see_or_start_eval_runs(api: Api, tmp_path: Path) -> None:
    dataset = str(write_beir(tmp_path / "tiny", DOCS, QUERIES, QRELS))
    created = await api.client.post("/v1/evals", headers=api.admin, json={"dataset": dataset})
    eval_id = created.json()["eval_id"]
    calls = [
        ("POST", "/v1/evals", {"json": {"dataset": dataset}}),
        ("POST", "/v1/evals", {"files": {"queries": ("q.jsonl", b"{}"), "qrels": ("q.tsv", b"")}}),
        ("GET", "/v1/evals", {}),
        ("GET", f"/v1/evals/{eval_id}", {}),
        ("GET", f"/v1/evals/{eval_id}/report", {"params": {"format": "png"}}),
        ("DELETE", f"/v1/evals/{eval_id}", {}),
    ]
    for method, path, extra in calls:
        _envelope(await api.client.request(method, path, headers=api.alice, **extra), 403, "ACCESS_DENIED")
    listed = (await api.client.get("/v1/evals", headers=api.admin)).json()
    assert listed["total_count"] == 1 and listed["items"][0]["status"] == "queued"


async def test_unreadable_datasets_are_refused_with_the_reason(api: Api, tmp_path: Path) -> None:
    def post(**body: Any) -> Any:
        return api.client.post("/v1/evals", headers=api.admin, json=body)

    good = write_beir(tmp_path / "good", DOCS, QUERIES, QRELS)
    no_corpus = write_beir(tmp_path / "no-corpus", {}, QUERIES, QRELS)
    two_splits = write_beir(write_beir(tmp_path / "two", DOCS, QUERIES, QRELS, split="a"), DOCS, QUERIES, QRELS, "b")
    bad_line = write_beir(tmp_path / "bad-line", DOCS, QUERIES, QRELS)
    (bad_line / "queries.jsonl").write_text('{"_id": "q1", "text": "descale"}\n{"_id": "q2", \n')
    unjudged = write_beir(tmp_path / "unjudged", DOCS, {"q9": "nothing judged"}, QRELS)
    cases = {
        str(tmp_path / "absent"): "is not a folder the server can read",
        str(no_corpus): "corpus.jsonl is missing",
        str(two_splits): "qrels/test.tsv is missing (present: a, b)",
        str(bad_line): "queries.jsonl line 2 is not JSON",
        str(unjudged): "no query of queries.jsonl is judged in qrels/test.tsv",
        "a\u0000b": "is not a folder the server can read",
    }
    for dataset, reason in cases.items():
        body = _envelope(await post(dataset=dataset), 400, "INVALID_DATASET")
        assert reason in body["message"], (dataset, body)
    answers = _envelope(await post(dataset=str(good), kind="answers"), 400, "INVALID_DATASET")
    assert "is not a file" in answers["message"]
    no_qrels = await api.client.post("/v1/evals", headers=api.admin, files={"queries": ("q.jsonl", b'{"_id": "q"}')})
    assert "needs qrels" in _envelope(no_qrels, 400, "INVALID_DATASET")["message"]
    for wrong in ({"search_type": "fuzzy"}, {"limit": 0}, {"colour": "red"}):
        _envelope(await post(dataset=str(good), **wrong), 422, "INVALID_REQUEST")
    _envelope(await api.client.post("/v1/evals", headers=api.admin, content=b"{"), 422, "INVALID_REQUEST")
    assert (await api.client.get("/v1/evals", headers=api.admin)).json()["total_count"] == 0  # nothing was queued

    queued = (await post(dataset=str(good))).json()["eval_id"]
    report = await api.client.get(f"/v1/evals/{queued}/report", headers=api.admin)
    assert _envelope(report, 409, "EVAL_NOT_COMPLETE")["details"]["status"] == "queued"
    for method, path in (("GET", "/v1/evals/nope"), ("GET", "/v1/evals/nope/report"), ("DELETE", "/v1/evals/nope")):
        _envelope(await api.client.request(method, path, headers=api.admin), 404, "EVAL_NOT_FOUND")


async def test_a_stopping_worker_gives_its_run_back_and_a_cancelled_run_is_never_run(api: Api, tmp_path: Path) -> None:
    dataset = str(write_beir(tmp_path / "tiny", DOCS, QUERIES, QRELS))
    eval_id = (await api.client.post("/v1/evals", headers=api.admin, json={"dataset": dataset})).json()["eval_id"]
    runner = EvalRunner(api.services.ingestion)
    stopping = threading.Event()
    stopping.set()
    assert runner("w-stopping", stopping) is True
    back = (await api.client.get(f"/v1/evals/{eval_id}", headers=api.admin)).json()
    assert back["status"] == "queued" and back["progress"]["done"] == 0

    cancelled = (await api.client.delete(f"/v1/evals/{eval_id}", headers=api.admin)).json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    assert runner("w-next", threading.Event()) is False  # nothing left to claim
    (await api.client.delete(f"/v1/evals/{eval_id}", headers=api.admin)).raise_for_status()  # now it goes
    _envelope(await api.client.get(f"/v1/evals/{eval_id}", headers=api.admin), 404, "EVAL_NOT_FOUND")


async def test_a_run_cancelled_while_running_loses_its_lease_and_its_results(api: Api, tmp_path: Path) -> None:
    dataset = str(write_beir(tmp_path / "tiny", DOCS, QUERIES, QRELS))
    eval_id = (await api.client.post("/v1/evals", headers=api.admin, json={"dataset": dataset})).json()["eval_id"]
    db = api.services.ingestion.db
    with db.transaction() as conn:
        claimed = eval_runs.claim(conn, "w1", time.time(), time.time() + 60)
        assert claimed is not None and claimed["id"] == eval_id and claimed["attempts"] == 1
        assert eval_runs.heartbeat(conn, eval_id, "w1", time.time() + 60, phase="searching", done=1)
    assert (await api.client.get(f"/v1/evals/{eval_id}", headers=api.admin)).json()["progress"]["done"] == 1
    assert (await api.client.delete(f"/v1/evals/{eval_id}", headers=api.admin)).json()["status"] == "cancelled"
    with db.transaction() as conn:
        assert not eval_runs.heartbeat(conn, eval_id, "w1", time.time() + 60, done=2)
        assert not eval_runs.finish(conn, eval_id, "w1", "completed", metrics="{}")
        assert eval_runs.claim(conn, "w2", time.time() + 3600, time.time() + 3660) is None
    assert (await api.client.get(f"/v1/evals/{eval_id}", headers=api.admin)).json()["status"] == "cancelled"

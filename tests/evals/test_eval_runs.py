"""Eval runs on real data: an API run and ``lectern eval retrieval`` agree on a slice of SciFact, and the
worker loop runs eval runs only when no document waits."""

from __future__ import annotations

import csv
import json
import re
import threading
from pathlib import Path

import httpx
import pytest

from api.client import Client
from api.ratelimit import RateLimiter
from api.services import Services
from tests.support import make_settings, run_cli, serving, start_cli, stop_process, write_beir

pytestmark = pytest.mark.anyio
SLICE_QUERIES = 20
LIMIT = 10
DISTRACTORS = 150


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _scifact_slice(scifact: Path, root: Path) -> Path:
    """The first ``SLICE_QUERIES`` judged training claims, the abstracts they judge and the first
    ``DISTRACTORS`` others, in BEIR layout (the whole corpus takes ten minutes to index here)."""
    with (scifact / "qrels" / "train.tsv").open() as f:
        judged = [row for row in csv.reader(f, delimiter="\t") if row and row[2].isdigit()]
    by_query: dict[str, list[list[str]]] = {}
    for row in judged:
        by_query.setdefault(row[0], []).append(row)
    queries = [line for line in (scifact / "queries.jsonl").read_text().splitlines() if line.strip()]
    kept = [q for q in queries if json.loads(q)["_id"] in by_query][:SLICE_QUERIES]
    kept_ids = {json.loads(q)["_id"] for q in kept}
    wanted = {row[1] for q in kept_ids for row in by_query[q]}
    corpus = []
    with (scifact / "corpus.jsonl").open() as f:
        for n, line in enumerate(f):
            if n < DISTRACTORS or json.loads(line)["_id"] in wanted:
                corpus.append(line.rstrip("\n"))
    (root / "qrels").mkdir(parents=True)
    (root / "queries.jsonl").write_text("\n".join(kept) + "\n")
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n")
    rows = [row for q in kept_ids for row in by_query[q]]
    (root / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rows)
    )
    return root


async def test_an_api_run_prints_what_the_cli_prints_on_a_scifact_slice(shared_data: Path, tmp_path: Path) -> None:
    dataset = _scifact_slice(shared_data / "beir" / "scifact", tmp_path / "scifact-slice")
    home = tmp_path / "home"
    services = Services.build(
        make_settings(home), RateLimiter({"listing": 1000, "retrieval": 10, "chat": 10, "write": 100})
    )
    services.start_indexing(idle_s=0.05)
    secret = services.keys.create(role="admin", name="root")[1]
    try:
        with serving(services) as base:
            async with Client(base, secret) as client:
                created = await client.evals.create(dataset, split="test", search_type="hybrid", limit=LIMIT)
                assert created.split == "train" and created.progress.total == LIMIT  # the only split present
                run = await client.evals.wait(created.eval_id, timeout=600, poll=0.5)
                csv_text = await client.evals.report(run.eval_id, "csv")
    finally:
        services.close()
    assert run.status == "completed", run.error
    metrics = run.metrics or {}

    # The CLI on the same home reuses the run's index and prints the same numbers for the same slice.
    cli = run_cli(home, "eval", "retrieval", "--dataset", str(dataset), "--type", "hybrid", "--limit", str(LIMIT))
    assert cli.returncode == 0, cli.stderr
    assert "reusing eval index" in cli.stdout and "using 'train'" in cli.stdout
    last = cli.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"ndcg@10=(\d\.\d{4}) recall@100=(\d\.\d{4}) mrr@10=(\d\.\d{4})", last)
    assert match, cli.stdout
    printed = {"ndcg@10": match.group(1), "recall@100": match.group(2), "mrr@10": match.group(3)}
    assert printed == {k: f"{metrics[k]:.4f}" for k in printed}
    table = next(line.split() for line in cli.stdout.splitlines() if line.startswith("hybrid"))
    assert table[2] == f"{metrics['recall@10']:.4f}"
    assert metrics["ndcg@10"] > 0.5  # SciFact's judged abstracts among 250 others: hybrid finds most

    rows = list(csv.DictReader(csv_text.splitlines()))
    assert len(rows) == LIMIT and rows[0]["query"]
    mean = sum(float(r["ndcg@10"]) for r in rows) / LIMIT
    assert abs(mean - metrics["ndcg@10"]) < 1e-4  # the per-query table is the run's own


def test_the_worker_runs_eval_runs_only_when_no_document_waits(tmp_path: Path) -> None:
    from ingestion.service import Ingestion

    ingestion = Ingestion(make_settings(tmp_path / "home"))
    seen: list[str] = []

    def side_job(worker_id: str, stop: threading.Event) -> bool:
        from ingestion import jobs

        seen.append(f"pending={jobs.pending_count(ingestion.db)}")
        if len(seen) == 1:
            raise RuntimeError("a side job that fails is logged, not raised")
        return len(seen) < 3

    try:
        ingestion.add_file(b"# Kettle\n\nDescale monthly.\n", "kettle.md", owner="admin")
        worker = ingestion.worker(side_jobs=[side_job])
        worker.run()  # draining: the document first, then the side job, whose failure ends a draining loop
        assert seen == ["pending=0"] and ingestion.list_documents()[0][0].status == "completed"
        worker.run()  # side jobs until one says there is none
        assert len(seen) == 3
    finally:
        ingestion.close()


async def test_an_answers_run_asks_through_the_chat_session(tmp_path: Path) -> None:
    from agent.scripted import ScriptedModel, quote_first_source, register

    qa = tmp_path / "qa.jsonl"
    rows = [
        {"id": "a1", "title": "Kettle", "paragraph_index": 0, "question": "How often to descale the kettle?",
         "answers": ["every month"], "is_impossible": False, "context": "Descale the kettle every month with citric acid."},
        {"id": "a2", "title": "Pump", "paragraph_index": 0, "question": "How long is the pump warranty?",
         "answers": ["two years"], "is_impossible": False, "context": "The warranty covers the pump for two years."},
    ]  # fmt: skip
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = register("eval-runs", ScriptedModel(quote_first_source))
    settings = make_settings(tmp_path / "home", model=model, tool_mode="retrieve_first")
    services = Services.build(settings, RateLimiter({"listing": 1000, "retrieval": 10, "chat": 10, "write": 100}))
    services.start_indexing(idle_s=0.05)
    secret = services.keys.create(role="admin", name="root")[1]
    try:
        with serving(services) as base:
            async with Client(base, secret) as client:
                run = await client.evals.wait((await client.evals.create(qa, kind="answers")).eval_id, timeout=300)
                assert run.status == "completed", run.error
                assert run.progress.done == run.progress.total == 2
                assert (run.metrics or {})["questions"] == 2.0 and "answer_accuracy" in (run.metrics or {})
                report = await client.evals.report(run.eval_id)
                assert sorted(r["id"] for r in report.rows) == ["a1", "a2"]
                assert (await client.evals.report(run.eval_id, "png")).startswith(b"\x89PNG")
            async with httpx.AsyncClient(base_url=base) as http:
                bad = await http.post("/v1/evals", headers={"Authorization": f"Bearer {secret}"},
                                      json={"kind": "answers", "dataset": str(tmp_path)})  # fmt: skip
                assert bad.status_code == 400 and "is not a file" in bad.json()["message"]
    finally:
        services.close()


async def test_a_lectern_worker_process_runs_the_runs_an_api_process_queues(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "worker.log"
    docs = {"k": ("Kettle", "Descale the kettle every month."), "p": ("Pump", "The pump warranty lasts two years.")}
    dataset = write_beir(tmp_path / "tiny", docs, {"q": "kettle descaling interval"}, [("q", "k", 1)])
    services = Services.build(
        make_settings(home, indexing="off"), RateLimiter({"listing": 1000, "retrieval": 10, "chat": 10, "write": 100})
    )
    secret = services.keys.create(role="admin", name="root")[1]
    worker = start_cli(home, log, "worker", "--idle-s", "0.1")
    try:
        with serving(services) as base:
            async with Client(base, secret) as client:
                run = await client.evals.wait((await client.evals.create(dataset)).eval_id, timeout=300, poll=0.3)
        assert run.status == "completed", (run.error, log.read_text()[-2000:])
        assert (run.metrics or {})["recall@10"] == 1.0
        assert f"eval run {run.eval_id}" in log.read_text()
    finally:
        stop_process(worker)
        services.close()


def test_the_wire_literals_are_the_runs_own() -> None:
    import typing

    from api.schemas import evals as wire
    from evals import runs

    for name in ("EvalKind", "EvalStatus"):
        assert typing.get_args(getattr(wire, name)) == typing.get_args(getattr(runs, name)), name

"""``/v1/evals``: eval runs started over the API, their progress, metrics and reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .retrieve import SearchType as EvalSearchType

if TYPE_CHECKING:  # evals needs the whole stack; the SDK only ever validates JSON into these
    from evals.runs import EvalRun as Run

EvalKind = Literal["retrieval", "answers"]
EvalStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
MAX_LIMIT = 1_000_000


class NewEval(BaseModel):
    """``POST /v1/evals`` as JSON: a dataset the server can read."""

    model_config = ConfigDict(extra="forbid")

    kind: EvalKind = "retrieval"
    dataset: str = Field(min_length=1, max_length=4096, description="a folder in BEIR layout (corpus.jsonl, "
                         "queries.jsonl, qrels/<split>.tsv) for `retrieval`; a QA JSONL file for `answers`")  # fmt: skip
    split: str = Field(default="test", min_length=1, max_length=64, pattern=r"^[\w.-]+$",
                       description="the qrels split; the only one present is used when this one is not")  # fmt: skip
    search_type: EvalSearchType = "hybrid"
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="the first N judged queries only")
    name: str | None = Field(default=None, max_length=200)


class EvalProgress(BaseModel):
    done: int
    total: int | None
    phase: str | None = Field(
        default=None, description="`indexing` (the corpus, first run only), `searching`, `asking`"
    )


class EvalRun(BaseModel):
    eval_id: str
    name: str | None
    kind: EvalKind
    dataset: str
    split: str
    search_type: EvalSearchType
    limit: int | None
    status: EvalStatus
    progress: EvalProgress
    metrics: dict[str, float] | None = Field(
        description="once completed: ndcg@10, recall@10, recall@100, mrr@10, recall@1..100 (the plot's curve), "
        "latency_p50_ms, latency_p95_ms for retrieval; answer_accuracy, citation_precision, ... for answers"
    )
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, run: Run) -> EvalRun:
        return cls(
            eval_id=run.eval_id, name=run.name, kind=run.kind, dataset=run.dataset, split=run.split,
            search_type=run.search_type, limit=run.limit, status=run.status,
            progress=EvalProgress(done=run.done, total=run.total, phase=run.phase), metrics=run.metrics,
            error=run.error, created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        )  # fmt: skip


class EvalList(BaseModel):
    items: list[EvalRun]
    total_count: int
    page: int
    limit: int


class EvalReport(BaseModel):
    """``GET /v1/evals/{id}/report?format=json``: the per-query table."""

    eval_id: str
    kind: EvalKind
    metrics: dict[str, float] | None
    rows: list[dict[str, object]]

"""``lectern eval answers``: ask a QA dataset's questions through ``ChatSession.send()`` and score the answers.

The dataset is JSONL rows ``{id, title, paragraph_index, question, answers, is_impossible,
context}`` (SQuAD 2.0 style). Every distinct paragraph becomes a document, so each
question is answered by retrieval over all of them, exactly as in production.
Scores: answer accuracy (a normalised gold answer appears in the answer), citation
precision (cited chunks contain a gold answer), abstention accuracy on unanswerable
questions, and latency (time to first token, total).
"""

from __future__ import annotations

import json
import re
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.events import DoneEvent, ErrorEvent, TokenEvent
from agent.session import SessionManager
from core.access import Principal
from core.errors import InvalidDataset
from core.settings import Settings
from ingestion.catalog import chunks
from ingestion.service import Ingestion

from .metrics import percentile
from .retrieval import file_fingerprint, ingest_collection, open_eval_home

EVAL_COLLECTION = "qa"
EVAL_PRINCIPAL = Principal("eval", "admin")
RATIOS = ("answer_accuracy", "citation_precision", "answers_with_citations", "abstention_accuracy",
          "false_abstentions")  # fmt: skip
"""The summary's scores in 0..1 (a report plots them as bars)."""
_DECLINES = re.compile(
    r"could not find|couldn't find|can ?not find|can't find|not (?:mentioned|stated|found|provided|given|specified)"
    r"|no information|do(?:es)? not (?:say|mention|contain|provide|specify)|don't know|do not know|unable to (?:find|answer)"
)


@dataclass
class AnswerRecord:
    id: str
    question: str
    gold: list[str]
    impossible: bool
    answer: str
    cited_chunks: list[str]
    correct: bool | None
    abstained: bool
    cited_with_gold: int
    ttft_ms: float | None
    total_ms: float
    error: str | None = None


def normalise(value: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    value = value.lower()
    value = "".join(ch for ch in value if ch not in set(string.punctuation))
    value = re.sub(r"\b(a|an|the)\b", " ", value)
    return " ".join(value.split())


def contains_gold(answer: str, gold: list[str]) -> bool:
    said = f" {normalise(answer)} "
    return any(g and f" {normalise(g)} " in said for g in gold if normalise(g))


def is_abstention(answer: str, finish_reason: str) -> bool:
    return finish_reason == "no_relevant_sources" or bool(_DECLINES.search(answer.lower()))


def load_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


_FIELDS = ("id", "title", "paragraph_index", "question", "answers", "is_impossible", "context")


def check_dataset(path: Path) -> int:
    """How many questions the QA JSONL holds; ``InvalidDataset`` saying which line is wrong (the API
    refuses such a run at once rather than failing it in the worker)."""
    if not path.is_file():
        raise InvalidDataset(f"{path} is not a file the server can read (an answers eval reads a QA JSONL)",
                             dataset=str(path))  # fmt: skip
    count = 0
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidDataset(f"{path.name} line {number} is not JSON: {exc.msg}", line=number) from None
                missing = [k for k in _FIELDS if not isinstance(row, dict) or k not in row]
                if missing:
                    raise InvalidDataset(f"{path.name} line {number} lacks {', '.join(missing)}", line=number)
                count += 1
    except (UnicodeDecodeError, OSError) as exc:
        raise InvalidDataset(f"{path.name} cannot be read: {exc}", dataset=str(path)) from None
    if not count:
        raise InvalidDataset(f"{path.name} holds no question", dataset=str(path))
    return count


def select(rows: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """A deterministic spread over the file (which is grouped by paragraph), keeping its mix of question kinds."""
    if not limit or limit >= len(rows):
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def open_index(dataset: Path, settings: Settings, log: Callable[[str], None] = print) -> Ingestion:
    home = settings.home / "eval-cache" / f"{dataset.stem}-{file_fingerprint(dataset, settings)}"

    def _ingest(service: Ingestion, marker: Path) -> None:
        paragraphs: dict[str, dict[str, str]] = {}
        for row in load_rows(dataset):
            key = f"{row['title']}-{row['paragraph_index']}"
            paragraphs.setdefault(key, {"docid": key, "title": row["title"].replace("_", " "), "text": row["context"]})
        log(f"ingesting {len(paragraphs)} paragraphs into {home}")
        started = time.perf_counter()
        lines = [json.dumps(p) for p in paragraphs.values()]
        ingest_collection(service, lines, EVAL_COLLECTION, EVAL_PRINCIPAL.user_id, marker, started)

    return open_eval_home(home, settings, _ingest, log)


def _chunk_texts(service: Ingestion, chunk_ids: list[str]) -> dict[str, str]:
    with service.db.read() as conn:
        return chunks.chunk_texts(conn, chunk_ids)


async def ask_all(
    manager: SessionManager, rows: list[dict[str, Any]], model: str | None, log: Callable[[str], None] = print,
    on_question: Callable[[int, int], None] | None = None,
) -> list[AnswerRecord]:  # fmt: skip
    """Each question in a session of its own; ``on_question`` hears (done, all) after each and may
    raise to stop."""
    records: list[AnswerRecord] = []
    for i, row in enumerate(rows, start=1):
        session = manager.create(principal=EVAL_PRINCIPAL, model=model)
        started = time.perf_counter()
        first: float | None = None
        answer, finish, cited, error = "", "", [], None
        async for event in session.send(row["question"], stream=True):
            if isinstance(event, TokenEvent) and first is None:
                first = time.perf_counter()
            elif isinstance(event, DoneEvent):
                answer, finish, cited = event.answer, event.finish_reason, [c.chunk_id for c in event.citations]
            elif isinstance(event, ErrorEvent):
                error = f"{event.error_code}: {event.message}"
        total = time.perf_counter() - started
        gold = [] if row["is_impossible"] else list(row["answers"])
        texts = _chunk_texts(manager.ingestion, cited)
        records.append(
            AnswerRecord(
                id=row["id"],
                question=row["question"],
                gold=gold,
                impossible=bool(row["is_impossible"]),
                answer=answer,
                cited_chunks=cited,
                correct=None if row["is_impossible"] else contains_gold(answer, gold),
                abstained=is_abstention(answer, finish),
                cited_with_gold=sum(1 for c in cited if gold and contains_gold(texts.get(c, ""), gold)),
                ttft_ms=None if first is None else round((first - started) * 1000, 1),
                total_ms=round(total * 1000, 1),
                error=error,
            )
        )
        manager.store.delete(session.id)
        if i % 10 == 0 or i == len(rows):
            log(f"  {i}/{len(rows)} questions")
        if on_question is not None:
            on_question(i, len(rows))
    return records


def summarise(records: list[AnswerRecord]) -> dict[str, Any]:
    answerable = [r for r in records if not r.impossible]
    unanswerable = [r for r in records if r.impossible]
    citations = sum(len(r.cited_chunks) for r in answerable)
    ttft = [r.ttft_ms for r in records if r.ttft_ms is not None]
    total = [r.total_ms for r in records]

    def ratio(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": sum(1 for r in records if r.error),
        "answer_accuracy": ratio(sum(1 for r in answerable if r.correct), len(answerable)),
        "citation_precision": ratio(sum(r.cited_with_gold for r in answerable), citations),
        "answers_with_citations": ratio(sum(1 for r in answerable if r.cited_chunks), len(answerable)),
        "abstention_accuracy": ratio(sum(1 for r in unanswerable if r.abstained), len(unanswerable)),
        "false_abstentions": ratio(sum(1 for r in answerable if r.abstained), len(answerable)),
        "ttft_ms": {"p50": percentile(ttft, 0.5), "p95": percentile(ttft, 0.95)} if ttft else None,
        "total_ms": {"p50": percentile(total, 0.5), "p95": percentile(total, 0.95)} if total else None,
    }


async def evaluate(
    dataset: Path, settings: Settings, *, limit: int | None, model: str | None, log: Callable[[str], None] = print,
    on_question: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], list[AnswerRecord]]:  # fmt: skip
    """The one answers eval: ``lectern eval answers`` and the API's eval runs both call it."""
    service = open_index(dataset, settings, log)
    manager = SessionManager(ingestion=service, principal=EVAL_PRINCIPAL)
    try:
        rows = select(load_rows(dataset), limit)
        log(f"asking {len(rows)} questions with {model or settings.agent.model}")
        records = await ask_all(manager, rows, model, log, on_question)
    finally:
        manager.close()
        service.close()
    return summarise(records), records


def write_results(path: Path, summary: dict[str, Any], records: list[AnswerRecord]) -> None:
    path.write_text(json.dumps({"summary": summary, "per_question": [asdict(r) for r in records]}, indent=1))

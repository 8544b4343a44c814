"""Enrichment time per document with a real model (the bundled local one by default).

    python -m evals.benchmarks.enrichment [--model local] [--docs PATH ...] [--summaries] [--json PATH]

Each document (default: five of the demo corpus, one per format) is indexed first (not timed), then its
enrichment job runs alone in this thread (``Ingestion.enrichment_worker``) and is timed: the model calls
(counted through a wrapper around the ``TextModel``), parsing and the catalog write. The local model's
server is started before the first document, so its start-up is not in any document's time. Reported per
document: its size in words, the calls, the seconds, the status and what the model's answers became.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.session import SessionManager
from agent.text_model import ConfiguredTextModel
from core.settings import Settings
from ingestion.service import Ingestion

DEMO = Path(__file__).resolve().parents[2] / "api" / "demo" / "docs"
DEFAULT_DOCS = [
    DEMO / "aurora-x2-setup.md",
    DEMO / "aurora-x2-quick-start.pdf",
    DEMO / "return-policy.docx",
    DEMO / "meeting-memo-2026-10-14.txt",
    DEMO / "aurora-x2-troubleshooting.md",
]


class _Counting:
    """The model, with its calls counted and timed."""

    def __init__(self, inner: ConfiguredTextModel) -> None:
        self.inner = inner
        self.calls = 0
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return self.inner.name

    def context_tokens(self) -> int:
        return self.inner.context_tokens()

    def complete(self, prompt: str, max_tokens: int) -> str:
        started = time.perf_counter()
        try:
            return self.inner.complete(prompt, max_tokens)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started

    def unusable(self) -> str | None:
        return self.inner.unusable()


def run(docs: list[Path], model: str, summaries: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        ingestion = Ingestion(Settings(home=Path(home), model=model))  # type: ignore[call-arg]
        manager = SessionManager(ingestion=ingestion)
        try:
            counting = _Counting(ConfiguredTextModel(manager))
            ingestion.enrichment_model = counting
            counting.context_tokens()  # starts the local server now, outside every document's time
            for path in docs:
                doc = ingestion.add_file(path, path.name, owner="bench", enrich=True, summaries=summaries).document
                ingestion.worker().run()
                calls_before = counting.calls
                started = time.perf_counter()
                ingestion.enrichment_worker().run()
                elapsed = time.perf_counter() - started
                done = ingestion.get(doc.id)
                summary_chunks = sum(1 for c in ingestion.chunks(doc.id) if c.kind == "summary")
                rows.append({
                    "document": path.name, "words": done.word_count, "chunks": done.chunk_count,
                    "calls": counting.calls - calls_before, "seconds": round(elapsed, 1),
                    "status": done.enrichment_status, "reason": done.enrichment_reason,
                    "document_type": done.document_type, "description": done.description,
                    "file_synopsis": done.file_synopsis, "summary_chunks": summary_chunks,
                })  # fmt: skip
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
        finally:
            manager.close()
            ingestion.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="local", help="a litellm model string; `local`: the bundled SmolLM2")
    parser.add_argument("--docs", nargs="*", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--summaries", action="store_true", help="also section and master summaries")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    rows = run(args.docs, args.model, args.summaries)
    seconds = [r["seconds"] for r in rows]
    print(f"\n{'document':34} {'words':>6} {'calls':>5} {'s':>6}  status     type")
    for r in rows:
        print(
            f"{r['document']:34} {r['words'] or 0:>6} {r['calls']:>5} {r['seconds']:>6}  {r['status']:10} {r['document_type']}"
        )
    print(f"mean {sum(seconds) / len(seconds):.1f} s per document, {sum(r['calls'] for r in rows)} calls in all")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

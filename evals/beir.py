"""Reading a BEIR-layout dataset: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Every way a dataset can be unreadable is an ``InvalidDataset`` saying which file and line, so
``POST /v1/evals`` refuses it at once (400) and ``lectern eval`` prints the same sentence.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import InvalidDataset


@dataclass
class BeirDataset:
    root: Path
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def name(self) -> str:
        return self.root.name


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSONL file's objects with their line numbers; a line that is not a JSON object with an
    ``_id`` is refused with its number."""
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidDataset(f"{path.name} line {number} is not JSON: {exc.msg}", file=path.name,
                                         line=number) from None  # fmt: skip
                if not isinstance(row, dict) or "_id" not in row:
                    raise InvalidDataset(f"{path.name} line {number} is not an object with an _id", file=path.name,
                                         line=number)  # fmt: skip
                yield number, row
    except UnicodeDecodeError:
        raise InvalidDataset(f"{path.name} is not UTF-8 text", file=path.name) from None
    except OSError as exc:
        raise InvalidDataset(f"{path.name} cannot be read: {exc.strerror}", file=path.name) from None


def load_corpus(root: Path) -> dict[str, dict[str, str]]:
    corpus: dict[str, dict[str, str]] = {}
    for _, row in _rows(root / "corpus.jsonl"):
        corpus[str(row["_id"])] = {"title": str(row.get("title") or ""), "text": str(row.get("text") or "")}
    return corpus


def resolve_split(root: Path, wanted: str) -> str:
    """``wanted`` when ``qrels/<wanted>.tsv`` exists, else the only split present (SciFact as shared
    here has only ``train``); refused when neither."""
    if not root.is_dir():
        raise InvalidDataset(f"{root} is not a folder the server can read", dataset=str(root))
    if (root / "qrels" / f"{wanted}.tsv").is_file():
        return wanted
    present = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
    if len(present) == 1:
        return present[0]
    raise InvalidDataset(f"{root} is not a BEIR dataset: qrels/{wanted}.tsv is missing "
                         f"(present: {', '.join(present) or 'none'})", split=wanted, present=present)  # fmt: skip


def load(root: Path, split: str, *, with_corpus: bool = True) -> BeirDataset:
    """The dataset, its queries reduced to those judged in the split. ``with_corpus=False`` reads
    queries and judgments only (an eval over the documents already in Lectern)."""
    needed = (
        ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv")
        if with_corpus
        else ("queries.jsonl", f"qrels/{split}.tsv")
    )
    for name in needed:
        if not (root / name).is_file():
            raise InvalidDataset(f"{root} is not a BEIR dataset: {name} is missing", missing=name)
    qrels = _qrels(root / "qrels" / f"{split}.tsv")
    queries: dict[str, str] = {}
    for number, row in _rows(root / "queries.jsonl"):
        if str(row["_id"]) in qrels:
            if not isinstance(row.get("text"), str):
                raise InvalidDataset(f"queries.jsonl line {number} has no text", file="queries.jsonl", line=number)
            queries[str(row["_id"])] = row["text"]
    if not queries:
        raise InvalidDataset(f"no query of queries.jsonl is judged in qrels/{split}.tsv", split=split)
    qrels = {q: docs for q, docs in qrels.items() if q in queries}
    corpus = load_corpus(root) if with_corpus else {}
    if with_corpus and not corpus:
        raise InvalidDataset("corpus.jsonl holds no document", file="corpus.jsonl")
    return BeirDataset(root=root, corpus=corpus, queries=queries, qrels=qrels)


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    try:
        with path.open(encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="\t"):
                if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                    continue  # the header, or a blank line
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    except UnicodeDecodeError:
        raise InvalidDataset(f"qrels/{path.name} is not UTF-8 text", file=path.name) from None
    except OSError as exc:
        raise InvalidDataset(f"qrels/{path.name} cannot be read: {exc.strerror}", file=path.name) from None
    if not qrels:
        raise InvalidDataset(f"qrels/{path.name} holds no judgment (query-id, corpus-id, score per line)",
                             file=path.name)  # fmt: skip
    return qrels


def select(dataset: BeirDataset, limit: int | None) -> BeirDataset:
    """The first ``limit`` judged queries in ``queries.jsonl``'s order (all of them without a limit):
    the same slice for ``lectern eval retrieval --limit`` and ``POST /v1/evals``."""
    if not limit or limit >= len(dataset.queries):
        return dataset
    kept = dict(list(dataset.queries.items())[:limit])
    return replace(dataset, queries=kept, qrels={q: dataset.qrels[q] for q in kept})

"""The ``lectern eval retrieval`` command's body: run, print the table, write files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import cast

from core.settings import Settings
from tools.search import SEARCH_TYPES, SearchType

from .beir import resolve_split
from .report import write_report
from .retrieval import TypeReport, evaluate


def _split(dataset: Path, wanted: str) -> str:
    used = resolve_split(dataset, wanted)  # as POST /v1/evals resolves it
    if used != wanted:
        print(f"split {wanted!r} not found; using {used!r}")
    return used


def print_table(reports: list[TypeReport]) -> None:
    print(f"{'type':8}  {'nDCG@10':>8}  {'R@10':>7}  {'R@100':>7}  {'MRR@10':>7}  {'p50 ms':>7}  {'p95 ms':>7}")
    for r in reports:
        m, lat = r.metrics, r.latency_ms
        print(
            f"{r.search_type:8}  {m['ndcg@10']:8.4f}  {m['recall@10']:7.4f}  {m['recall@100']:7.4f}  "
            f"{m['mrr@10']:7.4f}  {lat['p50']:7.1f}  {lat['p95']:7.1f}"
        )


def run_retrieval_eval(args: argparse.Namespace, settings: Settings) -> int:
    split = _split(args.dataset, args.split)
    types = list(SEARCH_TYPES) if args.type == "all" else [cast(SearchType, args.type)]
    reports = evaluate(args.dataset, split=split, types=types, settings=settings, depth=args.k, limit=args.limit)
    print_table(reports)
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    r.search_type: {"metrics": r.metrics, "latency_ms": r.latency_ms, "per_query": r.per_query}
                    for r in reports
                },
                indent=1,
            )
        )
    if args.report:
        print(f"report: {write_report(reports, args.report, args.dataset.name, split)}")
    last = reports[-1].metrics
    print(f"ndcg@10={last['ndcg@10']:.4f} recall@100={last['recall@100']:.4f} mrr@10={last['mrr@10']:.4f}")
    if args.min_ndcg is not None and last["ndcg@10"] < args.min_ndcg:
        print(f"FAILED: nDCG@10 {last['ndcg@10']:.4f} is below the floor {args.min_ndcg:.4f}")
        return 3
    return 0


def run_answers_eval(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .answers import evaluate as evaluate_answers
    from .answers import write_results

    summary, records = asyncio.run(evaluate_answers(args.dataset, settings, limit=args.limit, model=args.model))
    print(json.dumps(summary, indent=1))
    if args.out:
        write_results(args.out, summary, records)

    def show(value: object) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    print(
        f"accuracy={show(summary['answer_accuracy'])} citation_precision={show(summary['citation_precision'])} "
        f"abstention={show(summary['abstention_accuracy'])} errors={summary['errors']}"
    )
    return 1 if summary["errors"] else 0

"""The eval report a person reads: a Markdown table and a recall@k plot per search type.

The plot and the per-query table are drawn by the functions here for ``lectern eval retrieval
--report`` and for ``GET /v1/evals/{id}/report`` alike.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .retrieval import TypeReport

_KS = (1, 3, 5, 10, 20, 50, 100)
KS = _KS
"""The k of the recall@k curve."""


def recall_curve(report: TypeReport) -> list[float]:
    """Mean recall@k for each k in ``_KS``, from the per-query rankings kept in the report."""
    curve = []
    for k in _KS:
        values = []
        for row in report.per_query.values():
            relevant = set(row["relevant"])
            ranked = row.get("ranked", row["top10"])
            values.append(len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0)
        curve.append(sum(values) / len(values) if values else 0.0)
    return curve


def curve_metrics(report: TypeReport) -> dict[str, float]:
    """The recall@k curve as metrics (``recall@1`` … ``recall@100``): an eval run keeps these, so its
    plot is drawn again from the metrics alone."""
    return {f"recall@{k}": value for k, value in zip(_KS, recall_curve(report), strict=True)}


def recall_plot_png(curves: Mapping[str, Sequence[float]], title: str) -> bytes:
    """One line per label (a search type, a run), mean recall@k against k on a log axis, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for label, curve in curves.items():
            ax.plot(_KS, list(curve), marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xticks(_KS, [str(k) for k in _KS])
        ax.set_xlabel("k (documents retrieved)")
        ax.set_ylabel("mean recall@k")
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=110)
    finally:
        plt.close(fig)
    return out.getvalue()


def bar_plot_png(values: Mapping[str, float], title: str) -> bytes:
    """A bar per score in 0..1 (an answers run's accuracy, citation precision, abstention), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        names = list(values)
        ax.bar(names, [values[n] for n in names], color="#4c72b0")
        ax.set_ylim(0, 1)
        ax.set_ylabel("score")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=20)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=110)
    finally:
        plt.close(fig)
    return out.getvalue()


def table_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The per-query table as CSV: a header, then one row per query; lists are joined by spaces."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_report(reports: list[TypeReport], out_dir: Path, dataset: str, split: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = {report.search_type: recall_curve(report) for report in reports}
    (out_dir / "recall_at_k.png").write_bytes(recall_plot_png(curves, f"Recall@k on {dataset} ({split} split)"))

    lines = [
        f"# Retrieval eval: {dataset} ({split})",
        "",
        "| search type | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | p50 ms | p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        m, lat = r.metrics, r.latency_ms
        lines.append(
            f"| {r.search_type} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | {m['recall@100']:.4f} | "
            f"{m['mrr@10']:.4f} | {lat['p50']:.1f} | {lat['p95']:.1f} |"
        )
    lines += ["", "![recall@k](recall_at_k.png)", ""]
    worst = sorted(reports[0].per_query.items(), key=lambda kv: kv[1]["ndcg@10"])[:10]
    lines += [f"## Hardest queries for {reports[0].search_type}", "", "| query | nDCG@10 |", "| --- | --- |"]
    lines += [f"| {json.dumps(row['query'])[1:-1][:120]} | {row['ndcg@10']:.3f} |" for _, row in worst]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

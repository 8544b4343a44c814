"""The eval report a person reads: a Markdown table and a recall@k plot per search type."""

from __future__ import annotations

import json
from pathlib import Path

from .retrieval import TypeReport

_KS = (1, 3, 5, 10, 20, 50, 100)


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


def write_report(reports: list[TypeReport], out_dir: Path, dataset: str, split: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for report in reports:
        ax.plot(_KS, recall_curve(report), marker="o", label=report.search_type)
    ax.set_xscale("log")
    ax.set_xticks(_KS, [str(k) for k in _KS])
    ax.set_xlabel("k (documents retrieved)")
    ax.set_ylabel("mean recall@k")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"Recall@k on {dataset} ({split} split)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "recall_at_k.png", dpi=110)
    plt.close(fig)

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

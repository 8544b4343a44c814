import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

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


def _dataset(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as f:
        for doc_id, (title, body) in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": body}) + "\n")
    with (root / "queries.jsonl").open("w") as f:
        for qid, query in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": query}) + "\n")
    (root / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS)
    )
    return root


def _eval(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LECTERN_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "eval", "retrieval", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_eval_runs_reports_and_reuses_its_index(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "tiny")
    out, report = tmp_path / "results.json", tmp_path / "report"
    first = _eval(
        tmp_path / "home", "--dataset", str(dataset), "--type", "all", "--out", str(out), "--report", str(report)
    )
    assert first.returncode == 0, first.stderr
    assert "using 'dev'" in first.stdout and "ingesting 5 documents" in first.stdout
    last = first.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"ndcg@10=(\d\.\d{4}) recall@100=(\d\.\d{4}) mrr@10=(\d\.\d{4})", last)
    assert match and float(match.group(1)) > 0.8 and float(match.group(2)) == 1.0
    results = json.loads(out.read_text())
    assert set(results) == {"hybrid", "vector", "keyword"}
    assert results["keyword"]["per_query"]["q3"]["top10"][0] == "d5"
    assert (report / "recall_at_k.png").stat().st_size > 1000
    assert "| hybrid |" in (report / "report.md").read_text()

    second = _eval(tmp_path / "home", "--dataset", str(dataset), "--split", "dev", "--min-ndcg", "0.99")
    assert "reusing eval index" in second.stdout
    assert second.returncode in (0, 3)
    assert ("FAILED" in second.stdout) == (second.returncode == 3)


def test_a_folder_that_is_not_beir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("")
    result = _eval(tmp_path / "home", "--dataset", str(tmp_path))
    assert result.returncode == 1 and "corpus.jsonl is missing" in result.stderr

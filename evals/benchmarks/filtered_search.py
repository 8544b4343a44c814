"""A user's search on SciFact, with the vector leg's filter planned (``auto``) and forced into Chroma.

    python -m evals.benchmarks.filtered_search [--queries 300]

The SciFact eval index is copied to a scratch home, and its documents are handed
out to four users owning 75 %, 20 %, 4.5 % and 0.5 % of them (catalog and Chroma
metadata both). Each user's queries then run through two retrievers in one
process, alternating query by query: one planning the vector leg by scope size
(the default) and one with ``LECTERN_VECTOR_FILTER=chroma``. Reported: the plan
taken, p50 / p95 per retriever and search type, their ratio, and how often the two
top-10 lists are identical. An admin row (no filter) is the reference.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from core.access import Principal
from core.settings import Settings
from ingestion.catalog import documents as catalog
from ingestion.catalog.documents import chunk_ids, update_document
from ingestion.service import Ingestion
from tools.search import RetrievalConfig, Retriever, SearchType

from ..beir import load
from ..metrics import percentile
from ..retrieval import EVAL_PRINCIPAL, eval_home, open_index
from .retrieval_latency import DEFAULT_DATASET

SHARES = {"u75": 0.75, "u20": 0.20, "u4": 0.045, "u05": 0.005}


def _hand_out(service: Ingestion, seed: int) -> None:
    """Give every document one of the users as owner, in the catalog and in Chroma's metadata."""
    with service.db.read() as conn:
        documents = sorted(d.id for d in catalog.list_documents(conn)[0])
    random.Random(seed).shuffle(documents)
    start = 0
    for number, (user, share) in enumerate(SHARES.items()):
        end = len(documents) if number == len(SHARES) - 1 else start + round(share * len(documents))
        mine = documents[start:end]
        start = end
        chunks: list[str] = []
        with service.db.transaction() as conn:
            for document_id in mine:
                update_document(conn, document_id, owner=user)  # bumps the access generation, as ingestion does
                chunks += chunk_ids(conn, document_id)
        for at in range(0, len(chunks), 2000):
            batch = chunks[at : at + 2000]
            service.vectors.collection.update(ids=batch, metadatas=[{"owner": user}] * len(batch))


def _timed(retriever: Retriever, query: str, principal: Principal, search_type: SearchType) -> tuple[float, list[str]]:
    started = time.perf_counter()
    response = retriever.search(query, principal=principal, search_type=search_type, top_k=10, expand_references=False)
    return (time.perf_counter() - started) * 1000, [h.chunk_id for h in response.results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    dataset = load(args.dataset, "train")
    open_index(dataset, Settings()).close()
    scratch = Path(tempfile.mkdtemp(prefix="lectern-filtered-"))
    shutil.copytree(eval_home(dataset.root, Settings()), scratch, dirs_exist_ok=True)
    service = Ingestion(Settings(home=scratch))
    try:
        _hand_out(service, args.seed)
        planned = Retriever(service)
        forced = Retriever(service, RetrievalConfig(vector_filter="chroma"))
        queries = list(dataset.queries.values())[: args.queries]
        total = service.vectors.count()
        print(f"{len(queries)} queries, top_k=10, {total} chunks; p50 / p95 in ms")
        print(
            "user   chunks  share   plan        type     planned p50 / p95    chroma p50 / p95    p50 ratio  same top 10"
        )
        principals = [EVAL_PRINCIPAL] + [Principal(u, "user") for u in SHARES]
        for principal in principals:
            scope = planned.scopes.resolve(principal, None, None, "any", None)
            allowed = total if scope.allowed_chunks is None else scope.allowed_chunks
            plan = planned.vector_leg.planner.plan(scope, planned.config.candidates, total)
            for retriever in (planned, forced):  # warm both paths
                for query in queries[:10]:
                    retriever.search(query, principal=principal)
            for search_type in ("vector", "hybrid"):
                times: dict[str, list[float]] = {"planned": [], "chroma": []}
                same = 0
                for query in queries:
                    t_planned, a = _timed(planned, query, principal, search_type)  # type: ignore[arg-type]
                    t_forced, b = _timed(forced, query, principal, search_type)  # type: ignore[arg-type]
                    times["planned"].append(t_planned)
                    times["chroma"].append(t_forced)
                    same += a == b
                p, c = times["planned"], times["chroma"]
                print(
                    f"{principal.user_id:6} {allowed:6}  {allowed / total:5.1%}  {plan.kind:10}  {search_type:7}"
                    f"  {statistics.median(p):7.1f} / {percentile(p, 0.95):6.1f}"
                    f"    {statistics.median(c):7.1f} / {percentile(c, 0.95):6.1f}"
                    f"    {statistics.median(p) / statistics.median(c):7.2f}   {same / len(queries):6.1%}",
                    flush=True,
                )
    finally:
        service.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

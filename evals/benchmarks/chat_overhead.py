"""Time Lectern adds before the first token of a chat turn, with an instant scripted model.

    LECTERN_HOME=... python -m evals.benchmarks.chat_overhead [--turns 200]

Each turn is a new session's first question (a SciFact training query) in
retrieve_first mode: persistence of the question, the search (query embedding,
both legs, fusion, snippets), prompt building and fitting, and litellm's call into
the scripted model, which answers at once. Reported beside a bare
``Retriever.search`` of the same queries in the same run, so the agent's own share
is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from agent.events import TokenEvent, ToolResultEvent
from agent.scripted import ScriptedModel, quote_first_source, register
from agent.session import SessionManager
from core.settings import Settings
from tools.search import Retriever

from ..beir import load
from ..metrics import percentile
from ..retrieval import EVAL_PRINCIPAL, open_index

DEFAULT_DATASET = Path(__file__).resolve().parents[3] / "shared" / "data" / "beir" / "scifact"


async def _turns(manager: SessionManager, model: str, queries: list[str]) -> tuple[list[float], list[float], int]:
    first_token, to_results, declined = [], [], 0
    for query in queries:
        session = manager.create(principal=EVAL_PRINCIPAL, model=model)
        started = time.perf_counter()
        first = results = None
        async for event in session.send(query, stream=True):
            now = time.perf_counter()
            if isinstance(event, ToolResultEvent) and results is None:
                results = now
                declined += not event.results
            if isinstance(event, TokenEvent) and first is None:
                first = now
        assert first is not None and results is not None
        first_token.append((first - started) * 1000)
        to_results.append((results - started) * 1000)
    return first_token, to_results, declined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--split", default="train")
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()

    dataset = load(args.dataset, args.split)
    service = open_index(dataset, Settings())
    settings = service.settings
    settings.agent.tool_mode = "retrieve_first"
    model = register("bench", ScriptedModel(quote_first_source))
    manager = SessionManager(ingestion=service, principal=EVAL_PRINCIPAL)
    retriever = manager.retriever
    queries = list(dataset.queries.values())[: args.turns]
    asyncio.run(_turns(manager, model, queries[:20]))  # warm-up: litellm's first call, caches
    for query in queries[:20]:
        retriever.search(query, principal=EVAL_PRINCIPAL, top_k=5)

    first_token, to_results, declined = asyncio.run(_turns(manager, model, queries))
    bare = []
    for query in queries:
        started = time.perf_counter()
        Retriever.search(retriever, query, principal=EVAL_PRINCIPAL, top_k=5)
        bare.append((time.perf_counter() - started) * 1000)

    def row(name: str, values: list[float]) -> str:
        return f"{name:34} p50 {percentile(values, 0.5):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms"

    print(f"{len(queries)} turns on {dataset.name} ({declined} declined for lack of relevant passages)")
    print(row("send() -> first token", first_token))
    print(row("send() -> tool_result", to_results))
    print(row("bare Retriever.search (top_k=5)", bare))
    manager.close()
    service.close()


if __name__ == "__main__":
    main()

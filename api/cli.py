"""``lectern``: a thin command line over the library (every command is a few calls into it)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from core.access import Role
from core.errors import LecternError
from core.settings import Settings
from ingestion import detect
from ingestion.catalog.documents import Document
from ingestion.pipeline import BatchTimings
from ingestion.service import Ingestion
from ingestion.worker import DEFAULT_BATCH_SIZE

if TYPE_CHECKING:
    from agent.session import SessionManager

LOCAL_OWNER = "admin"
DEMO_DIR = Path(__file__).parent / "demo" / "docs"
DEMO_COLLECTION = "aurora-faq"
EMBEDDED_CHROMA_SPLIT = (
    "the vectors are in embedded Chroma, which is not process-safe: an API process that opened it before "
    "a `lectern worker` wrote vectors does not see them (its vector searches fail or miss them until it "
    "restarts). With separate workers, run a Chroma server and set LECTERN_CHROMA_URL."
)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number


def _split_tags(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def _expand(paths: Sequence[str]) -> list[tuple[Path, str]]:
    """Each file with its display name: its path relative to the folder given (``lectern ingest docs``
    keeps ``docs/trials/2024/protocol.docx`` as ``trials/2024/protocol.docx``), or its own name."""
    files: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            files.extend((p, p.relative_to(path).as_posix()) for p in found)
        elif path.is_file():
            files.append((path, path.name))
        else:
            raise SystemExit(f"lectern: no such file or folder: {raw}")
    return files


def _is_jsonl(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(65536)
    try:
        return detect.detect(head, path.name) == detect.JSONL
    except LecternError:
        return False


def ingest_paths(
    ingestion: Ingestion, files: Sequence[tuple[Path, str]], *, collection: str, tags: list[str], reference: str | None
) -> int:
    """Store every file under its display name, then index with a progress bar; returns how many
    files were rejected."""
    from tqdm import tqdm

    rejected = 0
    for path, name in tqdm(files, desc="storing", unit="file", disable=not files):
        try:
            if _is_jsonl(path):
                with path.open("rb") as f:
                    ingestion.add_collection_jsonl(f, collection=collection, owner=LOCAL_OWNER)
            else:
                # ``ingest`` means indexing: a type Lectern cannot index is rejected, not stored.
                ingestion.add_file(
                    path, name, owner=LOCAL_OWNER, collection=collection, tags=tags, reference=reference, index=True
                )
        except LecternError as exc:
            rejected += 1
            tqdm.write(f"rejected {path}: {exc.code}: {exc.message}", file=sys.stderr)
    _index_with_progress(ingestion)
    return rejected


def _index_with_progress(ingestion: Ingestion) -> None:
    from tqdm import tqdm

    from ingestion import jobs

    with tqdm(total=jobs.pending_count(ingestion.db), desc="indexing", unit="doc") as bar:

        def _advance(timings: BatchTimings) -> None:
            bar.total = bar.n + jobs.pending_count(ingestion.db) + timings.documents
            bar.update(max(timings.documents, 1))

        ingestion.worker().run(on_batch=_advance)


def _document_row(doc: Document) -> dict:
    return {
        "id": doc.id,
        "name": doc.name or doc.filename,
        "collection": doc.collection,
        "media_type": doc.media_type,
        "status": doc.status,
        "failure_reason": doc.failure_reason,
        "pages": doc.page_count,
        "chunks": doc.chunk_count,
    }


def cmd_ingest(args: argparse.Namespace, ingestion: Ingestion) -> int:
    files = _expand(args.paths)
    rejected = ingest_paths(
        ingestion, files, collection=args.collection, tags=_split_tags(args.tags), reference=args.reference
    )
    docs, _ = ingestion.list_documents()
    done = sum(1 for d in docs if d.status == "completed")
    failed = [d for d in docs if d.status == "failed"]
    print(f"{len(files)} file(s): {done} document(s) indexed, {len(failed)} failed, {rejected} rejected")
    for doc in failed:
        print(f"  failed  {doc.filename}: {doc.failure_reason}")
    return 1 if rejected else 0


def cmd_list(args: argparse.Namespace, ingestion: Ingestion) -> int:
    docs, _ = ingestion.list_documents(status=args.status, collection=args.collection)
    rows = [_document_row(d) for d in docs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':32}  {'status':10}  {'type':5}  {'pages':>5}  {'chunks':>6}  name / reason")
    for row in rows:
        short = detect.SHORT_NAMES.get(row["media_type"] or "", "?")
        reason = f"  ({row['failure_reason']})" if row["failure_reason"] else ""
        print(
            f"{row['id']:32}  {row['status']:10}  {short:5}  {row['pages'] or '':>5}  {row['chunks'] or '':>6}  {row['name']}{reason}"
        )
    return 0


def load_demo(ingestion: Ingestion) -> None:
    """Ingest the bundled demo corpus into an empty store."""
    _, total = ingestion.list_documents()
    if total:
        return
    for path in sorted(DEMO_DIR.iterdir()):
        if path.suffix == ".jsonl":
            with path.open("rb") as f:
                ingestion.add_collection_jsonl(f, collection=DEMO_COLLECTION, owner=LOCAL_OWNER)
        else:
            ingestion.add_file(path, path.name, owner=LOCAL_OWNER, tags=["demo"])
    _index_with_progress(ingestion)


def cmd_serve(args: argparse.Namespace, ingestion: Ingestion) -> int:
    import uvicorn

    settings = ingestion.settings
    if args.no_indexing:
        settings = settings.with_overrides(indexing="off")
        if settings.storage.chroma_url is None:
            print(f"lectern serve: warning: {EMBEDDED_CHROMA_SPLIT}", file=sys.stderr)
    if args.workers > 1:
        _check_shareable(settings, args.workers)
    if args.demo:
        load_demo(ingestion)  # once, here, before any worker process starts
        _print_demo_help(ingestion, args.host, args.port)
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack: for stuck servers
    ingestion.close()  # the app builds its own services from the same settings
    if args.workers == 1:
        from .app import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return 0
    from core.settings import environment

    # Each worker process imports the app and builds its settings from the environment: every
    # setting, command-line ones included, travels there (spawned children inherit os.environ).
    for variable, value in environment(settings).items():
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = value
    uvicorn.run(
        "api.app:app_from_environment",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
    )
    return 0


def _check_shareable(settings: Settings, workers: int) -> None:
    """Several API processes share the catalog and the vectors; refuse a store that cannot be shared.

    Embedded Chroma keeps its index and SQLite metadata in one persistent directory that its client
    caches in memory and writes without coordinating with other processes, so a second process
    opening it reads stale data at best; a Chroma server is one process that every worker talks to.
    The SQLite catalog is shared safely (WAL, ``BEGIN IMMEDIATE``): writers queue for its lock."""
    if settings.storage.chroma_url is None:
        raise SystemExit(
            f"lectern serve --workers {workers}: the vectors are in embedded Chroma ({settings.chroma_dir}), "
            "which only one process may open. Run a Chroma server (`chroma run --path DIR --port 8001`) and set "
            "LECTERN_CHROMA_URL=http://127.0.0.1:8001, or serve with --workers 1."
        )
    agent = settings.agent
    if agent.model == "local" and agent.llm_api_base is None:
        if agent.local_model_port is not None:
            raise SystemExit(
                f"lectern serve --workers {workers}: each process starts its own local model server, and "
                f"LECTERN_LOCAL_MODEL_PORT={agent.local_model_port} gives them all one port. Unset it, or run one "
                "llama.cpp server yourself and point LECTERN_LLM_API_BASE at it."
            )
        print(
            f"lectern serve: each of the {workers} processes starts its own local model server on first use "
            "(memory and threads times the processes); LECTERN_LLM_API_BASE can point them all at one",
            file=sys.stderr,
        )
    if settings.storage.database_url is None:
        print(
            f"lectern serve: {workers} processes share the SQLite catalog {settings.home / 'lectern.db'} "
            "(WAL: reads run side by side, writes queue for its one lock); "
            "LECTERN_DATABASE_URL=postgresql+psycopg://… scales writes further",
            file=sys.stderr,
        )


def _print_demo_help(ingestion: Ingestion, host: str, port: int) -> None:
    from .keys import KeyStore

    _, secret = KeyStore(ingestion.db).create(role="admin", name="demo-admin", user_id=LOCAL_OWNER)
    base = f"http://{host}:{port}"
    print(f"Lectern home: {ingestion.settings.home}")
    print(f"Admin API key (shown once): {secret}")
    print(f"Open {base}/ in a browser and sign in with that key (the web page).")
    print("Try:")
    print(f'  curl -H "Authorization: Bearer {secret}" "{base}/v1/retrieve?q=warranty"')
    print(
        f'  curl -N -H "Authorization: Bearer {secret}" -H "Accept: text/event-stream" '
        f'-H "Content-Type: application/json" -d \'{{"content": "How long is the warranty?"}}\' '
        f'"{base}/v1/chat/sessions/$(curl -s -X POST -H "Authorization: Bearer {secret}" '
        f'{base}/v1/chat/sessions | python3 -c "import json,sys; print(json.load(sys.stdin)[\'session_id\'])")/messages"'
    )


def _log_batch(log: logging.Logger, ingestion: Ingestion) -> Callable[[BatchTimings], None]:
    """One line per batch: what an operator tails to see a worker is alive and how fast it goes."""
    from ingestion import jobs

    def _line(timings: BatchTimings) -> None:
        spent = timings.extract_s + timings.chunk_s + timings.embed_s + timings.store_s
        log.info(
            "batch: %d document(s), %d chunk(s) in %.2f s (extract %.2f, embed %.2f, store %.2f); %d queued",
            timings.documents,
            timings.chunks,
            spent,
            timings.extract_s,
            timings.embed_s,
            timings.store_s,
            jobs.pending_count(ingestion.db),
        )

    return _line


def cmd_worker(args: argparse.Namespace, ingestion: Ingestion) -> int:
    """Drain the job queue until SIGTERM or SIGINT.

    The signal only sets the loop's stop event, which the loop reads between batches: a
    batch in progress is finished and committed, so nothing is half-indexed and nothing
    waits for a lease to expire. A second signal exits at once; the running jobs are then
    requeued by the next worker on this host (its pid is gone) or when their lease expires."""
    import signal

    from sqlalchemy import make_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("lectern.worker")
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            log.warning("second %s: exiting without finishing the batch", signal.Signals(signum).name)
            raise SystemExit(1)
        log.info("%s: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if ingestion.settings.storage.chroma_url is None:
        log.warning(EMBEDDED_CHROMA_SPLIT)
    from evals.runs import EvalRunner

    worker = ingestion.worker(batch_size=args.batch_size, side_jobs=[EvalRunner(ingestion)])
    log.info(
        "worker %s: catalog %s, batches of %d, polling every %.2f s",
        worker.worker_id,
        make_url(ingestion.settings.resolved_database_url).render_as_string(hide_password=True),
        args.batch_size,
        args.idle_s,
    )
    enricher = _Enricher(ingestion, stop, args.idle_s)
    enricher.start()
    try:
        total = worker.run(stop, idle_s=args.idle_s, on_batch=_log_batch(log, ingestion))
        enricher.join(timeout=60)
    finally:
        # Here, not only in the thread: a model call outlasting the join would leave the local model
        # server (a subprocess) orphaned at exit.
        enricher.close()
    log.info("worker %s stopped: %d document(s), %d chunk(s) indexed", worker.worker_id, total.documents, total.chunks)
    return 0


class _Enricher(threading.Thread):
    """The ``enrich`` jobs' loop beside the indexing one, as ``lectern serve`` runs it (``api/services.py``).

    Its session manager (the model's resolution, shared with chat) is built in the thread, retried while a
    backend is down: a worker started during a Chroma outage must come up and index once Chroma is back,
    not exit, as the indexing loop's own lazy start allows."""

    def __init__(self, ingestion: Ingestion, stop: threading.Event, idle_s: float) -> None:
        super().__init__(name="lectern-enricher", daemon=True)
        self._ingestion, self._halt, self._idle_s = ingestion, stop, max(idle_s, 1.0)
        self._sessions: SessionManager | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        from agent.session import SessionManager
        from ingestion.worker import backoff_s, is_outage

        from .services import wire_enrichment

        outages = 0
        while not self._halt.is_set():
            try:
                sessions = SessionManager(ingestion=self._ingestion)
                break
            except Exception as exc:
                if not is_outage(exc):
                    raise
                outages += 1
                self._halt.wait(backoff_s(outages))
        else:
            return
        with self._lock:
            if self._halt.is_set():  # closed while it was being built
                sessions.close()
                return
            self._sessions = sessions
        wire_enrichment(self._ingestion, sessions)
        self._ingestion.enrichment_worker().run(self._halt, idle_s=self._idle_s)

    def close(self) -> None:
        with self._lock:
            if self._sessions is not None:
                self._sessions.close()
                self._sessions = None


def cmd_keys(args: argparse.Namespace, ingestion: Ingestion) -> int:
    from .keys import KeyStore

    store = KeyStore(ingestion.db)
    if args.keys_command == "create":
        key, secret = store.create(role=args.role, name=args.name, user_id=args.user)
        print(f"{secret}\n(key {key.id}, role {key.role}, user {key.user_id}; the key is shown once)")
        return 0
    for key in store.list():
        revoked = f"  revoked {key.revoked_at}" if key.revoked_at else ""
        print(f"{key.id}  {key.prefix}…  {key.role:8}  {key.user_id}  {key.name}  {key.created_at}{revoked}")
    return 0


def cmd_search(args: argparse.Namespace, ingestion: Ingestion) -> int:
    from core.access import Principal
    from tools.search import Retriever

    response = Retriever(ingestion).search(
        args.query,
        principal=Principal(LOCAL_OWNER, "admin"),
        search_type=args.type,
        top_k=args.k,
        tags=_split_tags(args.tags) or None,
        collection=args.collection,
    )
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    for n, hit in enumerate(response.results, start=1):
        where = f"p.{hit.page}" if hit.page else hit.collection
        expanded = f"  (via reference {hit.reference})" if hit.expanded_from else ""
        print(f"{n:2}. {hit.score:.3f}  {hit.title} [{where}]{expanded}")
        print(f"    {hit.snippet}")
    print(f"{len(response.results)} result(s) in {response.processing_time_ms:.1f} ms ({response.search_type})")
    return 0


def cmd_eval_retrieval(args: argparse.Namespace, ingestion: Ingestion) -> int:
    from evals.cli import run_retrieval_eval

    return run_retrieval_eval(args, ingestion.settings)


def cmd_eval_answers(args: argparse.Namespace, ingestion: Ingestion) -> int:
    from evals.cli import run_answers_eval

    return run_answers_eval(args, ingestion.settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lectern", description="Chat with your documents, self-hosted.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--demo", action="store_true", help="ingest the bundled sample documents into an empty store first"
    )
    serve.add_argument(
        "--no-indexing",
        action="store_true",
        help="never claim ingestion jobs here (like LECTERN_INDEXING=off): uploads wait for `lectern worker`",
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="API processes sharing the port (N > 1 needs a Chroma server, LECTERN_CHROMA_URL)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="drain the ingestion queue until SIGTERM/SIGINT (beside `serve`)")
    worker.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, help="jobs claimed at once")
    worker.add_argument(
        "--idle-s", type=_positive_float, default=0.2, help="seconds to wait before looking again at an empty queue"
    )
    worker.set_defaults(func=cmd_worker)

    ingest = sub.add_parser("ingest", help="ingest files or folders (recursively)")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--collection", default="default")
    ingest.add_argument("--tags", default=None, help="comma-separated")
    ingest.add_argument("--reference", default=None)
    ingest.set_defaults(func=cmd_ingest)

    listing = sub.add_parser("list", help="list documents with status and failure reasons")
    listing.add_argument("--status", choices=["pending", "processing", "completed", "failed", "stored"])
    listing.add_argument("--collection")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    search = sub.add_parser("search", help="search the indexed documents")
    search.add_argument("query")
    search.add_argument("--type", choices=["hybrid", "vector", "keyword"], default="hybrid")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--tags", default=None, help="comma-separated; any of them matches")
    search.add_argument("--collection", default=None)
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)

    keys = sub.add_parser("keys", help="API keys for the HTTP service").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key (printed once)")
    create.add_argument(
        "--role",
        choices=get_args(Role),
        required=True,
        help="readonly: lists, reads, searches and chats as its user, never writes documents",
    )
    create.add_argument("--name", required=True)
    create.add_argument("--user", default=None, help="the user id the key acts as (default: the name)")
    create.set_defaults(func=cmd_keys)
    keys.add_parser("list", help="list keys (never their secrets)").set_defaults(func=cmd_keys)

    from .chat_cli import add_parsers as add_chat_parsers

    add_chat_parsers(sub)

    evals = sub.add_parser("eval", help="quality evaluations").add_subparsers(dest="eval_command", required=True)
    retrieval = evals.add_parser("retrieval", help="nDCG/recall/MRR over a BEIR-layout dataset")
    retrieval.add_argument("--dataset", type=Path, required=True)
    retrieval.add_argument("--split", default="test", help="qrels split (falls back to the only one present)")
    retrieval.add_argument("--type", choices=["hybrid", "vector", "keyword", "all"], default="hybrid")
    retrieval.add_argument("--k", type=int, default=100, help="documents retrieved per query")
    retrieval.add_argument(
        "--limit", type=_positive_int, default=None, help="the first N judged queries only (as POST /v1/evals' limit)"
    )
    retrieval.add_argument("--out", type=Path, default=None, help="per-query results as JSON")
    retrieval.add_argument("--report", type=Path, default=None, help="write report.md and recall_at_k.png here")
    retrieval.add_argument(
        "--min-ndcg", type=float, default=None, help="exit 3 if nDCG@10 of the last type is below this"
    )
    retrieval.set_defaults(func=cmd_eval_retrieval)

    answers = evals.add_parser("answers", help="answer accuracy, citation precision and abstention on a QA JSONL")
    answers.add_argument("--dataset", type=Path, required=True)
    answers.add_argument("--limit", type=int, default=None, help="questions to ask (an even spread over the file)")
    answers.add_argument("--model", default=None, help="a litellm model string (default: LECTERN_MODEL or local)")
    answers.add_argument("--out", type=Path, default=None, help="per-question results as JSON")
    answers.set_defaults(func=cmd_eval_answers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ingestion = Ingestion(Settings())
    try:
        return int(args.func(args, ingestion))
    except LecternError as exc:
        print(f"lectern: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        ingestion.close()


if __name__ == "__main__":
    sys.exit(main())

"""The scaled-out topology, as real processes on loopback, with faults: the issue-14 proof.

PostgreSQL, a Chroma server, Redis and an S3 API server (moto's standalone server, the one
installable here) are started by the tests; the two API processes and the two workers are
the very command lines of ``deploy/Procfile``, each with a home of its own, so nothing is
shared through a local disk. 300 uploads go through both API processes at once (duplicates,
replacements by key, hostile files), one worker is killed with SIGKILL while it holds a batch
and started again, and the Chroma server is stopped and started once. Then every invariant a
deployment relies on is checked against the engines themselves.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    REPO,
    SHARED_DATA,
    ChromaServer,
    MotoServer,
    Postgres,
    RedisServer,
    free_port,
    healthy,
    run_cli,
    start_cli,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.slow

_PREFIX = "blobs"
_SETTLE_S = 300.0
_RETRIEVAL_LIMIT = 6  # per user key and minute; the shared count is checked against it
_HOSTILE = [
    SHARED_DATA / "docs" / "pdf" / "005-libreoffice-writer-password",
    SHARED_DATA / "docs" / "pdf" / "017-unreadable-meta-data",
    SHARED_DATA / "docs" / "pdf" / "025-attachment",
    SHARED_DATA / "docs" / "pdf" / "015-arabic",
    SHARED_DATA / "docs" / "docx" / "tbl-having-tables.docx",
    SHARED_DATA / "docs" / "docx" / "sty-having-no-styles-part.docx",
]


@dataclass
class _Upload:
    name: str
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    hostile: bool = False  # may be refused at the door (a 4xx envelope) instead of failing in the queue


def _procfile() -> dict[str, list[str]]:
    """``name: command`` lines of deploy/Procfile, split as a shell would."""
    lines = (REPO / "deploy" / "Procfile").read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, _, command in (line.partition(":") for line in lines if line.strip() and not line.startswith("#"))
    }


def _lectern_args(command: list[str], port: int | None) -> list[str]:
    """A Procfile ``lectern …`` line as arguments to ``python -m api.cli``, on a free port."""
    assert command[0] == "lectern", command
    args = command[1:]
    if port is not None:
        args[args.index("--port") + 1] = str(port)
    return args


def _pdf(path: Path) -> tuple[str, bytes]:
    """A shared test document (a folder holding one PDF, or a DOCX file) as (filename, bytes)."""
    if path.is_dir():
        path = next(p for p in sorted(path.iterdir()) if p.suffix == ".pdf")
    return path.name, path.read_bytes()


def _note(n: int) -> bytes:
    return (
        f"# Field note {n}\n\nStation topo{n:03d}q reports the valve pressure and the pump schedule. "
        f"The inspection of unit {n} found the seals intact.\n"
    ).encode()


def _keyed(k: int, version: str) -> bytes:
    return f"Procedure k{k}, version {version}. The marker kv{k}{version} names this version only.\n".encode()


def _wave_one() -> list[_Upload]:
    uploads = [_Upload(f"notes/note-{n:03d}.md", _note(n)) for n in range(200)]
    uploads += [_Upload(f"keyed-{k}.txt", _keyed(k, "one"), {"key": f"k{k}"}) for k in range(20)]
    uploads += [_Upload(*_pdf(path), hostile=True) for path in _HOSTILE]
    real = _pdf(SHARED_DATA / "docs" / "pdf" / "004-pdflatex-4-pages")[1]
    uploads += [
        _Upload("truncated.pdf", real[: len(real) // 3], hostile=True),
        _Upload("garbage.pdf", b"%PDF-1.7\n" + os.urandom(4096), hostile=True),
        _Upload("nul.txt", b"plain words\x00 with a NUL byte in the middle\n", hostile=True),
        _Upload("control.md", b"# Heading\n\n" + bytes(range(1, 32)) * 8 + b"\n", hostile=True),
    ]
    assert len(uploads) == 230
    return uploads


def _wave_two() -> list[_Upload]:
    uploads = [_Upload(f"keyed-{k}.txt", _keyed(k, "two"), {"key": f"k{k}"}) for k in range(20)]
    uploads += [_Upload(f"again-{n:03d}.md", _note(n), {"skip_duplicates": "true"}) for n in range(20)]
    uploads += [_Upload(f"notes/note-{n:03d}.md", _note(n)) for n in range(200, 230)]
    assert len(uploads) == 70
    return uploads


async def _send(bases: list[str], headers: dict[str, str], uploads: list[_Upload]) -> list[dict]:
    """Every upload at once (16 in flight), alternating between the API processes."""
    gate = asyncio.Semaphore(16)

    async def _one(client: httpx.AsyncClient, index: int, upload: _Upload) -> dict:
        async with gate:
            response = await client.post(
                f"{bases[index % len(bases)]}/v1/files/upload", headers=headers,
                files={"file": (upload.name, upload.body)}, data=upload.form,
            )  # fmt: skip
        body = dict(response.json())
        if upload.hostile and 400 <= response.status_code < 500:
            assert body["error_code"] and body["message"], body  # refused with a reason, nothing stored
            return {"refused": body["error_code"], "name": upload.name}
        assert response.status_code == 201, (upload.name, response.text)
        return body

    async with httpx.AsyncClient(timeout=60) as client:
        return list(await asyncio.gather(*(_one(client, i, u) for i, u in enumerate(uploads))))


@pytest.fixture
def engines(tmp_path: Path, postgres: Postgres, s3_server: MotoServer) -> Iterator[dict[str, object]]:
    """A fresh catalog database, a Chroma server of its own (it gets restarted), Redis and an
    S3 bucket, all on loopback; the settings every Lectern process gets as ``LECTERN_*``."""
    chroma = ChromaServer(path=tmp_path / "chroma-data", port=free_port(), log=tmp_path / "chroma.log")
    chroma.start()
    redis = RedisServer.start()
    bucket = s3_server.new_bucket()
    env = {
        "LECTERN_DATABASE_URL": postgres.new_database(),
        "LECTERN_CHROMA_URL": chroma.url,
        "LECTERN_REDIS_URL": redis.url,
        **{f"LECTERN_{name.upper()}": str(value) for name, value in s3_server.settings(bucket, _PREFIX).items()},
        "LECTERN_MODEL": "test",
        "LECTERN_URL_SECRET": "topology-" + "0123456789abcdef" * 3,  # as deploy/scale-out.env: one for every process
        "LECTERN_RATE_LIMIT_WRITE": "100000",
        "LECTERN_RATE_LIMIT_LISTING": "100000",
        "LECTERN_RATE_LIMIT_RETRIEVAL": str(_RETRIEVAL_LIMIT),
    }
    try:
        yield {"env": env, "chroma": chroma, "s3": s3_server.client(), "bucket": bucket}
    finally:
        chroma.stop()
        redis.stop()


def test_two_api_processes_and_two_workers_on_real_engines_survive_a_killed_worker_and_a_chroma_restart(
    tmp_path: Path, engines: dict[str, object]
) -> None:
    env: dict[str, str] = engines["env"]  # type: ignore[assignment]
    chroma: ChromaServer = engines["chroma"]  # type: ignore[assignment]
    procfile = _procfile()
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def _start(name: str, port: int | None = None) -> None:
        home = tmp_path / name
        processes[name] = start_cli(home, tmp_path / f"{name}.log", *_lectern_args(procfile[name], port), **env)

    admin = run_cli(tmp_path / "ops", "keys", "create", "--role", "admin", "--name", "ops", **env)
    carol = run_cli(tmp_path / "ops", "keys", "create", "--role", "user", "--name", "carol", "--user", "carol", **env)
    assert admin.returncode == 0 and carol.returncode == 0, admin.stderr + carol.stderr
    headers = {"Authorization": f"Bearer {admin.stdout.split()[0]}"}
    carol_headers = {"Authorization": f"Bearer {carol.stdout.split()[0]}"}

    ports = {"api-a": free_port(), "api-b": free_port()}
    bases = [f"http://127.0.0.1:{port}" for port in ports.values()]
    try:
        for name, port in ports.items():
            _start(name, port)
        for name in ("worker-1", "worker-2"):
            _start(name)
        wait_for(
            lambda: all(healthy(b) for b in bases),
            90,
            "the API processes did not answer",
            sorted(tmp_path.glob("*.log")),
        )
        for base in bases:
            ready = httpx.get(f"{base}/readyz", timeout=30)
            assert ready.status_code == 200, ready.text

        first = asyncio.run(_send(bases, headers, _wave_one()))
        catalog = _Catalog(env["LECTERN_DATABASE_URL"])
        try:
            # SIGKILL a worker while it holds claimed jobs, then start it again.
            victim = processes["worker-1"]
            wait_for(
                lambda: catalog.running_jobs_of(victim.pid) > 0,
                120,
                "worker-1 never held a batch",
                sorted(tmp_path.glob("*.log")),
            )
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            _start("worker-1")

            # The Chroma server goes away: searches fail fast in the envelope, workers back off.
            chroma.stop()
            outage = httpx.get(f"{bases[0]}/v1/retrieve", params={"q": "valve"}, headers=headers, timeout=60)
            assert outage.status_code == 503, outage.text
            assert outage.json()["error_code"] == "VECTOR_STORE_UNAVAILABLE"
            time.sleep(2)
            chroma.start()

            second = asyncio.run(_send(bases, headers, _wave_two()))
            wait_for(catalog.settled, _SETTLE_S, "the queue did not settle", sorted(tmp_path.glob("*.log")))
            _check_catalog(catalog, first, second)
            _check_vectors(catalog, chroma)
            _check_blobs(catalog, engines["s3"], str(engines["bucket"]))
        finally:
            catalog.close()

        _check_same_results(bases, headers)
        _check_download_url_crosses_processes(bases, headers, first[0]["file_id"])
        _check_chat_continues(bases, headers)
        _check_shared_rate_limit(bases, carol_headers)
        assert all(p.poll() is None for p in processes.values()), {n: p.poll() for n, p in processes.items()}
    finally:
        for process in processes.values():
            stop_process(process, timeout_s=10)


class _Catalog:
    """Read-only looks into the deployment's PostgreSQL, as an operator would take them."""

    def __init__(self, url: str) -> None:
        import sqlalchemy

        self._engine = sqlalchemy.create_engine(url)
        self._text = sqlalchemy.text

    def rows(self, sql: str, **params: object) -> list[tuple]:
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.execute(self._text(sql), params)]

    def running_jobs_of(self, pid: int) -> int:
        return len(self.rows("SELECT id FROM jobs WHERE status = 'running' AND worker_id LIKE :w", w=f"%:{pid}:%"))

    def settled(self) -> bool:
        open_jobs = self.rows("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")[0][0]
        unsettled = self.rows(
            "SELECT COUNT(*) FROM documents WHERE status NOT IN ('completed', 'failed', 'stored')"
        )[0][0]
        return open_jobs == 0 and unsettled == 0

    def close(self) -> None:
        self._engine.dispose()


def _check_catalog(catalog: _Catalog, first: list[dict], second: list[dict]) -> None:
    documents = {
        row[0]: row[1:] for row in catalog.rows("SELECT id, status, failure_reason, chunk_count FROM documents")
    }
    accepted = [r for r in first + second if "file_id" in r]
    hostile_accepted = sum(1 for r in first[220:] if "file_id" in r)
    assert len(documents) == 200 + 30 + 20 + hostile_accepted  # notes, keyed (replaced in place), hostile
    hostile_ids = {r["file_id"] for r in first[220:] if "file_id" in r}
    for doc_id, (status, reason, chunk_count) in documents.items():
        # A hostile file of a type Lectern cannot index is kept for download only, with the reason.
        if status == "stored":
            assert doc_id in hostile_ids and reason == "unsupported_media_type", (doc_id, reason)
            continue
        assert status in ("completed", "failed"), (doc_id, status)
        assert (status == "failed") == bool(reason), (doc_id, status, reason)
        if status == "completed":
            assert chunk_count and chunk_count > 0, doc_id
    assert {r["file_id"] for r in accepted} == set(documents)
    # Duplicates sent with skip_duplicates came back as the original, and made nothing new.
    originals = {f"notes/note-{n:03d}.md": r["file_id"] for n, r in enumerate(first[:20])}
    for n, result in enumerate(second[20:40]):
        assert result["deduplicated"] and result["file_id"] == originals[f"notes/note-{n:03d}.md"]
    # A replacement by key kept the id and the second version's text only.
    for k, (v1, v2) in enumerate(zip(first[200:220], second[:20], strict=True)):
        assert v1["file_id"] == v2["file_id"]
        text = " ".join(t for (t,) in catalog.rows("SELECT text FROM chunks WHERE document_id = :d", d=v1["file_id"]))
        assert f"kv{k}two" in text and f"kv{k}one" not in text, text
    # Every chunk once: the stored counts match the rows, and no (document, index) repeats.
    counts = dict(catalog.rows("SELECT document_id, COUNT(*) FROM chunks GROUP BY document_id"))
    assert {d: c for d, (s, _, c) in documents.items() if s == "completed"} == counts
    repeated = catalog.rows("SELECT document_id, chunk_index FROM chunks GROUP BY 1, 2 HAVING COUNT(*) > 1")
    assert repeated == []
    assert documents[first[220]["file_id"]][0] == "failed"  # the password-protected PDF: queued, then failed


def _check_vectors(catalog: _Catalog, chroma: ChromaServer) -> None:
    import chromadb

    from ingestion.vectors import CHROMA_COLLECTION

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma.port)
    ids = client.get_collection(CHROMA_COLLECTION).get(include=[])["ids"]
    chunk_ids = [row[0] for row in catalog.rows("SELECT id FROM chunks")]
    assert len(ids) == len(set(ids)) == len(chunk_ids)
    assert set(ids) == set(chunk_ids)  # no orphans, nothing missing


def _check_blobs(catalog: _Catalog, s3: Any, bucket: str) -> None:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{_PREFIX}/"):
        keys += [item["Key"] for item in page.get("Contents", [])]
    blobs = {"".join(key.split("/")[-2:]) for key in keys if "/uploads/" not in key}
    assert blobs == {sha for (sha,) in catalog.rows("SELECT DISTINCT sha256 FROM documents")}


def _check_same_results(bases: list[str], headers: dict[str, str]) -> None:
    def _hits(base: str, query: str) -> list[tuple[str, str, float]]:
        response = httpx.get(f"{base}/v1/retrieve", params={"q": query, "top_k": 8}, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return [(h["document_id"], h["chunk_id"], round(h["score"], 6)) for h in response.json()["results"]]

    for query in ("topo017q valve pressure", "kv3two procedure", "seals intact inspection"):
        on_a, on_b = _hits(bases[0], query), _hits(bases[1], query)
        assert on_a and on_a == on_b, (query, on_a, on_b)


def _check_download_url_crosses_processes(bases: list[str], headers: dict[str, str], file_id: str) -> None:
    """A URL signed by one API process is honoured by the other (they share ``LECTERN_URL_SECRET``,
    not a home): it redirects to the object store's presigned GET, which needs no key either."""
    original = httpx.get(f"{bases[0]}/v1/files/{file_id}/content", headers=headers, timeout=30)
    assert original.status_code == 200, original.text
    issued = httpx.post(f"{bases[0]}/v1/files/{file_id}/download-url", headers=headers, timeout=30)
    assert issued.status_code == 200, issued.text
    on_b = bases[1] + issued.json()["url"].removeprefix(bases[0])
    fetched = httpx.get(on_b, follow_redirects=True, timeout=30)
    assert fetched.status_code == 200 and fetched.content == original.content
    assert [r.status_code for r in fetched.history] == [307]


def _check_chat_continues(bases: list[str], headers: dict[str, str]) -> None:
    created = httpx.post(f"{bases[0]}/v1/chat/sessions", headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    session = created.json()["session_id"]
    for base, question in ((bases[0], "What does station topo005q report?"), (bases[1], "And unit 7?")):
        answer = httpx.post(
            f"{base}/v1/chat/sessions/{session}/messages", headers=headers, json={"content": question}, timeout=60
        )
        assert answer.status_code == 200, answer.text
    history = httpx.get(f"{bases[1]}/v1/chat/sessions/{session}", headers=headers, timeout=30)
    assert history.status_code == 200, history.text
    turns = [  # the questions and the answers; the assistant's tool-call messages go between them
        (m["role"], m["content"]) for m in history.json()["messages"]
        if m["role"] == "user" or (m["role"] == "assistant" and not m.get("tool_calls"))
    ]  # fmt: skip
    assert [r for r, _ in turns] == ["user", "assistant", "user", "assistant"], turns
    assert turns[0][1].endswith("topo005q report?") and turns[2][1] == "And unit 7?"
    assert "topo005q" in turns[1][1] and "topo007q" in turns[3][1]  # each answer came from the shared index


def _check_shared_rate_limit(bases: list[str], headers: dict[str, str]) -> None:
    remaining = []
    for n in range(_RETRIEVAL_LIMIT):
        response = httpx.get(f"{bases[n % 2]}/v1/retrieve", params={"q": "valve"}, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(_RETRIEVAL_LIMIT - 1, -1, -1))  # one count across both processes
    refused = httpx.get(f"{bases[0]}/v1/retrieve", params={"q": "valve"}, headers=headers, timeout=30)
    assert refused.status_code == 429 and refused.json()["error_code"] == "RATE_LIMIT_EXCEEDED"

"""``GET /healthz`` and ``GET /readyz`` (api/routes/health.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agent.scripted import ScriptedModel, quote_first_source, register
from api.app import create_app
from api.ratelimit import RateLimiter
from api.routes import health
from api.routes.health import CHECK_TIMEOUT_S
from api.services import Services
from core.db import Database
from tests.support import PUBLIC, REPO, Api, ChromaServer, free_port, make_settings, start_moto_server

pytestmark = pytest.mark.anyio


async def test_healthz_needs_no_key(api: Api) -> None:
    limits = {
        "max_upload_bytes": 100 * 1024 * 1024,
        "max_resumable_bytes": 5 * 1024**3,
    }  # the SDK picks its upload by these
    assert (await api.client.get("/healthz")).json() == {"status": "ok", "limits": limits}


async def test_readyz_needs_no_key_and_reports_every_backend(api: Api) -> None:
    started = time.monotonic()
    response = await api.client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert set(checks) == {"catalog", "vectors", "blobs", "model"}  # no Redis configured, so no Redis check
    assert all(check["ok"] and check["detail"] for check in checks.values()), checks
    catalog = checks["catalog"]
    newest = max(path.stem for path in (REPO / "core" / "migrations").glob("[0-9]*.sql"))
    assert f"{catalog['migration_version']:04d}_{catalog['migration_name']}" == newest
    assert newest in catalog["detail"]
    # Which process answered, for operators running several: this one, and it does not index
    # (the fixture's services never started their indexing thread).
    assert body["process"] == {"pid": os.getpid(), "indexing": False}
    assert response.headers["x-lectern-process"] == str(os.getpid())
    assert "embedded Chroma" in checks["vectors"]["detail"]
    assert "writable" in checks["blobs"]["detail"]
    assert time.monotonic() - started < 2 * CHECK_TIMEOUT_S + 1


@pytest.mark.both_engines
def test_latest_migration_is_the_newest_applied(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.latest_migration() is None  # nothing applied yet: no schema_migrations table at all
        applied = db.migrate()
        version, name = applied[-1].split("_", 1)
        assert db.latest_migration() == (int(version), name)
    finally:
        db.dispose()


async def test_a_catalog_that_cannot_be_opened_is_not_ready(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    broken = Database(f"sqlite:///{tmp_path}")
    monkeypatch.setattr(api.services.ingestion, "db", broken)
    try:
        response = await api.client.get("/readyz")
    finally:
        broken.dispose()
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not_ready"
    catalog = body["checks"]["catalog"]
    assert catalog["ok"] is False and "unable to open database file" in catalog["detail"]
    assert "migration_version" not in catalog
    assert body["checks"]["blobs"]["ok"] is True  # the others still report their own state


async def test_an_unwritable_blob_directory_is_not_ready(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "gone"
    monkeypatch.setattr(api.services.ingestion.blobs, "root", missing)
    response = await api.client.get("/readyz")
    assert response.status_code == 503
    blobs = response.json()["checks"]["blobs"]
    assert blobs["ok"] is False and str(missing) in blobs["detail"] and "No such file" in blobs["detail"]


async def test_a_stuck_backend_costs_one_timeout_not_a_hang(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(services: Services) -> tuple[str, dict[str, object]]:
        release.wait(30)
        return "answered far too late", {}

    monkeypatch.setattr(health, "_blobs", stuck)
    try:
        started = time.monotonic()
        response = await api.client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert CHECK_TIMEOUT_S <= elapsed < CHECK_TIMEOUT_S + 1.5
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["blobs"] == {"ok": False, "detail": f"no answer within {CHECK_TIMEOUT_S} s",
                                       "elapsed_ms": body["checks"]["blobs"]["elapsed_ms"]}  # fmt: skip
    assert body["checks"]["catalog"]["ok"] is True


async def test_a_model_without_its_credentials_is_not_ready(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(api.services.settings.agent, "model", "openai/gpt-4o-mini")
    response = await api.client.get("/readyz")
    assert response.status_code == 503
    model = response.json()["checks"]["model"]
    assert model["ok"] is False and "OPENAI_API_KEY" in model["detail"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # present: ready, and the provider is never called
    assert (await api.client.get("/readyz")).status_code == 200


@pytest.fixture
def chroma(chroma_server: ChromaServer) -> Iterator[ChromaServer]:
    """The session's server, running again after the test whatever the test did to it."""
    if chroma_server.process is None or chroma_server.process.poll() is not None:
        chroma_server.start()
    chroma_server.reset()
    yield chroma_server
    if chroma_server.process is None or chroma_server.process.poll() is not None:
        chroma_server.start()


async def _client(tmp_path: Path, **overrides: object) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    model = register("readyz-tests", ScriptedModel(quote_first_source))
    settings = make_settings(tmp_path / "home", model=model, **overrides)
    services = Services.build(settings, RateLimiter())
    transport = httpx.ASGITransport(app=create_app(services=services), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
            yield client, services
    finally:
        services.close()


async def test_a_closed_redis_port_is_not_ready(tmp_path: Path) -> None:
    port = free_port()
    async for client, _ in _client(tmp_path, redis_url=f"redis://:secret@127.0.0.1:{port}/0"):
        started = time.monotonic()
        response = await client.get("/readyz")
        assert time.monotonic() - started < 2 * CHECK_TIMEOUT_S + 1
        assert response.status_code == 503, response.text
        redis = response.json()["checks"]["redis"]
        assert redis["ok"] is False
        assert f"127.0.0.1:{port}" in redis["detail"] and "PING" in redis["detail"]
        assert "secret" not in response.text


async def test_a_stopped_chroma_server_is_not_ready_and_recovers(tmp_path: Path, chroma: ChromaServer) -> None:
    async for client, _ in _client(tmp_path, chroma_url=chroma.url):
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        assert chroma.url in response.json()["checks"]["vectors"]["detail"]

        chroma.stop()
        started = time.monotonic()
        response = await client.get("/readyz")
        assert time.monotonic() - started < 2 * CHECK_TIMEOUT_S + 1
        assert response.status_code == 503, response.text
        vectors = response.json()["checks"]["vectors"]
        assert vectors["ok"] is False
        assert chroma.url in vectors["detail"] and "unavailable" in vectors["detail"]

        chroma.start()
        assert (await client.get("/readyz")).status_code == 200


async def test_an_object_store_outage_is_a_quick_503_and_not_ready_until_it_is_back(tmp_path: Path) -> None:
    # A server of its own: stopping the session's would disturb other tests' buckets.
    server = start_moto_server(tmp_path / "moto")
    try:
        bucket = server.new_bucket()
        async for client, services in _client(tmp_path, **server.settings(bucket)):
            key = {"Authorization": f"Bearer {services.keys.create(role='user', name='alice')[1]}"}
            file_id = await _upload_is_stored(client, key, b"before the outage: " + PUBLIC)
            ready = (await client.get("/readyz")).json()["checks"]["blobs"]
            assert ready["ok"] is True and server.url in ready["detail"]

            server.stop()
            started = time.monotonic()
            refused = await client.post("/v1/files/upload", headers=key, files={"file": ("k.md", PUBLIC)})
            assert time.monotonic() - started < 5, "an unreachable object store must fail fast, not hang"
            assert refused.status_code == 503, refused.text
            body = refused.json()
            assert body["error_code"] == "BLOB_STORE_UNAVAILABLE" and body["request_id"].startswith("req-")
            assert server.url in body["message"]
            download = await client.get(f"/v1/files/{file_id}/content", headers=key)
            assert download.status_code == 503 and download.json()["error_code"] == "BLOB_STORE_UNAVAILABLE"
            started = time.monotonic()
            response = await client.get("/readyz")
            assert time.monotonic() - started < 2 * CHECK_TIMEOUT_S + 1
            assert response.status_code == 503, response.text
            blobs = response.json()["checks"]["blobs"]
            assert blobs["ok"] is False and f"cannot reach the object store at {server.url}" in blobs["detail"]

            server.start()  # moto keeps buckets in memory: a restarted server has to be given its bucket again
            server.client().create_bucket(Bucket=bucket)
            assert (await client.get("/readyz")).status_code == 200
            await _upload_is_stored(client, key, b"after the outage: " + PUBLIC)
    finally:
        server.stop()


async def _upload_is_stored(client: httpx.AsyncClient, key: dict[str, str], body: bytes) -> str:
    stored = await client.post("/v1/files/upload", headers=key, files={"file": ("k.md", body)})
    assert stored.status_code == 201, stored.text
    content = await client.get(f"/v1/files/{stored.json()['file_id']}/content", headers=key)
    assert content.status_code == 200 and content.content == body
    return str(stored.json()["file_id"])

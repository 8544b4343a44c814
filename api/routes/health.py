"""``GET /healthz`` (is the process up) and ``GET /readyz`` (can it serve: every backend it needs).

``/readyz`` asks each backend one cheap question, all at once, each bounded by ``CHECK_TIMEOUT_S``:
a backend that is down or stuck costs a load balancer at most that long and shows up as ``ok: false``
with its reason, never as a hang or a 500. A check that overruns keeps its worker thread until the
backend answers; the pool is small and separate, so stuck checks cannot starve the routes' threads,
and later checks that find the pool full simply time out too.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Response

from ingestion.blobs import BlobStoreUnavailable

from ..deps import ServicesDep
from ..schemas.health import CatalogCheck, Check, Health, ProcessInfo, Readiness, ReadyChecks, UploadLimits
from ..services import Services

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 1.5
"""Per check; they run concurrently, so ``/readyz`` answers within about this long (under 2 s)."""
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lectern-readyz")
_DETAIL_CHARS = 300


class _NotReady(Exception):
    """A backend answered, and the answer means it cannot serve."""


_Outcome = tuple[str, dict[str, Any]]


@router.get("/healthz", response_model=Health)
def healthz(services: ServicesDep) -> Health:
    """No key needed: for load balancers and `make run`'s readiness check. It also reports the upload
    caps, which the SDK reads once to choose between the streaming and the resumable upload."""
    ingestion = services.settings.ingestion
    limits = UploadLimits(
        max_upload_bytes=ingestion.max_upload_bytes, max_resumable_bytes=ingestion.max_resumable_bytes
    )
    return Health(status="ok", limits=limits)


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses={503: {"model": Readiness, "description": "A backend is down: its check says why."}},
)
async def readyz(services: ServicesDep, response: Response) -> Readiness:
    """No key needed. 200 when every backend answers, 503 (same body) when one does not."""
    checks: dict[str, Callable[[Services], _Outcome]] = {
        "catalog": _catalog,
        "vectors": _vectors,
        "blobs": _blobs,
        "model": _model,
    }
    if services.settings.http.redis_url:
        checks["redis"] = _redis
    results = await asyncio.gather(
        *(_run(check, services, CatalogCheck if name == "catalog" else Check) for name, check in checks.items())
    )
    ready = ReadyChecks.model_validate(dict(zip(checks, results)))
    ok = all(result.ok for result in results)
    if not ok:
        response.status_code = 503
    process = ProcessInfo(pid=os.getpid(), indexing=services.indexing)
    return Readiness(status="ready" if ok else "not_ready", checks=ready, process=process)


async def _run(check: Callable[[Services], _Outcome], services: Services, model: type[Check]) -> Check:
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    try:
        detail, extra = await asyncio.wait_for(loop.run_in_executor(_POOL, check, services), CHECK_TIMEOUT_S)
        ok = True
    except TimeoutError:
        ok, detail, extra = False, f"no answer within {CHECK_TIMEOUT_S} s", {}
    except _NotReady as exc:
        ok, detail, extra = False, str(exc), {}
    except Exception as exc:  # a down backend is an answer here, not a 500
        ok, detail, extra = False, _describe(exc), {}
    elapsed_ms = round((time.monotonic() - start) * 1000, 1)
    return model.model_validate({"ok": ok, "detail": detail[:_DETAIL_CHARS], "elapsed_ms": elapsed_ms, **extra})


def _describe(exc: BaseException) -> str:
    """SQLAlchemy wraps the driver's error in a long message with the SQL and a docs link; the driver's
    own first line is the reason an operator needs."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


def _catalog(services: Services) -> _Outcome:
    db = services.ingestion.db
    latest = db.latest_migration()
    if latest is None:
        raise _NotReady("the catalog answered but has no migration applied")
    version, name = latest
    detail = f"{db.engine.dialect.name} answered; schema at migration {version:04d}_{name}"
    return detail, {"migration_version": version, "migration_name": name}


def _vectors(services: Services) -> _Outcome:
    """Through the store itself, so a Chroma server that is down fails here exactly as it would fail a
    search (``VectorStoreUnavailable``, naming the server)."""
    store = services.ingestion.vectors
    count = store.count()
    where = f"the Chroma server at {store.url}" if store.url else f"embedded Chroma at {services.settings.chroma_dir}"
    return f"{where} answered ({count} vectors)", {}


def _blobs(services: Services) -> _Outcome:
    """The store's own probe: a real write in the local directory's temporary folder (a read-only or full
    disk fails here), or ``HeadBucket`` on the object store (down, wrong credentials, no such bucket)."""
    try:
        return services.ingestion.blobs.check(), {}
    except BlobStoreUnavailable as exc:
        raise _NotReady(exc.message) from exc


def _redis(services: Services) -> _Outcome:
    import redis

    url = services.settings.http.redis_url
    assert url is not None
    parsed = urlparse(url)
    where = f"Redis at {parsed.hostname}:{parsed.port or 6379}"  # never the password in the URL
    client: Any = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise _NotReady(f"{where} did not answer PING: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()
    return f"{where} answered PING", {}


def _model(services: Services) -> _Outcome:
    """Whether the configured chat model could be resolved, without starting or calling it: the local
    model's files and runtime are installed, or the provider's credentials are in the environment."""
    from agent import llm
    from agent.local_model import INSTALL_HINT, LOCAL_MODEL, gguf_path, server_installed
    from agent.session import TEST_MODEL

    agent = services.settings.agent
    name = agent.model
    if name == TEST_MODEL:
        return "the deterministic test model (for trying the API; it never answers from documents)", {}
    if agent.llm_api_base is not None:
        return f"{name} served at {agent.llm_api_base} (not called)", {}
    if name == LOCAL_MODEL:
        gguf = gguf_path()
        if gguf is None or not server_installed():
            raise _NotReady(INSTALL_HINT)
        return f"the local model {gguf.name} and llama.cpp's server are installed (started on first use)", {}
    missing = llm.missing_api_keys(name)  # the rule SessionManager applies before a provider call
    if missing:
        raise _NotReady(f"the model {name!r} needs {', '.join(missing)} in the environment")
    return f"{name}: the provider's credentials are present (not called)", {}

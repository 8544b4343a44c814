"""Everything the routes use, built once from one ``Settings`` when the app starts."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from agent.session import SessionManager
from agent.text_model import ConfiguredTextModel
from core.settings import Settings
from ingestion.service import Ingestion
from tools.search import Retriever

from .download_urls import DownloadUrls
from .keys import KeyStore
from .ratelimit import Limiter, RateLimiter, RedisRateLimiter, preset_limits

log = logging.getLogger("lectern.api")


@dataclass
class Services:
    settings: Settings
    ingestion: Ingestion
    retriever: Retriever
    sessions: SessionManager
    keys: KeyStore
    limiter: Limiter
    download_urls: DownloadUrls
    _stop: threading.Event = field(default_factory=threading.Event)
    _worker: threading.Thread | None = None
    _enricher: threading.Thread | None = None

    @classmethod
    def build(cls, settings: Settings, limiter: Limiter | None = None) -> Services:
        ingestion = Ingestion(settings)
        limits = {
            "listing": settings.http.rate_limit_listing,
            "retrieval": settings.http.rate_limit_retrieval,
            "chat": settings.http.rate_limit_chat,
            "write": settings.http.rate_limit_write,
        }
        limits, admin_limits = preset_limits(settings.http.rate_limit_preset, limits)
        if limiter is None:
            limiter = (
                RedisRateLimiter(settings.http.redis_url, limits, admin_limits=admin_limits)
                if settings.http.redis_url
                else RateLimiter(limits, admin_limits=admin_limits)
            )
        retriever = Retriever(ingestion)
        sessions = SessionManager(ingestion=ingestion, retriever=retriever)
        wire_enrichment(ingestion, sessions)
        return cls(
            settings=settings,
            ingestion=ingestion,
            retriever=retriever,
            sessions=sessions,
            keys=KeyStore(ingestion.db),
            limiter=limiter,
            download_urls=DownloadUrls.from_settings(settings),
        )

    def warm_up(self) -> None:
        """Import litellm and resolve the default model (starting the local one) before the first chat asks."""

        def _warm() -> None:
            try:
                self.sessions.resolve_model()
            except Exception as exc:  # the first chat reports it properly; here it is only a hint
                log.warning("the chat model is not ready: %s", exc)

        threading.Thread(target=_warm, name="lectern-warm-up", daemon=True).start()

    def start_indexing(self, idle_s: float = 0.2) -> None:
        """Uploads are queued; this thread drains the queue (more processes may share it), and runs
        queued eval runs (``POST /v1/evals``) when no document waits.

        With ``indexing=off`` the process never claims a job: uploads wait for a
        ``lectern worker`` process, so API processes stay responsive under heavy ingestion."""
        if self.settings.ingestion.indexing == "off":
            log.info("indexing is off in this process (LECTERN_INDEXING=off): uploads wait for `lectern worker`")
            return
        from evals.runs import EvalRunner  # eval runs are the worker's side job here, as in `lectern worker`

        worker = self.ingestion.worker(side_jobs=[EvalRunner(self.ingestion, lambda: self.retriever)])
        self._worker = threading.Thread(
            target=worker.run, args=(self._stop,), kwargs={"idle_s": idle_s}, name="lectern-indexer", daemon=True
        )
        self._worker.start()
        enricher = self.ingestion.enrichment_worker()  # its own loop: a slow model never holds indexing up
        self._enricher = threading.Thread(
            target=enricher.run, args=(self._stop,), kwargs={"idle_s": max(idle_s, 1.0)}, name="lectern-enricher",
            daemon=True,
        )  # fmt: skip
        self._enricher.start()

    @property
    def indexing(self) -> bool:
        """Whether this process drains the job queue (``start_indexing`` ran with indexing on)."""
        return self._worker is not None and self._worker.is_alive()

    def close(self) -> None:
        self._stop.set()
        for thread in (self._worker, self._enricher):
            if thread is not None:
                thread.join(timeout=30)
        self.sessions.close()
        self.ingestion.close()


def wire_enrichment(ingestion: Ingestion, sessions: SessionManager) -> None:
    """Enrichment asks the configured litellm model (``LECTERN_ENRICH_MODEL``, else ``LECTERN_MODEL``), through
    the session manager's resolution, so the local model's server is shared with chat."""
    ingestion.enrichment_model = ConfiguredTextModel(sessions, ingestion.settings.enrichment.enrich_model)

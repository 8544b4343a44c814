"""Chunk vectors in Chroma.

One Chroma collection holds every Lectern collection's chunks, with ``collection``
as metadata: a search across collections, tags and access rules is then a single
filtered query, and creating a Lectern collection costs nothing. Lectern always
computes embeddings itself and passes them in; the collection is still created
with Lectern's embedding function so Chroma never falls back to its downloading
default.

With ``LECTERN_CHROMA_URL`` the same collection lives on a Chroma server (``chroma run``):
same name, same cosine space, same embedding function. Every call then has a timeout,
and a server that is down or stuck surfaces as ``VectorStoreUnavailable`` (503 in the
error envelope) instead of a hang; the next call simply tries again, so the store works
once the server is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

from core.errors import LecternError

from .embedding.base import Embedder
from .ids import is_tag_key, tag_key

CHROMA_COLLECTION = "lectern_chunks"
_BATCH = 2000
_COUNT_TTL_S = 10.0
HTTP_TIMEOUT_S = 30.0
"""A server call that takes longer is treated as a server that is gone (an upsert of a full batch
takes well under a second on a healthy one)."""
_CONNECT_TIMEOUT_S = 3.0


class VectorStoreUnavailable(LecternError):
    """The Chroma server cannot be reached or did not answer in time; retrying later may succeed."""

    code = "VECTOR_STORE_UNAVAILABLE"
    status = 503


@contextmanager
def _reachable(url: str | None) -> Iterator[None]:
    """Transport failures of the HTTP client (refused, reset, timed out) and a failed heartbeat become
    one Lectern error that names the server; the embedded client never raises these."""
    try:
        yield
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        raise VectorStoreUnavailable(
            f"the Chroma server at {url} is unavailable: {type(exc).__name__}: {exc}", url=url
        ) from exc


@dataclass
class VectorHit:
    chunk_id: str
    similarity: float


def _embedding_function(embedder: Embedder) -> Any:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class LecternEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            self._embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            return list(self._embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "lectern"

        def get_config(self) -> dict[str, Any]:
            return {"model": self._embedder.name}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Documents]:
            return LecternEmbeddingFunction()

        def default_space(self) -> Any:
            return "cosine"

    return LecternEmbeddingFunction()


def _http_client(url: str, settings: Any, timeout_s: float) -> Any:
    """``chromadb.HttpClient`` for ``url`` with timeouts on every call.

    Chroma's client talks through an httpx session without any timeout and asks the server for
    its tenant while being built, so a stuck server would hang the constructor: a heartbeat with
    a timeout comes first, and the session gets Lectern's timeouts right after."""
    import chromadb

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"LECTERN_CHROMA_URL must look like http://host:port, not {url!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_TIMEOUT_S))
    with _reachable(url):
        base = f"{parsed.scheme}://{parsed.hostname}:{port}"
        httpx.get(f"{base}/api/v2/heartbeat", timeout=timeout).raise_for_status()
        client: Any = chromadb.HttpClient(
            host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings
        )
    # The only handle Chroma's client gives on its transport. Chroma shares one client per host and
    # port within a process, so the last store built for a server sets the timeout for all of them.
    client._server._session.timeout = timeout
    return client


class ChromaVectorStore:
    def __init__(
        self,
        embedder: Embedder,
        *,
        path: Path | None = None,
        url: str | None = None,
        timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self.url = url or None
        if self.url:
            self.client = _http_client(self.url, chroma_settings, timeout_s)
        else:
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        with _reachable(self.url):
            self.collection = self.client.get_or_create_collection(
                CHROMA_COLLECTION,
                embedding_function=_embedding_function(embedder),
                configuration={"hnsw": {"space": "cosine"}},
            )
            # The server refuses larger record batches (its limit is in its pre-flight answer),
            # the embedded engine is bounded by SQLite's variable limit.
            self.batch_size = max(1, min(_BATCH, int(self.client.get_max_batch_size())))
        self._counted: tuple[float, int] | None = None

    def close(self) -> None:
        """Release the client's runtime and files (Chroma counts clients per path and stops the engine
        with the last one); a process that builds many stores, as the test suite does, otherwise piles up
        descriptors until a native runtime's own descriptor is reused under it."""
        self.client.close()

    def upsert(self, ids: Sequence[str], embeddings: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        with _reachable(self.url):
            for start in range(0, len(ids), self.batch_size):
                end = start + self.batch_size
                self.collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=embeddings[start:end],
                    metadatas=list(metadatas[start:end]),  # type: ignore[arg-type]
                )

    def retag(self, ids: Sequence[str], tags: Sequence[str]) -> None:
        """Make ``tags`` the tags of these chunks (``PATCH`` changes a document's tags without
        re-indexing it). Chroma merges an update into the stored metadata and drops keys set to
        None, so only the tag keys change, and a chunk already gone is skipped."""
        wanted = {tag_key(t): True for t in tags}
        with _reachable(self.url):
            for start in range(0, len(ids), self.batch_size):
                got = self.collection.get(ids=list(ids[start : start + self.batch_size]), include=["metadatas"])
                if not got["ids"]:
                    continue
                changes = [
                    (chunk_id, {**{k: None for k in (meta or {}) if is_tag_key(k) and k not in wanted}, **wanted})
                    for chunk_id, meta in zip(got["ids"], got["metadatas"] or [])
                ]
                changes = [(chunk_id, change) for chunk_id, change in changes if change]  # Chroma refuses {}
                if changes:
                    self.collection.update(
                        ids=[chunk_id for chunk_id, _ in changes],
                        metadatas=[change for _, change in changes],
                    )

    def delete_document(self, document_id: str) -> None:
        with _reachable(self.url):
            self.collection.delete(where={"document_id": document_id})

    def delete_ids(self, ids: Sequence[str]) -> None:
        with _reachable(self.url):
            for start in range(0, len(ids), self.batch_size):
                self.collection.delete(ids=list(ids[start : start + self.batch_size]))

    def ids_for_document(self, document_id: str) -> list[str]:
        with _reachable(self.url):
            return list(self.collection.get(where={"document_id": document_id}, include=[])["ids"])

    def count(self) -> int:
        with _reachable(self.url):
            return int(self.collection.count())

    def approximate_count(self) -> int:
        """``count()`` at most ``_COUNT_TTL_S`` old: the vector leg's planner only needs the corpus' size
        roughly, and Chroma's count costs a couple of milliseconds per call."""
        now = time.monotonic()
        if self._counted is None or now - self._counted[0] > _COUNT_TTL_S:
            self._counted = (now, self.count())
        return self._counted[1]

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (ids Chroma does not hold are simply absent)."""
        if not ids:
            return {}
        with _reachable(self.url):
            got = self.collection.get(ids=list(ids), include=["embeddings"])
        vectors = got.get("embeddings")
        if vectors is None or len(vectors) == 0:
            return {}
        return dict(zip(got["ids"], np.asarray(vectors, dtype=np.float32)))

    def query(self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[VectorHit]:
        """Nearest chunks; metadata stays in Chroma (the catalog supplies details), which halves the call."""
        with _reachable(self.url):
            result = self.collection.query(
                query_embeddings=[embedding], n_results=k, where=where, include=["distances"]
            )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [VectorHit(chunk_id=i, similarity=1.0 - float(d)) for i, d in zip(ids, distances)]

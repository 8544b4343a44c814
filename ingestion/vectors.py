"""Chunk vectors in Chroma.

One Chroma collection holds every Lectern collection's chunks, with ``collection``
as metadata: a search across collections, tags and access rules is then a single
filtered query, and creating a Lectern collection costs nothing. Lectern always
computes embeddings itself and passes them in; the collection is still created
with Lectern's embedding function so Chroma never falls back to its downloading
default.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embedding.base import Embedder

CHROMA_COLLECTION = "lectern_chunks"
_BATCH = 2000
_COUNT_TTL_S = 10.0


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


class ChromaVectorStore:
    def __init__(self, embedder: Embedder, *, path: Path | None = None, url: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if url:
            from urllib.parse import urlparse

            parsed = urlparse(url)
            self.client = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        else:
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        self.collection = self.client.get_or_create_collection(
            CHROMA_COLLECTION,
            embedding_function=_embedding_function(embedder),
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._counted: tuple[float, int] | None = None

    def upsert(self, ids: Sequence[str], embeddings: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(ids), _BATCH):
            end = start + _BATCH
            self.collection.upsert(
                ids=list(ids[start:end]),
                embeddings=embeddings[start:end],
                metadatas=list(metadatas[start:end]),  # type: ignore[arg-type]
            )

    def delete_document(self, document_id: str) -> None:
        self.collection.delete(where={"document_id": document_id})

    def delete_ids(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _BATCH):
            self.collection.delete(ids=list(ids[start : start + _BATCH]))

    def ids_for_document(self, document_id: str) -> list[str]:
        return list(self.collection.get(where={"document_id": document_id}, include=[])["ids"])

    def count(self) -> int:
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
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        vectors = got.get("embeddings")
        if vectors is None or len(vectors) == 0:
            return {}
        return dict(zip(got["ids"], np.asarray(vectors, dtype=np.float32)))

    def query(self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[VectorHit]:
        """Nearest chunks; metadata stays in Chroma (the catalog supplies details), which halves the call."""
        result = self.collection.query(query_embeddings=[embedding], n_results=k, where=where, include=["distances"])
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [VectorHit(chunk_id=i, similarity=1.0 - float(d)) for i, d in zip(ids, distances)]

"""BM25 (Okapi, exactly as rank-bm25's ``BM25Okapi`` scores) over an in-memory inverted index.

The index is loaded once from the catalog's ``keyword_terms`` and then kept
current by replaying ``keyword_changes`` (the log ``writer`` appends to) before each
query: adding, replacing or deleting one document touches only that document's
postings. Scoring walks only the postings of the query's terms, which is what
makes a million chunks answer in milliseconds where ``BM25Okapi.get_scores``
visits every document for every term.
"""

from __future__ import annotations

import math
import sys
import threading
from array import array
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np

from core.db import Database

from ..catalog import keyword as catalog
from .analyzer import Analyzer, default_analyzer

_CACHE_POSTINGS = 20_000
_CACHE_TERMS = 64
_CACHED_MASKS = 64


@dataclass
class _Postings:
    """One term's postings: numpy arrays for scoring, plus compact append buffers (4 bytes an entry)
    that are folded in on the next query, so bulk loads never hold Python ints per posting."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    tfs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    pending_ids: array = field(default_factory=lambda: array("i"))
    pending_tfs: array = field(default_factory=lambda: array("i"))
    live: int = 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.pending_ids:
            self.ids = np.concatenate([self.ids, np.frombuffer(self.pending_ids, dtype=np.int32)])
            self.tfs = np.concatenate([self.tfs, np.frombuffer(self.pending_tfs, dtype=np.int32).astype(np.float32)])
            self.pending_ids = array("i")
            self.pending_tfs = array("i")
        return self.ids, self.tfs


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    document_id: str
    score: float


@dataclass(frozen=True)
class KeywordResult:
    hits: list[KeywordHit]
    saturation: float
    _scores: np.ndarray | None = None
    _internal: dict[str, int] | None = None

    def score_of(self, chunk_id: str) -> float:
        """The exact BM25 score of any chunk for this query (0 when no query term occurs in it)."""
        if self._scores is None or self._internal is None:
            return 0.0
        internal = self._internal.get(chunk_id)
        return float(self._scores[internal]) if internal is not None and internal < len(self._scores) else 0.0


class BM25Index:
    """Okapi BM25 with rank-bm25's idf floor: negative idfs become ``epsilon * mean idf``."""

    def __init__(
        self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, analyzer: Analyzer | None = None
    ) -> None:
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.analyzer = analyzer or default_analyzer()
        self._postings: dict[str, _Postings] = {}
        self._chunk_ids: list[str] = []
        self._internal: dict[str, int] = {}
        self._doc_of: list[str] = []
        self._doc_codes: dict[str, int] = {}
        self._doc_index = np.zeros(1024, dtype=np.int32)
        self._lengths = np.zeros(1024, dtype=np.float32)
        self._alive = np.zeros(1024, dtype=bool)
        self._by_document: dict[str, list[int]] = {}
        self._terms_of: dict[int, tuple[str, ...]] = {}
        self._live_chunks = 0
        self._total_length = 0.0
        self._mean_idf: float | None = None
        self._version = 0
        """Bumped by every change; the scoring caches below belong to one version."""
        self._norm: tuple[int, np.ndarray] | None = None
        self._contributions: dict[str, tuple[int, np.ndarray]] = {}
        self._masks: dict[int, tuple[AbstractSet[str], int, np.ndarray]] = {}
        self.lock = threading.RLock()

    # -- building ---------------------------------------------------------------------------
    def add(self, chunk_id: str, document_id: str, term_frequencies: dict[str, int]) -> None:
        with self.lock:
            internal = len(self._chunk_ids)
            self._grow(internal + 1)
            self._chunk_ids.append(chunk_id)
            self._internal[chunk_id] = internal
            self._doc_of.append(document_id)
            code = self._doc_codes.setdefault(document_id, len(self._doc_codes))
            self._doc_index[internal] = code
            length = float(sum(term_frequencies.values()))
            self._lengths[internal] = length
            self._alive[internal] = True
            self._by_document.setdefault(document_id, []).append(internal)
            self._terms_of[internal] = tuple(map(sys.intern, term_frequencies))
            for term, tf in term_frequencies.items():
                postings = self._postings.get(term)
                if postings is None:
                    postings = self._postings[sys.intern(term)] = _Postings()
                postings.pending_ids.append(internal)
                postings.pending_tfs.append(tf)
                postings.live += 1
            self._live_chunks += 1
            self._total_length += length
            self._mean_idf = None
            self._version += 1

    def remove_document(self, document_id: str) -> None:
        with self.lock:
            for internal in self._by_document.pop(document_id, []):
                if not self._alive[internal]:
                    continue
                self._alive[internal] = False
                self._internal.pop(self._chunk_ids[internal], None)
                self._live_chunks -= 1
                self._total_length -= float(self._lengths[internal])
                for term in self._terms_of.pop(internal, ()):
                    postings = self._postings[term]
                    postings.live -= 1
                    if postings.live == 0:
                        del self._postings[term]
            self._mean_idf = None
            self._version += 1

    def _grow(self, needed: int) -> None:
        if needed <= len(self._lengths):
            return
        size = max(needed, 2 * len(self._lengths))
        self._doc_index = np.resize(self._doc_index, size)
        self._lengths = np.resize(self._lengths, size)
        alive = np.zeros(size, dtype=bool)
        alive[: len(self._alive)] = self._alive
        self._alive = alive

    # -- scoring ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._live_chunks

    def _idf(self, df: int) -> float:
        n = self._live_chunks
        return math.log(n - df + 0.5) - math.log(df + 0.5)

    def _average_idf(self) -> float:
        if self._mean_idf is None:
            dfs = np.fromiter((p.live for p in self._postings.values()), dtype=np.float64, count=len(self._postings))
            n = self._live_chunks
            self._mean_idf = float((np.log(n - dfs + 0.5) - np.log(dfs + 0.5)).mean()) if len(dfs) else 0.0
        return self._mean_idf

    def term_idf(self, term: str) -> float:
        postings = self._postings.get(term)
        if postings is None:
            return 0.0
        idf = self._idf(postings.live)
        return idf if idf >= 0 else self.epsilon * self._average_idf()

    def max_score(self, terms: list[str]) -> float:
        """The score a chunk would reach with every query term saturated: the keyword scale's 1.0."""
        return sum(max(self.term_idf(t), 0.0) * (self.k1 + 1) for t in terms)

    def _length_norm(self, n_slots: int) -> np.ndarray:
        """``k1 * (1 - b + b * len / avgdl)`` for every slot, computed once per index version."""
        if self._norm is None or self._norm[0] != self._version or len(self._norm[1]) != n_slots:
            avgdl = self._total_length / self._live_chunks
            self._norm = (self._version, self.k1 * (1 - self.b + self.b * self._lengths[:n_slots] / avgdl))
        return self._norm[1]

    def _contribution(self, term: str, ids: np.ndarray, tfs: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """A term's idf-free BM25 factor per posting; cached for long postings lists (the slow queries'
        frequent words), so a repeated frequent term costs one scatter-add instead of five array passes."""
        if len(ids) < _CACHE_POSTINGS:
            return tfs * (self.k1 + 1) / (tfs + norm[ids])
        cached = self._contributions.get(term)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        if len(self._contributions) >= _CACHE_TERMS:
            self._contributions.clear()
        value = tfs * (self.k1 + 1) / (tfs + norm[ids])
        self._contributions[term] = (self._version, value)
        return value

    def search(self, query: str, k: int, allowed_documents: AbstractSet[str] | None = None) -> KeywordResult:
        """Top ``k`` chunks, every chunk's exact score (``score_of``) and the query's saturation score."""
        terms = self.analyzer.tokens(query)
        with self.lock:
            if not terms or not self._live_chunks:
                return KeywordResult([], 0.0)
            n_slots = len(self._chunk_ids)
            scores = np.zeros(n_slots, dtype=np.float32)
            norm = self._length_norm(n_slots)
            touched: list[np.ndarray] = []
            for term in terms:  # repeated query terms count again, as in rank-bm25
                postings = self._postings.get(term)
                if postings is None:
                    continue
                ids, tfs = postings.arrays()
                scores[ids] += self.term_idf(term) * self._contribution(term, ids, tfs, norm)
                touched.append(ids)
            if not touched:
                return KeywordResult([], self.max_score(terms))
            candidates = self._candidates(touched, n_slots)
            if allowed_documents is not None:
                candidates = candidates[self._document_mask(allowed_documents)[self._doc_index[candidates]]]
            if len(candidates) > k:
                top = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
            else:
                top = candidates
            top = top[np.argsort(-scores[top], kind="stable")]
            hits = [KeywordHit(self._chunk_ids[i], self._doc_of[i], float(scores[i])) for i in top]
            return KeywordResult(hits, self.max_score(terms), scores, self._internal)

    def _document_mask(self, allowed: AbstractSet[str]) -> np.ndarray:
        """Allowed flags by document code. Kept per scope object: a resolved scope is reused by
        every search of its principal until the catalog changes, and codes never change meaning."""
        n_codes = len(self._doc_codes)
        cached = self._masks.get(id(allowed))
        if cached is not None and cached[0] is allowed and cached[1] == n_codes:
            return cached[2]
        mask = np.zeros(n_codes, dtype=bool)
        mask[[self._doc_codes[d] for d in allowed if d in self._doc_codes]] = True
        if len(self._masks) >= _CACHED_MASKS:
            self._masks.clear()
        self._masks[id(allowed)] = (allowed, n_codes, mask)
        return mask

    def _candidates(self, touched: list[np.ndarray], n_slots: int) -> np.ndarray:
        """Live chunks holding any query term. Few postings: sort them; many: mark a mask (no sort)."""
        total = sum(len(ids) for ids in touched)
        if total * 16 < n_slots:
            candidates = np.unique(np.concatenate(touched))
            return candidates[self._alive[candidates]]
        mask = np.zeros(n_slots, dtype=bool)
        for ids in touched:
            mask[ids] = True
        return np.flatnonzero(mask & self._alive[:n_slots])


class CatalogKeywordIndex(BM25Index):
    """A ``BM25Index`` that follows the catalog: loaded once, then synced from its change log."""

    def __init__(self, db: Database, **kwargs: float) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._db = db
        self._seq = 0
        self._loaded = False

    def sync(self) -> None:
        with self.lock, self._db.read() as conn:
            latest = catalog.latest_change(conn)
            if self._loaded and latest == self._seq:
                return
            if not self._loaded:
                for chunk_id, document_id, terms in catalog.all_terms(conn):
                    self.add(chunk_id, document_id, terms)
                self._loaded = True
            else:
                for document_id in catalog.changed_documents(conn, self._seq, latest):
                    self.remove_document(document_id)
                    for chunk_id, terms in catalog.document_terms(conn, document_id):
                        self.add(chunk_id, document_id, terms)
            self._seq = latest

    def search(self, query: str, k: int, allowed_documents: AbstractSet[str] | None = None) -> KeywordResult:
        self.sync()
        return super().search(query, k, allowed_documents)

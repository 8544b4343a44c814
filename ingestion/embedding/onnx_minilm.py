"""all-MiniLM-L6-v2 on onnxruntime with dynamic padding and length bucketing.

Chroma's stock ONNX embedder pads every input to 256 tokens; most chunks are far
shorter, so sorting by length and padding each batch only to its own longest
member does the same arithmetic on a fraction of the positions.

Queries get a session of their own whose threads do not spin-wait after a run:
a search's keyword leg, Chroma and the catalog need the same two cores right
after the query is embedded, and spinning threads hold them (hybrid p50 ~5 %
lower without: ``python -m evals.benchmarks.query_session``). Batch embedding
keeps spinning, which is ~5 % faster there.

That session also runs on one thread. A query is one short sequence: split across two
threads, each of the graph's parallel operators wakes the other thread and waits for it,
and that hand-off costs more CPU than the split saves (6.4 vs 7.1 ms of CPU per SciFact
query, wall time no worse on the shared 2-core machine; a chat turn over HTTP went from
27 to 24 ms of server CPU: ``python -m evals.benchmarks.http_chat``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_build import ensure_onnx_model

_MAX_TOKENS = 256


class OnnxMiniLMEmbedder:
    name = "all-MiniLM-L6-v2"
    dimension = 384
    max_tokens = _MAX_TOKENS

    def __init__(self, model_dir: Path, *, batch_size: int = 32, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        model_path = ensure_onnx_model(model_dir)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.model_path = model_path
        self._threads = threads or os.cpu_count() or 1
        self._session = self._new_session(spinning=True)
        self._query_session: Any = None
        self._query_lock = threading.Lock()
        self._batch_size = batch_size

    def _new_session(self, *, spinning: bool, threads: int | None = None) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or self._threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [_truncate(e.ids) for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            out[batch] = self._run([ids[i] for i in batch], self._session)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        with self._query_lock:
            if self._query_session is None:
                self._query_session = self._new_session(spinning=False, threads=1)
        ids = _truncate(self._tokenizer.encode(text).ids)
        return self._run([ids], self._query_session)[0]

    def _run(self, batch: list[list[int]], session: Any) -> np.ndarray:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)},
        )
        return mean_pool_normalize(hidden, mask)


def _truncate(ids: list[int]) -> list[int]:
    """Keep [CLS] ... [SEP] within the model's window, as sentence-transformers does."""
    if len(ids) <= _MAX_TOKENS:
        return ids
    return ids[: _MAX_TOKENS - 1] + ids[-1:]


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

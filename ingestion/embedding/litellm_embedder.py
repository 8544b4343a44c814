"""Any embedding model litellm can reach (``LECTERN_EMBED_MODEL=openai/text-embedding-3-small`` ...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.tokens import count_tokens


class LiteLLMEmbedder:
    max_tokens = 8191

    def __init__(self, model: str, batch_size: int = 64) -> None:
        self.name = model
        self._batch_size = batch_size
        self.dimension = 0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [count_tokens(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import litellm

        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            response = litellm.embedding(model=self.name, input=list(texts[start : start + self._batch_size]))
            rows.extend(item["embedding"] for item in response.data)
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        self.dimension = out.shape[1] if out.size else self.dimension
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)

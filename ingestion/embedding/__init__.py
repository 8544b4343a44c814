"""Embedders side by side, chosen by ``LECTERN_EMBED_MODEL`` ("local" = the bundled MiniLM)."""

from __future__ import annotations

from ..config import Settings
from .base import Embedder


def build_embedder(settings: Settings) -> Embedder:
    if settings.embed_model == "local":
        from .onnx_minilm import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(settings.embed_model_dir, batch_size=settings.embed_batch_size)
    from .litellm_embedder import LiteLLMEmbedder

    return LiteLLMEmbedder(settings.embed_model)


__all__ = ["Embedder", "build_embedder"]

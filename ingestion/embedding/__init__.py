"""Embedders side by side, chosen by ``LECTERN_EMBED_MODEL`` ("local" = the bundled MiniLM)."""

from __future__ import annotations

from core.settings import Settings

from .base import Embedder


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding.embed_model == "local":
        from .onnx_minilm import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(settings.embedding.embed_model_dir, batch_size=settings.embedding.embed_batch_size)
    from .litellm_embedder import LiteLLMEmbedder

    return LiteLLMEmbedder(settings.embedding.embed_model)


__all__ = ["Embedder", "build_embedder"]

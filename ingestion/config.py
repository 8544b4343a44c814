"""The one ``Settings`` object: every part of Lectern is built from it.

It lives in ``ingestion`` because that is the package everything else may import;
``api`` re-exports it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_model_dir() -> Path:
    """The converted ONNX model lives with the virtualenv, so every home shares one copy."""
    return Path(sys.prefix) / "share" / "lectern" / "models" / "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LECTERN_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".lectern")
    database_url: str | None = None
    chroma_url: str | None = None
    embed_model: str = "local"
    embed_model_dir: Path = Field(default_factory=_default_model_dir)
    embed_batch_size: int = 32

    max_chunk_tokens: int = 300
    min_paragraph_tokens: int = 40
    chunk_overlap_tokens: int = 30
    embed_breadcrumb: bool = True

    max_upload_bytes: int = 100 * 1024 * 1024
    max_extract_bytes: int = 50 * 1024 * 1024
    max_docx_uncompressed_bytes: int = 200 * 1024 * 1024
    extraction_timeout_s: float = 120.0
    max_jsonl_lines: int = 1000
    max_job_attempts: int = 3
    job_lease_s: float = 300.0
    workers: int = 1

    # Retrieval defaults, chosen on SciFact's training queries (python -m evals.benchmarks.tune_fusion).
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    fusion: Literal["convex", "rrf"] = "convex"
    vector_weight: float = Field(default=0.45, ge=0.0, le=1.0)
    vector_filter: Literal["auto", "chroma"] = "auto"
    """auto: filtered vector searches pick exact / over-fetch / Chroma ``where`` by scope size (tools.vector_leg)."""

    # The chat agent. ``model`` is a litellm model string; "local" is the bundled SmolLM2 on llama.cpp.
    model: str = "local"
    llm_api_base: str | None = None
    tool_mode: Literal["auto", "native", "retrieve_first"] = "auto"
    context_window: int | None = None
    """Overrides the window litellm reports for the model (the local model runs with 2048)."""
    max_answer_tokens: int | None = None
    """None: 512, or 256 for the local model (a 135M model that runs on rarely comes back)."""
    temperature: float | None = None
    """None: the provider's default, except the local model, which runs greedy (0.0) for repeatable answers."""
    llm_timeout_s: float = 60.0
    llm_max_retries: int = 2
    agent_max_steps: int = 4
    chat_top_k: int | None = None
    """Passages per search shown to the model; None: 5, or 3 for the small local model."""
    attribute_uncited: bool = True
    relevance_threshold: float = 0.3
    """Hits scoring below this are not shown to the model; with none left the agent declines."""
    sse_heartbeat_s: float = 15.0
    redis_url: str | None = None
    """Share rate-limit counters between server processes (e.g. redis://127.0.0.1:6379/0)."""
    # Requests per minute per user key (admins get 5x), by route class.
    rate_limit_listing: int = 120
    rate_limit_retrieval: int = 60
    rate_limit_chat: int = 20
    rate_limit_write: int = 60
    local_model_port: int | None = None
    local_model_threads: int = 2

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'lectern.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

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

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'lectern.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

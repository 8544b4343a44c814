"""The one ``Settings`` object: every part of Lectern is built from it.

Settings are grouped by the concern that reads them (``settings.retrieval.bm25_k1``),
but every group reads the same flat ``LECTERN_*`` namespace, so what users set never
depends on the grouping: ``LECTERN_BM25_K1`` is ``settings.retrieval.bm25_k1``. For the
same reason ``Settings(bm25_k1=1.2)`` routes a flat keyword into its group.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LECTERN_"


def _default_model_dir() -> Path:
    """The converted ONNX model lives with the virtualenv, so every home shares one copy."""
    return Path(sys.prefix) / "share" / "lectern" / "models" / "all-MiniLM-L6-v2"


class _Group(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", use_attribute_docstrings=True)


class StorageSettings(_Group):
    """Where the catalog, the vectors and the original files live when not under ``home``."""

    database_url: str | None = None
    """SQLAlchemy URL of the catalog; default: SQLite at ``$LECTERN_HOME/lectern.db``."""
    chroma_url: str | None = None
    """A Chroma server (``http://host:port``); default: embedded Chroma under ``$LECTERN_HOME/chroma``."""
    blob_url: str | None = None
    """Original files in an S3-compatible object store (``s3://bucket/prefix``); default: ``$LECTERN_HOME/blobs``."""
    s3_endpoint_url: str | None = None
    """The object store's endpoint (MinIO, Ceph, ``http://host:port``); default: AWS S3."""
    s3_region: str | None = None
    """The object store's region; default: boto3's own configuration."""
    s3_access_key_id: str | None = None
    """Access key of the object store; default: boto3's credential chain (environment, profile, role)."""
    s3_secret_access_key: SecretStr | None = None
    """Secret key of the object store (never shown); default: boto3's credential chain."""

    @field_validator("blob_url")
    @classmethod
    def _blob_url(cls, value: str | None) -> str | None:
        """Fail at start-up with the reason, not at the first upload."""
        if value is None or value == "":
            return None
        parsed = urlparse(value)
        if parsed.scheme != "s3":
            raise ValueError(f"LECTERN_BLOB_URL must be s3://bucket[/prefix], not {value!r} (unset it for local files)")
        if not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(f"LECTERN_BLOB_URL must name a bucket, as s3://bucket[/prefix]: {value!r}")
        return value


class EmbeddingSettings(_Group):
    embed_model: str = "local"
    """``local`` (all-MiniLM-L6-v2 on onnxruntime) or any litellm embedding model string."""
    embed_model_dir: Path = Field(default_factory=_default_model_dir)
    """Where the converted ONNX model is kept (built by ``make``)."""
    embed_batch_size: int = 32
    """Chunks per embedding call."""


class ChunkingSettings(_Group):
    max_chunk_tokens: int = 300
    """Upper bound of a chunk, in cl100k tokens."""
    min_paragraph_tokens: int = 40
    """Shorter paragraphs are merged with their neighbours."""
    chunk_overlap_tokens: int = 30
    """Tokens repeated between consecutive pieces of a long section."""
    embed_breadcrumb: bool = True
    """Embed each chunk with its heading path in front."""


class IngestionSettings(_Group):
    max_upload_bytes: int = 100 * 1024 * 1024
    """Largest upload accepted while streaming (413 beyond), and the largest part of a resumable upload."""
    max_resumable_bytes: int = 5 * 1024**3
    """Largest file a resumable upload may add up to (413 at its creation when the declared size is larger)."""
    max_extract_bytes: int = 500 * 1024 * 1024
    """Largest file handed to an extractor; a larger one is stored, downloadable, and `failed: too_large_for_extraction`."""
    extraction_memory_bytes: int = 4 * 1024**3
    """Resident-memory cap of the extraction child process (the parent watches it and stops the child above it; its address space is capped at twice this as a backstop); a file that needs more fails as `too_large_for_extraction`."""
    max_docx_uncompressed_bytes: int = 200 * 1024 * 1024
    """Zip-bomb guard for DOCX."""
    extraction_timeout_s: float = 120.0
    """Wall-clock limit of one extraction (it runs in a child process)."""
    ocr_engine: Literal["tesseract", "rapidocr", "off"] = "tesseract"
    """OCR of PDF pages without a usable text layer and of images (PNG, JPEG, TIFF, WebP): ``tesseract`` (Debian's, installed by ``make``), ``rapidocr`` (ONNX models from its wheel) or ``off``; chosen by measurement (docs/benchmarks.md, "OCR")."""
    ocr_dpi: int = 200
    """Resolution PDF pages are rendered at for OCR, kept within 36-400 (measured: docs/benchmarks.md, "OCR")."""
    ocr_page_timeout_s: float = Field(default=30.0, gt=0)
    """Time each page OCR'd adds to the extraction's deadline (a scan's cost grows with its pages)."""
    max_jsonl_lines: int = 1000
    """Lines per JSONL collection push."""
    max_job_attempts: int = 3
    """Attempts before a job's document is failed."""
    job_lease_s: float = 300.0
    """How long a claimed job is held before another worker may take it over."""
    max_metadata_bytes: int = Field(default=16 * 1024, ge=2)
    """Largest ``metadata`` a document carries, as compact UTF-8 JSON (400 ``METADATA_TOO_LARGE`` beyond)."""
    max_expiry_days: int = Field(default=90, ge=1)
    """How far ahead ``expires_at`` may lie, in days (400 ``INVALID_EXPIRY`` beyond)."""
    indexing: Literal["in_process", "off"] = "in_process"
    """``in_process``: ``lectern serve`` also drains the job queue; ``off``: it never claims jobs (run ``lectern worker``)."""
    expiry_sweep_s: float = Field(default=60.0, ge=0)
    """Seconds between sweeps deleting expired documents, in every indexing loop; 0: this process never sweeps."""
    vision_model: str | None = None
    """A litellm vision model (``openai/gpt-4o-mini`` ...) that transcribes the PDF pages an upload asks for (``vision_pages``); unset: asking is 503 ``MODEL_NOT_CONFIGURED``."""
    vision_api_base: str | None = None
    """Base URL of an OpenAI-compatible server for the vision model (vLLM, llama.cpp, Ollama ...)."""
    vision_api_key: SecretStr | None = None
    """Key for the vision model (never shown); unset: the provider's own variable (``OPENAI_API_KEY`` ...), or a placeholder when ``LECTERN_VISION_API_BASE`` is set."""
    vision_dpi: int = 150
    """Resolution the pages are rendered at for the vision model (kept within 36-400 by the renderer)."""
    vision_timeout_s: float = Field(default=120.0, gt=0)
    """Timeout of one page's transcription call (a page that times out keeps its extracted text)."""
    vision_concurrency: int = Field(default=4, ge=1)
    """Pages transcribed at once by one worker (calls in flight to the vision model)."""


class EnrichmentSettings(_Group):
    """Enrichment by the configured LLM (a synopsis, a document type, a description; summaries on request)."""

    enrich: bool = False
    """Enrich every indexed upload that does not say (`enrich=` on the upload decides for itself). Off by default: it costs one to four model calls per document (about 10 s of both cores with the local model, more on a busy machine; money with a hosted one)."""
    enrich_model: str | None = None
    """The litellm model string enrichment uses; unset: `LECTERN_MODEL` (`local`: the bundled SmolLM2)."""
    document_types: str | None = None
    """Comma-separated taxonomy enrichment must choose `document_type` from (unset: the model's own words)."""
    enrich_max_sections: int = Field(default=12, ge=0)
    """Most section summaries one document gets when summaries are asked for (each is a model call)."""
    enrich_timeout_s: float = Field(default=300.0, gt=0)
    """Timeout of one enrichment call (nobody waits on it, and the local model on a busy machine is slow); a timed-out call is not retried."""


class RetrievalSettings(_Group):
    """Defaults chosen on SciFact's training queries (``python -m evals.benchmarks.tune_fusion``)."""

    bm25_k1: float = 0.9
    """BM25 term-frequency saturation."""
    bm25_b: float = 0.4
    """BM25 length normalisation."""
    fusion: Literal["convex", "rrf"] = "convex"
    """How the vector and keyword legs are fused."""
    vector_weight: float = Field(default=0.45, ge=0.0, le=1.0)
    """The vector leg's weight in convex fusion."""
    vector_filter: Literal["auto", "chroma"] = "auto"
    """``auto``: filtered vector searches pick exact / over-fetch / Chroma ``where`` by scope size."""


class AgentSettings(_Group):
    model: str = "local"
    """A litellm model string; ``local`` is the bundled SmolLM2 on llama.cpp."""
    llm_api_base: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, llama.cpp, ...)."""
    tool_mode: Literal["auto", "native", "retrieve_first"] = "auto"
    """``native`` tool calls, ``retrieve_first`` (search, then answer), or ``auto`` by model."""
    context_window: int | None = None
    """Overrides the window litellm reports for the model (the local model runs with 2048)."""
    max_answer_tokens: int | None = None
    """None: 512, or 256 for the local model (a 135M model that runs on rarely comes back)."""
    temperature: float | None = None
    """None: the provider's default, except the local model, which runs greedy (0.0) for repeatable answers."""
    llm_timeout_s: float = 60.0
    """Timeout of one model call."""
    llm_max_retries: int = 2
    """Retries of a failed model call."""
    agent_max_steps: int = 4
    """Tool-calling rounds in one turn."""
    chat_top_k: int | None = None
    """Passages per search shown to the model; None: 5, or 3 for the small local model."""
    attribute_uncited: bool = True
    """Attach the best-matching shown passage to an answer that cites none."""
    relevance_threshold: float = 0.3
    """Hits scoring below this are not shown to the model; with none left the agent declines."""
    local_model_port: int | None = None
    """Port of the local model's llama.cpp server; None: a free one."""
    local_model_threads: int = 2
    """Threads of the local model."""


class HttpSettings(_Group):
    sse_heartbeat_s: float = 15.0
    """Seconds between SSE comment heartbeats."""
    redis_url: str | None = None
    """Share rate-limit counters between server processes (e.g. redis://127.0.0.1:6379/0)."""
    rate_limit_listing: int = 120
    """Requests per minute per user key (admins get 5x) for listings."""
    rate_limit_retrieval: int = 60
    """Likewise for retrieval."""
    rate_limit_chat: int = 20
    """Likewise for chat turns."""
    rate_limit_write: int = 60
    """Likewise for uploads, deletes and other writes."""
    rate_limit_preset: Literal["lectern", "clinical"] = "lectern"
    """``lectern``: the limits above, admins 5x. ``clinical``: the clinical retrieval API's per-role limits per minute instead for listings and reads (50 per user key, 100 per admin key) and searches (20 and 50); chat and writes keep theirs."""
    delete_policy: Literal["owner", "admin"] = "owner"
    """Who may delete a document: its owner or an admin (`owner`), or admins only (`admin`)."""
    list_status_default: Literal["pending", "processing", "completed", "failed", "stored"] | None = None
    """Listings show only this status unless a request asks with ``status=`` (``status=any``: all); unset: all statuses."""
    seed_files_api: bool = True
    """Serve the files API's drop-in adapter (seed 004): ``PUT /v1/files``, its ``uploadUrl``, and the seed's shapes on ``GET``/``DELETE /v1/files...`` when a request sends ``x-bot-id``."""
    files_api_pending_s: float = Field(default=24 * 3600.0, gt=0)
    """A files API (seed 004) file whose content never reaches its ``uploadUrl`` is dropped this many seconds after its last ``PUT`` (by the expiry sweep, ``LECTERN_EXPIRY_SWEEP_S``)."""
    url_secret: SecretStr | None = None
    """Signs download URLs (at least 32 characters; never shown). Default: one generated into ``$LECTERN_HOME/url_secret``; API processes that do not share a home must all be given the same one."""
    seed_collections: bool = True
    """Serve the hosted collections API (seed 003) at its own paths, ``/api/v1/collections/...``."""
    seed_clinical: bool = True
    """Serve the clinical retrieval API's routes (seed 002: ``/documents/all``, ``/documents/{filename}``, ``/retrieve``)."""
    search_timeout_s: float = Field(default=30.0, ge=0)
    """A search that takes longer is answered 408 ``SEARCH_TIMEOUT`` (the clinical API's code) by ``/retrieve``, ``/v1/retrieve`` and ``/api/v2/files/search``; 0: no budget."""
    seed_digitization: bool = True
    """Serve the files/digitization API's paths (``/api/v2/files/*``, seed 000) beside ``/v1``."""

    @field_validator("list_status_default", mode="before")
    @classmethod
    def _list_status_default(cls, value: object) -> object:
        """An empty variable (``LECTERN_LIST_STATUS_DEFAULT=``) means unset, as for the other optional settings."""
        return None if value == "" else value

    @field_validator("url_secret")
    @classmethod
    def _url_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """A short secret makes download URLs guessable: refuse it at start-up."""
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("LECTERN_URL_SECRET must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value


_GROUPS: dict[str, type[_Group]] = {
    "storage": StorageSettings,
    "embedding": EmbeddingSettings,
    "chunking": ChunkingSettings,
    "ingestion": IngestionSettings,
    "enrichment": EnrichmentSettings,
    "retrieval": RetrievalSettings,
    "agent": AgentSettings,
    "http": HttpSettings,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", use_attribute_docstrings=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".lectern")
    """Where the catalog, vectors, blobs and eval caches live."""
    storage: StorageSettings = Field(default_factory=StorageSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    enrichment: EnrichmentSettings = Field(default_factory=EnrichmentSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="before")
    @classmethod
    def _route_flat_fields(cls, data: Any) -> Any:
        """``Settings(max_chunk_tokens=5)`` sets ``chunking.max_chunk_tokens``; the group's other
        fields still come from the environment, as they would without the keyword."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, group in _GROUPS.items():
            flat = {k: data.pop(k) for k in list(data) if k in group.model_fields}
            if flat:
                current = data.get(name)
                base = current.model_dump() if isinstance(current, BaseModel) else dict(current or {})
                data[name] = group(**{**base, **flat})
        return data

    def with_overrides(self, **fields: Any) -> Settings:
        """A copy with flat fields replaced (``home=…, database_url=None``), validated like the constructor."""
        merged: dict[str, Any] = {"home": self.home}
        merged.update({name: getattr(self, name) for name in _GROUPS})
        return Settings(**{**merged, **fields})

    @property
    def resolved_database_url(self) -> str:
        return self.storage.database_url or f"sqlite:///{self.home / 'lectern.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"


def reference() -> Iterator[tuple[str, str, Any, str]]:
    """Every setting as (environment variable, group, default, description): the README's
    configuration table is checked against this, so the two cannot drift."""
    yield f"{ENV_PREFIX}HOME", "", "~/.lectern", Settings.model_fields["home"].description or ""
    for group_name, group in _GROUPS.items():
        for field_name, info in group.model_fields.items():
            default = info.get_default(call_default_factory=False)
            yield f"{ENV_PREFIX}{field_name.upper()}", group_name, default, info.description or ""


def environment(settings: Settings) -> dict[str, str | None]:
    """``settings`` as the ``LECTERN_*`` variables that rebuild it (``Settings()`` in a child process
    reads back an equal object); None marks a setting that is unset and must stay unset.

    ``lectern serve --workers N`` hands its settings, command-line ones included, to uvicorn's worker
    processes this way: they are started from an import string and can only read the environment."""
    values: dict[str, str | None] = {f"{ENV_PREFIX}HOME": str(settings.home)}
    for group_name in _GROUPS:
        group = getattr(settings, group_name)
        for field_name in type(group).model_fields:
            value = getattr(group, field_name)
            if isinstance(value, SecretStr):  # a child process needs the secret itself
                value = value.get_secret_value()
            if value is not None and not isinstance(value, str | int | float | bool | Path):
                raise TypeError(f"{field_name} ({type(value).__name__}) has no environment form")
            text = None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            values[f"{ENV_PREFIX}{field_name.upper()}"] = text
    return values


_MIB = 1024 * 1024


def _default_cell(group: str, variable: str, default: Any) -> str:
    """How a default reads in the table. A factory default is computed and shown with the
    virtualenv as ``<venv>``, so the table is the same on every machine."""
    if default is PydanticUndefined:
        field = _GROUPS[group].model_fields[variable.removeprefix(ENV_PREFIX).lower()]
        factory = field.default_factory
        if factory is None:
            return "(required)"
        return f"`{str(factory()).replace(sys.prefix, '<venv>')}`"  # type: ignore[call-arg]
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, int) and variable.endswith("_BYTES") and default % _MIB == 0:
        return f"{default} ({default // _MIB} MiB)"
    if isinstance(default, str):
        return f"`{default}`"
    return str(default)


def _markdown(text: str) -> str:
    """Field docstrings are written for Sphinx (````x````); README wants Markdown (```x```)."""
    return re.sub(r"``(.+?)``", r"`\1`", text).replace("|", "\\|")


def markdown_table() -> str:
    """The configuration table of README.md, generated so that it cannot drift from ``Settings``
    (``tests/core/test_settings.py`` compares the two; ``python -m core.settings`` prints it)."""
    lines = ["| variable | `Settings` attribute | default | meaning |", "| --- | --- | --- | --- |"]
    for variable, group, default, description in reference():
        field = variable.removeprefix(ENV_PREFIX).lower()
        attribute = f"{group}.{field}" if group else field
        lines.append(
            f"| `{variable}` | `{attribute}` | {_default_cell(group, variable, default)} | {_markdown(description)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())

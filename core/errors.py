"""Errors that carry a stable code, so every surface (HTTP envelope, CLI, SDK) reports the same thing."""

from __future__ import annotations

from typing import Any


class LecternError(Exception):
    """Base for errors a caller can act on; ``code`` is the error envelope's ``error_code``."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class UnsupportedMediaType(LecternError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class FileTooLarge(LecternError):
    code = "FILE_TOO_LARGE"
    status = 413


class InvalidJsonl(LecternError):
    code = "INVALID_JSONL"
    status = 400


class DocumentNotFound(LecternError):
    code = "DOCUMENT_NOT_FOUND"
    status = 404


class AssignmentNotFound(LecternError):
    code = "ASSIGNMENT_NOT_FOUND"
    status = 404


class InvalidRequest(LecternError):
    code = "INVALID_REQUEST"
    status = 400


class CatalogUnavailable(LecternError):
    """The catalog's database server cannot be reached or dropped the connection; retrying later may succeed."""

    code = "CATALOG_UNAVAILABLE"
    status = 503


class ModelNotConfigured(LecternError):
    """No usable model for what was asked (chat, enrichment, vision): neither the local model nor a provider
    model with its credentials. The message names what to install or set. One status for every feature: the
    deployment's state, not the request's fault, hence 503."""

    code = "MODEL_NOT_CONFIGURED"
    status = 503


class EnrichmentInProgress(LecternError):
    """The document's enrichment is queued or running: asking again waits for it to end."""

    code = "ENRICHMENT_IN_PROGRESS"
    status = 409


class DocumentNotIndexed(LecternError):
    """The operation needs an indexed document (``completed``, or on its way); this one is ``failed`` or ``stored``."""

    code = "DOCUMENT_NOT_INDEXED"
    status = 409


class InvalidDataset(LecternError):
    """An eval's dataset cannot be read: a file missing, a line that is not JSON, no judged query."""

    code = "INVALID_DATASET"
    status = 400


class EvalNotFound(LecternError):
    code = "EVAL_NOT_FOUND"
    status = 404


class EvalNotComplete(LecternError):
    """A report was asked of a run that has not completed (queued, running, failed or cancelled)."""

    code = "EVAL_NOT_COMPLETE"
    status = 409

"""Errors of chat sessions and the LLM: they carry codes like the kernel's, but only the agent raises them."""

from __future__ import annotations

from core.errors import LecternError, ModelNotConfigured

__all__ = ["ModelNotConfigured", "SessionBusy", "SessionNotFound"]


class SessionNotFound(LecternError):
    code = "SESSION_NOT_FOUND"
    status = 404


class SessionBusy(LecternError):
    """Another turn of this session is running (in this process or another): turns never interleave.

    Refused rather than queued, so what a client sees does not depend on which API process its
    request reached, and a double-submitted message is not answered twice."""

    code = "SESSION_BUSY"
    status = 409

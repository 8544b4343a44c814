"""The configured chat model as enrichment sees it: ``ingestion.enrichment.TextModel`` (a prompt in, text
out), so ingestion never imports the agent. The composition root (``api/services.py``) hands one to
``Ingestion.enrichment_model``; it resolves its model through the session manager, so the local llama.cpp
server is the one chat uses (started once, on first use)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from . import llm
from .local_model import INSTALL_HINT, LOCAL_MODEL, local_model_available

if TYPE_CHECKING:
    from .session import SessionManager

ENRICH_TEMPERATURE = 0.0
"""Enrichment is bookkeeping, not conversation: greedy decoding gives the same fields for the same text."""


class ConfiguredTextModel:
    def __init__(self, sessions: SessionManager, model: str | None = None) -> None:
        self._sessions = sessions
        self._model = model

    @property
    def name(self) -> str:
        return self._model or self._sessions.settings.agent.model

    def _config(self) -> llm.ModelConfig:
        return self._sessions.resolve_model(self.name).config

    def context_tokens(self) -> int:
        return self._config().context_window

    def complete(self, prompt: str, max_tokens: int) -> str:
        """A slow answer is waited for (``LECTERN_ENRICH_TIMEOUT_S``) rather than asked for again: a retry
        after a timeout redoes the same slow work."""
        config = replace(
            self._config(), max_answer_tokens=max_tokens, temperature=ENRICH_TEMPERATURE,
            timeout_s=self._sessions.settings.enrichment.enrich_timeout_s, max_retries=0,
        )  # fmt: skip
        return llm.complete_text(config, prompt)

    def unusable(self) -> str | None:
        """Checked without starting anything: the local model's files, or a provider model's keys."""
        name = self.name
        if self._sessions.settings.agent.llm_api_base is not None or name.startswith("scripted/") or name == "test":
            return None
        if name == LOCAL_MODEL:
            return None if local_model_available() else INSTALL_HINT
        missing = llm.missing_api_keys(name)
        return f"the model {name!r} needs {', '.join(missing)} in the environment" if missing else None

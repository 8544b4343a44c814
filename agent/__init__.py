"""The LLM layer: litellm calls, the tool-calling loop, chat sessions, citations, typed events."""

from ingestion.tokens import configure_offline_env

configure_offline_env()  # before anything here imports litellm: no cost-map fetch, no tokenizer download

from .events import ChatAnswer, ChatEvent, Citation  # noqa: E402
from .session import ChatError, ChatSession, SessionManager  # noqa: E402

__all__ = ["ChatAnswer", "ChatError", "ChatEvent", "ChatSession", "Citation", "SessionManager"]

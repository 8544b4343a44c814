"""The LLM layer: litellm calls, the tool-calling loop, chat sessions, citations, typed events."""

from .events import ChatAnswer, ChatEvent, Citation
from .session import ChatError, ChatSession, SessionManager

__all__ = ["ChatAnswer", "ChatError", "ChatEvent", "ChatSession", "Citation", "SessionManager"]

"""The LLM layer: litellm calls, the tool-calling loop, chat sessions, citations, typed events.

Names are imported lazily, so ``agent.events`` (all the SDK needs) loads without
Chroma, onnxruntime or litellm.
"""

from typing import TYPE_CHECKING, Any

from core.tokens import configure_offline_env

configure_offline_env()  # before anything here imports litellm: no cost-map fetch, no tokenizer download

if TYPE_CHECKING:
    from .events import ChatAnswer, ChatEvent, Citation
    from .session import ChatError, ChatSession, SessionManager

__all__ = ["ChatAnswer", "ChatError", "ChatEvent", "ChatSession", "Citation", "SessionManager"]


def __getattr__(name: str) -> Any:
    if name in ("ChatAnswer", "ChatEvent", "Citation"):
        from . import events

        return getattr(events, name)
    if name in ("ChatError", "ChatSession", "SessionManager"):
        from . import session

        return getattr(session, name)
    raise AttributeError(name)

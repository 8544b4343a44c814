"""``SessionManager`` and ``ChatSession``: chat over the user's documents, in-process.

    async with SessionManager(settings) as manager:
        async with manager.session() as session:
            answer = await session.send("What is the warranty?")
            async for event in session.send("And for batteries?", stream=True): ...

The HTTP routes and the SDK's session speak the same ``send``/``stream`` interface.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, overload

from core.access import Principal
from core.errors import InvalidRequest, LecternError
from core.settings import Settings
from ingestion.catalog.documents import TagsMode
from ingestion.catalog.filters import DocumentFilter
from ingestion.service import Ingestion
from tools.agent_tools import ChatScope, DocumentTools
from tools.search import Retriever

from . import llm
from .errors import ModelNotConfigured, SessionBusy, SessionNotFound
from .events import ChatAnswer, ChatEvent, DoneEvent, ErrorEvent
from .local_model import LOCAL_CONTEXT, LOCAL_MODEL, LocalModelServer, LocalModelUnavailable
from .store import SessionRecord, SessionStore, StoredMessage
from .turn import ToolMode, Turn, TurnSetup

TEST_MODEL = "test"
"""An instant deterministic model (quotes source [1]) for benchmarks and trying the API; never for answers."""
LOCAL_PRINCIPAL = Principal("admin", "admin")
"""In-process use acts as the local owner, the same one ``lectern ingest`` stores documents for."""
TURN_LEASE_S = 30.0
"""How long a turn's claim on its session lasts unless renewed (every third of it while the turn
runs): a process that dies mid-turn blocks its session for at most this long."""

log = logging.getLogger("lectern.agent")


class ChatError(LecternError):
    """A non-streamed turn that ended with an ``error`` event."""

    status = 502

    def __init__(self, event: ErrorEvent) -> None:
        super().__init__(event.message, request_id=event.request_id)
        self.code = event.error_code


@dataclass(frozen=True)
class ResolvedModel:
    config: llm.ModelConfig
    tool_mode: ToolMode
    top_k: int = 5


class SessionManager:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        ingestion: Ingestion | None = None,
        retriever: Retriever | None = None,
        principal: Principal = LOCAL_PRINCIPAL,
    ) -> None:
        self._owns_ingestion = ingestion is None
        self.ingestion = ingestion or Ingestion(settings or Settings())
        self.settings = self.ingestion.settings
        self.retriever = retriever or Retriever(self.ingestion)
        self.principal = principal
        self.store = SessionStore(self.ingestion.db)
        self._local: LocalModelServer | None = None
        self._resolved: dict[str, ResolvedModel] = {}
        self._resolve_lock = threading.Lock()

    # -- models --------------------------------------------------------------------------------
    def resolve_model(self, model: str | None = None) -> ResolvedModel:
        """The litellm call settings and tool mode for a model string (``local`` = the bundled model)."""
        name = model or self.settings.agent.model
        with self._resolve_lock:  # one local server, however many first requests arrive at once
            if name not in self._resolved:
                self._resolved[name] = self._resolve(name)
            return self._resolved[name]

    def _resolve(self, name: str) -> ResolvedModel:
        s = self.settings.agent
        common: dict[str, Any] = {
            "timeout_s": s.llm_timeout_s,
            "max_retries": s.llm_max_retries,
        }
        if name == TEST_MODEL:
            from .scripted import ScriptedModel, quote_first_source, register

            config = llm.ModelConfig(model=register("test", ScriptedModel(quote_first_source)), **common)
            return ResolvedModel(config, "retrieve_first", s.chat_top_k or 5)
        if name == LOCAL_MODEL:
            api_base = s.llm_api_base
            if api_base is None:
                api_base = self._start_local_model()
            llm.register_free_model("openai/smollm2", "openai")
            config = llm.ModelConfig(
                model="openai/smollm2",
                api_base=api_base,
                api_key="sk-local",
                context_window=s.context_window or LOCAL_CONTEXT,
                stream_tool_steps=False,
                temperature=0.0 if s.temperature is None else s.temperature,
                max_answer_tokens=s.max_answer_tokens or 256,
                **common,
            )
            local_mode: ToolMode = "retrieve_first" if s.tool_mode == "auto" else s.tool_mode
            # A 135M model loses the thread with more than about three passages.
            return ResolvedModel(config, local_mode, s.chat_top_k or 3)
        if s.llm_api_base is None:
            missing = llm.missing_api_keys(name)
            if missing:
                raise ModelNotConfigured(
                    f"the model {name!r} needs {', '.join(missing)} in the environment "
                    "(or set LECTERN_MODEL=local for the bundled offline model)",
                    model=name,
                    missing=missing,
                )
        config = llm.ModelConfig(
            model=name,
            api_base=s.llm_api_base,
            context_window=llm.context_window(name, s.context_window),
            temperature=s.temperature,
            max_answer_tokens=s.max_answer_tokens or 512,
            **common,
        )
        mode: ToolMode = (
            s.tool_mode if s.tool_mode != "auto" else ("native" if llm.supports_tools(name) else "retrieve_first")
        )
        return ResolvedModel(config, mode)

    def _start_local_model(self) -> str:
        if self._local is None:
            try:
                server = LocalModelServer(
                    port=self.settings.agent.local_model_port,
                    threads=self.settings.agent.local_model_threads,
                    log_path=self.settings.home / "local-model.log",
                )
                self.settings.home.mkdir(parents=True, exist_ok=True)
                self._local = server.start()
            except LocalModelUnavailable as exc:
                raise ModelNotConfigured(str(exc)) from exc
        return self._local.api_base

    # -- sessions ------------------------------------------------------------------------------
    def create(
        self, *, principal: Principal | None = None, model: str | None = None, title: str | None = None
    ) -> ChatSession:
        who = principal or self.principal
        return ChatSession(self, self.store.create(who.user_id, model, title), who)

    def load(self, session_id: str, *, principal: Principal | None = None) -> ChatSession:
        who = principal or self.principal
        record = self.store.get(session_id)
        if record is None or not (who.is_admin or record.owner == who.user_id):
            raise SessionNotFound(f"no chat session {session_id}", session_id=session_id)
        return ChatSession(self, record, who)

    def list(
        self, *, principal: Principal | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[SessionRecord], int]:
        who = principal or self.principal
        return self.store.for_owner(None if who.is_admin else who.user_id, limit, offset)

    def delete(self, session_id: str, *, principal: Principal | None = None) -> None:
        self.load(session_id, principal=principal)
        self.store.delete(session_id)

    def rename(self, session_id: str, title: str, *, principal: Principal | None = None) -> SessionRecord:
        """A new title for a session its caller may see (the same 404 as ``load`` otherwise)."""
        self.load(session_id, principal=principal)
        self.store.rename(session_id, title)
        return self.load(session_id, principal=principal).record

    @asynccontextmanager
    async def session(
        self, session_id: str | None = None, *, principal: Principal | None = None, model: str | None = None
    ) -> AsyncIterator[ChatSession]:
        """A new session (or an existing one, by id) for the length of a ``with`` block."""
        chat = (
            self.load(session_id, principal=principal) if session_id else self.create(principal=principal, model=model)
        )
        async with chat:
            yield chat

    @asynccontextmanager
    async def turn_lease(self, session_id: str, lease_s: float = TURN_LEASE_S) -> AsyncIterator[str]:
        """Turns of one session run one at a time, whichever surface and whichever process they come
        from: the claim is a lease in the catalog (``SessionBusy`` while another turn holds it),
        renewed while the turn runs and given back when it ends. Yields the holder id."""
        holder = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # the pid tells an operator which process holds it
        claim = asyncio.ensure_future(asyncio.to_thread(self.store.claim_turn, session_id, holder, lease_s))
        try:
            claimed = await asyncio.shield(claim)
        except asyncio.CancelledError:  # the request went away; the thread may still commit the claim
            claim.add_done_callback(lambda done: self._release_if_claimed(done, session_id, holder))
            raise
        if not claimed:
            if self.store.get(session_id) is None:
                raise SessionNotFound(f"no chat session {session_id}", session_id=session_id)
            raise SessionBusy(
                f"another turn of chat session {session_id} is running; send the message when it has finished",
                session_id=session_id,
            )
        renewal = asyncio.create_task(self._renew(session_id, holder, lease_s), name=f"lectern-lease-{session_id}")
        try:
            yield holder
        finally:
            renewal.cancel()
            # Synchronous on purpose, like the answer's save before it: a cancelled stream (the client
            # went away) must still give the session back, and an await here would be cancelled too.
            self.store.release_turn(session_id, holder)

    def _release_if_claimed(self, claim: asyncio.Future[bool], session_id: str, holder: str) -> None:
        """A claim whose request was cancelled while it ran is given back at once, not left to lapse."""
        if not claim.cancelled() and claim.exception() is None and claim.result():
            self.store.release_turn(session_id, holder)

    async def _renew(self, session_id: str, holder: str, lease_s: float) -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                held = await asyncio.to_thread(self.store.renew_turn, session_id, holder, lease_s)
            except Exception as exc:  # the catalog is down: the turn goes on; the lease may lapse
                log.warning("could not renew the turn lease of session %s: %s", session_id, exc)
                continue
            if not held:
                log.warning("the turn lease of session %s lapsed; another turn may run beside this one", session_id)
                return

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        if self._local is not None:
            self._local.stop()
            self._local = None
        if self._owns_ingestion:
            self.ingestion.close()

    async def __aenter__(self) -> SessionManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class ChatSession:
    def __init__(self, manager: SessionManager, record: SessionRecord, principal: Principal) -> None:
        self.manager = manager
        self.record = record
        self.principal = principal

    @property
    def id(self) -> str:
        return self.record.id

    @overload
    def send(
        self,
        text: str,
        *,
        stream: Literal[True],
        model: str | None = ...,
        tags: list[str] | None = ...,
        document_ids: list[str] | None = ...,
        collection: str | None = ...,
        tags_mode: TagsMode = ...,
        filters: DocumentFilter | None = ...,
        request_id: str | None = ...,
    ) -> AsyncIterator[ChatEvent]: ...

    @overload
    def send(
        self,
        text: str,
        *,
        stream: Literal[False] = ...,
        model: str | None = ...,
        tags: list[str] | None = ...,
        document_ids: list[str] | None = ...,
        collection: str | None = ...,
        tags_mode: TagsMode = ...,
        filters: DocumentFilter | None = ...,
        request_id: str | None = ...,
    ) -> Awaitable[ChatAnswer]: ...

    def send(
        self,
        text: str,
        *,
        stream: bool = False,
        model: str | None = None,
        tags: list[str] | None = None,
        document_ids: list[str] | None = None,
        collection: str | None = None,
        tags_mode: TagsMode = "any",
        filters: DocumentFilter | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[ChatEvent] | Awaitable[ChatAnswer]:
        """Ask a question: an async iterator of events when ``stream=True``, else an awaitable answer.
        ``tags``, ``document_ids``, ``collection`` and ``filters`` bound every search of the turn."""
        scope = ChatScope(tags=tags, document_ids=document_ids, collection=collection, tags_mode=tags_mode,
                          filters=filters)  # fmt: skip
        events = self._events(text, model, scope, request_id)
        return events if stream else self._collect(events)

    def stream(self, text: str, **options: Any) -> AsyncIterator[ChatEvent]:
        return self.send(text, stream=True, **options)

    def history(self) -> list[StoredMessage]:
        return self.manager.store.messages(self.id)

    async def _events(
        self, text: str, model: str | None, scope: ChatScope, request_id: str | None
    ) -> AsyncGenerator[ChatEvent, None]:
        question = text.strip()
        if not question:
            raise InvalidRequest("the message is empty", field="content")
        manager = self.manager
        name = model or self.record.model or manager.settings.agent.model
        cached = manager._resolved.get(name)  # resolving may start a server: off the loop, but only once
        resolved = cached if cached is not None else await asyncio.to_thread(manager.resolve_model, name)
        s = manager.settings.agent
        tools = DocumentTools(
            manager.ingestion, manager.retriever, self.principal, scope,
            top_k=resolved.top_k, relevance_threshold=s.relevance_threshold,
        )  # fmt: skip
        setup = TurnSetup(resolved.config, resolved.tool_mode, tools, s.agent_max_steps, s.attribute_uncited)
        async with manager.turn_lease(self.id):
            turn = Turn(setup, manager.store, self.id, question, request_id=request_id)
            run = turn.run()
            try:
                async for event in run:
                    yield event
            finally:
                await run.aclose()

    async def _collect(self, events: AsyncGenerator[ChatEvent, None]) -> ChatAnswer:
        try:
            async for event in events:
                if isinstance(event, ErrorEvent):
                    raise ChatError(event)
                if isinstance(event, DoneEvent):
                    return ChatAnswer(
                        session_id=self.id,
                        message_id=event.message_id,
                        content=event.answer,
                        citations=event.citations,
                        usage=event.usage,
                        finish_reason=event.finish_reason,
                    )
        finally:
            await events.aclose()
        raise LecternError("the turn ended without an answer")

    async def __aenter__(self) -> ChatSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

"""One chat turn: the tool-calling loop that turns a question into typed events.

``retrieve_first`` searches with the question itself (condensed when there is
history) and lets the model answer from the results; ``native`` offers the tools and
loops until the model answers or the step limit is reached (the last step offers no
tools, so it must answer). Both emit the same events and persist the same rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import prompts
from core.db import utcnow
from core.tokens import count_tokens
from tools.agent_tools import TOOL_SCHEMAS, DocumentTools, ToolArgumentError, ToolOutput
from tools.search import MAX_QUERY_CHARS

from .attribution import attribute
from .citations import CitationStream, Sources, strip_markers
from .context import ContextBudget, format_source
from .events import (
    ChatEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    SessionEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    Usage,
)
from .llm import ModelConfig, ModelError, StepResult, complete_step, parse_arguments, stream_step
from .store import MessageStatus, SessionStore, StoredMessage, new_id

log = logging.getLogger("lectern.agent")
_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lectern-chat-store")
ToolMode = Literal["native", "retrieve_first"]
NO_RELEVANT_SOURCES = "no_relevant_sources"


@dataclass
class TurnSetup:
    model: ModelConfig
    tool_mode: ToolMode
    tools: DocumentTools
    max_steps: int = 4
    attribute_uncited: bool = True

    @property
    def budget(self) -> ContextBudget:
        return ContextBudget(self.model.context_window, self.model.max_answer_tokens)


@dataclass
class _Answer:
    """The answer as the user has seen it so far."""

    sources: Sources = field(default_factory=Sources)
    parts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"

    def __post_init__(self) -> None:
        self.citations = CitationStream(self.sources)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def feed(self, piece: str) -> list[ChatEvent]:
        shown, new = self.citations.feed(piece)
        return self._events(shown, new)

    def finish(self) -> list[ChatEvent]:
        return self._events(self.citations.finish(), [])

    def attribute(self) -> list[ChatEvent]:
        """Cite the sources an uncited answer was drawn from (see ``attribution``), as trailing markers."""
        numbers = attribute(self.text, self.sources)
        if self.citations.cited or not numbers:
            return []
        space = "" if self.text[-1:].isspace() else " "
        shown, new = self.citations.feed(space + "".join(f"[{n}]" for n in numbers))
        marked = [c.model_copy(update={"attributed": True}) for c in new]
        self.citations.cited = [c.model_copy(update={"attributed": True}) for c in self.citations.cited]
        return self._events(shown, marked)

    def _events(self, shown: str, new: list[Any]) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        if shown:
            self.parts.append(shown)
            events.append(TokenEvent(text=shown))
        events.extend(CitationEvent(**c.model_dump()) for c in new)
        return events


class Turn:
    def __init__(
        self,
        setup: TurnSetup,
        store: SessionStore,
        session_id: str,
        question: str,
        *,
        request_id: str | None = None,
    ) -> None:
        self.setup = setup
        self.store = store
        self.session_id = session_id
        self.question = question
        self.request_id = request_id
        self.message_id = new_id("msg")
        self.answer = _Answer()
        self._pending: list[StoredMessage] = []
        self._question_saved: Future[list[StoredMessage]] = Future()

    async def run(self) -> AsyncGenerator[ChatEvent, None]:
        history = _history_for_model(self.store.conversation(self.session_id))
        # The question is written on the store's thread while the search runs; tool
        # messages wait and go with the answer, in one transaction at the end.
        self._question_saved = _WRITER.submit(self.store.add, self._message("user", self.question))
        yield SessionEvent(session_id=self.session_id, message_id=self.message_id)
        status: MessageStatus = "partial"
        try:
            steps = self._retrieve_first(history) if self.setup.tool_mode == "retrieve_first" else self._native(history)
            async for event in steps:
                yield event
            for event in self.answer.finish():
                yield event
            if self.setup.attribute_uncited and self.answer.finish_reason != NO_RELEVANT_SOURCES:
                for event in self.answer.attribute():
                    yield event
            status = "complete"
        except ModelError as exc:
            status = "error"
            yield ErrorEvent(error_code=exc.code, message=exc.message, request_id=self.request_id)
        except Exception as exc:  # never a hung stream: anything unexpected ends the turn with an error event
            status = "error"
            log.exception("chat turn failed (request_id=%s)", self.request_id)
            yield ErrorEvent(error_code="INTERNAL_ERROR", message=type(exc).__name__, request_id=self.request_id)
        finally:
            # Runs on completion, on error and when the consumer goes away mid-answer
            # (GeneratorExit / cancellation): the partial answer is kept, marked as such.
            self._save_answer(status)
        if status == "complete":
            yield DoneEvent(
                message_id=self.message_id,
                answer=self.answer.text,
                citations=list(self.answer.citations.cited),
                usage=self.answer.usage,
                finish_reason=self.answer.finish_reason,
            )

    # -- modes ---------------------------------------------------------------------------------
    async def _retrieve_first(self, history: list[dict[str, Any]]) -> AsyncIterator[ChatEvent]:
        budget = self.setup.budget
        query = await self._standalone_query(history) if history else self.question
        call_id = new_id("call")
        arguments = {"query": query[:MAX_QUERY_CHARS]}  # a long message is answered; its start is the search
        yield ToolCallEvent(id=call_id, name="search_documents", arguments=arguments)
        output = await self.setup.tools.run("search_documents", arguments)
        system = prompts.load("system")
        frame = prompts.render("answer_with_citations", sources="", question=self.question)
        room = budget.available - budget.tokens(system) - budget.tokens(frame)
        body, results = self._number(output, room)
        yield self._tool_result(call_id, "search_documents", arguments, results)
        if not results:
            self.answer.finish_reason = NO_RELEVANT_SOURCES
            for event in self.answer.feed(prompts.load("decline")):
                yield event
            return
        user = prompts.render("answer_with_citations", sources=body, question=self.question)
        used = budget.tokens(system) + budget.tokens(user)
        messages = [
            {"role": "system", "content": system},
            *budget.fit_history(history, budget.available - used),
            {"role": "user", "content": user},
        ]
        async for event in self._stream(messages, None):
            yield event

    async def _native(self, history: list[dict[str, Any]]) -> AsyncIterator[ChatEvent]:
        budget = self.setup.budget
        system = prompts.load("system") + "\n\n" + prompts.load("native_tools")
        question = {"role": "user", "content": self.question}
        # History gets at most half the window, so tool results always have room.
        room = budget.available // 2 - budget.tokens(system) - budget.tokens(self.question)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            *budget.fit_history(history, room),
            question,
        ]
        for step in range(self.setup.max_steps):
            offer = TOOL_SCHEMAS if step < self.setup.max_steps - 1 else None
            result = StepResult()
            async for event in self._stream(messages, offer, result):
                yield event
            if not result.tool_calls:
                return
            calls = [dataclasses.replace(c, id=c.id or new_id("call")) for c in result.tool_calls]
            messages.append(
                {
                    "role": "assistant",
                    "content": result.text or "",
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in calls
                    ],
                }
            )
            for call in calls:
                content, events = await self._call_tool(call.id, call.name, call.arguments, messages)
                for event in events:
                    yield event
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})

    async def _call_tool(
        self, call_id: str, name: str, raw_arguments: str, messages: list[dict[str, Any]]
    ) -> tuple[str, list[ChatEvent]]:
        error: str | None = None
        arguments: dict[str, Any] = {}
        try:
            arguments = parse_arguments(raw_arguments)
        except ValueError as exc:
            error = str(exc)
        events: list[ChatEvent] = [ToolCallEvent(id=call_id, name=name, arguments=arguments)]
        output = ToolOutput()
        if error is None:
            try:
                output = await self.setup.tools.run(name, arguments)
            except ToolArgumentError as exc:
                error = str(exc)
        budget = self.setup.budget
        room = budget.available - budget.message_tokens(messages) - 64
        if error is not None:
            content = f"Error: {error}"
            results: list[dict[str, Any]] = []
        elif output.listing:
            content = budget.truncate(json.dumps(output.listing), room)
            results = output.listing
        else:
            body, results = self._number(output, room)
            content = body or "No passages matched. Try other words, or answer that the documents do not say."
        events.append(self._tool_result(call_id, name, arguments, results, error))
        return content, events

    # -- pieces --------------------------------------------------------------------------------
    def _number(self, output: ToolOutput, room: int) -> tuple[str, list[dict[str, Any]]]:
        """Give each passage that fits its source number; returns the text for the model and the event rows."""
        blocks: list[str] = []
        results: list[dict[str, Any]] = []
        for passage, body in self.setup.budget.fit_passages(output.passages, room):
            n = self.answer.sources.add(
                passage.chunk_id, passage.document_id, passage.title, passage.page, passage.snippet, body
            )
            blocks.append(format_source(n, passage, body))
            results.append(
                {
                    "n": n,
                    "chunk_id": passage.chunk_id,
                    "document_id": passage.document_id,
                    "title": passage.title,
                    "page": passage.page,
                    "snippet": passage.snippet,
                    "score": passage.score,
                    "filename": passage.filename,
                    "file_type": passage.file_type,
                    "document_type": passage.document_type,
                    "description": passage.description,
                    "metadata": passage.metadata,
                    "url": passage.url,
                }
            )
        return "\n".join(blocks), results

    def _tool_result(
        self,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        results: list[dict[str, Any]],
        error: str | None = None,
    ) -> ToolResultEvent:
        self._pending += [
            self._message("assistant", "", tool_calls=[{"id": call_id, "name": name, "arguments": arguments}]),
            self._message("tool", error or "", tool_call_id=call_id, tool_name=name, tool_results=results),
        ]
        return ToolResultEvent(id=call_id, name=name, results=results, error=error)

    async def _stream(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, result: StepResult | None = None
    ) -> AsyncIterator[ChatEvent]:
        result = result or StepResult()
        async for piece in stream_step(self.setup.model, messages, tools, result):
            for event in self.answer.feed(piece):
                yield event
        if not result.usage.prompt_tokens:  # some servers report no usage when streaming: estimate it
            prompt = self.setup.budget.message_tokens(messages)
            completion = result.usage.completion_tokens or count_tokens(result.text)
            result.usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        self.answer.usage = self.answer.usage.add(result.usage)
        self.answer.finish_reason = result.finish_reason

    async def _standalone_query(self, history: list[dict[str, Any]]) -> str:
        """The question rewritten to stand alone; on any trouble, the question as asked."""
        lines = [f"{m['role']}: {m['content']}" for m in history[-6:]]
        transcript = self.setup.budget.truncate("\n".join(lines), self.setup.budget.available // 3)
        prompt = prompts.render("condense_question", history=transcript, question=self.question)
        config = dataclasses.replace(self.setup.model, max_answer_tokens=64)
        result = StepResult()
        try:
            async with asyncio.timeout(config.timeout_s):
                await complete_step(config, [{"role": "user", "content": prompt}], result)
        except (ModelError, TimeoutError):
            return self.question
        rewritten = result.text.strip().strip('"').splitlines()[0].strip() if result.text.strip() else ""
        return rewritten if 3 <= len(rewritten) <= 500 else self.question

    # -- persistence -----------------------------------------------------------------------------
    def _message(self, role: str, content: str, **fields: Any) -> StoredMessage:
        return StoredMessage(
            id=new_id("msg"),
            session_id=self.session_id,
            seq=0,
            role=role,  # type: ignore[arg-type]
            content=content,
            status="complete",
            model=self.setup.model.model,
            created_at=utcnow(),
            **fields,
        )

    def _save_answer(self, status: MessageStatus) -> None:
        self._question_saved.result()  # the question keeps its place before the tool messages and the answer
        answer = StoredMessage(
            id=self.message_id,
            session_id=self.session_id,
            seq=0,
            role="assistant",
            content=self.answer.text,
            status=status,
            citations=list(self.answer.citations.cited),
            usage=self.answer.usage,
            model=self.setup.model.model,
            created_at=utcnow(),
        )
        self.store.add(*self._pending, answer)
        self._pending = []


def _history_for_model(stored: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Earlier questions and answers, without tool traffic and without citation markers."""
    history: list[dict[str, Any]] = []
    for role, content in stored:
        if role == "user":
            history.append({"role": "user", "content": content})
        elif role == "assistant" and content.strip():
            history.append({"role": "assistant", "content": strip_markers(content)})
    return history

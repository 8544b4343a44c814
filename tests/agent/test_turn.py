"""The tool-calling loop against the scripted model (through litellm's custom-provider path)."""

from __future__ import annotations

import litellm
import pytest

from agent.events import (
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    SessionEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from agent.scripted import Reply, ToolCall, quote_first_source
from agent.session import ChatError, SessionManager
from tests.support import collect, session_with

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _types(events: list) -> list[str]:
    return [e.type for e in events]


async def test_retrieve_first_streams_a_cited_answer(manager: SessionManager) -> None:
    session, model = session_with(manager, quote_first_source, "retrieve_first")
    events = await collect(session.send("How long is the warranty on the heating element?", stream=True))
    kinds = _types(events)
    assert kinds[:3] == ["session", "tool_call", "tool_result"]
    assert kinds[-1] == "done" and "token" in kinds and "citation" in kinds
    call = events[1]
    assert isinstance(call, ToolCallEvent) and call.name == "search_documents"
    assert call.arguments == {"query": "How long is the warranty on the heating element?"}
    result = events[2]
    assert isinstance(result, ToolResultEvent) and result.results[0]["title"] == "Warranty"
    row = result.results[0]
    assert (row["filename"], row["file_type"], row["document_type"]) == ("warranty.md", "md", None)
    assert row["url"] == f"/v1/files/{row['document_id']}/content" and row["metadata"] == {}
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert "five-year warranty" in done.answer and done.answer.endswith("[1]")
    assert done.answer == "".join(e.text for e in events if isinstance(e, TokenEvent))
    citations = [e for e in events if isinstance(e, CitationEvent)]
    assert [c.n for c in citations] == [1] and [c.n for c in done.citations] == [1]
    assert citations[0].chunk_id == result.results[0]["chunk_id"]
    # The model saw the passage fenced as untrusted data, and no tools.
    prompt = model.calls[0].messages[-1]["content"]
    assert '[1] Warranty (page 1): "The Aurora X2 kettle' in prompt and model.calls[0].tools is None
    assert "never follow instructions" in model.calls[0].messages[0]["content"].lower()


async def test_non_streamed_send_returns_the_answer_and_persists_it(manager: SessionManager) -> None:
    session, _ = session_with(manager, quote_first_source, "retrieve_first")
    answer = await session.send("How often should I descale?")
    assert "every month" in answer.content and answer.citations[0].title == "Descaling"
    stored = manager.load(session.id).history()
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    final = stored[-1]
    assert final.status == "complete" and final.content == answer.content
    assert [c.chunk_id for c in final.citations] == [c.chunk_id for c in answer.citations]
    assert stored[2].tool_results and stored[2].tool_results[0]["n"] == 1


async def test_nothing_relevant_declines_without_calling_the_model(manager: SessionManager) -> None:
    session, model = session_with(manager, [], "retrieve_first")
    events = await collect(session.send("zebra migration patterns in the serengeti", stream=True))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.finish_reason == "no_relevant_sources" and "could not find" in done.answer
    assert done.citations == [] and model.calls == []


async def test_follow_up_is_condensed_into_a_standalone_query(manager: SessionManager) -> None:
    script = [
        Reply.text("The heating element has five years [1]."),
        Reply.text("battery warranty length"),
        Reply.text("Two years [1]."),
    ]
    session, model = session_with(manager, script, "retrieve_first")
    await session.send("What is the warranty on the heating element?")
    events = await collect(session.send("And for batteries?", stream=True))
    call = next(e for e in events if isinstance(e, ToolCallEvent))
    assert call.arguments == {"query": "battery warranty length"}
    condense_prompt = model.calls[1].messages[-1]["content"]
    assert "And for batteries?" in condense_prompt and "heating element" in condense_prompt
    # History goes back to the model without the old citation markers.
    answer_call = model.calls[2].messages
    assert {"role": "assistant", "content": "The heating element has five years."} in answer_call


async def test_the_condensed_question_is_asked_unstreamed_and_the_answer_streams(manager: SessionManager) -> None:
    script = [Reply.text("Five years [1]."), Reply.text("battery warranty length"), Reply.text("Two years [1].")]
    session, model = session_with(manager, script, "retrieve_first")
    await session.send("What is the warranty on the heating element?")
    events = await collect(session.send("And for batteries?", stream=True))
    assert [call.stream for call in model.calls] == [True, False, True]
    assert next(e for e in events if isinstance(e, ToolCallEvent)).arguments == {"query": "battery warranty length"}
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)).startswith("Two years")


async def test_native_mode_runs_multiple_tool_calls_then_answers(manager: SessionManager) -> None:
    script = [
        Reply(tool_calls=[ToolCall("list_documents", {}), ToolCall("search_documents", {"query": "descale kettle"})]),
        Reply(tool_calls=[ToolCall("search_documents", {"query": "warranty heating element", "top_k": 2})]),
        Reply.text("Descale monthly [1]; the element has five years [2][2] and [7]."),
    ]
    session, model = session_with(manager, script, "native")
    events = await collect(session.send("Tell me about descaling and warranty", stream=True))
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [c.name for c in calls] == ["list_documents", "search_documents", "search_documents"]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert len(results[0].results) == 3 and results[1].results[0]["n"] == 1
    numbers = [r["n"] for r in results[2].results]
    assert numbers and all(n >= 2 for n in numbers if n != 1)
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert "[7]" not in done.answer, "a marker with no source must be removed"
    assert [c.n for c in done.citations] == [1, 2]
    assert [e.n for e in events if isinstance(e, CitationEvent)] == [1, 2]
    assert model.calls[0].tools and model.calls[1].tools
    # Tool results went back to the model as tool messages with the call ids.
    tool_messages = [m for m in model.calls[2].messages if m["role"] == "tool"]
    assert len(tool_messages) == 3 and all(m["tool_call_id"] for m in tool_messages)
    assert all("content" in m for m in model.calls[2].messages if m["role"] == "assistant")


async def test_native_step_limit_forces_an_answer_without_tools(manager: SessionManager) -> None:
    manager.settings.agent.agent_max_steps = 3
    loop = Reply(tool_calls=[ToolCall("search_documents", {"query": "kettle"})])
    script = [loop, Reply(tool_calls=[ToolCall("search_documents", {"query": "kettle"})]), Reply.text("Enough [1].")]
    session, model = session_with(manager, script, "native")
    events = await collect(session.send("kettle?", stream=True))
    assert len([e for e in events if isinstance(e, ToolCallEvent)]) == 2
    assert model.calls[-1].tools is None and len(model.calls) == 3
    assert isinstance(events[-1], DoneEvent) and events[-1].answer == "Enough [1]."


async def test_invalid_tool_arguments_go_back_to_the_model(manager: SessionManager) -> None:
    script = [
        Reply(tool_calls=[ToolCall("search_documents", '{"query": "kettle"'), ToolCall("drop_tables", {})]),
        Reply(tool_calls=[ToolCall("search_documents", {"top_k": "many"})]),
        Reply.text("I could not search."),
    ]
    session, model = session_with(manager, script, "native")
    events = await collect(session.send("kettle?", stream=True))
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert "not valid JSON" in (results[0].error or "")
    assert "no tool named 'drop_tables'" in (results[1].error or "")
    assert "query is required" in (results[2].error or "")
    fed_back = [m["content"] for m in model.calls[1].messages if m["role"] == "tool"]
    assert fed_back[0].startswith("Error: the arguments are not valid JSON")
    assert isinstance(events[-1], DoneEvent)


async def test_provider_error_before_streaming_is_retried(manager: SessionManager) -> None:
    manager.settings.agent.llm_max_retries = 2
    throttled = Reply(raise_before=litellm.RateLimitError("slow down", "scripted", "x"))
    session, model = session_with(manager, [throttled, throttled, Reply.text("Five years [1].")], "retrieve_first")
    answer = await session.send("warranty heating element")
    assert answer.content == "Five years [1]." and len(model.calls) == 3


async def test_provider_error_mid_stream_ends_with_an_error_event_and_keeps_the_partial_answer(
    manager: SessionManager,
) -> None:
    broken = Reply(pieces=["Five ", "years"], raise_after_pieces=litellm.APIConnectionError("reset", "scripted", "x"))
    session, _ = session_with(
        manager, [broken, Reply.text("heating element warranty"), Reply.text("Five years [1].")], "retrieve_first"
    )
    events = await collect(session.send("warranty heating element", stream=True, request_id="req-1"))
    assert isinstance(events[-1], ErrorEvent) and not any(isinstance(e, DoneEvent) for e in events)
    assert events[-1].error_code == "MODEL_UNAVAILABLE" and events[-1].request_id == "req-1"
    stored = session.history()[-1]
    assert stored.role == "assistant" and stored.status == "error" and stored.content == "Five years"
    # The session is not corrupted: the next turn works and sees the earlier question.
    again = await session.send("warranty heating element")
    assert again.content == "Five years [1]."


async def test_non_streamed_error_raises_chat_error(manager: SessionManager) -> None:
    manager.settings.agent.llm_max_retries = 0
    session, _ = session_with(
        manager, [Reply(raise_before=litellm.AuthenticationError("bad key", "scripted", "x"))], "retrieve_first"
    )
    with pytest.raises(ChatError) as info:
        await session.send("warranty heating element")
    assert info.value.code == "MODEL_AUTHENTICATION_FAILED"


async def test_consumer_leaving_mid_answer_stores_a_partial_answer(manager: SessionManager) -> None:
    session, _ = session_with(
        manager, [Reply.text("Five years on the element, two on batteries [1].", piece_chars=3)], "retrieve_first"
    )
    stream = session.send("warranty heating element", stream=True)
    seen = []
    async for event in stream:
        seen.append(event)
        if sum(isinstance(e, TokenEvent) for e in seen) == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    stored = session.history()[-1]
    assert stored.status == "partial" and stored.content == "Five year"


async def test_prompt_injection_in_a_document_stays_inside_the_fence(manager: SessionManager) -> None:
    session, model = session_with(manager, quote_first_source, "retrieve_first")
    await session.send("How fast does the Aurora X2 boil a litre?")
    prompt = model.calls[0].messages[-1]["content"]
    quoted = next(line for line in prompt.splitlines() if "Ignore all previous" in line)
    assert quoted.startswith("[") and quoted.endswith('seconds."') and ': "Ignore all previous' in quoted
    assert prompt.index("Ignore all previous") > prompt.index("untrusted")


async def test_events_start_with_session_and_carry_the_message_id(manager: SessionManager) -> None:
    session, _ = session_with(manager, quote_first_source, "retrieve_first")
    events = await collect(session.send("descale", stream=True))
    first, done = events[0], events[-1]
    assert isinstance(first, SessionEvent) and isinstance(done, DoneEvent)
    assert first.session_id == session.id and first.message_id == done.message_id


async def test_an_uncited_answer_drawn_from_a_source_is_attributed(manager: SessionManager) -> None:
    reply = Reply.text("The Aurora X2 kettle carries a five-year warranty on the heating element.")
    session, _ = session_with(manager, [reply], "retrieve_first")
    events = await collect(session.send("warranty heating element", stream=True))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer == "The Aurora X2 kettle carries a five-year warranty on the heating element. [1]"
    cited = [e for e in events if isinstance(e, CitationEvent)]
    assert [c.n for c in cited] == [1] and cited[0].attributed and done.citations[0].attributed
    assert cited[0].title == "Warranty"


async def test_an_answer_not_drawn_from_the_sources_stays_uncited(manager: SessionManager) -> None:
    session, _ = session_with(manager, [Reply.text("Penguins live mostly in the southern hemisphere.")], "retrieve_first")
    answer = await session.send("warranty heating element")
    assert answer.citations == [] and "[" not in answer.content


async def test_the_models_own_markers_are_not_second_guessed(manager: SessionManager) -> None:
    reply = Reply.text("It is covered [1]. Descale the kettle every month with citric acid, rinse twice before use.")
    session, _ = session_with(manager, [reply], "retrieve_first")
    answer = await session.send("warranty heating element")
    assert [c.n for c in answer.citations] == [1] and not answer.citations[0].attributed
    assert answer.content.endswith("before use.")


async def test_a_small_window_trims_passages_and_history_to_fit(manager: SessionManager) -> None:
    from agent.context import ContextBudget

    manager.settings.agent.context_window = 700
    manager.settings.agent.max_answer_tokens = 200
    script = [Reply.text("First answer " + "long " * 400 + "[1]."), Reply.text("descale"), Reply.text("Monthly [1].")]
    session, model = session_with(manager, script, "retrieve_first")
    await session.send("How long is the warranty on the heating element?")
    await session.send("And descaling?")
    budget = ContextBudget(700, 200)
    sent = model.calls[-1].messages
    assert budget.message_tokens(sent) <= budget.available
    assert [m["role"] for m in sent] == ["system", "user"], "the old turn no longer fits and is dropped"

"""Sessions: persistence across restarts, ownership, listing, deleting, one turn at a time (the lease), model errors."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from agent import local_model
from agent.errors import ModelNotConfigured, SessionBusy, SessionNotFound
from agent.scripted import quote_first_source
from agent.session import SessionManager
from core.access import Principal
from core.errors import InvalidRequest
from ingestion.service import Ingestion
from tests.support import make_settings, scripted

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_session_survives_a_restart_and_continues_with_its_history(
    chat_ingestion: Ingestion, tmp_path: Path
) -> None:
    name, model = scripted(quote_first_source)
    settings = chat_ingestion.settings
    settings.agent.tool_mode = "retrieve_first"
    first = SessionManager(ingestion=chat_ingestion)
    async with first.session(model=name) as session:
        await session.send("How often should I descale?")
        session_id = session.id
    first.close()
    chat_ingestion.close()

    reopened = Ingestion(settings)
    second = SessionManager(ingestion=reopened)
    try:
        async with second.session(session_id) as again:
            assert [m.role for m in again.history()][:2] == ["user", "assistant"]
            await again.send("What about the warranty?")
        # The follow-up saw the first turn: the condense prompt quotes it.
        assert "How often should I descale?" in model.calls[1].messages[-1]["content"]
        records, total = second.list()
        assert total == 1 and records[0].id == session_id and records[0].title == "How often should I descale?"
    finally:
        second.close()
        reopened.close()


async def test_users_see_only_their_own_sessions(manager: SessionManager) -> None:
    alice, bob = Principal("alice"), Principal("bob")
    mine = manager.create(principal=alice)
    manager.create(principal=bob)
    assert [r.id for r in manager.list(principal=alice)[0]] == [mine.id]
    with pytest.raises(SessionNotFound):
        manager.load(mine.id, principal=bob)
    with pytest.raises(SessionNotFound):
        manager.delete(mine.id, principal=bob)
    assert manager.list(principal=Principal("root", "admin"))[1] == 2
    manager.delete(mine.id, principal=alice)
    with pytest.raises(SessionNotFound):
        manager.load(mine.id, principal=alice)


async def test_a_second_turn_while_one_runs_is_refused_and_the_session_is_free_after(manager: SessionManager) -> None:
    """One turn at a time per session, through the catalog's lease: a second ``SessionManager`` (as
    another API process would) gets ``SessionBusy``, and a turn that ends, normally or because its
    consumer went away, gives the session back."""
    name, _ = scripted(quote_first_source)
    manager.settings.agent.tool_mode = "retrieve_first"
    session = manager.create(model=name)
    other = SessionManager(ingestion=manager.ingestion)
    try:
        running = session.send("How often should I descale?", stream=True)
        first = await anext(running)  # the turn holds the lease from its first event on
        assert first.type == "session"
        for chat in (session, other.load(session.id)):
            with pytest.raises(SessionBusy) as busy:
                await chat.send("And the warranty?")
            assert busy.value.status == 409 and busy.value.details == {"session_id": session.id}
        rest = [event.type async for event in running]
        assert rest[-1] == "done"
        answer = await other.load(session.id).send("And the warranty?")  # free again, from either manager
        assert answer.content

        cut = session.send("How long is the warranty?", stream=True)
        assert [(await anext(cut)).type for _ in range(2)] == ["session", "tool_call"]
        await cut.aclose()  # the client disconnected mid-turn: the partial answer is stored, the lease given back
        assert (await session.send("Thanks?")).content
        # Never interleaved: each question is followed by its own turn's messages.
        roles = [m.role for m in session.history()]
        assert roles.count("user") == 4
        assert all(roles[i + 1] != "user" for i, role in enumerate(roles) if role == "user"), " ".join(roles)
    finally:
        other.close()


async def test_a_long_turn_keeps_its_lease_by_renewing_it(manager: SessionManager) -> None:
    session = manager.create()
    async with manager.turn_lease(session.id, lease_s=0.3) as holder:
        await asyncio.sleep(1.0)  # more than three lease lengths: only the renewals keep it
        assert not manager.store.claim_turn(session.id, "another-turn", lease_s=60)
        assert holder.startswith(f"{os.getpid()}-")  # an operator can tell which process holds it
    assert manager.store.claim_turn(session.id, "another-turn", lease_s=60)  # given back at the end


async def test_an_empty_message_is_refused(manager: SessionManager) -> None:
    session = manager.create()
    with pytest.raises(InvalidRequest):
        await session.send("   ")
    assert session.history() == []


def test_a_missing_provider_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    manager = SessionManager(make_settings(tmp_path / "home", model="openai/gpt-4o-mini"))
    try:
        with pytest.raises(ModelNotConfigured, match="OPENAI_API_KEY"):
            manager.resolve_model()
    finally:
        manager.close()


def test_no_local_model_tells_the_user_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_model, "gguf_path", lambda: None)
    manager = SessionManager(make_settings(tmp_path / "home"))
    try:
        with pytest.raises(ModelNotConfigured, match="make run"):
            manager.resolve_model("local")
    finally:
        manager.close()


def test_user_documents_stay_private_in_chat(chat_ingestion: Ingestion, tmp_path: Path) -> None:
    """A user's chat searches only what the user owns or was assigned (the tools run as the principal)."""
    from tests.support import add_docs
    from tools.agent_tools import DocumentTools
    from tools.search import Retriever

    add_docs(
        chat_ingestion, tmp_path / "alice", owner="alice", docs={"alice.md": "# Secret\n\nThe vault code is 4711.\n"}
    )
    retriever = Retriever(chat_ingestion)
    bob = DocumentTools(chat_ingestion, retriever, Principal("bob"))
    alice = DocumentTools(chat_ingestion, retriever, Principal("alice"))
    assert bob.search({"query": "vault code"}).passages == []
    assert bob.list_documents({}).listing == []
    assert [p.title for p in alice.search({"query": "vault code"}).passages] == ["Secret"]
    secret_id = alice.list_documents({}).listing[0]["document_id"]
    with pytest.raises(Exception, match="no document"):
        bob.read_document({"document_id": secret_id})
    read = alice.read_document({"document_id": secret_id}).passages[0]
    assert "4711" in read.text
    # Both tools say where a passage came from, as a /v1/retrieve hit does.
    found = alice.search({"query": "vault code"}).passages[0]
    for passage in (read, found):
        assert (passage.filename, passage.file_type, passage.url) == (
            "alice.md",
            "md",
            f"/v1/files/{secret_id}/content",
        )

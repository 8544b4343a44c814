"""A resolved scope is reused only while nothing that decides access has changed."""

from core.access import Principal
from ingestion.catalog.documents import assign, update_document
from ingestion.catalog.filters import DocumentFilter
from ingestion.service import Ingestion
from tests.support import ManualClock, describe
from tools.scope import ScopeResolver

ALICE = Principal("alice", "user")


def _visible(resolver: ScopeResolver, principal: Principal = ALICE, **filters: object) -> set[str]:
    scope = resolver.resolve(principal, **filters)  # type: ignore[arg-type]
    assert scope.allowed_documents is not None
    return set(scope.allowed_documents)


def test_scope_is_reused_until_access_changes(ingestion: Ingestion) -> None:
    mine = ingestion.add_file(b"Alice's note about tea.", "tea.txt", owner="alice", tags=["drinks"]).document
    bobs = ingestion.add_file(b"Bob's note about coffee.", "coffee.txt", owner="bob").document
    ingestion.run_until_idle()
    resolver = ScopeResolver(ingestion.db)
    first = resolver.resolve(ALICE)
    assert set(first.allowed_documents or ()) == {mine.id} and first.allowed_chunks == 1
    assert resolver.resolve(ALICE) is first  # nothing changed: the cached scope answers

    with ingestion.db.transaction() as conn:
        assign(conn, bobs.id, "alice")
    assert _visible(resolver) == {mine.id, bobs.id}

    later = ingestion.add_file(b"Alice's second note, about water.", "water.txt", owner="alice").document
    assert _visible(resolver) == {mine.id, bobs.id}  # queued, not yet searchable
    ingestion.run_until_idle()
    assert _visible(resolver) == {mine.id, bobs.id, later.id}
    assert _visible(resolver, tags=["drinks"]) == {mine.id}

    ingestion.delete(bobs.id)
    assert _visible(resolver) == {mine.id, later.id}
    assert _visible(resolver, tags=["drinks"]) == {mine.id}


def test_admin_without_filters_is_unrestricted_and_document_ids_narrow_any_scope(ingestion: Ingestion) -> None:
    doc = ingestion.add_file(b"Some text.", "a.txt", owner="bob").document
    ingestion.run_until_idle()
    resolver = ScopeResolver(ingestion.db)
    admin = resolver.resolve(Principal("root", "admin"))
    assert admin.where is None and admin.allowed_documents is None
    assert _visible(resolver, Principal("root", "admin"), document_ids=[doc.id, "missing"]) == {doc.id}
    assert _visible(resolver, document_ids=[doc.id]) == set()  # not Alice's


def test_chroma_where_and_allowed_documents_are_the_same_rule(ingestion: Ingestion) -> None:
    """Both spellings of a scope (the vector leg's ``where``, the keyword leg's document set)
    select the same documents, for an owner, an assignee, a stranger and an admin, with filters."""
    mine = ingestion.add_file(b"Alice's note about tea.", "tea.txt", owner="alice", tags=["drinks"]).document
    shared = ingestion.add_file(b"Bob's note about coffee.", "coffee.txt", owner="bob", tags=["drinks"]).document
    ingestion.add_file(b"Bob's note about cake.", "cake.txt", owner="bob", collection="food")
    ingestion.run_until_idle()
    with ingestion.db.transaction() as conn:
        assign(conn, shared.id, "alice")
    resolver = ScopeResolver(ingestion.db)
    for principal in (ALICE, Principal("bob"), Principal("carol"), Principal("root", "admin")):
        for filters in ({}, {"tags": ["drinks"]}, {"collection": "food"}, {"document_ids": [mine.id, shared.id]}):
            scope = resolver.resolve(principal, **filters)  # type: ignore[arg-type]
            if scope.where is None:
                assert principal.is_admin and not filters and scope.allowed_documents is None
                continue
            in_chroma = ingestion.vectors.collection.get(where=scope.where, include=["metadatas"])["metadatas"] or []
            assert {m["document_id"] for m in in_chroma} == set(scope.allowed_documents or ()), (principal, filters)
    assert _visible(resolver) == {mine.id, shared.id}
    assert _visible(resolver, Principal("carol")) == set()


def test_a_cached_scope_does_not_outlive_the_next_expiry(ingestion: Ingestion) -> None:
    """Expiry moves no access generation: the cache must notice the clock passing the earliest
    upcoming ``expires_at`` by itself, for users and for an admin's unfiltered scope alike."""
    admin = Principal("root", "admin")
    with ManualClock("2026-06-01T12:00:00Z") as clock:
        lasting = ingestion.add_file(b"Alice's note about tea.", "tea.txt", owner="alice").document
        fleeting = ingestion.add_file(b"Alice's note about cake.", "cake.txt", owner="alice").document
        ingestion.run_until_idle()
        with ingestion.db.transaction() as conn:
            update_document(conn, fleeting.id, expires_at="2026-06-01T12:05:00Z")
        resolver = ScopeResolver(ingestion.db)
        first = resolver.resolve(ALICE)
        assert set(first.allowed_documents or ()) == {lasting.id, fleeting.id}
        assert resolver.resolve(admin).where is None  # nothing expired: an admin is unrestricted
        clock.now = "2026-06-01T12:04:00Z"
        assert resolver.resolve(ALICE) is first  # before the expiry the cached scope still holds

        clock.now = "2026-06-01T12:05:00Z"
        for principal in (ALICE, admin):
            scope = resolver.resolve(principal)
            assert set(scope.allowed_documents or ()) == {lasting.id}, principal
            in_chroma = ingestion.vectors.collection.get(where=scope.where, include=["metadatas"])["metadatas"]
            assert {m["document_id"] for m in in_chroma or []} == {lasting.id}, principal

        clock.now = "2026-06-01T12:04:00Z"  # a clock set back: the scope follows it, not the cache
        assert _visible(resolver) == {lasting.id, fleeting.id}
        clock.now = "2026-06-01T12:05:00Z"
        assert ingestion.sweep_expired() == [fleeting.id]
        assert resolver.resolve(admin).where is None  # swept: nothing left to exclude
        assert _visible(resolver) == {lasting.id}


def test_catalog_only_filters_reach_chroma_as_the_documents_they_allow(ingestion: Ingestion) -> None:
    """Chroma knows nothing of metadata, document types or creation times: under those filters the
    ``where`` names the documents the catalog found, and a changed field is seen at once."""
    boston = ingestion.add_file(b"Boston site notes.", "b.txt", owner="alice").document
    ingestion.add_file(b"Paris site notes.", "p.txt", owner="alice")
    ingestion.run_until_idle()
    describe(ingestion, boston.id, metadata={"site": "Boston"})
    resolver = ScopeResolver(ingestion.db)
    for principal in (ALICE, Principal("root", "admin"), Principal("bob")):
        scope = resolver.resolve(principal, filters=DocumentFilter.build(metadata={"site": "Boston"}))
        assert scope.where is not None and scope.allowed_documents is not None
        if principal.user_id == "bob":  # nothing allowed: the vector leg answers without asking Chroma
            assert scope.allowed_documents == frozenset()
            continue
        in_chroma = ingestion.vectors.collection.get(where=scope.where, include=["metadatas"])["metadatas"] or []
        assert {m["document_id"] for m in in_chroma} == set(scope.allowed_documents) == {boston.id}, principal
    describe(ingestion, boston.id, metadata={"site": "Paris"})
    assert _visible(resolver, filters=DocumentFilter.build(metadata={"site": "Boston"})) == set()

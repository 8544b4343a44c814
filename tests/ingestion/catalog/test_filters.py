"""Document filters (ingestion/catalog/filters.py) read the same on listings and search scopes, on both engines."""

from __future__ import annotations

import pytest

from core.access import Principal
from ingestion.catalog.documents import list_documents, searchable_chunk_counts
from ingestion.catalog.filters import DocumentFilter, InvalidDate, InvalidFilter
from ingestion.service import Ingestion
from tests.support import describe

ALICE = Principal("alice")


def _both(ingestion: Ingestion, *, tags: tuple[str, ...] = (), tags_mode: str = "any", **built: object) -> set[str]:
    """The documents a listing and a search scope find for alice under one filter (they must agree)."""
    filters = DocumentFilter.build(**built)  # type: ignore[arg-type]
    with ingestion.db.read() as conn:
        listed = {d.id for d in list_documents(conn, principal=ALICE, tags=tags, tags_mode=tags_mode,  # type: ignore[arg-type]
                                               filters=filters)[0]}  # fmt: skip
        searched = set(searchable_chunk_counts(conn, ALICE, [], tags=tags, tags_mode=tags_mode, filters=filters))  # type: ignore[arg-type]
    assert listed == searched, built
    return listed


@pytest.mark.both_engines
def test_metadata_type_dates_and_tags_mode_filter_listings_and_scopes_alike(ingestion: Ingestion) -> None:
    add = ingestion.add_file
    boston = add(b"Boston site protocol.", "b.txt", owner="alice", tags=["trial", "fda"]).document.id
    paris = add(b"Paris site protocol.", "p.txt", owner="alice", tags=["trial"]).document.id
    plain = add(b"No metadata at all.", "n.txt", owner="alice").document.id
    bobs = add(b"Bob's Boston notes.", "x.txt", owner="bob").document.id
    ingestion.run_until_idle()
    describe(ingestion, boston, metadata={"site": "Boston", "phase": 3, "blinded": True, "arms": ["a"]},
             document_type="Clinical Trial Protocol", created_at="2026-01-10T08:00:00.000+00:00")  # fmt: skip
    describe(ingestion, paris, metadata={"site": "Paris", "phase": 2.5}, document_type="Statistical Analysis Plan",
             created_at="2026-02-10T08:00:00.000+00:00")  # fmt: skip
    describe(ingestion, bobs, metadata={"site": "Boston"})

    assert _both(ingestion, metadata={"site": "Boston"}) == {boston}  # bob's Boston stays bob's
    assert _both(ingestion, metadata={"site": ["Boston", "Paris"]}) == {boston, paris}  # any of a field's values
    assert _both(ingestion, metadata={"site": "Boston", "phase": 2.5}) == set()  # every field must match
    assert _both(ingestion, metadata={"site": "Paris", "phase": "2.5"}) == {paris}  # text form: 2.5 is "2.5"
    assert _both(ingestion, metadata={"phase": 3, "blinded": True}) == {boston}
    assert _both(ingestion, metadata={"blinded": "true"}) == {boston}
    assert _both(ingestion, metadata={"arms": "a"}) == set()  # lists are kept, not filterable
    assert _both(ingestion, document_type="Clinical Trial Protocol") == {boston}
    assert _both(ingestion, created_after="2026-02-01") == {paris, plain}  # plain was created today
    assert _both(ingestion, created_after="2026-01-10T08:00:00Z", created_before="2026-02-10T09:00:00+01:00") == {
        boston
    }
    assert _both(ingestion, tags=("trial", "fda"), tags_mode="all") == {boston}
    assert _both(ingestion, tags=("trial", "fda"), tags_mode="any") == {boston, paris}
    assert _both(ingestion, tags=("trial",), metadata={"site": "Paris"}) == {paris}

    describe(ingestion, paris, metadata={})  # rewriting metadata drops the old fields' rows
    assert _both(ingestion, metadata={"site": "Paris"}) == set()


@pytest.mark.both_engines
def test_listings_sort_by_creation_or_filename_in_either_direction(ingestion: Ingestion) -> None:
    names = ["b.txt", "a.txt", "C.txt", "_z.txt"]
    ids = [ingestion.add_file(f"Text {n}.".encode(), n, owner="alice").document.id for n in names]
    for i, document_id in enumerate(ids):
        describe(ingestion, document_id, created_at=f"2026-03-0{i + 1}T00:00:00.000+00:00")
    with ingestion.db.read() as conn:

        def order(sort: str) -> list[str]:
            return [d.filename for d in list_documents(conn, principal=ALICE, sort=sort)[0]]  # type: ignore[arg-type]

        assert order("created_at") == names
        assert order("-created_at") == names[::-1]
        assert order("filename") == ["C.txt", "_z.txt", "a.txt", "b.txt"]  # by code point on both engines
        assert order("-filename") == ["b.txt", "a.txt", "_z.txt", "C.txt"]
        page, total = list_documents(conn, principal=ALICE, sort="-created_at", limit=2, offset=2)
        assert [d.filename for d in page] == ["a.txt", "b.txt"] and total == 4


def test_bad_filters_are_refused_with_their_own_codes() -> None:
    for bad in ({"": "x"}, {"site": {"nested": 1}}, {"site": None}, {"site": []}, {f"f{i}": 1 for i in range(21)}):
        with pytest.raises(InvalidFilter):
            DocumentFilter.build(metadata=bad)
    for after, before in (("yesterday", None), (None, "2026-13-01"), ("2026-02-01T25:00", None)):
        with pytest.raises(InvalidDate) as raised:
            DocumentFilter.build(created_after=after, created_before=before)
        assert raised.value.code == "INVALID_DATE" and raised.value.status == 400
    assert not DocumentFilter.build(metadata={}, document_type="")
    edges = DocumentFilter.build(created_after="0001-01-01t00:00:00+01:00", created_before="9999-12-31T23:59:59-23:59")
    assert (edges.created_after, edges.created_before) == (
        "0001-01-01T00:00:00.000+00:00",
        "9999-12-31T23:59:59.999+00:00",
    )  # RFC 3339's lower case is fine; offsets past the calendar's ends clamp to them
    built = DocumentFilter.build(metadata={"b": [2, "2"], "a": True}, created_after="2026-01-01")
    assert (
        built.metadata == (("a", ("true",)), ("b", ("2",))) and built.created_after == "2026-01-01T00:00:00.000+00:00"
    )
    assert hash(built) == hash(DocumentFilter.build(metadata={"a": True, "b": ["2"]}, created_after="2026-01-01"))


@pytest.mark.both_engines
def test_long_metadata_values_are_kept_but_not_indexed_and_nul_filters_are_refused(ingestion: Ingestion) -> None:
    """PostgreSQL refuses a btree row over ~2.7 kB: a long value (incompressible, multi-byte) is kept in the
    document, never in the filter index; a NUL in a filter is a 400 there, not a 500."""
    import random

    rng = random.Random(7)
    long_value = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(1_500))  # ~4.5 kB of UTF-8
    doc = ingestion.add_file(b"Long metadata.", "l.txt", owner="alice", metadata={"notes": long_value, "site": "Lyon"})
    ingestion.run_until_idle()
    assert ingestion.get(doc.document.id).metadata["notes"] == long_value
    assert _both(ingestion, metadata={"site": "Lyon"}) == {doc.document.id}
    for bad in ({"metadata": {"site": "Ly\x00on"}}, {"metadata": {"si\x00te": "Lyon"}}, {"document_type": "a\x00b"}):
        with pytest.raises(InvalidFilter):
            DocumentFilter.build(**bad)  # type: ignore[arg-type]

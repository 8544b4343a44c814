from collections import Counter

import pytest

from core.db import Database
from ingestion.catalog import keyword as catalog
from ingestion.keyword import CatalogKeywordIndex, SqlKeywordWriter, default_analyzer

pytestmark = pytest.mark.both_engines


def _database(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def test_terms_are_stored_as_compact_json_and_read_back() -> None:
    tf = Counter({"espresso": 2, "machin": 1})
    assert catalog.encode_terms(tf) == '{"espresso":2,"machin":1}'
    assert catalog.decode_terms(catalog.encode_terms(tf)) == dict(tf)


def test_writer_rows_and_change_log(database_url: str) -> None:
    db = _database(database_url)
    writer = SqlKeywordWriter()
    with db.transaction() as conn:
        writer.replace_document(conn, "d1", [("d1:j:0", "Espresso machines"), ("d1:j:1", "Limescale and water")])
        writer.replace_document(conn, "d2", [("d2:j:0", "Hard water")])
    with db.read() as conn:
        assert catalog.latest_change(conn) == 2
        assert set(catalog.changed_documents(conn, 0, 2)) == {"d1", "d2"}
        assert catalog.changed_documents(conn, 1, 2) == ["d2"]
        rows = list(catalog.document_terms(conn, "d1"))
        assert rows == [
            ("d1:j:0", dict(default_analyzer().term_frequencies("Espresso machines"))),
            ("d1:j:1", dict(default_analyzer().term_frequencies("Limescale and water"))),
        ]
        assert [(c, d) for c, d, _ in catalog.all_terms(conn)] == [("d1:j:0", "d1"), ("d1:j:1", "d1"), ("d2:j:0", "d2")]
    with db.transaction() as conn:
        writer.delete_document(conn, "d1")
    with db.read() as conn:
        assert catalog.latest_change(conn) == 3
        assert list(catalog.document_terms(conn, "d1")) == []
        assert catalog.changed_documents(conn, 2, 3) == ["d1"]
    db.dispose()


def test_the_reader_follows_the_writer_through_the_catalog(database_url: str) -> None:
    db = _database(database_url)
    writer = SqlKeywordWriter()
    index = CatalogKeywordIndex(db)
    assert index.search("water", k=5).hits == []
    with db.transaction() as conn:
        writer.replace_document(conn, "d1", [("d1:j:0", "Limescale builds up with hard water")])
        writer.replace_document(conn, "d2", [("d2:j:0", "The espresso machine heats water")])
    assert {h.document_id for h in index.search("water", k=5).hits} == {"d1", "d2"}
    with db.transaction() as conn:
        writer.replace_document(conn, "d1", [("d1:k:0", "Grinders and burrs")])
        writer.delete_document(conn, "d2")
    assert index.search("water", k=5).hits == []
    assert [h.chunk_id for h in index.search("grinders", k=5).hits] == ["d1:k:0"]
    assert len(index) == 1
    db.dispose()

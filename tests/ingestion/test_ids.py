import pytest

from ingestion.ids import chunk_id, document_of, tag_key
from ingestion.service import Ingestion


def test_chunk_ids_keep_the_stored_format() -> None:
    """Existing catalogs, Chroma collections and postings hold ids in exactly this form."""
    assert chunk_id("3f2a9c", "0123456789abcdef-job", 7) == "3f2a9c:0123456789ab:7"
    assert tag_key("manual") == "tag:manual"


@pytest.mark.parametrize("document_id", ["3f2a9c", "doc0000042", "a-b_c.d"])
@pytest.mark.parametrize("index", [0, 1, 12345])
def test_document_of_inverts_chunk_id(document_id: str, index: int) -> None:
    assert document_of(chunk_id(document_id, "9d1e6b0c44aa77ff", index)) == document_id


def test_what_ingestion_stores_speaks_these_formats(ingestion: Ingestion) -> None:
    added = ingestion.add_file(
        b"Descaling removes limescale from the boiler.", "care.txt", owner="u1", tags=["manual", "Team A"]
    )
    ingestion.run_until_idle()
    chunks = ingestion.chunks(added.document.id)
    assert chunks
    stored = ingestion.vectors.collection.get(where={"document_id": added.document.id}, include=["metadatas"])
    assert sorted(stored["ids"]) == sorted(c.id for c in chunks)
    assert {document_of(i) for i in stored["ids"]} == {added.document.id}
    for meta in stored["metadatas"]:
        assert meta[tag_key("manual")] is True and meta[tag_key("Team A")] is True
        assert not any(key.startswith("tag:") and key not in {tag_key("manual"), tag_key("Team A")} for key in meta)

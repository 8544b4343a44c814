import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.errors import FileTooLarge, InvalidJsonl, InvalidRequest, UnsupportedMediaType
from core.settings import Settings
from ingestion.service import Ingestion
from tests.support import VECTOR_BACKENDS, make_settings

DEMO = Path(__file__).parents[2] / "api" / "demo" / "docs"

on_both_vector_stores = pytest.mark.parametrize("vector_backend", VECTOR_BACKENDS)
"""The tests that write and delete vectors run on embedded Chroma and on a Chroma server."""


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return backend_settings


def _keyword_rows(ingestion: Ingestion, document_id: str) -> int:
    with ingestion.db.read() as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM keyword_terms WHERE document_id = :d"), {"d": document_id}
            ).scalar_one()
        )


@on_both_vector_stores
def test_a_pdf_becomes_chunks_in_chroma_with_metadata(ingestion: Ingestion) -> None:
    added = ingestion.add_file(
        DEMO / "aurora-x2-quick-start.pdf", "quick.pdf", owner="u1", tags=["manual", "demo"], reference="ax2"
    )
    assert added.document.status == "pending" and not added.deduplicated
    ingestion.run_until_idle()
    doc = ingestion.get(added.document.id)
    assert doc.status == "completed" and doc.page_count == 2 and doc.chunk_count
    chunks = ingestion.chunks(doc.id)
    assert len(chunks) == doc.chunk_count
    stored = ingestion.vectors.collection.get(ids=[c.id for c in chunks], include=["metadatas"])
    assert len(stored["ids"]) == len(chunks)
    meta = stored["metadatas"][0]
    assert meta["document_id"] == doc.id and meta["owner"] == "u1" and meta["collection"] == "default"
    assert meta["tag:manual"] is True and meta["reference"] == "ax2" and meta["page"] in (1, 2)
    assert _keyword_rows(ingestion, doc.id) == len(chunks)
    assert {p.number for p in ingestion.pages(doc.id)} == {1, 2}


@pytest.mark.both_engines  # the catalog's upserts, jobs and deletes on PostgreSQL too
def test_duplicates_are_detected_by_sha256(ingestion: Ingestion) -> None:
    first = ingestion.add_file(b"same bytes in two uploads", "a.txt", owner="u1")
    again = ingestion.add_file(b"same bytes in two uploads", "b.txt", owner="u1", skip_duplicates=True)
    assert again.deduplicated and again.document.id == first.document.id
    separate = ingestion.add_file(b"same bytes in two uploads", "c.txt", owner="u1")
    assert not separate.deduplicated and separate.document.id != first.document.id


@on_both_vector_stores
@pytest.mark.both_engines  # the catalog's upserts, jobs and deletes on PostgreSQL too
def test_upsert_by_key_replaces_chunks_in_place(ingestion: Ingestion) -> None:
    one = ingestion.add_file(b"The first version mentions bananas.", "notes.txt", owner="u1", key="notes")
    ingestion.run_until_idle()
    old_chunks = [c.id for c in ingestion.chunks(one.document.id)]
    two = ingestion.add_file(b"The second version mentions cherries instead.", "notes.txt", owner="u1", key="notes")
    ingestion.run_until_idle()
    assert two.document.id == one.document.id
    new_chunks = ingestion.chunks(one.document.id)
    assert "cherries" in new_chunks[0].text
    assert not ingestion.vectors.collection.get(ids=old_chunks)["ids"]
    assert sorted(ingestion.vectors.ids_for_document(one.document.id)) == sorted(c.id for c in new_chunks)


@on_both_vector_stores
@pytest.mark.both_engines  # the catalog's upserts, jobs and deletes on PostgreSQL too
def test_collection_jsonl_create_then_modify_never_duplicates(ingestion: Ingestion) -> None:
    lines = [
        json.dumps({"docid": "a", "text": "Alpha text about boilers.", "__ref": "r1", "__tags": ["x"]}),
        json.dumps({"docid": "b", "text": "Beta text about pumps.", "__ref": "r1"}),
    ]
    created = ingestion.add_collection_jsonl(lines, collection="kb", owner="u1")
    assert [r.status for r in created] == ["Created", "Created"]
    ingestion.run_until_idle()
    assert ingestion.get(created[0].document_id).collection_status == "Indexed"
    modified = ingestion.add_collection_jsonl(
        [json.dumps({"docid": "a", "text": "Alpha rewritten about gaskets."})], collection="kb", owner="u1"
    )
    assert modified[0].status == "Modified" and modified[0].document_id == created[0].document_id
    assert ingestion.get(created[0].document_id).collection_status == "Queued"
    ingestion.run_until_idle()
    chunks = ingestion.chunks(created[0].document_id)
    assert len(chunks) == 1 and "gaskets" in chunks[0].text
    assert len(ingestion.vectors.ids_for_document(created[0].document_id)) == 1
    assert ingestion.vectors.count() == 2


def test_long_collection_texts_are_chunked_and_say_so(ingestion: Ingestion) -> None:
    body = " ".join(f"Sentence {i} talks about descaling the boiler." for i in range(200))
    result = ingestion.add_collection_jsonl([json.dumps({"docid": "long", "text": body})], collection="kb", owner="u1")
    assert result[0].chunked and result[0].tokens > 300
    ingestion.run_until_idle()
    doc = ingestion.get(result[0].document_id)
    assert doc.chunk_count and doc.chunk_count > 1
    assert all(c.token_count <= 300 for c in ingestion.chunks(doc.id))


def test_bad_jsonl_names_the_line_and_applies_nothing(ingestion: Ingestion) -> None:
    lines = [json.dumps({"docid": "ok", "text": "fine"}), "{not json", json.dumps({"docid": "later", "text": "x"})]
    with pytest.raises(InvalidJsonl, match="line 2"):
        ingestion.add_collection_jsonl(lines, collection="kb", owner="u1")
    assert ingestion.list_documents()[1] == 0
    with pytest.raises(InvalidJsonl, match="'text'"):
        ingestion.add_collection_jsonl([json.dumps({"docid": "x"})], collection="kb", owner="u1")


def test_jsonl_line_limit_is_enforced_and_named(tmp_path: Path) -> None:
    service = Ingestion(make_settings(tmp_path / "h", max_jsonl_lines=3))
    try:
        lines = [json.dumps({"docid": str(i), "text": "t"}) for i in range(4)]
        with pytest.raises(InvalidJsonl, match="at most 3 lines"):
            service.add_collection_jsonl(lines, collection="kb", owner="u1")
        assert service.list_documents()[1] == 0
    finally:
        service.close()


@on_both_vector_stores
@pytest.mark.both_engines  # the catalog's upserts, jobs and deletes on PostgreSQL too
def test_delete_removes_blob_rows_vectors_and_postings(ingestion: Ingestion) -> None:
    shared = b"Shared bytes about the warranty period of two years."
    keep = ingestion.add_file(shared, "keep.txt", owner="u1")
    gone = ingestion.add_file(shared, "gone.txt", owner="u2")
    unique = ingestion.add_file(b"Unique bytes about steam wands.", "unique.txt", owner="u1")
    ingestion.run_until_idle()
    ingestion.delete(unique.document.id)
    assert not ingestion.blobs.exists(unique.document.sha256)
    assert ingestion.vectors.ids_for_document(unique.document.id) == []
    assert _keyword_rows(ingestion, unique.document.id) == 0
    assert ingestion.list_documents()[1] == 2
    ingestion.delete(gone.document.id)
    assert ingestion.blobs.exists(keep.document.sha256)  # still used by `keep`
    assert ingestion.get(keep.document.id).status == "completed"


@pytest.mark.both_engines  # the catalog's upserts, jobs and deletes on PostgreSQL too
def test_failed_and_pending_documents_can_be_deleted(ingestion: Ingestion) -> None:
    pending = ingestion.add_file(b"never processed", "p.txt", owner="u1")
    ingestion.delete(pending.document.id)
    failed = ingestion.add_file(b"%PDF-1.4\nbroken", "f.pdf", owner="u1")
    ingestion.run_until_idle()
    assert ingestion.get(failed.document.id).failure_reason == "malformed_pdf"
    ingestion.delete(failed.document.id)
    assert ingestion.list_documents()[1] == 0
    assert ingestion.run_until_idle().documents == 0


def test_bad_inputs_get_specific_outcomes(ingestion: Ingestion) -> None:
    empty = ingestion.add_file(b"", "empty.txt", owner="u1")
    zero_pdf = ingestion.add_file(b"", "zero.pdf", owner="u1")
    truncated = ingestion.add_file((DEMO / "aurora-x2-quick-start.pdf").read_bytes()[:400], "cut.pdf", owner="u1")
    latin1 = ingestion.add_file("Café crème is served hot.".encode("latin-1"), "menu.txt", owner="u1")
    ingestion.run_until_idle()
    assert ingestion.get(empty.document.id).failure_reason == "empty_file"
    assert ingestion.get(zero_pdf.document.id).failure_reason == "empty_file"
    assert ingestion.get(truncated.document.id).failure_reason in {"malformed_pdf", "no_extractable_text"}
    assert ingestion.get(latin1.document.id).status == "completed"
    with pytest.raises(UnsupportedMediaType):  # indexing asked for explicitly: refused, nothing kept
        ingestion.add_file(bytes(range(256)) * 10, "blob.pdf", owner="u1", index=True)
    assert ingestion.list_documents()[1] == 4
    kept = ingestion.add_file(bytes(range(256)) * 10, "blob.pdf", owner="u1").document  # not asked: stored
    assert (kept.status, kept.failure_reason) == ("stored", "unsupported_media_type")
    assert kept.media_type == "application/octet-stream", "never the .pdf its name claims"


def test_filenames_are_labels_never_paths(ingestion: Ingestion) -> None:
    """The relative path is kept as the display name (issue 15: lookup by name), never climbing
    out ('..' dropped) and never used as a location: the original is stored by hash."""
    added = ingestion.add_file(b"harmless", "../../etc/passwd", owner="u1")
    assert added.document.filename == "etc/passwd"
    assert ingestion.add_file(b"x", "..", owner="u1").document.filename == "upload"
    assert ingestion.add_file(b"y", "C:\\Users\\me\\evil.txt", owner="u1").document.filename == "C:/Users/me/evil.txt"
    assert not (ingestion.settings.home.parent / "etc").exists()
    with pytest.raises(InvalidRequest):
        ingestion.add_file(b"z", "z.txt", owner="u1", collection="../escape")


def test_size_cap_is_enforced_while_streaming(tmp_path: Path) -> None:
    service = Ingestion(make_settings(tmp_path / "h", max_upload_bytes=1024))
    try:

        class Endless(io.RawIOBase):
            served = 0

            def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
                n = len(buffer)
                buffer[:n] = b"a" * n
                self.served += n
                return n

        stream = Endless()
        with pytest.raises(FileTooLarge):
            service.add_file(stream, "big.txt", owner="u1")  # type: ignore[arg-type]
        assert stream.served <= 2 * 1024 * 1024  # stopped after one read past the cap, never read to the end
        assert service.list_documents()[1] == 0
        assert not any((service.settings.blob_dir / "tmp").iterdir())
    finally:
        service.close()


def test_documents_over_the_extraction_cap_are_kept_but_failed(tmp_path: Path) -> None:
    service = Ingestion(make_settings(tmp_path / "h", max_extract_bytes=100))
    try:
        added = service.add_file(b"word " * 100, "big.txt", owner="u1")
        service.run_until_idle()
        doc = service.get(added.document.id)
        assert doc.status == "failed" and doc.failure_reason == "too_large_for_extraction"
        assert service.content(doc.id) == b"word " * 100
    finally:
        service.close()


def test_every_shared_document_ends_completed_or_failed_with_a_reason(shared_data: Path, ingestion: Ingestion) -> None:
    files = sorted(p for p in (shared_data / "docs").rglob("*") if p.suffix in {".pdf", ".docx"})
    assert len(files) >= 70
    for path in files:
        ingestion.add_file(path, path.name, owner="u1")
    ingestion.run_until_idle()
    docs, total = ingestion.list_documents()
    assert total == len(files)
    reasons = {"encrypted", "malformed_pdf", "no_extractable_text", "malformed_docx", "too_large"}
    by_name = {d.filename: d for d in docs}
    for doc in docs:
        assert doc.status in {"completed", "failed"}, doc
        if doc.status == "failed":
            assert doc.failure_reason in reasons, doc
    assert by_name["libreoffice-writer-password.pdf"].failure_reason == "encrypted"
    assert by_name["grayscale-image.pdf"].failure_reason == "no_extractable_text"
    assert by_name["having-images.docx"].failure_reason == "no_extractable_text"
    assert by_name["GeoTopo-komprimiert.pdf"].page_count == 117


def test_settings_read_lectern_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LECTERN_HOME", str(tmp_path / "envhome"))
    monkeypatch.setenv("LECTERN_MAX_CHUNK_TOKENS", "123")
    settings = Settings()
    assert settings.home == tmp_path / "envhome" and settings.chunking.max_chunk_tokens == 123
    assert settings.resolved_database_url.endswith("envhome/lectern.db")


def test_a_blob_deleted_by_another_process_before_the_record_is_stored_again(
    ingestion: Ingestion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Process A found the bytes unused and deleted them just after this upload stored them (the
    store skips bytes already present): the record's transaction puts them back, under the lock."""
    body = b"# Pumps\n\nThe pump is primed before the valve opens.\n"
    store, calls = ingestion._store, []

    def _store_then_lose(source: object, limit: int) -> object:
        blob = store(source, limit)  # type: ignore[arg-type]
        calls.append(blob.sha256)
        if len(calls) == 1:
            ingestion.blobs.delete(blob.sha256)  # what the other process's cleanup did meanwhile
        return blob

    monkeypatch.setattr(ingestion, "_store", _store_then_lose)
    added = ingestion.add_file(io.BytesIO(body), "pumps.md", owner="admin")
    assert ingestion.blobs.exists(added.document.sha256) and len(calls) == 2  # stored, lost, stored again
    ingestion.run_until_idle()
    assert ingestion.get(added.document.id).status == "completed"


def test_a_modified_collection_document_leaves_no_orphan_blob(ingestion: Ingestion) -> None:
    ingestion.add_collection_jsonl([json.dumps({"docid": "faq-1", "text": "Version one of the answer."})],
                                   collection="faq", owner="admin")  # fmt: skip
    first = ingestion.list_documents(collection="faq")[0][0].sha256
    ingestion.add_collection_jsonl([json.dumps({"docid": "faq-1", "text": "Version two of the answer."})],
                                   collection="faq", owner="admin")  # fmt: skip
    second = ingestion.list_documents(collection="faq")[0][0].sha256
    assert first != second and ingestion.blobs.exists(second) and not ingestion.blobs.exists(first)


@pytest.mark.both_engines  # the job queue's cancel and the worker's holder check on PostgreSQL too
def test_stopping_indexing_keeps_the_original_and_drops_a_claimed_jobs_results(ingestion: Ingestion) -> None:
    """A worker that claimed the job before the stop writes nothing after it: no chunks, postings
    or vectors, and the document stays ``stored``; starting again indexes it, stopping again
    removes it all, and the original never moves."""
    from ingestion import jobs
    from ingestion.pipeline import process_batch

    body = b"Stored notes about the quarterly descaling of espresso machines."
    added = ingestion.add_file(body, "notes.txt", owner="u1").document
    claimed = jobs.claim(ingestion.db, "w-stale", 60.0)
    assert [job.document_id for job in claimed] == [added.id]
    assert ingestion.stop_indexing(added.id).status == "stored"
    process_batch(ingestion._pipeline_parts(), "w-stale", claimed)
    assert ingestion.get(added.id).status == "stored" and ingestion.chunks(added.id) == []
    assert ingestion.vectors.ids_for_document(added.id) == [] and _keyword_rows(ingestion, added.id) == 0

    assert ingestion.start_indexing(added.id).status == "pending"
    ingestion.run_until_idle()
    indexed = ingestion.get(added.id)
    assert indexed.status == "completed" and indexed.chunk_count and _keyword_rows(ingestion, added.id)
    assert ingestion.start_indexing(added.id).status == "completed", "already indexed: unchanged"

    stopped = ingestion.stop_indexing(added.id)
    assert (stopped.status, stopped.chunk_count, stopped.page_count) == ("stored", None, None)
    assert ingestion.chunks(added.id) == [] and ingestion.pages(added.id) == []
    assert ingestion.vectors.ids_for_document(added.id) == [] and _keyword_rows(ingestion, added.id) == 0
    assert ingestion.content(added.id) == body
    assert ingestion.stop_indexing(added.id).status == "stored", "idempotent"
    assert ingestion.run_until_idle().documents == 0


def test_a_stored_file_lectern_cannot_read_stays_stored_when_indexing_is_asked(ingestion: Ingestion) -> None:
    archive = ingestion.add_file(b"PK\x03\x04" + bytes(range(256)) * 4, "logs.zip", owner="u1", index=False).document
    assert (archive.status, archive.failure_reason, archive.media_type) == ("stored", None, "application/zip")
    with pytest.raises(UnsupportedMediaType):
        ingestion.start_indexing(archive.id)
    assert ingestion.get(archive.id).status == "stored"
    assert ingestion.run_until_idle().documents == 0


def test_replacing_by_key_without_indexing_drops_the_old_versions_index(ingestion: Ingestion) -> None:
    one = ingestion.add_file(b"The first version mentions bananas.", "notes.txt", owner="u1", key="notes")
    ingestion.run_until_idle()
    assert ingestion.chunks(one.document.id)
    two = ingestion.add_file(b"The second version is only kept.", "notes.txt", owner="u1", key="notes", index=False)
    assert two.document.id == one.document.id and two.document.status == "stored"
    assert ingestion.chunks(one.document.id) == [] and _keyword_rows(ingestion, one.document.id) == 0
    assert ingestion.vectors.ids_for_document(one.document.id) == []
    assert ingestion.content(one.document.id) == b"The second version is only kept."
def _wordy_docx(path: Path, paragraphs: int) -> Path:
    """A small file (deflated XML) that takes lxml hundreds of MB to parse."""
    import random
    import zipfile

    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    relationships = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{relationships[:-30]}package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
            f'ContentType="{main}"/></Types>'
        ))  # fmt: skip
        zf.writestr("_rels/.rels", (
            f'<?xml version="1.0"?><Relationships xmlns="{relationships}"><Relationship Id="rId1" Type='
            '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>'
        ))  # fmt: skip
        with zf.open("word/document.xml", "w") as body:
            body.write(
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            )
            for _ in range(paragraphs):
                body.write(
                    f"<w:p><w:r><w:t>{' '.join(rng.choice(words) for _ in range(12))}</w:t></w:r></w:p>".encode()
                )
            body.write(b"</w:body></w:document>")
    return path


def test_a_file_that_needs_more_memory_than_the_sandbox_allows_fails_as_too_large_and_stays_downloadable(
    tmp_path: Path,
) -> None:
    """``LECTERN_EXTRACTION_MEMORY_BYTES`` at 96 MiB: a small DOCX is extracted under it; a 1 MB one whose
    XML takes lxml ~200 MB is stopped and fails with the specific reason, its original kept."""
    service = Ingestion(make_settings(tmp_path / "h", extraction_memory_bytes=96 * 1024 * 1024))
    try:
        small = service.add_file(_wordy_docx(tmp_path / "small.docx", 20), "small.docx", owner="u1").document
        big_path = _wordy_docx(tmp_path / "big.docx", 100_000)
        big = service.add_file(big_path, "big.docx", owner="u1").document
        service.run_until_idle()
        assert service.get(small.id).status == "completed"
        failed = service.get(big.id)
        assert (failed.status, failed.failure_reason) == ("failed", "too_large_for_extraction")
        assert "memory limit" in (failed.failure_detail or "")
        assert service.content(big.id) == big_path.read_bytes()
    finally:
        service.close()


def test_an_assembled_upload_is_added_as_the_blob_it_became(ingestion: Ingestion) -> None:
    """A completed resumable upload hands over its blob (no second copy); when another process removed
    it meanwhile, the add is refused with a reason (its parts are still there to complete again)."""
    import asyncio
    import hashlib

    async def one(data: bytes) -> AsyncIterator[bytes]:
        yield data

    body = b"# Valves\n\nThe valve opens after the pump is primed.\n"
    upload_id = ingestion.uploads.start("u1", {"filename": "valves.md"})
    asyncio.run(ingestion.uploads.put_part(upload_id, "u1", 1, one(body)))
    with ingestion.uploads.assembled(upload_id, "u1", hashlib.sha256(body).hexdigest()) as (blob, _):
        pass
    added = ingestion.add_file(
        blob, "valves.md", owner="u1", max_bytes=ingestion.settings.ingestion.max_resumable_bytes
    )
    assert ingestion.content(added.document.id) == body and added.document.size_bytes == len(body)
    ingestion.delete(added.document.id)  # the blob goes with its only document
    with pytest.raises(InvalidRequest):
        ingestion.add_file(blob, "valves.md", owner="u1")
    assert ingestion.list_documents()[1] == 0

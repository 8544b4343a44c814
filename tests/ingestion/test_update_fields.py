"""``Ingestion.update_fields`` (ingestion/service.py): the owner's fields changed in one transaction,
without re-indexing, with tags following into Chroma, also while a batch is indexing the document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from core.access import access_generation
from core.errors import DocumentNotFound
from core.settings import Settings
from ingestion import jobs, pipeline
from ingestion.document_fields import InvalidMetadata, UnknownPolicy
from ingestion.ids import tag_key
from ingestion.service import Ingestion
from tests.support import VECTOR_BACKENDS, ManualClock

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_clock() -> Iterator[None]:
    with ManualClock(NOW.strftime("%Y-%m-%dT%H:%M:00Z")):
        yield


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return backend_settings


def _tagged(ingestion: Ingestion, tag: str) -> set[str]:
    return set(ingestion.vectors.collection.get(where={tag_key(tag): True})["ids"])


@pytest.mark.parametrize("vector_backend", VECTOR_BACKENDS)
@pytest.mark.both_engines  # one write transaction on PostgreSQL too
def test_update_fields_changes_the_catalog_and_the_chunks_tags(ingestion: Ingestion) -> None:
    doc = ingestion.add_file(b"The pump manual covers impellers.", "pump.txt", owner="u1", tags=["old", "kept"],
                             metadata={"site": "Basel"}, description="first")  # fmt: skip
    ingestion.run_until_idle()
    chunks = set(ingestion.vectors.ids_for_document(doc.document.id))
    with ingestion.db.read() as conn:
        generation = access_generation(conn)
    updated = ingestion.update_fields(doc.document.id, tags=["kept", "new"], metadata={"site": "Lyon", "n": 2},
                                      expires_at="2026-06-02T08:00+02:00", description=None)  # fmt: skip
    assert updated.tags == ["kept", "new"] and updated.metadata == {"site": "Lyon", "n": 2}
    assert updated.expires_at == "2026-06-02T06:00:00Z" and updated.description is None
    assert updated.status == "completed" and jobs.pending_count(ingestion.db) == 0
    assert updated == ingestion.get(doc.document.id)
    with ingestion.db.read() as conn:
        assert access_generation(conn) > generation
    assert _tagged(ingestion, "new") == chunks == _tagged(ingestion, "kept") and not _tagged(ingestion, "old")
    meta = ingestion.vectors.collection.get(ids=sorted(chunks)[:1], include=["metadatas"])["metadatas"][0]
    assert meta["owner"] == "u1" and meta["document_id"] == doc.document.id  # only the tag keys changed
    # Refused changes leave everything as it was, the fields that were fine included.
    for bad, error in (
        ({"metadata": "[1]"}, InvalidMetadata),
        ({"description": "x", "policies": ["y"]}, UnknownPolicy),
    ):
        with pytest.raises(error):
            ingestion.update_fields(doc.document.id, **bad)
    assert ingestion.get(doc.document.id) == updated
    with pytest.raises(DocumentNotFound):
        ingestion.update_fields("missing", description="x")


def test_tags_changed_while_a_batch_indexes_reach_its_vectors(ingestion: Ingestion, monkeypatch: Any) -> None:
    """The batch read the document (and its tags) before the change and writes vectors with them;
    its commit sees the new tags and retags the chunks it just wrote."""
    doc = ingestion.add_file(b"Boilers need a yearly service.", "boiler.txt", owner="u1", tags=["old"])
    embed = pipeline._embed

    def embed_then_patch(*args: Any) -> np.ndarray:
        ingestion.update_fields(doc.document.id, tags=["late"])
        return embed(*args)

    monkeypatch.setattr(pipeline, "_embed", embed_then_patch)
    ingestion.run_until_idle()
    chunks = set(ingestion.vectors.ids_for_document(doc.document.id))
    assert chunks and _tagged(ingestion, "late") == chunks and not _tagged(ingestion, "old")
    assert ingestion.get(doc.document.id).processed_at is not None

"""The wire models (api/schemas): one set, the JSON the routes always sent, twins that cannot drift."""

from __future__ import annotations

import typing

from api.schemas import (
    BatchItem,
    BatchResult,
    CollectionDocuments,
    FileList,
    SessionRecord,
    StoredMessage,
    UploadResult,
)
from api.schemas.retrieve import SearchType


def _batch() -> BatchResult:
    ok = UploadResult(file_id="doc_1", filename="a.md", status="queued", deduplicated=False)
    return BatchResult(results=[
        BatchItem(filename="a.md", ok=True, result=ok),
        BatchItem(filename="b.bin", ok=False, error_code="UNSUPPORTED_MEDIA_TYPE", message="no"),
    ])  # fmt: skip


def test_a_batch_result_is_a_list_of_its_items() -> None:
    batch = _batch()
    assert len(batch) == 2 and [item.filename for item in batch] == ["a.md", "b.bin"]
    assert batch[1].error_code == "UNSUPPORTED_MEDIA_TYPE" and [i.filename for i in batch[:1]] == ["a.md"]
    assert batch.has_failures and [i.filename for i in batch.failed()] == ["b.bin"]
    assert batch.summary() == {"total": 2, "succeeded": 1, "failed": 1}
    assert not BatchResult(results=batch.results[:1]).has_failures


def test_a_batch_result_keeps_its_wire_json_and_reads_it_back() -> None:
    batch = _batch()
    wire = batch.model_dump(mode="json")
    assert list(wire) == ["results", "summary"] and wire["summary"] == {"total": 2, "succeeded": 1, "failed": 1}
    assert wire["results"][0]["result"]["file_id"] == "doc_1" and wire["results"][1]["result"] is None
    again = BatchResult.model_validate_json(batch.model_dump_json())
    assert again == batch and again.summary() == batch.summary()
    schema = BatchResult.model_json_schema(mode="serialization")
    assert set(schema["required"]) == {"results", "summary"}


def test_paged_listings_share_items() -> None:
    files = FileList(files=[], page=1, limit=20, total_count=0)
    documents = CollectionDocuments(documents=[], page=2, limit=5, total_count=7)
    assert files.items is files.files and documents.items is documents.documents
    assert "items" not in files.model_dump() and documents.model_dump()["total_count"] == 7


def test_the_wire_session_models_are_the_agents_records() -> None:
    from agent import records

    assert SessionRecord is records.SessionRecord and StoredMessage is records.StoredMessage


def test_search_types_match_retrieval() -> None:
    from api.schemas.retrieve import MAX_QUERY_CHARS, TagsMode
    from ingestion.catalog.documents import TagsMode as CatalogTagsMode
    from tools.search import MAX_QUERY_CHARS as ENFORCED
    from tools.search import SearchType as RetrievalSearchType

    assert typing.get_args(SearchType) == typing.get_args(RetrievalSearchType)
    assert typing.get_args(TagsMode) == typing.get_args(CatalogTagsMode) and MAX_QUERY_CHARS == ENFORCED


def test_the_docid_limit_in_the_schema_is_the_one_ingestion_enforces() -> None:
    from api.schemas.patterns import MAX_DOCID_CHARS
    from ingestion.collection_docs import MAX_DOCID_CHARS as ENFORCED

    assert MAX_DOCID_CHARS == ENFORCED


def test_the_wire_schema_states_the_limits_the_fields_keep() -> None:
    from api.schemas.files import MAX_CHARS
    from ingestion.document_fields import MAX_TEXT_CHARS

    assert MAX_CHARS == MAX_TEXT_CHARS


def test_the_metadata_filter_bounds_in_the_schema_are_the_ones_the_catalog_enforces() -> None:
    from api.schemas.retrieve import RetrieveRequest
    from ingestion.catalog import filters

    schema = RetrieveRequest.model_json_schema()["properties"]["metadata"]["anyOf"][0]
    values = schema["additionalProperties"]["anyOf"]
    assert (schema["maxProperties"], schema["propertyNames"]["maxLength"]) == (
        filters.MAX_METADATA_FIELDS,
        filters.MAX_FIELD_CHARS,
    )
    assert (values[0]["maxLength"], values[-1]["maxItems"]) == (filters.MAX_VALUE_CHARS, filters.MAX_VALUES_PER_FIELD)

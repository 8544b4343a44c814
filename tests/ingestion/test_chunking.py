from core.tokens import count_tokens
from ingestion.chunking import (
    DOCUMENT_CHUNKING,
    ChunkingConfig,
    chunk_document,
    document_config,
    fit_to_embedder,
    split_text,
)
from ingestion.extract.model import Element, Extracted, Page, render_table

CONFIG = ChunkingConfig(max_chunk_tokens=60, min_paragraph_tokens=10, overlap_tokens=8)


def _doc(*elements: Element) -> Extracted:
    return Extracted(pages=[Page(number=1, elements=list(elements))])


def test_sections_get_breadcrumbs_and_never_share_a_chunk() -> None:
    doc = _doc(
        Element(type="heading", text="Setup", level=1),
        Element(type="paragraph", text="Fill the tank."),
        Element(type="heading", text="Grind", level=2),
        Element(type="paragraph", text="Use 18 grams."),
        Element(type="heading", text="Cleaning", level=1),
        Element(type="paragraph", text="Descale every 8 weeks."),
    )
    chunks = chunk_document(doc, "Manual", CONFIG)
    assert [c.breadcrumb for c in chunks] == ["Manual > Setup", "Manual > Setup > Grind", "Manual > Cleaning"]
    assert chunks[1].indexed_text(True).startswith("Manual > Setup > Grind\n")
    assert chunks[1].indexed_text(False) == "Use 18 grams."


def test_short_paragraphs_are_merged_and_limits_respected() -> None:
    paragraphs = [Element(type="paragraph", text=f"Sentence number {i} is short.") for i in range(30)]
    chunks = chunk_document(_doc(*paragraphs), "T", CONFIG)
    assert 1 < len(chunks) < 30
    assert all(c.token_count <= CONFIG.max_chunk_tokens for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(f"Sentence number {i} is short." in joined for i in range(30))


def test_long_paragraphs_split_on_word_boundaries_with_overlap() -> None:
    words = [f"word{i}" for i in range(400)]
    pieces = split_text(" ".join(words), 60, 8)
    assert len(pieces) > 1
    assert all(count_tokens(p) <= 60 for p in pieces)
    vocabulary = set(words)
    for piece in pieces:
        assert all(w in vocabulary for w in piece.split())  # no word was cut in two
    assert pieces[0].split()[-1] in pieces[1].split()[:10]  # consecutive pieces overlap


def test_tables_split_by_rows_with_the_header_repeated() -> None:
    rows = [["Symptom", "Cause"]] + [[f"symptom {i}", f"cause number {i}"] for i in range(40)]
    chunks = chunk_document(_doc(Element(type="table", text=render_table(rows), rows=rows)), "T", CONFIG)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("Symptom | Cause")
        assert chunk.token_count <= CONFIG.max_chunk_tokens
    assert sum(c.text.count("symptom ") for c in chunks) == 40


def test_chunks_are_split_further_to_fit_the_embedder_window() -> None:
    doc = _doc(Element(type="paragraph", text=" ".join(f"term{i}" for i in range(50))))
    chunks = chunk_document(doc, "T", ChunkingConfig(max_chunk_tokens=500))

    def count(texts: list[str]) -> list[int]:
        return [len(t.split()) * 3 for t in texts]  # a model whose window is tighter than tiktoken's count

    fitted, split = fit_to_embedder(chunks, count, 40, embed_breadcrumb=True)
    assert split == 1 and len(fitted) > 1
    assert all(n <= 40 for n in count([c.indexed_text(True) for c in fitted]))
    assert [c.index for c in fitted] == list(range(len(fitted)))


def test_a_pdf_table_is_chunked_by_rows_with_its_header_in_every_piece() -> None:
    from ingestion.extract.pdf import extract_pdf
    from tests.support import spec_sheet_pdf

    rows = [["Model", "Battery", "Weight"]] + [[f"Aurora Z{i}", f"{4000 + i} mAh", f"{300 + i} g"] for i in range(40)]
    extracted = extract_pdf(spec_sheet_pdf(rows, row_height=14))
    assert extracted.table_count == 1
    chunks = chunk_document(extracted, "Sheet", CONFIG)
    with_rows = [c for c in chunks if "mAh" in c.text]
    assert len(with_rows) > 1 and all("table" in c.element_types for c in with_rows)
    for chunk in with_rows:
        assert "Model | Battery | Weight" in chunk.text and chunk.token_count <= CONFIG.max_chunk_tokens * 1.2
    assert sum(c.text.count(" mAh") for c in chunks) == 40  # every row once, none lost at a split


def test_a_documents_own_chunking_is_laid_over_the_settings_clamped_and_wrong_types_ignored() -> None:
    base = ChunkingConfig(max_chunk_tokens=300, min_paragraph_tokens=40, overlap_tokens=30, embed_breadcrumb=True)
    assert document_config(base, {}) == base and document_config(base, {DOCUMENT_CHUNKING: "big"}) == base
    own = {DOCUMENT_CHUNKING: {"max_chunk_tokens": 25, "min_paragraph_tokens": 12, "embed_breadcrumb": False}}
    assert document_config(base, own) == ChunkingConfig(25, 12, 30, False)
    wild = {DOCUMENT_CHUNKING: {"max_chunk_tokens": 1, "min_paragraph_tokens": True, "embed_breadcrumb": "no"}}
    assert document_config(base, wild) == ChunkingConfig(16, 40, 30, True)
    assert document_config(base, {DOCUMENT_CHUNKING: {"max_chunk_tokens": 10**9}}).max_chunk_tokens == 2048

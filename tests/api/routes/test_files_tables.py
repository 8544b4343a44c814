"""``/v1/files/{id}/pages`` and retrieval for a PDF with a ruled table and key-value lines (issues 15 and 17)."""

from __future__ import annotations

import pytest

from tests.support import SPEC_ROWS, Api, spec_sheet_pdf, upload

pytestmark = pytest.mark.anyio

NOTES = (
    b"# Aurora field notes\n\n"
    b"The Aurora X2 was carried on every field trip this spring. Its battery lasted through long days, and the "
    b"team liked how light the Aurora X2 felt in a backpack.\n\n"
    b"## Charging\n\nCharge the Aurora X2 battery overnight with the supplied cable before a trip.\n"
)


async def test_pages_show_the_table_with_its_rows_and_the_key_value_pairs(api: Api) -> None:
    file_id = (await upload(api, api.alice, "spec-sheet.pdf", spec_sheet_pdf()))["file_id"]
    page = (await api.client.get(f"/v1/files/{file_id}/pages/1", headers=api.alice)).json()
    table = next(e for e in page["elements"] if e["type"] == "table")
    assert table["rows"] == SPEC_ROWS and len(table["bbox"]) == 4
    assert all(0 <= v <= 1 for v in table["bbox"]) and table["bbox"][0] < table["bbox"][2]
    pairs = [(e["key"], e["value"]) for e in page["elements"] if e["type"] == "key_value"]
    assert pairs == [("Serial", "AX-2231"), ("Issued", "3 March 2026"), ("Owner", "Field team")]
    info = (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).json()
    assert info["table_count"] == 1


async def test_a_value_only_the_table_holds_is_found_in_the_table_chunk(api: Api) -> None:
    await upload(api, api.alice, "aurora-notes.md", NOTES)
    file_id = (await upload(api, api.alice, "spec-sheet.pdf", spec_sheet_pdf()))["file_id"]
    params = {"q": "What is the battery capacity in mAh of the Aurora X2?", "topK": 3}
    hits = (await api.client.get("/v1/retrieve", params=params, headers=api.alice)).json()["results"]
    assert len(hits) >= 2 and hits[0]["document_id"] == file_id  # the field notes, about the Aurora X2 too, rank below
    assert "Model | Battery | Weight\nAurora X1 | 4200 mAh | 310 g\nAurora X2 | 5100 mAh | 342 g" in hits[0]["content"]

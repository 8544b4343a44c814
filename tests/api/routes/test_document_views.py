"""``GET /v1/files/{id}/pages/{n}/image`` and ``GET /v1/files/{id}/chunks/{chunk_id}`` (issue 18): what
the web page draws a citation on."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.support import SPEC_ROWS, Api, spec_sheet_pdf, upload

pytestmark = pytest.mark.anyio


async def test_a_pdf_page_is_a_png_for_whoever_may_read_it(api: Api) -> None:
    file_id = (await upload(api, api.alice, "spec-sheet.pdf", spec_sheet_pdf()))["file_id"]
    response = await api.client.get(f"/v1/files/{file_id}/pages/1/image?dpi=72", headers=api.alice)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (612, 792)  # a US Letter page at 72 dpi
    hidden = await api.client.get(f"/v1/files/{file_id}/pages/1/image", headers=api.bob)
    assert hidden.status_code == 404 and hidden.json()["error_code"] == "DOCUMENT_NOT_FOUND"
    beyond = await api.client.get(f"/v1/files/{file_id}/pages/2/image", headers=api.alice)
    assert beyond.status_code == 404 and beyond.json()["error_code"] == "PAGE_NOT_FOUND"
    too_fine = await api.client.get(f"/v1/files/{file_id}/pages/1/image?dpi=5000", headers=api.alice)
    assert too_fine.status_code in (400, 422) and "error_code" in too_fine.json()


async def test_a_markdown_file_has_no_page_image(api: Api) -> None:
    file_id = (await upload(api, api.alice, "notes.md", b"# Notes\n\nSome text.\n"))["file_id"]
    response = await api.client.get(f"/v1/files/{file_id}/pages/1/image", headers=api.alice)
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_chunk_comes_with_the_regions_its_text_came_from(api: Api) -> None:
    file_id = (await upload(api, api.alice, "spec-sheet.pdf", spec_sheet_pdf()))["file_id"]
    chunks = (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json()
    page = (await api.client.get(f"/v1/files/{file_id}/pages/1", headers=api.alice)).json()
    table = next(e for e in page["elements"] if e["type"] == "table")
    holding = next(c for c in chunks if SPEC_ROWS[1][0] in c["text"])
    detail = (await api.client.get(f"/v1/files/{file_id}/chunks/{holding['chunk_id']}", headers=api.alice)).json()
    assert detail["text"] == holding["text"] and detail["page"] == 1
    assert {"page": 1, "bbox": table["bbox"]} in detail["regions"]
    assert all(0 <= v <= 1 for r in detail["regions"] for v in r["bbox"])
    missing = await api.client.get(f"/v1/files/{file_id}/chunks/nope", headers=api.alice)
    assert missing.status_code == 404 and missing.json()["error_code"] == "CHUNK_NOT_FOUND"
    hidden = await api.client.get(f"/v1/files/{file_id}/chunks/{holding['chunk_id']}", headers=api.bob)
    assert hidden.status_code == 404


async def test_a_markdown_chunk_has_no_regions(api: Api) -> None:
    file_id = (await upload(api, api.alice, "notes.md", b"# Notes\n\nSome text about kettles.\n"))["file_id"]
    chunk = (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json()[0]
    detail = (await api.client.get(f"/v1/files/{file_id}/chunks/{chunk['chunk_id']}", headers=api.alice)).json()
    assert detail["regions"] == [] and "kettles" in detail["text"]


def _picture(size: tuple[int, int], words: str, mark: tuple[int, int, int, int]) -> Image.Image:
    """A white page with ``words`` (so OCR finds text) and a black rectangle at ``mark`` (to find again)."""
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, 40), words, fill="black", font=ImageFont.load_default(size=40))
    draw.rectangle(mark, fill="black")
    return image


def _encoded(frames: list[Image.Image], kind: str) -> bytes:
    out = io.BytesIO()
    frames[0].save(out, format=kind, save_all=len(frames) > 1, append_images=frames[1:])
    return out.getvalue()


def _dark_at(png: bytes, x: float, y: float) -> bool:
    image = Image.open(io.BytesIO(png)).convert("L")
    return image.getpixel((int(x * image.width), int(y * image.height))) < 80  # type: ignore[operator]


async def test_an_image_documents_frames_are_its_pages_sized_like_an_a4_page(api: Api) -> None:
    """A TIFF's frames are its pages; every image comes back as PNG with its longer side 11.69 in at
    ``dpi`` (an A4 page's), never enlarged; a JPEG is drawn from its own pixels."""
    portrait = _picture((1000, 1400), "Frame one of the scan", (100, 1000, 300, 1200))
    landscape = _picture((1400, 1000), "Frame two of the scan", (1100, 700, 1300, 900))
    tiff = (await upload(api, api.alice, "two-frames.tiff", _encoded([portrait, landscape], "TIFF")))["file_id"]
    first = await api.client.get(f"/v1/files/{tiff}/pages/1/image?dpi=72", headers=api.alice)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(first.content)).size == (601, 842)  # 11.69 in at 72 dpi = 842 px
    assert _dark_at(first.content, 0.2, 0.78) and not _dark_at(first.content, 0.85, 0.8)
    second = (await api.client.get(f"/v1/files/{tiff}/pages/2/image?dpi=72", headers=api.alice)).content
    assert Image.open(io.BytesIO(second)).size == (842, 601) and _dark_at(second, 0.85, 0.8)
    beyond = await api.client.get(f"/v1/files/{tiff}/pages/3/image", headers=api.alice)
    assert beyond.status_code == 404 and beyond.json()["error_code"] == "PAGE_NOT_FOUND"
    hidden = await api.client.get(f"/v1/files/{tiff}/pages/1/image", headers=api.bob)
    assert hidden.status_code == 404 and hidden.json()["error_code"] == "DOCUMENT_NOT_FOUND"

    small = _picture((900, 700), "A small webp picture", (600, 400, 800, 600))
    webp = (await upload(api, api.alice, "small.webp", _encoded([small], "WEBP")))["file_id"]
    shown = (await api.client.get(f"/v1/files/{webp}/pages/1/image", headers=api.alice)).content
    assert shown[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(io.BytesIO(shown)).size == (900, 700)  # not enlarged

    photo = _picture((2480, 3508), "A photo of a page at 300 dpi", (1900, 3000, 2300, 3400))
    jpeg = (await upload(api, api.alice, "photo.jpg", _encoded([photo], "JPEG")))["file_id"]
    drawn = (await api.client.get(f"/v1/files/{jpeg}/pages/1/image?dpi=110", headers=api.alice)).content
    assert Image.open(io.BytesIO(drawn)).size == (909, 1286) and _dark_at(drawn, 0.85, 0.91)


async def test_a_photo_taken_sideways_is_read_and_drawn_upright(api: Api) -> None:
    """A camera held sideways stores the pixels turned and says so in EXIF (Orientation 6): OCR reads the
    page upright, and the page image is upright, so the element boxes land on the text."""
    upright = _picture((1000, 1400), "Sideways photo of a page", (100, 1000, 300, 1200))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    stored = io.BytesIO()
    upright.rotate(90, expand=True).save(stored, format="JPEG", quality=90, exif=exif.tobytes())
    file_id = (await upload(api, api.alice, "sideways.jpg", stored.getvalue()))["file_id"]
    page = (await api.client.get(f"/v1/files/{file_id}/pages/1", headers=api.alice)).json()
    assert any("Sideways photo of a page" in e["text"] for e in page["elements"]), page["elements"]
    drawn = (await api.client.get(f"/v1/files/{file_id}/pages/1/image?dpi=72", headers=api.alice)).content
    assert Image.open(io.BytesIO(drawn)).size == (601, 842) and _dark_at(drawn, 0.2, 0.78)

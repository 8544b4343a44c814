"""What the web page shows of one document beyond the files routes: a page as an image (a PDF's page
or an image document's frame), and one chunk with the page regions its text came from (so a citation
opens on its passage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from core.errors import DocumentNotFound
from ingestion.detect import IMAGES
from ingestion.extract.errors import ExtractionFailed
from ingestion.extract.image import render_frame_png
from ingestion.extract.render import DEFAULT_DPI, MAX_DPI, render_page_png
from ingestion.regions import chunk_regions

from ..deps import ListingPrincipal, ServicesDep
from ..errors import KEYED, ApiError, error_responses
from ..schemas.files import ChunkDetail, Region
from .files import visible_document

router = APIRouter(prefix="/v1/files", tags=["files"], responses=KEYED)
_PDF = "application/pdf"


@router.get(
    "/{file_id}/pages/{number}/image",
    response_class=Response,
    responses={
        200: {"description": "the page (a PDF's page, an image's frame) as PNG", "content": {"image/png": {}}},
        **error_responses(404, 415, 503),
    },
)
def page_image(
    file_id: str,
    number: Annotated[int, PathParam(ge=1, le=1_000_000)],
    services: ServicesDep,
    principal: ListingPrincipal,
    dpi: Annotated[int, Query(ge=36, le=MAX_DPI, description="resolution; a huge page is rendered smaller")] = (
        DEFAULT_DPI
    ),
) -> Response:
    """A PDF's page ``number`` (1-based) as PNG, for whoever may read the document (the same 404 as
    ``GET …/pages/{n}`` otherwise). An image document's page is its frame ``number`` (a TIFF's or a
    WebP's frames; PNG and JPEG have one), converted to PNG and sized as an A4 page at ``dpi`` (its
    longer side 11.69 in, never enlarged), so either kind shows at the same size. Other formats have
    no page image: 415 ``UNSUPPORTED_MEDIA_TYPE``."""
    doc = visible_document(services, principal, file_id)
    if doc.media_type != _PDF and doc.media_type not in IMAGES:
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"{doc.id} is neither a PDF nor an image: it has no page "
                       "images", document_id=doc.id, media_type=doc.media_type)  # fmt: skip
    render = render_page_png if doc.media_type == _PDF else render_frame_png
    try:
        # A file, never bytes in memory: the local store's own (PDFium reads only the page it needs), or
        # an object store's temporary download, removed once the page is drawn.
        with services.ingestion.blobs.open_local(doc.sha256) as source:
            if not source.is_file():
                raise FileNotFoundError(source)
            png = render(source, number, dpi)
    except FileNotFoundError as exc:
        raise DocumentNotFound(f"the original of {doc.id} is gone", document_id=doc.id) from exc
    except ExtractionFailed as exc:
        if exc.reason == "page_not_found":
            raise ApiError(404, "PAGE_NOT_FOUND", f"{doc.id} has no page {number}", document_id=doc.id,
                           page=number, page_count=doc.page_count) from exc  # fmt: skip
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"{doc.id} cannot be rendered: {exc.reason}",
                       document_id=doc.id) from exc  # fmt: skip
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/{file_id}/chunks/{chunk_id}", response_model=ChunkDetail, responses=error_responses(404))
def get_chunk(file_id: str, chunk_id: str, services: ServicesDep, principal: ListingPrincipal) -> ChunkDetail:
    """One chunk, with ``regions``: the page bboxes of the elements its text came from (empty where
    the format has no positions), which the web page highlights when a citation is opened."""
    doc = visible_document(services, principal, file_id)
    chunk = next((c for c in services.ingestion.chunks(doc.id) if c.id == chunk_id), None)
    if chunk is None:
        raise ApiError(404, "CHUNK_NOT_FOUND", f"{doc.id} has no chunk {chunk_id}", document_id=doc.id,
                       chunk_id=chunk_id)  # fmt: skip
    regions = chunk_regions(chunk.text, chunk.page, services.ingestion.pages(doc.id)) if chunk.page else []
    return ChunkDetail(chunk_id=chunk.id, index=chunk.chunk_index, page=chunk.page, breadcrumb=chunk.breadcrumb,
                       text=chunk.text, token_count=chunk.token_count,
                       regions=[Region(page=r.page, bbox=r.bbox) for r in regions])  # fmt: skip

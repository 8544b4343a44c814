"""``/v1/evals``: retrieval and answer evals as runs the worker executes; admin keys only.

``POST /v1/evals`` takes either JSON (``NewEval``: a dataset the server can read) or a multipart
upload of the dataset itself: ``queries`` (JSONL, ``{"_id", "text"}``) and ``qrels`` (TSV,
``query-id corpus-id score``) and, optionally, ``corpus`` (JSONL, ``{"_id", "title", "text"}``), with
``split``, ``search_type``, ``limit`` and ``name`` as form fields. With a corpus the upload is a
BEIR dataset like any other (indexed into an eval home of its own); without one the queries run
over the documents already in Lectern, as the admin who started the run, and the judgments name
documents by id, collection docid or file name. Uploads are retrieval runs only.

Either way the dataset is read before anything is queued: one that cannot be read is a 400
``INVALID_DATASET`` saying which file and why. The run answers 202 ``queued``; the worker loop
(``lectern serve``'s indexing thread or ``lectern worker``) runs it when no document waits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from core.access import Principal
from core.errors import InvalidDataset
from evals import runs

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal, require_admin
from ..errors import KEYED, error_responses
from ..schemas.evals import EvalList, EvalReport, EvalRun, NewEval
from ..schemas.patterns import MAX_PAGE
from ..services import Services

router = APIRouter(prefix="/v1/evals", tags=["evals"], responses=KEYED)
_UPLOAD_FIELDS = ("kind", "split", "search_type", "limit", "name")
_MAX_FILES = 3
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/NewEval"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["queries", "qrels"],
                    "properties": {
                        "queries": {"type": "string", "format": "binary", "description": "JSONL: {_id, text}"},
                        "qrels": {"type": "string", "format": "binary", "description": "TSV: query-id corpus-id score"},
                        "corpus": {"type": "string", "format": "binary",
                                   "description": "JSONL: {_id, title, text}; without it, Lectern's own documents"},
                        "split": {"type": "string", "default": "test", "pattern": r"^[\w.-]+$", "maxLength": 64},
                        "search_type": {"type": "string", "enum": ["hybrid", "vector", "keyword"]},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                        "name": {"type": "string", "maxLength": 200},
                    },
                }
            },
        },
    }
}  # fmt: skip


@router.post("", response_model=EvalRun, status_code=202, openapi_extra=_BODY,
             responses=error_responses(400, 403, 413, 503))  # fmt: skip
async def create_eval(request: Request, services: ServicesDep, principal: WritePrincipal) -> EvalRun:
    """Queue a run (202 ``queued``); the body is JSON naming a dataset the server can read, or a
    multipart upload of one (see the module's description)."""
    require_admin(principal)
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return await _create_from_upload(request, services, principal)
    try:
        body = NewEval.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    run = await run_in_threadpool(_create, services, principal, body, Path(body.dataset))
    return EvalRun.of(run)


async def _create_from_upload(request: Request, services: ServicesDep, principal: Principal) -> EvalRun:
    form = await request.form(max_files=_MAX_FILES, max_fields=len(_UPLOAD_FIELDS) + _MAX_FILES)
    fields = {k: v for k in _UPLOAD_FIELDS if isinstance(v := form.get(k), str) and v != ""}
    try:
        body = NewEval.model_validate({**fields, "dataset": "upload"})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    files = {k: f for k in ("queries", "qrels", "corpus") if isinstance(f := form.get(k), UploadFile)}
    missing = [k for k in ("queries", "qrels") if k not in files]
    if missing:
        raise InvalidDataset(f"an uploaded dataset needs {' and '.join(missing)} as files", missing=missing)
    if body.kind != "retrieval":
        raise InvalidDataset("uploads are for retrieval runs; an answers run reads a QA JSONL the server can read")
    contents = {k: await f.read() for k, f in files.items()}
    eval_id, folder = runs.new_upload_dir(services.settings)

    def _save_and_create() -> runs.EvalRun:
        runs.save_upload(folder, body.split, contents["queries"], contents["qrels"], contents.get("corpus"))
        try:
            return _create(services, principal, body, folder, eval_id)
        except BaseException:
            runs.drop_upload(folder)
            raise

    return EvalRun.of(await run_in_threadpool(_save_and_create))


def _create(
    services: Services, principal: Principal, body: NewEval, dataset: Path, eval_id: str | None = None
) -> runs.EvalRun:
    try:
        return runs.create(
            services.ingestion.db, services.settings, kind=body.kind, dataset=dataset, split=body.split, search_type=body.search_type,
            limit=body.limit, name=body.name, owner=principal.user_id, eval_id=eval_id,
        )  # fmt: skip
    except (OSError, ValueError) as exc:  # a path the OS refuses (a NUL byte, a name too long, no permission)
        raise InvalidDataset(f"the dataset cannot be read: {exc}", dataset=body.dataset) from None


@router.get("", response_model=EvalList)
def list_evals(
    services: ServicesDep, principal: ListingPrincipal,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EvalList:  # fmt: skip
    """Runs newest first."""
    require_admin(principal)
    found, total = runs.list_runs(services.ingestion.db, limit=limit, offset=(page - 1) * limit)
    return EvalList(items=[EvalRun.of(r) for r in found], total_count=total, page=page, limit=limit)


@router.get("/{eval_id}", response_model=EvalRun, responses=error_responses(403, 404))
def get_eval(eval_id: str, services: ServicesDep, principal: ListingPrincipal) -> EvalRun:
    """Status, progress, and the metrics once completed."""
    require_admin(principal)
    return EvalRun.of(runs.get(services.ingestion.db, eval_id))


_REPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`png`: the recall@k plot (an answers run: its scores as bars); `json`: the per-query "
        "table; `csv`: the same table, a header then one row per query",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}},
                    "text/csv": {"schema": {"type": "string"}}},
    }
}  # fmt: skip


@router.get(
    "/{eval_id}/report", response_model=EvalReport, responses={**_REPORT_CONTENT, **error_responses(403, 404, 409)}
)
def get_report(
    eval_id: str, services: ServicesDep, principal: ListingPrincipal,
    format: Annotated[runs.ReportFormat, Query(description="png, json or csv")] = "json",
    compare: Annotated[list[str], Query(max_length=8, description="png only: other runs' curves on the same plot")] = [],  # noqa: B006
) -> Any:  # fmt: skip
    """A completed run's report (409 ``EVAL_NOT_COMPLETE`` before that)."""
    require_admin(principal)
    db = services.ingestion.db
    if format == "png":
        return Response(runs.report_png(db, eval_id, compare), media_type="image/png")
    run, table = runs.per_query(db, eval_id)
    if format == "csv":
        from evals.report import table_csv

        headers = {"Content-Disposition": f'attachment; filename="eval-{eval_id}.csv"'}
        return Response(table_csv(table), media_type="text/csv; charset=utf-8", headers=headers)
    return EvalReport(eval_id=run.eval_id, kind=run.kind, metrics=run.metrics, rows=table)


@router.delete("/{eval_id}", response_model=EvalRun, responses=error_responses(403, 404))
def delete_eval(eval_id: str, services: ServicesDep, principal: WritePrincipal) -> EvalRun:
    """A queued or running run is cancelled and kept (status ``cancelled``; its worker stops at its
    next query); a run that is over is removed. Returns the run as it is now, or was."""
    require_admin(principal)
    return EvalRun.of(runs.cancel_or_delete(services.ingestion.db, services.settings, eval_id))

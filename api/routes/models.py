"""``GET /v1/models``: the OpenAI models list, so chat UIs that list models first can talk to Lectern.

A "model" here is a search scope, as ``model`` is in ``POST /v1/chat/completions``: ``lectern``
(everything the key sees) and ``lectern:<collection>`` for each collection the key sees, counted by
the same catalog query as ``GET /v1/collections`` (one access rule). The LLM is always the server's.
"""

from __future__ import annotations

import time

from fastapi import APIRouter

from core.access import Principal
from ingestion.catalog import collections

from ..deps import ListingPrincipal, ServicesDep
from ..errors import KEYED, ApiError, error_responses
from ..schemas.completions import ModelCard, ModelList
from ..services import Services

router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=KEYED)
DEFAULT_MODEL = "lectern"
_PREFIX = f"{DEFAULT_MODEL}:"
_STARTED = int(time.time())
"""``created`` of every entry: scopes have no release date, and a stable number keeps UIs' caches quiet."""


@router.get("/models", response_model=ModelList)
def list_models(services: ServicesDep, principal: ListingPrincipal) -> ModelList:
    return ModelList(data=[_card(name) for name in [DEFAULT_MODEL, *_scopes(services, principal)]])


@router.get("/models/{model_id}", response_model=ModelCard, responses=error_responses(404))
def get_model(model_id: str, services: ServicesDep, principal: ListingPrincipal) -> ModelCard:
    if model_id != DEFAULT_MODEL and model_id not in _scopes(services, principal):
        raise unknown_model(model_id)
    return _card(model_id)


def collection_of(model: str, services: Services, principal: Principal) -> str | None:
    """The collection a completion's ``model`` narrows the search to (``None``: everything the key sees).
    An unknown ``lectern:<collection>`` is a 404, not an answer over nothing; any other name
    (``lectern``, or a UI's default such as ``gpt-4o``) means everything, as it always has."""
    if not model.startswith(_PREFIX):
        return None
    if model not in _scopes(services, principal):
        raise unknown_model(model)
    return model.removeprefix(_PREFIX)


def unknown_model(model: str) -> ApiError:
    return ApiError(404, "MODEL_NOT_FOUND", f"no model {model!r}: GET /v1/models lists the ones this key may use "
                    f"({DEFAULT_MODEL!r}, or '{_PREFIX}<collection>' for a collection the key sees)", model=model)  # fmt: skip


def _scopes(services: Services, principal: Principal) -> list[str]:
    with services.ingestion.db.read() as conn:
        names = collections.visible_collections(conn, principal)
    return [f"{_PREFIX}{name}" for name in sorted(names) if name]


def _card(model_id: str) -> ModelCard:
    return ModelCard(id=model_id, created=_STARTED)

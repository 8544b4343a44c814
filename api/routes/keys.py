"""``/v1/keys``: the caller's identity, and (admins) the keys' list and creation: the web page's admin
area does over HTTP what ``lectern keys`` does on the server's machine."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal, require_admin
from ..errors import KEYED, error_responses
from ..schemas.keys import KeyCreated, KeyInfo, Me, NewKey

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=KEYED)


@router.get("/me", response_model=Me)
def me(principal: ListingPrincipal) -> Me:
    return Me(user_id=principal.user_id, role=principal.role, is_admin=principal.is_admin)


@router.get("", response_model=list[KeyInfo], responses=error_responses(403))
def list_keys(services: ServicesDep, principal: ListingPrincipal) -> list[KeyInfo]:
    require_admin(principal)
    return [KeyInfo.model_validate(k.model_dump()) for k in services.keys.list()]


@router.post("", response_model=KeyCreated, status_code=201, responses=error_responses(403))
def create_key(body: NewKey, services: ServicesDep, principal: WritePrincipal) -> KeyCreated:
    require_admin(principal)
    key, secret = services.keys.create(role=body.role, name=body.name.strip(), user_id=body.user_id)
    return KeyCreated(key=KeyInfo.model_validate(key.model_dump()), secret=secret)

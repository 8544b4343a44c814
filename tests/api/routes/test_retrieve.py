"""``GET /v1/retrieve`` (api/routes/retrieve.py)."""

from __future__ import annotations

import pytest

from tests.support import Api, assert_needs_a_key

pytestmark = pytest.mark.anyio


ROUTES = [
    ("GET", "/v1/retrieve?q=a"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_retrieve_validates_the_query(api: Api) -> None:
    for q in ("", "   ", "x" * 2001):
        response = await api.client.get("/v1/retrieve", params={"q": q}, headers=api.alice)
        assert response.status_code == 400 and response.json()["error_code"] == "INVALID_QUERY"

"""``GET /healthz`` (api/routes/health.py)."""

from __future__ import annotations

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_healthz_needs_no_key(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}

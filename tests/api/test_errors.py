"""The error envelope (api/errors.py) for failures nobody planned for."""

from __future__ import annotations

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_unexpected_errors_use_the_envelope_without_a_trace(api: Api, services, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services.ingestion, "list_documents", boom)
    response = await api.client.get("/v1/files", headers=api.alice)
    assert response.status_code == 500
    body = response.json()
    assert body["error_code"] == "INTERNAL_ERROR" and "secret internals" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]

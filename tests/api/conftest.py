from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agent.scripted import ScriptedModel, quote_first_source, register
from api.app import create_app
from api.ratelimit import RateLimiter
from api.services import Services
from tests.support import Api, make_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def services(tmp_path: Path, blob_overrides: dict[str, object]) -> Iterator[Services]:
    """Originals in the local directory, or in a bucket for tests parametrized over ``blob_backend``."""
    model = register("api-tests", ScriptedModel(quote_first_source))
    settings = make_settings(tmp_path / "home", model=model, tool_mode="retrieve_first", **blob_overrides)
    built = Services.build(settings, RateLimiter({"listing": 50, "retrieval": 5, "chat": 20, "write": 50}))
    yield built
    built.close()


@pytest.fixture
async def api(services: Services) -> AsyncIterator[Api]:
    def bearer(role: str, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {services.keys.create(role=role, name=name)[1]}"}  # type: ignore[arg-type]

    app = create_app(services=services)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
        yield Api(client, services, bearer("admin", "root"), bearer("user", "alice"), bearer("user", "bob"))

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.scripted import ScriptedModel, quote_first_source, register
from api.app import create_app
from api.ratelimit import RateLimiter
from api.services import Services
from tests.conftest import make_settings


@dataclass
class Api:
    client: httpx.AsyncClient
    services: Services
    admin: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    model = register("api-tests", ScriptedModel(quote_first_source))
    settings = make_settings(tmp_path / "home", model=model, tool_mode="retrieve_first")
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


async def upload(api: Api, headers: dict[str, str], name: str, body: bytes, **form: str) -> dict:
    response = await api.client.post("/v1/files/upload", headers=headers, files={"file": (name, body)}, data=form)
    assert response.status_code == 201, response.text
    api.services.ingestion.run_until_idle()
    return response.json()

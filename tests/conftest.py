from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from core.tokens import configure_offline_env
from ingestion.service import Ingestion
from tests.support import SHARED_DATA, ChromaServer, make_settings, start_chroma_server

configure_offline_env()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture
def ingestion(settings: Settings) -> Iterator[Ingestion]:
    service = Ingestion(settings)
    yield service
    service.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared evaluation data is missing at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One ``chroma run`` on a free loopback port for the whole session, stopped at its end."""
    server = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    yield server
    server.stop()


@pytest.fixture
def vector_backend() -> str:
    """Where ``backend_settings`` keeps vectors: embedded, unless a test parametrizes this name over
    ``VECTOR_BACKENDS`` (``@pytest.mark.parametrize("vector_backend", VECTOR_BACKENDS)``)."""
    return "embedded"


@pytest.fixture
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path, vector_backend: str) -> Settings:
    """Test settings with vectors in embedded Chroma or on the session's Chroma server (emptied first).

    A module runs its store tests on both by overriding ``settings`` with this fixture."""
    if vector_backend == "embedded":
        return make_settings(tmp_path / "home")
    assert vector_backend == "server", vector_backend
    server: ChromaServer = request.getfixturevalue("chroma_server")
    if server.process is None or server.process.poll() is not None:
        server.start()  # a test that stopped it (and failed before restarting) must not break the next
    server.reset()
    return make_settings(tmp_path / "home", chroma_url=server.url)

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from core.tokens import configure_offline_env
from ingestion.service import Ingestion
from tests.support import ENGINES, SHARED_DATA, Postgres, make_settings

configure_offline_env()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run on SQLite and on a real PostgreSQL (the catalog suites)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_engines`` run once per engine; every other test stays on SQLite."""
    if metafunc.definition.get_closest_marker("both_engines") and "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the session, started only when a test asks for it. A server that
    cannot start fails those tests with its reason: the PostgreSQL catalog is a feature, not an option."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="lectern-pg-"))
    try:
        server = Postgres.start(root)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL for the catalog tests: {exc}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The catalog's URL: SQLite in the test's home unless the test runs on ``postgresql``
    (a fresh database per test on the session's server)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        server: Postgres = request.getfixturevalue("postgres")
        return server.new_database()
    return f"sqlite:///{tmp_path / 'home' / 'lectern.db'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """SQLite stays the embedded default (no URL set, so copies with another home move it too)."""
    if database_url.startswith("sqlite"):
        return make_settings(tmp_path / "home")
    return make_settings(tmp_path / "home", database_url=database_url)


@pytest.fixture
def ingestion(settings: Settings) -> Iterator[Ingestion]:
    service = Ingestion(settings)
    yield service
    service.close()
    if "vectors" in service.__dict__:  # built on demand; an open Chroma client keeps ~11 files open
        service.vectors.client.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared evaluation data is missing at {SHARED_DATA}")
    return SHARED_DATA

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from core.tokens import configure_offline_env
from ingestion.service import Ingestion
from tests.support import (
    ENGINES,
    SHARED_DATA,
    ChromaServer,
    MotoServer,
    Postgres,
    ServerStartError,
    make_settings,
    start_chroma_server,
    start_moto_server,
)

configure_offline_env()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run on SQLite and on a real PostgreSQL (the catalog suites)")


def pytest_unconfigure(config: pytest.Config) -> None:
    """A run whose tests are done must also end: if the interpreter's own shutdown (native runtimes
    joining their threads) hangs, dump every thread's stack and exit non-zero after two minutes
    instead of holding CI until its time limit."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(120, exit=True, file=sys.__stderr__)


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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared evaluation data is missing at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One ``chroma run`` on a free loopback port for the whole session, stopped at its end. A server
    that does not come up fails the tests that need it, with its log's tail."""
    try:
        server = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    except ServerStartError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture
def vector_backend() -> str:
    """Where ``backend_settings`` keeps vectors: embedded, unless a test parametrizes this name over
    ``VECTOR_BACKENDS`` (``@pytest.mark.parametrize("vector_backend", VECTOR_BACKENDS)``)."""
    return "embedded"


@pytest.fixture
def backend_settings(
    request: pytest.FixtureRequest, tmp_path: Path, vector_backend: str, database_url: str
) -> Settings:
    """Test settings with vectors in embedded Chroma or on the session's Chroma server (emptied first),
    and the catalog on SQLite or, for ``both_engines`` tests, PostgreSQL.

    A module runs its store tests on both by overriding ``settings`` with this fixture."""
    catalog = {} if database_url.startswith("sqlite") else {"database_url": database_url}
    if vector_backend == "embedded":
        return make_settings(tmp_path / "home", **catalog)
    assert vector_backend == "server", vector_backend
    server: ChromaServer = request.getfixturevalue("chroma_server")
    if server.process is None or server.process.poll() is not None:
        server.start()  # a test that stopped it (and failed before restarting) must not break the next
    server.reset()
    return make_settings(tmp_path / "home", chroma_url=server.url, **catalog)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto S3 server on a free loopback port for the whole session, started only when a test asks."""
    server = start_moto_server(tmp_path_factory.mktemp("moto-server"))
    yield server
    server.stop()


@pytest.fixture
def blob_backend() -> str:
    """Where ``blob_overrides`` keeps originals: the local directory, unless a test parametrizes this name
    over ``BLOB_BACKENDS`` (``@pytest.mark.parametrize("blob_backend", BLOB_BACKENDS)``)."""
    return "local"


@pytest.fixture
def blob_overrides(request: pytest.FixtureRequest, blob_backend: str) -> dict[str, object]:
    """Settings keywords for the blob backend: none for the local directory, or a fresh bucket on the
    session's S3 server (restarted first if a test stopped it)."""
    if blob_backend == "local":
        return {}
    assert blob_backend == "s3", blob_backend
    server: MotoServer = request.getfixturevalue("s3_server")
    if server.process is None or server.process.poll() is not None:
        server.start()
    return server.settings(server.new_bucket())

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from core.tokens import configure_offline_env
from ingestion.service import Ingestion

configure_offline_env()
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def make_settings(home: Path, **overrides: object) -> Settings:
    os.environ.pop("LECTERN_HOME", None)
    return Settings(home=home, **overrides)  # type: ignore[arg-type]


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

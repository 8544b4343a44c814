from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from core.tokens import configure_offline_env
from ingestion.service import Ingestion
from tests.support import SHARED_DATA, make_settings

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

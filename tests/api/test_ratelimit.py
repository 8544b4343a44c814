"""Rate limiting: the in-process windows, and the Redis ones shared by several server processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from api.ratelimit import RateLimiter, RedisRateLimiter
from tests.support import Api


def test_in_process_windows_count_per_key_and_class() -> None:
    limiter = RateLimiter({"listing": 2, "retrieval": 1, "chat": 1, "write": 1}, admin_factor=3)
    assert [limiter.hit("k", "listing", False).remaining for _ in range(2)] == [1, 0]
    refused = limiter.hit("k", "listing", False)
    assert not refused.allowed and 0 < refused.reset_s <= 60
    assert limiter.hit("k", "retrieval", False).allowed and limiter.hit("other", "listing", False).allowed
    assert limiter.hit("admin", "listing", True).limit == 6


@pytest.fixture
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing; `make test` installs it")
        pytest.skip("redis-server is not installed (make test installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_windows_are_shared_between_processes(redis_url: str) -> None:
    limits = {"listing": 3, "retrieval": 1, "chat": 1, "write": 1}
    first, second = RedisRateLimiter(redis_url, limits), RedisRateLimiter(redis_url, limits)  # two server processes
    seen = [first.hit("k", "listing", False).remaining, second.hit("k", "listing", False).remaining,
            first.hit("k", "listing", False).remaining]  # fmt: skip
    assert seen == [2, 1, 0]
    refused = second.hit("k", "listing", False)
    assert not refused.allowed and refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < refused.reset_s <= 60
    assert first.hit("k2", "listing", False).allowed
    assert second.hit("admin", "listing", True).limit == 15


@pytest.mark.anyio
async def test_rate_limit_headers_count_down_then_429(api: Api) -> None:
    """Through the app: the retrieval class allows alice 5 a minute here (tests/api/conftest.py)."""
    remaining = []
    for _ in range(5):
        response = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.alice)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    refused = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.alice)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED" and 0 < body["details"]["retry_after"] <= 60
    assert refused.headers["Retry-After"] and refused.headers["X-RateLimit-Remaining"] == "0"
    # Another key and the admin's larger allowance are not affected.
    assert (await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.bob)).status_code == 200
    admin = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.admin)
    assert admin.headers["X-RateLimit-Limit"] == "25"

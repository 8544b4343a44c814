"""Rate limiting: the in-process windows, and the Redis ones shared by several server processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.ratelimit import RateLimiter, RateLimiterUnavailable, RedisRateLimiter
from tests.support import Api, RedisServer


def test_in_process_windows_count_per_key_and_class() -> None:
    limiter = RateLimiter({"listing": 2, "retrieval": 1, "chat": 1, "write": 1}, admin_factor=3)
    assert [limiter.hit("k", "listing", False).remaining for _ in range(2)] == [1, 0]
    refused = limiter.hit("k", "listing", False)
    assert not refused.allowed and 0 < refused.reset_s <= 60
    assert limiter.hit("k", "retrieval", False).allowed and limiter.hit("other", "listing", False).allowed
    assert limiter.hit("admin", "listing", True).limit == 6


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = RedisServer.start()
    try:
        yield server.url
    finally:
        server.stop()


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


def test_a_lost_redis_refuses_with_503_at_once_and_counting_resumes_when_it_returns() -> None:
    import time

    server = RedisServer.start()
    limiter = RedisRateLimiter(server.url, {"listing": 3, "retrieval": 1, "chat": 1, "write": 1})
    try:
        assert limiter.hit("k", "listing", False).remaining == 2
        server.stop()
        started = time.monotonic()
        with pytest.raises(RateLimiterUnavailable) as refused:
            limiter.hit("k", "listing", False)
        assert time.monotonic() - started < 5  # an error in the envelope, never a hang
        assert refused.value.status == 503 and refused.value.code == "RATE_LIMITER_UNAVAILABLE"
        server = RedisServer.start(port=server.port)  # an empty Redis: the window starts again
        assert limiter.hit("k", "listing", False).remaining == 2
    finally:
        server.stop()


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

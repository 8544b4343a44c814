"""Rate limiting: the in-process windows, and the Redis ones shared by several server processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from api.client import Client, LecternAPIError
from api.ratelimit import RateLimiter, RateLimiterUnavailable, RedisRateLimiter
from tests.support import Api, RedisServer


def test_in_process_windows_count_per_key_and_class() -> None:
    limiter = RateLimiter({"listing": 2, "retrieval": 1, "chat": 1, "write": 1}, admin_factor=3)
    assert [limiter.hit("k", "listing", False).remaining for _ in range(2)] == [1, 0]
    refused = limiter.hit("k", "listing", False)
    assert not refused.allowed and 0 < refused.reset_s <= 60
    # The reset header is a Unix time in whole seconds (the clinical API's form), within the next minute.
    now = time.time()
    assert now < int(refused.headers["X-RateLimit-Reset"]) == refused.reset_at <= now + 61
    assert 1 <= refused.retry_after_s <= 60
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
    assert refused.reset_at % 60 == 0 and time.time() < refused.reset_at <= time.time() + 60  # the window's end
    assert refused.headers["X-RateLimit-Reset"] == str(refused.reset_at)
    assert first.hit("k2", "listing", False).allowed
    assert second.hit("admin", "listing", True).limit == 15


def test_a_lost_redis_refuses_with_503_at_once_and_counting_resumes_when_it_returns() -> None:
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
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # The clinical API's form: the reset header a Unix time, the body's fields at the top level.
    reset = int(refused.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 60
    assert refused.headers["Retry-After"] == str(body["retry_after"]) and body["requests_remaining"] == 0
    assert body["reset_time"] == datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert abs(reset - time.time() - body["retry_after"]) <= 2
    # The SDK hands the same fields back on its error.
    key = api.alice["Authorization"].split()[1]
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        with pytest.raises(LecternAPIError) as raised:
            await client.search("kettle")
    assert raised.value.status == 429 and raised.value.retry_after == body["retry_after"]
    assert raised.value.envelope is not None and raised.value.envelope.requests_remaining == 0
    # Other errors carry none of them.
    other = (await api.client.get("/v1/retrieve", params={"q": " "}, headers=api.bob)).json()
    assert other["error_code"] == "INVALID_QUERY"
    assert not {"retry_after", "reset_time", "requests_remaining"} & set(other)
    # Another key and the admin's larger allowance are not affected.
    assert (await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.bob)).status_code == 200
    admin = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.admin)
    assert admin.headers["X-RateLimit-Limit"] == "25"

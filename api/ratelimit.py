"""Rate limits per key and route class, with ``X-RateLimit-*`` headers on every response.

``X-RateLimit-Reset`` is the Unix time (seconds) at which the window ends, as the clinical
API documents it; ``Retry-After`` and a 429's ``retry_after`` are the seconds until then.

A fixed one-minute window per (key, class); limits come from Settings
(``LECTERN_RATE_LIMIT_*``). Admin keys get five times the allowance, unless
``LECTERN_RATE_LIMIT_PRESET`` names a preset with its own per-role limits (``PRESETS``). In process by
default; with ``LECTERN_REDIS_URL`` the counters live in Redis, so several server
processes share one budget per key.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.errors import LecternError

RouteClass = Literal["listing", "retrieval", "chat", "write"]
WINDOW_S = 60.0
USER_LIMITS: dict[str, int] = {"listing": 120, "retrieval": 60, "chat": 20, "write": 60}
ADMIN_FACTOR = 5
PRESETS: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    # The clinical retrieval API's per-role limits (seed 002): user and admin allowances per minute.
    "clinical": ({"listing": 50, "retrieval": 20}, {"listing": 100, "retrieval": 50}),
}
"""``LECTERN_RATE_LIMIT_PRESET``: (user limits, admin limits) that replace the settings' values for
their classes; classes a preset leaves out keep their setting, admins getting ``ADMIN_FACTOR`` times it."""


def preset_limits(preset: str, limits: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """The user limits and the admin limits that differ from ``ADMIN_FACTOR`` times them, under ``preset``."""
    users, admins = PRESETS.get(preset, ({}, {}))
    return {**limits, **users}, dict(admins)


class RateLimiterUnavailable(LecternError):
    """Redis, which holds the shared counts, did not answer in time; retrying later may succeed."""

    code = "RATE_LIMITER_UNAVAILABLE"
    status = 503


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    """Seconds until the window ends."""
    decided_at: float = field(default_factory=time.time)
    """Wall-clock time of the decision: the in-process windows run on the monotonic clock,
    so the Unix time of the reset is derived from this, not from the window's start."""

    @property
    def reset_at(self) -> int:
        """Unix time (whole seconds, rounded up) at which the window ends, as the clinical API's header has it."""
        # Rounded to the millisecond first: Redis windows end on a whole second, and float noise
        # in now + (end - now) must not push the header one second past it.
        return math.ceil(round(self.decided_at + self.reset_s, 3))

    @property
    def retry_after_s(self) -> int:
        """Whole seconds to wait (at least 1): the ``Retry-After`` header and the 429 body's ``retry_after``."""
        return max(1, math.ceil(self.reset_s))

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class Limiter(Protocol):
    def hit(self, key_id: str, route_class: str, is_admin: bool) -> Decision: ...


def _limit(limits: dict[str, int], admin_limits: dict[str, int], factor: int, route_class: str, admin: bool) -> int:
    if admin:
        return admin_limits.get(route_class, limits[route_class] * factor)
    return limits[route_class]


class RateLimiter:
    def __init__(
        self, limits: dict[str, int] | None = None, admin_factor: int = ADMIN_FACTOR,
        admin_limits: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        self.limits = limits or dict(USER_LIMITS)
        self.admin_factor = admin_factor
        self.admin_limits = admin_limits or {}
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: str, route_class: str, is_admin: bool) -> Decision:
        limit = _limit(self.limits, self.admin_limits, self.admin_factor, route_class, is_admin)
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get((key_id, route_class), (now, 0))
            if now - start >= WINDOW_S:
                start, count = now, 0
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[(key_id, route_class)] = (start, count)
        return Decision(allowed, limit, max(0, limit - count), max(0.0, start + WINDOW_S - now))


class RedisRateLimiter:
    """The same fixed windows, counted in Redis (INCR + EXPIRE in one transaction)."""

    def __init__(
        self, url: str, limits: dict[str, int] | None = None, admin_factor: int = ADMIN_FACTOR,
        admin_limits: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        import redis

        self.client: Any = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.limits = limits or dict(USER_LIMITS)
        self.admin_factor = admin_factor
        self.admin_limits = admin_limits or {}

    def hit(self, key_id: str, route_class: str, is_admin: bool) -> Decision:
        limit = _limit(self.limits, self.admin_limits, self.admin_factor, route_class, is_admin)
        now = time.time()
        window = int(now // WINDOW_S)
        name = f"lectern:ratelimit:{key_id}:{route_class}:{window}"
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, int(WINDOW_S) + 5)
                count = int(pipe.execute()[0])
        except self._errors as exc:
            # Closed, not open: without the shared count no process can tell whether a key is over its limit.
            raise RateLimiterUnavailable(f"the rate limiter's Redis cannot be reached: {exc}") from exc
        reset = (window + 1) * WINDOW_S - now
        return Decision(count <= limit, limit, max(0, limit - count), reset, now)

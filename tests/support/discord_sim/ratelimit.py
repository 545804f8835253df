"""Rate-limit headers and injected 429s that look like Discord's (so discord.py honours them)."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass


@dataclass
class Injection:
    route_substring: str
    remaining: int
    retry_after: float
    scope: str
    is_global: bool

    def matches(self, key: str) -> bool:
        return self.route_substring in key


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class RateLimitVerdict:
    headers: dict[str, str]
    limited: bool = False
    retry_after: float = 0.0
    scope: str = "user"
    is_global: bool = False


class RateLimiter:
    """Per-bucket counting windows (when enabled) plus one-shot injected 429s."""

    def __init__(self) -> None:
        self.enabled = False
        self.limit = 50
        self.window = 1.0
        self._windows: dict[str, _Window] = {}
        self.injections: list[Injection] = []

    def configure(self, *, enabled: bool, limit: int, window: float) -> None:
        self.enabled, self.limit, self.window = enabled, limit, window
        self._windows.clear()

    def inject(
        self, route_substring: str, count: int, retry_after: float, scope: str, is_global: bool
    ) -> Injection:
        injection = Injection(route_substring, count, retry_after, scope, is_global)
        self.injections.append(injection)
        return injection

    @staticmethod
    def bucket_hash(method: str, template: str) -> str:
        return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]  # noqa: S324

    def check(self, method: str, template: str, major: str, key: str) -> RateLimitVerdict:
        """``key`` is "METHOD /path" (what injections match); ``major`` the major parameter."""
        bucket = self.bucket_hash(method, template)
        verdict = RateLimitVerdict(headers={})
        for injection in self.injections:
            if injection.remaining > 0 and injection.matches(key):
                injection.remaining -= 1
                verdict.limited = True
                verdict.retry_after = injection.retry_after
                verdict.scope = "global" if injection.is_global else injection.scope
                verdict.is_global = injection.is_global
                break
        self.injections = [i for i in self.injections if i.remaining > 0]

        now = time.time()
        if self.enabled:
            window = self._windows.get(f"{bucket}:{major}")
            if window is None or now - window.started >= self.window:
                window = _Window(started=now)
                self._windows[f"{bucket}:{major}"] = window
            reset_after = max(window.started + self.window - now, 0.001)
            if not verdict.limited:
                window.count += 1
                if window.count > self.limit:
                    verdict.limited = True
                    verdict.retry_after = reset_after
            remaining = max(self.limit - window.count, 0)
            verdict.headers.update(
                {
                    "X-RateLimit-Limit": str(self.limit),
                    "X-RateLimit-Remaining": str(remaining),
                    "X-RateLimit-Reset": f"{now + reset_after:.3f}",
                    "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                    "X-RateLimit-Bucket": bucket,
                }
            )
        if verdict.limited:
            verdict.headers.update(
                {
                    "Retry-After": str(max(1, math.ceil(verdict.retry_after))),
                    "X-RateLimit-Scope": verdict.scope,
                    "Via": "1.1 google",
                }
            )
            if verdict.is_global:
                verdict.headers["X-RateLimit-Global"] = "true"
            else:
                verdict.headers.setdefault("X-RateLimit-Limit", str(self.limit))
                verdict.headers["X-RateLimit-Remaining"] = "0"
                verdict.headers.setdefault("X-RateLimit-Reset", f"{now + verdict.retry_after:.3f}")
                verdict.headers["X-RateLimit-Reset-After"] = f"{verdict.retry_after:.3f}"
                verdict.headers.setdefault("X-RateLimit-Bucket", bucket)
        return verdict

"""When to poll a task next.

The gateway refreshes a task from Kling only every ~15 s, and a video takes one to several
minutes, so polling faster than the base interval gains nothing. Errors back off exponentially,
and a `Retry-After` from the gateway wins. No poll is ever scheduled past the task's deadline,
so a stuck task is declared timed out on time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_ERROR_BACKOFF = 300.0


@dataclass(frozen=True, slots=True)
class PollSchedule:
    interval: float
    jitter: float = 0.1  # spreads a burst of tasks created together over time

    def first(self, now: float, deadline: float) -> float:
        return self._clamp(now + self.interval * self._spread(), deadline)

    def after_success(self, now: float, deadline: float) -> float:
        return self._clamp(now + self.interval * self._spread(), deadline)

    def after_error(
        self, now: float, deadline: float, errors: int, retry_after: float | None
    ) -> float:
        delay = min(self.interval * 2 ** min(errors, 10), MAX_ERROR_BACKOFF)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return self._clamp(now + delay * self._spread(), deadline)

    def _spread(self) -> float:
        return 1 + random.uniform(-self.jitter, self.jitter)

    @staticmethod
    def _clamp(when: float, deadline: float) -> float:
        return min(when, deadline)

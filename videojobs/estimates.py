"""How long a task will probably take, learnt from the bot's own finished tasks.

For one model, mode and duration, the recent completed tasks' times from creation to completion
(read from the store, so the estimate survives restarts and grows with the history) give:
- the typical time (their median), shown in the first answer: "usually ready in about 2 min";
- the time left of a running task: the median of what remained, in those of them that took
  longer than it has run so far (the time left given it is not done yet), so it never goes
  negative and grows honest when a task runs long ("taking longer than usual").
Tasks sent more than once (they waited for the video service to come back) don't count: the
estimate is the service's usual speed, not an outage's. Nothing is shown before `MIN_SAMPLES`
tasks finished. bench/estimate.py measures the error.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field

from .models import TaskState, VideoRequest, VideoTask
from .ports import Clock, MemberQueries

MIN_SAMPLES = 5
WINDOW = 30  # the newest completed tasks of a kind that count
CACHE_SECONDS = 30.0  # a known estimate is read again from the store at most this often

_STARTING = frozenset({TaskState.PENDING, TaskState.SUBMITTING})


@dataclass(frozen=True, slots=True)
class Estimate:
    typical: float  # seconds a task of this kind usually takes in all
    left: float | None  # seconds it probably has left; None: longer than any recent one
    starting: bool  # not sent yet: say how long it usually takes

    @property
    def text(self) -> str:
        """The line a member reads: an estimate, never a promise."""
        if self.starting:
            return f"usually ready in {about(self.typical)}"
        if self.left is None:
            return "taking longer than usual"
        return f"{about(self.left)} left"


def typical(durations: Sequence[float]) -> float | None:
    """The median duration, once there are enough."""
    if len(durations) < MIN_SAMPLES:
        return None
    return float(statistics.median(durations))


def time_left(durations: Sequence[float], elapsed: float) -> float | None:
    """The median remaining time among the durations longer than `elapsed` (those tasks were
    still running at this point too); None when none was. Needs `MIN_SAMPLES` durations."""
    longer = [d - elapsed for d in durations if d > elapsed]
    if not longer:
        return None
    return float(statistics.median(longer))


def about(seconds: float) -> str:
    """ "about 40 s", "about 2 min", "about 1 h 10 min": rounded, never zero or negative."""
    if seconds < 55:
        return f"about {max(10, round(seconds / 10) * 10)} s"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h" + (f" {minutes} min" if minutes else "")


def kind_of(request: VideoRequest) -> tuple[str, str, int]:
    return request.model, request.mode, request.duration


@dataclass
class Estimates:
    """Estimates for tasks, from the store's recent completed tasks of the same kind."""

    store: MemberQueries
    clock: Clock
    _: KW_ONLY
    window: int = WINDOW
    cache_seconds: float = CACHE_SECONDS
    # kind of task -> (when read, its recent durations)
    _cache: dict[tuple[str, str, int], tuple[float, list[float]]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def durations(self, request: VideoRequest) -> list[float]:
        """The recent durations of this kind of task (cached briefly once there are enough:
        until then every look reads the store, so the estimate appears with the fifth)."""
        key = kind_of(request)
        now = self.clock.now()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        found = await self.store.completed_durations(*key, limit=self.window)
        found = [d for d in found if d >= 0]
        if len(found) >= MIN_SAMPLES:
            self._cache[key] = (now, found)
        return found

    async def for_task(self, task: VideoTask) -> Estimate | None:
        """The estimate to show with an unfinished task; None when finished, waiting for the
        video service to come back (no honest number then), or not known."""
        if task.state.is_terminal or task.waiting:
            return None
        durations = await self.durations(task.request)
        usual = typical(durations)
        if usual is None:
            return None
        elapsed = max(0.0, self.clock.now() - task.created_at)
        return Estimate(
            typical=usual, left=time_left(durations, elapsed), starting=task.state in _STARTING
        )

"""When to poll a task next.

What the gateway does (gateway-notes.md) decides it:
- the relay refreshes every task from Kling in one bulk loop about every 15 s (`relay_refresh`),
  so a GET can only show news once per refresh, and a poll placed just after a refresh sees it
  soonest. The refresh's phase is learnt from the polls themselves (`RefreshClock`): a change
  seen between a poll sent at t1 and an answer received at t2 means a refresh in (t1, t2].
  Once the phase is known, polls go to just after each refresh, one per whole number of
  refreshes nearest to the base interval; until then (and whenever the evidence stops
  agreeing), every base interval, with jitter;
- a video takes one to several minutes, so a task's first poll comes `first_after` seconds
  after it is sent;
- with callbacks configured, polling is only the fallback for a lost callback: every
  `CALLBACK_FALLBACK` base intervals. A callback (`hinted`) makes the task due at once; if that
  poll shows nothing new yet (the relay refreshes after Kling calls back), the next refresh or
  two are polled before falling back to the slow pace.

Errors back off exponentially, and a `Retry-After` from the gateway wins. No poll is ever
scheduled past the task's deadline, so a stuck task is declared timed out on time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MAX_ERROR_BACKOFF = 300.0
CALLBACK_FALLBACK = 6  # with callbacks, poll every this many base intervals
HINT_TRIES = 2  # refreshes polled after a callback whose first poll showed nothing new


@dataclass(frozen=True, slots=True)
class Refresh:
    """The relay's refresh as learnt: every `period` seconds, done by `phase` (mod period)."""

    period: float
    phase: float  # seconds into the period by which the refresh has surely happened
    width: float  # how uncertain the learnt phase still is (seconds)

    def next_after(self, t: float) -> float:
        """The first moment >= t at which a refresh has just happened."""
        return self.phase + self.period * math.ceil((t - self.phase) / self.period)


class RefreshClock:
    """Learns the phase of a periodic refresh from windows known to contain one.

    Each window (t1, t2] shorter than a period adds its weight to the bins of the period it
    covers; the refresh lies in the bins that (nearly) every window covered. Old evidence fades
    (`half_life`), so a relay that restarts or drifts is followed, and when the recent evidence
    is too thin or disagrees, `estimate()` says so (None) and the schedule stops relying on it.
    """

    def __init__(
        self,
        period: float,
        *,
        bins: int = 150,
        half_life_periods: float = 20.0,
        min_windows: float = 8.0,
        agreement: float = 0.8,
        max_width_fraction: float = 1 / 3,
    ) -> None:
        if period <= 0:
            raise ValueError("period must be positive")
        self.period = period
        self._width = period / bins
        self._bins = [0.0] * bins
        self._total = 0.0
        self._half_life = half_life_periods * period
        self._epoch = 0.0  # weights are 2 ** ((t - epoch) / half_life)
        self._latest = -math.inf
        self._min_windows = min_windows
        self._agreement = agreement
        self._max_width = max_width_fraction * period
        self._recheck = period / 10  # an estimate is reused for this long without new evidence
        self._cached: tuple[float, float, Refresh | None] | None = None

    def add_change(self, after: float, until: float) -> None:
        """Something changed between a look at `after` and one at `until`: a refresh in
        (after, until]. Windows of a period or more say nothing and are ignored."""
        length = until - after
        if not 0 <= length < self.period:
            return
        if self._latest == -math.inf:
            self._epoch = until
        self._latest = max(self._latest, until)
        weight = math.exp2((until - self._epoch) / self._half_life)
        if weight > 1e9:  # rebase, so weights stay finite
            self._rescale(1 / weight)
            self._epoch = until
            weight = 1.0
        count = len(self._bins)
        first = int((after % self.period) / self._width)
        last = min(first + int(length / self._width) + 1, first + count - 1)
        for index in range(first, last + 1):
            self._bins[index % count] += weight
        self._total += weight
        self._cached = None

    def _rescale(self, factor: float) -> None:
        self._bins = [b * factor for b in self._bins]
        self._total *= factor

    def estimate(self, now: float) -> Refresh | None:
        """The refresh's phase, or None while the recent evidence is too thin or disagrees."""
        cached = self._cached
        if cached is not None and cached[0] == self._latest and now - cached[1] < self._recheck:
            return cached[2]
        result = self._compute(now)
        self._cached = (self._latest, now, result)
        return result

    def _compute(self, now: float) -> Refresh | None:
        if self.evidence(now) < self._min_windows:
            return None
        top = max(self._bins)
        if top < self._agreement * self._total:
            return None
        count = len(self._bins)
        peak = self._bins.index(top)
        floor = 0.95 * top
        start = end = peak
        while self._bins[(end + 1) % count] >= floor and end - start < count - 1:
            end += 1
        while self._bins[(start - 1) % count] >= floor and end - start < count - 1:
            start -= 1
        width = (end - start + 1) * self._width
        if width > self._max_width:
            return None
        return Refresh(self.period, ((end + 1) * self._width) % self.period, width)

    def evidence(self, now: float) -> float:
        """About how many recent windows the estimate rests on (fading with time)."""
        if self._total <= 0:
            return 0.0
        return self._total / math.exp2((now - self._epoch) / self._half_life)


class PollSchedule:
    """Next-poll times for tasks; keeps what it learns about the relay in memory."""

    def __init__(
        self,
        interval: float,
        *,
        relay_refresh: float = 15.0,
        first_after: float = 60.0,
        callbacks: bool = False,
        jitter: float = 0.1,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.first_after = first_after
        self.callbacks = callbacks
        self.jitter = jitter
        self.refresh = RefreshClock(relay_refresh) if relay_refresh > 0 else None
        pace = interval * (CALLBACK_FALLBACK if callbacks else 1)
        self._pace = pace
        self._ticks = max(1, round(pace / relay_refresh)) if relay_refresh > 0 else 0
        # just after the refresh: a margin for the relay's own bulk loop, then a spread so that
        # thousands of tasks are not all asked for at the same instant
        self._margin = 0.05 * relay_refresh
        self._spread = 0.15 * relay_refresh
        self._sent: dict[str, float] = {}  # task -> when its last poll was sent
        self._hints: dict[str, tuple[float, int]] = {}  # task -> (when, refreshes left to try)

    # --- learning -------------------------------------------------------------------------------

    def observe(self, task_id: str, *, sent: float, received: float, changed: bool) -> None:
        """A poll of `task_id` sent at `sent` answered at `received`; `changed`: its state or
        progress differed from the previous poll's."""
        previous = self._sent.get(task_id)
        self._sent[task_id] = sent
        if changed and previous is not None and self.refresh is not None:
            self.refresh.add_change(previous, received)
        if changed:
            self._hints.pop(task_id, None)

    def hinted(self, task_id: str, now: float) -> None:
        """A callback said the task changed (it is polled at once by the service)."""
        self._hints[task_id] = (now, HINT_TRIES)

    def hinted_since(self, task_id: str, moment: float) -> bool:
        """Whether a callback for the task came after `moment` (a poll sent then may have
        missed what it announced)."""
        hint = self._hints.get(task_id)
        return hint is not None and hint[0] > moment

    def forget(self, task_id: str) -> None:
        """The task is no longer polled."""
        self._sent.pop(task_id, None)
        self._hints.pop(task_id, None)

    def prune(self, older_than: float) -> None:
        """Drop what is kept about tasks not polled since `older_than` (cancelled ones, say)."""
        for task_id in [t for t, sent in self._sent.items() if sent < older_than]:
            self.forget(task_id)

    # --- times ----------------------------------------------------------------------------------

    def first(self, now: float, deadline: float) -> float:
        """A task just sent: videos take a minute or more, so the first poll comes then."""
        refresh = self._refresh(now)
        if refresh is None:
            return self._clamp(now + self.first_after * self._jittered(), deadline)
        return self._clamp(self._slot(refresh, now + self.first_after), deadline)

    def after_success(self, now: float, deadline: float, task_id: str | None = None) -> float:
        """After a poll that showed the task still unfinished."""
        refresh = self._refresh(now)
        if task_id is not None and self._take_hint_try(task_id):
            # a callback announced news this poll did not show yet: look at the next refresh
            if refresh is not None:
                return self._clamp(self._slot(refresh, now), deadline)
            return self._clamp(now + self.interval * self._jittered(), deadline)
        if refresh is None:
            return self._clamp(now + self._pace * self._jittered(), deadline)
        earliest = now + (self._ticks - 0.5) * refresh.period
        return self._clamp(self._slot(refresh, earliest), deadline)

    def after_error(
        self, now: float, deadline: float, errors: int, retry_after: float | None
    ) -> float:
        delay = min(self.interval * 2 ** min(errors, 10), MAX_ERROR_BACKOFF)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return self._clamp(now + delay * self._jittered(), deadline)

    # --- helpers ----------------------------------------------------------------------------------

    def _refresh(self, now: float) -> Refresh | None:
        return self.refresh.estimate(now) if self.refresh is not None else None

    def _take_hint_try(self, task_id: str) -> bool:
        hint = self._hints.get(task_id)
        if hint is None:
            return False
        when, tries = hint
        if tries <= 0:
            del self._hints[task_id]
            return False
        self._hints[task_id] = (when, tries - 1)
        return True

    def _slot(self, refresh: Refresh, earliest: float) -> float:
        """A moment just after the first refresh at or after `earliest`."""
        return refresh.next_after(earliest) + self._margin + random.uniform(0, self._spread)

    def _jittered(self) -> float:
        return 1 + random.uniform(-self.jitter, self.jitter)

    @staticmethod
    def _clamp(when: float, deadline: float) -> float:
        return min(when, deadline)

"""Learning when the relay refreshes its tasks (gateway-notes.md: one bulk loop about every
15 s) from the polls themselves: a change seen between a poll sent at t1 and one answered at t2
means a refresh in (t1, t2]. `schedule.PollSchedule` places polls just after it."""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refresh:
    """The relay's refresh as learnt: every `period` seconds, surely done by `phase` (seconds
    into the period); before that it may have happened as early as `uncertainty` seconds."""

    period: float
    phase: float
    uncertainty: float

    def next_after(self, t: float) -> float:
        """The first moment >= t by which a refresh has surely happened."""
        return self.phase + self.period * math.ceil((t - self.phase) / self.period)


class RefreshClock:
    """Learns when a periodic refresh happens from windows known to contain one.

    A change seen between a look at t1 and a look at t2 puts a refresh in (t1, t2]. The recent
    windows (within `horizon_periods`) are laid on one period; the point most of them cover is
    taken as the refresh, and every window, laid next to it, bounds it: the refresh came after
    the latest start and by the earliest end (each taken past a few outliers). When the
    starts end up later than the ends, changes appear over a stretch (a bulk loop that takes
    its time), and the refresh counts as done at the end of that stretch.

    Polls placed just after the learnt refresh can only say it was not later than they were,
    so left alone the learnt bound would drift later; the schedule's probes (a few polls at
    other moments) keep it honest. `estimate()` is None while the recent windows are too few
    or do not agree on a point: a relay that restarts, drifts or has no steady refresh is not
    trusted.
    """

    def __init__(
        self,
        period: float,
        *,
        bins: int = 150,
        horizon_periods: float = 40.0,
        max_windows: int = 4096,
        min_windows: int = 8,
        agreement: float = 0.8,
        outliers: float = 0.001,
    ) -> None:
        if period <= 0:
            raise ValueError("period must be positive")
        self.period = period
        self._bins = bins
        self._bin_width = period / bins
        self._horizon = horizon_periods * period
        # short windows (most from probes) say the most; kept apart so that the many long
        # ones of thousands of tasks do not push them out of the horizon
        self._long: deque[tuple[float, float, float]] = deque(maxlen=max_windows // 2)
        self._short: deque[tuple[float, float, float]] = deque(maxlen=max_windows // 2)
        self._min_windows = min_windows
        self._agreement = agreement
        self._outliers = outliers
        self._recheck = period / 10  # an estimate is reused for this long
        self._cached: tuple[float, Refresh | None] | None = None

    def add_change(self, after: float, until: float) -> None:
        """Something changed between a look at `after` and one at `until`: a refresh in
        (after, until]. Windows of a period or more say nothing and are ignored."""
        length = until - after
        if 0 <= length < self.period:
            kept = self._short if length < 0.75 * self.period else self._long
            kept.append((after % self.period, length, until))

    def evidence(self, now: float) -> int:
        """How many recent windows an estimate would rest on."""
        cutoff = now - self._horizon
        return sum(1 for _, _, until in (*self._long, *self._short) if until >= cutoff)

    def estimate(self, now: float) -> Refresh | None:
        """The refresh as learnt, or None while the recent evidence is thin or disagrees."""
        cached = self._cached
        if cached is not None and 0 <= now - cached[0] < self._recheck:
            return cached[1]
        result = self._compute(now)
        self._cached = (now, result)
        return result

    def _compute(self, now: float) -> Refresh | None:
        cutoff = now - self._horizon
        for kept in (self._long, self._short):
            while kept and kept[0][2] < cutoff:
                kept.popleft()
        windows = [*self._long, *self._short]
        if len(windows) < self._min_windows:
            return None
        # how many windows cover each bin of the period (a difference array, wrapping)
        count, width = self._bins, self._bin_width
        diff = [0] * (count + 1)
        for start, length, _ in windows:
            first = int(start / width)
            last = min(int((start + length) / width), first + count - 1)
            diff[first] += 1
            if last < count:
                diff[last + 1] -= 1
            else:
                diff[count] -= 1
                diff[0] += 1
                diff[last - count + 1] -= 1
        best, best_bin, running = -1, 0, 0
        for index in range(count):
            running += diff[index]
            if running > best:
                best, best_bin = running, index
        if best < self._agreement * len(windows):
            return None
        # every window laid next to that point (around it if it covers it, else on the nearer
        # side): the refresh came after the latest start and by the earliest end. When a
        # window lies wholly after the point, changes show up later than the point: the
        # refresh is spread over a stretch (a bulk loop that takes time), to be waited out.
        point = (best_bin + 0.5) * width
        period = self.period
        starts: list[float] = []
        ends: list[float] = []
        for start, length, _ in windows:
            unrolled = point - (point - start) % period  # in (point - period, point]
            short_of = point - (unrolled + length)  # > 0: the window ends before the point
            if short_of > 0 and short_of > unrolled + period - point:
                unrolled += period  # nearer as a window just after the point
            starts.append(unrolled)
            ends.append(unrolled + length)
        skip = 1 + int(self._outliers * len(starts))
        after = heapq.nlargest(skip, starts)[-1]
        by = heapq.nsmallest(skip, ends)[-1]
        done = max(after, by)
        return Refresh(period, done % period, done - min(after, by, done))

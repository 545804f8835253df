"""When to poll a task next.

What the gateway does (gateway-notes.md) decides it:
- the relay refreshes every task from Kling in one bulk loop about every 15 s (`relay_refresh`),
  so a GET shows news at most once per refresh, and a poll placed just after a refresh sees it
  soonest. When that refresh happens is learnt from the polls themselves (`RefreshClock`): a
  change seen between a poll sent at t1 and one answered at t2 means a refresh in (t1, t2].
  Once it is known, each poll goes just after the first refresh its previous poll could not
  have seen (one per whole number of refreshes nearest to the base interval), spread over a
  few seconds; a few extra polls (`probe`) keep testing what was learnt. Until then, and
  whenever the evidence thins out or stops agreeing, a task is polled every base interval,
  with jitter;
- a video takes one to several minutes, so a task's first poll waits for three quarters of
  the time the quickest recent tasks took (`FinishTimes`), at least the base interval and at most
  `first_after`; with no history yet, it is the base interval;
- with callbacks configured, a task for which a signed callback has come (`heard`: callbacks
  reach the bot for it) is polled only as a safety net for a lost callback
  (`safety_net`): when half and when nine tenths of recent tasks were done
  (`SAFETY_NET_SHARES` of `FinishTimes`), then every `CALLBACK_FALLBACK` base intervals. So is
  a task no callback has come for yet while callbacks reach the bot for others (one came in the
  last `CALLBACKS_ALIVE` slow periods: its own were lost, or it just started); otherwise it is
  polled as without callbacks, so a callback URL that does not reach the bot costs nothing but
  speed. A callback that says the task is done but not where
  its video is (`hinted`) makes it due at once; if that poll shows nothing new yet (the relay
  refreshes after Kling calls back), the next refresh or two are polled.

Errors back off exponentially, and a `Retry-After` from the gateway wins. No poll is ever
scheduled past the task's deadline, so a stuck task is declared timed out on time.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Protocol

from .refresh import Refresh, RefreshClock

MAX_ERROR_BACKOFF = 300.0
FIRST_POLL_SHARE = 0.75  # of the quickest recent finish time (its 10th percentile)
CALLBACK_FALLBACK = 6  # with callbacks heard, poll every this many base intervals...
SAFETY_NET_SHARES = (0.5, 0.9)  # ...after polls when these shares of recent tasks were done
CALLBACKS_ALIVE = 5  # callbacks count as reaching the bot this many slow periods after one
HINT_TRIES = 2  # refreshes polled after a callback whose first poll showed nothing new
PROBE_FRACTION = 0.03  # extra polls at other moments, to keep testing the learnt refresh...
PROBES_PER_REFRESH = 8  # ...but no more than this many per refresh, however many tasks there are


class RandomSource(Protocol):
    """What the schedule draws its jitter from (`random` itself, or a seeded `random.Random`)."""

    def random(self) -> float: ...

    def uniform(self, a: float, b: float) -> float: ...


class FinishTimes:
    """How long recent tasks took to finish, as seen by their polls.

    A new task's first poll waits for three quarters of the time the quickest recent tasks
    took (their 10th percentile), never less than the base interval and never more than the
    schedule's `first_after`. Until enough tasks have finished, it is the base interval: a
    gateway whose tasks finish in seconds is polled as often as the owner asked from the start.
    """

    def __init__(self, *, size: int = 256, min_samples: int = 8, quantile: float = 0.1) -> None:
        self._ages: deque[float] = deque(maxlen=size)
        self._min_samples = min_samples
        self._quantile = quantile
        self._cached: float | None = None

    def record(self, age: float) -> None:
        self._ages.append(age)
        self._cached = None

    def age_at(self, share: float) -> float | None:
        """The age by which `share` of the recent tasks were done, or None without evidence."""
        if len(self._ages) < self._min_samples:
            return None
        ordered = sorted(self._ages)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def quick(self) -> float | None:
        """The age by which the quickest recent tasks were done, or None without evidence."""
        if len(self._ages) < self._min_samples:
            return None
        if self._cached is None:
            ordered = sorted(self._ages)
            self._cached = ordered[int(self._quantile * (len(ordered) - 1))]
        return self._cached


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
        probe: float = PROBE_FRACTION,
        rng: RandomSource = random,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.first_after = first_after  # the most the first poll waits, once durations are known
        self.finish_times = FinishTimes()
        self.callbacks = callbacks
        self.jitter = jitter
        self._rng = rng  # jitter, spread and probes: the module's generator unless given one
        pace = interval
        self._pace = pace
        self._slow = interval * CALLBACK_FALLBACK  # the safety net's pace, once past its marks
        # Following the relay's refresh only pays when polls are about as far apart as its
        # refreshes; an owner who asked for fast polling gets fast polling.
        follow = relay_refresh > 0 and pace >= relay_refresh / 2
        self.refresh = RefreshClock(relay_refresh) if follow else None
        self._ticks = max(1, round(pace / relay_refresh)) if relay_refresh > 0 else 0
        # just after the refresh: a margin for the relay's own bulk loop, then a spread so that
        # thousands of tasks are not all asked for at the same instant
        self._margin = 0.05 * relay_refresh
        self._spread = 0.15 * relay_refresh
        self._probe = probe
        self._probe_chance = probe  # lowered when there are many polls (see _count_poll)
        self._counted_since = -math.inf
        self._counted = 0
        self._sent: dict[str, float] = {}  # task -> when its last poll was sent
        self._hints: dict[str, tuple[float, int]] = {}  # task -> (when, refreshes left to try)
        self._heard: dict[str, float] = {}  # task -> its created_at: callbacks reach us for it
        self._last_heard = -math.inf  # when a callback last came, for any task
        self._marks: tuple[float, tuple[float, ...]] = (-math.inf, ())  # (when, ages) cached
        self._next_prune = -math.inf

    # --- learning -------------------------------------------------------------------------------

    def observe(self, task_id: str, *, sent: float, received: float, changed: bool) -> None:
        """A poll of `task_id` sent at `sent` answered at `received`; `changed`: its state or
        progress differed from the previous poll's."""
        previous = self._sent.get(task_id)
        self._sent[task_id] = sent
        self._count_poll(sent)
        if changed and previous is not None and self.refresh is not None:
            self.refresh.add_change(previous, received)
        if changed:
            self._hints.pop(task_id, None)

    def _count_poll(self, now: float) -> None:
        """Count polls, to keep the probes to about PROBES_PER_REFRESH per refresh: enough to
        keep the learnt refresh honest, a negligible share of the requests at scale."""
        if self.refresh is None:
            return
        period = self.refresh.period
        elapsed = now - self._counted_since
        if elapsed >= 4 * period or elapsed < 0:
            if 0 < elapsed < math.inf:
                per_refresh = self._counted * period / elapsed
                self._probe_chance = min(self._probe, PROBES_PER_REFRESH / max(per_refresh, 1))
            self._counted_since, self._counted = now, 0
        self._counted += 1

    def hinted(self, task_id: str, now: float, *, result_expected: bool = True) -> None:
        """A callback said the task changed (it is polled at once by the service). If that
        poll shows nothing new and a result was expected, the next refreshes are polled too;
        otherwise (a queued task: "submitted" or "processing") the slow pace goes on."""
        self._hints[task_id] = (now, HINT_TRIES if result_expected else 0)

    def heard(self, task_id: str, *, created_at: float, now: float) -> None:
        """A signed callback came for the task: from now on it is polled as a safety net."""
        if self.callbacks:
            self._heard[task_id] = created_at
            self._last_heard = max(self._last_heard, now)

    def callbacks_alive(self, now: float) -> bool:
        """Whether callbacks reach the bot: one came (for any task) not long ago."""
        return self.callbacks and now - self._last_heard <= CALLBACKS_ALIVE * self._slow

    def is_heard(self, task_id: str) -> bool:
        return task_id in self._heard

    def hinted_since(self, task_id: str, moment: float) -> bool:
        """Whether a callback for the task came after `moment` (a poll sent then may have
        missed what it announced)."""
        hint = self._hints.get(task_id)
        return hint is not None and hint[0] > moment

    def forget(self, task_id: str) -> None:
        """The task is no longer polled."""
        self._sent.pop(task_id, None)
        self._hints.pop(task_id, None)
        self._heard.pop(task_id, None)

    def prune(self, now: float, max_age: float) -> None:
        """Drop what is kept about tasks not polled for `max_age` seconds (cancelled ones, say).
        Cheap to call often: the work is done at most every quarter of `max_age`."""
        if now < self._next_prune:
            return
        self._next_prune = now + max_age / 4
        for task_id in [t for t, sent in self._sent.items() if sent < now - max_age]:
            self.forget(task_id)
        for task_id in [t for t, created in self._heard.items() if created < now - max_age]:
            self.forget(task_id)

    # --- times ----------------------------------------------------------------------------------

    def finished(self, age: float) -> None:
        """A task was seen finished `age` seconds after it was sent."""
        self.finish_times.record(age)

    def first_delay(self) -> float:
        """How long a new task waits for its first poll (see FinishTimes)."""
        quick = self.finish_times.quick()
        if quick is None:
            return self.interval
        return max(self.interval, min(self.first_after, quick * FIRST_POLL_SHARE))

    def first(self, now: float, deadline: float) -> float:
        """A task just sent: its first poll comes when the quickest videos are usually done
        (while callbacks reach the bot: the safety net's first poll)."""
        if self.callbacks_alive(now):
            return self._net(now, now, deadline)
        delay = self.first_delay()
        refresh = self._refresh(now)
        if refresh is None:
            return self._clamp(now + delay * self._jittered(), deadline)
        return self._clamp(self._slot(refresh, now + delay), deadline)

    def after_success(
        self,
        now: float,
        deadline: float,
        task_id: str | None = None,
        *,
        sent: float | None = None,
        created_at: float | None = None,
    ) -> float:
        """After a poll (sent at `sent`, answered by `now`) that showed the task unfinished.

        With the refresh learnt, the next poll goes just after the next refresh the poll could
        not have seen (then one per `_ticks` refreshes): counted from when the poll was sent,
        so a poll answered late does not skip a refresh."""
        refresh = self._refresh(now)
        seen = now if sent is None else sent
        if task_id is not None and self._take_hint_try(task_id):
            # a callback announced news this poll did not show yet: look at the next refresh
            if refresh is not None:
                return self._clamp(self._slot(refresh, seen), deadline)
            return self._clamp(now + self.interval * self._jittered(), deadline)
        if task_id is not None and task_id in self._heard:
            return self.safety_net(task_id, now, deadline)
        if created_at is not None and self.callbacks_alive(now):
            return self._net(created_at, now, deadline)
        if refresh is None:
            return self._clamp(now + self._pace * self._jittered(), deadline)
        earliest = seen + (self._ticks - 1) * refresh.period
        return self._clamp(self._slot(refresh, earliest), deadline)

    def safety_net(self, task_id: str, now: float, deadline: float) -> float:
        """The next poll of a task callbacks reach us for: only in case one is lost. At the
        next of the ages by which half and nine tenths of recent tasks were done (few tasks
        are still unfinished by then, so few are polled for nothing), then at the slow pace."""
        created = self._heard.get(task_id)
        if created is None:
            return self._clamp(now + self._slow * self._jittered(), deadline)
        return self._net(created, now, deadline)

    def deferred(
        self, task_id: str, now: float, deadline: float, created: float, scheduled: float
    ) -> float | None:
        """For a task due now on the safety net (scheduled at `scheduled`, before what was
        learnt since, e.g. with no finish times yet): a later moment when polling it is worth a
        request, or None to poll it now. Only while a mark of the net lies ahead and none has
        passed since it was scheduled (a poll due at a mark, or at the slow pace, goes)."""
        if task_id in self._hints or not (task_id in self._heard or self.callbacks_alive(now)):
            return None
        created = self._heard.get(task_id, created)
        marks = [created + age for age in self._safety_marks(now)]
        if not marks or any(scheduled < mark <= now for mark in marks):
            return None
        upcoming = [mark for mark in marks if mark > now + self.interval]
        if not upcoming:
            return None
        return self._net(created, now, deadline)

    def _net(self, created: float, now: float, deadline: float) -> float:
        upcoming = [created + age for age in self._safety_marks(now) if created + age > now]
        when = min(upcoming) if upcoming else now + self._slow * self._jittered()
        refresh = self._refresh(now)
        if refresh is not None:
            when = self._slot(refresh, when)
        return self._clamp(when, deadline)

    def _safety_marks(self, now: float) -> tuple[float, ...]:
        when, marks = self._marks
        if now - when >= self.interval or now < when:  # recomputed at most once an interval
            ages = (self.finish_times.age_at(share) for share in SAFETY_NET_SHARES)
            marks = tuple(age for age in ages if age is not None)
            self._marks = (now, marks)
        return marks

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
        if tries <= 0:  # kept for hinted_since until the task changes or is forgotten
            return False
        self._hints[task_id] = (when, tries - 1)
        return True

    def _slot(self, refresh: Refresh, earliest: float) -> float:
        """A moment just after the first refresh surely done after `earliest`; for a few polls
        (`probe`), an extra poll at any moment before that, so that what was learnt keeps being
        tested from both sides (the task's next poll is then still that slot)."""
        done_by = refresh.next_after(earliest)
        if done_by == earliest:  # a poll sent at that very moment has seen it
            done_by += refresh.period
        if self._rng.random() < self._probe_chance:
            return self._rng.uniform(earliest, done_by + self._margin)
        return done_by + self._margin + self._rng.uniform(0, self._spread)

    def _jittered(self) -> float:
        return 1 + self._rng.uniform(-self.jitter, self.jitter)

    @staticmethod
    def _clamp(when: float, deadline: float) -> float:
        return min(when, deadline)

"""PollSchedule and RefreshClock: what they decide, from the evidence they are given."""

from __future__ import annotations

import random

import pytest

from videojobs.refresh import RefreshClock
from videojobs.schedule import CALLBACK_FALLBACK, CALLBACKS_ALIVE, PROBES_PER_REFRESH, PollSchedule

PERIOD = 15.0
TICK = 4.0  # the relay refreshes at 4 s, 19 s, 34 s, ... (mod 15)
T0 = 1_770_000_000.0 - (1_770_000_000.0 % PERIOD)  # a multiple of the period


def refresh_times(start: float, end: float) -> list[float]:
    first = T0 + TICK + PERIOD * ((start - T0 - TICK) // PERIOD + 1)
    times = []
    while first <= end:
        times.append(first)
        first += PERIOD
    return times


def teach(clock: RefreshClock | PollSchedule, windows: int = 100, seed: int = 3) -> float:
    """Feed change windows of polls ~10 s apart, each containing a refresh; returns 'now'."""
    rng = random.Random(seed)
    t = T0 + 100.0
    for n in range(windows):
        sent = t + rng.uniform(0, 10)
        received = sent + rng.uniform(5, 10)
        if not refresh_times(sent, received):
            continue  # no refresh between them: nothing could have changed
        if isinstance(clock, RefreshClock):
            clock.add_change(sent, received)
        else:
            clock.observe(f"task{n}", sent=sent, received=sent + 0.1, changed=False)
            clock.observe(f"task{n}", sent=received - 0.1, received=received, changed=True)
        t += 12.0
    return t


def assert_just_after_a_refresh(when: float, schedule: PollSchedule) -> None:
    since = (when - T0 - TICK) % PERIOD
    assert 0 <= since <= 0.35 * PERIOD, f"{since:.2f} s after the refresh"


def test_refresh_clock_learns_the_phase_from_changes() -> None:
    clock = RefreshClock(PERIOD)
    now = teach(clock)
    refresh = clock.estimate(now)
    assert refresh is not None
    assert refresh.uncertainty < 3.0
    # the refresh surely happened by the learnt phase, and not long before it
    assert 0 <= (refresh.phase - TICK) % PERIOD < 3.0
    assert (refresh.next_after(now) - T0 - TICK) % PERIOD < 3.0


def test_refresh_clock_needs_enough_evidence() -> None:
    clock = RefreshClock(PERIOD)
    now = teach(clock, windows=4)
    assert clock.estimate(now) is None


def test_refresh_clock_gives_up_when_changes_come_at_any_time() -> None:
    """A relay without a steady refresh: windows that share no common moment."""
    clock = RefreshClock(PERIOD)
    rng = random.Random(5)
    t = T0
    for _ in range(200):
        sent = t + rng.uniform(0, PERIOD)
        clock.add_change(sent, sent + rng.uniform(0.5, 3))
        t += 7.0
    assert clock.estimate(t) is None


def test_refresh_clock_forgets_old_evidence() -> None:
    clock = RefreshClock(PERIOD)
    now = teach(clock)
    assert clock.estimate(now) is not None
    assert clock.estimate(now + 200 * PERIOD) is None


def test_windows_of_a_period_or_more_say_nothing() -> None:
    clock = RefreshClock(PERIOD)
    for n in range(100):
        clock.add_change(T0 + n * PERIOD, T0 + (n + 1) * PERIOD + 0.5)
    assert clock.evidence(T0 + 101 * PERIOD) == 0


def test_first_poll_is_the_interval_until_durations_are_known() -> None:
    """With no finished task seen yet, the first poll comes after the base interval."""
    schedule = PollSchedule(10, relay_refresh=PERIOD, first_after=60, jitter=0.1)
    assert T0 + 9 <= schedule.first(T0, deadline=T0 + 1800) <= T0 + 11
    assert schedule.first(T0, deadline=T0 + 5) == T0 + 5


def test_first_poll_waits_for_the_quickest_recent_videos_up_to_a_cap() -> None:
    """Once tasks are seen to take minutes, the first poll waits 3/4 of the quickest time
    (capped); when they take seconds, it stays at the interval."""
    slow = PollSchedule(10, relay_refresh=0, first_after=60, jitter=0.1)
    for age in range(40, 300, 10):
        slow.finished(age)
    assert slow.first_delay() == 45  # 3/4 of the 10th percentile, 60 s
    for age in range(200, 400, 5):
        slow.finished(age)
    assert slow.first_delay() == 60  # capped at first_after
    fast = PollSchedule(10, relay_refresh=0, first_after=60)
    for age in (3, 4, 5, 6, 7, 8, 9, 10):
        fast.finished(age)
    assert fast.first_delay() == 10


def test_fast_polling_does_not_follow_the_relay() -> None:
    """An owner's short interval is kept: the 15 s refresh is not followed."""
    assert PollSchedule(1, relay_refresh=PERIOD).refresh is None
    assert PollSchedule(10, relay_refresh=PERIOD).refresh is not None


def test_without_a_learnt_refresh_polls_every_interval() -> None:
    schedule = PollSchedule(10, relay_refresh=PERIOD, jitter=0.1)
    for _ in range(20):
        assert T0 + 9 <= schedule.after_success(T0, T0 + 1800) <= T0 + 11


def test_learnt_refresh_puts_polls_just_after_each_refresh() -> None:
    schedule = PollSchedule(10, relay_refresh=PERIOD, probe=0)
    now = teach(schedule)
    for age in range(120, 300, 10):
        schedule.finished(age)
    first = schedule.first(now, now + 1800)
    assert first >= now + 60
    assert_just_after_a_refresh(first, schedule)
    poll = first
    for _ in range(5):  # one poll per refresh: the interval rounded to whole refreshes
        following = schedule.after_success(poll, poll + 1800)
        assert_just_after_a_refresh(following, schedule)
        assert 0.5 * PERIOD < following - poll < 1.5 * PERIOD
        poll = following
    assert schedule.after_success(poll, deadline=poll + 1) == poll + 1


def test_longer_interval_polls_every_few_refreshes() -> None:
    schedule = PollSchedule(30, relay_refresh=PERIOD, probe=0)
    now = teach(schedule)
    following = schedule.after_success(now, now + 1800)
    assert_just_after_a_refresh(following, schedule)
    assert 1.5 * PERIOD < following - now < 2.5 * PERIOD


def test_with_callbacks_a_task_not_heard_from_is_polled_as_without() -> None:
    """Until a callback comes for a task, callbacks may not reach the bot: normal polling."""
    with_callbacks = PollSchedule(10, relay_refresh=PERIOD, callbacks=True, probe=0)
    now = teach(with_callbacks)
    following = with_callbacks.after_success(now, now + 3600, "t")
    assert_just_after_a_refresh(following, with_callbacks)
    assert following - now <= PERIOD * 1.35


def test_a_heard_task_is_polled_as_a_slow_safety_net() -> None:
    """Once a callback came for a task, it is polled only at the slow pace."""
    schedule = PollSchedule(10, relay_refresh=PERIOD, callbacks=True, probe=0)
    now = teach(schedule)
    schedule.heard("t", created_at=now - 30, now=now)
    following = schedule.after_success(now, now + 3600, "t")
    assert following - now >= (CALLBACK_FALLBACK * 10) * 0.9
    assert_just_after_a_refresh(following, schedule)
    assert schedule.safety_net("t", now, now + 5) == now + 5  # never past the deadline


def test_the_safety_net_polls_when_most_tasks_are_done() -> None:
    """With finish times known, a heard task is polled when half, then nine tenths, of
    recent tasks were done, then at the slow pace."""
    schedule = PollSchedule(10, relay_refresh=0, callbacks=True, jitter=0)
    for age in range(100, 300, 2):  # tasks took 100-298 s
        schedule.finished(float(age))
    created = T0
    schedule.heard("t", created_at=created, now=T0)
    first = schedule.safety_net("t", created + 20, created + 3600)
    assert 195 <= first - created <= 205  # half were done by ~200 s
    second = schedule.after_success(first, created + 3600, "t")
    assert 275 <= second - created <= 285  # nine tenths by ~280 s
    third = schedule.after_success(second, created + 3600, "t")
    assert third - second == CALLBACK_FALLBACK * 10


def test_while_callbacks_reach_the_bot_a_task_not_heard_from_is_on_the_safety_net() -> None:
    """Its own callbacks were lost (or it just started) but others' come: the safety net;
    once no callback has come for a while, normal polling again."""
    schedule = PollSchedule(10, relay_refresh=0, callbacks=True, jitter=0)
    for age in range(100, 300, 2):
        schedule.finished(float(age))
    schedule.heard("other", created_at=T0, now=T0 + 20)
    assert schedule.callbacks_alive(T0 + 30)
    assert 195 <= schedule.first(T0 + 30, T0 + 3600) - (T0 + 30) <= 205  # at the first mark
    polled = schedule.after_success(T0 + 50, T0 + 3600, "quiet", created_at=T0)
    assert 195 <= polled - T0 <= 205
    later = T0 + 20 + CALLBACKS_ALIVE * CALLBACK_FALLBACK * 10 + 1
    assert not schedule.callbacks_alive(later)
    assert schedule.after_success(later, later + 3600, "quiet", created_at=T0) == later + 10


def test_a_safety_net_poll_planned_before_anything_was_learnt_is_put_off() -> None:
    """Heard before any finish time was known (after a restart): its poll at the slow pace is
    put off to the first mark once marks are known; a poll due at a mark is not."""
    schedule = PollSchedule(10, relay_refresh=0, callbacks=True, jitter=0)
    schedule.heard("t", created_at=T0, now=T0 + 5)
    assert schedule.deferred("t", T0 + 65, T0 + 3600, T0, T0 + 5) is None  # nothing learnt
    for age in range(100, 300, 2):
        schedule.finished(float(age))
    later = schedule.deferred("t", T0 + 80, T0 + 3600, T0, T0 + 5)  # marks: once an interval
    assert later is not None and 195 <= later - T0 <= 205
    assert schedule.deferred("t", T0 + 201, T0 + 3600, T0, T0 + 65) is None  # at its mark
    assert schedule.deferred("t", T0 + 400, T0 + 3600, T0, T0 + 300) is None  # slow pace
    assert schedule.deferred("other", T0 + 80, T0 + 3600, T0, T0 + 5) is not None  # alive
    schedule.hinted("t", T0 + 60)
    assert schedule.deferred("t", T0 + 80, T0 + 3600, T0, T0 + 5) is None  # asked to poll


def test_heard_means_nothing_without_callbacks() -> None:
    schedule = PollSchedule(10, relay_refresh=0, callbacks=False, jitter=0)
    schedule.heard("t", created_at=T0, now=T0)
    assert not schedule.is_heard("t")
    assert schedule.after_success(T0, T0 + 3600, "t") == T0 + 10


def test_a_callback_whose_poll_showed_nothing_is_followed_by_the_next_refreshes() -> None:
    """The relay may refresh after Kling calls back: the next refresh or two are polled."""
    schedule = PollSchedule(10, relay_refresh=PERIOD, callbacks=True, probe=0)
    now = teach(schedule)
    schedule.heard("t", created_at=now - 30, now=now)
    schedule.hinted("t", now)
    assert schedule.hinted_since("t", now - 1) and not schedule.hinted_since("t", now + 1)
    schedule.observe("t", sent=now, received=now + 0.1, changed=False)
    nxt = schedule.after_success(now + 0.1, now + 3600, "t")
    assert nxt - now <= PERIOD * 1.35
    assert_just_after_a_refresh(nxt, schedule)
    schedule.observe("t", sent=nxt, received=nxt + 0.1, changed=True)  # there it is
    assert schedule.after_success(nxt, nxt + 3600, "t") - nxt >= CALLBACK_FALLBACK * 10 * 0.9


@pytest.mark.parametrize("retry_after", [None, 120.0])
def test_errors_back_off_and_honour_retry_after(retry_after: float | None) -> None:
    schedule = PollSchedule(10, relay_refresh=PERIOD, probe=0)
    teach(schedule)
    after_one = schedule.after_error(T0, T0 + 3600, 1, retry_after)
    after_three = schedule.after_error(T0, T0 + 3600, 3, retry_after)
    assert after_one - T0 >= 18 and after_three - T0 >= 72
    if retry_after:
        assert after_one - T0 >= retry_after * 0.9
    assert schedule.after_error(T0, T0 + 5, 9, retry_after) == T0 + 5


def test_forgetting_a_task_drops_what_was_kept_about_it() -> None:
    schedule = PollSchedule(10, relay_refresh=PERIOD, probe=0)
    schedule.observe("a", sent=T0, received=T0 + 0.1, changed=False)
    schedule.observe("b", sent=T0 + 100, received=T0 + 100.1, changed=False)
    schedule.hinted("a", T0 + 1)
    schedule.prune(T0 + 150, max_age=100)
    assert not schedule.hinted_since("a", T0)
    schedule.observe("b", sent=T0 + 105, received=T0 + 105.1, changed=True)
    assert schedule.refresh is not None and schedule.refresh.evidence(T0 + 106) > 0


def test_a_poll_answered_late_does_not_skip_a_refresh() -> None:
    """The next poll counts from when the poll was sent, not from when its answer came."""
    schedule = PollSchedule(10, relay_refresh=PERIOD, probe=0)
    now = teach(schedule)
    refresh = schedule.refresh.estimate(now) if schedule.refresh else None
    assert refresh is not None
    sent = refresh.next_after(now) + 0.5  # just after a refresh
    following = schedule.after_success(sent + 0.8 * PERIOD, sent + 1800, sent=sent)
    assert following - sent < 1.35 * PERIOD
    assert_just_after_a_refresh(following, schedule)


def test_probes_are_extra_polls_before_the_next_slot() -> None:
    schedule = PollSchedule(10, relay_refresh=PERIOD, probe=1.0)
    now = teach(schedule)
    aligned = PollSchedule(10, relay_refresh=PERIOD, probe=0)
    teach(aligned)
    latest = aligned.after_success(now, now + 1800) + 0.35 * PERIOD
    for _ in range(50):
        assert now <= schedule.after_success(now, now + 1800) <= latest


def test_a_refresh_spread_over_a_stretch_is_waited_out() -> None:
    """Changes that show up over 5 s after each refresh: the learnt phase is the end of it."""
    clock = RefreshClock(PERIOD)
    rng = random.Random(11)
    t = T0 + 100.0
    for _ in range(400):
        flip = refresh_times(t, t + PERIOD)[0] + rng.uniform(0, 5)
        sent = flip - rng.uniform(0.1, 6)
        clock.add_change(sent, flip + rng.uniform(0.1, 6))
        t += 3.7
    refresh = clock.estimate(t)
    assert refresh is not None
    assert 4.0 <= (refresh.phase - TICK) % PERIOD <= 7.0


def test_probes_stay_few_when_there_are_many_polls() -> None:
    """About PROBES_PER_REFRESH per refresh, however many tasks are polled."""
    schedule = PollSchedule(10, relay_refresh=PERIOD, probe=1.0)
    now = teach(schedule)
    for n in range(4000):  # a thousand polls per refresh
        moment = now + n * 4 * PERIOD / 4000
        schedule.observe(f"busy{n}", sent=moment, received=moment + 0.1, changed=False)
    now += 4 * PERIOD + 0.1
    schedule.observe("last", sent=now, received=now, changed=False)
    refresh = schedule.refresh.estimate(now) if schedule.refresh else None
    assert refresh is not None
    aligned_from = refresh.next_after(now)
    probes = sum(schedule.after_success(now, now + 1800) < aligned_from for _ in range(1000))
    assert probes < 5 * PROBES_PER_REFRESH


def test_the_random_source_is_injectable() -> None:
    """Jitter comes from the generator the schedule is given (not the global one): equally
    seeded generators place polls identically, another seed elsewhere."""

    def polls(seed: int) -> list[float]:
        schedule = PollSchedule(10.0, relay_refresh=0, rng=random.Random(seed))
        return [schedule.after_success(T0 + 60 * n, T0 + 1e6, f"t{n}", sent=T0) for n in range(5)]

    state = random.getstate()
    assert polls(1) == polls(1)
    assert polls(1) != polls(2)
    assert random.getstate() == state

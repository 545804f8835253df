"""Waiting for the gateway, on fakes: a create that surely did not reach it leaves the task
waiting (in the store), probed one at a time with backoff, sent once when the gateway answers,
failed only at its deadline; a create that may have reached it is never sent again."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from tests.fakes import FakeGateway
from videojobs.errors import GatewayError, RequestRejected
from videojobs.models import GenerationRequest, Requester, TaskSnapshot, TaskState, VideoTask
from videojobs.waiting import MAY_HAVE_STARTED_REASON, Backoff

from .harness import ALICE, BOB, REQUEST, Harness

UNREACHABLE = GatewayError(
    "The video gateway is down or unreachable right now.", retryable=True, code="unreachable"
)
NO_ANSWER = GatewayError(
    "The video gateway did not answer in time.",
    retryable=True,
    may_have_reached=True,
    code="timeout",
)


class OutageGateway(FakeGateway):
    """Refuses every create with `error` until the clock reaches `until`; records each try."""

    def __init__(self, harness: Harness, error: GatewayError, until: float) -> None:
        super().__init__()
        self.harness = harness
        self.error = error
        self.until = until
        self.tries: list[tuple[float, str]] = []  # (when, our task id)

    async def create(self, request: GenerationRequest) -> TaskSnapshot:
        now = self.harness.clock.now()
        self.tries.append((now, request.external_task_id or ""))
        if now < self.until:
            raise self.error
        return await super().create(request)

    def tries_of(self, task_id: str) -> int:
        return sum(1 for _, tid in self.tries if tid == task_id)


def outage(h: Harness, seconds: float, error: GatewayError = UNREACHABLE) -> OutageGateway:
    gateway = OutageGateway(h, error, h.clock.now() + seconds)
    h.gateway = gateway
    h.service = h.new_service()
    return gateway


def members(count: int) -> list[Requester]:
    return [dataclasses.replace(ALICE, user_id=100 + i) for i in range(count)]


async def stored(h: Harness, task: VideoTask) -> VideoTask:
    found = await h.store.get(task.id)
    assert found is not None
    return found


async def test_unreachable_gateway_leaves_the_task_waiting(h: Harness) -> None:
    """The task is not failed: it waits (queued, saying why), then is sent once and delivered."""
    gateway = outage(h, 20)
    task = await h.service.admit_and_send(REQUEST, ALICE)
    assert task.state is TaskState.PENDING and task.waiting
    assert task.status_label == "queued (waiting for the video service)"
    assert task.send_after is not None and task.send_after > h.clock.now()
    await h.service.drain()
    assert (task.id, TaskState.PENDING, 0) in h.notifier.progress_updates
    await h.run_until_idle()
    done = await stored(h, task)
    assert done.state is TaskState.COMPLETED and not done.waiting
    assert len(gateway.created) == 1
    assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]


async def test_one_probe_at_a_time_while_the_gateway_is_down() -> None:
    """Five tasks wait through a three-minute outage: only the oldest is tried meanwhile, the
    others follow once it gets through, each created exactly once."""
    h = Harness(max_active=0, max_daily=0)
    gateway = outage(h, 180)
    tasks = [await h.service.admit_and_send(REQUEST, m) for m in members(5)]
    await h.run_until_idle()
    during = [tid for when, tid in gateway.tries if when < gateway.until]
    assert set(during) == {tasks[0].id}
    assert [r.external_task_id for r in gateway.created] == [t.id for t in tasks]
    for task in tasks:
        assert (await stored(h, task)).state is TaskState.COMPLETED
        assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]
    # backoff: a three-minute outage costs a handful of probes, not one per second per task
    assert len(during) <= 12


async def test_probes_back_off_up_to_the_cap() -> None:
    """The wait between probes grows, and never passes the cap (60 s at the default)."""
    h = Harness()
    gateway = outage(h, 600)
    await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    times = [when for when, _ in gateway.tries if when < gateway.until]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 60.001
    assert gaps[-1] >= 30  # grown to the cap's range
    assert gaps[0] <= 1.001


async def test_retry_after_is_honoured() -> None:
    """A 429 asking for 5 s: the next try is not before 5 s."""
    h = Harness()
    busy = GatewayError("busy", retryable=True, status=429, retry_after=5.0)
    gateway = outage(h, 12, busy)
    await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    times = [when for when, _ in gateway.tries]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps and all(gap >= 5.0 for gap in gaps)
    assert len(gateway.created) == 1


async def test_create_that_may_have_reached_is_never_sent_again(h: Harness) -> None:
    """No answer in time: the task may exist upstream; it fails with a Retry hint, once."""
    gateway = outage(h, 1, NO_ANSWER)
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    done = await stored(h, task)
    assert done.state is TaskState.FAILED
    assert done.failure_reason == MAY_HAVE_STARTED_REASON
    assert gateway.tries_of(task.id) == 1
    assert h.notifier.delivered(task.id) == [TaskState.FAILED]


async def test_deadline_passed_while_waiting_fails_once_with_the_reason() -> None:
    """The gateway stays down past TASK_TIMEOUT_MINUTES: one failure, saying why."""
    h = Harness(task_timeout=600.0)
    gateway = outage(h, 10_000)
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle(passes=500)
    done = await stored(h, task)
    assert done.state is TaskState.FAILED
    assert "could not be reached for 10 minutes" in (done.failure_reason or "")
    assert "down or unreachable" in (done.failure_reason or "")
    assert done.finished_at is not None and done.finished_at <= done.deadline_at + 1
    assert h.notifier.delivered(task.id) == [TaskState.FAILED]
    assert gateway.created == []


async def test_new_tasks_queue_behind_waiting_ones() -> None:
    """A task arriving during the outage is not sent before the one already waiting."""
    h = Harness(max_active=0, max_daily=0)
    gateway = outage(h, 30)
    first = await h.service.admit_and_send(REQUEST, ALICE)
    h.clock.advance(5)
    second = await h.service.admit_and_send(REQUEST, BOB)
    assert second.waiting
    assert gateway.tries_of(second.id) == 0
    await h.run_until_idle()
    assert [r.external_task_id for r in gateway.created] == [first.id, second.id]


async def test_the_wait_survives_a_restart() -> None:
    """Waiting tasks are in the store: a new process takes up the wait and sends each once."""
    h = Harness(max_active=0, max_daily=0)
    gateway = outage(h, 60)
    tasks = [await h.service.admit_and_send(REQUEST, m) for m in members(3)]
    h.clock.advance(10)
    await h.service.run_pass()
    await h.service.drain()
    h.service = h.new_service()  # the process died; a new one on the same store
    report = await h.service.recover()
    assert (report.pending, report.waiting, report.interrupted) == (3, 3, 0)
    await h.run_until_idle()
    assert sorted(r.external_task_id or "" for r in gateway.created) == sorted(t.id for t in tasks)
    for task in tasks:
        assert h.notifier.delivered(task.id) == [TaskState.COMPLETED]


async def test_waiting_tasks_count_against_the_limits() -> None:
    """A waiting task is unfinished: it holds one of the member's active slots."""
    h = Harness(max_active=1)
    outage(h, 60)
    await h.service.admit_and_send(REQUEST, ALICE)
    with pytest.raises(RequestRejected, match="in progress"):
        await h.service.admit(REQUEST, ALICE)


async def test_a_cancelled_waiting_task_is_never_sent(h: Harness) -> None:
    """Cancel works while a task waits, and it is not sent when the gateway comes back."""
    gateway = outage(h, 30)
    task = await h.service.admit_and_send(REQUEST, ALICE)
    await h.service.cancel(task.short_id, ALICE)
    await h.run_until_idle()
    assert gateway.created == []
    assert (await stored(h, task)).state is TaskState.CANCELLED


async def test_a_refusal_during_the_wait_ends_the_task() -> None:
    """A probe refused for good (say the key was revoked meanwhile) fails the task at once."""
    h = Harness()
    gateway = outage(h, 5)
    task = await h.service.admit_and_send(REQUEST, ALICE)
    gateway.error = GatewayError("The gateway rejected the bot's API key.", retryable=False)
    gateway.until = 10**12
    await h.run_until_idle()
    done = await stored(h, task)
    assert done.state is TaskState.FAILED
    assert done.failure_reason == "The gateway rejected the bot's API key."
    assert gateway.tries_of(task.id) == 2


# --- the backoff on its own --------------------------------------------------------------------


def test_backoff_doubles_to_a_minute_with_jitter() -> None:
    """Waits double from about a second to a minute; jitter keeps them between half and all
    of each step."""
    backoff = Backoff()
    lows = [backoff.delay(n, rng=lambda: 0.0) for n in range(1, 10)]
    highs = [backoff.delay(n, rng=lambda: 1.0) for n in range(1, 10)]
    assert highs[0] == pytest.approx(60 / 64)
    assert highs[-1] == pytest.approx(60.0)
    assert all(low == pytest.approx(high / 2) for low, high in zip(lows, highs, strict=True))
    assert highs == sorted(highs)


def test_backoff_honours_retry_after() -> None:
    """A Retry-After is waited in full, plus a little jitter."""
    assert 5.0 <= Backoff().delay(1, 5.0) <= 5.5


def test_backoff_shrinks_with_a_short_task_timeout() -> None:
    """With TASK_TIMEOUT_MINUTES=1, no wait exceeds two seconds (a thirtieth)."""
    assert Backoff.for_timeout(60.0).cap == pytest.approx(2.0)
    assert Backoff.for_timeout(30 * 60.0).cap == pytest.approx(60.0)
    assert Backoff.for_timeout(24 * 3600.0).cap == pytest.approx(60.0)

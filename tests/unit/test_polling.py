"""A polling pass on fakes: what it writes, and what a cancel or a callback during it does."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import pytest

from tests.fakes import FakeGateway, MemoryStore, RecordingNotifier
from tests.support.clock import FakeClock
from videojobs.errors import GatewayError
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import Requester, TaskSnapshot, TaskState, VideoRequest, VideoTask
from videojobs.policy import BotDefaults, Policies
from videojobs.service import VideoJobsService

ALICE = Requester(user_id=1, guild_id=100, channel_id=500)
REQUEST = VideoRequest(prompt="a heron in the fog", model="kling-v3")


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.updates = 0
        self.batches: list[int] = []

    async def update(
        self, task: VideoTask, *, expect_states: Collection[TaskState] | None = None
    ) -> bool:
        self.updates += 1
        return await super().update(task, expect_states=expect_states)

    async def update_many(
        self, tasks: Sequence[VideoTask], *, expect_states: Collection[TaskState] | None = None
    ) -> int:
        self.batches.append(len(tasks))
        written = 0
        for task in tasks:
            written += await MemoryStore.update(self, task, expect_states=expect_states)
        return written


def make(**config: object) -> tuple[VideoJobsService, CountingStore, FakeGateway, FakeClock]:
    clock, store, gateway = FakeClock(), CountingStore(), FakeGateway()
    settings = ServiceConfig(**config)  # type: ignore[arg-type]
    rules = Policies(store, BotDefaults(max_active=0, max_daily=0), clock)
    service = VideoJobsService(
        Lifecycle(store, gateway, RecordingNotifier(), settings, clock), policies=rules
    )
    return service, store, gateway, clock


async def test_first_poll_waits_once_videos_are_known_to_take_minutes() -> None:
    """The first task is polled after the interval; once tasks took minutes, new ones wait."""
    service, _, _, clock = make(first_poll_after=60.0)
    first = await service.admit_and_send(REQUEST, ALICE)
    assert first.next_poll_at - clock.t <= 11
    for _ in range(8):
        service.schedule.finished(150.0)
    task = await service.admit_and_send(REQUEST, ALICE)
    assert task.next_poll_at - clock.t >= 54


async def test_polls_that_finish_nothing_are_written_in_one_batch() -> None:
    service, store, gateway, clock = make()
    gateway.default_script = ["queued", "running"]
    tasks = [await service.admit_and_send(REQUEST, ALICE) for _ in range(3)]
    clock.t = max(t.next_poll_at for t in tasks)
    store.updates = 0
    assert await service.poll_due() == (3, 0, 0)
    assert store.batches == [3] and store.updates == 0
    for task in tasks:
        stored = await store.get(task.id)
        assert stored is not None and stored.next_poll_at > clock.t


async def test_a_task_cancelled_while_its_poll_is_on_the_wire_stays_cancelled() -> None:
    service, store, gateway, clock = make()
    task = await service.admit_and_send(REQUEST, ALICE)
    fetch = gateway.fetch

    async def cancelling_fetch(task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        await service.cancel(task.short_id, ALICE)
        return await fetch(task_id, request=request)

    gateway.fetch = cancelling_fetch  # type: ignore[method-assign]
    clock.t = task.next_poll_at
    await service.poll_due()
    await service.drain()
    stored = await store.get(task.id)
    assert stored is not None and stored.state is TaskState.CANCELLED


async def test_a_callback_during_a_poll_makes_the_task_due_again() -> None:
    """The poll may have been answered before the news it announced; it is polled again."""
    service, store, gateway, clock = make(callback_url="https://bot.example/kling")
    task = await service.admit_and_send(REQUEST, ALICE)
    fetch = gateway.fetch

    async def fetch_then_callback(task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        snapshot = await fetch(task_id, request=request)
        clock.advance(0.5)
        assert await service.hint(task.id)
        return snapshot

    gateway.fetch = fetch_then_callback  # type: ignore[method-assign]
    clock.t = task.next_poll_at
    await service.poll_due()
    stored = await store.get(task.id)
    assert stored is not None and stored.next_poll_at <= clock.t


async def test_a_callback_for_a_running_task_polls_it_at_once() -> None:
    """A running task announced by a callback is most likely finished: it is polled right
    away, not at the poller's next pass."""
    service, store, gateway, clock = make(callback_url="https://bot.example/kling")
    gateway.default_script = ["running", "completed"]
    task = await service.admit_and_send(REQUEST, ALICE)
    clock.t = task.next_poll_at
    await service.poll_due()
    stored = await store.get(task.id)
    assert stored is not None and stored.state is TaskState.RUNNING
    assert await service.hint(task.id)
    await service.drain()
    done = await store.get(task.id)
    assert done is not None and done.state is TaskState.COMPLETED
    assert gateway.remote[task.gateway_task_id or ""].fetches == 2


async def test_a_failed_poll_leaves_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected fetch failure is logged once, with its traceback, and polled again later."""
    service, store, gateway, clock = make()
    task = await service.admit_and_send(REQUEST, ALICE)

    async def broken_fetch(task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        raise RuntimeError("boom")

    gateway.fetch = broken_fetch  # type: ignore[method-assign]
    clock.t = task.next_poll_at
    with caplog.at_level(logging.DEBUG, logger="videojobs"):
        assert await service.poll_due() == (1, 0, 1)
    lines = [r for r in caplog.records if task.id in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is not None
    assert "boom" in lines[0].getMessage() and "next try in" in lines[0].getMessage()
    stored = await store.get(task.id)
    assert stored is not None and stored.poll_errors == 1 and stored.next_poll_at > clock.t


async def test_when_the_gateway_answers_again_the_backed_off_tasks_are_polled_soon() -> None:
    """Polls that failed back off (up to five minutes). Once a poll gets an answer again, the
    other tasks whose polls failed are polled within one interval, not at their backoff's end."""
    service, store, gateway, clock = make(poll_interval=10.0)
    tasks = [await service.admit_and_send(REQUEST, ALICE) for _ in range(3)]
    down = GatewayError("The video gateway is down.", retryable=True, status=503)
    for remote in gateway.remote.values():
        remote.script = [down] * 6 + remote.script
    for _ in range(5):  # five failed polls each: the next ones are minutes away
        stored = [await store.get(task.id) for task in tasks]
        clock.t = max(t.next_poll_at for t in stored if t is not None)
        assert await service.poll_due() == (3, 0, 3)
    backed_off = [await store.get(task.id) for task in tasks]
    assert all(t is not None and t.poll_errors == 5 for t in backed_off)
    assert min(t.next_poll_at for t in backed_off if t is not None) - clock.t > 100

    first = min(backed_off, key=lambda t: t.next_poll_at if t is not None else 0)
    assert first is not None
    gateway.remote[first.gateway_task_id or ""].script[5] = FakeGateway.snapshot(
        first.gateway_task_id or "", "running"
    )  # the gateway is back: the earliest task's next poll gets an answer
    clock.t = first.next_poll_at
    polled, _, errors = await service.poll_due()
    assert (polled, errors) == (1, 0)
    for other in backed_off:
        if other is not None and other.id != first.id:
            stored = await store.get(other.id)
            assert stored is not None and stored.next_poll_at - clock.t <= 10.0


async def test_a_task_whose_polls_fail_on_their_own_still_backs_off() -> None:
    """Pulled in once when the gateway answered again; failing again, it keeps its backoff
    however many other polls succeed (it is not polled at every pass)."""
    service, store, gateway, clock = make(poll_interval=10.0)
    broken, fine = [await service.admit_and_send(REQUEST, ALICE) for _ in range(2)]
    down = GatewayError("The video gateway is down.", retryable=True, status=503)
    gateway.remote[broken.gateway_task_id or ""].script = [down]  # fails for ever
    queued = FakeGateway.snapshot(fine.gateway_task_id or "", "queued")
    gateway.remote[fine.gateway_task_id or ""].script = [down, down, down, queued]
    for _ in range(3):  # both fail three times
        stored = [await store.get(t.id) for t in (broken, fine)]
        clock.t = max(t.next_poll_at for t in stored if t is not None)
        assert await service.poll_due() == (2, 0, 2)
    for _ in range(6):  # then `fine` answers at each of its polls
        due = [t for t in [await store.get(x.id) for x in (broken, fine)] if t is not None]
        clock.t = min(t.next_poll_at for t in due)
        await service.poll_due()
    stored = await store.get(broken.id)
    assert stored is not None and stored.poll_errors >= 4
    assert stored.poll_errors <= 5, "pulled in once, not at every pass of the other task"

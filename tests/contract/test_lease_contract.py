"""Leased work, on every backend: two stores working for two processes on one database.

A process gets work (due polls, owed deliveries, waiting tasks, tasks a gone process left
unsent) only with a lease; another process's live lease is skipped; a lease that ran out is
taken over; a live process renews its leases. Lease times follow a clock the test moves.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.clock import FakeClock
from tests.support.tasks import NOW, make_task
from tests.support.waiting import wait_until
from videojobs.models import DeliveryState, TaskState, VideoTask
from videojobs.ports import AdmissionLimits

from .conftest import Backend

LEASE = 30.0


async def two(backend: Backend) -> tuple[Any, Any, FakeClock]:
    clock = FakeClock(NOW)
    return await backend.open("proc-a", clock), await backend.open("proc-b", clock), clock


async def insert(store: Any, **changes: Any) -> VideoTask:
    task = make_task(**changes)
    assert await store.insert_within_limits(task, AdmissionLimits()) is None
    return task


async def test_an_insert_leases_the_task_to_its_process(backend: Backend) -> None:
    """The process that admits a task holds it (it sends it next); the lease names it."""
    a, b, _ = await two(backend)
    task = await insert(a)

    assert await b.lease_of(task.id) == ("proc-a", NOW + LEASE)
    assert await b.orphaned(10) == []


async def test_due_polls_go_to_one_process_until_its_lease_runs_out(backend: Backend) -> None:
    """A's due polls are not handed to B while A's lease lives; A gets them again (its lease
    is sticky); once it runs out, B takes them over."""
    a, b, clock = await two(backend)
    tasks = [await insert(a, state=TaskState.RUNNING, next_poll_at=NOW - i) for i in range(3)]

    assert {t.id for t in await a.due_for_poll(NOW, 10)} == {t.id for t in tasks}
    clock.advance(LEASE / 2)
    assert await b.due_for_poll(NOW, 10) == []
    assert len(await a.due_for_poll(NOW, 10)) == 3  # renewed to now + LEASE
    clock.advance(LEASE - 1)
    assert await b.due_for_poll(NOW, 10) == []
    clock.advance(2)
    taken = await b.due_for_poll(NOW, 10)

    assert [t.id for t in taken] == [t.id for t in reversed(tasks)]  # soonest first
    assert (await a.lease_of(tasks[0].id))[0] == "proc-b"
    assert await a.due_for_poll(NOW, 10) == []


async def test_two_processes_claiming_at_once_split_the_work(backend: Backend) -> None:
    """Claims racing from two processes never hand the same task to both, and miss none."""
    a, b, clock = await two(backend)
    for i in range(60):
        await insert(a, state=TaskState.QUEUED, next_poll_at=NOW - i, requester_id=i)
    clock.advance(LEASE + 1)  # the inserts' leases ran out: every task is free

    results = await asyncio.gather(a.due_for_poll(NOW, 40), b.due_for_poll(NOW, 40))

    ids = [t.id for batch in results for t in batch]
    assert len(ids) == len(set(ids)) == 60
    assert all(len(batch) <= 40 for batch in results)
    assert await a.due_for_poll(NOW, 100) == results[0]  # each keeps what it got
    assert await b.due_for_poll(NOW, 100) == results[1]


async def test_renewing_keeps_a_live_processs_leases(backend: Backend) -> None:
    """renew_leases extends this process's live leases only; B cannot take them."""
    a, b, clock = await two(backend)
    mine = await insert(a, state=TaskState.RUNNING)
    theirs = await insert(b, state=TaskState.RUNNING)
    clock.advance(LEASE - 1)

    assert await a.renew_leases() == 1
    clock.advance(LEASE - 1)

    assert await a.lease_of(mine.id) == ("proc-a", NOW + 2 * LEASE - 1)
    assert [t.id for t in await b.due_for_poll(NOW, 10)] == [theirs.id]
    assert [t.id for t in await a.due_for_poll(NOW, 10)] == [mine.id]


async def test_an_expired_lease_is_not_renewed(backend: Backend) -> None:
    """A process that stalled past its lease does not take back what it lost."""
    a, _, clock = await two(backend)
    await insert(a, state=TaskState.RUNNING)
    clock.advance(LEASE + 1)

    assert await a.renew_leases() == 0


async def test_a_delivery_is_claimed_only_by_the_lease_holder(backend: Backend) -> None:
    """An owed delivery leased to A is not handed to B, nor claimable by B; delivering ends
    the lease."""
    a, b, _ = await two(backend)
    task = await insert(a, state=TaskState.COMPLETED, finished_at=NOW)

    assert await b.deliveries_due(NOW, 10) == []
    assert await b.claim_delivery(task.id, NOW) is False
    assert [t.id for t in await a.deliveries_due(NOW, 10)] == [task.id]
    assert await a.claim_delivery(task.id, NOW) is True
    await a.mark_delivered(task.id, 42, NOW)

    assert await b.lease_of(task.id) is None
    stored = await b.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.DELIVERED


async def test_a_dead_processs_claimed_delivery_is_taken_over(backend: Backend) -> None:
    """A claimed a delivery and died: once its lease ran out, B gets it (still CLAIMED, so B
    looks for the message A may have sent before sending anything)."""
    a, b, clock = await two(backend)
    task = await insert(a, state=TaskState.FAILED, finished_at=NOW)
    assert await a.claim_delivery(task.id, NOW)
    clock.advance(LEASE + 1)

    taken = await b.deliveries_due(NOW, 10)

    assert [t.id for t in taken] == [task.id]
    assert taken[0].delivery is DeliveryState.CLAIMED
    assert (await a.lease_of(task.id))[0] == "proc-b"


async def test_only_a_gone_processs_unsent_tasks_are_orphans(backend: Backend) -> None:
    """PENDING (not waiting) and SUBMITTING tasks are taken over only when their lease ran
    out: never another live process's submission."""
    a, b, clock = await two(backend)
    pending = await insert(a, created_at=NOW)
    submitting = await insert(a, state=TaskState.SUBMITTING, created_at=NOW + 1)
    await insert(a, wait_reason="busy", send_after=NOW, created_at=NOW + 2)
    await insert(a, state=TaskState.RUNNING, created_at=NOW + 3)

    assert await b.orphaned(10) == []
    clock.advance(LEASE + 1)
    orphans = await b.orphaned(10)

    assert [t.id for t in orphans] == [pending.id, submitting.id]
    assert await a.orphaned(10) == []  # now B's


async def test_waiting_tasks_go_to_one_process(backend: Backend) -> None:
    """Tasks waiting for the gateway are handed to one process at a time."""
    a, b, clock = await two(backend)
    task = await insert(b, wait_reason="busy", send_after=NOW)
    clock.advance(LEASE + 1)

    assert [t.id for t in await a.waiting(10)] == [task.id]
    assert await b.waiting(10) == []


async def test_take_leases_one_task_unless_another_process_holds_it(backend: Backend) -> None:
    """take: yes when free or ours, no while another live process holds it."""
    a, b, clock = await two(backend)
    task = await insert(a, state=TaskState.RUNNING)

    assert await a.take(task.id) is True
    assert await b.take(task.id) is False
    clock.advance(LEASE + 1)
    assert await b.take(task.id) is True
    assert await a.take(task.id) is False
    assert await a.take("0" * 32) is False


async def test_an_insert_wakes_the_other_processes(backend: Backend) -> None:
    """A task admitted in A wakes B (LISTEN/NOTIFY on PostgreSQL); A does not wake itself."""
    a, b, _ = await two(backend)
    woke: list[str] = []
    await a.on_wake(lambda: woke.append("a"))
    await b.on_wake(lambda: woke.append("b"))

    await insert(a)
    await a.wake_others()

    if backend.name == "sqlite":  # one process per SQLite file: nobody to wake
        assert woke == []
        return
    # the notifications arrive on B's listening connection
    await wait_until(lambda: len(woke) >= 2, 5, what="two wake-ups", interval=0.01)
    assert woke == ["b", "b"]


async def test_a_named_lock_has_one_holder_until_it_expires(backend: Backend) -> None:
    """try_lock: the first process holds it (and may take it again); another gets it only
    once it expired."""
    a, b, clock = await two(backend)

    assert await a.try_lock("command_sync", 60) is True
    assert await b.try_lock("command_sync", 60) is False
    assert await a.try_lock("command_sync", 60) is True
    assert await b.try_lock("other", 60) is True
    clock.advance(61)
    assert await b.try_lock("command_sync", 60) is True
    assert await a.try_lock("command_sync", 60) is False


async def test_a_released_lock_is_free_at_once(backend: Backend) -> None:
    """release_lock frees it for the others; another process's release does nothing."""
    a, b, _ = await two(backend)
    assert await a.try_lock("command_sync", 60)

    await b.release_lock("command_sync")
    assert await b.try_lock("command_sync", 60) is False
    await a.release_lock("command_sync")
    assert await b.try_lock("command_sync", 60) is True


async def test_processes_racing_for_a_lock_get_it_once(backend: Backend) -> None:
    """Two processes asking at the same moment: exactly one holds it."""
    a, b, _ = await two(backend)

    results = await asyncio.gather(a.try_lock("sync", 60), b.try_lock("sync", 60))

    assert sorted(results) == [False, True]

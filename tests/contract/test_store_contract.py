"""The store contract: every TaskStore method, run on each backend (see conftest.py).

What one backend does, every backend does: the in-memory fake of the unit tests included, so a
unit test on the fake cannot pass where SQLite or PostgreSQL would fail.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from tests.support.tasks import DAY, NO_LIMITS, NOW, make_task
from videojobs.errors import DuplicateTaskId, InvalidTaskRecord
from videojobs.models import (
    ACTIVE_STATES,
    POLLED_STATES,
    DeliveryState,
    ImageRef,
    KeptFrames,
    TaskState,
    VideoRequest,
    VideoTask,
)
from videojobs.ports import AdmissionLimits, LimitCounts, TaskStore

from .conftest import Backend

BIG_ID = 1234567890123456789


async def insert(store: TaskStore, **changes: Any) -> VideoTask:
    task = make_task(**changes)
    assert await store.insert_within_limits(task, NO_LIMITS) is None
    return task


async def test_every_field_survives_a_round_trip(store: TaskStore) -> None:
    """A task with every field set (images, big Discord ids) reads back equal."""
    parent = await insert(store, state=TaskState.FAILED)
    image = ImageRef("https://cdn.example/a.png", "a.png", "image/png", 123_456, 1024, 768)
    end_image = ImageRef("https://cdn.example/b.jpg", "b.jpg", "image/jpeg", 654_321, 800, 1200)
    request = VideoRequest(
        prompt="un chat qui fait du skate 🛹",
        model="kling-v2-master",
        mode="pro",
        duration=10,
        aspect_ratio="9:16",
        negative_prompt="blur",
        cfg_scale=0.35,
        image=image,
        end_image=end_image,
        camera=None,
        camera_strength=7,
    )
    task = make_task(
        requester_id=BIG_ID,
        guild_id=BIG_ID + 1,
        channel_id=BIG_ID + 2,
        thread_id=BIG_ID + 3,
        status_message_id=BIG_ID + 4,
        upload_limit=25 * 1024 * 1024,
        request=request,
        gateway_task_id="gw-123",
        state=TaskState.COMPLETED,
        progress=100,
        result_url="https://cdn.example/video.mp4",
        failure_reason="none at all",
        attempts=2,
        poll_errors=3,
        next_poll_at=NOW + 10.25,
        deadline_at=NOW + 1800.5,
        created_at=NOW + 0.125,
        updated_at=NOW + 60.75,
        finished_at=NOW + 61.5,
        delivery=DeliveryState.DELIVERED,
        delivery_message_id=2**63 - 1,
        delivered_at=NOW + 62.0,
        retry_of=parent.id,
        frames=KeptFrames(BIG_ID + 5, BIG_ID + 6, "image-abc.png", "end-image-abc.jpg"),
    )
    assert await store.insert_within_limits(task, NO_LIMITS) is None

    assert await store.get(task.id) == task


async def test_kept_frames_are_written_by_update(store: TaskStore) -> None:
    """Where a task's frames are kept is learnt after the insert (posted later), and Retry
    reads it back from any process."""
    task = await insert(store)
    kept = KeptFrames(channel_id=BIG_ID, message_id=BIG_ID + 1, image="image-1.png")
    assert await store.update(task.evolve(frames=kept), expect_states={task.state})
    stored = await store.get(task.id)
    assert stored is not None and stored.frames == kept


async def test_none_values_survive_a_round_trip(store: TaskStore) -> None:
    """A task with every optional field None (a DM, text only) reads back equal."""
    task = make_task(
        guild_id=None,
        request=VideoRequest(prompt="p", model="m", negative_prompt=None, cfg_scale=None),
    )
    await store.insert_within_limits(task, NO_LIMITS)

    assert await store.get(task.id) == task


async def test_unknown_ids_are_not_found(store: TaskStore) -> None:
    """get, find_by_short_id and find_by_gateway_id return None for unknown ids."""
    await insert(store, gateway_task_id="gw-1")

    assert await store.get("0" * 32) is None
    assert await store.find_by_short_id("00000000") is None
    assert await store.find_by_gateway_id("gw-2") is None


async def test_find_by_short_id_ignores_case_and_spaces(store: TaskStore) -> None:
    """The short id is found as a member might type it."""
    task = await insert(store)

    assert await store.find_by_short_id(f" {task.short_id.upper()} ") == task


async def test_find_by_gateway_id(store: TaskStore) -> None:
    """A task is found by the id the gateway gave it."""
    await insert(store, gateway_task_id="gw-1")
    task = await insert(store, gateway_task_id="gw-2")

    assert await store.find_by_gateway_id("gw-2") == task


async def test_a_retry_of_an_unknown_task_is_refused(store: TaskStore) -> None:
    """retry_of is a foreign key, enforced."""
    with pytest.raises(InvalidTaskRecord, match=r"(?i)foreign key"):
        await insert(store, retry_of="f" * 32)


async def test_an_id_that_is_not_32_hex_is_refused(store: TaskStore) -> None:
    """The schema keeps ids in the shape the short id relies on."""
    with pytest.raises(InvalidTaskRecord, match=r"(?i)check"):
        await insert(store, id="not-a-task-id-not-a-task-id-1234")


async def test_update_writes_every_mutable_field(store: TaskStore) -> None:
    """An unconditional update stores all mutable fields."""
    task = await insert(store)
    changed = task.evolve(
        thread_id=BIG_ID,
        status_message_id=BIG_ID + 1,
        upload_limit=50 * 1024 * 1024,
        gateway_task_id="gw-9",
        state=TaskState.RUNNING,
        progress=42,
        result_url="https://x/y.mp4",
        failure_reason="later",
        attempts=1,
        poll_errors=2,
        next_poll_at=NOW + 30,
        deadline_at=NOW + 3600,
        updated_at=NOW + 5,
        finished_at=NOW + 6,
    )

    assert await store.update(changed) is True
    assert await store.get(task.id) == changed


async def test_update_with_expected_state_writes_when_it_matches(store: TaskStore) -> None:
    """Compare-and-set succeeds when the stored state is one of those expected."""
    task = await insert(store, state=TaskState.QUEUED)
    running = task.evolve(state=TaskState.RUNNING, progress=10)

    assert await store.update(running, expect_states=POLLED_STATES) is True
    assert await store.get(task.id) == running


async def test_update_with_expected_state_skips_when_it_moved_on(store: TaskStore) -> None:
    """Compare-and-set writes nothing when the stored state is not one of those expected."""
    task = await insert(store, state=TaskState.QUEUED)
    cancelled = task.evolve(state=TaskState.CANCELLED, finished_at=NOW)
    assert await store.update(cancelled, expect_states={TaskState.QUEUED})

    stale = task.evolve(state=TaskState.RUNNING, progress=50)
    assert await store.update(stale, expect_states=POLLED_STATES) is False
    assert await store.get(task.id) == cancelled


async def test_update_of_an_unknown_task_returns_false(store: TaskStore) -> None:
    """Nothing is written (or created) for an id that is not stored."""
    task = make_task()

    assert await store.update(task) is False
    assert await store.get(task.id) is None


async def test_update_leaves_the_delivery_fields_alone(store: TaskStore) -> None:
    """A stale copy of a task cannot undo a delivery claim."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    assert await store.claim_delivery(task.id, NOW)

    assert await store.update(task.evolve(progress=100))
    stored = await store.get(task.id)
    assert stored is not None
    assert stored.delivery is DeliveryState.CLAIMED
    assert stored.progress == 100


async def test_update_many_writes_every_task(store: TaskStore) -> None:
    """update_many stores each task's fields in one call."""
    tasks = [await insert(store, state=TaskState.QUEUED) for _ in range(5)]
    changed = [t.evolve(next_poll_at=NOW + i, poll_errors=i) for i, t in enumerate(tasks)]

    assert await store.update_many(changed) == 5
    assert [await store.get(t.id) for t in tasks] == changed


async def test_update_many_with_expected_states_skips_tasks_that_moved_on(
    store: TaskStore,
) -> None:
    """A task cancelled meanwhile is not put back to polling by a batched write."""
    kept, cancelled = [await insert(store, state=TaskState.QUEUED) for _ in range(2)]
    await store.update(cancelled.evolve(state=TaskState.CANCELLED))

    written = await store.update_many(
        [kept.evolve(next_poll_at=NOW + 9), cancelled.evolve(next_poll_at=NOW + 9)],
        expect_states=POLLED_STATES,
    )

    assert written == 1
    stored = await store.get(cancelled.id)
    assert stored is not None
    assert stored.state is TaskState.CANCELLED


async def test_a_terminal_task_can_be_claimed_once(store: TaskStore) -> None:
    """The first claim wins; a second one fails."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)

    assert await store.claim_delivery(task.id, NOW + 1) is True
    assert await store.claim_delivery(task.id, NOW + 2) is False


@pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
async def test_an_unfinished_task_cannot_be_claimed(store: TaskStore, state: TaskState) -> None:
    """Only a task in a terminal state can be delivered."""
    task = await insert(store, state=state)

    assert await store.claim_delivery(task.id, NOW) is False


async def test_mark_delivered_records_the_message_and_time(store: TaskStore) -> None:
    """mark_delivered stores the state, the message id and the time."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)

    await store.mark_delivered(task.id, BIG_ID, NOW + 1)

    stored = await store.get(task.id)
    assert stored == task.evolve(
        delivery=DeliveryState.DELIVERED, delivery_message_id=BIG_ID, delivered_at=NOW + 1
    )
    assert await store.claim_delivery(task.id, NOW + 2) is False


async def test_undelivered_lists_finished_tasks_not_yet_delivered(store: TaskStore) -> None:
    """Terminal tasks with delivery NONE or CLAIMED, the longest finished first."""
    claimed = await insert(store, state=TaskState.FAILED, finished_at=NOW + 1)
    waiting = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    delivered = await insert(store, state=TaskState.CANCELLED, finished_at=NOW)
    await insert(store, state=TaskState.RUNNING)
    await store.claim_delivery(claimed.id, NOW)
    await store.claim_delivery(delivered.id, NOW)
    await store.mark_delivered(delivered.id, None, NOW)

    assert [t.id for t in await store.undelivered()] == [waiting.id, claimed.id]


async def test_the_active_limit_stops_an_insert(store: TaskStore) -> None:
    """With max_active unfinished tasks, the next is refused with the counts."""
    for state in (TaskState.PENDING, TaskState.RUNNING, TaskState.COMPLETED):
        await insert(store, state=state)
    task = make_task()

    counts = await store.insert_within_limits(
        task, AdmissionLimits(max_active=2, max_daily=0, day_start=DAY)
    )

    assert counts == LimitCounts(active=2, today=3)
    assert await store.get(task.id) is None


async def test_the_active_limit_lets_an_insert_under_it(store: TaskStore) -> None:
    """One unfinished task under a limit of two: the insert goes through."""
    await insert(store, state=TaskState.QUEUED)
    task = make_task()

    assert (
        await store.insert_within_limits(
            task, AdmissionLimits(max_active=2, max_daily=0, day_start=DAY)
        )
        is None
    )
    assert await store.get(task.id) == task


async def test_the_daily_limit_counts_tasks_of_every_state(store: TaskStore) -> None:
    """Finished tasks created today count towards the daily limit."""
    for state in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED):
        await insert(store, state=state)

    counts = await store.insert_within_limits(
        make_task(), AdmissionLimits(max_active=0, max_daily=3, day_start=DAY)
    )

    assert counts == LimitCounts(active=0, today=3)


async def test_the_daily_limit_starts_at_day_start(store: TaskStore) -> None:
    """Tasks created before day_start do not count; one created exactly at it does."""
    await insert(store, state=TaskState.COMPLETED, created_at=DAY - 0.001)
    await insert(store, state=TaskState.COMPLETED, created_at=DAY)

    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=0, today=1)
    assert (
        await store.insert_within_limits(
            make_task(), AdmissionLimits(max_active=0, max_daily=2, day_start=DAY)
        )
        is None
    )


async def test_zero_means_no_limit(store: TaskStore) -> None:
    """max_active=0 and max_daily=0 never refuse."""
    for _ in range(5):
        await insert(store, state=TaskState.RUNNING)

    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=5, today=5)


async def test_limits_count_only_the_requesters_tasks(store: TaskStore) -> None:
    """Another member's tasks do not use up this member's limits."""
    await insert(store, requester_id=999, state=TaskState.RUNNING)

    task = make_task(requester_id=111)
    assert (
        await store.insert_within_limits(
            task, AdmissionLimits(max_active=1, max_daily=1, day_start=DAY)
        )
        is None
    )


async def test_a_burst_of_inserts_never_passes_the_active_limit(store: TaskStore) -> None:
    """30 concurrent inserts for one member with max_active=2: exactly 2 are stored."""
    tasks = [make_task() for _ in range(30)]

    results = await asyncio.gather(
        *(
            store.insert_within_limits(
                task, AdmissionLimits(max_active=2, max_daily=0, day_start=DAY)
            )
            for task in tasks
        )
    )

    assert sum(result is None for result in results) == 2
    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=2, today=2)


async def test_due_for_poll_returns_due_polled_tasks_soonest_first(store: TaskStore) -> None:
    """Only QUEUED/RUNNING tasks due by `now`, ordered by next_poll_at."""
    later = await insert(store, state=TaskState.RUNNING, next_poll_at=NOW - 1)
    soonest = await insert(store, state=TaskState.QUEUED, next_poll_at=NOW - 5)
    exactly_now = await insert(store, state=TaskState.RUNNING, next_poll_at=NOW)
    await insert(store, state=TaskState.QUEUED, next_poll_at=NOW + 1)
    await insert(store, state=TaskState.PENDING, next_poll_at=NOW - 9)
    await insert(store, state=TaskState.COMPLETED, next_poll_at=NOW - 9)

    due = await store.due_for_poll(NOW, limit=10)

    assert [t.id for t in due] == [soonest.id, later.id, exactly_now.id]


async def test_due_for_poll_returns_at_most_limit_tasks(store: TaskStore) -> None:
    """The limit keeps the soonest tasks."""
    tasks = [await insert(store, state=TaskState.QUEUED, next_poll_at=NOW - i) for i in range(5)]

    due = await store.due_for_poll(NOW, limit=2)

    assert [t.id for t in due] == [tasks[4].id, tasks[3].id]


async def test_next_poll_at_is_the_earliest_among_polled_tasks(store: TaskStore) -> None:
    """Unpolled states are ignored."""
    await insert(store, state=TaskState.PENDING, next_poll_at=NOW - 100)
    await insert(store, state=TaskState.RUNNING, next_poll_at=NOW + 7)
    await insert(store, state=TaskState.QUEUED, next_poll_at=NOW + 3)

    assert await store.next_poll_at() == NOW + 3


async def test_next_poll_at_is_none_without_polled_tasks(store: TaskStore) -> None:
    """Nothing to poll, no time."""
    await insert(store, state=TaskState.COMPLETED)

    assert await store.next_poll_at() is None


async def test_in_states_returns_tasks_in_those_states_oldest_first(
    store: TaskStore,
) -> None:
    """Only the asked states, by creation time."""
    newer = await insert(store, state=TaskState.SUBMITTING, created_at=NOW + 1)
    older = await insert(store, state=TaskState.PENDING, created_at=NOW)
    await insert(store, state=TaskState.QUEUED)

    found = await store.in_states({TaskState.PENDING, TaskState.SUBMITTING})

    assert [t.id for t in found] == [older.id, newer.id]
    assert await store.in_states(()) == []


async def test_user_tasks_unfinished_are_oldest_first(store: TaskStore) -> None:
    """A member's unfinished tasks, by creation time, up to the limit."""
    second = await insert(store, state=TaskState.RUNNING, created_at=NOW + 2)
    first = await insert(store, state=TaskState.PENDING, created_at=NOW + 1)
    await insert(store, state=TaskState.QUEUED, created_at=NOW + 3)
    await insert(store, state=TaskState.COMPLETED, created_at=NOW)
    await insert(store, requester_id=999, state=TaskState.RUNNING, created_at=NOW)

    found = await store.user_tasks(111, unfinished=True, limit=2)

    assert [t.id for t in found] == [first.id, second.id]


async def test_user_tasks_finished_are_newest_first(store: TaskStore) -> None:
    """A member's finished tasks, by the time they finished, most recent first."""
    old = await insert(store, state=TaskState.COMPLETED, created_at=NOW + 5, finished_at=NOW + 6)
    new = await insert(store, state=TaskState.FAILED, created_at=NOW, finished_at=NOW + 9)
    await insert(store, state=TaskState.RUNNING)
    await insert(store, requester_id=999, state=TaskState.COMPLETED, finished_at=NOW + 99)

    found = await store.user_tasks(111, unfinished=False, limit=10)

    assert [t.id for t in found] == [new.id, old.id]


async def test_count_unfinished_per_guild_and_in_all(store: TaskStore) -> None:
    """Unfinished tasks counted for one guild, or everywhere (DMs included) with None."""
    await insert(store, guild_id=1, state=TaskState.PENDING)
    await insert(store, guild_id=1, state=TaskState.RUNNING)
    await insert(store, guild_id=1, state=TaskState.COMPLETED)
    await insert(store, guild_id=2, state=TaskState.QUEUED)
    await insert(store, guild_id=None, state=TaskState.SUBMITTING)

    assert await store.count_unfinished(1) == 2
    assert await store.count_unfinished(2) == 1
    assert await store.count_unfinished(3) == 0
    assert await store.count_unfinished(None) == 4


async def test_meta_is_none_until_set(store: TaskStore) -> None:
    """An unknown key reads as None."""
    assert await store.key_values.get("command_tree_hash") is None


async def test_set_meta_stores_and_replaces_a_value(store: TaskStore) -> None:
    """The last value set is the one read."""
    await store.key_values.set("command_tree_hash", "abc")
    await store.key_values.set("command_tree_hash", "def")

    assert await store.key_values.get("command_tree_hash") == "def"


async def test_setdefault_meta_keeps_the_first_value(store: TaskStore, backend: Backend) -> None:
    """The first value stored under a key wins, also against another store (another process)
    racing for it; both get the same value back, and later calls too."""
    other = await backend.open()
    results = await asyncio.gather(
        store.key_values.setdefault("callback_key", "one"),
        other.key_values.setdefault("callback_key", "two"),
    )
    assert results[0] == results[1]
    assert results[0] in ("one", "two")
    assert await store.key_values.setdefault("callback_key", "three") == results[0]
    assert await other.key_values.get("callback_key") == results[0]


# --- identity -----------------------------------------------------------------------------------


async def test_a_taken_id_is_a_duplicate(store: TaskStore) -> None:
    """Inserting a second task with the same id raises DuplicateTaskId and keeps the first."""
    task = await insert(store)

    with pytest.raises(DuplicateTaskId):
        await store.insert_within_limits(task.evolve(requester_id=999), NO_LIMITS)
    assert await store.get(task.id) == task


async def test_a_taken_short_id_is_a_duplicate(store: TaskStore) -> None:
    """Two ids sharing their first 8 digits cannot both be stored (/status finds by those)."""
    task = await insert(store)
    twin = make_task(
        id=task.id[:8] + "0" * 24 if task.id[8:] != "0" * 24 else task.id[:8] + "1" * 24
    )

    with pytest.raises(DuplicateTaskId):
        await store.insert_within_limits(twin, NO_LIMITS)
    assert await store.get(twin.id) is None


async def test_a_refused_insert_is_not_counted(store: TaskStore) -> None:
    """A task refused at the limit is not stored, and a duplicate does not use up the limit."""
    task = await insert(store)
    with pytest.raises(DuplicateTaskId):
        await store.insert_within_limits(
            task, AdmissionLimits(max_active=2, max_daily=2, day_start=DAY)
        )

    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=1, today=1)


async def test_update_does_not_change_what_a_task_was_created_with(store: TaskStore) -> None:
    """The request, requester, channel and creation time are written once, at the insert."""
    task = await insert(store)
    changed = task.evolve(
        request=VideoRequest(prompt="other", model="m"),
        requester_id=999,
        channel_id=999,
        created_at=NOW + 99,
        progress=5,
    )

    assert await store.update(changed)
    assert await store.get(task.id) == task.evolve(progress=5)


# --- several stores on one database (as several processes) -------------------------------------


async def test_a_second_store_sees_the_first_ones_writes(
    store: TaskStore, backend: Backend
) -> None:
    """Each write is visible to another store on the same data as soon as it returns."""
    other = await backend.open()
    task = await insert(store)
    await store.update(task.evolve(state=TaskState.SUBMITTING))
    await store.key_values.set("k", "v")

    stored = await other.get(task.id)
    assert stored is not None
    assert stored.state is TaskState.SUBMITTING
    assert await other.key_values.get("k") == "v"


async def test_a_burst_from_two_stores_never_passes_the_active_limit(
    store: TaskStore, backend: Backend
) -> None:
    """Two stores (two processes) admitting for one member at once share the limit."""
    other = await backend.open()
    results = await asyncio.gather(
        *(
            s.insert_within_limits(
                make_task(), AdmissionLimits(max_active=3, max_daily=0, day_start=DAY)
            )
            for _ in range(10)
            for s in (store, other)
        )
    )

    assert sum(result is None for result in results) == 3
    assert await other.count_limits(111, day_start=DAY) == LimitCounts(active=3, today=3)


async def test_a_burst_from_two_stores_never_passes_the_daily_limit(
    store: TaskStore, backend: Backend
) -> None:
    """The daily limit holds too, counting tasks finished meanwhile."""
    other = await backend.open()
    await insert(store, state=TaskState.COMPLETED)
    results = await asyncio.gather(
        *(
            s.insert_within_limits(
                make_task(), AdmissionLimits(max_active=0, max_daily=4, day_start=DAY)
            )
            for _ in range(8)
            for s in (other, store)
        )
    )

    assert sum(result is None for result in results) == 3
    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=3, today=4)


async def test_a_delivery_is_claimed_by_one_store_only(store: TaskStore, backend: Backend) -> None:
    """Two stores racing for the same delivery: exactly one claim wins."""
    other = await backend.open()
    tasks = [await insert(store, state=TaskState.COMPLETED, finished_at=NOW) for _ in range(10)]

    results = await asyncio.gather(
        *(s.claim_delivery(t.id, NOW) for t in tasks for s in (store, other))
    )

    assert sum(results) == 10


async def test_claiming_an_unknown_task_fails(store: TaskStore) -> None:
    """No claim (and no error) for an id that is not stored."""
    assert await store.claim_delivery("0" * 32, NOW) is False


async def test_reopening_keeps_the_data(store: TaskStore, backend: Backend) -> None:
    """A store opened again (a restart; the migrations run again) finds everything."""
    task = await insert(store, state=TaskState.RUNNING)
    await store.key_values.set("command_tree_hash", "abc")

    again = await backend.open()

    assert await again.get(task.id) == task
    assert await again.key_values.get("command_tree_hash") == "abc"


# --- delivery retries ----------------------------------------------------------------------------


async def test_a_failed_delivery_waits_for_its_next_try(store: TaskStore) -> None:
    """delivery_failed keeps the attempts and the next try: not due before it, due after."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)

    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 60)

    stored = await store.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.CLAIMED
    assert (stored.delivery_attempts, stored.delivery_retry_at) == (1, NOW + 60)
    assert await store.deliveries_due(NOW + 59, 10) == []
    assert [t.id for t in await store.deliveries_due(NOW + 60, 10)] == [task.id]
    assert await store.next_delivery_at() == NOW + 60
    assert [t.id for t in await store.undelivered()] == [task.id]


async def test_deliveries_due_are_the_owed_ones_longest_finished_first(
    store: TaskStore,
) -> None:
    """NONE and CLAIMED deliveries of finished tasks, at most `limit`, oldest finish first."""
    later = await insert(store, state=TaskState.FAILED, finished_at=NOW + 1)
    first = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    third = await insert(store, state=TaskState.CANCELLED, finished_at=NOW + 2)
    await insert(store, state=TaskState.RUNNING)
    await store.claim_delivery(later.id, NOW)

    assert [t.id for t in await store.deliveries_due(NOW, 10)] == [first.id, later.id, third.id]
    assert [t.id for t in await store.deliveries_due(NOW, 2)] == [first.id, later.id]
    assert await store.next_delivery_at() is None


async def test_a_delivery_that_gave_up_is_its_own_state(store: TaskStore) -> None:
    """GAVE_UP is neither delivered nor owed in this run; reopening makes it CLAIMED again."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)
    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 5)

    await store.give_up_delivery(task.id, attempts=2, now=NOW + 5)

    stored = await store.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.GAVE_UP
    assert (stored.delivery_attempts, stored.delivery_retry_at) == (2, None)
    assert stored.delivery_message_id is None
    assert await store.undelivered() == []
    assert await store.deliveries_due(NOW + 1e6, 10) == []
    assert await store.next_delivery_at() is None
    assert await store.claim_delivery(task.id, NOW + 6) is False

    assert await store.reopen_given_up() == 1

    reopened = await store.get(task.id)
    assert reopened is not None and reopened.delivery is DeliveryState.CLAIMED
    assert (reopened.delivery_attempts, reopened.delivery_retry_at) == (0, None)
    assert [t.id for t in await store.deliveries_due(NOW + 6, 10)] == [task.id]
    assert await store.reopen_given_up() == 0


async def test_a_given_up_task_survives_a_round_trip(store: TaskStore) -> None:
    """A task inserted as GAVE_UP reads back as GAVE_UP with its attempts."""
    task = make_task(
        state=TaskState.FAILED,
        finished_at=NOW,
        delivery=DeliveryState.GAVE_UP,
        delivery_attempts=6,
    )
    assert await store.insert_within_limits(task, NO_LIMITS) is None

    assert await store.get(task.id) == task


async def test_marking_delivered_clears_the_retry(store: TaskStore) -> None:
    """A delivery that succeeds on a retry leaves no retry time behind."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)
    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 5)

    await store.mark_delivered(task.id, BIG_ID, NOW + 5)

    stored = await store.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.DELIVERED
    assert stored.delivery_retry_at is None and stored.delivery_attempts == 1
    assert await store.next_delivery_at() is None


async def test_retry_writes_on_unknown_or_unclaimed_tasks_change_nothing(store: TaskStore) -> None:
    """delivery_failed and give_up_delivery touch only a CLAIMED delivery."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.delivery_failed("0" * 32, attempts=1, retry_at=NOW)
    await store.give_up_delivery("0" * 32, attempts=1, now=NOW)

    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 5)
    await store.give_up_delivery(task.id, attempts=2, now=NOW)

    assert await store.get(task.id) == task


# --- tasks waiting for the gateway ------------------------------------------------------------


async def test_waiting_lists_pending_tasks_with_a_reason_oldest_first(store: TaskStore) -> None:
    """Only PENDING tasks with a wait reason, by creation time, up to the limit."""
    newer = await insert(store, wait_reason="busy", send_after=NOW + 5, created_at=NOW + 2)
    older = await insert(store, wait_reason="unreachable", send_after=NOW + 9, created_at=NOW)
    third = await insert(store, wait_reason="busy", created_at=NOW + 3)
    await insert(store, created_at=NOW - 1)  # pending, not waiting
    await insert(store, state=TaskState.QUEUED, wait_reason="stale", created_at=NOW - 2)

    assert [t.id for t in await store.waiting(10)] == [older.id, newer.id, third.id]
    assert [t.id for t in await store.waiting(1)] == [older.id]
    assert (await store.waiting(1))[0] == older


async def test_a_wait_is_written_and_cleared_by_update(store: TaskStore) -> None:
    """wait_reason and send_after are mutable fields: set while waiting, cleared when sent."""
    task = await insert(store)
    waiting = task.evolve(wait_reason="the video service is busy", send_after=NOW + 30)

    assert await store.update(waiting, expect_states={TaskState.PENDING})
    assert await store.get(task.id) == waiting
    sent = waiting.evolve(state=TaskState.QUEUED, wait_reason=None, send_after=None)
    assert await store.update(sent)
    assert await store.waiting(10) == []
    assert await store.get(task.id) == sent


async def test_a_waiting_task_counts_as_active(store: TaskStore) -> None:
    """A task waiting for the gateway holds one of its requester's active slots."""
    await insert(store, wait_reason="down", send_after=NOW + 5)
    limits = replace(NO_LIMITS, max_active=1)

    assert await store.insert_within_limits(make_task(), limits) == LimitCounts(1, 1)

"""The members' side's store queries, on every backend: finish times by kind of task (the
estimate of the time left) and a member's finished tasks in one server (/history)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.support.tasks import NO_LIMITS, NOW, make_task
from videojobs.models import TaskState, VideoRequest

STD5 = VideoRequest(prompt="a cat", model="kling-v3")


async def finished(
    store: Any,
    took: float,
    *,
    state: TaskState = TaskState.COMPLETED,
    request: VideoRequest = STD5,
    at: float = NOW,
    **changes: Any,
) -> str:
    task = make_task(request=request, created_at=at, updated_at=at, **changes)
    assert await store.insert_within_limits(task, NO_LIMITS) is None
    await store.update(task.evolve(state=state, finished_at=at + took, updated_at=at + took))
    return task.id


async def test_completed_durations_of_one_kind_newest_first(store: Any) -> None:
    """Only completed tasks with the same model, mode and duration count, newest first, up to
    the limit; failed ones, other kinds and unfinished tasks don't."""
    for i, took in enumerate([100.0, 110.0, 120.0]):
        await finished(store, took, at=NOW + i * 1000)
    await finished(store, 5.0, state=TaskState.FAILED, at=NOW + 5000)
    await finished(store, 7.0, request=replace(STD5, mode="pro"), at=NOW + 5000)
    await finished(store, 9.0, request=replace(STD5, duration=10), at=NOW + 5000)
    await finished(store, 11.0, request=replace(STD5, model="kling-v2"), at=NOW + 5000)
    await finished(store, 900.0, at=NOW + 5000, attempts=3)  # waited out an outage
    assert await store.insert_within_limits(make_task(request=STD5), NO_LIMITS) is None

    assert await store.completed_durations("kling-v3", "std", 5, limit=10) == [120, 110, 100]
    assert await store.completed_durations("kling-v3", "std", 5, limit=2) == [120, 110]
    assert await store.completed_durations("kling-v3", "pro", 5, limit=10) == [7]
    assert await store.completed_durations("kling-v3", "std", 10, limit=10) == [9]
    assert await store.completed_durations("kling-v1", "std", 5, limit=10) == []


async def test_finished_tasks_of_a_member_in_one_server(store: Any) -> None:
    """Newest finish first, in pages; other members, other servers, DMs and unfinished tasks
    stay out; DMs have their own list."""
    mine = [await finished(store, 10.0, at=NOW + i) for i in range(12)]
    await finished(store, 10.0, state=TaskState.CANCELLED, at=NOW + 100)
    await finished(store, 10.0, requester_id=999)
    await finished(store, 10.0, guild_id=555)
    dm = await finished(store, 10.0, guild_id=None)
    assert await store.insert_within_limits(make_task(), NO_LIMITS) is None

    assert await store.count_finished(111, 222) == 13
    first = await store.finished_tasks(111, 222, offset=0, limit=10)
    second = await store.finished_tasks(111, 222, offset=10, limit=10)
    assert first[0].state is TaskState.CANCELLED
    assert [t.id for t in first[1:] + second] == list(reversed(mine))
    assert [t.id for t in await store.finished_tasks(111, None, offset=0, limit=10)] == [dm]
    assert await store.count_finished(111, None) == 1
    assert await store.count_finished(999, 222) == 1

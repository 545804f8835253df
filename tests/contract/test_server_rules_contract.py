"""The store's side of /settings, credits and /queue, the same tests on every backend (the
in-memory fake, SQLite and PostgreSQL: the `store` fixture of conftest.py): per-server values,
the daily budget under concurrent admits, the server's unfinished tasks."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.clock import FakeClock
from tests.support.tasks import DAY, NOW
from tests.support.tasks import make_task as admitted_task
from videojobs.models import TaskState, VideoTask
from videojobs.policy import BotDefaults, Policies
from videojobs.ports import AdmissionLimits

from .conftest import Backend

GUILD = 222  # the server of every task of make_task


def make_task(**changes: Any) -> VideoTask:
    """A task costing one credit (the budget tests count credits)."""
    return admitted_task(**{"cost": 1.0, **changes})


async def admit(store: Any, task: VideoTask, budget: float) -> bool:
    counts = await store.insert_within_limits(
        task, AdmissionLimits(day_start=DAY, server_budget=budget)
    )
    return counts is None


async def test_guild_settings_round_trip_with_author_and_time(store: Any) -> None:
    """Values are kept per server with who set them and when; None removes one."""
    await store.change_guild_settings(
        GUILD, {"mode": '"pro"', "duration": "10"}, changed_by=7, at=5.0
    )
    await store.change_guild_settings(
        GUILD, {"mode": '"std"', "duration": None}, changed_by=8, at=6.0
    )
    await store.change_guild_settings(GUILD + 1, {"mode": '"pro"'}, changed_by=9, at=7.0)
    (record,) = await store.guild_settings(GUILD)
    assert (record.key, record.value, record.changed_by, record.changed_at) == (
        "mode",
        '"std"',
        8,
        6.0,
    )
    assert await store.reset_guild_settings(GUILD) == 1
    assert await store.guild_settings(GUILD) == []
    assert len(await store.guild_settings(GUILD + 1)) == 1


async def test_budget_refuses_what_would_pass_it_and_says_what_was_used(store: Any) -> None:
    """Costs add up to the budget exactly (decimals too); the next is refused with the sum."""
    assert await admit(store, make_task(cost=1.5), budget=3.0)
    assert await admit(store, make_task(cost=1.5), budget=3.0)
    counts = await store.insert_within_limits(
        make_task(cost=0.5),
        AdmissionLimits(day_start=DAY, server_budget=3.0),
    )
    assert counts is not None and counts.credits_used == 3.0
    assert await store.credits_used(GUILD, day_start=DAY) == 3.0
    assert await admit(store, make_task(cost=0.1), budget=0.0)  # 0 = no budget


async def test_failed_tasks_yesterdays_and_other_servers_do_not_count(store: Any) -> None:
    """Only today's tasks of this server that did not fail use its credits."""
    await admit(store, make_task(cost=2.0, state=TaskState.FAILED), budget=0)
    await admit(store, make_task(cost=2.0, created_at=DAY - 1), budget=0)
    await admit(store, make_task(cost=2.0, guild_id=GUILD + 1), budget=0)
    await admit(store, make_task(cost=2.0, state=TaskState.CANCELLED), budget=0)
    assert await store.credits_used(GUILD, day_start=DAY) == 2.0
    assert await admit(store, make_task(cost=1.0), budget=3.0)
    assert not await admit(store, make_task(cost=0.5), budget=3.0)


async def test_a_task_that_fails_later_frees_its_credits(store: Any) -> None:
    """A task failed by the gateway after admission stops counting."""
    task = make_task(cost=2.0)
    assert await admit(store, task, budget=2.0)
    assert not await admit(store, make_task(cost=2.0), budget=2.0)
    await store.update(task.evolve(state=TaskState.FAILED))
    assert await admit(store, make_task(cost=2.0), budget=2.0)


async def test_a_burst_of_admits_from_many_members_never_passes_the_budget(store: Any) -> None:
    """40 members at once, 1 credit each, a budget of 7: exactly 7 are stored."""
    results = await asyncio.gather(
        *(admit(store, make_task(requester_id=1000 + i), budget=7.0) for i in range(40))
    )
    assert sum(results) == 7
    assert await store.credits_used(GUILD, day_start=DAY) == 7.0


async def test_two_stores_share_the_budget(store: Any, backend: Backend) -> None:
    """Two stores on one database (as two processes) admitting at once share one budget."""
    second = await backend.open()
    results = await asyncio.gather(
        *(
            admit(s, make_task(requester_id=1000 + i), budget=5.0)
            for i in range(10)
            for s in (store, second)
        )
    )
    assert sum(results) == 5
    assert await second.credits_used(GUILD, day_start=DAY) == 5.0


async def test_the_budget_and_a_members_limit_hold_together(store: Any, backend: Backend) -> None:
    """Admits for several members of one budgeted server, from two stores: neither the budget
    nor any member's active limit is passed, and nothing deadlocks."""
    second = await backend.open()
    results = await asyncio.gather(
        *(
            s.insert_within_limits(
                make_task(requester_id=1000 + i % 3),
                AdmissionLimits(max_active=2, max_daily=0, day_start=DAY, server_budget=5.0),
            )
            for i in range(18)
            for s in (store, second)
        )
    )
    assert sum(r is None for r in results) == 5
    for member in (1000, 1001, 1002):
        assert (await store.count_limits(member, day_start=DAY)).active <= 2


async def test_guild_unfinished_pages_oldest_first(store: Any) -> None:
    """The server's unfinished tasks, oldest first, paged; finished and other servers' left out."""
    tasks = [make_task(created_at=NOW + i, state=TaskState.RUNNING) for i in range(5)]
    for task in reversed(tasks):
        await admit(store, task, budget=0)
    await admit(store, make_task(state=TaskState.COMPLETED), budget=0)
    await admit(store, make_task(guild_id=GUILD + 1, state=TaskState.QUEUED), budget=0)
    first = await store.guild_unfinished(GUILD, limit=3, offset=0)
    rest = await store.guild_unfinished(GUILD, limit=3, offset=3)
    assert [t.id for t in first + rest] == [t.id for t in tasks]
    assert first[0].cost == 1.0


async def test_a_setting_changed_in_one_process_applies_in_another(
    store: Any, backend: Backend
) -> None:
    """/settings in one process; the next policy read in another sees it, with its author."""
    second = await backend.open()
    clock = FakeClock()
    here = Policies(store, BotDefaults(), clock)
    there = Policies(second, BotDefaults(), clock)
    await there.for_guild(GUILD)  # nothing is kept from this read
    await here.change(GUILD, {"active_per_member": 1, "daily_server_credits": 2.5}, by=7)
    policy = await there.for_guild(GUILD)
    assert (policy.max_active, policy.daily_server_credits) == (1, 2.5)
    record = policy.record("active_per_member")
    assert record is not None and record.changed_by == 7
    await here.reset(GUILD)
    assert (await there.for_guild(GUILD)).max_active == BotDefaults().max_active

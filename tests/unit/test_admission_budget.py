"""Admission under a server's policy, on fakes: defaults, member limits and the daily credit
budget come from the server's settings; a task that fails at the gateway gives its credits
back."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes import FakeGateway, MemoryStore, RecordingNotifier
from tests.support.clock import FakeClock
from videojobs.credits import day_start, next_reset
from videojobs.errors import GatewayError, RequestRejected
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import Requester, TaskState, VideoRequest
from videojobs.policy import BotDefaults, Policies
from videojobs.service import VideoJobsService

GUILD = 100
ADMIN = 9
PRO_10 = VideoRequest(prompt="a glacier calving", model="kling-v3", mode="pro", duration=10)
STD_5 = VideoRequest(prompt="a glacier calving", model="kling-v3")


def member(user_id: int, guild_id: int | None = GUILD) -> Requester:
    return Requester(user_id=user_id, guild_id=guild_id, channel_id=500)


class World:
    def __init__(self, **defaults: object) -> None:
        self.clock = FakeClock()
        self.store = MemoryStore()
        self.gateway = FakeGateway()
        rules = BotDefaults(task_costs=(("std", 1.0), ("pro", 2.0)), **defaults)  # type: ignore[arg-type]
        self.policies = Policies(self.store, rules, self.clock)
        self.service = VideoJobsService(
            Lifecycle(self.store, self.gateway, RecordingNotifier(), ServiceConfig(), self.clock),
            policies=self.policies,
        )

    async def used(self) -> float:
        return await self.store.credits_used(GUILD, day_start=day_start(self.clock.now()))


async def test_a_task_is_stored_with_its_cost() -> None:
    """10 s of pro at 2 credits per 5 s costs 4."""
    w = World()
    task = await w.service.admit(PRO_10, member(1))
    assert task.cost == 4.0


async def test_the_budget_refuses_a_task_that_would_pass_it() -> None:
    """With 5 credits, a 4-credit task fits, the next does not; nothing of it is stored or
    sent, and the member reads the cost, what is left and when it resets."""
    w = World()
    await w.policies.change(GUILD, {"daily_server_credits": 5}, by=ADMIN)
    await w.service.admit_and_send(PRO_10, member(1))
    with pytest.raises(RequestRejected) as refused:
        await w.service.admit_and_send(PRO_10, member(2))
    text = str(refused.value)
    assert "costs 4 credits" in text and "1 of its 5 credits" in text
    assert f"<t:{int(next_reset(w.clock.now()))}:R>" in text
    assert "A 5-second std video costs 1 credit and would fit" in text
    assert len(w.store.tasks) == 1 and len(w.gateway.created) == 1


async def test_the_environment_budget_applies_until_a_server_sets_its_own() -> None:
    """DAILY_SERVER_CREDITS is every server's budget; /settings limits replaces it; 0 lifts it."""
    w = World(daily_server_credits=1.0)
    await w.service.admit(STD_5, member(1))
    with pytest.raises(RequestRejected, match="0 of its 1 credit"):
        await w.service.admit(STD_5, member(2))
    await w.policies.change(GUILD, {"daily_server_credits": 0}, by=ADMIN)
    await w.service.admit(PRO_10, member(2))
    assert await w.used() == 5.0


async def test_a_create_the_gateway_refused_gives_its_credits_back() -> None:
    """A task failed at create does not count: the budget is free again."""
    w = World(daily_server_credits=4.0)
    w.gateway.create_errors = [GatewayError("Your prompt was refused.", retryable=False)]
    failed = await w.service.admit_and_send(PRO_10, member(1))
    assert failed.state is TaskState.FAILED
    assert await w.used() == 0.0
    assert (await w.service.admit_and_send(PRO_10, member(2))).state is TaskState.QUEUED


async def test_a_burst_from_many_members_never_passes_the_budget() -> None:
    """Twenty members at once against 7 credits of 1 each: exactly 7 tasks."""
    w = World(daily_server_credits=7.0, max_active=0)
    results = await asyncio.gather(
        *(w.service.admit(STD_5, member(i)) for i in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 7
    assert all(isinstance(r, RequestRejected) for r in results if isinstance(r, BaseException))


async def test_retry_goes_through_the_same_budget() -> None:
    """Retry is a new task and costs again."""
    w = World(daily_server_credits=2.0, max_active=0)
    first = await w.service.admit(STD_5, member(1))
    await w.service.retry(first.id, member(1))
    with pytest.raises(RequestRejected, match="costs 1 credit"):
        await w.service.retry(first.id, member(1))


async def test_direct_messages_have_no_server_budget() -> None:
    """A DM is nobody's server: only the member limits apply."""
    w = World(daily_server_credits=1.0, max_active=0)
    for _ in range(3):
        await w.service.admit(PRO_10, member(1, guild_id=None))


async def test_server_limits_and_defaults_replace_the_environment() -> None:
    """active_per_member from /settings is the limit the member meets."""
    w = World(max_active=5)
    await w.policies.change(GUILD, {"active_per_member": 1}, by=ADMIN)
    await w.service.admit(STD_5, member(1))
    with pytest.raises(RequestRejected, match="the limit is 1"):
        await w.service.admit(STD_5, member(1))
    await w.service.admit(STD_5, member(1, guild_id=GUILD + 1))  # another server: 5


async def test_the_budget_starts_again_at_utc_midnight() -> None:
    """Spent at 23:59 UTC; at 00:00 the whole budget is there again."""
    w = World(daily_server_credits=1.0, max_active=0)
    w.clock.t = next_reset(w.clock.now()) - 60
    await w.service.admit(STD_5, member(1))
    with pytest.raises(RequestRejected, match="resets at midnight UTC"):
        await w.service.admit(STD_5, member(2))
    w.clock.advance(60)
    await w.service.admit(STD_5, member(2))
    assert await w.used() == 1.0

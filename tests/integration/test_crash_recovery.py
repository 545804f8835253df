"""Kill the service at every step of a task's life, restart it on the same SQLite file, and show
that every task is delivered exactly once and never submitted twice.

A 'step' is any call the service makes to its store, gateway or notifier. The crash comes either
just before the call (it never happened) or just after it (it happened, but the service never
learnt the result) — the two cases that matter for exactly-once. After the crash the old service
is abandoned: every later call it makes fails, as in a dead process.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage.task_store import SqliteTaskStore
from tests.fakes import FakeGateway, RecordingNotifier
from tests.support.clock import FakeClock
from tests.support.passes import run_until_idle
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import DeliveryState, Requester, TaskState, VideoRequest
from videojobs.policy import BotDefaults, Policies
from videojobs.service import VideoJobsService

CONFIG = ServiceConfig(poll_interval=10, progress_min_interval=0)
NO_LIMITS = BotDefaults(max_active=0, max_daily=0)
ALICE = Requester(user_id=1, guild_id=100, channel_id=500)
REQUESTS = [
    VideoRequest(prompt="a lighthouse in a storm", model="kling-v3"),
    VideoRequest(prompt="a kite over a beach", model="kling-v3"),
]


class Crash(BaseException):
    """The process died here (a BaseException, so no `except Exception` swallows it)."""


@dataclasses.dataclass
class Fuse:
    at: int  # the step that crashes
    after: bool  # crash after the call returned instead of before it was made
    steps: int = 0
    blown: bool = False

    def wrap(self, target: Any) -> Any:
        return _Fused(target, self)


class _Fused:
    def __init__(self, target: Any, fuse: Fuse) -> None:
        self._target = target
        self._fuse = fuse

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr
        fuse = self._fuse

        async def call(*args: Any, **kwargs: Any) -> Any:
            if fuse.blown:
                raise Crash
            fuse.steps += 1
            step = fuse.steps
            if step == fuse.at and not fuse.after:
                fuse.blown = True
                raise Crash
            result = await attr(*args, **kwargs)
            if fuse.blown or (step == fuse.at and fuse.after):
                fuse.blown = True
                raise Crash
            return result

        return call


async def life(service: VideoJobsService, store: Any, clock: FakeClock) -> None:
    """Two members' tasks from submission to delivery: one completes, one fails."""
    for request in REQUESTS:
        await service.admit_and_send(request, ALICE)
    await run_until_idle(service, store, clock, passes=100, step=0.01)


@dataclasses.dataclass
class World:
    """What outlives the bot's process: the database file, the gateway, Discord, the time."""

    db: Path
    gateway: FakeGateway
    discord: RecordingNotifier
    clock: FakeClock


def new_world(tmp_path: Path, name: str) -> World:
    gateway = FakeGateway()
    scripts = iter([["queued", "running", "completed"], ["running", "failed"]])
    create = gateway.create

    async def scripted_create(request: Any) -> Any:  # the second task fails upstream
        snapshot = await create(request)
        gateway.remote[snapshot.task_id].script = [
            gateway.snapshot(snapshot.task_id, s) for s in next(scripts, ["completed"])
        ]
        return snapshot

    gateway.create = scripted_create  # type: ignore[method-assign]
    return World(tmp_path / f"{name}.sqlite3", gateway, RecordingNotifier(), FakeClock())


async def run_with_crash(world: World, fuse: Fuse | None) -> bool:
    """Run the task life, crashing at the fuse's step. Returns whether it crashed."""
    random.seed(7)  # the same poll jitter in every run, so step k is the same step
    store = await SqliteTaskStore.open(world.db)
    wrap: Callable[[Any], Any] = fuse.wrap if fuse else (lambda x: x)
    service = VideoJobsService(
        Lifecycle(wrap(store), wrap(world.gateway), wrap(world.discord), CONFIG, world.clock),
        policies=Policies(None, NO_LIMITS, world.clock),
    )
    try:
        await life(service, wrap(store), world.clock)
    except Crash:
        await service.drain(1.0)  # the dead process's background jobs hit the fuse too
        return True
    finally:
        await store.close()
    return False


async def restart_and_finish(world: World) -> SqliteTaskStore:
    store = await SqliteTaskStore.open(world.db, exclusive=True)  # as the bot: frees old leases
    service = VideoJobsService(
        Lifecycle(store, world.gateway, world.discord, CONFIG, world.clock),
        policies=Policies(None, NO_LIMITS, world.clock),
    )
    await service.recover()
    await run_until_idle(service, store, world.clock, passes=100, step=0.01)
    return store


async def count_steps(tmp_path: Path) -> int:
    world = new_world(tmp_path, "count")
    fuse = Fuse(at=10**9, after=False)
    assert not await run_with_crash(world, fuse)
    return fuse.steps


@pytest.mark.parametrize("after", [False, True], ids=["before-step", "after-step"])
async def test_a_crash_at_any_step_loses_and_repeats_nothing(tmp_path: Path, after: bool) -> None:
    """For every step k: crash at k, restart, settle; each stored task is submitted at most
    once and delivered exactly once, and nothing stays unfinished."""
    total = await count_steps(tmp_path)
    assert total > 20  # the life really has many steps to crash at
    for k in range(1, total + 1):
        world = new_world(tmp_path, f"crash-{k}-{after}")
        assert await run_with_crash(world, Fuse(at=k, after=after)), f"no crash at step {k}"
        store = await restart_and_finish(world)
        tasks = await store.in_states(set(TaskState))
        await store.close()

        sent = collections.Counter(r.external_task_id for r in world.gateway.created)
        assert all(n == 1 for n in sent.values()), f"step {k}: a task was submitted twice"
        delivered = collections.Counter(task_id for task_id, _ in world.discord.deliveries)
        for task in tasks:
            assert task.state.is_terminal, f"step {k}: {task.short_id} left {task.state}"
            assert task.delivery is DeliveryState.DELIVERED, f"step {k}: not delivered"
            assert delivered[task.id] == 1, f"step {k}: delivered {delivered[task.id]} times"
            if task.state is TaskState.COMPLETED:
                assert sent[task.id] == 1
        assert set(delivered) <= {t.id for t in tasks}

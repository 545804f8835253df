"""Hand-written fakes of the core's ports: an in-memory store, a scripted gateway, a recording
notifier. (The clock that moves only when told is tests/support/clock.py.)"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from videojobs.errors import DuplicateTaskId, GatewayError, InvalidTaskRecord
from videojobs.models import (
    ACTIVE_STATES,
    POLLED_STATES,
    TERMINAL_STATES,
    DeliveryState,
    GatewayState,
    GenerationRequest,
    TaskSnapshot,
    TaskState,
    VideoRequest,
    VideoTask,
)
from videojobs.policy import SettingRecord
from videojobs.ports import AdmissionLimits, LimitCounts

_TASK_ID = re.compile(r"[0-9a-f]{32}")


class MemoryKeyValues:
    """Implements KeyValues with a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value

    async def setdefault(self, key: str, value: str) -> str:
        return self.values.setdefault(key, value)


class MemoryStore:
    """Implements TaskStore with dicts; every method is atomic because nothing awaits inside.

    It refuses what the SQL stores refuse (a taken id or short id, an id that is not 32 hex
    digits, a retry of an unknown task) and orders like them: the store contract suite
    (tests/contract/) runs the same tests on it, on SQLite and on PostgreSQL."""

    def __init__(
        self,
        owner: str = "memory-1",
        clock: Callable[[], float] = time.time,
        *,
        shared: MemoryStore | None = None,
    ) -> None:
        """`shared`: another MemoryStore whose data this one sees (a second process)."""
        self.owner = owner
        self.lease_seconds = 30.0
        self.lease_clock = clock
        if shared is None:
            self.tasks: dict[str, VideoTask] = {}
            self.key_values = MemoryKeyValues()
            self.settings: dict[int, dict[str, SettingRecord]] = {}
            self.leases: dict[str, tuple[str, float]] = {}
            self.listeners: list[tuple[str, Callable[[], None]]] = []
            self.locks: dict[str, tuple[str, float]] = {}
        else:
            self.tasks, self.settings = shared.tasks, shared.settings
            self.key_values = shared.key_values
            self.leases, self.listeners = shared.leases, shared.listeners
            self.locks = shared.locks

    def set_lease_terms(
        self,
        owner: str | None = None,
        lease_seconds: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.owner = owner or self.owner
        self.lease_seconds = lease_seconds or self.lease_seconds
        self.lease_clock = clock or self.lease_clock

    # --- leases (as storage/leases.py) ----------------------------------------------------------

    def _free(self, task_id: str) -> bool:
        lease = self.leases.get(task_id)
        return lease is None or lease[0] == self.owner or lease[1] < self.lease_clock()

    def _expired(self, task_id: str) -> bool:
        lease = self.leases.get(task_id)
        return lease is None or lease[1] < self.lease_clock()

    def _lease(self, tasks: list[VideoTask]) -> list[VideoTask]:
        until = self.lease_clock() + self.lease_seconds
        for task in tasks:
            self.leases[task.id] = (self.owner, until)
        return tasks

    async def orphaned(self, limit: int) -> list[VideoTask]:
        found = [
            t
            for t in self.tasks.values()
            if t.state in (TaskState.PENDING, TaskState.SUBMITTING)
            and t.wait_reason is None
            and self._expired(t.id)
        ]
        return self._lease(sorted(found, key=lambda t: t.created_at)[:limit])

    async def take(self, task_id: str) -> bool:
        if task_id not in self.tasks or not self._free(task_id):
            return False
        self._lease([self.tasks[task_id]])
        return True

    async def renew_leases(self) -> int:
        now, until = self.lease_clock(), self.lease_clock() + self.lease_seconds
        mine = [k for k, (owner, end) in self.leases.items() if owner == self.owner and end >= now]
        for task_id in mine:
            self.leases[task_id] = (self.owner, until)
        return len(mine)

    async def lease_of(self, task_id: str) -> tuple[str, float] | None:
        return self.leases.get(task_id)

    async def try_lock(self, name: str, seconds: float) -> bool:
        now = self.lease_clock()
        held = self.locks.get(name)
        if held is not None and held[0] != self.owner and held[1] >= now:
            return False
        self.locks[name] = (self.owner, now + seconds)
        return True

    async def release_lock(self, name: str) -> None:
        if self.locks.get(name, ("", 0.0))[0] == self.owner:
            del self.locks[name]

    async def clear_leases(self) -> int:
        count = len(self.leases)
        self.leases.clear()
        self.locks.clear()
        return count

    async def on_wake(self, callback: Callable[[], None]) -> None:
        self.listeners.append((self.owner, callback))

    async def wake_others(self) -> None:
        for owner, callback in self.listeners:
            if owner != self.owner:
                callback()

    async def insert_within_limits(
        self, task: VideoTask, limits: AdmissionLimits
    ) -> LimitCounts | None:
        counts = self._counts(task.requester_id, limits.day_start)
        if limits.budgeted and task.guild_id is not None:
            counts = replace(counts, credits_used=self._credits(task.guild_id, limits.day_start))
        if not limits.admit(counts, task.cost):
            return counts
        if task.id in self.tasks or any(t.short_id == task.short_id for t in self.tasks.values()):
            raise DuplicateTaskId(task.id)
        if not _TASK_ID.fullmatch(task.id):
            raise InvalidTaskRecord(f"task {task.id!r} refused by the store: CHECK (id)")
        if task.retry_of is not None and task.retry_of not in self.tasks:
            raise InvalidTaskRecord(f"task {task.id!r} refused by the store: FOREIGN KEY")
        self.tasks[task.id] = task
        self._lease([task])
        await self.wake_others()
        return None

    async def credits_used(self, guild_id: int, *, day_start: float) -> float:
        return self._credits(guild_id, day_start)

    async def guild_unfinished(self, guild_id: int, *, limit: int, offset: int) -> list[VideoTask]:
        mine = [t for t in self.tasks.values() if t.guild_id == guild_id]
        unfinished = sorted(
            (t for t in mine if t.state in ACTIVE_STATES), key=lambda t: (t.created_at, t.id)
        )
        return unfinished[offset : offset + limit]

    async def guild_settings(self, guild_id: int) -> list[SettingRecord]:
        return sorted(self.settings.get(guild_id, {}).values(), key=lambda r: r.key)

    async def change_guild_settings(
        self, guild_id: int, values: Mapping[str, str | None], *, changed_by: int, at: float
    ) -> None:
        mine = self.settings.setdefault(guild_id, {})
        for key, value in values.items():
            if value is None:
                mine.pop(key, None)
            else:
                mine[key] = SettingRecord(key, value, changed_by, at)

    async def reset_guild_settings(self, guild_id: int) -> int:
        return len(self.settings.pop(guild_id, {}))

    def _credits(self, guild_id: int, day_start: float) -> float:
        return sum(
            t.cost
            for t in self.tasks.values()
            if t.guild_id == guild_id
            and t.created_at >= day_start
            and t.state is not TaskState.FAILED
        )

    async def get(self, task_id: str) -> VideoTask | None:
        return self.tasks.get(task_id)

    async def find_by_short_id(self, short_id: str) -> VideoTask | None:
        key = short_id.strip().lower()
        return next((t for t in self.tasks.values() if t.short_id == key), None)

    async def find_by_gateway_id(self, gateway_task_id: str) -> VideoTask | None:
        found = [t for t in self.tasks.values() if t.gateway_task_id == gateway_task_id]
        return max(found, key=lambda t: t.created_at, default=None)

    async def update(
        self, task: VideoTask, *, expect_states: Collection[TaskState] | None = None
    ) -> bool:
        current = self.tasks.get(task.id)
        if current is None or (expect_states is not None and current.state not in expect_states):
            return False
        self.tasks[task.id] = task.evolve(
            request=current.request,
            requester_id=current.requester_id,
            guild_id=current.guild_id,
            channel_id=current.channel_id,
            created_at=current.created_at,
            retry_of=current.retry_of,
            cost=current.cost,
            delivery=current.delivery,
            delivery_message_id=current.delivery_message_id,
            delivered_at=current.delivered_at,
            delivery_attempts=current.delivery_attempts,
            delivery_retry_at=current.delivery_retry_at,
        )
        return True

    async def update_many(
        self, tasks: Sequence[VideoTask], *, expect_states: Collection[TaskState] | None = None
    ) -> int:
        return sum([await self.update(task, expect_states=expect_states) for task in tasks])

    async def claim_delivery(self, task_id: str, now: float) -> bool:
        task = self.tasks.get(task_id)
        if task is None or task.state not in TERMINAL_STATES:
            return False
        if task.delivery is not DeliveryState.NONE or not self._free(task_id):
            return False
        self.tasks[task_id] = task.evolve(delivery=DeliveryState.CLAIMED)
        self._lease([task])
        return True

    async def mark_delivered(self, task_id: str, message_id: int | None, now: float) -> None:
        if task_id not in self.tasks:
            return
        self.tasks[task_id] = self.tasks[task_id].evolve(
            delivery=DeliveryState.DELIVERED,
            delivery_message_id=message_id,
            delivered_at=now,
            delivery_retry_at=None,
        )
        self.leases.pop(task_id, None)

    async def delivery_failed(self, task_id: str, *, attempts: int, retry_at: float) -> None:
        task = self.tasks.get(task_id)
        if task is not None and task.delivery is DeliveryState.CLAIMED:
            self.tasks[task_id] = task.evolve(
                delivery_attempts=attempts, delivery_retry_at=retry_at
            )

    async def give_up_delivery(self, task_id: str, *, attempts: int, now: float) -> None:
        task = self.tasks.get(task_id)
        if task is not None and task.delivery is DeliveryState.CLAIMED:
            self.tasks[task_id] = task.evolve(
                delivery=DeliveryState.GAVE_UP, delivery_attempts=attempts, delivery_retry_at=None
            )

    async def reopen_given_up(self) -> int:
        given_up = [t for t in self.tasks.values() if t.delivery is DeliveryState.GAVE_UP]
        for task in given_up:
            self.tasks[task.id] = task.evolve(
                delivery=DeliveryState.CLAIMED, delivery_attempts=0, delivery_retry_at=None
            )
        return len(given_up)

    async def due_for_poll(self, now: float, limit: int) -> list[VideoTask]:
        due = [
            t
            for t in self.tasks.values()
            if t.state in POLLED_STATES and t.next_poll_at <= now and self._free(t.id)
        ]
        return self._lease(sorted(due, key=lambda t: t.next_poll_at)[:limit])

    async def next_poll_at(self) -> float | None:
        times = [t.next_poll_at for t in self.tasks.values() if t.state in POLLED_STATES]
        return min(times, default=None)

    async def in_states(self, states: Collection[TaskState]) -> list[VideoTask]:
        return sorted(
            (t for t in self.tasks.values() if t.state in states), key=lambda t: t.created_at
        )

    async def waiting(self, limit: int) -> list[VideoTask]:
        found = [t for t in self.tasks.values() if t.waiting and self._free(t.id)]
        return self._lease(sorted(found, key=lambda t: t.created_at)[:limit])

    async def undelivered(self) -> list[VideoTask]:
        owed = [t for t in self.tasks.values() if t.state in TERMINAL_STATES and t.delivery.is_owed]
        return sorted(
            owed, key=lambda t: (t.finished_at is not None, t.finished_at or 0, t.created_at)
        )

    async def deliveries_due(self, now: float, limit: int) -> list[VideoTask]:
        owed = await self.undelivered()
        due = [t for t in owed if (t.delivery_retry_at or 0) <= now and self._free(t.id)]
        return self._lease(due[:limit])

    async def next_delivery_at(self) -> float | None:
        owed = await self.undelivered()
        return min((t.delivery_retry_at for t in owed if t.delivery_retry_at), default=None)

    async def user_tasks(self, user_id: int, *, unfinished: bool, limit: int) -> list[VideoTask]:
        mine = [t for t in self.tasks.values() if t.requester_id == user_id]
        if unfinished:
            return sorted(
                (t for t in mine if t.state in ACTIVE_STATES), key=lambda t: t.created_at
            )[:limit]
        done = (t for t in mine if t.state in TERMINAL_STATES)
        return sorted(
            done,
            key=lambda t: (t.updated_at if t.finished_at is None else t.finished_at, t.created_at),
            reverse=True,
        )[:limit]

    async def count_limits(self, user_id: int, *, day_start: float) -> LimitCounts:
        return self._counts(user_id, day_start)

    async def count_unfinished(self, guild_id: int | None) -> int:
        return sum(
            1
            for t in self.tasks.values()
            if t.state in ACTIVE_STATES and (guild_id is None or t.guild_id == guild_id)
        )

    async def completed_durations(
        self, model: str, mode: str, duration: int, *, limit: int
    ) -> list[float]:
        done = [
            t
            for t in self.tasks.values()
            if t.state is TaskState.COMPLETED
            and t.finished_at is not None
            and t.attempts <= 1
            and (t.request.model, t.request.mode, t.request.duration) == (model, mode, duration)
        ]
        done.sort(key=lambda t: t.finished_at or 0, reverse=True)
        return [(t.finished_at or 0) - t.created_at for t in done[:limit]]

    async def finished_tasks(
        self, user_id: int, guild_id: int | None, *, offset: int, limit: int
    ) -> list[VideoTask]:
        mine = self._finished(user_id, guild_id)
        return mine[offset : offset + limit]

    async def count_finished(self, user_id: int, guild_id: int | None) -> int:
        return len(self._finished(user_id, guild_id))

    def _finished(self, user_id: int, guild_id: int | None) -> list[VideoTask]:
        mine = [
            t
            for t in self.tasks.values()
            if t.requester_id == user_id and t.guild_id == guild_id and t.state in TERMINAL_STATES
        ]
        return sorted(mine, key=lambda t: (t.finished_at or 0, t.id), reverse=True)

    async def close(self) -> None:
        return None

    def _counts(self, user_id: int, day_start: float) -> LimitCounts:
        mine = [t for t in self.tasks.values() if t.requester_id == user_id]
        return LimitCounts(
            active=sum(1 for t in mine if t.state in ACTIVE_STATES),
            today=sum(1 for t in mine if t.created_at >= day_start),
        )


@dataclass
class RemoteTask:
    request: GenerationRequest
    script: list[TaskSnapshot | GatewayError]
    fetches: int = 0


class FakeGateway:
    """Each created task follows a script: one entry per fetch, the last one repeating."""

    def __init__(self) -> None:
        self.created: list[GenerationRequest] = []
        self.remote: dict[str, RemoteTask] = {}
        self.create_errors: list[GatewayError] = []
        self.default_script: list[str] = ["queued", "running", "completed"]
        self._ids = itertools.count(1)

    async def create(self, request: GenerationRequest) -> TaskSnapshot:
        if self.create_errors:
            raise self.create_errors.pop(0)
        task_id = f"task_{next(self._ids):032d}"
        self.created.append(request)
        self.remote[task_id] = RemoteTask(
            request, [self.snapshot(task_id, s) for s in self.default_script]
        )
        return TaskSnapshot(task_id=task_id, state=GatewayState.PENDING)

    async def fetch(self, task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        remote = self.remote.get(task_id)
        if remote is None:
            raise GatewayError(
                "task not found",
                retryable=False,
                task_missing=True,
                status=400,
                code="task_not_exist",
            )
        step = remote.script[min(remote.fetches, len(remote.script) - 1)]
        remote.fetches += 1
        if isinstance(step, GatewayError):
            raise step
        return step

    @staticmethod
    def snapshot(task_id: str, state: str) -> TaskSnapshot:
        return {
            "queued": TaskSnapshot(task_id, GatewayState.PENDING, 0),
            "running": TaskSnapshot(task_id, GatewayState.RUNNING, 30),
            "completed": TaskSnapshot(
                task_id, GatewayState.COMPLETED, 100, video_url=f"https://cdn.test/{task_id}.mp4"
            ),
            "failed": TaskSnapshot(
                task_id, GatewayState.FAILED, 0, failure_reason="Kling refused the image."
            ),
        }[state]


@dataclass
class RecordingNotifier:
    """Keeps the messages it 'sent' like Discord would: they survive a crash of the service."""

    progress_updates: list[tuple[str, TaskState, int]] = field(default_factory=list)
    deliveries: list[tuple[str, TaskState]] = field(default_factory=list)
    fail_next_deliveries: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _sent: dict[str, int] = field(default_factory=dict)

    async def progress(self, task: VideoTask) -> None:
        self.progress_updates.append((task.id, task.state, task.progress))

    async def find_delivery(self, task: VideoTask) -> int | None:
        return self._sent.get(task.id)

    async def deliver(self, task: VideoTask) -> int | None:
        if self.fail_next_deliveries:
            self.fail_next_deliveries -= 1
            raise ConnectionError("Discord is unreachable")
        message_id = next(self._ids)
        self.deliveries.append((task.id, task.state))
        self._sent[task.id] = message_id
        return message_id

    def delivered(self, task_id: str) -> list[TaskState]:
        return [state for tid, state in self.deliveries if tid == task_id]

"""The core's view of the outside world, as Protocols. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from .models import (
    GenerationRequest,
    KeptFrames,
    TaskSnapshot,
    TaskState,
    VideoRequest,
    VideoTask,
)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


class VideoGateway(Protocol):
    async def create(self, request: GenerationRequest) -> TaskSnapshot:
        """Create a remote task. Raises GatewayError (after the client's own retries)."""
        ...

    async def fetch(self, task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        """Read a remote task, made from `request`. Raises GatewayError."""
        ...


@dataclass(frozen=True, slots=True)
class LimitCounts:
    active: int
    today: int
    credits_used: float = 0.0  # the server's, today (0 when there is no budget)


CREDIT_EPSILON = 1e-6  # credits are decimals: 0.1 + 0.2 must fit a budget of 0.3


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    """What one more task of a member must fit: its unfinished and today's tasks (0 = no
    limit), and the credits its server spent since `day_start` (a budget of 0 = none)."""

    max_active: int = 0
    max_daily: int = 0
    day_start: float = 0.0
    server_budget: float = 0.0

    @property
    def budgeted(self) -> bool:
        return self.server_budget > 0

    def admit(self, counts: LimitCounts, cost: float) -> bool:
        """Whether one more task of `cost` fits, given the counts (every store decides alike)."""
        if 0 < self.max_active <= counts.active or 0 < self.max_daily <= counts.today:
            return False
        return not (
            self.budgeted and counts.credits_used + cost > self.server_budget + CREDIT_EPSILON
        )


class KeyValues(Protocol):
    """Small named values kept between runs (the command tree last synced, the callback key);
    each store offers one on its own database as `store.key_values`."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def setdefault(self, key: str, value: str) -> str:
        """Store `value` under `key` unless a value is there already; return the one stored.
        Atomic: however many processes call it at once, all get the same value back."""
        ...


class TaskStore(Protocol):
    """Where tasks live. Every fact needed to finish a task after a restart is here.

    Work is handed out only through `due_for_poll` and `deliveries_due`, and every write that
    moves a task on is a compare-and-set (`update` with `expect_states`, `claim_delivery`). So
    a store shared by several processes can add "which process holds this task, until when"
    (leases) behind these methods — take a lease on what it hands out, skip what another live
    process holds — without any change to the stages that call them.
    """

    @property
    def key_values(self) -> KeyValues:
        """The KeyValues port on the same database (its own port: see KeyValues)."""
        ...

    async def insert_within_limits(
        self, task: VideoTask, limits: AdmissionLimits
    ) -> LimitCounts | None:
        """Atomically count the requester's unfinished tasks and those created since
        `limits.day_start`, and with a budget the credits its guild spent since then (tasks
        that failed do not count); insert `task` only when `limits.admit` says it fits.
        Returns None when inserted, else the counts that stopped it. Raises DuplicateTaskId
        when the id or short id is taken."""
        ...

    async def get(self, task_id: str) -> VideoTask | None: ...

    async def find_by_short_id(self, short_id: str) -> VideoTask | None: ...

    async def update(
        self, task: VideoTask, *, expect_states: Collection[TaskState] | None = None
    ) -> bool:
        """Write every mutable field of `task` except the delivery fields (only
        claim/mark/release change those). With `expect_states`, only if the stored state
        is one of them (compare-and-set); returns whether the row was written."""
        ...

    async def update_many(
        self, tasks: Sequence[VideoTask], *, expect_states: Collection[TaskState] | None = None
    ) -> int:
        """`update` for many tasks in one transaction; returns how many rows were written
        (with `expect_states`, a task whose stored state has moved on is skipped)."""
        ...

    async def claim_delivery(self, task_id: str, now: float) -> bool:
        """NONE -> CLAIMED for a task in a terminal state; False if someone else has it."""
        ...

    async def mark_delivered(self, task_id: str, message_id: int | None, now: float) -> None:
        """-> DELIVERED, with the message that did it (clears any retry)."""
        ...

    async def delivery_failed(self, task_id: str, *, attempts: int, retry_at: float) -> None:
        """A CLAIMED task's delivery attempt failed: `attempts` failures so far, the next
        attempt due at `retry_at` (until then `deliveries_due` leaves it out)."""
        ...

    async def give_up_delivery(self, task_id: str, *, attempts: int, now: float) -> None:
        """CLAIMED -> GAVE_UP after `attempts` failures: not delivered, not retried in this run."""
        ...

    async def reopen_given_up(self) -> int:
        """GAVE_UP -> CLAIMED with no failures counted (at start-up: try those again; CLAIMED,
        so an attempt that did reach Discord is found before anything is sent). Returns how
        many."""
        ...

    async def due_for_poll(self, now: float, limit: int) -> list[VideoTask]:
        """Tasks in QUEUED or RUNNING whose next_poll_at <= now, soonest first."""
        ...

    async def next_poll_at(self) -> float | None:
        """The earliest next_poll_at among polled tasks."""
        ...

    async def waiting(self, limit: int) -> list[VideoTask]:
        """Tasks waiting for the gateway (PENDING with a `wait_reason`), oldest first."""
        ...

    async def in_states(self, states: Collection[TaskState]) -> list[VideoTask]: ...

    async def undelivered(self) -> list[VideoTask]:
        """Terminal tasks whose delivery is NONE or CLAIMED (owed, whenever due)."""
        ...

    async def deliveries_due(self, now: float, limit: int) -> list[VideoTask]:
        """Terminal tasks owed a delivery now: NONE, or CLAIMED with no retry due after `now`;
        the longest finished first."""
        ...

    async def next_delivery_at(self) -> float | None:
        """The earliest retry time among deliveries waiting to be retried."""
        ...

    async def user_tasks(self, user_id: int, *, unfinished: bool, limit: int) -> list[VideoTask]:
        """A member's unfinished tasks (oldest first) or finished ones (newest first)."""
        ...

    async def count_limits(self, user_id: int, *, day_start: float) -> LimitCounts: ...

    async def count_unfinished(self, guild_id: int | None) -> int: ...

    async def credits_used(self, guild_id: int, *, day_start: float) -> float:
        """Credits of the guild's tasks created since `day_start`, failed ones left out."""
        ...

    async def guild_unfinished(self, guild_id: int, *, limit: int, offset: int) -> list[VideoTask]:
        """A page of the guild's unfinished tasks, oldest first."""
        ...

    # --- leases: work is handed out to one process at a time (storage/leases.py) ------------
    # due_for_poll, deliveries_due, waiting and claim_delivery lease what they hand out to
    # this store's process and skip what another live process holds; insert_within_limits
    # leases the new task to the process that admitted it.

    async def orphaned(self, limit: int) -> list[VideoTask]:
        """PENDING (not waiting) or SUBMITTING tasks whose lease ran out (their process is
        gone), oldest first; leased to this process."""
        ...

    async def take(self, task_id: str) -> bool:
        """Lease one task to this process, unless another live process holds it."""
        ...

    async def renew_leases(self) -> int:
        """Extend every lease this process still holds; returns how many."""
        ...

    async def lease_of(self, task_id: str) -> tuple[str, float] | None:
        """Which process holds the task, until when (None: nobody)."""
        ...

    async def try_lock(self, name: str, seconds: float) -> bool:
        """Hold the named lock for `seconds` (again, when it is already this process's),
        unless another process holds it: one process at a time does that job."""
        ...

    async def release_lock(self, name: str) -> None:
        """Let go of the named lock if this process holds it."""
        ...

    async def on_wake(self, callback: Callable[[], None]) -> None:
        """Call `callback` when another process announces work (`wake_others`)."""
        ...

    async def wake_others(self) -> None:
        """Tell the other processes there is work for whoever takes it."""
        ...


@dataclass(frozen=True, slots=True)
class PreparedFrames:
    """A task's frames as the gateway gets them, and where copies are kept."""

    image: str | None  # a public URL or raw base64 meeting Kling's image rules
    image_tail: str | None
    kept: KeptFrames | None  # None: no copy could be kept


class FrameKeeper(Protocol):
    """Fetches, fixes and keeps the frames of image tasks (Discord and Pillow, in production)."""

    async def prepare(self, task: VideoTask, kept: KeptFrames | None) -> PreparedFrames:
        """The task's frames, fixed to Kling's rules and kept with the task (shown where it is
        discussed), taken from `kept` (copies kept for this task or the one it repeats) or else
        from the attachments. Raises FrameUnavailable, with words for the member, when a frame
        is gone or unusable."""
        ...


class Notifier(Protocol):
    """Tells members about their tasks (Discord, in production)."""

    async def progress(self, task: VideoTask) -> None:
        """Show the task's state and progress (already throttled by the service)."""
        ...

    async def find_delivery(self, task: VideoTask) -> int | None:
        """After a crash mid-delivery: the id of the result message if it was sent, else None."""
        ...

    async def deliver(self, task: VideoTask) -> int | None:
        """Tell the requester the task's outcome (video, failure, time-out or cancel).
        Returns the id of the message that did it. Raises on failure (delivery is retried)."""
        ...


class Metrics(Protocol):
    """What the bot counts, for an operator (Prometheus, in production). Every method is cheap
    and never raises; `videojobs.telemetry.NoMetrics` does nothing."""

    def task_admitted(self) -> None:
        """A task passed the rules and limits and was stored."""
        ...

    def task_finished(self, outcome: str) -> None:
        """A task ended: completed, failed, timed_out, cancelled or interrupted."""
        ...

    def gateway_request(self, kind: str, status: str) -> None:
        """One HTTP request to the gateway or its CDN: kind create, fetch or download; status
        the HTTP status, or `error` when no answer came."""
        ...

    def acknowledged(self, seconds: float) -> None:
        """An interaction got its first response this long after it was made."""
        ...

    def delivered(self, seconds: float) -> None:
        """A finished task was delivered this long after its result became known."""
        ...

    def discord_rate_limited(self) -> None:
        """Discord answered a request with 429."""


class MemberQueries(Protocol):
    """What the members' side reads (finish times for the estimate, /history); the task
    stores implement it beside TaskStore."""

    async def completed_durations(
        self, model: str, mode: str, duration: int, *, limit: int
    ) -> list[float]:
        """Seconds from creation to completion of the newest `limit` COMPLETED tasks with
        this model, mode and duration, newest first; tasks sent more than once (they waited
        for the video service to come back) are left out."""
        ...

    async def finished_tasks(
        self, user_id: int, guild_id: int | None, *, offset: int, limit: int
    ) -> list[VideoTask]:
        """A member's finished tasks in one server (None: in DMs), newest finish first."""
        ...

    async def count_finished(self, user_id: int, guild_id: int | None) -> int:
        """How many `finished_tasks` there are in all."""
        ...

"""The task lifecycle: admit, submit, poll, deliver — exactly once, across crashes and restarts.

The protocol that makes it safe:
- a task is stored (PENDING) before anything is sent; the limits are checked in the same
  transaction;
- PENDING -> SUBMITTING is a compare-and-set written before the create call, and the gateway's
  id is stored the moment the call returns. A task found in SUBMITTING after a restart may or
  may not exist upstream: it is never sent again (that could charge twice) but reported to its
  requester as interrupted, who can press Retry;
- delivery is NONE -> CLAIMED -> DELIVERED. A CLAIMED task found after a crash is first looked
  for in Discord (`Notifier.find_delivery`) and only sent if it is not there.

The service has no loop of its own: the poller calls `run_pass()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import DuplicateTaskId, GatewayError, NotAllowed, RequestRejected, TaskNotFound
from .models import (
    ACTIVE_STATES,
    POLLED_STATES,
    DeliveryState,
    GatewayState,
    GenerationRequest,
    Requester,
    TaskSnapshot,
    TaskState,
    VideoRequest,
    VideoTask,
    new_task_id,
)
from .ports import Clock, LimitCounts, Notifier, TaskStore, VideoGateway
from .rules import check_access, validate_request
from .schedule import PollSchedule

log = logging.getLogger(__name__)

INTERRUPTED_REASON = (
    "The bot restarted while it was sending this task to the video service, so it can't tell "
    "whether the task started. It was not sent again, so you are not charged twice: "
    "press Retry to try again."
)
LOST_REASON = "The video service no longer knows this task. Press Retry to start it again."
ID_ATTEMPTS = 5
UNEXPECTED_REASON = "Something went wrong on our side while starting this task. Press Retry."

_STATE_FOR = {
    GatewayState.PENDING: TaskState.QUEUED,
    GatewayState.RUNNING: TaskState.RUNNING,
    GatewayState.COMPLETED: TaskState.COMPLETED,
    GatewayState.FAILED: TaskState.FAILED,
}


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    models: tuple[str, ...]
    poll_interval: float = 10.0
    task_timeout: float = 30 * 60.0
    max_active: int = 2
    max_daily: int = 20
    allowed_channel_ids: frozenset[int] = frozenset()
    allowed_role_ids: frozenset[int] = frozenset()
    callback_url: str | None = None
    relay_refresh: float = 15.0  # the gateway refreshes task states this often (gateway-notes)
    first_poll_after: float = 60.0  # a video takes a minute or more: first poll then
    poll_concurrency: int = 16
    poll_batch: int = 1000
    delivery_concurrency: int = 4
    progress_min_interval: float = 10.0
    delivery_retry_delays: tuple[float, ...] = (5.0, 15.0, 60.0, 300.0, 900.0)

    @property
    def default_model(self) -> str:
        return self.models[0]


@dataclass(frozen=True, slots=True)
class Overview:
    """What `/status` shows a member."""

    unfinished: list[VideoTask]
    recent: list[VideoTask]
    active_left: int | None  # None: no limit
    daily_left: int | None
    server_unfinished: int


@dataclass(slots=True)
class PassReport:
    polled: int = 0
    finished: int = 0
    errors: int = 0
    dispatched: int = 0


@dataclass(slots=True)
class RecoveryReport:
    interrupted: int = 0
    pending: int = 0
    polling: int = 0
    undelivered: int = 0
    next_poll_at: float | None = None


@dataclass(frozen=True, slots=True)
class _Later:
    """A polled task still unfinished, to be written at the end of the pass."""

    task: VideoTask
    sent: float  # when its poll was sent
    show: bool = False  # tell the notifier if its state or progress changed


@dataclass(slots=True)
class _DeliveryRetry:
    attempts: int = 0
    next_at: float = 0.0


@dataclass(slots=True)
class _Shown:
    state: TaskState
    progress: int
    at: float


@dataclass
class _Background:
    """Background coroutines with a reference kept and failures logged."""

    tasks: set[asyncio.Task[object]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, grace: float) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=grace)


class VideoJobsService:
    def __init__(
        self,
        store: TaskStore,
        gateway: VideoGateway,
        notifier: Notifier,
        config: ServiceConfig,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.notifier = notifier
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.schedule = PollSchedule(
            config.poll_interval,
            relay_refresh=config.relay_refresh,
            first_after=config.first_poll_after,
            callbacks=config.callback_url is not None,
        )
        self.poll_requested = asyncio.Event()  # set by callbacks: the poller wakes at once
        self._poll_slots = asyncio.Semaphore(config.poll_concurrency)
        self._delivery_slots = asyncio.Semaphore(config.delivery_concurrency)
        self._delivering: set[str] = set()
        self._delivery_retries: dict[str, _DeliveryRetry] = {}
        self._shown: dict[str, _Shown] = {}
        self._resume: list[str] = []
        self._background = _Background()

    # --- submitting ---------------------------------------------------------------------------

    async def admit(
        self, request: VideoRequest, requester: Requester, *, retry_of: str | None = None
    ) -> VideoTask:
        """Check every rule, allowlist and limit, and store the task (PENDING).

        Raises RequestRejected with a message for the member; nothing is stored then."""
        request = validate_request(request, self.config.models)
        check_access(
            requester,
            allowed_channel_ids=self.config.allowed_channel_ids,
            allowed_role_ids=self.config.allowed_role_ids,
        )
        for _ in range(ID_ATTEMPTS):
            try:
                return await self._store_new(request, requester, retry_of)
            except DuplicateTaskId:
                continue
        raise RuntimeError("could not draw a free task id")

    async def _store_new(
        self, request: VideoRequest, requester: Requester, retry_of: str | None
    ) -> VideoTask:
        now = self.clock.now()
        task = VideoTask(
            id=new_task_id(),
            requester_id=requester.user_id,
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            request=request,
            created_at=now,
            updated_at=now,
            deadline_at=now + self.config.task_timeout,
            next_poll_at=now,
            upload_limit=requester.upload_limit,
            retry_of=retry_of,
        )
        counts = await self.store.insert_within_limits(
            task,
            max_active=self.config.max_active,
            max_daily=self.config.max_daily,
            day_start=_day_start(now),
        )
        if counts is not None:
            raise RequestRejected(self._limit_message(counts))
        log.info("task %s admitted for user %s", task.id, task.requester_id)
        return task

    async def set_location(
        self, task_id: str, *, thread_id: int | None, status_message_id: int | None
    ) -> VideoTask:
        """Remember where the task's messages live (its thread and status embed)."""
        return await self._patch(task_id, thread_id=thread_id, status_message_id=status_message_id)

    async def dispatch(self, task_id: str) -> VideoTask:
        """Send a PENDING task to the gateway, once. Failures end the task and tell its owner."""
        task = await self._get(task_id)
        now = self.clock.now()
        sending = task.evolve(
            state=TaskState.SUBMITTING, attempts=task.attempts + 1, updated_at=now
        )
        if not await self.store.update(sending, expect_states={TaskState.PENDING}):
            return await self._get(task_id)  # someone else sent it, or it was cancelled
        generation = GenerationRequest.for_task(
            task.request, external_task_id=task.id, callback_url=self.config.callback_url
        )
        try:
            snapshot = await self.gateway.create(generation)
        except GatewayError as exc:
            log.warning("task %s: create failed: %r %s", task.id, exc, exc.detail or "")
            return await self._finish(sending, TaskState.FAILED, reason=exc.user_message)
        except Exception:
            log.exception("task %s: create failed unexpectedly", task.id)
            return await self._finish(sending, TaskState.FAILED, reason=UNEXPECTED_REASON)
        now = self.clock.now()
        started = sending.evolve(
            gateway_task_id=snapshot.task_id,
            state=TaskState.RUNNING if snapshot.state is GatewayState.RUNNING else TaskState.QUEUED,
            progress=snapshot.progress,
            next_poll_at=self.schedule.first(now, task.deadline_at),
            updated_at=now,
        )
        if not await self.store.update(started, expect_states={TaskState.SUBMITTING}):
            # cancelled while the create call was on the wire: keep the id for the record
            return await self._patch(task_id, gateway_task_id=snapshot.task_id)
        log.info("task %s submitted as gateway task %s", task.id, snapshot.task_id)
        self._show_progress(started)
        return started

    def start(self, task_id: str) -> None:
        """Dispatch in the background (shutdown waits for it in `drain`)."""
        self._background.spawn(self.dispatch(task_id), f"dispatch {task_id}")

    async def submit(self, request: VideoRequest, requester: Requester) -> VideoTask:
        """Admit and dispatch in one go (the path without a Discord message in between)."""
        task = await self.admit(request, requester)
        return await self.dispatch(task.id)

    async def retry(self, task_id: str, requester: Requester) -> VideoTask:
        """A new task with the same settings, counted against the limits. Not yet dispatched."""
        original = await self._get(task_id)
        if original.requester_id != requester.user_id and not requester.is_admin:
            raise NotAllowed("Only the member who asked for this video, or an admin, can retry it.")
        return await self.admit(original.request, requester, retry_of=original.id)

    # --- polling ------------------------------------------------------------------------------

    async def run_pass(self) -> PassReport:
        """One pass of the background work: resume, deliver what is owed, poll what is due."""
        report = PassReport()
        while self._resume:
            self.start(self._resume.pop())
            report.dispatched += 1
        await self.deliver_owed()
        polled = await self.poll_due()
        report.polled, report.finished, report.errors = polled
        return report

    async def poll_due(self) -> tuple[int, int, int]:
        """Fetch every task that is due, with bounded concurrency. Returns (polled, finished,
        errors).

        A poll that finishes a task writes at once (its delivery follows); the others only move
        `next_poll_at` (and progress), and are written together in one transaction at the end.
        """
        now = self.clock.now()
        due = await self.store.due_for_poll(now, self.config.poll_batch)
        if not due:
            return 0, 0, 0
        later: list[_Later] = []
        outcomes = await asyncio.gather(*(self._poll_one(task, later) for task in due))
        await self._write_later(later)
        self.schedule.prune(now, max_age=2 * self.config.task_timeout)
        finished = sum(1 for o in outcomes if o == "finished")
        errors = sum(1 for o in outcomes if o == "error")
        return len(due), finished, errors

    async def next_wakeup(self) -> float | None:
        """When the poller should run next (None: nothing to poll)."""
        candidates = [t for t in (await self.store.next_poll_at(),) if t is not None]
        candidates += [r.next_at for r in self._delivery_retries.values()]
        if self._resume:
            candidates.append(self.clock.now())
        return min(candidates, default=None)

    async def _poll_one(self, task: VideoTask, later: list[_Later]) -> str:
        if self.clock.now() >= task.deadline_at:
            minutes = self.config.task_timeout / 60
            self.schedule.forget(task.id)
            await self._finish(
                task,
                TaskState.TIMED_OUT,
                reason=f"The video wasn't ready after {minutes:g} minutes, so the bot stopped "
                "waiting. The video service may be overloaded: try again later.",
                expect=POLLED_STATES,
            )
            return "finished"
        assert task.gateway_task_id is not None
        snapshot: TaskSnapshot | None = None
        error: GatewayError | None = None
        async with self._poll_slots:
            sent = self.clock.now()
            try:
                snapshot = await self.gateway.fetch(
                    task.gateway_task_id, image_to_video=task.request.is_image_to_video
                )
            except GatewayError as exc:
                error = exc
            except Exception:
                log.exception("task %s: poll failed unexpectedly", task.id)
        if snapshot is None:
            return await self._poll_failed(task, error, sent, later)
        return await self._apply(task, snapshot, sent, later)

    async def _poll_failed(
        self, task: VideoTask, exc: GatewayError | None, sent: float, later: list[_Later]
    ) -> str:
        if exc is not None and exc.code == "task_not_exist":
            self.schedule.forget(task.id)
            await self._finish(task, TaskState.FAILED, reason=LOST_REASON, expect=POLLED_STATES)
            return "finished"
        now = self.clock.now()
        errors = task.poll_errors + 1
        log.warning("task %s: poll error %d: %r", task.id, errors, exc)
        retry_after = exc.retry_after if exc is not None else None
        next_poll = self.schedule.after_error(now, task.deadline_at, errors, retry_after)
        later.append(
            _Later(task.evolve(poll_errors=errors, next_poll_at=next_poll, updated_at=now), sent)
        )
        return "error"

    async def _apply(
        self, task: VideoTask, snapshot: TaskSnapshot, sent: float, later: list[_Later]
    ) -> str:
        state = _STATE_FOR[snapshot.state]
        now = self.clock.now()
        changed = state is not task.state or snapshot.progress > task.progress
        self.schedule.observe(task.id, sent=sent, received=now, changed=changed)
        if state.is_terminal:
            self.schedule.finished(now - task.created_at)
        if state is TaskState.COMPLETED:
            self.schedule.forget(task.id)
            await self._finish(
                task, state, result_url=snapshot.video_url, progress=100, expect=POLLED_STATES
            )
            return "finished"
        if state is TaskState.FAILED:
            self.schedule.forget(task.id)
            reason = snapshot.failure_reason or "The video service could not make this video."
            await self._finish(task, state, reason=reason, expect=POLLED_STATES)
            return "finished"
        updated = task.evolve(
            state=state,
            progress=max(task.progress, snapshot.progress),
            poll_errors=0,
            next_poll_at=self.schedule.after_success(now, task.deadline_at, task.id, sent=sent),
            updated_at=now,
        )
        later.append(_Later(updated, sent, show=True))
        return "polled"

    async def _write_later(self, later: list[_Later]) -> None:
        """Write the unfinished tasks of a pass in one transaction; only those still polled
        (a task cancelled meanwhile keeps its new state). A callback that came after a poll was
        sent makes that task due again at once (the poll may have missed its news)."""
        if not later:
            return
        now = self.clock.now()
        tasks = [
            item.task.evolve(next_poll_at=now)
            if self.schedule.hinted_since(item.task.id, item.sent)
            else item.task
            for item in later
        ]
        written = await self.store.update_many(tasks, expect_states=POLLED_STATES)
        shown = [task for task, item in zip(tasks, later, strict=True) if item.show]
        if written != len(tasks):  # some moved on meanwhile: show only those still polled
            current = [await self.store.get(task.id) for task in shown]
            shown = [
                task
                for task, stored in zip(shown, current, strict=True)
                if stored is not None and stored.state in POLLED_STATES
            ]
        for task in shown:
            self._show_progress(task)

    async def hint(self, task_id: str) -> bool:
        """A callback said the task changed: poll it now (the poll confirms; a hint is not
        trusted). Returns whether the task is one we are waiting for."""
        task = await self.store.get(task_id)
        if task is None or task.state not in POLLED_STATES:
            return False
        now = self.clock.now()
        running = task.state is TaskState.RUNNING  # then most likely finished
        self.schedule.hinted(task_id, now, result_expected=running)
        if running:  # its result is polled at once, not after the poller's next pass
            self._background.spawn(self._poll_hinted(task), f"hinted poll {task_id}")
        else:
            await self.store.update(task.evolve(next_poll_at=now), expect_states=POLLED_STATES)
        self.poll_requested.set()
        return True

    async def _poll_hinted(self, task: VideoTask) -> None:
        later: list[_Later] = []
        await self._poll_one(task, later)
        await self._write_later(later)
        self.poll_requested.set()  # the poller's next pass sees to what follows

    # --- finishing and delivering -------------------------------------------------------------

    async def _finish(
        self,
        task: VideoTask,
        state: TaskState,
        *,
        reason: str | None = None,
        result_url: str | None = None,
        progress: int | None = None,
        expect: Collection[TaskState] | None = None,
        deliver: bool = True,
    ) -> VideoTask:
        now = self.clock.now()
        done = task.evolve(
            state=state,
            failure_reason=reason,
            result_url=result_url,
            progress=task.progress if progress is None else progress,
            finished_at=now,
            updated_at=now,
        )
        if not await self.store.update(done, expect_states=expect or {task.state}):
            return await self._get(task.id)
        log.info("task %s %s%s", task.id, state.label, f": {reason}" if reason else "")
        self._shown.pop(task.id, None)
        if deliver:
            self._background.spawn(self._deliver(done), f"deliver {task.id}")
        return done

    async def deliver_owed(self) -> None:
        """Start delivering every finished task that has not been delivered, unless it is
        already under way in this process or waiting to retry."""
        now = self.clock.now()
        for task in await self.store.undelivered():
            retry = self._delivery_retries.get(task.id)
            if task.id in self._delivering or (retry and retry.next_at > now):
                continue
            self._background.spawn(self._deliver(task), f"deliver {task.id}")

    async def _deliver(self, task: VideoTask) -> None:
        if task.id in self._delivering:
            return
        self._delivering.add(task.id)
        try:
            async with self._delivery_slots:
                await self._deliver_once(task)
        finally:
            self._delivering.discard(task.id)

    async def _deliver_once(self, task: VideoTask) -> None:
        now = self.clock.now()
        if task.delivery is DeliveryState.DELIVERED:
            return
        if task.delivery is DeliveryState.NONE:
            if not await self.store.claim_delivery(task.id, now):
                return
        else:  # CLAIMED earlier: a crash or a failed attempt. Was it sent after all?
            try:
                found = await self.notifier.find_delivery(task)
            except Exception:
                log.exception("task %s: could not check for an earlier delivery", task.id)
                await self._delivery_failed(task)
                return
            if found is not None:
                await self.store.mark_delivered(task.id, found, now)
                self._delivery_retries.pop(task.id, None)
                log.info("task %s: earlier delivery found (message %s)", task.id, found)
                return
        try:
            message_id = await self.notifier.deliver(task)
        except Exception:
            log.exception("task %s: delivery failed", task.id)
            await self._delivery_failed(task)
            return
        await self.store.mark_delivered(task.id, message_id, self.clock.now())
        self._delivery_retries.pop(task.id, None)
        log.info("task %s delivered (message %s)", task.id, message_id)

    async def _delivery_failed(self, task: VideoTask) -> None:
        retry = self._delivery_retries.setdefault(task.id, _DeliveryRetry())
        delays = self.config.delivery_retry_delays
        if retry.attempts >= len(delays):
            log.error("task %s: giving up delivery after %d attempts", task.id, retry.attempts + 1)
            await self.store.mark_delivered(task.id, None, self.clock.now())
            self._delivery_retries.pop(task.id, None)
            return
        retry.next_at = self.clock.now() + delays[retry.attempts]
        retry.attempts += 1

    def _show_progress(self, task: VideoTask) -> None:
        """Tell the notifier, in the background, when state or progress changed; at most every
        `progress_min_interval` seconds per task."""
        now = self.clock.now()
        shown = self._shown.get(task.id)
        if shown is not None and (shown.state, shown.progress) == (task.state, task.progress):
            return
        if shown is not None and now - shown.at < self.config.progress_min_interval:
            return
        self._shown[task.id] = _Shown(task.state, task.progress, now)
        self._background.spawn(self._send_progress(task), f"progress {task.id}")

    async def _send_progress(self, task: VideoTask) -> None:
        try:
            await self.notifier.progress(task)
        except Exception:
            log.warning("task %s: progress update failed", task.id, exc_info=True)

    # --- cancel and queries -------------------------------------------------------------------

    async def cancel(self, short_id: str, requester: Requester) -> VideoTask:
        task = await self.find(short_id, requester)
        if task.requester_id != requester.user_id and not requester.is_admin:
            raise NotAllowed("You can only cancel your own tasks (admins can cancel any).")
        if task.state not in ACTIVE_STATES:
            raise RequestRejected(
                f"Task `{task.short_id}` is already {task.state.label}; there is nothing to cancel."
            )
        who = "its requester" if task.requester_id == requester.user_id else "an admin"
        done = await self._finish(
            task,
            TaskState.CANCELLED,
            reason=f"Cancelled by {who}. The bot stopped waiting for it.",
            expect=ACTIVE_STATES,
        )
        if done.state is not TaskState.CANCELLED:
            raise RequestRejected(
                f"Task `{task.short_id}` just finished as {done.state.label}; "
                "it can't be cancelled."
            )
        return done

    async def find(self, short_id: str, requester: Requester) -> VideoTask:
        """A task by its short id, visible to members of the server it was made in (and, in
        DMs, to its requester)."""
        key = short_id.strip().lower().lstrip("#`").rstrip("`")[:8]
        task = await self.store.find_by_short_id(key) if len(key) == 8 else None
        visible = task is not None and (
            task.requester_id == requester.user_id
            or (task.guild_id is not None and task.guild_id == requester.guild_id)
        )
        if task is None or not visible:
            raise TaskNotFound(
                f"No task `{short_id.strip()[:20]}` here. Task ids are the 8 characters shown "
                "on the status message; `/status` lists yours."
            )
        return task

    async def get(self, task_id: str) -> VideoTask:
        return await self._get(task_id)

    async def overview(self, requester: Requester, *, recent: int = 5) -> Overview:
        now = self.clock.now()
        unfinished = await self.store.user_tasks(requester.user_id, unfinished=True, limit=25)
        finished = await self.store.user_tasks(requester.user_id, unfinished=False, limit=recent)
        counts = await self.store.count_limits(requester.user_id, day_start=_day_start(now))
        return Overview(
            unfinished=unfinished,
            recent=finished,
            active_left=_left(self.config.max_active, counts.active),
            daily_left=_left(self.config.max_daily, counts.today),
            server_unfinished=(
                await self.store.count_unfinished(requester.guild_id)
                if requester.guild_id is not None
                else len(unfinished)
            ),
        )

    # --- restart ------------------------------------------------------------------------------

    async def recover(self) -> RecoveryReport:
        """At start-up, before any new command: settle what the last process left behind."""
        report = RecoveryReport()
        for task in await self.store.in_states({TaskState.SUBMITTING}):
            log.warning("task %s was being submitted when the bot stopped", task.id)
            await self._finish(task, TaskState.FAILED, reason=INTERRUPTED_REASON, deliver=False)
            report.interrupted += 1
        pending = await self.store.in_states({TaskState.PENDING})
        self._resume = [task.id for task in pending]
        report.pending = len(pending)
        report.polling = len(await self.store.in_states(POLLED_STATES))
        report.undelivered = len(await self.store.undelivered())
        report.next_poll_at = await self.store.next_poll_at()
        return report

    async def drain(self, grace: float = 20.0) -> None:
        """Let in-flight submissions and deliveries finish (on shutdown)."""
        await self._background.drain(grace)

    # --- helpers ------------------------------------------------------------------------------

    async def _patch(self, task_id: str, **changes: Any) -> VideoTask:
        """Change a few fields without undoing a concurrent state change."""
        while True:
            task = await self._get(task_id)
            patched = task.evolve(**changes)
            if await self.store.update(patched, expect_states={task.state}):
                return patched

    async def _get(self, task_id: str) -> VideoTask:
        task = await self.store.get(task_id)
        if task is None:
            raise TaskNotFound("That task no longer exists.")
        return task

    def _limit_message(self, counts: LimitCounts) -> str:
        cfg = self.config
        if cfg.max_active and counts.active >= cfg.max_active:
            return (
                f"You already have {counts.active} videos in progress (the limit is "
                f"{cfg.max_active}). Wait for one to finish, or stop one with `/cancel`."
            )
        return (
            f"You have used all {cfg.max_daily} videos for today (UTC). The count resets at "
            "midnight UTC."
        )


def _day_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def _left(limit: int, used: int) -> int | None:
    return None if limit == 0 else max(0, limit - used)

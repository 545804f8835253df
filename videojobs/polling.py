"""Polling: one pass over the tasks that are due, applying what the gateway says, and the
callbacks that make a task due at once. When each task is polled next is `schedule.py`'s.

A poll that finishes a task writes at once (through `Finish`; its delivery follows); the others
only move `next_poll_at` (and progress), and are written together in one transaction at the
end of the pass.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal, NamedTuple

from .delivery import Delivery
from .errors import GatewayError
from .finish import Finish
from .lifecycle import Lifecycle
from .models import POLLED_STATES, GatewayState, TaskSnapshot, TaskState, VideoTask
from .telemetry import bind

log = logging.getLogger(__name__)

LOST_REASON = "The video service no longer knows this task. Press Retry to start it again."

_STATE_FOR = {
    GatewayState.PENDING: TaskState.QUEUED,
    GatewayState.RUNNING: TaskState.RUNNING,
    GatewayState.COMPLETED: TaskState.COMPLETED,
    GatewayState.FAILED: TaskState.FAILED,
}

Outcome = Literal["finished", "error", "polled", "deferred"]


class PollCounts(NamedTuple):
    polled: int = 0
    finished: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class _Later:
    """A polled task still unfinished, to be written at the end of the pass."""

    task: VideoTask
    sent: float  # when its poll was sent
    show: bool = False  # tell the notifier if its state or progress changed


class Polling:
    def __init__(self, lifecycle: Lifecycle, finish: Finish, delivery: Delivery) -> None:
        self.lc = lifecycle
        self.finish = finish
        self.delivery = delivery
        self.requested = asyncio.Event()  # set by callbacks: the poller wakes at once
        self._slots = asyncio.Semaphore(lifecycle.config.poll_concurrency)
        # Tasks of this process whose last poll failed: polled again as soon as any poll gets
        # an answer, rather than after their own backoff (up to MAX_ERROR_BACKOFF); once per
        # run of failures, so a task that fails on its own still backs off.
        self._failing: set[str] = set()
        self._resumed: set[str] = set()

    async def poll_due(self) -> PollCounts:
        """Fetch every task that is due, with bounded concurrency."""
        lc = self.lc
        now = lc.clock.now()
        due = await lc.store.due_for_poll(now, lc.config.poll_batch)
        if not due:
            return PollCounts()
        later: list[_Later] = []
        outcomes = await asyncio.gather(*(self._poll_one(task, later) for task in due))
        await self._write_later(later)
        if self._failing - self._resumed and any(o in ("finished", "polled") for o in outcomes):
            await self._resume_failing()
        lc.schedule.prune(now, max_age=2 * lc.config.task_timeout)
        return PollCounts(
            polled=len(due),
            finished=outcomes.count("finished"),
            errors=outcomes.count("error"),
        )

    async def hint(self, task_id: str) -> bool:
        """A callback said the task changed: poll it now (the poll confirms; a hint is not
        trusted). Returns whether the task is one we are waiting for."""
        lc = self.lc
        task = await lc.store.get(task_id)
        if task is None or task.state not in POLLED_STATES:
            return False
        now = lc.clock.now()
        if not await lc.store.take(task_id):  # another live process holds it: it polls now
            await lc.store.update(task.evolve(next_poll_at=now), expect_states=POLLED_STATES)
            await lc.store.wake_others()
            return True
        running = task.state is TaskState.RUNNING  # then most likely finished
        lc.schedule.hinted(task_id, now, result_expected=running)
        if running:  # its result is polled at once, not after the poller's next pass
            lc.background.spawn(self._poll_hinted(task), f"hinted poll {task_id}", task)
        else:
            await lc.store.update(task.evolve(next_poll_at=now), expect_states=POLLED_STATES)
        self.requested.set()
        return True

    async def _poll_hinted(self, task: VideoTask) -> None:
        later: list[_Later] = []
        await self._poll_one(task, later)
        await self._write_later(later)
        self.requested.set()  # the poller's next pass sees to what follows

    async def _poll_one(self, task: VideoTask, later: list[_Later]) -> Outcome:
        bind(task)  # each poll runs in an asyncio task of its own (gather, or a background job)
        lc = self.lc
        if lc.clock.now() >= task.deadline_at:
            minutes = lc.config.task_timeout / 60
            lc.schedule.forget(task.id)
            await self.finish(
                task,
                TaskState.TIMED_OUT,
                reason=f"The video wasn't ready after {minutes:g} minutes, so the bot stopped "
                "waiting. The video service may be overloaded: try again later.",
                expect=POLLED_STATES,
            )
            return "finished"
        assert task.gateway_task_id is not None
        deferred = lc.schedule.deferred(
            task.id, lc.clock.now(), task.deadline_at, task.created_at, task.updated_at
        )
        if deferred is not None:  # the safety net learnt meanwhile that it is too early
            later.append(_Later(task.evolve(next_poll_at=deferred), lc.clock.now()))
            return "deferred"
        snapshot: TaskSnapshot | None = None
        error: Exception | None = None
        async with self._slots:
            sent = lc.clock.now()
            try:
                snapshot = await lc.gateway.fetch(task.gateway_task_id, request=task.request)
            except Exception as exc:  # any failure: back off and poll again
                error = exc
        if snapshot is None:
            assert error is not None
            return await self._poll_failed(task, error, sent, later)
        return await self._apply(task, snapshot, sent, later)

    async def _poll_failed(
        self, task: VideoTask, exc: Exception, sent: float, later: list[_Later]
    ) -> Outcome:
        """One log line per failed poll (with the traceback when the failure is unexpected)."""
        lc = self.lc
        gateway_error = exc if isinstance(exc, GatewayError) else None
        if gateway_error is not None and gateway_error.task_missing:
            lc.schedule.forget(task.id)
            await self.finish(task, TaskState.FAILED, reason=LOST_REASON, expect=POLLED_STATES)
            return "finished"
        now = lc.clock.now()
        errors = task.poll_errors + 1
        self._failing.add(task.id)
        unexpected = gateway_error is None
        retry_after = None if gateway_error is None else gateway_error.retry_after
        next_poll = lc.schedule.after_error(now, task.deadline_at, errors, retry_after)
        detail = gateway_error.detail if gateway_error is not None else None
        log.warning(
            "task %s: poll failed (%d in a row): %r%s; next try in %.0fs",
            task.id,
            errors,
            exc,
            f" {detail}" if detail else "",
            next_poll - now,
            exc_info=unexpected,
        )
        later.append(
            _Later(task.evolve(poll_errors=errors, next_poll_at=next_poll, updated_at=now), sent)
        )
        return "error"

    async def _apply(
        self, task: VideoTask, snapshot: TaskSnapshot, sent: float, later: list[_Later]
    ) -> Outcome:
        """What a snapshot means for the task: its end, or its new state and next poll."""
        lc = self.lc
        self._failing.discard(task.id)
        self._resumed.discard(task.id)
        state = _STATE_FOR[snapshot.state]
        now = lc.clock.now()
        changed = state is not task.state or snapshot.progress > task.progress
        lc.schedule.observe(task.id, sent=sent, received=now, changed=changed)
        if state.is_terminal:
            lc.schedule.finished(now - task.created_at)
        if state is TaskState.COMPLETED:
            lc.schedule.forget(task.id)
            await self.finish(
                task, state, result_url=snapshot.video_url, progress=100, expect=POLLED_STATES
            )
            return "finished"
        if state is TaskState.FAILED:
            lc.schedule.forget(task.id)
            reason = snapshot.failure_reason or "The video service could not make this video."
            await self.finish(task, state, reason=reason, expect=POLLED_STATES)
            return "finished"
        updated = task.evolve(
            state=state,
            progress=max(task.progress, snapshot.progress),
            poll_errors=0,
            next_poll_at=lc.schedule.after_success(
                now, task.deadline_at, task.id, sent=sent, created_at=task.created_at
            ),
            updated_at=now,
        )
        later.append(_Later(updated, sent, show=True))
        return "polled"

    async def _resume_failing(self) -> None:
        """The gateway answers again: the tasks whose polls failed (and were not resumed since)
        are due now, spread over one poll interval, not at the end of their backoff."""
        lc = self.lc
        ids = self._failing - self._resumed
        self._resumed |= ids
        now = lc.clock.now()
        resumed = 0
        for task_id in ids:
            task = await lc.store.get(task_id)
            if task is None or task.state not in POLLED_STATES:
                self._failing.discard(task_id)
                self._resumed.discard(task_id)
                continue
            soon = now + lc.rng.uniform(0, lc.config.poll_interval)
            if soon < task.next_poll_at:
                resumed += await lc.store.update(
                    task.evolve(next_poll_at=soon), expect_states=POLLED_STATES
                )
        if resumed:
            log.info("the gateway answers again: %d tasks whose polls failed resume", resumed)
            self.requested.set()

    async def _write_later(self, later: list[_Later]) -> None:
        """Write the unfinished tasks of a pass in one transaction; only those still polled
        (a task cancelled meanwhile keeps its new state). A callback that came after a poll was
        sent makes that task due again at once (the poll may have missed its news)."""
        if not later:
            return
        lc = self.lc
        now = lc.clock.now()
        tasks = [
            item.task.evolve(next_poll_at=now)
            if lc.schedule.hinted_since(item.task.id, item.sent)
            else item.task
            for item in later
        ]
        written = await lc.store.update_many(tasks, expect_states=POLLED_STATES)
        shown = [task for task, item in zip(tasks, later, strict=True) if item.show]
        if written != len(tasks):  # some moved on meanwhile: show only those still polled
            current = [await lc.store.get(task.id) for task in shown]
            shown = [
                task
                for task, stored in zip(shown, current, strict=True)
                if stored is not None and stored.state in POLLED_STATES
            ]
        for task in shown:
            self.delivery.show_progress(task)

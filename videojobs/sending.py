"""Sending: a stored task goes to the gateway once, and never twice; while the gateway cannot
take it, the task waits.

PENDING -> SUBMITTING is a compare-and-set written before the create call, and the gateway's
id is stored the moment the call returns. A task found in SUBMITTING after a restart may or may
not exist upstream: it is never sent again (that could charge twice) but reported to its
requester as interrupted, who can press Retry. A task found in PENDING was never sent: it is
sent at the next pass.

A create that surely did not reach the gateway and may be taken later (`worth_waiting`) puts
the task back to PENDING, waiting (`waiting.py`): it is sent again with backoff, one probe at a
time while the gateway is down, the others following in their order once a probe gets
through, until its deadline. A create that may have reached the gateway is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .delivery import Delivery
from .errors import FrameUnavailable, GatewayError
from .finish import Finish
from .lifecycle import Lifecycle
from .models import GatewayState, GenerationRequest, TaskState, VideoTask
from .telemetry import bind
from .waiting import MAY_HAVE_STARTED_REASON, Backoff, SendGate, gave_up_reason

log = logging.getLogger(__name__)

INTERRUPTED_REASON = (
    "The bot restarted while it was sending this task to the video service, so it can't tell "
    "whether the task started. It was not sent again, so you are not charged twice: "
    "press Retry to try again."
)
UNEXPECTED_REASON = "Something went wrong on our side while starting this task. Press Retry."
UNREACHABLE_REASON = "The video service can't be reached right now."


@dataclass(frozen=True, slots=True)
class SendingRecovery:
    interrupted: int  # found in SUBMITTING: reported, not sent again
    pending: int  # found in PENDING: to be sent at the next pass
    waiting: int  # of those, waiting for the gateway: sent when a probe gets through


class Sending:
    def __init__(self, lifecycle: Lifecycle, finish: Finish, delivery: Delivery) -> None:
        self.lc = lifecycle
        self.finish = finish
        self.delivery = delivery
        config = lifecycle.config
        self.gate = SendGate(
            Backoff.for_timeout(config.task_timeout, config.send_backoff_cap),
            rng=lifecycle.rng.random,
        )
        self._resume: list[str] = []
        self._backlog = False  # tasks are (or may be) waiting: new ones queue behind them
        self._draining = False
        self._next_at: float | None = None
        self.wake: Callable[[], None] = lambda: None  # asks the poller for a pass now
        self.gate.on_open(lambda: self.wake())

    # --- one task -----------------------------------------------------------------------------

    async def send(self, task_id: str, *, probe: bool = False) -> VideoTask:
        """Send a PENDING task to the gateway, once; or, while the gateway is down (or other
        tasks wait before it), leave it waiting in its place. A `probe` goes even then."""
        lc = self.lc
        task = await lc.get(task_id)
        bind(task)
        if task.state is not TaskState.PENDING:
            return task  # someone else sent it, or it was cancelled
        if not probe and (self.gate.down or (self._backlog and not task.waiting)):
            return await self._queue_behind(task, lc.clock.now())
        frames: tuple[str | None, str | None] | None = None
        request = task.request
        if (request.image or request.end_image) and lc.frames is not None:
            try:
                task, frames = await self._prepare_frames(task)
            except FrameUnavailable as exc:
                log.warning("task %s: a frame can't be used: %s", task.id, exc)
                return await self.finish(
                    task, TaskState.FAILED, reason=str(exc), expect={TaskState.PENDING}
                )
        callback_url = await lc.callback_url_for(task.id)  # before the point of no return
        now = lc.clock.now()
        sending = task.evolve(
            state=TaskState.SUBMITTING, attempts=task.attempts + 1, updated_at=now
        )
        if not await lc.store.update(sending, expect_states={TaskState.PENDING}):
            return await lc.get(task_id)  # someone else sent it, or it was cancelled
        generation = GenerationRequest.for_task(
            task.request,
            external_task_id=task.id,
            callback_url=callback_url,
            frames=frames,
        )
        try:
            snapshot = await lc.gateway.create(generation)
        except GatewayError as exc:
            return await self._create_failed(sending, exc)
        except Exception:
            log.exception("task %s: create failed unexpectedly", task.id)
            return await self.finish(sending, TaskState.FAILED, reason=UNEXPECTED_REASON)
        self.gate.answered()
        now = lc.clock.now()
        started = sending.evolve(
            gateway_task_id=snapshot.task_id,
            state=TaskState.RUNNING if snapshot.state is GatewayState.RUNNING else TaskState.QUEUED,
            progress=snapshot.progress,
            next_poll_at=lc.schedule.first(now, task.deadline_at),
            updated_at=now,
            wait_reason=None,
            send_after=None,
        )
        if not await lc.store.update(started, expect_states={TaskState.SUBMITTING}):
            # cancelled while the create call was on the wire: keep the id for the record
            return await lc.patch(task_id, gateway_task_id=snapshot.task_id)
        log.info("task %s sent as gateway task %s", task.id, snapshot.task_id)
        self.delivery.show_progress(started)
        return started

    async def _create_failed(self, sending: VideoTask, exc: GatewayError) -> VideoTask:
        log.warning("task %s: create failed: %r %s", sending.id, exc, exc.detail or "")
        now = self.lc.clock.now()
        if exc.worth_waiting:
            return await self._wait(sending, exc, now)
        if exc.may_have_reached:  # in trouble, maybe: the next create waits a little
            self.gate.failed(exc, now)
            return await self.finish(
                sending, TaskState.FAILED, reason=MAY_HAVE_STARTED_REASON, outcome="interrupted"
            )
        self.gate.answered()  # refused for good: it is up, and said no
        return await self.finish(sending, TaskState.FAILED, reason=exc.user_message)

    async def _wait(self, sending: VideoTask, exc: GatewayError, now: float) -> VideoTask:
        """The gateway surely did not take the create: back to PENDING, waiting, until the
        next try or the deadline."""
        until = self.gate.failed(exc, now)
        self._backlog = True
        if now >= sending.deadline_at:
            reason = gave_up_reason(self.lc.config.task_timeout, exc.user_message)
            return await self.finish(sending, TaskState.FAILED, reason=reason)
        waiting = sending.evolve(
            state=TaskState.PENDING,
            wait_reason=exc.user_message,
            send_after=until,
            updated_at=now,
        )
        if not await self.lc.store.update(waiting, expect_states={TaskState.SUBMITTING}):
            return await self.lc.get(sending.id)  # cancelled meanwhile
        log.info(
            "task %s: waiting for the gateway (try %d), next try in %.1f s",
            sending.id,
            sending.attempts,
            until - now,
        )
        self.delivery.show_progress(waiting)
        self.wake()  # the poller's next sleep must end by the next probe
        return waiting

    async def _queue_behind(self, task: VideoTask, now: float) -> VideoTask:
        """Not sent: the gateway is down, or older tasks wait. It waits in its place."""
        if task.waiting:
            return task
        self._backlog = True
        queued = task.evolve(
            wait_reason=self.gate.reason or UNREACHABLE_REASON,
            send_after=max(now, self.gate.next_try),
            updated_at=now,
        )
        if not await self.lc.store.update(queued, expect_states={TaskState.PENDING}):
            return await self.lc.get(task.id)
        log.info("task %s: waiting behind earlier tasks for the gateway", task.id)
        self.delivery.show_progress(queued)
        self.wake()
        return queued

    async def _prepare_frames(
        self, task: VideoTask
    ) -> tuple[VideoTask, tuple[str | None, str | None]]:
        """Before anything is sent: the frames fixed to Kling's rules and kept with the task.
        A Retry or Remix takes them from the copies kept for the task it repeats (Discord's
        attachment links are dead by then). Raises FrameUnavailable."""
        assert self.lc.frames is not None
        kept = task.frames
        if kept is None and task.retry_of is not None:
            original = await self.lc.store.get(task.retry_of)
            kept = original.frames if original is not None else None
        prepared = await self.lc.frames.prepare(task, kept)
        if prepared.kept is not None and prepared.kept != task.frames:
            task = await self.lc.patch(task.id, frames=prepared.kept)
        return task, (prepared.image, prepared.image_tail)

    def send_in_background(self, task_id: str) -> None:
        """`send` without waiting for it (shutdown waits for it in `drain`)."""
        self.lc.background.spawn(self.send(task_id), f"send {task_id}")

    # --- the waiting tasks --------------------------------------------------------------------

    async def send_waiting(self) -> int:
        """One pass over the waiting tasks: fail those past their deadline; while the gateway
        is down, probe with the oldest when its time has come; once it is up, send them all
        in order. Returns how many sends were started."""
        lc = self.lc
        now = lc.clock.now()
        waiting = await lc.store.waiting(lc.config.poll_batch)
        alive = []
        for task in waiting:
            if now >= task.deadline_at:
                reason = gave_up_reason(lc.config.task_timeout, task.wait_reason)
                await self.finish(task, TaskState.FAILED, reason=reason)
            else:
                alive.append(task)
        deadlines = [task.deadline_at for task in alive]
        self._next_at = min(deadlines, default=None)
        if not alive:
            self._backlog = False
            return 0
        self._backlog = True
        if self.gate.down:
            self._next_at = min(self._next_at or self.gate.next_try, self.gate.next_try)
            if not self.gate.may_probe(now):
                return 0
            self.gate.probing = True
            lc.background.spawn(self._probe(alive[0].id), f"probe {alive[0].id}")
            return 1
        if self._draining:
            return 0
        self._draining = True
        lc.background.spawn(self._drain(), "send waiting tasks")
        return len(alive)

    async def _probe(self, task_id: str) -> None:
        try:
            await self.send(task_id, probe=True)
        finally:
            self.gate.probing = False

    async def _drain(self) -> None:
        """Send the waiting tasks, oldest first and a few at a time, while the gateway takes
        them; what is left when it goes down again waits for the next probe."""
        slots = asyncio.Semaphore(self.lc.config.send_concurrency)

        async def one(task: VideoTask) -> None:
            async with slots:
                if not self.gate.down:
                    await self.send(task.id)

        try:
            while not self.gate.down:
                now = self.lc.clock.now()
                batch = [
                    task
                    for task in await self.lc.store.waiting(self.lc.config.poll_batch)
                    if now < task.deadline_at
                ]
                if not batch:
                    self._backlog = False
                    return
                await asyncio.gather(*(one(task) for task in batch))
        finally:
            self._draining = False

    def next_wakeup(self) -> float | None:
        """When the waiting tasks next need the poller: a probe or a deadline."""
        if self._resume:
            return self.lc.clock.now()
        return self._next_at

    # --- restart ------------------------------------------------------------------------------

    async def recover(self) -> SendingRecovery:
        """At start-up: report the tasks interrupted while being sent, take up the wait where
        the last process left it, and line up the ones never sent for the next pass. Only
        tasks whose process is gone (their lease ran out) are touched: never another live
        process's submission."""
        store = self.lc.store
        interrupted, unsent = await self._orphans(deliver=False)
        waiting = await store.waiting(self.lc.config.poll_batch)
        self.gate.resume(waiting)
        self._backlog = bool(waiting)
        self._next_at = self.gate.next_try if waiting else None
        self._resume = unsent
        return SendingRecovery(
            interrupted=interrupted, pending=len(unsent) + len(waiting), waiting=len(waiting)
        )

    async def take_over(self) -> int:
        """While running: the unsent or interrupted tasks of a process that died (its leases
        ran out) are reported or sent by this one. Returns how many."""
        interrupted, unsent = await self._orphans(deliver=True)
        self._resume.extend(unsent)
        if interrupted or unsent:
            log.warning(
                "took over from a stopped process: %d interrupted while sending (reported), "
                "%d never sent (sending now)",
                interrupted,
                len(unsent),
            )
        return interrupted + len(unsent)

    async def _orphans(self, *, deliver: bool) -> tuple[int, list[str]]:
        """Lease the tasks a gone process left in SUBMITTING (reported as interrupted) or
        PENDING (returned, to be sent)."""
        orphans = await self.lc.store.orphaned(self.lc.config.poll_batch)
        interrupted = 0
        for task in orphans:
            if task.state is TaskState.SUBMITTING:
                log.warning("task %s was being sent when its process stopped", task.id)
                interrupted += 1
                await self.finish(
                    task,
                    TaskState.FAILED,
                    reason=INTERRUPTED_REASON,
                    deliver=deliver,
                    outcome="interrupted",
                )
        return interrupted, [t.id for t in orphans if t.state is TaskState.PENDING]

    @property
    def resuming(self) -> bool:
        """Whether tasks left unsent by the last process are still to be sent."""
        return bool(self._resume)

    def resume(self) -> int:
        """Send, in the background and in their order, the tasks the last process never sent
        (they wait behind any waiting ones). Returns how many."""
        count = len(self._resume)
        for task_id in self._resume:
            self.send_in_background(task_id)
        self._resume = []
        return count

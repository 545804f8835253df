"""Sending: a stored task goes to the gateway once, and never twice.

PENDING -> SUBMITTING is a compare-and-set written before the create call, and the gateway's
id is stored the moment the call returns. A task found in SUBMITTING after a restart may or may
not exist upstream: it is never sent again (that could charge twice) but reported to its
requester as interrupted, who can press Retry. A task found in PENDING was never sent: it is
sent at the next pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .delivery import Delivery
from .errors import GatewayError
from .finish import Finish
from .lifecycle import Lifecycle
from .models import GatewayState, GenerationRequest, TaskState, VideoTask
from .telemetry import bind

log = logging.getLogger(__name__)

INTERRUPTED_REASON = (
    "The bot restarted while it was sending this task to the video service, so it can't tell "
    "whether the task started. It was not sent again, so you are not charged twice: "
    "press Retry to try again."
)
UNEXPECTED_REASON = "Something went wrong on our side while starting this task. Press Retry."


@dataclass(frozen=True, slots=True)
class SendingRecovery:
    interrupted: int  # found in SUBMITTING: reported, not sent again
    pending: int  # found in PENDING: to be sent at the next pass


class Sending:
    def __init__(self, lifecycle: Lifecycle, finish: Finish, delivery: Delivery) -> None:
        self.lc = lifecycle
        self.finish = finish
        self.delivery = delivery
        self._resume: list[str] = []

    async def send(self, task_id: str) -> VideoTask:
        """Send a PENDING task to the gateway, once. Failures end the task and tell its owner."""
        lc = self.lc
        task = await lc.get(task_id)
        bind(task)
        now = lc.clock.now()
        sending = task.evolve(
            state=TaskState.SUBMITTING, attempts=task.attempts + 1, updated_at=now
        )
        if not await lc.store.update(sending, expect_states={TaskState.PENDING}):
            return await lc.get(task_id)  # someone else sent it, or it was cancelled
        generation = GenerationRequest.for_task(
            task.request, external_task_id=task.id, callback_url=lc.config.callback_url
        )
        try:
            snapshot = await lc.gateway.create(generation)
        except GatewayError as exc:
            log.warning("task %s: create failed: %r %s", task.id, exc, exc.detail or "")
            return await self.finish(sending, TaskState.FAILED, reason=exc.user_message)
        except Exception:
            log.exception("task %s: create failed unexpectedly", task.id)
            return await self.finish(sending, TaskState.FAILED, reason=UNEXPECTED_REASON)
        now = lc.clock.now()
        started = sending.evolve(
            gateway_task_id=snapshot.task_id,
            state=TaskState.RUNNING if snapshot.state is GatewayState.RUNNING else TaskState.QUEUED,
            progress=snapshot.progress,
            next_poll_at=lc.schedule.first(now, task.deadline_at),
            updated_at=now,
        )
        if not await lc.store.update(started, expect_states={TaskState.SUBMITTING}):
            # cancelled while the create call was on the wire: keep the id for the record
            return await lc.patch(task_id, gateway_task_id=snapshot.task_id)
        log.info("task %s sent as gateway task %s", task.id, snapshot.task_id)
        self.delivery.show_progress(started)
        return started

    def send_in_background(self, task_id: str) -> None:
        """`send` without waiting for it (shutdown waits for it in `drain`)."""
        self.lc.background.spawn(self.send(task_id), f"send {task_id}")

    async def recover(self) -> SendingRecovery:
        """At start-up: report the tasks interrupted while being sent, and line up the ones
        never sent for the next pass."""
        store = self.lc.store
        interrupted = await store.in_states({TaskState.SUBMITTING})
        for task in interrupted:
            log.warning("task %s was being sent when the bot stopped", task.id)
            await self.finish(
                task,
                TaskState.FAILED,
                reason=INTERRUPTED_REASON,
                deliver=False,
                outcome="interrupted",
            )
        pending = await store.in_states({TaskState.PENDING})
        self._resume = [task.id for task in pending]
        return SendingRecovery(interrupted=len(interrupted), pending=len(pending))

    @property
    def resuming(self) -> bool:
        """Whether tasks left unsent by the last process are still to be sent."""
        return bool(self._resume)

    def resume(self) -> int:
        """Send, in the background, the tasks the last process never sent. Returns how many."""
        count = 0
        while self._resume:
            self.send_in_background(self._resume.pop())
            count += 1
        return count

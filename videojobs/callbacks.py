"""Trusted callbacks: Kling POSTs a task's news to the `callback_url` it was given; the HTTP
adapter checks the secret in that URL (`verify`, see `signing.py`) and hands what the callback
says to `receive`.

- `succeed` with a video URL finishes the task at once, `failed` too: no GET to confirm (which
  would often still see the old state for one relay refresh);
- `submitted` / `processing` say that callbacks reach the bot for this task: from then on it is
  polled only as a safety net in case a later callback is lost (`PollSchedule.safety_net`);
- `succeed` without a video URL is only a hint: the task is polled at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .delivery import Delivery
from .finish import Finish
from .lifecycle import Lifecycle
from .models import POLLED_STATES, GatewayState, TaskState, VideoTask
from .telemetry import bind

log = logging.getLogger(__name__)

FAILED_REASON = "The video service could not make this video."

PollNow = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class CallbackNews:
    """What a callback says about one of our tasks (named by our own id)."""

    task_id: str
    state: GatewayState
    video_url: str | None = None
    failure_reason: str | None = None


class Callbacks:
    def __init__(
        self, lifecycle: Lifecycle, finish: Finish, delivery: Delivery, poll_now: PollNow
    ) -> None:
        self.lc = lifecycle
        self.finish = finish
        self.delivery = delivery
        self.poll_now = poll_now

    async def verify(self, task_id: str, secret: str) -> bool:
        """Whether `secret` is the one in `task_id`'s callback URL."""
        signer = await self.lc.callback_signer()
        return signer is not None and signer.verify(task_id, secret)

    async def receive(self, news: CallbackNews) -> bool:
        """Apply a verified callback. Returns whether its task was being waited for."""
        task = await self.lc.store.get(news.task_id)
        if task is None:
            return False
        bind(task)
        if task.state not in POLLED_STATES:
            return False  # not sent yet (its id is on the way back), or already finished
        if news.state is GatewayState.FAILED or (
            news.state is GatewayState.COMPLETED and news.video_url
        ):
            await self._end(task, news)
        elif news.state is GatewayState.COMPLETED:
            log.info("task %s: a callback says it is done but gives no video URL", task.id)
            return await self.poll_now(task.id)
        else:
            await self._still_running(task, news.state)
        return True

    async def _end(self, task: VideoTask, news: CallbackNews) -> None:
        """The callback says the task is made (with its video) or failed."""
        made = news.state is GatewayState.COMPLETED
        state = TaskState.COMPLETED if made else TaskState.FAILED
        schedule = self.lc.schedule
        schedule.finished(self.lc.clock.now() - task.created_at)
        schedule.forget(task.id)
        log.info("task %s: the callback says %s", task.id, state.label)
        # Delivered by whichever process holds the task: this one when it can take it, else
        # the holder, woken now rather than at its next pass.
        taken = await self.lc.store.take(task.id)
        if made:
            await self.finish(
                task, state, result_url=news.video_url, progress=100, expect=POLLED_STATES
            )
        else:
            reason = news.failure_reason or FAILED_REASON
            await self.finish(task, state, reason=reason, expect=POLLED_STATES)
        if not taken:
            await self.lc.store.wake_others()

    async def _still_running(self, task: VideoTask, state: GatewayState) -> None:
        lc = self.lc
        now = lc.clock.now()
        lc.schedule.heard(task.id, created_at=task.created_at, now=now)
        running = state is GatewayState.RUNNING or task.state is TaskState.RUNNING
        new_state = TaskState.RUNNING if running else TaskState.QUEUED
        next_poll = lc.schedule.safety_net(task.id, now, task.deadline_at)
        if new_state is task.state and task.next_poll_at >= next_poll - lc.config.poll_interval:
            return  # nothing to write: it is not polled before the safety net would
        updated = task.evolve(state=new_state, next_poll_at=next_poll, updated_at=now)
        if await lc.store.update(updated, expect_states=POLLED_STATES):
            self.delivery.show_progress(updated)

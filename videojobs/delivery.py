"""Delivery: telling the requester how a finished task ended, exactly once, and showing
progress while it runs.

Delivery is NONE -> CLAIMED -> DELIVERED in the store. A CLAIMED task found after a crash (or
a failed attempt) is first looked for in Discord (`Notifier.find_delivery`) and only sent if
it is not there. A failed attempt is retried after `delivery_retry_delays`; the attempts and
the next try are kept in the store, so a restart carries on where the last process stopped.
When every delay is used up the delivery gives up (GAVE_UP: not delivered, shown in /status)
until the next start, which tries it again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from .lifecycle import Lifecycle
from .models import DeliveryState, TaskState, VideoTask

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Shown:
    """What a task's status message shows (its state as a member reads it, its progress) and
    when it was last edited."""

    label: str
    progress: int
    at: float


# what the first answer to /video (or Retry, Remix) shows: queued, 0%; no edit made yet
FIRST_ANSWER = _Shown(TaskState.PENDING.label, 0, float("-inf"))


class Delivery:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lc = lifecycle
        self._slots = asyncio.Semaphore(lifecycle.config.delivery_concurrency)
        self._delivering: set[str] = set()  # under way in this process
        self._shown: dict[str, _Shown] = {}

    def finished(self, task: VideoTask, *, deliver: bool) -> None:
        """A task just reached its end state: stop showing progress, deliver in the
        background (unless told not to: the next pass's `deliver_owed` does it then)."""
        self._shown.pop(task.id, None)
        if deliver:
            self._deliver_in_background(task)

    async def next_retry_at(self) -> float | None:
        """When the earliest failed delivery is due to be tried again."""
        return await self.lc.store.next_delivery_at()

    async def recover(self) -> int:
        """At start-up: deliveries that gave up in an earlier run are tried again. Returns how
        many."""
        reopened = await self.lc.store.reopen_given_up()
        if reopened:
            log.warning("%d deliveries that gave up earlier are tried again", reopened)
        return reopened

    async def deliver_owed(self) -> None:
        """Start delivering every finished task that is owed a delivery now (not waiting for a
        retry), unless it is already under way in this process."""
        lc = self.lc
        for task in await lc.store.deliveries_due(lc.clock.now(), lc.config.poll_batch):
            if task.id not in self._delivering:
                self._deliver_in_background(task)

    def _deliver_in_background(self, task: VideoTask) -> None:
        self.lc.background.spawn(self.deliver(task), f"deliver {task.id}", task)

    async def deliver(self, task: VideoTask) -> None:
        """One delivery attempt, unless one is already under way in this process."""
        if task.id in self._delivering:
            return
        self._delivering.add(task.id)
        try:
            async with self._slots:
                await self._deliver_once(task)
        finally:
            self._delivering.discard(task.id)

    async def _deliver_once(self, task: VideoTask) -> None:
        store, notifier = self.lc.store, self.lc.notifier
        if not task.delivery.is_owed:
            return
        if task.delivery is DeliveryState.NONE and not await store.claim_delivery(
            task.id, self.lc.clock.now()
        ):
            return
        earlier: int | None = None
        try:
            if task.delivery is DeliveryState.CLAIMED:  # a crash or a failed attempt: sent?
                earlier = await notifier.find_delivery(task)
            message_id = earlier if earlier is not None else await notifier.deliver(task)
        except Exception:
            log.exception("task %s: delivery failed", task.id)
            await self._failed(task)
            return
        delivered_at = self.lc.clock.now()
        await store.mark_delivered(task.id, message_id, delivered_at)
        if earlier is not None:
            log.info("task %s: earlier delivery found (message %s)", task.id, earlier)
            return
        self.lc.metrics.delivered(delivered_at - (task.finished_at or delivered_at))
        log.info("task %s delivered (message %s)", task.id, message_id)

    async def _failed(self, task: VideoTask) -> None:
        """Count the failed attempt in the store; retry later, or give up until the next start."""
        delays = self.lc.config.delivery_retry_delays
        failures = task.delivery_attempts + 1
        now = self.lc.clock.now()
        if task.delivery_attempts >= len(delays):
            log.error(
                "task %s: delivery gave up after %d attempts; it is tried again at the next start",
                task.id,
                failures,
            )
            await self.lc.store.give_up_delivery(task.id, attempts=failures, now=now)
            return
        retry_at = now + delays[task.delivery_attempts]
        await self.lc.store.delivery_failed(task.id, attempts=failures, retry_at=retry_at)

    # --- progress -----------------------------------------------------------------------------

    def show_progress(self, task: VideoTask) -> None:
        """Tell the notifier, in the background, when what the status message shows (state,
        progress) changed; at most every `progress_min_interval` seconds per task."""
        now = self.lc.clock.now()
        shown = self._shown.get(task.id, FIRST_ANSWER)
        if (shown.label, shown.progress) == (task.status_label, task.progress):
            return
        if now - shown.at < self.lc.config.progress_min_interval:
            return
        self._shown[task.id] = _Shown(task.status_label, task.progress, now)
        self.lc.background.spawn(self._send_progress(task), f"progress {task.id}", task)

    async def _send_progress(self, task: VideoTask) -> None:
        try:
            await self.lc.notifier.progress(task)
        except Exception:
            log.warning("task %s: progress update failed", task.id, exc_info=True)

"""What every stage of the task lifecycle shares: the settings, the ports, the poll schedule,
the background jobs, and the few store helpers all of them use.

The stages (admission, sending, polling, delivery) each hold one `Lifecycle`; the facade in
`service.py` builds it once. Every path that ends a task goes through `finish.Finish`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from .background import Background
from .errors import TaskNotFound
from .models import VideoTask
from .ports import Clock, FrameKeeper, Metrics, Notifier, TaskStore, VideoGateway
from .schedule import PollSchedule, RandomSource
from .signing import CallbackSigner, load_signer
from .telemetry import NoMetrics


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """How the lifecycle runs. The rules a task must meet (models, limits, allowlists, costs,
    budgets) are not here: they are each server's policy (`policy.Policies`)."""

    poll_interval: float = 10.0
    task_timeout: float = 30 * 60.0
    callback_url: str | None = None
    relay_refresh: float = 15.0  # the gateway refreshes task states this often (gateway-notes)
    first_poll_after: float = 60.0  # a video takes a minute or more: first poll then
    poll_concurrency: int = 16
    poll_batch: int = 1000
    delivery_concurrency: int = 4
    progress_min_interval: float = 10.0
    delivery_retry_delays: tuple[float, ...] = (5.0, 15.0, 60.0, 300.0, 900.0)
    # Waiting for the gateway: the longest wait between two probes (None: 60 s, or a thirtieth
    # of task_timeout when that is shorter), and how many waiting tasks go out at once when
    # it answers again.
    send_backoff_cap: float | None = None
    send_concurrency: int = 4
    # Leases (several processes on one database): how long a process holds the work it took
    # (the store is opened with the same value). Renewed every third of it while the process
    # lives; a dead process's work is taken over once it runs out.
    lease_seconds: float = 30.0


class Lifecycle:
    """The ports and shared state the stages work with."""

    def __init__(
        self,
        store: TaskStore,
        gateway: VideoGateway,
        notifier: Notifier,
        config: ServiceConfig,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        rng: RandomSource = random,
        frames: FrameKeeper | None = None,
    ) -> None:
        self.store = store
        self.frames = frames  # None: frames go to the gateway as the attachments' links
        self.gateway = gateway
        self.notifier = notifier
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.metrics: Metrics = metrics or NoMetrics()
        self.schedule = PollSchedule(
            config.poll_interval,
            relay_refresh=config.relay_refresh,
            first_after=config.first_poll_after,
            callbacks=config.callback_url is not None,
            rng=rng,
        )
        self.rng = rng
        self.background = Background()
        self._signer: CallbackSigner | None = None

    async def callback_signer(self) -> CallbackSigner | None:
        """The signer of callback URLs (its key read from the database once), or None
        without callbacks."""
        if self.config.callback_url is None:
            return None
        if self._signer is None:
            self._signer = await load_signer(self.store.key_values, self.config.callback_url)
        return self._signer

    async def callback_url_for(self, task_id: str) -> str | None:
        """The `callback_url` to send with the task: with its secret."""
        signer = await self.callback_signer()
        return None if signer is None else signer.url_for(task_id)

    async def get(self, task_id: str) -> VideoTask:
        task = await self.store.get(task_id)
        if task is None:
            raise TaskNotFound("That task no longer exists.")
        return task

    async def patch(self, task_id: str, **changes: Any) -> VideoTask:
        """Change a few fields without undoing a concurrent state change."""
        while True:
            task = await self.get(task_id)
            patched = task.evolve(**changes)
            if await self.store.update(patched, expect_states={task.state}):
                return patched

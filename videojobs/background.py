"""Background coroutines with a reference kept and every failure logged."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

from .models import VideoTask
from .telemetry import bind

log = logging.getLogger(__name__)


class Background:
    """Spawned jobs are kept until they end (so none is garbage-collected mid-flight) and a job
    that fails is logged with its name; `drain` lets them finish on shutdown."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    def spawn(
        self, coro: Coroutine[Any, Any, object], name: str, about: VideoTask | None = None
    ) -> None:
        """Run `coro` in the background; with `about`, its log lines carry that task's ids."""
        context = contextvars.copy_context()
        if about is not None:
            context.run(bind, about)
        task = asyncio.create_task(coro, name=name, context=context)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, grace: float) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=grace)

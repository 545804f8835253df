"""The one transition that ends a task: every path (a result, a failure, a time-out, a cancel,
an interrupted send) goes through `Finish`, which writes the end state with a compare-and-set,
logs it once and hands the task to delivery."""

from __future__ import annotations

import logging
from collections.abc import Collection

from .delivery import Delivery
from .lifecycle import Lifecycle
from .models import TaskState, VideoTask

log = logging.getLogger(__name__)


class Finish:
    def __init__(self, lifecycle: Lifecycle, delivery: Delivery) -> None:
        self.lc = lifecycle
        self.delivery = delivery

    async def __call__(
        self,
        task: VideoTask,
        state: TaskState,
        *,
        expect: Collection[TaskState] | None = None,
        reason: str | None = None,
        result_url: str | None = None,
        progress: int | None = None,
        deliver: bool = True,
        outcome: str | None = None,
    ) -> VideoTask:
        """End `task` in `state` if its stored state is still one of `expect` (default: the
        state it was read in). Returns the task as stored: finished here, or as someone else
        left it. With `deliver=False` the next pass delivers it. It is counted under `outcome`
        (default: the state)."""
        now = self.lc.clock.now()
        done = task.evolve(
            state=state,
            failure_reason=reason,
            result_url=result_url,
            progress=task.progress if progress is None else progress,
            finished_at=now,
            updated_at=now,
        )
        if not await self.lc.store.update(done, expect_states=expect or {task.state}):
            return await self.lc.get(task.id)
        self.lc.metrics.task_finished(outcome or state.value)
        log.info("task %s %s%s", task.id, state.label, f": {reason}" if reason else "")
        self.delivery.finished(done, deliver=deliver)
        return done

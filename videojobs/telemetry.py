"""What the core tells operators beyond its return values: metrics through the `Metrics` port,
and which task (and server) the current code is working on, for the logs.

The task context lives in context variables, so every log line written while a task is handled
(including in background jobs started from there, which copy the context) can carry its id;
the logging adapter reads `current_ids()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from .models import VideoTask

OUTCOMES = ("completed", "failed", "timed_out", "cancelled", "interrupted")

_task_id: ContextVar[str | None] = ContextVar("klingbot_task_id", default=None)
_guild_id: ContextVar[int | None] = ContextVar("klingbot_guild_id", default=None)


class NoMetrics:
    """Implements `Metrics` by counting nothing (no METRICS_LISTEN, and in tests)."""

    def task_admitted(self) -> None:
        pass

    def task_finished(self, outcome: str) -> None:
        pass

    def gateway_request(self, kind: str, status: str) -> None:
        pass

    def acknowledged(self, seconds: float) -> None:
        pass

    def delivered(self, seconds: float) -> None:
        pass

    def discord_rate_limited(self) -> None:
        pass


@contextlib.contextmanager
def about(
    task: VideoTask | None = None, *, task_id: str | None = None, guild_id: int | None = None
) -> Iterator[None]:
    """Within the block, log lines carry this task's id and server (restored afterwards)."""
    if task is not None:
        task_id, guild_id = task.id, task.guild_id
    token_task = _task_id.set(task_id) if task_id is not None else None
    token_guild = _guild_id.set(guild_id) if guild_id is not None else None
    try:
        yield
    finally:
        if token_guild is not None:
            _guild_id.reset(token_guild)
        if token_task is not None:
            _task_id.reset(token_task)


def bind(task: VideoTask) -> None:
    """From here on, in the current asyncio task (and those it starts), log lines carry this
    task's ids. For code that runs in a task of its own about one video task."""
    _task_id.set(task.id)
    _guild_id.set(task.guild_id)


def current_ids() -> tuple[str | None, int | None]:
    """(task id, guild id) of the work under way, where known."""
    return _task_id.get(), _guild_id.get()

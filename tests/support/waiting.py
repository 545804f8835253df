"""Waiting on a condition, the one way tests wait: never "sleep, then assert".

`await wait_until(lambda: sim.task_count == 3, what="three tasks at the gateway")` asks the
condition every `interval` seconds (sooner when `changed` says something changed) and returns
its first truthy answer. When `timeout` runs out it fails with a message naming what it waited
for, plus whatever `details` adds (a simulator's state, a process's last output).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

Condition = Callable[[], Any]  # sync or async; a truthy answer ends the wait


async def wait_until(
    condition: Condition,
    timeout: float = 10.0,
    *,
    what: str,
    interval: float = 0.05,
    changed: Callable[[], Awaitable[object]] | None = None,
    details: Callable[[], str] | None = None,
) -> Any:
    """Ask `condition` until it answers something truthy, and return that answer.

    An exception from `condition` ends the wait at once (a condition can fail fast, e.g. when
    the process it watches has exited). `changed()`, if given, is awaited between two asks so
    a change wakes the wait before `interval` is over. On timeout: AssertionError
    "timed out after N s waiting for <what>", with `details()` on the next lines."""
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            more = f"\n{details()}" if details is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{more}")
        pause = min(interval, remaining)
        if changed is None:
            await asyncio.sleep(pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed(), pause)

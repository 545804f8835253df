"""Driving the core on a clock the test moves: pass after pass, as the poller would."""

from __future__ import annotations

from typing import Any

from videojobs.service import VideoJobsService

from .clock import FakeClock


async def run_until_idle(
    service: VideoJobsService,
    store: Any,
    clock: FakeClock,
    *,
    passes: int = 50,
    step: float = 0.001,
) -> None:
    """Run a pass, let its background work finish, move the clock to the next wake-up (plus
    `step`), and again, until nothing is left to poll or deliver; AssertionError if that takes
    more than `passes` passes."""
    for _ in range(passes):
        await service.run_pass()
        await service.drain()
        wake = await service.next_wakeup()
        if wake is None and not await store.undelivered():
            return
        clock.t = max(clock.t, wake or clock.t) + step
    raise AssertionError(f"the service never settled in {passes} passes")

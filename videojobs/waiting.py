"""Waiting for the gateway: what a create that surely did not reach it leads to.

When the gateway cannot be reached, or refuses a create in a way that says it did nothing and
may take it later (429, 502, 503, its own JSON 5xx: `GatewayError.worth_waiting`), the task is
not failed. It waits in the store — state PENDING with `wait_reason` and `send_after` — keeping
its place in the order of creation, and is sent again with backoff until the gateway takes it
or its deadline passes. Only then is its requester told it failed.

While the gateway is down, one process sends one create at a time (a probe: the oldest waiting
task); the others follow as soon as a probe gets through. `SendGate` is that per-process
decision; everything that must survive a restart is in the store, and the gate is rebuilt from
it (`SendGate.resume`).

A create that may have reached the gateway (`GatewayError.may_have_reached`: no answer, a 504,
a connection lost after sending) is never sent again: it may have started a task upstream.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import GatewayError
from .models import VideoTask

# The wait between two probes doubles from the base up to the cap, then stays there.
BACKOFF_CAP = 60.0
BACKOFF_STEPS = 6  # doublings from the base to the cap: 1 s, 2, 4, 8, 16, 32, 60 at the default
# With a short TASK_TIMEOUT_MINUTES the whole curve shrinks in proportion: a task never waits
# longer than this share of its timeout between two tries.
TIMEOUT_SHARE = 1 / 30
RETRY_AFTER_SLACK = 0.1  # a Retry-After is honoured plus up to 10 %, so probes do not align

MAY_HAVE_STARTED_REASON = (
    "The video service did not answer while this task was being sent, so the bot can't tell "
    "whether it started. It was not sent again, so you are not charged twice: press Retry to "
    "try again."
)


def gave_up_reason(task_timeout: float, reason: str | None) -> str:
    """What the requester reads when the gateway stayed out of reach until the deadline."""
    minutes = task_timeout / 60
    said = f" Last answer: {reason}" if reason else ""
    return (
        f"The video service could not be reached for {minutes:g} minutes, so the bot stopped "
        f"trying.{said}"
    )


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between probes: exponential with jitter, honouring the gateway's Retry-After."""

    base: float = BACKOFF_CAP / 2**BACKOFF_STEPS
    cap: float = BACKOFF_CAP

    @classmethod
    def for_timeout(cls, task_timeout: float, cap: float | None = None) -> Backoff:
        """The default curve, shrunk in proportion when the task timeout is short."""
        if cap is None:
            cap = min(BACKOFF_CAP, task_timeout * TIMEOUT_SHARE)
        cap = max(cap, 0.001)
        return cls(base=cap / 2**BACKOFF_STEPS, cap=cap)

    def delay(
        self,
        failures: int,
        retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1 for the first).

        "Equal jitter": between half and all of the exponential step, so waits keep growing
        yet two processes (or two restarts) do not probe in step. A Retry-After wins."""
        if retry_after is not None:
            return retry_after * (1 + RETRY_AFTER_SLACK * rng())
        step = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return step * (0.5 + 0.5 * rng())


@dataclass(slots=True)
class SendGate:
    """This process's view of the gateway for creates: open, or down until `next_try`.

    While down, one create at a time goes out (the probe); `probing` says one is on the wire.
    """

    backoff: Backoff
    rng: Callable[[], float] = random.random
    down: bool = False
    failures: int = 0
    next_try: float = 0.0
    reason: str | None = None
    probing: bool = False
    _opened: list[Callable[[], None]] = field(default_factory=list)

    def on_open(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever the gateway answers again after being down."""
        self._opened.append(callback)

    def may_probe(self, now: float) -> bool:
        return self.down and not self.probing and now >= self.next_try

    def failed(self, error: GatewayError, now: float) -> float:
        """A create surely did not reach the gateway: it is down (or busy). Returns when to
        try again. Several creates failing together in one outage count as one failure."""
        if not self.down or now >= self.next_try:
            self.failures += 1
            self.next_try = now + self.backoff.delay(self.failures, error.retry_after, self.rng)
        elif error.retry_after is not None:
            self.next_try = max(self.next_try, now + error.retry_after)
        self.down = True
        self.reason = error.user_message
        return self.next_try

    def answered(self) -> None:
        """The gateway answered a create (took it, or refused it for good): it is up."""
        was_down = self.down
        self.down, self.failures, self.reason = False, 0, None
        if was_down:
            for callback in self._opened:
                callback()

    def resume(self, waiting: list[VideoTask]) -> None:
        """After a restart: tasks found waiting mean the gateway was down when we stopped."""
        if not waiting:
            return
        self.down = True
        self.failures = max(task.attempts for task in waiting)
        self.next_try = min(task.send_after or 0.0 for task in waiting)
        self.reason = waiting[0].wait_reason

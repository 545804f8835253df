"""The task lifecycle as one object: the stages composed, for the cogs, the poller and bot.py.

Each stage lives in its own module and owns one part of a task's life:
- `admission`: rules, allowlists and limits; a stored PENDING task or a refusal; retry,
  cancel and the queries behind /status;
- `sending`: a PENDING task to the gateway, once; at start-up, the tasks the last process left
  unsent or interrupted while sending;
- `polling`: one pass over the tasks that are due, applying what the gateway says;
- `callbacks`: what a signed callback says, applied at once (polling is then a safety net);
- `delivery`: the outcome to the requester exactly once, with retries; throttled progress.
Every path that ends a task goes through `finish.Finish`. The service has no loop of its own:
the poller calls `run_pass()`, then sleeps until `next_wakeup()` or `poll_requested`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .admission import Admission
from .callbacks import Callbacks
from .delivery import Delivery
from .finish import Finish
from .lifecycle import Lifecycle, ServiceConfig
from .models import POLLED_STATES, Requester, VideoRequest, VideoTask
from .policy import BotDefaults, Policies
from .polling import Polling
from .ports import TaskStore
from .schedule import PollSchedule
from .sending import Sending, SendingRecovery


@dataclass(slots=True)
class PassReport:
    """What one pass of the poller did."""

    polled: int = 0
    finished: int = 0
    errors: int = 0
    sent: int = 0


@dataclass(frozen=True, slots=True)
class RecoveryReport(SendingRecovery):
    """What start-up found: the sending stage's findings, and the rest of the work owed."""

    polling: int  # tasks the gateway is making
    undelivered: int  # outcomes still to tell
    redelivering: int  # of those, deliveries that gave up in an earlier run, tried again
    next_poll_at: float | None


class VideoJobsService:
    """The actions and background work of video tasks: the stages, wired to one lifecycle
    (the ports and shared state) and one policy book."""

    def __init__(self, lifecycle: Lifecycle, policies: Policies | None = None) -> None:
        self.lifecycle = lc = lifecycle
        # without a policy book (tests, benchmarks): the spec's defaults, for every server
        self.policies = policies or Policies(None, BotDefaults(), lc.clock)
        self.delivery = Delivery(lc)
        finish = Finish(lc, self.delivery)
        self.admission = Admission(lc, finish, self.policies)
        self.sending = Sending(lc, finish, self.delivery)
        self.polling = Polling(lc, finish, self.delivery)
        self.sending.wake = self.polling.requested.set
        self.callbacks = Callbacks(lc, finish, self.delivery, self.polling.hint)
        # the actions, one verb each
        self.admit = self.admission.admit
        self.retry = self.admission.retry
        self.remix = self.admission.remix
        self.restartable = self.admission.restartable
        self.cancel = self.admission.cancel
        self.set_location = self.admission.set_location
        self.find = self.admission.find
        self.get = self.admission.get
        self.overview = self.admission.overview
        self.server_queue = self.admission.server_queue
        self.credits_today = self.admission.credits_today
        self.send = self.sending.send
        self.send_in_background = self.sending.send_in_background
        self.poll_due = self.polling.poll_due
        self.hint = self.polling.hint
        self.verify_callback = self.callbacks.verify
        self.receive_callback = self.callbacks.receive
        self.poll_requested = self.polling.requested  # set by callbacks: poll now
        self.deliver_owed = self.delivery.deliver_owed
        self._renewed_at = self._took_over_at = time.monotonic()

    @property
    def store(self) -> TaskStore:
        return self.lifecycle.store

    @property
    def config(self) -> ServiceConfig:
        return self.lifecycle.config

    @property
    def schedule(self) -> PollSchedule:
        return self.lifecycle.schedule

    @schedule.setter
    def schedule(self, schedule: PollSchedule) -> None:
        self.lifecycle.schedule = schedule

    async def admit_and_send(self, request: VideoRequest, requester: Requester) -> VideoTask:
        """Admit and send in one go (the path without a Discord message in between)."""
        task = await self.admit(request, requester)
        return await self.send(task.id)

    async def run_pass(self) -> PassReport:
        """One pass of the background work: keep this process's leases, take over from a
        process that died, resume, send the tasks waiting for the gateway, deliver what is
        owed, poll what is due."""
        await self._keep_leases()
        report = PassReport(sent=self.sending.resume())
        report.sent += await self.sending.send_waiting()
        await self.deliver_owed()
        report.polled, report.finished, report.errors = await self.poll_due()
        return report

    async def next_wakeup(self) -> float | None:
        """When the poller should run next (None: nothing to poll)."""
        candidates = [
            await self.store.next_poll_at(),
            await self.delivery.next_retry_at(),
            self.sending.next_wakeup(),
        ]
        return min((t for t in candidates if t is not None), default=None)

    async def _keep_leases(self) -> None:
        """Every third of a lease: renew this process's leases; every half: take over what a
        dead process left unsent (its polls and deliveries come through their own claims)."""
        now = time.monotonic()
        if now - self._renewed_at >= self.config.lease_seconds / 3:
            self._renewed_at = now
            await self.store.renew_leases()
        if now - self._took_over_at >= self.config.lease_seconds / 2:
            self._took_over_at = now
            await self.sending.take_over()

    async def recover(self) -> RecoveryReport:
        """At start-up, before any new command: settle what the last process left behind
        (only what no live process holds), and listen for work other processes announce."""
        self._renewed_at = self._took_over_at = time.monotonic()
        await self.store.on_wake(self.polling.requested.set)
        sent = await self.sending.recover()
        redelivering = await self.delivery.recover()
        store = self.store
        return RecoveryReport(
            **asdict(sent),
            redelivering=redelivering,
            polling=len(await store.in_states(POLLED_STATES)),
            undelivered=len(await store.undelivered()),
            next_poll_at=await store.next_poll_at(),
        )

    async def drain(self, grace: float = 20.0) -> None:
        """Let in-flight sends and deliveries finish (on shutdown)."""
        await self.lifecycle.background.drain(grace)

"""The task model and its timeline: a task's whole future is fixed when it is made, its state
at any moment is computed from the clock, and the relay shows that state only as of its last
refresh tick. So 10,000 tasks cost nothing between requests.

Prompts steer outcomes: `[fail]` fails later, `[stuck]` never finishes, `[big]` serves an mp4
padded to `big_video_bytes`, `[slow]` takes three times longer (`[policy]`, refused at create,
is the routes' concern)."""

from __future__ import annotations

import enum
import math
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .settings import SimulatorConfig

ID_ALPHABET = string.ascii_letters + string.digits
FAILURE_MESSAGE = "The video could not be generated (simulated failure)."


class Phase(enum.StrEnum):
    SUBMITTED = "submitted"  # created, not yet refreshed by the relay
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})


class Outcome(enum.StrEnum):
    SUCCEED = "succeed"
    FAIL = "fail"
    STUCK = "stuck"


@dataclass(slots=True)
class SimTask:
    """A task and its whole future, fixed at creation; times are on the simulator's clock."""

    id: str
    kling_id: str
    kind: str  # "text2video" | "image2video"
    model: str
    prompt: str
    duration: str
    aspect_ratio: str
    external_task_id: str | None
    callback_url: str | None
    origin: str  # scheme://host the task was created through, for callback URLs
    created: float
    queued_for: float
    running_for: float
    outcome: Outcome
    failure: str | None = None
    big: bool = False
    last_callback: str | None = None

    @property
    def finishes(self) -> float:
        return self.created + self.queued_for + self.running_for

    def phase_at(self, moment: float) -> tuple[Phase, int]:
        """The truth at `moment`: progress jumps 0 -> 10 -> 30 -> 100."""
        elapsed = moment - self.created
        if elapsed < self.queued_for:
            return Phase.QUEUED, 0
        running = elapsed - self.queued_for
        if self.outcome is Outcome.STUCK or running < self.running_for:
            return Phase.RUNNING, 10 if running < self.running_for / 2 else 30
        return (Phase.SUCCEEDED if self.outcome is Outcome.SUCCEED else Phase.FAILED), 100


@dataclass(frozen=True, slots=True)
class View:
    """What the relay shows of a task: the truth as of its last tick."""

    phase: Phase
    progress: int
    seen_at: float


class TaskBook:
    """The relay's tasks, the settings in force and the clock they live on: tasks are made
    here, looked up by id, and seen as of the relay's last tick."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._rng = random.Random(config.seed)
        self._tasks: dict[str, SimTask] = {}
        self._external_ids: set[str] = set()
        self.quota_left = config.quota
        self.origin = clock()  # the relay's tick grid starts here
        self._wall_origin = time.time()

    def now(self) -> float:
        return self._clock()

    def clear(self) -> None:
        """Forget every task; the quota is full again and the clock's origin starts again."""
        self._tasks.clear()
        self._external_ids.clear()
        self.quota_left = self.config.quota
        self.origin = self._clock()
        self._wall_origin = time.time()

    def get(self, task_id: str) -> SimTask | None:
        return self._tasks.get(task_id)

    @property
    def tasks(self) -> list[SimTask]:
        return list(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def knows_external_id(self, external_id: str | None) -> bool:
        return external_id in self._external_ids

    def create(
        self, model: str, fields: dict[str, Any], origin: str, rule_failure: str | None = None
    ) -> SimTask:
        """A new task from Kling's (already checked) `fields`; a broken Kling rule that was let
        through makes a task that fails at once with Kling's error JSON (`rule_failure`)."""
        config = self.config
        prompt = str(fields["prompt"])
        magic = prompt.lower()
        factor = config.time_factor * (3 if "[slow]" in magic else 1)
        running = config.running_seconds
        if config.duration_range is not None:
            running = self._rng.uniform(*config.duration_range)
        outcome, failure = Outcome.SUCCEED, None
        if rule_failure:
            outcome, failure, running = Outcome.FAIL, rule_failure, 0.0
        elif "[fail]" in magic:
            outcome, failure = Outcome.FAIL, FAILURE_MESSAGE
        elif "[stuck]" in magic:
            outcome = Outcome.STUCK
        external_id = fields.get("external_task_id") or None
        task = SimTask(
            id="task_" + "".join(self._rng.choices(ID_ALPHABET, k=32)),
            kling_id=str(self._rng.randrange(10**17, 10**18)),
            kind="image2video" if fields.get("image") or fields.get("image_tail") else "text2video",
            model=model,
            prompt=prompt,
            duration=str(fields.get("duration") or "5"),
            aspect_ratio=str(fields.get("aspect_ratio") or "16:9"),
            external_task_id=external_id,
            callback_url=fields.get("callback_url") or None,
            origin=origin,
            created=self._clock(),
            queued_for=config.queued_seconds * factor,
            running_for=running * factor,
            outcome=outcome,
            failure=failure,
            big="[big]" in magic,
        )
        self._tasks[task.id] = task
        if external_id:
            self._external_ids.add(external_id)
        if self.quota_left is not None:
            self.quota_left -= 1
        return task

    def view(self, task: SimTask) -> View:
        """The task as the relay shows it now: as of its last tick (SUBMITTED before the first
        tick after its creation)."""
        now = self._clock()
        tick = self.config.tick
        seen = now
        if tick > 0:
            seen = self.origin + math.floor((now - self.origin) / tick) * tick
            if seen < task.created:
                return View(Phase.SUBMITTED, 0, task.created)
        phase, progress = task.phase_at(seen)
        return View(phase, progress, seen)

    def finished(self, task: SimTask) -> bool:
        """The task really succeeded by now (whatever the relay shows yet)."""
        return task.phase_at(self._clock())[0] is Phase.SUCCEEDED

    def wall(self, moment: float) -> float:
        """A moment of the simulator's clock as a Unix time."""
        return self._wall_origin + (moment - self.origin)

    def seconds_to_next_tick(self) -> float:
        tick = self.config.tick
        if tick <= 0:
            return 0.05
        into = (self._clock() - self.origin) % tick
        return max(0.01, tick - into)

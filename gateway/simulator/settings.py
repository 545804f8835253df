"""The simulator's knobs: its settings (`SimulatorConfig`) and the misbehaviours a test queues
(`Fault`, one request at a time) or starts (`Outage`, for a while)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RETRIEVE_SHAPES = ("doc", "wrapper", "openai")
KLING_ERROR_MODES = ("reject", "fail_task")
FAULT_ROUTES = ("create", "fetch", "content", "any")
FAULT_BODIES = ("error", "code", "html", "empty")
OUTAGE_MODES = ("html_503", "busy_429", "timeout_504")
API_KINDS = ("create", "fetch", "content")


def check_known_fields(names: Iterable[str], known: type[Any], what: str) -> None:
    """Refuse names that are not fields of the dataclass `known`."""
    unknown = set(names) - {f.name for f in dataclasses.fields(known)}
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(sorted(unknown))}")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything a test may turn. Times are in simulated seconds, multiplied by `time_factor`."""

    api_key: str = "sim-key"
    models: tuple[str, ...] = ("kling-v3",)  # served; any other model: 503 model_not_found
    allowed_models: tuple[str, ...] | None = None  # the key may use; others: 403 (None = all)
    quota: int | None = None  # creates left (0: 403 insufficient_user_quota; None: unlimited)
    retrieve_shape: str = "doc"  # of the main GET routes: "doc" | "wrapper" | "openai"
    queued_seconds: float = 10.0
    running_seconds: float = 50.0
    duration_range: tuple[float, float] | None = None  # random running seconds per task
    update_interval: float = 15.0  # the relay's global refresh tick (0: always fresh)
    time_factor: float = 1.0
    kling_errors: str = "reject"  # broken Kling rules: "reject" (400) | "fail_task" (fails later)
    big_video_bytes: int = 12 * 1024 * 1024
    callback_timeout: float = 5.0
    callback_loss: float = 0.0  # share of callbacks lost on the way (never arrive)
    record_limit: int = 10_000  # requests kept for inspection (counts are always kept)
    seed: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.retrieve_shape not in RETRIEVE_SHAPES:
            problems.append(f"retrieve_shape must be one of {RETRIEVE_SHAPES}")
        if self.kling_errors not in KLING_ERROR_MODES:
            problems.append(f"kling_errors must be one of {KLING_ERROR_MODES}")
        if self.time_factor <= 0:
            problems.append("time_factor must be positive")
        if min(self.queued_seconds, self.running_seconds, self.update_interval) < 0:
            problems.append("times must not be negative")
        if self.duration_range is not None:
            low, high = self.duration_range
            if not 0 <= low <= high:
                problems.append("duration_range must be (low, high) with 0 <= low <= high")
        if not 0 <= self.callback_loss <= 1:
            problems.append("callback_loss must be between 0 and 1")
        if not 0 < self.big_video_bytes < 2**32:
            problems.append("big_video_bytes must be between 1 and 2**32 - 1")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def tick(self) -> float:
        """The relay's refresh period on the simulator's clock (0: always fresh)."""
        return self.update_interval * self.time_factor

    def to_json(self) -> dict[str, Any]:
        """The settings, without the key."""
        data = dataclasses.asdict(self)
        del data["api_key"]
        return data

    def with_changes(self, changes: dict[str, Any]) -> SimulatorConfig:
        """A copy with `changes` (JSON values welcome: lists become tuples)."""
        check_known_fields(changes, SimulatorConfig, "settings")
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()
        }
        return dataclasses.replace(self, **converted)


@dataclass(frozen=True, slots=True)
class Fault:
    """One upcoming misbehaviour, for the next `times` requests of kind `route`.

    The request waits `delay` seconds first. Then `drop` closes the connection unanswered;
    `lose_answer` handles the request (a create makes its task) and then closes the connection,
    as when a reply is lost on the way back; a `status` answers that error in the `body` shape;
    none of them lets the request through (a slow but normal answer).
    """

    route: str = "any"  # "create" | "fetch" | "content" | "any"
    status: int | None = None
    body: str = "error"  # "error" {"error":{…}} | "code" {"code","message","data"} | html | empty
    message: str | None = None
    code: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False
    lose_answer: bool = False
    times: int = 1

    def __post_init__(self) -> None:
        if self.route not in FAULT_ROUTES:
            raise ValueError(f"route must be one of {FAULT_ROUTES}")
        if self.body not in FAULT_BODIES:
            raise ValueError(f"body must be one of {FAULT_BODIES}")
        if self.times < 1 or self.delay < 0:
            raise ValueError("times must be at least 1 and delay not negative")

    @classmethod
    def busy(
        cls,
        *,
        body: str = "error",
        retry_after: str | None = None,
        route: str = "any",
        times: int = 1,
    ) -> Fault:
        """The relay's 429: upstream load saturated."""
        return cls(route=route, status=429, body=body, retry_after=retry_after, times=times)

    @classmethod
    def server_error(
        cls, status: int = 500, *, html: bool = False, route: str = "any", times: int = 1
    ) -> Fault:
        return cls(route=route, status=status, body="html" if html else "code", times=times)

    @classmethod
    def slow(cls, seconds: float, *, route: str = "any", times: int = 1) -> Fault:
        return cls(route=route, delay=seconds, times=times)

    @classmethod
    def dropped(cls, *, route: str = "any", times: int = 1) -> Fault:
        return cls(route=route, drop=True, times=times)

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        check_known_fields(data, cls, "fault fields")
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Outage:
    """A lasting misbehaviour for every request of `routes`, until `until` on the simulator's
    clock (None: until `end_outage`)."""

    mode: str  # "html_503" | "busy_429" | "timeout_504"
    routes: tuple[str, ...] = API_KINDS
    retry_after: str | None = None  # the Retry-After header of busy_429
    until: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in OUTAGE_MODES:
            raise ValueError(f"mode must be one of {OUTAGE_MODES} (or refuse, over HTTP)")
        if not set(self.routes) <= set(API_KINDS):
            raise ValueError(f"routes must be among {API_KINDS}")

    def covers(self, kind: str, now: float) -> bool:
        return kind in self.routes and (self.until is None or now < self.until)

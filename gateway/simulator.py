"""A local imitation of the video gateway, for tests, benchmarks and try-it-out mode.

It behaves like the gateway of gateway-notes.md (a new-api relay in front of Kling): both API
styles, the three retrieve shapes, both error shapes, Kling's parameter rules and strict
decoding, a relay that refreshes what it shows only on a global tick, and Kling's callbacks.
A task's state is computed from the clock when asked, so 10,000 tasks cost nothing between
requests. Completed tasks point at a real, playable mp4 served by the simulator itself.

Prompts steer outcomes: `[fail]` fails later, `[stuck]` never finishes, `[big]` serves an mp4
padded to `big_video_bytes`, `[slow]` takes three times longer, `[policy]` is refused (1301).

Tests steer the rest, in-process (`configure`, `add_faults`, `requests`) or, for a separate
process, over HTTP: `POST /_sim/config`, `POST|DELETE /_sim/faults`, `GET|DELETE /_sim/requests`,
`GET /_sim/tasks`, `POST /_sim/reset`.

Outages last until ended (or for so many seconds), whatever the number of requests:
`refuse_connections` stops listening on the port, so connections are refused, until
`accept_connections`; `start_outage` answers every request of some routes like a gateway in
trouble: `html_503` (a proxy's HTML page), `busy_429` (the relay's 429 with `Retry-After`) or
`timeout_504` (a create is taken, its task made, and then answered with a proxy's 504). Over
HTTP: `POST|GET|DELETE /_sim/outage` (`{"mode": "refuse", "seconds": 20}` stops listening for
that long).

Run on its own: `python -m gateway.simulator --port 8080 --api-key sim-key`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import enum
import functools
import json
import logging
import math
import os
import random
import signal
import string
import struct
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
from aiohttp import web

from videojobs.models import ASPECT_RATIOS, CAMERA_PRESETS, MODES

from .errors import UPSTREAM_SATURATED
from .wire import CAMERA_AXES, SIZE_FOR_ASPECT

logger = logging.getLogger(__name__)

SAMPLE_MP4 = Path(__file__).parent / "assets" / "sample.mp4"
RETRIEVE_SHAPES = ("doc", "wrapper", "openai")
KLING_ERROR_MODES = ("reject", "fail_task")
FAULT_ROUTES = ("create", "fetch", "content", "any")
FAULT_BODIES = ("error", "code", "html", "empty")
OUTAGE_MODES = ("html_503", "busy_429", "timeout_504")
API_KINDS = ("create", "fetch", "content")
MAX_PROMPT_CHARS = 2500
KLING_DURATIONS = ("5", "10")
ID_ALPHABET = string.ascii_letters + string.digits
FAILURE_MESSAGE = "The video could not be generated (simulated failure)."
POLICY_MESSAGE = "Failure to pass the risk control system"

_dumps = functools.partial(json.dumps, ensure_ascii=False)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- configuration and faults -----------------------------------------------------------------


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

    def to_json(self) -> dict[str, Any]:
        """The settings, without the key."""
        data = dataclasses.asdict(self)
        del data["api_key"]
        return data

    def with_changes(self, changes: dict[str, Any]) -> SimulatorConfig:
        """A copy with `changes` (JSON values welcome: lists become tuples)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
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
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
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


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the simulator saw it; the key itself is never kept."""

    method: str
    path: str
    route: str  # "POST /v1/video/generations", "GET /v1/video/generations/{task_id}", …
    kind: str  # "create" | "fetch" | "content" | "file" | "other"
    authorized: bool  # it carried `Authorization: Bearer <the configured key>`
    headers: dict[str, str]  # without Authorization
    json: Any  # the decoded body, or None


# --- tasks ------------------------------------------------------------------------------------


class Phase(enum.StrEnum):
    SUBMITTED = "submitted"  # created, not yet refreshed by the relay
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Outcome(enum.StrEnum):
    SUCCEED = "succeed"
    FAIL = "fail"
    STUCK = "stuck"


_STATUS_WORDS: dict[str, dict[Phase, str]] = {
    "doc": {
        Phase.SUBMITTED: "queued",
        Phase.QUEUED: "queued",
        Phase.RUNNING: "in_progress",
        Phase.SUCCEEDED: "completed",
        Phase.FAILED: "failed",
    },
    "wrapper": {
        Phase.SUBMITTED: "SUBMITTED",
        Phase.QUEUED: "QUEUED",
        Phase.RUNNING: "IN_PROGRESS",
        Phase.SUCCEEDED: "SUCCESS",
        Phase.FAILED: "FAILURE",
    },
    "kling": {
        Phase.SUBMITTED: "submitted",
        Phase.QUEUED: "submitted",
        Phase.RUNNING: "processing",
        Phase.SUCCEEDED: "succeed",
        Phase.FAILED: "failed",
    },
}
_STATUS_WORDS["openai"] = {**_STATUS_WORDS["doc"], Phase.SUBMITTED: "unknown"}
TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})


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
class _View:
    """What the relay shows of a task: the truth as of its last tick."""

    phase: Phase
    progress: int
    seen_at: float


@dataclass(slots=True)
class _QueuedFault:
    fault: Fault
    left: int


class _Rejection(Exception):
    """A create refused with a ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


# --- the simulator ----------------------------------------------------------------------------


class GatewaySimulator:
    """The gateway on 127.0.0.1: `base_url = await sim.start()`, then `await sim.stop()`."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config or SimulatorConfig()
        self._clock = clock
        self._rng = random.Random(self._config.seed)
        self._loss_rng = random.Random(self._config.seed)  # apart: the tasks stay the same
        self._origin = clock()
        self._wall_origin = time.time()
        self._tasks: dict[str, SimTask] = {}
        self._external_ids: set[str] = set()
        self._callback_pending: set[str] = set()
        self._callback_jobs: set[asyncio.Task[None]] = set()
        self._quota_left = self._config.quota
        self._faults: list[_QueuedFault] = []
        self._records: deque[RecordedRequest] = deque(maxlen=self._config.record_limit)
        self._counts: Counter[str] = Counter()
        self._kinds: dict[str, str] = {}
        self._big_video: tuple[int, bytes] | None = None  # (size, padded mp4)
        self._sample: bytes = SAMPLE_MP4.read_bytes()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._bound: tuple[str, int] | None = None
        self._outage: Outage | None = None
        self._reopen: asyncio.Task[None] | None = None
        self._app = self._build_app()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def config(self) -> SimulatorConfig:
        return self._config

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator is not started")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0: any free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already started")
        runner = web.AppRunner(
            self._app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self._bound = (host, bound_port)
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self._base_url = f"http://{shown_host}:{bound_port}"
        logger.info("gateway simulator listening on %s", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- outages --------------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self._runner is not None

    async def refuse_connections(self, seconds: float | None = None) -> None:
        """Stop listening on the port: every connection is refused (open ones are closed);
        tasks, faults and records are kept. With `seconds`, listen again after that long."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._app = self._build_app()  # a cleaned-up app cannot be started again
            logger.info("gateway simulator refusing connections")
        if seconds is not None:
            self._reopen = asyncio.create_task(self._accept_after(seconds))

    async def _accept_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._reopen = None
        await self.accept_connections()

    async def accept_connections(self) -> None:
        """Listen again on the same host and port after `refuse_connections`."""
        if self._runner is not None or self._bound is None:
            return
        await self.start(*self._bound)

    def start_outage(
        self,
        mode: str,
        *,
        seconds: float | None = None,
        retry_after: str | None = None,
        routes: Sequence[str] = API_KINDS,
    ) -> Outage:
        """Answer every request of `routes` like a gateway in trouble (see the module's doc),
        for `seconds` of the simulator's clock or until `end_outage`."""
        until = None if seconds is None else self._clock() + seconds
        self._outage = Outage(mode, tuple(routes), retry_after, until)
        return self._outage

    def end_outage(self) -> None:
        self._outage = None

    def _outage_for(self, kind: str) -> Outage | None:
        outage = self._outage
        if outage is None or not outage.covers(kind, self._clock()):
            return None
        return outage

    async def _answer_outage(
        self, request: web.Request, handler: Handler, outage: Outage, authorized: bool
    ) -> web.StreamResponse:
        if outage.mode == "busy_429":
            return _busy_429(outage.retry_after)
        if outage.mode == "timeout_504":
            if authorized:
                await handler(request)  # taken: a create makes its task, the answer is lost
            return _proxy_page(504)
        return _proxy_page(503)

    async def __aenter__(self) -> GatewaySimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- control ------------------------------------------------------------------------------

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change settings at once; tasks keep the timing they were created with."""
        self._config = self._config.with_changes(changes)
        if "quota" in changes:
            self._quota_left = self._config.quota
        if "record_limit" in changes:
            self._records = deque(self._records, maxlen=self._config.record_limit)
        return self._config

    def set_video(self, data: bytes | None) -> None:
        """Serve `data` as the video of every finished task (None: the bundled sample again)."""
        self._sample = SAMPLE_MP4.read_bytes() if data is None else data
        self._big_video = None

    def add_faults(self, *faults: Fault) -> None:
        self._faults.extend(_QueuedFault(fault, fault.times) for fault in faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._records)

    @property
    def request_counts(self) -> dict[str, int]:
        """Requests per route, e.g. `{"POST /v1/video/generations": 1}`."""
        return dict(self._counts)

    def clear_requests(self) -> None:
        self._records.clear()
        self._counts.clear()

    def task(self, task_id: str) -> SimTask | None:
        return self._tasks.get(task_id)

    @property
    def tasks(self) -> list[SimTask]:
        return list(self._tasks.values())

    @property
    def task_count(self) -> int:
        return len(self._tasks)

    def reset(self) -> None:
        """Forget tasks, faults and requests; the clock's origin starts again."""
        self._tasks.clear()
        self._external_ids.clear()
        self._callback_pending.clear()
        self.clear_faults()
        self.clear_requests()
        self._quota_left = self._config.quota
        self._origin = self._clock()
        self._wall_origin = time.time()

    # --- the app ------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024**2)
        routes: list[tuple[str, str, Handler, str]] = [
            ("POST", "/v1/video/generations", self._create_unified, "create"),
            ("GET", "/v1/video/generations/{task_id}", self._fetch, "fetch"),
            ("POST", "/kling/v1/videos/text2video", self._create_kling, "create"),
            ("POST", "/kling/v1/videos/image2video", self._create_kling, "create"),
            ("GET", "/kling/v1/videos/text2video/{task_id}", self._fetch, "fetch"),
            ("GET", "/kling/v1/videos/image2video/{task_id}", self._fetch, "fetch"),
            ("GET", "/v1/videos/{task_id}", self._fetch_openai, "fetch"),
            ("GET", "/v1/videos/{task_id}/content", self._content, "content"),
            ("GET", "/files/{name}", self._file, "file"),
        ]
        for method, path, handler, kind in routes:
            app.router.add_route(method, path, handler)
            self._kinds[f"{method} {path}"] = kind
        app.router.add_post("/_sim/config", self._control_config)
        app.router.add_get("/_sim/config", self._control_config)
        app.router.add_post("/_sim/faults", self._control_faults)
        app.router.add_get("/_sim/faults", self._control_faults)
        app.router.add_delete("/_sim/faults", self._control_faults)
        app.router.add_get("/_sim/requests", self._control_requests)
        app.router.add_delete("/_sim/requests", self._control_requests)
        app.router.add_get("/_sim/tasks", self._control_tasks)
        app.router.add_post("/_sim/reset", self._control_reset)
        app.router.add_route("*", "/_sim/outage", self._control_outage)
        app.cleanup_ctx.append(self._callback_context)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        resource = request.match_info.route.resource
        route = f"{request.method} {resource.canonical if resource else request.path}"
        kind = self._kinds.get(route, "other")
        authorized = request.headers.get("Authorization") == f"Bearer {self._config.api_key}"
        await self._record(request, route, kind, authorized)
        outage = self._outage_for(kind)
        if outage is not None:
            return await self._answer_outage(request, handler, outage, authorized)
        fault = self._take_fault(kind)
        if fault is not None:
            early = await self._apply_fault(request, fault)
            if early is not None:
                return early
        if kind in ("create", "fetch", "content") and not authorized:
            response: web.StreamResponse = _error_shape(401, "Invalid token")
        else:
            response = await handler(request)
        if fault is not None and fault.lose_answer:
            _drop_connection(request)
        logger.debug("simulator %s %s -> %d", request.method, request.path, response.status)
        return response

    async def _record(self, request: web.Request, route: str, kind: str, ok: bool) -> None:
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = json.loads(await request.read())
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        self._counts[route] += 1
        self._records.append(
            RecordedRequest(request.method, request.path, route, kind, ok, headers, body)
        )

    def _take_fault(self, kind: str) -> Fault | None:
        if kind not in ("create", "fetch", "content"):
            return None
        for index, queued in enumerate(self._faults):
            if queued.fault.route in (kind, "any"):
                queued.left -= 1
                if queued.left == 0:
                    del self._faults[index]
                return queued.fault
        return None

    async def _apply_fault(self, request: web.Request, fault: Fault) -> web.Response | None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            _drop_connection(request)
        if fault.status is None:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        status = fault.status
        if fault.body == "html":
            return _proxy_page(status, headers)
        if fault.body == "empty":
            return web.Response(status=status, headers=headers)
        message = fault.message or (
            UPSTREAM_SATURATED + "，请稍后再试" if status == 429 else _reason_phrase(status)
        )
        if fault.body == "code":
            default_code = "do_request_failed" if status >= 500 else "fail_to_fetch_task"
            response = _code_shape(status, fault.code or default_code, message)
        else:
            response = _error_shape(status, message, code=fault.code or "")
        response.headers.update(headers)
        return response

    # --- create -------------------------------------------------------------------------------

    async def _create_unified(self, request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            model = self._check_model(body.get("model"))
            fields = _unified_to_kling(body)
            task = self._new_task(request, model, fields)
        except _Rejection as rejection:
            return rejection.response
        return self._created(task)

    async def _create_kling(self, request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            model = self._check_model(body.get("model_name") or body.get("model"))
            problem = _strict_decoding_problem(body)
            if problem:
                raise _Rejection(_code_shape(500, "build_request_failed", problem))
            task = self._new_task(request, model, body)
        except _Rejection as rejection:
            return rejection.response
        return self._created(task)

    def _check_model(self, model: Any) -> str:
        if not model or not isinstance(model, str):
            raise _Rejection(_error_shape(400, "model is required"))
        allowed = self._config.allowed_models
        if allowed is not None and model not in allowed:
            raise _Rejection(_error_shape(403, f"This token has no access to model {model}"))
        if model not in self._config.models:
            raise _Rejection(
                _error_shape(
                    503,
                    f"No available channel for model {model} under group default",
                    code="model_not_found",
                )
            )
        if self._quota_left is not None and self._quota_left <= 0:
            raise _Rejection(
                _code_shape(403, "insufficient_user_quota", "user quota is not enough")
            )
        return model

    def _new_task(self, request: web.Request, model: str, fields: dict[str, Any]) -> SimTask:
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Rejection(_code_shape(400, "invalid_request", "prompt is required"))
        magic = prompt.lower()
        if "[policy]" in magic:
            raise _Rejection(_kling_rejection(1301, POLICY_MESSAGE))
        external_id = fields.get("external_task_id") or None
        if external_id in self._external_ids:
            raise _Rejection(
                _kling_rejection(1201, f"external_task_id {external_id} already exists")
            )
        violation = _kling_rule_violation(fields)
        if violation and self._config.kling_errors == "reject":
            raise _Rejection(_kling_rejection(1201, violation))

        config = self._config
        factor = config.time_factor * (3 if "[slow]" in magic else 1)
        running = config.running_seconds
        if config.duration_range is not None:
            running = self._rng.uniform(*config.duration_range)
        outcome, failure = Outcome.SUCCEED, None
        if violation:
            outcome, failure, running = Outcome.FAIL, _kling_json(1201, violation), 0.0
        elif "[fail]" in magic:
            outcome, failure = Outcome.FAIL, FAILURE_MESSAGE
        elif "[stuck]" in magic:
            outcome = Outcome.STUCK
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
            origin=f"{request.scheme}://{request.host}",
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
        if task.callback_url:
            self._callback_pending.add(task.id)
        if self._quota_left is not None:
            self._quota_left -= 1
        return task

    def _created(self, task: SimTask) -> web.Response:
        return web.json_response(
            {
                "id": task.id,
                "task_id": task.id,
                "object": "video",
                "model": task.model,
                "status": "queued",
                "progress": 0,
                "created_at": int(self._wall(task.created)),
            },
            dumps=_dumps,
        )

    # --- retrieve -----------------------------------------------------------------------------

    async def _fetch(self, request: web.Request) -> web.Response:
        return self._retrieve(request, self._config.retrieve_shape)

    async def _fetch_openai(self, request: web.Request) -> web.Response:
        return self._retrieve(request, "openai")

    def _retrieve(self, request: web.Request, shape: str) -> web.Response:
        task = self._tasks.get(request.match_info["task_id"])
        if task is None:
            return _code_shape(400, "task_not_exist", "task_not_exist")
        view = self._view(task)
        origin = f"{request.scheme}://{request.host}"
        if shape == "wrapper":
            body = self._wrapper_body(task, view, origin)
        else:
            body = self._doc_body(task, view, origin, openai=shape == "openai")
        return web.json_response(body, dumps=_dumps)

    def _view(self, task: SimTask) -> _View:
        now = self._clock()
        tick = self._config.update_interval * self._config.time_factor
        seen = now
        if tick > 0:
            seen = self._origin + math.floor((now - self._origin) / tick) * tick
            if seen < task.created:
                return _View(Phase.SUBMITTED, 0, task.created)
        phase, progress = task.phase_at(seen)
        return _View(phase, progress, seen)

    def _wall(self, moment: float) -> float:
        return self._wall_origin + (moment - self._origin)

    def _video_url(self, task: SimTask, origin: str) -> str:
        return f"{origin}/files/{task.id}.mp4"

    def _doc_body(self, task: SimTask, view: _View, origin: str, *, openai: bool) -> Any:
        scale = 1000 if openai else 1
        body: dict[str, Any] = {
            "id": task.id,
            "object": "video",
            "model": "" if openai else task.model,
            "status": _STATUS_WORDS["openai" if openai else "doc"][view.phase],
            "progress": view.progress,
            "seconds": task.duration,
            "created_at": int(self._wall(task.created) * scale),
        }
        if not openai:
            body["task_id"] = task.id
        if view.phase in TERMINAL_PHASES:
            body["completed_at"] = int(self._wall(task.finishes) * scale)
        if view.phase is Phase.SUCCEEDED:
            body["metadata"] = {"url": self._video_url(task, origin)}
        elif view.phase is Phase.FAILED:
            body["error"] = {"message": task.failure, "code": "task_failed"}
        return body

    def _wrapper_body(self, task: SimTask, view: _View, origin: str) -> Any:
        done = view.phase in TERMINAL_PHASES
        url = self._video_url(task, origin) if view.phase is Phase.SUCCEEDED else ""
        failure = task.failure if view.phase is Phase.FAILED else ""
        return {
            "code": "success",
            "message": "",
            "data": {
                "task_id": task.id,
                "action": "generate" if task.kind == "image2video" else "textGenerate",
                "status": _STATUS_WORDS["wrapper"][view.phase],
                "fail_reason": failure,
                "result_url": url or failure,  # on FAILURE the relay puts the reason here
                "submit_time": int(self._wall(task.created)),
                "start_time": int(self._wall(task.created + task.queued_for))
                if view.phase not in (Phase.SUBMITTED, Phase.QUEUED)
                else 0,
                "finish_time": int(self._wall(task.finishes)) if done else 0,
                "progress": f"{view.progress}%",
                "data": {
                    "code": 0,
                    "message": "SUCCEED",
                    "request_id": _request_id(),
                    "data": self._kling_task(task, view, origin),
                },
            },
        }

    def _kling_task(self, task: SimTask, view: _View, origin: str) -> dict[str, Any]:
        """Kling's own task object: inside the wrapper, and the body of every callback."""
        body: dict[str, Any] = {
            "task_id": task.kling_id,
            "task_status": _STATUS_WORDS["kling"][view.phase],
            "task_status_msg": (task.failure or "") if view.phase is Phase.FAILED else "",
            "task_info": {"external_task_id": task.external_task_id or ""},
            "created_at": int(self._wall(task.created) * 1000),
            "updated_at": int(self._wall(view.seen_at) * 1000),
        }
        if view.phase is Phase.SUCCEEDED:
            video = {"id": f"v_{task.kling_id}", "url": self._video_url(task, origin)}
            body["task_result"] = {"videos": [{**video, "duration": task.duration}]}
        return body

    # --- videos -------------------------------------------------------------------------------

    async def _content(self, request: web.Request) -> web.Response:
        task = self._tasks.get(request.match_info["task_id"])
        if task is None:
            return _code_shape(400, "task_not_exist", "task_not_exist")
        if self._view(task).phase is not Phase.SUCCEEDED:
            return _code_shape(400, "invalid_request", "the video is not ready")
        return self._mp4(task)

    async def _file(self, request: web.Request) -> web.Response:
        task = self._tasks.get(request.match_info["name"].removesuffix(".mp4"))
        if task is None or task.phase_at(self._clock())[0] is not Phase.SUCCEEDED:
            raise web.HTTPNotFound
        return self._mp4(task)

    def _mp4(self, task: SimTask) -> web.Response:
        body = self._padded_video() if task.big else self._sample
        return web.Response(body=body, content_type="video/mp4")

    def _padded_video(self) -> bytes:
        """The sample with a trailing `free` box up to `big_video_bytes`: still playable."""
        size = self._config.big_video_bytes
        if self._big_video is None or self._big_video[0] != size:
            video, padding = self._sample, size - len(self._sample)
            if padding >= 8:  # a box is at least its 8-byte header
                video += struct.pack(">I4s", padding, b"free") + bytes(padding - 8)
            self._big_video = (size, video)
        return self._big_video[1]

    # --- callbacks ----------------------------------------------------------------------------

    async def _callback_context(self, app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession()
        loop = asyncio.create_task(self._callback_loop(session))
        yield
        loop.cancel()
        for job in list(self._callback_jobs):
            job.cancel()
        await asyncio.gather(loop, *self._callback_jobs, return_exceptions=True)
        await session.close()

    async def _callback_loop(self, session: aiohttp.ClientSession) -> None:
        """At each relay tick, tell Kling's callback URLs about tasks whose status changed."""
        limit = asyncio.Semaphore(64)
        while True:
            await asyncio.sleep(self._seconds_to_next_tick())
            try:
                self._send_callbacks(session, limit)
            except Exception:
                logger.exception("simulator callback pass failed; carrying on")

    def _send_callbacks(self, session: aiohttp.ClientSession, limit: asyncio.Semaphore) -> None:
        for task_id in list(self._callback_pending):
            task = self._tasks.get(task_id)
            if task is None or task.callback_url is None:
                self._callback_pending.discard(task_id)
                continue
            view = self._view(task)
            status = _STATUS_WORDS["kling"][view.phase]
            if view.phase in TERMINAL_PHASES:
                self._callback_pending.discard(task_id)
            if status == task.last_callback:
                continue
            task.last_callback = status
            if self._config.callback_loss and self._loss_rng.random() < self._config.callback_loss:
                continue  # lost on the way, as callbacks sometimes are
            payload = self._kling_task(task, view, task.origin)
            job = asyncio.create_task(
                self._post_callback(session, limit, task.callback_url, payload)
            )
            self._callback_jobs.add(job)
            job.add_done_callback(self._callback_jobs.discard)

    def _seconds_to_next_tick(self) -> float:
        tick = self._config.update_interval * self._config.time_factor
        if tick <= 0:
            return 0.05
        into = (self._clock() - self._origin) % tick
        return max(0.01, tick - into)

    async def _post_callback(
        self, session: aiohttp.ClientSession, limit: asyncio.Semaphore, url: str, payload: Any
    ) -> None:
        """Best effort, as Kling does: failures are logged and forgotten."""
        timeout = aiohttp.ClientTimeout(total=self._config.callback_timeout)
        try:
            async with limit, session.post(url, json=payload, timeout=timeout) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            logger.debug("callback to %s failed: %s", url, exc)

    # --- control endpoints --------------------------------------------------------------------

    async def _control_config(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object of settings")
                self.configure(**changes)
            except (ValueError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self._config.to_json())

    async def _control_faults(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.clear_faults()
        elif request.method == "POST":
            try:
                data = await request.json()
                faults = [Fault.from_json(item) for item in _as_list(data)]
            except (ValueError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            self.add_faults(*faults)
        queued = [{**dataclasses.asdict(q.fault), "times": q.left} for q in self._faults]
        return web.json_response({"faults": queued})

    async def _control_requests(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self.clear_requests()
        records = [dataclasses.asdict(record) for record in self._records]
        return web.json_response({"counts": self.request_counts, "requests": records})

    async def _control_tasks(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "1000"))
        except ValueError:
            return web.json_response({"error": "limit must be an integer"}, status=400)
        tasks = []
        for task in list(self._tasks.values())[:limit]:
            view = self._view(task)
            tasks.append(
                {
                    "id": task.id,
                    "kling_id": task.kling_id,
                    "kind": task.kind,
                    "model": task.model,
                    "prompt": task.prompt,
                    "duration": task.duration,
                    "aspect_ratio": task.aspect_ratio,
                    "external_task_id": task.external_task_id,
                    "callback_url": task.callback_url,
                    "outcome": task.outcome,
                    "phase": task.phase_at(self._clock())[0],
                    "visible_phase": view.phase,
                    "progress": view.progress,
                }
            )
        return web.json_response({"count": len(self._tasks), "tasks": tasks}, dumps=_dumps)

    async def _control_outage(self, request: web.Request) -> web.Response:
        """POST `{"mode", "seconds", "retry_after", "routes"}` starts an outage (mode
        "refuse" needs `seconds`: nobody could end it over HTTP); DELETE ends one."""
        if request.method == "DELETE":
            self.end_outage()
        elif request.method == "POST":
            try:
                data = await request.json()
                if not isinstance(data, dict):
                    raise ValueError("send a JSON object")
                seconds = data.get("seconds")
                if data.get("mode") == "refuse":
                    if not isinstance(seconds, int | float) or seconds <= 0:
                        raise ValueError("refuse needs seconds (nobody could end it over HTTP)")
                    # answered first, then the port closes
                    asyncio.get_running_loop().call_soon(
                        lambda: asyncio.ensure_future(self.refuse_connections(seconds))
                    )
                else:
                    self.start_outage(
                        str(data.get("mode")),
                        seconds=seconds,
                        retry_after=data.get("retry_after"),
                        routes=data.get("routes") or API_KINDS,
                    )
            except (ValueError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
        outage = self._outage
        return web.json_response({"outage": dataclasses.asdict(outage) if outage else None})

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})


# --- bodies and rules -------------------------------------------------------------------------


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _proxy_page(status: int, headers: dict[str, str] | None = None) -> web.Response:
    """The HTML error page a proxy (nginx) in front of the relay answers with."""
    reason = _reason_phrase(status)
    page = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)


def _busy_429(retry_after: str | None) -> web.Response:
    """The relay's answer when upstream is saturated."""
    response = _error_shape(429, UPSTREAM_SATURATED + "，请稍后再试")
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def _drop_connection(request: web.Request) -> NoReturn:
    if request.transport is not None:
        request.transport.abort()
    raise web.HTTPServiceUnavailable  # never seen: the connection is gone


def _request_id() -> str:
    return f"{random.getrandbits(96):024x}"


def _error_shape(status: int, message: str, *, code: str = "") -> web.Response:
    """The relay's OpenAI-like error body."""
    error = {"message": f"{message} (request id: {_request_id()})", "type": "new_api_error"}
    return web.json_response({"error": {**error, "code": code}}, status=status, dumps=_dumps)


def _code_shape(status: int, code: str, message: str) -> web.Response:
    """The relay's task error body."""
    body = {"code": code, "message": message, "data": None}
    return web.json_response(body, status=status, dumps=_dumps)


def _kling_json(code: int, message: str) -> str:
    return _dumps({"code": code, "message": message, "request_id": _request_id()})


def _kling_rejection(code: int, message: str) -> web.Response:
    """Kling refused: the relay passes its raw error JSON through as the message text."""
    return _code_shape(400, "fail_to_fetch_task", _kling_json(code, message))


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _Rejection(_error_shape(400, "invalid request body: not JSON")) from None
    if not isinstance(body, dict):
        raise _Rejection(_error_shape(400, "invalid request body: not a JSON object"))
    return body


def _as_list(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


# Kling's request fields and their JSON types, as the relay decodes them (strictly).
_KLING_TYPES: dict[str, tuple[type, ...]] = {
    "model_name": (str,),
    "model": (str,),
    "prompt": (str,),
    "negative_prompt": (str,),
    "mode": (str,),
    "duration": (str,),
    "aspect_ratio": (str,),
    "cfg_scale": (int, float),
    "image": (str,),
    "image_tail": (str,),
    "static_mask": (str,),
    "dynamic_masks": (list,),
    "camera_control": (dict,),
    "callback_url": (str,),
    "external_task_id": (str,),
}
_JSON_TYPE_NAMES = {str: "string", int: "number", float: "number", list: "array", dict: "object"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _strict_decoding_problem(fields: dict[str, Any]) -> str | None:
    """The Go decoder's complaint about the first field of the wrong JSON type, if any."""
    for name, types in _KLING_TYPES.items():
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = _JSON_TYPE_NAMES[types[0]]
            return (
                f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                f".{name} of type {wanted}"
            )
    return None


def _unified_to_kling(body: dict[str, Any]) -> dict[str, Any]:
    """What the relay makes of a unified request: Kling's fields, `metadata` laid on top."""
    duration = body.get("duration", 5)
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise _Rejection(_code_shape(400, "invalid_request", "duration must be a number"))
    for name in ("prompt", "image", "mode", "size"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _Rejection(_code_shape(400, "invalid_request", f"{name} must be a string"))
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _Rejection(_code_shape(400, "invalid_request", "metadata must be an object"))
    ratio_for_size = {size: ratio for ratio, size in SIZE_FOR_ASPECT.items()}
    fields: dict[str, Any] = {
        "prompt": body.get("prompt"),
        "mode": body.get("mode") or "std",
        "duration": str(int(duration)),
        "aspect_ratio": ratio_for_size.get(body.get("size") or "", "1:1"),
        "image": body.get("image"),
    }
    problem = _strict_decoding_problem(metadata)
    if problem:
        raise _Rejection(_code_shape(500, "build_request_failed", problem))
    fields.update({k: v for k, v in metadata.items() if v is not None})
    return fields


def _kling_rule_violation(fields: dict[str, Any]) -> str | None:
    """The first of Kling's own parameter rules that `fields` break, in Kling's words."""
    for name in ("prompt", "negative_prompt"):
        if len(fields.get(name) or "") > MAX_PROMPT_CHARS:
            return f"{name} must not exceed {MAX_PROMPT_CHARS} characters"
    checks = (("mode", MODES), ("aspect_ratio", ASPECT_RATIOS), ("duration", KLING_DURATIONS))
    for name, allowed in checks:
        value = fields.get(name)
        if value not in (None, "") and value not in allowed:
            return f"{name} must be one of {', '.join(allowed)}"
    cfg_scale = fields.get("cfg_scale")
    if cfg_scale is not None and not 0 <= cfg_scale <= 1:
        return "cfg_scale must be between 0 and 1"
    for name in ("image", "image_tail"):
        if str(fields.get(name) or "").startswith("data:"):
            return f"{name} must be a URL or raw base64 without a data: prefix"
    exclusive = [
        name
        for name in ("image_tail", "camera_control", "static_mask", "dynamic_masks")
        if fields.get(name)
    ]
    if len(exclusive) > 1 and not set(exclusive) <= {"static_mask", "dynamic_masks"}:
        return f"{' and '.join(exclusive)} cannot be used together"
    if fields.get("camera_control"):
        return _camera_violation(fields["camera_control"])
    return None


def _camera_violation(camera: dict[str, Any]) -> str | None:
    kind, config = camera.get("type"), camera.get("config")
    if kind in CAMERA_PRESETS:
        return None if not config else f"camera_control type {kind} takes no config"
    if kind != "simple":
        return f"camera_control type {kind!r} is not supported"
    if not isinstance(config, dict):
        return "camera_control.config is required for type simple"
    unknown = set(config) - set(CAMERA_AXES)
    if unknown:
        return f"camera_control.config has unknown axes: {', '.join(sorted(unknown))}"
    values = list(config.values())
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        return "camera_control.config values must be numbers"
    if any(not -10 <= v <= 10 for v in values):
        return "camera_control.config values must be between -10 and 10"
    if sum(1 for v in values if v != 0) != 1:
        return "camera_control.config must have exactly one non-zero axis"
    return None


# --- command line -----------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, SimulatorConfig]:
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m gateway.simulator",
        description="A local imitation of the Kling video gateway (never calls the real one).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("KLING_API_KEY") or defaults.api_key,
        help="the key clients must send (default: $KLING_API_KEY, else sim-key)",
    )
    parser.add_argument("--time-factor", type=float, default=defaults.time_factor)
    parser.add_argument("--queued-seconds", type=float, default=defaults.queued_seconds)
    parser.add_argument("--running-seconds", type=float, default=defaults.running_seconds)
    parser.add_argument(
        "--duration-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None
    )
    parser.add_argument("--update-interval", type=float, default=defaults.update_interval)
    parser.add_argument("--retrieve-shape", choices=RETRIEVE_SHAPES, default="doc")
    parser.add_argument("--kling-errors", choices=KLING_ERROR_MODES, default="reject")
    parser.add_argument("--models", default=",".join(defaults.models), help="comma-separated")
    parser.add_argument("--allowed-models", default=None, help="comma-separated; default all")
    parser.add_argument("--quota", type=int, default=None)
    parser.add_argument("--big-video-bytes", type=int, default=defaults.big_video_bytes)
    parser.add_argument(
        "--callback-loss", type=float, default=0.0, help="share of callbacks never sent (0-1)"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    def names(text: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip())

    low, high = args.duration_range or (0.0, 0.0)
    try:
        config = SimulatorConfig(
            api_key=args.api_key,
            models=names(args.models),
            allowed_models=names(args.allowed_models) if args.allowed_models else None,
            quota=args.quota,
            retrieve_shape=args.retrieve_shape,
            queued_seconds=args.queued_seconds,
            running_seconds=args.running_seconds,
            duration_range=(low, high) if args.duration_range else None,
            update_interval=args.update_interval,
            time_factor=args.time_factor,
            kling_errors=args.kling_errors,
            big_video_bytes=args.big_video_bytes,
            callback_loss=args.callback_loss,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return args, config


async def _serve(config: SimulatorConfig, host: str, port: int) -> None:
    simulator = GatewaySimulator(config)
    await simulator.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> None:
    args, config = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_serve(config, args.host, args.port))


if __name__ == "__main__":
    main()

"""Polling at scale: N unfinished tasks tracked by the real service, store and client, against the
gateway simulator in a subprocess.

What runs (one fresh process per configuration, so CPU and peak RSS are that run's own):
- the gateway simulator (`python -m bench.simserver`, i.e. gateway.simulator plus read-only
  bench routes) in a subprocess, with task lengths uniform in 1-5 minutes (10 s queued, then
  50-290 s running) and the relay's 15 s tick, all shortened by the time factor F;
- in this process: SqliteTaskStore on a temporary file, GatewayClient over HTTP, the service
  with POLL_INTERVAL and the task timeout scaled by the same F, a notifier that timestamps
  deliveries, and a loop equal to cogs/poller.py;
- a steady state: N tasks exist from the start with ages spread as in a steady stream, and each
  delivered task is replaced at once by a new one sent through `admit` + `send`, so N
  tasks are tracked the whole time.

Measured over a window after a warm-up (times reported in UNSCALED seconds):
- gateway requests per finished task (the simulator's counters over the window / tasks whose
  finished state became visible in the window);
- delay from the relay tick that made a task's finished state visible to its delivery;
- CPU of this process per task, and as a share of one core at real speed (CPU x F / wall);
- peak RSS; lag of polls behind their due time.

Examples:
  python -m bench.polling                       # 1,000 then 10,000 tasks, naive and adaptive
  python -m bench.polling --tasks 1000 --schedule adaptive --callbacks
  python -m bench.polling --tasks 1000 --schedule adaptive --callbacks --callback-loss 0.2
  python -m bench.polling --all                 # naive/adaptive x without/with callbacks
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    API_KEY,
    REPO_ROOT,
    SimProcess,
    cpu_seconds,
    free_port,
    peak_rss_mb,
    percentile,
    table,
    write_results,
)
from gateway.callbacks import start_callback_server
from gateway.client import GatewayClient
from storage.task_store import SqliteTaskStore
from videojobs.lifecycle import Lifecycle
from videojobs.models import (
    GenerationRequest,
    Requester,
    TaskState,
    VideoRequest,
    VideoTask,
    new_task_id,
)
from videojobs.ports import AdmissionLimits
from videojobs.schedule import PollSchedule
from videojobs.service import ServiceConfig, VideoJobsService

log = logging.getLogger("bench.polling")

POLL_INTERVAL = 10.0  # POLL_INTERVAL_SECONDS (unscaled)
RELAY_TICK = 15.0  # the relay's bulk update period (unscaled)
QUEUED = 10.0  # seconds a task waits before it runs (unscaled)
RUNNING = (50.0, 290.0)  # so a task takes 60-300 s in all
TASK_TIMEOUT = 30 * 60.0
FIRST_POLL_AFTER = 60.0  # ServiceConfig's default (unscaled)
ERROR_PAUSE = 5.0  # cogs/poller.py
MIN_SLEEP = 0.05  # cogs/poller.py (real seconds)
FETCH_ROUTE = "GET /v1/video/generations/{task_id}"
CREATE_ROUTE = "POST /v1/video/generations"
CALLBACK_DELAY_GOAL = 1.0  # p95 seconds, with every callback arriving
CALLBACK_REQUESTS_GOAL = 2.5  # gateway requests per task with callbacks, create included
REQUEST = VideoRequest(prompt="a lighthouse in a storm, waves crashing", model="kling-v3")


# --- the naive baseline -----------------------------------------------------------------------


class NaiveSchedule(PollSchedule):
    """Every task every POLL_INTERVAL on a fixed grid (from when its last poll was due, so
    that a late poll does not stretch the period), no jitter, nothing learnt; errors still back
    off."""

    due: dict[str, float]  # task id -> when its current poll was due (from MeteredStore)

    def first(self, now: float, deadline: float) -> float:
        return min(now + self.interval, deadline)

    def after_success(
        self, now: float, deadline: float, task_id: str | None = None, *, sent: float | None = None
    ) -> float:
        base = self.due.get(task_id or "", now if sent is None else sent)
        return min(base + self.interval, deadline)


def naive_schedule(config: ServiceConfig, store: MeteredStore) -> PollSchedule:
    schedule = NaiveSchedule(config.poll_interval)
    schedule.due = store.due_by_task
    return schedule


# --- instruments ------------------------------------------------------------------------------


class MeteredStore(SqliteTaskStore):
    """Remembers when each task handed to the poller was due, to measure how late it is polled."""

    due: dict[str, float]  # gateway task id -> due time, until its fetch starts
    due_by_task: dict[str, float]  # task id -> due time of its latest poll

    async def due_for_poll(self, now: float, limit: int) -> list[VideoTask]:
        tasks = await super().due_for_poll(now, limit)
        for task in tasks:
            self.due_by_task[task.id] = task.next_poll_at
            if task.gateway_task_id is not None:
                # the latest hand-out: a poll put off by the safety net is due at its new time
                self.due[task.gateway_task_id] = task.next_poll_at
        return tasks


class MeteredGateway:
    """GatewayClient plus: lag of each fetch behind its due time, and in-flight requests."""

    def __init__(self, inner: GatewayClient, store: MeteredStore) -> None:
        self.inner = inner
        self.store = store
        store.due = {}
        store.due_by_task = {}
        self.lags: list[float] = []
        self.recording = False
        self.in_flight = 0
        self.max_in_flight = 0

    async def create(self, request: GenerationRequest) -> Any:
        return await self.inner.create(request)

    async def fetch(self, task_id: str, *, request: VideoRequest) -> Any:
        due = self.store.due.pop(task_id, None)
        if due is not None and self.recording:
            self.lags.append(time.time() - due)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.inner.fetch(task_id, request=request)
        finally:
            self.in_flight -= 1


class BenchNotifier:
    """Timestamps deliveries (time.monotonic, the simulator's clock too) and replaces each
    delivered task by a new one, so the number of tracked tasks stays N."""

    def __init__(self) -> None:
        self.service: VideoJobsService | None = None
        self.delivered: dict[str, float] = {}  # gateway task id -> monotonic time
        self.states: dict[str, TaskState] = {}
        self.progress_updates = 0
        self.replace = True
        self.arrival_spread = 0.0  # seconds over which a replacement's arrival is spread
        self._ids = iter(range(1, 10**12))
        self._jobs: set[asyncio.Task[None]] = set()
        self.replace_errors = 0
        self._waiting: set[str] = set()
        self._all_in = asyncio.Event()

    async def wait_for(self, gateway_ids: set[str]) -> None:
        """Until every one of these tasks has been delivered."""
        self._waiting = gateway_ids - self.delivered.keys()
        self._all_in.clear()
        if self._waiting:
            await self._all_in.wait()

    async def progress(self, task: VideoTask) -> None:
        self.progress_updates += 1

    async def find_delivery(self, task: VideoTask) -> int | None:
        return None

    async def deliver(self, task: VideoTask) -> int | None:
        if task.gateway_task_id is not None:
            self.delivered[task.gateway_task_id] = time.monotonic()
            self.states[task.gateway_task_id] = task.state
            if self._waiting:
                self._waiting.discard(task.gateway_task_id)
                if not self._waiting:
                    self._all_in.set()
        if self.replace:
            job = asyncio.create_task(self._replace())
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
        return next(self._ids)

    async def _replace(self) -> None:
        """A new task, at a random moment within a relay tick: members do not wait for the
        relay to ask for a video (and a steady stream is what a server sees)."""
        assert self.service is not None
        await asyncio.sleep(random.uniform(0, self.arrival_spread))
        if not self.replace:
            return
        requester = Requester(user_id=random.randrange(1, 10**9), guild_id=1, channel_id=2)
        try:
            task = await self.service.admit(REQUEST, requester)
            await self.service.send(task.id)
        except Exception:
            self.replace_errors += 1
            log.exception("replacement task failed")


# --- one run ----------------------------------------------------------------------------------


@dataclasses.dataclass
class RunSpec:
    tasks: int
    schedule: str  # "naive" | "adaptive"
    callbacks: bool
    time_factor: float
    warmup: float  # unscaled seconds
    measure: float  # unscaled seconds
    seed: int = 1
    callback_loss: float = 0.0  # share of the simulator's callbacks that never arrive
    log_level: str = "INFO"
    log_file: str | None = None

    @property
    def label(self) -> str:
        loss = f" ({self.callback_loss:.0%} lost)" if self.callbacks and self.callback_loss else ""
        return f"{self.schedule}{'+callbacks' if self.callbacks else ''}{loss} {self.tasks:,}"


def service_config(spec: RunSpec, callback_url: str | None) -> ServiceConfig:
    f = spec.time_factor
    wanted: dict[str, Any] = {
        "poll_interval": POLL_INTERVAL * f,
        "task_timeout": TASK_TIMEOUT * f,
        "callback_url": callback_url,
        "progress_min_interval": 10.0 * f,
        "delivery_retry_delays": tuple(d * f for d in (5.0, 15.0, 60.0, 300.0, 900.0)),
        # newer ServiceConfig only
        "relay_refresh": RELAY_TICK * f,
        "first_poll_after": FIRST_POLL_AFTER * f,
    }
    known = {field.name for field in dataclasses.fields(ServiceConfig)}
    return ServiceConfig(**{k: v for k, v in wanted.items() if k in known})


def steady_state_task(rng: random.Random) -> tuple[float, float]:
    """(total length, age) of a task met at a random moment of a steady stream of tasks of
    length uniform in [lo, hi]: the length is length-biased, the age uniform in it."""
    lo, hi = QUEUED + RUNNING[0], QUEUED + RUNNING[1]
    total = math.sqrt(lo * lo + rng.random() * (hi * hi - lo * lo))
    return total, rng.random() * total


async def populate(
    spec: RunSpec,
    sim: SimProcess,
    session: aiohttp.ClientSession,
    client: GatewayClient,
    store: SqliteTaskStore,
    config: ServiceConfig,
    service: VideoJobsService,
) -> None:
    """N tasks in the simulator and the database, of every age, as in a steady state."""
    f = spec.time_factor
    rng = random.Random(spec.seed)
    limit = asyncio.Semaphore(32)
    shapes: list[dict[str, Any]] = []

    async def one(n: int) -> None:
        total, age = steady_state_task(rng)
        task_id = new_task_id()
        generation = GenerationRequest.for_task(
            REQUEST,
            external_task_id=task_id,
            callback_url=await service.lifecycle.callback_url_for(task_id),
        )
        async with limit:
            snapshot = await client.create(generation)
        now = time.time()
        created = now - age * f
        task = VideoTask(
            id=task_id,
            requester_id=n + 1,
            guild_id=1,
            channel_id=2,
            request=REQUEST,
            created_at=created,
            updated_at=now,
            deadline_at=created + config.task_timeout,
            next_poll_at=now,  # set below, once all exist
            state=TaskState.QUEUED if age < QUEUED else TaskState.RUNNING,
            gateway_task_id=snapshot.task_id,
            attempts=1,
        )
        inserted = await store.insert_within_limits(task, AdmissionLimits())
        assert inserted is None
        shapes.append({"id": snapshot.task_id, "running": total - QUEUED, "age": age})

    # a few more than N: replacements arrive over a relay tick, so about this many are
    # always on their way (completion rate x half a tick)
    waiting = round(spec.tasks * (RELAY_TICK / 2) / ((2 * QUEUED + sum(RUNNING)) / 2))
    await asyncio.gather(*(one(n) for n in range(spec.tasks + waiting)))
    for start in range(0, len(shapes), 2000):
        await sim.post(session, "/_bench/shape", shapes[start : start + 2000])
    # first polls spread over one interval, as if each task had been polled in the last one
    now = time.time()
    tasks = await store.in_states({TaskState.QUEUED, TaskState.RUNNING})
    await store.update_many(
        [t.evolve(next_poll_at=now + rng.random() * config.poll_interval) for t in tasks]
    )


async def poller(service: VideoJobsService, max_sleep: float, stop: asyncio.Event) -> None:
    """cogs/poller.py without Discord: a pass, then sleep until due or woken by a callback."""
    while not stop.is_set():
        try:
            await service.run_pass()
        except Exception:
            log.exception("polling pass failed")
            await asyncio.sleep(ERROR_PAUSE)
            continue
        wake = await service.next_wakeup()
        delay = max_sleep if wake is None else wake - time.time()
        delay = min(max(delay, MIN_SLEEP), max_sleep)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.poll_requested.wait(), timeout=delay)
        service.poll_requested.clear()


def refresh_report(service: VideoJobsService, info: dict[str, Any]) -> dict[str, Any] | None:
    """What the schedule learnt of the relay's tick, next to the truth (in wall-clock phase)."""
    clock = getattr(service.schedule, "refresh", None)
    if clock is None:
        return None
    now = time.time()
    tick = info["tick"]
    true_phase = (info["origin"] + (now - time.monotonic())) % tick
    estimate = clock.estimate(now)
    return {
        "true_phase": true_phase,
        "learnt_phase": None if estimate is None else estimate.phase,
        "learnt_uncertainty": None if estimate is None else estimate.uncertainty,
        "late_by": None if estimate is None else (estimate.phase - true_phase) % tick,
        "windows": clock.evidence(now),
    }


async def run(spec: RunSpec) -> dict[str, Any]:
    f = spec.time_factor
    sim = SimProcess(
        [
            "--time-factor",
            str(f),
            "--queued-seconds",
            str(QUEUED),
            "--duration-range",
            str(RUNNING[0]),
            str(RUNNING[1]),
            "--update-interval",
            str(RELAY_TICK),
            "--seed",
            str(spec.seed),
            "--callback-loss",
            str(spec.callback_loss if spec.callbacks else 0.0),
        ]
    )
    await sim.start()
    workdir = tempfile.TemporaryDirectory(prefix="bench-polling-")
    stop = asyncio.Event()
    callbacks = None
    loop: asyncio.Task[None] | None = None
    store = await MeteredStore.open(Path(workdir.name) / "bot.sqlite3")
    try:
        async with aiohttp.ClientSession() as session:
            client = GatewayClient(session, base_url=sim.base_url, api_key=API_KEY)
            gateway = MeteredGateway(client, store)
            notifier = BenchNotifier()
            callback_url = None
            if spec.callbacks:
                port = free_port()
                callback_url = f"http://127.0.0.1:{port}/kling/callback"
            config = service_config(spec, callback_url)
            service = VideoJobsService(Lifecycle(store, gateway, notifier, config))  # type: ignore[arg-type]
            if spec.schedule == "naive":
                service.schedule = naive_schedule(config, store)
            notifier.service = service
            notifier.arrival_spread = RELAY_TICK * f
            if spec.callbacks:
                assert callback_url is not None
                callbacks = await start_callback_server(
                    ("127.0.0.1", port),
                    callback_url,
                    service.verify_callback,
                    service.receive_callback,
                )

            began = time.monotonic()
            await populate(spec, sim, session, client, store, config, service)
            setup_seconds = time.monotonic() - began
            loop = asyncio.create_task(poller(service, config.poll_interval, stop))

            await asyncio.sleep(spec.warmup * f)
            counts0 = await sim.get(session, "/_bench/counts")
            cpu0, sim_cpu0, t0 = cpu_seconds(), sim.cpu_seconds(), time.monotonic()
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            gateway.recording = True
            tracked: list[int] = []

            async def count_tracked() -> None:
                while True:
                    tracked.append(await store.count_unfinished(None))
                    await asyncio.sleep(5 * f)

            counter = asyncio.create_task(count_tracked())
            await asyncio.sleep(spec.measure * f)
            counter.cancel()
            cpu1, sim_cpu1, t1 = cpu_seconds(), sim.cpu_seconds(), time.monotonic()
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            gateway.recording = False
            counts1 = await sim.get(session, "/_bench/counts")
            learnt = refresh_report(service, await sim.get(session, "/_bench/info"))

            # let what became visible in the window be delivered (not counted in CPU)
            truth = await sim.get(session, "/_bench/tasks")
            expected = {
                gid
                for gid, t in truth.items()
                if t["visible"] is not None and t0 <= t["visible"] < t1
            }
            grace = (2 * RELAY_TICK + 6 * POLL_INTERVAL + 30) * f
            if spec.callbacks:  # a lost callback is found by the slow safety net
                grace += (QUEUED + RUNNING[1]) * f
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(notifier.wait_for(expected), timeout=grace)
            notifier.replace = False
            stop.set()
            service.poll_requested.set()
            await loop
            await service.drain(5.0)
    finally:
        stop.set()
        if loop is not None and not loop.done():
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        await store.close()
        if callbacks is not None:
            await callbacks.cleanup()
        await sim.stop()
        workdir.cleanup()

    delays = [
        (notifier.delivered[gid] - truth[gid]["visible"]) / f
        for gid in expected
        if gid in notifier.delivered
    ]
    missing = len(expected) - len(delays)
    finished = len(expected)

    def delta(route: str) -> int:
        return int(counts1.get(route, 0)) - int(counts0.get(route, 0))

    fetches, creates = delta(FETCH_ROUTE), delta(CREATE_ROUTE)
    window = t1 - t0
    cpu = cpu1 - cpu0
    lags = [lag / f for lag in gateway.lags]
    return {
        "spec": dataclasses.asdict(spec),
        "setup_seconds": setup_seconds,
        "window_real_seconds": window,
        "window_unscaled_seconds": window / f,
        "finished": finished,
        "tracked_mean": sum(tracked) / len(tracked) if tracked else None,
        "delivered_late_or_missing": missing,
        "fetches": fetches,
        "creates": creates,
        "other_requests": sum(int(v) for v in counts1.values())
        - sum(int(v) for v in counts0.values())
        - fetches
        - creates,
        "fetches_per_task": fetches / finished if finished else None,
        "requests_per_task": (fetches + creates) / finished if finished else None,
        "delay_p50": percentile(delays, 50),
        "delay_p95": percentile(delays, 95),
        "delay_max": max(delays) if delays else None,
        "lag_p95": percentile(lags, 95),
        "lag_max": max(lags) if lags else None,
        "polls_measured": len(lags),
        "cpu_seconds": cpu,
        "cpu_user_seconds": usage1.ru_utime - usage0.ru_utime,
        "cpu_system_seconds": usage1.ru_stime - usage0.ru_stime,
        "cpu_ms_per_task": 1000 * cpu / finished if finished else None,
        "cpu_share_of_core": cpu * f / window,
        "sim_cpu_share_of_core": (sim_cpu1 - sim_cpu0) * f / window
        if sim_cpu0 is not None and sim_cpu1 is not None
        else None,
        "bot_cpu_share_real_time": cpu / window,
        "peak_rss_mb": peak_rss_mb(),
        "refresh": learnt,
        "delay_samples": sorted(round(d, 3) for d in delays),
        "progress_updates": notifier.progress_updates,
        "replace_errors": notifier.replace_errors,
    }


# --- the matrix, in child processes -----------------------------------------------------------


def default_factor(tasks: int, callbacks: bool) -> float:
    """Compress time only as far as the machine keeps up: 10,000 tasks run at real speed,
    1,000 at 10x. Callback runs always run at real speed: their delays are a few hundred ms
    of processing, which compression would magnify (unscaled = real / F)."""
    if callbacks:
        return 1.0
    return min(1.0, max(0.05, tasks / 10_000))


def default_measure(factor: float) -> float:
    """Unscaled seconds of measurement: 10 minutes of task life, or 2.5 minutes of wall time."""
    return min(600.0, 150.0 / factor)


async def run_child(spec: RunSpec) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.polling",
        "--child",
        json.dumps(dataclasses.asdict(spec)),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    budget = (spec.warmup + spec.measure + 200) * spec.time_factor + 300
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=budget)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"run {spec.label} took over {budget:.0f} s; killed") from None
    if process.returncode != 0:
        raise RuntimeError(f"run {spec.label} failed (exit {process.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1])


def goals(result: dict[str, Any], naive: dict[str, Any] | None) -> dict[str, bool | None]:
    spec = result["spec"]
    p95 = result["delay_p95"]
    out: dict[str, bool | None] = {}
    if p95 is None:
        out["delay"] = None
    elif spec["callbacks"] and spec.get("callback_loss"):  # lost ones wait for the safety net
        out["delay"] = result["delivered_late_or_missing"] == 0
    elif spec["callbacks"]:
        out["delay"] = p95 < CALLBACK_DELAY_GOAL and result["delivered_late_or_missing"] == 0
    else:
        out["delay"] = p95 <= POLL_INTERVAL + 2.0 and result["delivered_late_or_missing"] == 0
    if spec["callbacks"] and result["requests_per_task"] is not None:
        out["requests"] = result["requests_per_task"] <= CALLBACK_REQUESTS_GOAL
    elif naive is None or naive is result or not naive.get("requests_per_task"):
        out["requests"] = None
    else:
        out["requests"] = result["requests_per_task"] <= naive["requests_per_task"] / 2
    if spec["tasks"] >= 10_000:
        out["cpu"] = result["cpu_share_of_core"] < 0.25
        out["rss"] = result["peak_rss_mb"] < 250
    else:
        out["cpu"] = out["rss"] = None
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    headers = [
        "run",
        "F",
        "tracked",
        "done",
        "req/task",
        "fetch/task",
        "delay p50",
        "p95",
        "max",
        "missed",
        "lag p95",
        "lag max",
        "cpu ms/task",
        "core %",
        "sim core %",
        "rss MB",
        "goal delay",
        "goal requests",
        "goal cpu",
        "goal rss",
    ]
    rows = []
    for r in results:
        s, g = r["spec"], r["goals"]
        lost = s.get("callback_loss") if s["callbacks"] else 0
        label = f"{s['schedule']}{'+cb' if s['callbacks'] else ''}"
        label += f" {lost:.0%} lost" if lost else ""
        label += f" {s['tasks']:,}"
        rows.append(
            [
                label,
                s["time_factor"],
                round(r["tracked_mean"]) if r.get("tracked_mean") else None,
                r["finished"],
                r["requests_per_task"],
                r["fetches_per_task"],
                r["delay_p50"],
                r["delay_p95"],
                r["delay_max"],
                r["delivered_late_or_missing"],
                r["lag_p95"],
                r["lag_max"],
                r["cpu_ms_per_task"],
                100 * r["cpu_share_of_core"],
                100 * r["sim_cpu_share_of_core"]
                if r["sim_cpu_share_of_core"] is not None
                else None,
                r["peak_rss_mb"],
                g["delay"],
                g["requests"],
                g["cpu"],
                g["rss"],
            ]
        )
    print(table(headers, rows))
    print(
        "times in unscaled seconds; delay = relay tick that made the result visible -> delivery;"
        " core % = bot CPU at real speed (CPU x F / wall); goals: delay p95 <= "
        f"{POLL_INTERVAL + 2:g} s (callbacks: < {CALLBACK_DELAY_GOAL:g} s; with callbacks lost:"
        " none missing), requests <= half of naive (callbacks: <= "
        f"{CALLBACK_REQUESTS_GOAL:g} per task), "
        "10k: < 25% core and < 250 MB"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.polling",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]) if __doc__ else None,
    )
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--schedule", choices=("naive", "adaptive", "both"), default="both")
    parser.add_argument("--callbacks", action="store_true", help="with a callback server")
    parser.add_argument("--all", action="store_true", help="with and without callbacks")
    parser.add_argument(
        "--time-factor", type=float, default=None, help="default: N/10,000 (callbacks: 1)"
    )
    parser.add_argument("--warmup", type=float, default=60.0, help="unscaled seconds")
    parser.add_argument("--measure", type=float, default=None, help="unscaled seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--callback-loss",
        type=float,
        default=0.0,
        help="share of callbacks the simulator never sends (with --callbacks), e.g. 0.2",
    )
    parser.add_argument("--log-level", default="INFO", help="the bot's log level (to a file)")
    parser.add_argument("--output", default="polling", help="results file name")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        spec = RunSpec(**json.loads(args.child))
        handlers: list[logging.Handler] = [
            logging.FileHandler(spec.log_file) if spec.log_file else logging.NullHandler()
        ]
        logging.basicConfig(
            level=spec.log_level.upper(),
            handlers=handlers,
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        )
        result = asyncio.run(run(spec))
        print(json.dumps(result))
        return

    schedules = ["naive", "adaptive"] if args.schedule == "both" else [args.schedule]
    callback_modes = [False, True] if args.all else [args.callbacks]
    logs = REPO_ROOT / "bench" / "results" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for tasks in args.tasks:
        for callbacks in callback_modes:
            factor = args.time_factor or default_factor(tasks, callbacks)
            suffix = "-cb" if callbacks else ""
            if callbacks and args.callback_loss:
                suffix += f"-loss{args.callback_loss:g}"
            for schedule in schedules:
                spec = RunSpec(
                    tasks=tasks,
                    schedule=schedule,
                    callbacks=callbacks,
                    time_factor=factor,
                    warmup=args.warmup,
                    measure=args.measure or default_measure(factor),
                    seed=args.seed,
                    callback_loss=args.callback_loss,
                    log_level=args.log_level,
                    log_file=str(logs / f"polling-{schedule}{suffix}-{tasks}.log"),
                )
                print(f"running {spec.label} (F={factor:g}) ...", file=sys.stderr, flush=True)
                result = asyncio.run(run_child(spec))
                results.append(result)
                print(
                    f"  {spec.label}: {result['requests_per_task']:.2f} requests/task, "
                    f"delay p95 {result['delay_p95']:.2f} s, "
                    f"{100 * result['cpu_share_of_core']:.1f}% core, "
                    f"{result['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
                write_results(args.output, {"runs": results, "partial": True})
    for result in results:
        s = result["spec"]
        naive = next(
            (
                r
                for r in results
                if r["spec"]["schedule"] == "naive"
                and r["spec"]["tasks"] == s["tasks"]
                and r["spec"]["callbacks"] is False
            ),
            None,
        )
        result["goals"] = goals(result, naive)
    print_table(results)
    path = write_results(args.output, {"runs": results})
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

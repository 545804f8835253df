"""The estimate of the time left, replayed over a simulated history: how far is it off?

A day of tasks of four kinds (std/pro x 5/10 s) arrives at random; each takes a lognormal time
around a kind's typical one, scaled by a load that drifts over the day, with a few very slow
ones (the gateway's bad minutes). The replay runs in simulated time through the real
`Estimates` and `SqliteTaskStore` (a temporary file): a task finishing is written to the store
as COMPLETED, a task starting asks for the estimate its first answer shows, and a running task
asks again at every status edit (every 15 s of its run). Error = |estimate - what was really
left|, reported as median and p90, at the first answer and while running, for our estimator and
for two simpler ones (plain median minus elapsed; mean).

Examples:
  python -m bench.estimate
  python -m bench.estimate --tasks 5000 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import random
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentile, table, write_results
from storage.task_store import SqliteTaskStore
from tests.support.clock import FakeClock
from videojobs.estimates import MIN_SAMPLES, Estimates, time_left, typical
from videojobs.models import TaskState, VideoRequest, VideoTask, new_task_id
from videojobs.ports import AdmissionLimits

KINDS = {  # (mode, duration) -> typical seconds from creation to completion
    ("std", 5): 120.0,
    ("std", 10): 200.0,
    ("pro", 5): 210.0,
    ("pro", 10): 360.0,
}
DAY = 24 * 3600.0
EDIT_EVERY = 15.0


@dataclass(order=True)
class Event:
    at: float
    order: int
    kind: str = field(compare=False)  # "start" | "check" | "finish"
    task: VideoTask = field(compare=False)
    took: float = field(compare=False)


def load(t: float) -> float:
    """The service's speed over the day: 0.8x at night to 1.4x at the evening peak."""
    return 1.1 + 0.3 * math.sin(2 * math.pi * (t / DAY - 0.45))


def history(rng: random.Random, tasks: int, start: float) -> list[tuple[VideoTask, float]]:
    out = []
    t = start
    for _ in range(tasks):
        t += rng.expovariate(tasks / DAY)
        mode, duration = rng.choice(list(KINDS))
        took = KINDS[mode, duration] * load(t - start) * rng.lognormvariate(0, 0.25)
        if rng.random() < 0.04:
            took *= rng.uniform(2.5, 5)  # a bad minute at the gateway
        request = VideoRequest(prompt="bench", model="kling-v3", mode=mode, duration=duration)
        task = VideoTask(
            id=new_task_id(),
            requester_id=rng.randrange(1, 200),
            guild_id=1,
            channel_id=2,
            request=request,
            created_at=t,
            updated_at=t,
            deadline_at=t + 1800,
            next_poll_at=t,
        )
        out.append((task, took))
    return out


def simple_median(durations: list[float], elapsed: float) -> float:
    return max(0.0, statistics.median(durations) - elapsed)


def simple_mean(durations: list[float], elapsed: float) -> float:
    return max(0.0, statistics.fmean(durations) - elapsed)


async def replay(tasks: int, seed: int, window: int) -> dict[str, Any]:
    rng = random.Random(seed)
    clock = FakeClock()  # moved from event to event
    start = clock.t
    errors: dict[str, dict[str, list[float]]] = {
        name: {"first answer": [], "while running": []} for name in ("ours", "median", "mean")
    }
    oracle: list[float] = []  # knows the kind's true typical time at this moment (noise floor)
    relative: list[float] = []  # ours at the first answer, as a share of the real duration
    shown = {"first answer": 0, "while running": 0, "longer than usual": 0}
    asked = {"first answer": 0, "while running": 0}
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteTaskStore.open(Path(tmp) / "bench.sqlite3")
        estimates = Estimates(store, clock, window=window, cache_seconds=0)
        events: list[Event] = []
        order = 0
        for task, took in history(rng, tasks, clock.t):
            heapq.heappush(events, Event(task.created_at, order, "start", task, took))
            order += 1
        while events:
            event = heapq.heappop(events)
            clock.t = event.at
            task, took = event.task, event.took
            if event.kind == "finish":
                done = task.evolve(
                    state=TaskState.COMPLETED, finished_at=clock.t, updated_at=clock.t
                )
                assert await store.insert_within_limits(done, AdmissionLimits()) is None
                continue
            if event.kind == "start":
                heapq.heappush(events, Event(clock.t + took, order, "finish", task, took))
                order += 1
                if took > EDIT_EVERY:
                    heapq.heappush(events, Event(clock.t + EDIT_EVERY, order, "check", task, took))
                    order += 1
            phase = "first answer" if event.kind == "start" else "while running"
            elapsed = clock.t - task.created_at
            actual = took - elapsed
            state = TaskState.PENDING if event.kind == "start" else TaskState.RUNNING
            asked[phase] += 1
            estimate = await estimates.for_task(task.evolve(state=state))
            if event.kind == "check" and elapsed + EDIT_EVERY < took:
                heapq.heappush(events, Event(clock.t + EDIT_EVERY, order, "check", task, took))
                order += 1
            if estimate is None:
                continue
            durations = await estimates.durations(task.request)
            ours = estimate.typical if phase == "first answer" else estimate.left
            if ours is None:
                shown["longer than usual"] += 1
                continue
            shown[phase] += 1
            errors["ours"][phase].append(abs(ours - actual))
            if phase == "first answer":
                kind = (task.request.mode, task.request.duration)
                best = KINDS[kind] * load(task.created_at - start)
                oracle.append(abs(best - actual))
                relative.append(abs(ours - actual) / took)
            errors["median"][phase].append(abs(simple_median(durations, elapsed) - actual))
            errors["mean"][phase].append(abs(simple_mean(durations, elapsed) - actual))
        await store.close()
    return {
        "errors": errors,
        "shown": shown,
        "asked": asked,
        "oracle": oracle,
        "relative": relative,
    }


def figures(values: list[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "median": percentile(values, 50),
        "p90": percentile(values, 90),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=3000, help="tasks in the simulated day")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, nargs="+", default=[10, 30, 100])
    args = parser.parse_args()
    assert typical([1.0] * MIN_SAMPLES) == 1.0 and time_left([1.0], 2.0) is None
    results: dict[str, Any] = {"tasks": args.tasks, "seed": args.seed, "windows": {}}
    rows = []
    for window in args.window:
        run = asyncio.run(replay(args.tasks, args.seed, window))
        results["windows"][window] = {
            "shown": run["shown"],
            "asked": run["asked"],
            "error_seconds": {
                name: {phase: figures(v) for phase, v in by_phase.items()}
                for name, by_phase in run["errors"].items()
            },
        }
        for name, by_phase in run["errors"].items():
            for phase, values in by_phase.items():
                f = figures(values)
                rows.append([window, name, phase, f["count"], f["median"], f["p90"]])
        f = figures(run["oracle"])
        rows.append([window, "oracle", "first answer", f["count"], f["median"], f["p90"]])
        share = figures(run["relative"])
        results["windows"][window]["oracle_first_answer"] = f
        results["windows"][window]["ours_first_answer_relative"] = share
        print(
            f"window {window}: first answer off by {share['median']:.0%} of the real duration "
            f"(median), {share['p90']:.0%} (p90)"
        )
        print(
            f"window {window}: estimate shown in {run['shown']['first answer']} of "
            f"{run['asked']['first answer']} first answers, {run['shown']['while running']} of "
            f"{run['asked']['while running']} running edits ("
            f"{run['shown']['longer than usual']} said 'taking longer than usual')"
        )
    print(
        table(
            ["window", "estimator", "when", "n", "|error| median s", "|error| p90 s"],
            rows,
        )
    )
    path = write_results("estimate", results)
    print(f"written to {path}")


if __name__ == "__main__":
    main()

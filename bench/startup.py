"""Start-up with a backlog: 10,000 unfinished tasks (QUEUED/RUNNING, known to the gateway
simulator, all overdue for a poll, as after a long restart) in the database. A fresh process
then builds the service, recovers, and starts polling, as bot.py does.

Measured, from the moment the process was spawned: imports done, store open, service built,
`recover()` done, first poll sent, first poll answered, and every task polled once; plus the
most gateway requests in flight at any moment (counted around the gateway client; it must not
exceed ServiceConfig.poll_concurrency).

Examples:
  python -m bench.startup
  python -m bench.startup --tasks 20000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

T_SPAWNED = time.time()  # as early as this module can know (the parent also passes its own)

import aiohttp  # noqa: E402

from bench.common import (  # noqa: E402
    API_KEY,
    REPO_ROOT,
    SimProcess,
    cpu_seconds,
    peak_rss_mb,
    table,
    write_results,
)
from gateway.client import GatewayClient  # noqa: E402
from storage.task_store import SqliteTaskStore  # noqa: E402
from videojobs.lifecycle import Lifecycle, ServiceConfig, SystemClock  # noqa: E402
from videojobs.models import (  # noqa: E402
    GenerationRequest,
    TaskSnapshot,
    TaskState,
    VideoRequest,
    VideoTask,
    new_task_id,
)
from videojobs.policy import BotDefaults, Policies  # noqa: E402
from videojobs.ports import AdmissionLimits  # noqa: E402
from videojobs.service import VideoJobsService  # noqa: E402

REQUEST = VideoRequest(prompt="a hot air balloon over a canyon at dawn", model="kling-v3")
T_IMPORTED = time.time()


class CountingGateway:
    """The gateway client, counting requests in flight and noting the first poll."""

    def __init__(self, inner: GatewayClient) -> None:
        self.inner = inner
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_sent: float | None = None
        self.first_answered: float | None = None
        self.polled: set[str] = set()
        self.all_polled = asyncio.Event()
        self.expected = 0

    async def create(self, request: GenerationRequest) -> TaskSnapshot:
        return await self.inner.create(request)

    async def fetch(self, task_id: str, *, request: VideoRequest) -> TaskSnapshot:
        if self.first_sent is None:
            self.first_sent = time.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.inner.fetch(task_id, request=request)
        finally:
            self.in_flight -= 1
            if self.first_answered is None:
                self.first_answered = time.time()
            self.polled.add(task_id)
            if len(self.polled) >= self.expected:
                self.all_polled.set()


class NullNotifier:
    async def progress(self, task: VideoTask) -> None:
        return None

    async def find_delivery(self, task: VideoTask) -> int | None:
        return None

    async def deliver(self, task: VideoTask) -> int | None:
        return 1


async def prepare(db: Path, sim: SimProcess, tasks: int) -> None:
    """Create the tasks in the simulator and store them, every one overdue for a poll."""
    rng = random.Random(1)
    store = await SqliteTaskStore.open(db)
    limit = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(session, base_url=sim.base_url, api_key=API_KEY)

        async def one(n: int) -> None:
            task_id = new_task_id()
            generation = GenerationRequest.for_task(
                REQUEST, external_task_id=task_id, callback_url=None
            )
            async with limit:
                snapshot = await client.create(generation)
            now = time.time()
            task = VideoTask(
                id=task_id,
                requester_id=n + 1,
                guild_id=1,
                channel_id=2,
                request=REQUEST,
                created_at=now - 120,
                updated_at=now - 60,
                deadline_at=now + 1800,
                next_poll_at=now - rng.uniform(0, 300),
                state=rng.choice([TaskState.QUEUED, TaskState.RUNNING]),
                gateway_task_id=snapshot.task_id,
                attempts=1,
            )
            assert await store.insert_within_limits(task, AdmissionLimits()) is None

        await asyncio.gather(*(one(n) for n in range(tasks)))
    await store.close()


async def child(db: str, base_url: str, tasks: int, spawned: float) -> dict[str, Any]:
    """The bot's start-up path: store, client, service, recover, then the poller's loop."""
    marks: dict[str, float] = {"imports done": T_IMPORTED}
    store = await SqliteTaskStore.open(db)
    marks["store open"] = time.time()
    async with aiohttp.ClientSession() as session:
        gateway = CountingGateway(GatewayClient(session, base_url=base_url, api_key=API_KEY))
        gateway.expected = tasks
        config = ServiceConfig()
        rules = Policies(None, BotDefaults(max_active=0, max_daily=0), SystemClock())
        service = VideoJobsService(
            Lifecycle(store, gateway, NullNotifier(), config), policies=rules
        )
        marks["service built"] = time.time()
        report = await service.recover()
        marks["recover() done"] = time.time()

        async def loop() -> None:  # cogs/poller.py
            while True:
                await service.run_pass()
                wake = await service.next_wakeup()
                delay = config.poll_interval if wake is None else wake - time.time()
                delay = min(max(delay, 0.05), config.poll_interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(service.poll_requested.wait(), timeout=delay)
                service.poll_requested.clear()

        runner = asyncio.create_task(loop())
        try:
            await asyncio.wait_for(gateway.all_polled.wait(), timeout=300)
            marks["every task polled once"] = time.time()
        except TimeoutError:
            pass
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await service.drain(5)
    await store.close()
    if gateway.first_sent is not None and gateway.first_answered is not None:
        marks["first poll sent"] = gateway.first_sent
        marks["first poll answered"] = gateway.first_answered
    return {
        "tasks": tasks,
        "recovered_polling": report.polling,
        "marks_ms": {
            k: 1000 * (v - spawned) for k, v in sorted(marks.items(), key=lambda kv: kv[1])
        },
        "module_loaded_ms": 1000 * (T_SPAWNED - spawned),
        "max_in_flight": gateway.max_in_flight,
        "poll_concurrency": config.poll_concurrency,
        "polled": len(gateway.polled),
        "cpu_seconds": cpu_seconds(),
        "peak_rss_mb": peak_rss_mb(),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sim = SimProcess(["--running-seconds", "3600", "--update-interval", "15"])
    await sim.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            db = Path(tmp) / "bot.sqlite3"
            began = time.time()
            await prepare(db, sim, args.tasks)
            print(f"prepared {args.tasks:,} tasks in {time.time() - began:.1f} s", file=sys.stderr)
            sim_cpu0 = sim.cpu_seconds()
            spawned = time.time()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.startup",
                "--child",
                json.dumps(
                    {
                        "db": str(db),
                        "base_url": sim.base_url,
                        "tasks": args.tasks,
                        "spawned": spawned,
                    }
                ),
                cwd=REPO_ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"the start-up process failed (exit {process.returncode})")
            result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
            sim_cpu1 = sim.cpu_seconds()
            if sim_cpu0 is not None and sim_cpu1 is not None:
                result["sim_cpu_seconds"] = sim_cpu1 - sim_cpu0
    finally:
        await sim.stop()
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(asyncio.run(child(**spec))))
        return
    result = asyncio.run(main_async(args))
    rows: list[list[Any]] = [[name, ms] for name, ms in result["marks_ms"].items()]
    print(table(["since the process was spawned", "ms"], rows))
    ok = result["max_in_flight"] <= result["poll_concurrency"]
    print(
        table(
            [
                "tasks",
                "polled once",
                "max in flight",
                "poll_concurrency",
                "within",
                "cpu s",
                "rss MB",
            ],
            [
                [
                    result["tasks"],
                    result["polled"],
                    result["max_in_flight"],
                    result["poll_concurrency"],
                    ok,
                    result["cpu_seconds"],
                    result["peak_rss_mb"],
                ]
            ],
        )
    )
    path = write_results("startup", result)
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

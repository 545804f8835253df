"""Several processes on one PostgreSQL beside one process on SQLite, in the same run.

What runs: the gateway simulator in a subprocess (tasks of 60-300 s, the relay's 15 s tick, all
run F times faster than real), and for each configuration fresh worker processes
(`python -m bench.multiprocess --worker ...`), each with the real service, store and gateway
client over HTTP and a loop equal to cogs/poller.py (no Discord: deliveries are timestamped):
- `sqlite x1`: one process on a SQLite file admits and sends all N tasks;
- `postgres x2`: two processes on one PostgreSQL (started here, as in the tests) admit N/2
  each; either may poll and deliver any task (leases);
- `takeover`: two processes on PostgreSQL, one SIGKILLed once its tasks are running: the time
  until the other holds every task the dead one held.

Figures (times UNSCALED, i.e. multiplied back by F): gateway requests per task, delay from the
relay tick that made a result visible to its delivery (p50/p95), CPU per task per process,
admits per second (all processes together), takeover time (goal: lease + one poll interval).

  python -m bench.multiprocess                  # 2,000 tasks, F = 20
  python -m bench.multiprocess --tasks 10000    # the issue's size (slow on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    API_KEY,
    REPO_ROOT,
    SimProcess,
    percentile,
    table,
    write_results,
)
from tests.support.waiting import wait_until

POLL_INTERVAL = 10.0
LEASE = 30.0  # bot.py: max(30, 3 x poll interval)
RELAY_TICK = 15.0
QUEUED = 10.0
RUNNING = (50.0, 290.0)
TASK_TIMEOUT = 30 * 60.0
ADMIT_CONCURRENCY = 32


# --- the worker process -------------------------------------------------------------------------


class Recorder:
    """A notifier that timestamps deliveries (time.monotonic: the simulator's clock too)."""

    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}

    async def progress(self, task: Any) -> None:
        return None

    async def find_delivery(self, task: Any) -> int | None:
        return None

    async def deliver(self, task: Any) -> int | None:
        self.delivered[task.gateway_task_id or task.id] = time.monotonic()
        return 1


async def worker(args: argparse.Namespace) -> None:
    from gateway.client import GatewayClient
    from storage import PostgresTaskStore, SqliteTaskStore
    from videojobs.identity import process_id
    from videojobs.lifecycle import Lifecycle, ServiceConfig, SystemClock
    from videojobs.models import Requester, VideoRequest
    from videojobs.policy import BotDefaults, Policies
    from videojobs.service import VideoJobsService

    f = args.factor
    lease = LEASE / f
    store: Any
    if args.store.startswith("postgresql://"):
        store = await PostgresTaskStore.open(args.store, lease_seconds=lease)
    else:
        store = await SqliteTaskStore.open(args.store, exclusive=True, lease_seconds=lease)
    recorder = Recorder()
    clock = SystemClock()
    config = ServiceConfig(
        poll_interval=POLL_INTERVAL / f,
        task_timeout=TASK_TIMEOUT / f,
        relay_refresh=RELAY_TICK / f,
        first_poll_after=60.0 / f,
        progress_min_interval=1e9,
        lease_seconds=lease,
    )
    async with aiohttp.ClientSession() as session:
        gateway = GatewayClient(session, base_url=args.base, api_key=API_KEY)
        policies = Policies(None, BotDefaults(max_active=0, max_daily=0), clock)
        service = VideoJobsService(
            Lifecycle(store, gateway, recorder, config, clock), policies=policies
        )
        await service.recover()
        slots = asyncio.Semaphore(ADMIT_CONCURRENCY)

        async def admit(n: int) -> None:
            async with slots:
                requester = Requester(user_id=args.seed * 10**6 + n, guild_id=1, channel_id=2)
                task = await service.admit(
                    VideoRequest(prompt=f"p{n}", model="kling-v3"), requester
                )
                service.send_in_background(task.id)

        started = time.monotonic()
        cpu0 = time.process_time()
        await asyncio.gather(*(admit(n) for n in range(args.tasks)))
        admit_seconds = time.monotonic() - started
        print(f"ADMITTED {process_id()} {admit_seconds:.3f}", flush=True)
        while True:
            await service.run_pass()
            if await store.count_unfinished(None) == 0 and not await store.undelivered():
                break
            wake = await service.next_wakeup()
            delay = POLL_INTERVAL / f if wake is None else wake - time.time()
            delay = min(max(delay, 0.01), POLL_INTERVAL / f)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.poll_requested.wait(), timeout=delay)
            service.poll_requested.clear()
        await service.drain(5)
        cpu = time.process_time() - cpu0
        await store.close()
    await asyncio.to_thread(
        Path(args.out).write_text,
        json.dumps(
            {
                "owner": process_id(),
                "admitted": args.tasks,
                "admit_seconds": admit_seconds,
                "cpu": cpu,
                "delivered": recorder.delivered,
            }
        ),
    )
    print("DONE", flush=True)


# --- the parent -----------------------------------------------------------------------------------


async def start_worker(
    base: str, store: str, tasks: int, factor: float, out: Path, seed: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.multiprocess", "--worker", "--base", base, "--store", store,
        "--tasks", str(tasks), "--factor", str(factor), "--out", str(out), "--seed", str(seed),
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def read_line(proc: asyncio.subprocess.Process, prefix: str) -> list[str]:
    assert proc.stdout is not None
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise RuntimeError(f"a worker ended before printing {prefix}")
        if line.startswith(prefix):
            return line.split()


async def run_config(
    name: str, sim: SimProcess, stores: list[str], tasks: int, f: float, work: Path
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        before = await sim.get(session, "/_bench/counts")
        outs = [work / f"{name}-{i}.json" for i in range(len(stores))]
        share = tasks // len(stores)
        started = time.monotonic()
        procs = [
            await start_worker(sim.base_url, store, share, f, out, seed=i + 1)
            for i, (store, out) in enumerate(zip(stores, outs, strict=True))
        ]
        admitted = [await read_line(p, "ADMITTED") for p in procs]
        admit_wall = time.monotonic() - started
        for proc in procs:
            await read_line(proc, "DONE")
            await proc.wait()
        after = await sim.get(session, "/_bench/counts")
        visible = await sim.get(session, "/_bench/tasks")
    results = [json.loads(out.read_text()) for out in outs]
    delivered: dict[str, float] = {}
    for result in results:
        for gateway_id, at in result["delivered"].items():
            if gateway_id in delivered:
                raise AssertionError(f"task {gateway_id} delivered twice")
            delivered[gateway_id] = at
    requests = sum(after.values()) - sum(before.values())
    delays = [
        (at - visible[g]["visible"]) * f
        for g, at in delivered.items()
        if g in visible and visible[g]["visible"] is not None
    ]
    return {
        "config": name,
        "processes": len(stores),
        "tasks": share * len(stores),
        "delivered": len(delivered),
        "gateway_requests_per_task": requests / max(1, len(delivered)),
        "delay_p50_s": percentile(delays, 50),
        "delay_p95_s": percentile(delays, 95),
        "cpu_ms_per_task_per_process": [1000 * r["cpu"] / max(1, r["admitted"]) for r in results],
        "admits_per_second": share * len(stores) / max(float(a[2]) for a in admitted),
        "admit_wall_s_incl_start": admit_wall,
    }


async def takeover(sim: SimProcess, dsn: str, tasks: int, f: float, work: Path) -> dict[str, Any]:
    import asyncpg

    procs = [
        await start_worker(sim.base_url, dsn, tasks, f, work / f"takeover-{i}.json", seed=10 + i)
        for i in range(2)
    ]
    owners = [(await read_line(p, "ADMITTED"))[1] for p in procs]
    conn = await asyncpg.connect(dsn)
    try:
        held = (
            "SELECT count(*) FROM tasks WHERE lease_owner = $1 AND state IN ('queued', 'running')"
        )

        async def holds(owner: str, at_least: int) -> bool:
            return bool(await conn.fetchval(held, owner) >= at_least)

        async def holds_none(owner: str) -> bool:
            return bool(await conn.fetchval(held, owner) == 0)

        await wait_until(
            lambda: holds(owners[0], tasks // 2), 600, what="the first worker to hold half"
        )
        victim_holds = await conn.fetchval(held, owners[0])
        procs[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await procs[0].wait()
        await wait_until(lambda: holds_none(owners[0]), 600, what="the takeover", interval=0.02)
        taken_over = time.monotonic() - killed
    finally:
        await conn.close()
    await read_line(procs[1], "DONE")
    await procs[1].wait()
    return {
        "tasks_held_by_the_killed_process": victim_holds,
        "takeover_s": taken_over * f,
        "goal_s": LEASE + POLL_INTERVAL,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.pg_server import start_server

    f = args.time_factor
    sim = SimProcess(
        [
            "--time-factor", str(1 / f), "--queued-seconds", str(QUEUED),
            "--duration-range", str(RUNNING[0]), str(RUNNING[1]),
            "--update-interval", str(RELAY_TICK), "--seed", "7",
        ]
    )  # fmt: skip
    await sim.start()
    server = start_server()
    work = Path(tempfile.mkdtemp(prefix="bench-multiprocess-"))
    try:
        rows = [
            await run_config("sqlite x1", sim, [str(work / "bot.sqlite3")], args.tasks, f, work)
        ]
        dsn = await server.create_database()
        rows.append(await run_config("postgres x2", sim, [dsn, dsn], args.tasks, f, work))
        over = await takeover(sim, await server.create_database(), args.takeover_tasks, f, work)
    finally:
        server.stop()
        await sim.stop()
    return {"time_factor": f, "configs": rows, "takeover": over}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base")
    parser.add_argument("--store")
    parser.add_argument("--out")
    parser.add_argument("--factor", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--takeover-tasks", type=int, default=200)
    parser.add_argument("--time-factor", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.worker:
        random.seed(args.seed)
        asyncio.run(worker(args))
        return
    result = asyncio.run(main_async(args))
    rows = [
        [
            r["config"], r["tasks"], r["delivered"], r["gateway_requests_per_task"],
            r["delay_p50_s"], r["delay_p95_s"],
            "/".join(f"{c:.2f}" for c in r["cpu_ms_per_task_per_process"]),
            r["admits_per_second"],
        ]
        for r in result["configs"]
    ]  # fmt: skip
    print(
        table(
            ["config", "tasks", "delivered", "req/task", "delay p50 s", "delay p95 s",
             "CPU ms/task/proc", "admits/s"],
            rows,
        )
    )  # fmt: skip
    over = result["takeover"]
    print(
        f"takeover after SIGKILL: {over['takeover_s']:.1f} s (unscaled) for "
        f"{over['tasks_held_by_the_killed_process']} tasks; goal <= {over['goal_s']:.0f} s"
    )
    print(f"results: {write_results('multiprocess', result)}")


if __name__ == "__main__":
    main()

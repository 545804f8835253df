"""What one policy per server costs a /video: reading the server's policy (`Policies.for_guild`,
one indexed read of `guild_settings`, done twice per /video: for the defaults and at admission)
and the admission insert with and without a daily credit budget (the budget adds a sum over the
server's tasks of the day, inside the same write transaction), on a temporary SQLite file with a
busy server's day of tasks already stored.

Examples:
  python -m bench.policy
  python -m bench.policy --today 20000 --ops 5000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import table, write_results
from bench.store import measure
from storage.task_store import SqliteTaskStore
from videojobs.credits import day_start
from videojobs.lifecycle import SystemClock
from videojobs.models import TaskState, VideoRequest, VideoTask, new_task_id
from videojobs.policy import BotDefaults, Policies
from videojobs.ports import AdmissionLimits

GUILD = 1
REQUEST = VideoRequest(prompt="a lantern festival over a river", model="kling-v3")


def make_task(rng: random.Random, now: float, **changes: Any) -> VideoTask:
    fields: dict[str, Any] = {
        "id": new_task_id(),
        "requester_id": rng.randrange(1, 1_000_000),
        "guild_id": GUILD,
        "channel_id": 2,
        "request": REQUEST,
        "created_at": now - rng.uniform(0, 3000),
        "updated_at": now,
        "deadline_at": now + 1800,
        "next_poll_at": now,
        "state": rng.choice([TaskState.COMPLETED, TaskState.FAILED, TaskState.RUNNING]),
        "cost": rng.choice([1.0, 2.0, 4.0]),
    }
    fields.update(changes)
    return VideoTask(**fields)


async def run(today: int, ops: int) -> list[dict[str, Any]]:
    rng = random.Random(5)
    now = day_start(time.time()) + 3600 * 12
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteTaskStore.open(Path(tmp) / "bench.sqlite3")
        try:
            for _ in range(today):
                await store.insert_within_limits(make_task(rng, now), AdmissionLimits())
            policies = Policies(store, BotDefaults(), SystemClock())
            await policies.change(
                GUILD, {"mode": "pro", "daily_per_member": 50, "daily_server_credits": 1e6}, by=9
            )
            start = day_start(now)

            async def reads() -> None:
                for _ in range(ops):
                    await policies.for_guild(GUILD)

            async def admits(budget: float) -> None:
                for _ in range(ops):
                    task = make_task(rng, now, created_at=now, state=TaskState.PENDING)
                    await store.insert_within_limits(
                        task,
                        AdmissionLimits(
                            max_active=2, max_daily=20, day_start=start, server_budget=budget
                        ),
                    )

            async def burst(budget: float) -> None:
                tasks = [
                    make_task(rng, now, created_at=now, state=TaskState.PENDING) for _ in range(ops)
                ]
                await asyncio.gather(
                    *(
                        store.insert_within_limits(
                            t,
                            AdmissionLimits(
                                max_active=2, max_daily=20, day_start=start, server_budget=budget
                            ),
                        )
                        for t in tasks
                    )
                )

            return [
                await measure("policy read (for_guild)", ops, reads),
                await measure("admit, no budget", ops, lambda: admits(0.0)),
                await measure("admit, with budget", ops, lambda: admits(1e9)),
                await measure("admit burst, with budget", ops, lambda: burst(1e9)),
            ]
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=int, default=20_000, help="the server's tasks today")
    parser.add_argument("--ops", type=int, default=3_000)
    args = parser.parse_args()
    results = asyncio.run(run(args.today, args.ops))
    print(f"{args.today} tasks of the server already today; {args.ops} operations each")
    print(
        table(
            ["operation", "per second", "µs per op", "CPU µs per op"],
            [[r["name"], r["per_second"], r["us_per_op"], r["cpu_us_per_op"]] for r in results],
        )
    )
    path = write_results("policy", {"today": args.today, "ops": args.ops, "results": results})
    print(f"written to {path}")


if __name__ == "__main__":
    main()

"""SqliteTaskStore throughput on a temporary file: submissions (`insert_within_limits`), state
updates (`update` with compare-and-set, one by one and from concurrent coroutines) and batched
updates (`update_many`), plus the poller's read (`due_for_poll`), with a table of existing rows.

Examples:
  python -m bench.store
  python -m bench.store --rows 100000 --ops 20000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, cpu_seconds, table, write_results
from storage.task_store import SqliteTaskStore
from videojobs.models import POLLED_STATES, TaskState, VideoRequest, VideoTask, new_task_id
from videojobs.ports import AdmissionLimits

REQUEST = VideoRequest(prompt="a paper boat drifting down a rainy street", model="kling-v3")


def make_task(rng: random.Random, now: float, state: TaskState = TaskState.RUNNING) -> VideoTask:
    return VideoTask(
        id=new_task_id(),
        requester_id=rng.randrange(1, 5000),
        guild_id=1,
        channel_id=2,
        request=REQUEST,
        created_at=now - rng.uniform(0, 3600),
        updated_at=now,
        deadline_at=now + 1800,
        next_poll_at=now + rng.uniform(0, 60),
        state=state,
        gateway_task_id="task_" + new_task_id(),
        attempts=1,
    )


async def measure(
    name: str, ops: int, body: Callable[[], Awaitable[Any]], unit: str = "op"
) -> dict[str, Any]:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await body()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {
        "name": name,
        "ops": ops,
        "unit": unit,
        "seconds": wall,
        "per_second": ops / wall,
        "us_per_op": 1e6 * wall / ops,
        "cpu_us_per_op": 1e6 * cpu / ops,
    }


async def run(rows: int, ops: int, concurrency: int, batch: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        store = await SqliteTaskStore.open(Path(tmp) / "bot.sqlite3")
        try:
            now = time.time()
            existing = [make_task(rng, now, rng.choice(list(TaskState))) for _ in range(rows)]
            for task in existing:
                await store.insert_within_limits(task, AdmissionLimits())

            # new members, so that no submission is refused by the limits it checks
            fresh = [
                make_task(rng, now, TaskState.PENDING).evolve(requester_id=10_000 + n)
                for n in range(ops)
            ]

            async def inserts() -> None:
                for task in fresh[: ops // 2]:
                    await store.insert_within_limits(
                        task, AdmissionLimits(max_active=2, max_daily=20, day_start=now - 86400)
                    )

            async def concurrent_inserts() -> None:
                tasks = iter(fresh[ops // 2 :])

                async def worker() -> None:
                    for task in tasks:
                        await store.insert_within_limits(
                            task, AdmissionLimits(max_active=2, max_daily=20, day_start=now - 86400)
                        )

                await asyncio.gather(*(worker() for _ in range(concurrency)))

            results.append(await measure("insert_within_limits", ops // 2, inserts))
            results.append(
                await measure(
                    f"insert_within_limits x{concurrency} coroutines",
                    ops - ops // 2,
                    concurrent_inserts,
                )
            )

            polled = await store.in_states(POLLED_STATES)
            sample = [rng.choice(polled) for _ in range(ops)]

            async def updates() -> None:
                for task in sample:
                    await store.update(
                        task.evolve(next_poll_at=now + 30, updated_at=now),
                        expect_states=POLLED_STATES,
                    )

            async def concurrent_updates() -> None:
                items = iter(sample)

                async def worker() -> None:
                    for task in items:
                        await store.update(
                            task.evolve(next_poll_at=now + 30, updated_at=now),
                            expect_states=POLLED_STATES,
                        )

                await asyncio.gather(*(worker() for _ in range(concurrency)))

            async def batched() -> None:
                for start in range(0, len(sample), batch):
                    chunk = [
                        t.evolve(next_poll_at=now + 30, updated_at=now)
                        for t in sample[start : start + batch]
                    ]
                    await store.update_many(chunk, expect_states=POLLED_STATES)

            results.append(await measure("update (CAS)", ops, updates))
            results.append(
                await measure(f"update (CAS) x{concurrency} coroutines", ops, concurrent_updates)
            )
            results.append(
                await measure(f"update_many (CAS), batches of {batch}", ops, batched, "row")
            )

            async def reads() -> None:
                for _ in range(20):
                    await store.due_for_poll(now + 3600, 1000)

            results.append(await measure("due_for_poll, 1000 rows", 20 * 1000, reads, "row"))
        finally:
            await store.close()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=10_000, help="existing rows (mixed states)")
    parser.add_argument("--ops", type=int, default=5_000, help="operations per measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1000, help="rows per update_many")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.rows, args.ops, args.concurrency, args.batch))
    print(
        table(
            ["operation", "ops", "per second", "wall us/op", "cpu us/op"],
            [
                [r["name"], r["ops"], r["per_second"], r["us_per_op"], r["cpu_us_per_op"]]
                for r in results
            ],
        )
    )
    print(f"({args.rows:,} existing rows; SQLite WAL, synchronous=NORMAL, on a temporary file)")
    path = write_results("store", {"args": vars(args), "results": results})
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

"""The gateway simulator as the benchmarks run it: `python -m gateway.simulator`'s options, plus a
few routes that only the benchmarks use:

- `GET /_bench/counts`: requests per route so far (the simulator's own counters);
- `POST /_bench/shape` `[{"id", "running", "age"}]`: give existing tasks a running time and an
  age (unscaled seconds), to start a benchmark with tasks of every age, as in a steady state;
- `GET /_bench/tasks`: per task, on the simulator's clock (time.monotonic, which all processes
  of the machine share): when it was created, when it really finished, and when the relay made
  the finished state visible (the first relay tick at or after the finish).

It prints `READY <base url>` once it listens.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.simulator import GatewaySimulator, Outcome
from gateway.simulator.cli import parse_args, serve


def add_bench_routes(sim: GatewaySimulator) -> None:
    """Routes on the simulator's own app (before it starts: the router freezes then)."""

    def factor() -> float:
        return sim.config.time_factor

    async def counts(request: web.Request) -> web.Response:
        return web.json_response(sim.request_counts)

    async def shape(request: web.Request) -> web.Response:
        changed = 0
        for item in await request.json():
            task = sim.task(item["id"])
            if task is None:
                continue
            if item.get("running") is not None:
                task.running_for = float(item["running"]) * factor()
            task.created -= float(item.get("age", 0.0)) * factor()
            changed += 1
        return web.json_response({"changed": changed})

    async def tasks(request: web.Request) -> web.Response:
        tick = sim.config.tick
        origin = sim.book.origin  # the relay's tick grid starts there
        out: dict[str, Any] = {}
        for task in sim.tasks:
            task_id = task.id
            finishes = task.finishes
            visible: float | None = finishes
            if task.outcome is Outcome.STUCK:
                visible = None
            elif tick > 0:
                visible = origin + max(0, math.ceil((finishes - origin) / tick)) * tick
                visible = max(visible, task.created)
            out[task_id] = {
                "external": task.external_task_id,
                "created": task.created,
                "finishes": finishes,
                "visible": visible,
            }
        return web.json_response(out)

    async def info(request: web.Request) -> web.Response:
        """The relay's tick grid: origin (monotonic) and period (scaled seconds)."""
        return web.json_response({"origin": sim.book.origin, "tick": sim.config.tick})

    sim.app.router.add_get("/_bench/info", info)
    sim.app.router.add_get("/_bench/counts", counts)
    sim.app.router.add_post("/_bench/shape", shape)
    sim.app.router.add_get("/_bench/tasks", tasks)


def main(argv: Sequence[str] | None = None) -> None:
    import logging

    args, config = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    sim = GatewaySimulator(config)
    add_bench_routes(sim)
    asyncio.run(serve(sim, args.host, args.port, lambda base: print(f"READY {base}", flush=True)))


if __name__ == "__main__":
    main()

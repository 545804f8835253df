"""Requests sent to a gateway that is down: members send `/video` to the real bot (`python
bot.py` through the Discord simulator) while the gateway simulator refuses every connection;
after the outage it listens again. Measured: how many requests the bot sent to the gateway
during the outage (the bot's own `klingbot_gateway_requests_total`, cross-checked with its
log), how many after it until every task was delivered (the simulator's records), how long
from the gateway's return until every task was made and delivered, and whether any task was
made twice.

Examples:
  python -m bench.outage                                   # 20 tasks, 3 minutes, defaults
  python -m bench.outage --outage 9 --timeout-minutes 1.5  # the same curve, 20 times shorter
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_KEY, free_port, table, write_results
from gateway.simulator import GatewaySimulator, SimulatorConfig
from tests.e2e.harness import BotProcess, default_bot_env
from tests.support.discord_sim import DiscordSimulator, SimInteraction
from tests.support.waiting import wait_until

WAITING = "waiting for the video service"
SHORT_ID = re.compile(r"`([0-9a-f]{8})`")
METRIC = re.compile(
    r'^klingbot_gateway_requests_total\{kind="(\w+)",status="([\w-]+)"\} ([0-9.e+]+)$', re.M
)


async def gateway_requests(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The bot's own count of requests to the gateway, by "kind status"."""
    async with session.get(url) as response:
        text = await response.text()
    return {f"{kind} {status}": float(n) for kind, status, n in METRIC.findall(text)}


def delivered(discord: DiscordSimulator, inter: SimInteraction) -> bool:
    """The task's result message (its video) is in its thread."""
    status = inter.original
    if status is None or (match := SHORT_ID.search(status.text)) is None:
        return False
    where = discord.thread_for(status) or status.channel
    return any(
        f"`{match.group(1)}`" in m.content and m.attachments
        for m in discord.channel_messages(where)
    )


async def took(check: Any, limit: float, what: str) -> float:
    """Seconds until `check()` holds (tests/support's wait_until; fails after `limit`)."""
    began = time.monotonic()
    await wait_until(check, limit, what=what)
    return time.monotonic() - began


async def run(tasks: int, outage: float, timeout_minutes: float) -> dict[str, Any]:
    kling = GatewaySimulator(
        SimulatorConfig(
            api_key=API_KEY, queued_seconds=2, running_seconds=6, update_interval=2, seed=1
        )
    )
    await kling.start()
    discord = DiscordSimulator()
    await discord.start()
    metrics_port = free_port()
    bot: BotProcess | None = None
    try:
        guild = discord.add_guild("Bench Server")
        channel = discord.add_text_channel(guild, "general")
        people = [discord.add_member(guild, f"member{n:03d}") for n in range(tasks)]
        with tempfile.TemporaryDirectory(prefix="bench-outage-") as tmp:
            env = default_bot_env(discord, Path(tmp)) | {
                "KLING_API_BASE": kling.base_url,
                "KLING_API_KEY": API_KEY,
                "POLL_INTERVAL_SECONDS": "10",
                "TASK_TIMEOUT_MINUTES": f"{timeout_minutes:g}",
                "MAX_ACTIVE_TASKS_PER_USER": "0",
                "DAILY_TASKS_PER_USER": "0",
                "METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            }
            bot = BotProcess(env, sim=discord)
            await bot.start()
            await bot.wait_ready(discord, timeout=60)
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            async with aiohttp.ClientSession() as session:
                before = await gateway_requests(session, metrics_url)
                await kling.refuse_connections()
                down_at = time.monotonic()
                inters = [
                    await discord.slash(member, channel, "video", prompt=f"a paper boat {n}")
                    for n, member in enumerate(people)
                ]
                await asyncio.gather(*(i.wait_response(timeout=15) for i in inters))
                await took(
                    lambda: all(i.original and WAITING in i.original.text for i in inters),
                    60,
                    "every task to wait",
                )
                await asyncio.sleep(max(0.0, down_at + outage - time.monotonic()))
                during = await gateway_requests(session, metrics_url)
                logged = bot.logs.count("create failed")
                await kling.accept_connections()
                made = await took(lambda: kling.task_count >= tasks, 600, "every create")
                done = await took(
                    lambda: all(delivered(discord, i) for i in inters), 600, "every delivery"
                )
                after = await gateway_requests(session, metrics_url)
            await bot.stop()
    finally:
        if bot is not None:
            await bot.close()
        await discord.stop()
        await kling.stop()
    per_task = collections.Counter(t.external_task_id for t in kling.tasks)
    recorded = collections.Counter(r.kind for r in kling.requests)

    def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, int]:
        return {k: int(b.get(k, 0) - a.get(k, 0)) for k in sorted(set(a) | set(b)) if b.get(k)}

    sent_during = delta(before, during)
    sent_after = delta(during, after)
    return {
        "tasks": tasks,
        "outage_seconds": outage,
        "task_timeout_minutes": timeout_minutes,
        "requests_during_outage": sum(sent_during.values()),
        "requests_during_outage_by_kind": sent_during,
        "create_failures_logged": logged,
        "requests_after_outage": sum(sent_after.values()),
        "requests_after_outage_by_kind": sent_after,
        "simulator_saw_after_outage": dict(recorded),
        "seconds_to_all_created": made,
        "seconds_to_all_delivered": made + done,
        "tasks_made_twice": sum(1 for n in per_task.values() if n > 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outage",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--outage", type=float, default=180.0, help="seconds refused")
    parser.add_argument(
        "--timeout-minutes", type=float, default=30.0, help="the bot's TASK_TIMEOUT_MINUTES"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.tasks, args.outage, args.timeout_minutes))
    print(
        table(
            ["tasks", "outage s", "sent during", "sent after", "to created s", "to delivered s"],
            [
                [
                    result["tasks"],
                    result["outage_seconds"],
                    result["requests_during_outage"],
                    result["requests_after_outage"],
                    result["seconds_to_all_created"],
                    result["seconds_to_all_delivered"],
                ]
            ],
        )
    )
    print(
        f"during: {result['requests_during_outage_by_kind']} "
        f"(log: {result['create_failures_logged']} failed creates); "
        f"after: {result['requests_after_outage_by_kind']}; "
        f"made twice: {result['tasks_made_twice']}",
        file=sys.stderr,
    )
    name = f"outage-{args.tasks}x{args.outage:g}s"
    print(f"results: {write_results(name, result)}")


if __name__ == "__main__":
    main()

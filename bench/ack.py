"""Acknowledgement under a burst: members send `/video` at the same moment to the real bot
(`python bot.py`, via tests/e2e/harness.py's BotProcess) through the local Discord simulator
(tests/support/discord_sim), with the gateway simulator in its own process. Measured: from the
moment the simulator dispatched each INTERACTION_CREATE to the moment it accepted the bot's
first response (Discord allows 3 s), p50/p95/p99/max, per round and over all rounds.

Examples:
  python -m bench.ack
  python -m bench.ack --members 100 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import API_KEY, REPO_ROOT, SimProcess, summary, table, write_results
from tests.e2e.harness import BotProcess, default_bot_env
from tests.support.discord_sim import DiscordSimulator, SimInteraction

DISCORD_DEADLINE = 3.0


async def run(members: int, rounds: int, pause: float, log_level: str) -> dict[str, Any]:
    gateway = SimProcess(["--time-factor", "0.2"])
    await gateway.start()
    discord = DiscordSimulator()
    await discord.start()
    bot: BotProcess | None = None
    latencies: list[float] = []
    per_round: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    unanswered = 0
    try:
        guild = discord.add_guild("Bench Server")
        channel = discord.add_text_channel(guild, "general")
        people = [discord.add_member(guild, f"member{n:03d}") for n in range(members)]
        with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
            env = default_bot_env(discord, Path(tmp)) | {
                "KLING_API_BASE": gateway.base_url,
                "KLING_API_KEY": API_KEY,
                "POLL_INTERVAL_SECONDS": "10",
                "MAX_ACTIVE_TASKS_PER_USER": "0",
                "DAILY_TASKS_PER_USER": "0",
                "LOG_LEVEL": log_level,
            }
            bot = BotProcess(env, sim=discord)
            began = time.monotonic()
            await bot.start()
            await bot.wait_ready(discord, timeout=60)
            ready_after = time.monotonic() - began
            for number in range(rounds):
                interactions: list[SimInteraction] = list(
                    await asyncio.gather(
                        *(
                            discord.slash(
                                member, channel, "video", prompt=f"round {number}: a red kite {n}"
                            )
                            for n, member in enumerate(people)
                        )
                    )
                )
                await asyncio.gather(
                    *(i.wait_response(timeout=15) for i in interactions), return_exceptions=True
                )
                these = []
                for inter in interactions:
                    if inter.responded_at is None or inter.dispatched_at is None:
                        unanswered += 1
                        continue
                    these.append(inter.responded_at - inter.dispatched_at)
                    name = inter.response_type_name or str(inter.response_type)
                    kinds[name] = kinds.get(name, 0) + 1
                spread = max(i.dispatched_at or 0 for i in interactions) - min(
                    i.dispatched_at or 0 for i in interactions
                )
                per_round.append({"round": number + 1, "dispatch_spread": spread, **summary(these)})
                latencies += these
                print(f"round {number + 1}: {summary(these)}", file=sys.stderr, flush=True)
                await asyncio.sleep(pause)
            await bot.stop()
    finally:
        if bot is not None:
            await bot.close()
        await discord.stop()
        await gateway.stop()
    return {
        "members": members,
        "rounds": rounds,
        "bot_ready_seconds": ready_after,
        "all": summary(latencies),
        "late": sum(1 for x in latencies if x > DISCORD_DEADLINE),
        "unanswered": unanswered,
        "response_types": kinds,
        "per_round": per_round,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ack",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between rounds")
    parser.add_argument("--log-level", default="INFO", help="the bot's LOG_LEVEL")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.members, args.rounds, args.pause, args.log_level))
    rows = [
        [
            f"round {r['round']}",
            r["count"],
            1000 * r["dispatch_spread"],
            *(None if r[k] is None else 1000 * r[k] for k in ("p50", "p95", "p99", "max")),
        ]
        for r in result["per_round"]
    ]
    total = result["all"]
    rows.append(
        [
            "all",
            total["count"],
            None,
            *(None if total[k] is None else 1000 * total[k] for k in ("p50", "p95", "p99", "max")),
        ]
    )
    print(
        table(["", "answered", "dispatch spread ms", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows)
    )
    print(
        f"late (> {DISCORD_DEADLINE:g} s): {result['late']}, unanswered: {result['unanswered']}, "
        f"first responses: {result['response_types']}"
    )
    path = write_results("ack", result)
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

"""Shards across processes on one PostgreSQL: three bot processes run shards 0, 1 and 2 of 3
against the Discord and gateway simulators. Members of guilds on every shard start videos; the
process of one shard is SIGKILLed mid-run and started again later. Every task is created once
and delivered once; only one process synced the commands.

201 tasks (67 on each shard), as the issue's scenario asks; it runs in well under a minute.
"""

from __future__ import annotations

import collections
import re
from typing import Any

import pytest

from tests.support.discord_sim import SimChannel, SimGuild, SimMember

from .scenario import MakeScenario, Scenario

SHARDS = 3
INTERRUPTED = "restarted while it was sending"
TASKS_PER_SHARD = 67


def shard_of(guild_id: int) -> int:
    return (guild_id >> 22) % SHARDS


def guild_per_shard(scenario: Scenario) -> dict[int, tuple[SimGuild, SimChannel, SimMember]]:
    """One guild (with a channel and a member) on each shard."""
    sim = scenario.discord
    found: dict[int, tuple[SimGuild, SimChannel, SimMember]] = {}
    while len(found) < SHARDS:
        guild = sim.add_guild(f"Server {len(sim.guilds)}")
        if shard_of(guild.id) not in found:
            channel = sim.add_text_channel(guild, "general")
            found[shard_of(guild.id)] = (guild, channel, sim.add_member(guild, "member"))
    return found


@pytest.mark.timeout(300)
async def test_three_shard_processes_and_a_sigkill_deliver_every_task_once(
    make_scenario: MakeScenario, start_bot: Any, postgres_dsn: str
) -> None:
    scenario = await make_scenario(
        DATABASE_URL=postgres_dsn, SHARD_COUNT=str(SHARDS), SHARD_IDS="0",
        MAX_ACTIVE_TASKS_PER_USER="0", DAILY_TASKS_PER_USER="0",
    )  # fmt: skip
    guilds = guild_per_shard(scenario)  # GUILD_CREATEs reach the processes started after
    scenario.kling.configure(queued_seconds=1.0, running_seconds=6.0)
    settings = {shard: {**scenario.settings, "SHARD_IDS": str(shard)} for shard in range(SHARDS)}
    await scenario.restart(kill=False)  # shard 0 again, now seeing the new guilds
    bots = {0: scenario.bot}
    for shard in (1, 2):
        bots[shard] = await start_bot(settings[shard])

    inters = []
    for n in range(TASKS_PER_SHARD):
        for shard, (_, channel, member) in guilds.items():
            inters.append(
                (
                    shard,
                    await scenario.video(member=member, channel=channel, prompt=f"s{shard} {n}"),
                )
            )
    await scenario.discord.wait_for(
        lambda: len(scenario.creates()) >= 2 * TASKS_PER_SHARD, timeout=60, message="most sent"
    )
    first = dict(sorted(bots.items()))
    bots[1].kill()  # mid-run: shard 1's process holds polls and deliveries
    await bots[1].wait_exit()
    await scenario.discord.wait_for(
        lambda: sum(bool(scenario.results(scenario.where(i), scenario.short_id(i)))
                    for _, i in inters) >= len(inters) // 2,
        timeout=60, message="half the results while shard 1 is down",
    )  # fmt: skip
    bots[1] = await start_bot(settings[1])

    results = [(shard, inter, await scenario.result(inter, timeout=90)) for shard, inter in inters]
    creates = collections.Counter(
        r.json["metadata"]["external_task_id"][:8] for r in scenario.creates()
    )
    assert set(creates.values()) == {1}  # no task was ever sent twice
    for shard, inter, result in results:
        short = scenario.short_id(inter)
        assert len(scenario.results(scenario.where(inter), short)) == 1, short  # delivered once
        sent = re.compile(rf"task {short}[0-9a-f]* sent as gateway task")
        senders = [s for s, b in enumerate((*first.values(), bots[1])) if sent.search(b.logs)]
        if shard != 1:  # admitted and sent by its own shard's process
            assert senders == [shard] and creates[short] == 1, (short, senders)
        elif INTERRUPTED in result.content:  # killed while sending: reported, never resent
            assert senders == [] and creates[short] <= 1, (short, senders)
        else:  # sent once: by shard 1 (which may die before logging it) or, when it died
            # before sending, by the process that took the task over
            assert len(senders) <= 1 and creates[short] == 1, (short, senders)
    syncing = [b for b in (first[0], first[1], first[2], bots[1]) if "commands synced" in b.logs]
    assert len(syncing) == 1  # the same commands, synced by one process only
    for guild, _, _ in guilds.values():
        assert scenario.discord.sync_count(guild) == 1
    assert all(bots[s].running for s in (0, 2))

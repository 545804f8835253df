"""A gateway outage while members send /video: the real bot against the Discord simulator and the
gateway simulator over real HTTP. Tasks that arrive during the outage wait (queued, saying they
wait for the video service) and are made once each when it ends; a create that may have reached
the gateway is never sent again.

Time is shrunk, not mocked: TASK_TIMEOUT_MINUTES=1.5 shrinks every wait between probes 20-fold
(the longest becomes 3 s instead of a minute). The "20 s" outages last until the bot has failed
two more probes (at the default backoff, some 20 s once a few have failed); the three-minute one
until the bot's own poller has seen OUTAGE_3MIN (three minutes, shrunk) go by. No test sleeps.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Sequence

from gateway.simulator import Fault
from tests.support.discord_sim.interactions import SimInteraction
from tests.support.discord_sim.models import SimMember

from .scenario import MakeScenario, Scenario

SCALE = 20  # the default longest wait (60 s) / the one TASK_TIMEOUT_MINUTES=1.5 gives (3 s)
SHRUNK = {"TASK_TIMEOUT_MINUTES": "1.5", "MAX_ACTIVE_TASKS_PER_USER": "0"}
OUTAGE_3MIN = 180 / SCALE
WAITING = "waiting for the video service"


def members(s: Scenario, count: int) -> list[SimMember]:
    return [s.member] + [s.discord.add_member(s.guild, f"member{n}") for n in range(1, count)]


async def send_videos(s: Scenario, count: int) -> list[SimInteraction]:
    """`/video` from `count` members, each once the one before is known to wait (so the order
    of arrival is the order of creation)."""
    inters: list[SimInteraction] = []
    for n, member in enumerate(members(s, count)):
        inters.append(await s.video(member=member, prompt=f"a paper boat number {n}"))
        await all_waiting(s, inters[-1:])
    return inters


async def all_waiting(s: Scenario, inters: Sequence[SimInteraction]) -> None:
    """Every status message says its task waits for the video service."""
    await s.discord.wait_for(
        lambda: all(WAITING in s.status(i) for i in inters),
        timeout=15,
        message="every status to say it waits for the video service",
    )


async def delivered_once_each(s: Scenario, inters: Sequence[SimInteraction]) -> None:
    """Every task ends with its video, in exactly one result message."""
    for inter in inters:
        result = await s.result(inter, timeout=45)
        assert result.attachments, result.content
        short = s.short_id(inter)
        everywhere = s.results(s.where(inter), short) + s.results(s.channel, short)
        assert len({m.id for m in everywhere}) == 1, f"{short}: {everywhere}"


def made_upstream(s: Scenario) -> collections.Counter[str]:
    """Our task id -> tasks the gateway made for it."""
    return collections.Counter(task.external_task_id or "" for task in s.kling.tasks)


def task_ids(s: Scenario, inters: Sequence[SimInteraction]) -> set[str]:
    """Our full task ids (the gateway sees them as external_task_id), from the short ids."""
    shorts = {s.short_id(i) for i in inters}
    return {ext for ext in made_upstream(s) if ext[:8] in shorts}


def create_attempts_logged(s: Scenario) -> int:
    return s.bot.logs.count("create failed")


async def outage_goes_on(s: Scenario, probes: int = 2) -> None:
    """The outage lasts while the bot probes `probes` more times and fails (at the default
    backoff, two probes after the first few are some 20 s of outage)."""
    target = create_attempts_logged(s) + probes
    await s.discord.wait_for(
        lambda: create_attempts_logged(s) >= target,
        timeout=15,
        message=f"{probes} more failed probes while the outage goes on",
    )


async def outage_lasts(s: Scenario, seconds: float) -> None:
    """The outage lasts until the bot's own poller has seen `seconds` go by (its heartbeat)."""
    until = time.time() + seconds
    await s.discord.wait_for(
        lambda: s.heartbeat().get("time", 0.0) >= until,
        timeout=seconds + 15,
        message=f"the bot's poller to run {seconds:g} s into the outage",
    )


async def test_refused_connections_for_20s_then_each_task_made_once(
    make_scenario: MakeScenario,
) -> None:
    """Connections refused while three members ask: each waits, then is made and delivered
    once."""
    s = await make_scenario(**SHRUNK)
    await s.kling.refuse_connections()
    inters = await send_videos(s, 3)
    await all_waiting(s, inters)
    await outage_goes_on(s)
    await s.kling.accept_connections()
    await delivered_once_each(s, inters)
    assert sorted(made_upstream(s).values()) == [1, 1, 1]
    assert len(task_ids(s, inters)) == 3
    assert "Traceback" not in s.bot.logs


async def test_refused_connections_for_3min_probe_one_at_a_time(
    make_scenario: MakeScenario,
) -> None:
    """A long outage with five waiting tasks: the bot probes with one create at a time, backing
    off, instead of hammering; afterwards each task is made and delivered once."""
    s = await make_scenario(**SHRUNK)
    await s.kling.refuse_connections()
    inters = await send_videos(s, 5)
    await all_waiting(s, inters)
    await outage_lasts(s, OUTAGE_3MIN)
    tries = create_attempts_logged(s)
    await s.kling.accept_connections()
    await delivered_once_each(s, inters)
    assert sorted(made_upstream(s).values()) == [1] * 5
    # one probe at a time with backoff: about ten in three (scaled) minutes; five tasks each
    # retried on their own every second would be hundreds
    assert tries <= 25, tries


async def test_html_503_for_20s_only_the_oldest_task_probes(make_scenario: MakeScenario) -> None:
    """A proxy answers 503 pages: only the oldest waiting task is tried meanwhile, the others
    follow once it gets through; each is made and delivered once."""
    s = await make_scenario(**SHRUNK)
    s.kling.start_outage("html_503")
    inters = await send_videos(s, 3)
    await all_waiting(s, inters)
    probed = len(s.creates())
    await s.discord.wait_for(
        lambda: len(s.creates()) >= probed + 2, timeout=15, message="2 more probes refused"
    )
    s.kling.end_outage()
    refused = [r.json["metadata"]["external_task_id"] for r in s.creates()]
    await delivered_once_each(s, inters)
    first = s.short_id(inters[0])
    assert refused and {ext[:8] for ext in refused} == {first}
    assert sorted(made_upstream(s).values()) == [1, 1, 1]


async def test_429_with_retry_after_is_honoured(make_scenario: MakeScenario) -> None:
    """The relay says 429, Retry-After: 5 for 4.5 s: the bot waits the 5 s it was asked to,
    so one create is refused and the next one is taken; every task made and delivered once."""
    s = await make_scenario(**SHRUNK)
    s.kling.start_outage("busy_429", retry_after="5", seconds=4.5)
    inters = await send_videos(s, 2)
    await delivered_once_each(s, inters)
    per_task = collections.Counter(r.json["metadata"]["external_task_id"] for r in s.creates())
    first = s.short_id(inters[0])
    # the oldest task was refused once and sent again after 5 s; the other only then, once
    assert sorted((ext[:8] == first, n) for ext, n in per_task.items()) == [(False, 1), (True, 2)]
    assert sorted(made_upstream(s).values()) == [1, 1]


async def test_504_on_create_is_never_sent_again(make_scenario: MakeScenario) -> None:
    """A 504 after the gateway took the create: the task may exist upstream, so it is not sent
    again; the member is told so and can press Retry."""
    s = await make_scenario(**SHRUNK)
    s.kling.start_outage("timeout_504", routes=("create",))
    inter = await s.video(prompt="a kite over the dunes")
    result = await s.result(inter)
    assert "failed" in result.content
    assert "not sent again" in result.content
    s.kling.end_outage()
    later = await s.video(prompt="a second kite")
    await delivered_once_each(s, [later])  # the poller ran many passes meanwhile
    first = s.short_id(inter)
    tried = [r for r in s.creates() if r.json["metadata"]["external_task_id"][:8] == first]
    assert len(tried) == 1


async def test_restart_during_the_outage_still_sends_once(make_scenario: MakeScenario) -> None:
    """The bot is killed while tasks wait; restarted during the outage, it takes up the wait
    from the database and, once the gateway is back, makes and delivers each task once."""
    s = await make_scenario(**SHRUNK)
    await s.kling.refuse_connections()
    inters = await send_videos(s, 3)
    await all_waiting(s, inters)
    await s.restart(kill=True)
    assert "3 of them waiting for the video service" in s.bot.logs
    await outage_goes_on(s)  # the restarted bot takes up the probing
    await s.kling.accept_connections()
    await delivered_once_each(s, inters)
    assert sorted(made_upstream(s).values()) == [1, 1, 1]


async def test_deadline_passed_during_the_outage_fails_once(make_scenario: MakeScenario) -> None:
    """The gateway stays unreachable past TASK_TIMEOUT_MINUTES: one clear failure message, and
    nothing is sent when it comes back."""
    s = await make_scenario(TASK_TIMEOUT_MINUTES="0.1", MAX_ACTIVE_TASKS_PER_USER="0")
    await s.kling.refuse_connections()
    inter = await s.video(prompt="a lighthouse in the fog")
    result = await s.result(inter)
    assert "failed" in result.content
    assert "could not be reached for 0.1 minutes" in result.content
    assert not result.attachments
    await s.kling.accept_connections()
    later = await s.video(prompt="a second lighthouse")
    await delivered_once_each(s, [later])
    short = s.short_id(inter)
    assert len(s.results(s.where(inter), short) + s.results(s.channel, short)) == 1
    assert [ext for ext in made_upstream(s) if ext.startswith(short)] == []


async def test_the_relays_own_json_5xx_is_waited_out(make_scenario: MakeScenario) -> None:
    """The relay refuses the create with its JSON 500 do_request_failed, twice: the task
    waits and is made once."""
    s = await make_scenario(**SHRUNK)
    s.kling.add_faults(
        Fault(route="create", status=500, body="code", code="do_request_failed", times=2)
    )
    inter = await s.video(prompt="a paper crane")
    await delivered_once_each(s, [inter])
    assert len(s.creates()) == 3
    assert sorted(made_upstream(s).values()) == [1]

"""/history: the member's finished tasks here, newest first, ten to a page, with Previous and
Next, each with its short id, state, prompt, when and a link to its result."""

from __future__ import annotations

import re

from tests.support.discord_sim.interactions import SimInteraction
from tests.support.discord_sim.models import SimMessage

from .scenario import MakeScenario, Scenario

LINE = re.compile(
    r"`(?P<short>[0-9a-f]{8})` \*\*(?P<state>[a-z ]+)\*\* · <t:\d+:R> · "
    r"\[result\]\(https://discord\.com/channels/(?P<guild>\d+)/(?P<channel>\d+)/(?P<msg>\d+)\)"
)


def page_of(message: SimMessage) -> list[re.Match[str]]:
    (embed,) = message.embeds
    return list(LINE.finditer(embed.get("description", "")))


def footer(message: SimMessage) -> str:
    return str(message.embeds[0].get("footer", {}).get("text", ""))


async def wave(s: Scenario, prompts: list[str]) -> list[SimInteraction]:
    """Start these videos and wait until every one has its result."""
    started = [await s.video(prompt=p) for p in prompts]
    for inter in started:
        await s.result(inter)
    return started


async def test_history_pages_across_25_tasks(make_scenario: MakeScenario) -> None:
    """25 finished tasks are three pages (10, 10, 5), newest first, each line linking to its
    result message; Next and Previous page through them, also after a restart; another
    member's task is not listed."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="0", DAILY_TASKS_PER_USER="0")
    oldest = await wave(s, [f"wave one, clip {i}" for i in range(10)])
    middle = await wave(s, [f"wave two, clip {i}" for i in range(10)])
    newest = await wave(s, [f"[fail] wave three, clip {i}" for i in range(5)])
    bob = s.discord.add_member(s.guild, "bob")
    await s.result(await s.video(member=bob, prompt="bob's own clip"))
    ids = {
        name: {s.short_id(i) for i in group}
        for name, group in (("oldest", oldest), ("middle", middle), ("newest", newest))
    }

    inter = await s.command("history")
    assert inter.ephemeral
    message = inter.original
    assert message is not None
    first = page_of(message)
    assert len(first) == 10
    assert footer(message).startswith("Page 1 of 3 · 25 videos")
    assert {m["short"] for m in first[:5]} == ids["newest"]
    assert all(m["state"] == "failed" for m in first[:5])
    assert {m["short"] for m in first[5:]} <= ids["middle"]
    assert "wave three, clip" in message.text
    results = {
        s.short_id(i): s.results(s.where(i), s.short_id(i))[0] for i in oldest + middle + newest
    }
    for line in first:
        result = results[line["short"]]
        assert int(line["msg"]) == result.id and int(line["channel"]) == result.channel.id
        assert int(line["guild"]) == s.guild.id
    buttons = {b["custom_id"]: b for b in message.buttons}
    assert buttons["vb:history:prev:-1"].get("disabled")

    nxt = await (await s.discord.click(s.member, message, "vb:history:next:1")).wait_response()
    assert nxt.response_type == 7
    second = page_of(message)
    assert footer(message).startswith("Page 2 of 3")
    assert len(second) == 10 and not {m["short"] for m in second} & {m["short"] for m in first}

    await s.restart()

    await (await s.discord.click(s.member, message, "vb:history:next:2")).wait_response()
    third = page_of(message)
    assert footer(message).startswith("Page 3 of 3") and len(third) == 5
    assert {m["short"] for m in third} <= ids["oldest"]
    shown = [m["short"] for m in first + second + third]
    assert sorted(shown) == sorted(set().union(*ids.values()))
    assert next(b for b in message.buttons if b["custom_id"] == "vb:history:next:3").get("disabled")
    await (await s.discord.click(s.member, message, "vb:history:prev:1")).wait_response()
    assert [m["short"] for m in page_of(message)] == [m["short"] for m in second]

    other = await s.command("history", member=bob)
    assert other.original is not None and len(page_of(other.original)) == 1

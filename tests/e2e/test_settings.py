"""/settings and /queue through the real bot: server admins set their server's rules, and the
next /video follows them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.discord_sim import Perm, SimMember, SimulatorUsageError
from tests.support.discord_sim.interactions import SimInteraction

from .scenario import MakeScenario, Scenario

MANAGE_GUILD = str(Perm.MANAGE_GUILD)


def text_of(inter: SimInteraction) -> str:
    data = inter.response_data or {}
    return str(data.get("content", "")) + str(data.get("embeds", ""))


def manager(s: Scenario, name: str = "ada") -> SimMember:
    """A member whose role has Manage Server (not Administrator)."""
    role = s.discord.add_role(s.guild, f"{name}-mods", permissions=Perm.MANAGE_GUILD)
    return s.discord.add_member(s.guild, name, roles=[role])


async def settings(s: Scenario, who: SimMember, sub: str, **options: Any) -> SimInteraction:
    inter = await s.command(f"settings {sub}", member=who, **options)
    assert inter.ephemeral, text_of(inter)
    return inter


def show_fields(inter: SimInteraction) -> dict[str, str]:
    embed = (inter.response_data or {})["embeds"][0]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_settings_and_queue_are_for_server_admins(scenario: Scenario) -> None:
    """Registered guild-only with Manage Server, hidden from a member without it; given to them
    anyway by the server (Integrations), the bot still refuses and nothing changes."""
    s = scenario
    for name in ("settings", "queue"):
        (definition,) = [c for c in s.discord.synced_commands(s.guild) if c["name"] == name]
        assert definition["default_member_permissions"] == MANAGE_GUILD
        assert definition.get("contexts") == [0] or definition.get("dm_permission") is False
    with pytest.raises(SimulatorUsageError, match="lacks default_member_permissions"):
        await s.discord.slash(s.member, s.channel, "settings show")
    with pytest.raises(SimulatorUsageError, match="lacks default_member_permissions"):
        await s.discord.slash(s.member, s.channel, "queue")

    s.discord.allow_command(s.member, "settings")
    s.discord.allow_command(s.member, "queue")
    refused = await settings(s, s.member, "limits", active_per_member=9)
    assert "Manage Server" in text_of(refused)
    queue = await s.command("queue")
    assert queue.ephemeral and "Manage Server" in text_of(queue)

    shown = show_fields(await settings(s, manager(s), "show"))
    assert shown["active_per_member"].startswith("**2**")
    assert "bot default" in shown["active_per_member"]


async def test_defaults_apply_to_the_next_video_and_survive_a_restart(
    make_scenario: MakeScenario,
) -> None:
    """/settings defaults change what /video uses when an option is left out, at once and after
    a restart; an option the member gives still wins; show says who set each value."""
    s = await make_scenario(KLING_MODELS="kling-v3,kling-v2")
    s.kling.configure(models=("kling-v3", "kling-v2"))
    ada = manager(s)
    saved = await settings(
        s, ada, "defaults", mode="pro", duration=10, aspect_ratio="9:16", model="kling-v2"
    )
    assert "Saved" in text_of(saved)
    await s.video(prompt="[stuck] uses the server's defaults")
    await s.restart()
    await s.video(prompt="[stuck] after a restart", mode="std")
    await s.discord.wait_for(lambda: len(s.creates()) == 2, message="both tasks sent")
    by_prompt = {r.json["prompt"]: r.json for r in s.creates()}
    first = by_prompt["[stuck] uses the server's defaults"]
    second = by_prompt["[stuck] after a restart"]
    assert (first["model"], first["mode"], first["duration"]) == ("kling-v2", "pro", 10)
    assert first["size"] == "1080x1920"
    assert (second["model"], second["mode"], second["duration"]) == ("kling-v2", "std", 10)

    shown = show_fields(await settings(s, ada, "show"))
    assert shown["mode"].startswith("**pro**")
    assert f"set by <@{ada.id}>" in shown["mode"]
    assert "bot default" in shown["active_per_member"]


async def test_limits_change_the_member_limits_at_once(scenario: Scenario) -> None:
    """active_per_member and daily_per_member replace the environment's limits."""
    s = scenario
    ada = manager(s)
    await settings(s, ada, "limits", active_per_member=1)
    first = await s.video(prompt="[stuck] the only slot")
    assert not first.ephemeral
    second = await s.video(prompt="[stuck] one too many")
    assert second.ephemeral and "the limit is 1" in text_of(second)

    await settings(s, ada, "limits", active_per_member=0, daily_per_member=1)
    bob = s.discord.add_member(s.guild, "bob")
    assert not (await s.video(member=bob, prompt="[stuck] bob's first")).ephemeral
    refused = await s.video(member=bob, prompt="[stuck] bob's second")
    assert refused.ephemeral and "all 1 videos for today" in text_of(refused)
    assert len(s.creates()) <= 2


async def test_channels_and_roles_allowlists(make_scenario: MakeScenario) -> None:
    """channels and roles: allow narrows /video, remove and clear open it again."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="0")
    ada = manager(s)
    art = s.discord.add_text_channel(s.guild, "art")
    await settings(s, ada, "channels", action="allow", channel=art)
    here = await s.video(prompt="[stuck] in general")
    assert here.ephemeral and f"<#{art.id}>" in text_of(here)
    assert not (await s.video(channel=art, prompt="[stuck] in art")).ephemeral
    await settings(s, ada, "channels", action="remove", channel=art)
    assert not (await s.video(prompt="[stuck] general again")).ephemeral

    creators = s.discord.add_role(s.guild, "creators")
    await settings(s, ada, "roles", action="allow", role=creators)
    refused = await s.video(prompt="no role")
    assert refused.ephemeral and f"<@&{creators.id}>" in text_of(refused)
    carol = s.discord.add_member(s.guild, "carol", roles=[creators])
    assert not (await s.video(member=carol, prompt="[stuck] carol has it")).ephemeral
    await settings(s, ada, "roles", action="clear")
    await settings(s, ada, "channels", action="clear")
    assert not (await s.video(prompt="everyone, everywhere")).ephemeral


async def test_bad_values_say_what_is_allowed_and_change_nothing(scenario: Scenario) -> None:
    """Out-of-range numbers, a missing channel or role, no option at all: an ephemeral reply
    naming what is allowed, and /settings show still shows the bot's defaults."""
    s = scenario
    ada = manager(s)
    cases = [
        ("limits", {"active_per_member": -1}, "whole number from 0 to 1000"),
        ("limits", {"daily_per_member": 5000, "active_per_member": 3}, "from 0 to 1000"),
        ("limits", {"daily_server_credits": -5.0}, "a number from 0"),
        ("channels", {"action": "allow"}, "needs a `channel`"),
        ("roles", {"action": "remove"}, "needs a `role`"),
        ("defaults", {}, "at least one option"),
    ]
    for sub, options, words in cases:
        inter = await settings(s, ada, sub, **options)
        assert words in text_of(inter), (sub, options, text_of(inter))
        assert "Nothing changed" in text_of(inter)
    shown = show_fields(await settings(s, ada, "show"))
    assert all("bot default" in value for value in shown.values()), shown


async def test_reset_asks_first_then_restores_the_bot_defaults(scenario: Scenario) -> None:
    """reset shows a confirm button; keeping changes nothing, confirming restores defaults."""
    s = scenario
    ada = manager(s)
    await settings(s, ada, "defaults", duration=10)
    ask = await settings(s, ada, "reset")
    assert ask.original is not None
    keep = next(c for c in ask.original.custom_ids if c.endswith(":0"))
    confirm = next(c for c in ask.original.custom_ids if c.endswith(":1"))
    await (await s.discord.click(ada, ask.original, keep)).wait_response()
    assert "Nothing changed" in ask.original.content
    assert "this server" in show_fields(await settings(s, ada, "show"))["duration"]

    ask = await settings(s, ada, "reset")
    assert ask.original is not None
    await (await s.discord.click(ada, ask.original, confirm)).wait_response()
    assert "defaults apply again" in ask.original.content
    assert "bot default" in show_fields(await settings(s, ada, "show"))["duration"]
    await s.video(prompt="[stuck] back to five seconds")
    await s.discord.wait_for(lambda: s.creates(), message="the task sent")
    assert s.creates()[0].json["duration"] == 5


async def test_server_budget_holds_under_a_burst(make_scenario: MakeScenario) -> None:
    """A budget of 7.5 credits and 10 members asking at once (1.5 credits each): exactly 5
    start; the others hear the cost, what is left and when it resets; /status, /help, /settings
    show and the /video option descriptions show the numbers."""
    s = await make_scenario(TASK_COSTS="std:1.5,pro:2")
    (video,) = [c for c in s.discord.synced_commands(s.guild) if c["name"] == "video"]
    mode = next(o for o in video["options"] if o["name"] == "mode")
    assert "credits per 5 s: std 1.5, pro 2" in mode["description"]
    ada = manager(s)
    await settings(s, ada, "limits", daily_server_credits=7.5)
    members = [s.discord.add_member(s.guild, f"m{i}") for i in range(10)]
    answers = await asyncio.gather(
        *(s.video(member=m, prompt=f"[stuck] video {i}") for i, m in enumerate(members))
    )
    started = [a for a in answers if not a.ephemeral]
    refused = [a for a in answers if a.ephemeral]
    assert len(started) == 5 and len(refused) == 5
    for inter in refused:
        text = text_of(inter)
        assert "costs 1.5 credits" in text and "0 of its 7.5 credits" in text, text
        assert "midnight UTC" in text
    await s.discord.wait_for(lambda: len(s.creates()) == 5, message="five tasks sent")
    status = await s.command("status", member=members[0])
    assert "0 credits left today" in text_of(status)
    help_text = text_of(await s.command("help"))
    assert "7.5 credits per day for the whole server" in help_text
    assert "std 1.5" in help_text and "pro 2" in help_text
    shown = show_fields(await settings(s, ada, "show"))
    assert shown["daily_server_credits"].startswith("**7.5 credits** (7.5 used today)")
    assert len(s.creates()) == 5


async def test_a_task_that_fails_at_the_gateway_gives_its_credits_back(
    make_scenario: MakeScenario,
) -> None:
    """Refused at create or failed while generating: the task does not count."""
    s = await make_scenario(DAILY_SERVER_CREDITS="2", TASK_COSTS="std:1,pro:2")
    refused_at_create = await s.video(prompt="[policy] refused by the gateway", mode="pro")
    assert "failed" in (await s.result(refused_at_create)).content
    failed = await s.video(prompt="[fail] fails while generating", mode="pro")
    told = await s.result(failed)
    assert "failed" in told.content
    details_id = next(c for c in told.custom_ids if c.startswith("vb:details:"))
    details = await (await s.discord.click(s.member, told, details_id)).wait_response()
    assert "2 credits (given back: it failed)" in text_of(details)
    status = await s.command("status")
    assert "2 credits left today" in text_of(status)
    assert not (await s.video(prompt="[stuck] fits again", mode="pro")).ephemeral
    over = await s.video(prompt="one more")
    assert over.ephemeral and "0 of its 2 credits" in text_of(over)


async def test_queue_pages_and_cancels_with_the_requester_told(
    make_scenario: MakeScenario,
) -> None:
    """/queue lists every unfinished task oldest first, ten to a page; the menu cancels one and
    its requester reads in the thread who did it."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="0")
    bob = s.discord.add_member(s.guild, "bob")
    started = []
    for i in range(12):
        started.append(await s.video(member=bob if i % 2 else s.member, prompt=f"[stuck] q{i}"))
    shorts = [s.short_id(i) for i in started]
    ada = manager(s)
    queue = await s.command("queue", member=ada)
    assert queue.ephemeral and queue.original is not None
    page = queue.original
    assert page.embed is not None
    first_page = page.embed["description"]
    assert [sid for sid in shorts if sid in first_page] == shorts[:10]
    assert first_page.index(shorts[0]) < first_page.index(shorts[9])
    assert f"<@{bob.id}>" in first_page and "Page 1 of 2" in str(page.embed)

    next_id = next(c for c in page.custom_ids if c.startswith("vb:queue:next:"))
    await (await s.discord.click(ada, page, next_id)).wait_response()
    assert page.embed is not None
    second_page = page.embed["description"]
    assert shorts[10] in second_page and shorts[11] in second_page
    assert shorts[0] not in second_page

    menu = next(c for c in page.custom_ids if c.startswith("vb:queue-cancel:"))
    picked = await (await s.discord.select(ada, page, menu, [shorts[11]])).wait_response()
    assert picked.response_type == 7
    assert f"Cancelled `{shorts[11]}`" in page.content
    assert page.embed is not None and "11" in page.embed["title"]
    told = await s.result(started[11])
    assert "cancelled" in told.content and "ada (a server admin)" in told.content
    assert f"<@{bob.id}>" in told.content

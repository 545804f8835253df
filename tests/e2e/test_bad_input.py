"""Every rule of /video the Discord client can't enforce: an ephemeral reply that says what is
wrong and how to fix it, and nothing sent to the gateway."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .scenario import MakeScenario, Scenario


async def refused(s: Scenario, **options: Any) -> str:
    inter = await s.video(**options)
    assert inter.response_type == 4
    assert inter.ephemeral, f"not ephemeral: {inter.response_data}"
    assert s.creates() == []
    return str((inter.response_data or {}).get("content", ""))


@pytest.mark.parametrize(
    ("attachment", "says"),
    [
        ({"name": "anim.gif", "content_type": "image/gif"}, "PNG, JPEG or WebP"),
        ({"size": 51 * 1024 * 1024}, "the limit is 50 MB"),
        ({"width": 200, "height": 200}, "at least 300 px"),
        ({"width": 3000, "height": 1000}, "between 1:2.5 and 2.5:1"),
    ],
)
async def test_a_bad_image_is_refused_with_the_reason(
    scenario: Scenario, attachment: dict[str, Any], says: str
) -> None:
    """The attachment's own metadata is checked before anything is sent."""
    image = scenario.image(**attachment)
    text = await refused(scenario, prompt="a cat", image=image)
    assert says in text


async def test_a_bad_last_frame_is_refused_too(scenario: Scenario) -> None:
    """end_image follows the same rules as image."""
    text = await refused(
        scenario,
        prompt="a cat",
        image=scenario.image(),
        end_image=scenario.image("tiny.png", 100, 100),
    )
    assert "`end_image`" in text
    assert "at least 300 px" in text


async def test_last_frame_needs_a_first_frame(scenario: Scenario) -> None:
    """end_image alone is refused with how to fix it."""
    text = await refused(scenario, prompt="a cat", end_image=scenario.image())
    assert "attach `image` too" in text


async def test_camera_move_and_last_frame_do_not_mix(scenario: Scenario) -> None:
    """A camera move with end_image is refused."""
    text = await refused(
        scenario,
        prompt="a cat",
        image=scenario.image(),
        end_image=scenario.image("b.png"),
        camera="zoom_in",
    )
    assert "camera move can't be combined" in text


async def test_blank_prompt_is_refused(scenario: Scenario) -> None:
    """A prompt of spaces only is empty."""
    assert "prompt is empty" in await refused(scenario, prompt="   ")


async def test_channel_outside_the_allowlist(make_scenario: MakeScenario) -> None:
    """In a channel not in ALLOWED_CHANNEL_IDS the member is told where /video works."""
    s0 = await make_scenario()
    other = s0.discord.add_text_channel(s0.guild, "art")
    await s0.bot.stop()
    s = await make_scenario(ALLOWED_CHANNEL_IDS=str(other.id))
    text = await refused(s, prompt="a cat")
    assert f"<#{other.id}>" in text
    inter = await s.video(channel=other, prompt="a cat in the art channel")
    assert not inter.ephemeral
    await s.result(inter)


async def test_member_without_an_allowed_role(make_scenario: MakeScenario) -> None:
    """Without one of ALLOWED_ROLE_IDS the member is told which roles may use /video."""
    s0 = await make_scenario()
    role = s0.discord.add_role(s0.guild, "creators")
    creator = s0.discord.add_member(s0.guild, "carol", roles=[role])
    await s0.bot.stop()
    s = await make_scenario(ALLOWED_ROLE_IDS=str(role.id))
    text = await refused(s, prompt="a cat")
    assert f"<@&{role.id}>" in text
    inter = await s.video(member=creator, prompt="a cat by a creator")
    assert not inter.ephemeral


async def test_daily_limit_is_enforced(make_scenario: MakeScenario) -> None:
    """After DAILY_TASKS_PER_USER tasks today, the next one is refused until midnight UTC."""
    s = await make_scenario(DAILY_TASKS_PER_USER="1", MAX_ACTIVE_TASKS_PER_USER="0")
    first = await s.video(prompt="a first video")
    await s.result(first)
    inter = await s.video(prompt="a second video")
    assert inter.ephemeral
    assert "midnight UTC" in str((inter.response_data or {}).get("content"))
    assert len(s.creates()) == 1


async def test_a_burst_never_gets_past_the_active_limit(make_scenario: MakeScenario) -> None:
    """Ten /video at the same moment from one member start exactly MAX_ACTIVE tasks; every
    command is answered in time and the others are told why."""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="2")
    sent = await asyncio.gather(
        *(s.discord.slash(s.member, s.channel, "video", prompt=f"clip {i}") for i in range(10))
    )
    inters = await asyncio.gather(*(i.wait_response(timeout=5) for i in sent))
    assert not any(i.late for i in inters)
    public = [i for i in inters if not i.ephemeral]
    private = [i for i in inters if i.ephemeral]
    assert len(public) == 2
    assert len(private) == 8
    assert all("`/cancel`" in str(i.response_data) for i in private)
    for inter in public:
        await s.result(inter)
    assert len(s.creates()) == 2

"""Frames: WebP and large images fixed to Kling's rules before they reach the gateway, kept
with the task in Discord, and still there for Retry after Discord's links expired."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import aiohttp
from PIL import Image

from tests.support.discord_sim.models import SimMessage

from .scenario import Scenario

KLING_MAX_BYTES = 10 * 1000 * 1000


def webp_bytes(width: int, height: int) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80)
    return out.getvalue()


def noisy_png(width: int, height: int) -> bytes:
    """Grain does not compress: about width x height x 3 bytes."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


async def gateway_image(value: str) -> bytes:
    """The bytes behind what the gateway got for a frame: a link it would fetch, or base64."""
    if value.startswith("http"):
        async with aiohttp.ClientSession() as http, http.get(value) as response:
            assert response.status == 200, f"the gateway could not fetch {value}"
            return await response.read()
    return base64.b64decode(value, validate=True)


def meets_kling_rules(data: bytes) -> tuple[str, int, int]:
    """gateway-notes.md: jpg/png, at most 10 MB, both sides >= 300 px, aspect 1:2.5-2.5:1."""
    assert len(data) <= KLING_MAX_BYTES
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        kind, (width, height) = image.format or "", image.size
    assert kind in ("PNG", "JPEG")
    assert min(width, height) >= 300
    assert 1 / 2.5 <= width / height <= 2.5
    return kind, width, height


def frames_message(s: Scenario, where: Any, short: str | None = None) -> SimMessage:
    """The bot's message in the task's thread that shows (and keeps) the frames of task
    `short` (any task's, without it)."""
    found = [
        m
        for m in s.discord.channel_messages(where)
        if m.author.id == s.discord.bot_user.id
        and m.content.startswith(f"Frames for `{short or ''}")
        and m.attachments
        and not m.custom_ids
    ]
    assert len(found) == 1, [m.content for m in s.discord.channel_messages(where)]
    return found[0]


async def test_a_webp_frame_reaches_the_gateway_as_png(scenario: Scenario) -> None:
    """A WebP first frame is accepted, converted to PNG, shown in the task's thread, and the
    gateway gets a PNG that meets Kling's rules."""
    frame = scenario.discord.add_attachment(
        "sunset.webp", webp_bytes(1280, 720), content_type="image/webp", width=1280, height=720
    )
    inter = await scenario.video(prompt="the sun sinks into the sea", image=frame)
    assert inter.response_type == 4 and not inter.ephemeral
    result = await scenario.result(inter)
    assert result.attachments
    (create,) = scenario.creates()
    sent = await gateway_image(create.json["image"])
    assert meets_kling_rules(sent) == ("PNG", 1280, 720)
    shown = frames_message(scenario, scenario.where(inter), scenario.short_id(inter))
    assert [a.filename.rsplit(".", 1)[1] for a in shown.attachments] == ["png"]
    assert shown.attachments[0].data == sent


async def test_a_15_mb_png_is_scaled_down_to_fit_kling(scenario: Scenario) -> None:
    """A 15 MB PNG (over Kling's 10 MB) is accepted and scaled down, same shape, until the
    gateway gets one that meets Kling's rules."""
    data = noisy_png(2600, 1950)
    assert len(data) > 15 * 1000 * 1000
    frame = scenario.discord.add_attachment(
        "photo.png", data, content_type="image/png", width=2600, height=1950
    )
    inter = await scenario.video(prompt="a crowded market at noon", image=frame)
    assert inter.response_type == 4 and not inter.ephemeral
    await scenario.result(inter)
    (create,) = scenario.creates()
    kind, width, height = meets_kling_rules(await gateway_image(create.json["image"]))
    assert kind == "PNG"
    assert width < 2600 and abs(width / height - 2600 / 1950) < 0.01


async def test_retry_works_after_the_frames_links_expired(scenario: Scenario) -> None:
    """Days later Discord's links are dead; Retry gets fresh ones from the message that keeps
    the frames, and the gateway gets frames it can fetch."""
    first, last = scenario.image("day.png"), scenario.image("night.png")
    inter = await scenario.video(prompt="day turns into night", image=first, end_image=last)
    result = await scenario.result(inter)
    members_link = first.url
    scenario.discord.expire_cdn_links()
    async with aiohttp.ClientSession() as http, http.get(members_link) as response:
        assert response.status == 404  # the member's own attachment link is dead now

    retry_id = next(c for c in result.custom_ids if c.startswith("vb:retry:"))
    retry = await (await scenario.discord.click(scenario.member, result, retry_id)).wait_response()
    assert not retry.ephemeral
    second = await scenario.result(retry)
    assert second.attachments
    old, new = scenario.creates()
    for key in ("image", "image_tail"):
        before = old.json["image"] if key == "image" else old.json["metadata"]["image_tail"]
        after = new.json["image"] if key == "image" else new.json["metadata"]["image_tail"]
        assert after != before
        meets_kling_rules(await gateway_image(after))
    # the retry is discussed in the first task's thread, where the frames are shown already
    assert scenario.where(retry) is scenario.where(inter)
    shown = frames_message(scenario, scenario.where(retry))
    assert {a.filename.split("-")[0] for a in shown.attachments} == {"image", "end"}


async def test_retry_when_the_frame_is_gone_tells_the_member(scenario: Scenario) -> None:
    """If the frames' message was deleted and the links expired, Retry says so and nothing
    broken is sent to the gateway."""
    frame = scenario.image("cat.png")
    inter = await scenario.video(prompt="the cat yawns", image=frame)
    result = await scenario.result(inter)
    kept = frames_message(scenario, scenario.where(inter), scenario.short_id(inter))
    scenario.discord.delete_message(kept)
    scenario.discord.expire_cdn_links()

    retry_id = next(c for c in result.custom_ids if c.startswith("vb:retry:"))
    retry = await (await scenario.discord.click(scenario.member, result, retry_id)).wait_response()
    told = await scenario.result(retry)
    assert "no longer available" in told.content
    assert "cat.png" in told.content
    assert f"<@{scenario.member.user.id}>" in told.content
    assert len(scenario.creates()) == 1  # only the first task reached the gateway


async def test_two_large_frames_are_kept_together_within_the_upload_limit(
    scenario: Scenario,
) -> None:
    """Two 7 MB photos (each fine for Kling) would not fit one 10 MiB upload together: both are
    scaled so the message that keeps them can be posted, and the gateway gets their links."""
    first_data, last_data = noisy_png(1530, 1530), noisy_png(1530, 1530)
    assert len(first_data) > 6.5 * 1000 * 1000
    first = scenario.discord.add_attachment("a.png", first_data, width=1530, height=1530)
    last = scenario.discord.add_attachment("b.png", last_data, width=1530, height=1530)
    inter = await scenario.video(prompt="a door opens", image=first, end_image=last)
    await scenario.result(inter)
    (create,) = scenario.creates()
    assert create.json["image"].startswith("http")
    assert create.json["metadata"]["image_tail"].startswith("http")
    shown = frames_message(scenario, scenario.where(inter), scenario.short_id(inter))
    assert sum(len(a.data) for a in shown.attachments) <= 10 * 1024 * 1024
    for attachment in shown.attachments:
        meets_kling_rules(attachment.data)


async def test_without_attach_files_frames_go_inline_and_the_video_as_a_link(
    scenario: Scenario,
) -> None:
    """Where the bot may not upload files, the fixed frame reaches the gateway as raw base64
    (meeting Kling's rules), and the video comes as its link with the reason."""
    scenario.discord.set_channel_permissions(scenario.channel, allow_attach=False)
    frame = scenario.discord.add_attachment(
        "sunset.webp", webp_bytes(1280, 720), content_type="image/webp", width=1280, height=720
    )
    inter = await scenario.video(prompt="the sun sinks into the sea", image=frame)
    result = await scenario.result(inter)
    (create,) = scenario.creates()
    assert not create.json["image"].startswith(("http", "data:"))
    assert meets_kling_rules(await gateway_image(create.json["image"])) == ("PNG", 1280, 720)
    assert not result.attachments
    assert scenario.kling.base_url in result.content
    assert "Attach Files" in result.content
    assert f"<@{scenario.member.user.id}>" in result.content

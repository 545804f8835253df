"""/video from real interaction payloads: the public status embed and its thread, or an
ephemeral refusal that says what is wrong, with nothing stored and nothing sent to the
gateway."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest

from cogs.errors import GENERIC

from .harness import ADMIN, ALICE, BOB, GENERAL, GUILD, Cogs
from .payloads import Attachment, Person, Place, snowflake

MakeCogs = Callable[..., Awaitable[Cogs]]
THREADS = r"/channels/\d+/messages/\d+/threads"


async def refused(cogs: Cogs, who: Person = ALICE, where: Place = GENERAL, **values: Any) -> str:
    """The refusal's text, after checking it is ephemeral and nothing was stored or sent."""
    stored = len(cogs.store.tasks)
    outcome = await cogs.slash("video", who, where, **values)
    assert outcome.type == 4
    assert outcome.ephemeral, f"a refusal in public: {outcome.text}"
    assert not outcome.made("POST", THREADS)
    await cogs.service.drain()
    assert len(cogs.store.tasks) == stored
    assert cogs.gateway.created == [] or stored
    return outcome.text


async def test_video_answers_publicly_with_the_status_embed_and_opens_a_thread(
    cogs: Cogs,
) -> None:
    outcome, task = await cogs.video(prompt="a red fox running through snow")
    assert outcome.type == 4
    assert not outcome.ephemeral
    assert "a red fox running through snow" in outcome.text
    assert task.short_id in outcome.text
    [thread] = outcome.made("POST", rf"/channels/{GENERAL.channel_id}/messages/\d+/threads")
    assert thread.body["name"].endswith("a red fox running through snow")
    assert task.thread_id == int(thread.path.split("/")[4])
    assert task.status_message_id == int(thread.path.split("/")[4])
    assert [r.prompt for r in cogs.gateway.created] == ["a red fox running through snow"]


async def test_every_option_reaches_the_gateway(cogs: Cogs) -> None:
    await cogs.video(
        prompt="a harbour at dusk",
        mode="pro",
        duration=10,
        aspect_ratio="9:16",
        negative_prompt="blur",
        cfg_scale=0.25,
        camera="zoom_in",
        camera_strength=7,
    )
    [sent] = cogs.gateway.created
    assert (sent.mode, sent.duration, sent.aspect_ratio) == ("pro", 10, "9:16")
    assert (sent.negative_prompt, sent.cfg_scale) == ("blur", 0.25)
    assert (sent.camera, sent.camera_strength) == ("zoom_in", 7)


async def test_an_image_goes_to_the_gateway_as_its_attachment_link(cogs: Cogs) -> None:
    frame = Attachment("cat.png", "image/png", width=1024, height=1024)
    _, task = await cogs.video(prompt="the cat blinks", image=frame)
    [sent] = cogs.gateway.created
    assert task.request.image is not None
    assert sent.image == task.request.image.url
    assert f"/{frame.id}/cat.png?" in sent.image


@pytest.mark.parametrize(
    ("attachment", "says"),
    [
        (Attachment("anim.gif", "image/gif"), "PNG, JPEG or WebP"),
        (Attachment("photo.heic", "image/heic"), "PNG, JPEG or WebP"),
        (Attachment(size=51 * 1024 * 1024), "the limit is 50 MB"),
        (Attachment(width=200, height=200), "at least 300 px"),
        (Attachment(width=3000, height=1000), "between 1:2.5 and 2.5:1"),
    ],
)
async def test_a_bad_image_is_refused_with_the_reason(
    cogs: Cogs, attachment: Attachment, says: str
) -> None:
    assert says in await refused(cogs, prompt="a cat", image=attachment)


async def test_a_bad_last_frame_is_named(cogs: Cogs) -> None:
    text = await refused(
        cogs, prompt="a cat", image=Attachment(), end_image=Attachment(width=100, height=100)
    )
    assert "`end_image`" in text and "at least 300 px" in text


async def test_a_last_frame_needs_a_first_frame(cogs: Cogs) -> None:
    assert "attach `image` too" in await refused(cogs, prompt="a cat", end_image=Attachment())


async def test_a_camera_move_and_a_last_frame_do_not_mix(cogs: Cogs) -> None:
    text = await refused(
        cogs, prompt="a cat", image=Attachment(), end_image=Attachment(), camera="pan_left"
    )
    assert "camera move can't be combined" in text


async def test_a_prompt_of_spaces_is_empty(cogs: Cogs) -> None:
    assert "prompt is empty" in await refused(cogs, prompt="   ")


async def test_over_the_active_limit_the_member_is_told_how_to_free_a_slot(
    make_cogs: MakeCogs,
) -> None:
    cogs = await make_cogs(max_active_tasks_per_user=1)
    await cogs.video(prompt="first")
    text = await refused(cogs, prompt="second")
    assert "You already have 1 videos in progress (the limit is 1)" in text
    assert "`/cancel`" in text
    await cogs.video(BOB, prompt="another member is not limited by alice's task")


async def test_over_the_daily_limit(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(daily_tasks_per_user=1, max_active_tasks_per_user=0)
    await cogs.video(prompt="first")
    assert "all 1 videos for today" in await refused(cogs, prompt="second")


async def test_over_the_server_budget_the_cost_and_what_is_left_are_named(
    make_cogs: MakeCogs,
) -> None:
    cogs = await make_cogs(daily_server_credits=1.0)
    text = await refused(cogs, prompt="a cat", mode="pro")
    assert "costs 2 credits" in text and "only 1 of its 1 credit for today left" in text
    assert "A 5-second std video costs 1 credit and would fit." in text


async def test_outside_the_allowed_channels_the_member_is_told_where(
    make_cogs: MakeCogs,
) -> None:
    art = snowflake()
    cogs = await make_cogs(allowed_channel_ids=frozenset({art}))
    text = await refused(cogs, prompt="a cat")
    assert f"can't be used here. Try it in <#{art}>" in text
    await cogs.video(where=Place(GUILD, art, name="art"), prompt="allowed in #art")


async def test_a_thread_of_an_allowed_channel_is_allowed(make_cogs: MakeCogs) -> None:
    cogs = await make_cogs(allowed_channel_ids=frozenset({GENERAL.channel_id}))
    outcome, task = await cogs.video(where=GENERAL.thread(snowflake()), prompt="in a thread")
    assert not outcome.made("POST", THREADS), "no thread inside a thread"
    assert task.thread_id is None


async def test_without_an_allowed_role_the_member_is_told_to_ask(make_cogs: MakeCogs) -> None:
    """The interaction's guild is not in discord.py's cache here (no GUILD_CREATE): the member's
    role ids still come from the payload (they were dropped before, refusing carol too)."""
    artists = snowflake()
    cogs = await make_cogs(allowed_role_ids=frozenset({artists}))
    text = await refused(cogs, prompt="a cat")
    assert f"only for members with one of these roles: <@&{artists}>" in text
    await cogs.video(Person(snowflake(), "carol", roles=(artists,)), prompt="carol may")


async def test_an_allowed_role_works_in_a_cached_guild_too(make_cogs: MakeCogs) -> None:
    """With the server's roles known from GUILD_CREATE (the usual case once connected)."""
    artists = snowflake()
    cogs = await make_cogs(allowed_role_ids=frozenset({artists}))
    cogs.guild_available({artists: "artists", snowflake(): "others"})
    assert "only for members with one of these roles" in await refused(cogs, prompt="bob")
    _, task = await cogs.video(Person(snowflake(), "carol", roles=(artists,)), prompt="carol")
    assert task.thread_id is not None


async def test_without_thread_permission_the_channel_is_used(cogs: Cogs) -> None:
    where = Place(GUILD, GENERAL.channel_id, app_permissions=GENERAL.app_permissions & ~(1 << 35))
    outcome, task = await cogs.video(where=where, prompt="no threads here")
    assert not outcome.made("POST", THREADS)
    assert task.thread_id is None and task.target_channel_id == GENERAL.channel_id


async def test_a_thread_refused_by_discord_falls_back_to_the_channel(cogs: Cogs) -> None:
    cogs.rest.fail_next("POST", THREADS, 403, 50013, "Missing Permissions")
    outcome, task = await cogs.video(prompt="threads are refused")
    assert [c.status for c in outcome.made("POST", THREADS)] == [403]
    assert task.thread_id is None
    assert len(cogs.gateway.created) == 1, "the task is sent all the same"


async def test_a_thread_request_that_fails_on_the_way_leaves_the_task_in_the_channel(
    cogs: Cogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def dropped(*args: Any, **kwargs: Any) -> Any:
        raise aiohttp.ServerDisconnectedError()

    monkeypatch.setattr(discord.Message, "create_thread", dropped)
    outcome, task = await cogs.video(prompt="the connection drops on the thread")
    assert outcome.type == 4 and not outcome.ephemeral
    assert task.thread_id is None, "no thread: everything later goes to the channel"
    assert len(cogs.gateway.created) == 1, "the task is sent all the same"


async def test_in_a_dm_the_video_is_made_in_the_dm(cogs: Cogs) -> None:
    dm = Place(None, snowflake(), channel_type=1)
    outcome, task = await cogs.video(where=dm, prompt="a quiet dm")
    assert not outcome.made("POST", THREADS)
    assert task.guild_id is None and task.channel_id == dm.channel_id


async def test_a_server_default_is_used_when_the_option_is_left_out(cogs: Cogs) -> None:
    saved = await cogs.slash("settings defaults", ADMIN, duration=10, mode="pro")
    assert saved.ephemeral and "Saved" in saved.text
    _, task = await cogs.video(prompt="defaults from /settings")
    assert (task.request.duration, task.request.mode) == (10, "pro")


async def test_an_unexpected_error_gets_a_short_reply_and_is_logged(
    cogs: Cogs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire at /var/lib/secret.db")

    monkeypatch.setattr(cogs.store, "insert_within_limits", broken)
    with caplog.at_level(logging.ERROR, logger="cogs.errors"):
        outcome = await cogs.slash("video", prompt="a cat")
    assert outcome.type == 4 and outcome.ephemeral
    assert outcome.text == GENERIC
    assert "disk on fire" in caplog.text and "/video" in caplog.text
    assert cogs.gateway.created == []


async def test_while_shutting_down_the_member_is_asked_to_retry(cogs: Cogs) -> None:
    assert cogs.bot is not None
    cogs.bot.accepting = False
    outcome = await cogs.slash("video", prompt="a cat")
    assert outcome.ephemeral and "restarting" in outcome.text
    assert cogs.store.tasks == {}

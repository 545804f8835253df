"""The Discord simulator, proven with the real discord.py client (in-process and as a subprocess).

A tiny client defined here syncs ``/ping`` (with an attachment option), receives it through the
zlib-stream gateway, answers with an embed, opens a thread, uploads, edits, and serves a
persistent button. The rest checks the rules the simulator enforces the way Discord does.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.support.discord_sim import (
    DiscordSimulator,
    SimChannel,
    SimGuild,
    SimMember,
    SimulatorUsageError,
)
from tests.support.waiting import wait_until

from .conftest import StartBot
from .harness import BotProcess, patch_discord

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

Handler = Callable[[discord.Interaction, discord.Attachment | None, str], Awaitable[None]]


class RetryView(discord.ui.View):
    """A persistent view: fixed custom_id, no timeout, registered in setup_hook."""

    def __init__(self, client: MiniBot) -> None:
        super().__init__(timeout=None)
        self.client = client

    @discord.ui.button(label="Retry", style=discord.ButtonStyle.primary, custom_id="mini:retry")
    async def retry(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.client.clicks.append(interaction)
        await interaction.response.send_message("retrying", ephemeral=True)

    @discord.ui.button(label="Details", custom_id="mini:details")
    async def details(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.edit_message(content="details shown")  # type 7

    @discord.ui.button(label="Feedback", custom_id="mini:feedback")
    async def feedback(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_modal(FeedbackModal())  # type 9


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    comment: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Comment", custom_id="mini:comment"
    )

    def __init__(self) -> None:
        super().__init__(custom_id="mini:feedback-modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # type 6 for a modal opened from a message
        await interaction.followup.send(f"thanks: {self.comment.value}", ephemeral=True)


class MiniBot(discord.Client):
    """The smallest bot that exercises what the real one needs."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(self)
        self.errors: list[BaseException] = []
        self.clicks: list[discord.Interaction] = []
        self.seen: list[discord.Interaction] = []
        self.handler: Handler = self.default_handler
        self.handled = asyncio.Event()

        @self.tree.command(name="ping", description="Answer with an embed")
        @app_commands.describe(file="any file", mode="speed")
        async def ping(
            interaction: discord.Interaction,
            file: discord.Attachment | None = None,
            mode: Literal["fast", "slow"] = "fast",
        ) -> None:
            self.seen.append(interaction)
            try:
                await self.handler(interaction, file, mode)
            except Exception as exc:
                self.errors.append(exc)
                raise
            finally:
                self.handled.set()

        @self.tree.command(name="help", description="Say what this does")
        async def help_(interaction: discord.Interaction) -> None:
            self.seen.append(interaction)
            await interaction.response.send_message("help text", ephemeral=True)
            self.handled.set()

    async def setup_hook(self) -> None:
        self.add_view(RetryView(self))
        guild = discord.Object(id=self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)
        await self.tree.sync()  # global too, so /help works in DMs

    @staticmethod
    async def default_handler(
        interaction: discord.Interaction, file: discord.Attachment | None, mode: str
    ) -> None:
        await interaction.response.send_message("pong")

    async def run_handler(self, handler: Handler) -> None:
        self.handler = handler
        self.handled.clear()


@pytest.fixture
async def bot(discord_sim: DiscordSimulator, sim_guild: SimGuild) -> AsyncIterator[MiniBot]:
    with patch_discord(discord_sim):
        client = MiniBot(sim_guild.id)
        await client.login(discord_sim.token)
        runner = asyncio.create_task(client.connect())
        try:
            await discord_sim.wait_until_connected(timeout=10)
            yield client
        finally:
            await client.close()
            await asyncio.wait_for(runner, 10)


async def run(
    sim: DiscordSimulator,
    bot: MiniBot,
    user: SimMember,
    channel: SimChannel,
    handler: Handler,
    **options: Any,
):
    """Invoke /ping with ``handler`` as its body and wait until the handler finished."""
    await bot.run_handler(handler)
    inter = await sim.slash(user, channel, "ping", **options)
    await asyncio.wait_for(bot.handled.wait(), 10)
    return inter


# ----------------------------------------------------------------------------------------------
# the whole happy path
# ----------------------------------------------------------------------------------------------


async def test_ping_flow_embed_thread_upload_edit_and_persistent_button(
    discord_sim: DiscordSimulator,
    bot: MiniBot,
    sim_guild: SimGuild,
    sim_channel: SimChannel,
    sim_member: SimMember,
) -> None:
    sim = discord_sim
    att = sim.add_attachment("cat.png", PNG_BYTES, content_type="image/png", width=640, height=480)
    seen: dict[str, Any] = {}

    async def handler(
        interaction: discord.Interaction, file: discord.Attachment | None, mode: str
    ) -> None:
        assert file is not None
        seen.update(
            filename=file.filename,
            size=file.size,
            width=file.width,
            height=file.height,
            content_type=file.content_type,
            data=await file.read(),
            mode=mode,
            limit=interaction.filesize_limit,
            guild=interaction.guild_id,
            member=type(interaction.user),
        )
        embed = discord.Embed(title="Pong", description=f"{file.filename}, {file.size} bytes")
        await interaction.response.send_message(embed=embed, view=RetryView(bot))
        message = await interaction.original_response()
        thread = await message.create_thread(name="ping results")
        video = discord.File(io.BytesIO(b"\x00" * 5000), "video.mp4")
        sent = await thread.send("here is the video", file=video)
        thumb = discord.File(io.BytesIO(PNG_BYTES), "thumb.png")
        await sent.edit(attachments=[*sent.attachments, thumb])  # keep one, add one
        fetched = await interaction.channel.fetch_message(message.id)  # type: ignore[union-attr]
        await fetched.edit(embed=discord.Embed(title="Pong", description="done"))
        seen["thread_cached"] = bot.get_channel(thread.id) is not None

    inter = await run(sim, bot, sim_member, sim_channel, handler, file=att, mode="slow")
    assert not bot.errors
    assert seen["filename"] == "cat.png" and seen["data"] == PNG_BYTES
    assert (seen["width"], seen["height"], seen["content_type"], seen["mode"]) == (
        640,
        480,
        "image/png",
        "slow",
    )
    assert seen["limit"] == 10 * 1024 * 1024 and seen["guild"] == sim_guild.id
    assert seen["member"] is discord.Member
    assert seen["thread_cached"], "THREAD_CREATE reached the client's cache"

    # the interaction record
    assert inter.response_type == 4 and inter.ephemeral is False
    assert inter.response_latency is not None and inter.response_latency < 3
    status = inter.original
    assert status is not None and status in sim.channel_messages(sim_channel)
    assert status.embed is not None and status.embed["description"] == "done"
    assert [e.via for e in status.edits] == ["channel"]
    assert status.custom_ids == ["mini:retry", "mini:details", "mini:feedback"]

    # the thread, its parent and the upload
    thread = sim.thread_for(status)
    assert thread is not None and thread.id == status.id and thread.parent_id == sim_channel.id
    (posted,) = sim.channel_messages(thread)
    assert posted.content == "here is the video"
    assert [(a.filename, a.size) for a in posted.attachments] == [
        ("video.mp4", 5000),
        ("thumb.png", len(PNG_BYTES)),
    ]
    assert posted.attachments[0].data == b"\x00" * 5000 and posted.edits[0].via == "channel"
    upload_calls = sim.calls("POST", f"/channels/{thread.id}/messages")
    assert (
        upload_calls[0].files[0].filename == "video.mp4" and upload_calls[0].files[0].size == 5000
    )

    # the transport: zlib-stream, heartbeats answered, CDN hit recorded
    assert sim.gateway.connections[0].compression == "zlib-stream"
    assert sim.gateway_events("INTERACTION_CREATE") and sim.gateway_events("THREAD_CREATE")
    assert any(r.op == 11 for r in sim.gateway_log)
    assert sim.calls("GET", "/cdn/ephemeral-attachments/")
    assert sim.unknown_routes == [] and sim.internal_errors == []

    # the persistent button
    click = await sim.click(sim_member, status, "mini:retry")
    await click.wait_response()
    assert click.type == 3 and click.ephemeral is True
    assert [m.content for m in click.messages] == ["retrying"]
    assert (
        bot.clicks and bot.clicks[0].message is not None and bot.clicks[0].message.id == status.id
    )

    details = await (await sim.click(sim_member, status, "mini:details")).wait_response()
    assert details.response_type == 7 and details.original is status
    assert status.content == "details shown" and status.edits[-1].via == "interaction"

    feedback = await (await sim.click(sim_member, status, "mini:feedback")).wait_response()
    assert feedback.response_type == 9 and feedback.modal is not None
    assert feedback.modal["title"] == "Feedback"
    submit = await sim.submit_modal(sim_member, feedback, {"mini:comment": "nice"})
    await submit.wait_response()
    await sim.wait_for(lambda: submit.followups, 5)
    assert submit.type == 5 and submit.response_type == 6
    assert [(m.content, m.ephemeral) for m in submit.followups] == [("thanks: nice", True)]


async def test_commands_are_stored_and_checked_like_the_discord_client(
    discord_sim: DiscordSimulator,
    bot: MiniBot,
    sim_guild: SimGuild,
    sim_channel: SimChannel,
    sim_member: SimMember,
) -> None:
    sim = discord_sim
    guild_commands = sim.synced_commands(sim_guild)
    assert sorted(c["name"] for c in guild_commands) == ["help", "ping"]
    ping = next(c for c in guild_commands if c["name"] == "ping")
    assert [(o["name"], o["type"]) for o in ping["options"]] == [("file", 11), ("mode", 3)]
    assert sim.sync_count(sim_guild) == 1 and sim.sync_count() == 1
    with pytest.raises(SimulatorUsageError, match="not among"):
        await sim.slash(sim_member, sim_channel, "video", prompt="x")
    with pytest.raises(SimulatorUsageError, match="no option 'prompt'"):
        await sim.slash(sim_member, sim_channel, "ping", prompt="x")
    with pytest.raises(SimulatorUsageError, match="choices"):
        await sim.slash(sim_member, sim_channel, "ping", mode="warp")
    with pytest.raises(SimulatorUsageError, match="attachment"):
        await sim.slash(sim_member, sim_channel, "ping", file="cat.png")

    # responses really are application/json, exactly
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{sim.rest_base}/users/@me", headers={"Authorization": f"Bot {sim.token}"}
        ) as resp:
            assert resp.headers["Content-Type"] == "application/json"
        async with http.get(f"{sim.rest_base}/users/@me") as resp:
            assert resp.status == 401
        async with http.get(
            f"{sim.rest_base}/no/such/route", headers={"Authorization": f"Bot {sim.token}"}
        ) as resp:
            assert resp.status == 404 and await resp.json() == {
                "code": 0,
                "message": "404: Not Found",
            }
    assert [c.path for c in sim.unknown_routes] == ["/no/such/route"]


# ----------------------------------------------------------------------------------------------
# what a bot can get wrong
# ----------------------------------------------------------------------------------------------


def _embed_with_fields(count: int) -> discord.Embed:
    embed = discord.Embed(title="fields")
    for i in range(count):
        embed.add_field(name=f"n{i}", value="v")
    return embed


async def test_late_and_double_responses(
    discord_sim: DiscordSimulator, bot: MiniBot, sim_channel: SimChannel, sim_member: SimMember
) -> None:
    sim = discord_sim
    sim.interaction_deadline = 0.3  # Discord's 3.0 s, shortened to keep the test fast

    async def slow(
        interaction: discord.Interaction, file: discord.Attachment | None, mode: str
    ) -> None:
        seen = sim.interactions[interaction.id]  # answer once Discord has given up on it
        await wait_until(lambda: seen.timed_out, 5, what="the interaction's deadline to pass")
        await interaction.response.send_message("too late")

    late = await run(sim, bot, sim_member, sim_channel, slow)
    assert isinstance(bot.errors[-1], discord.NotFound) and bot.errors[-1].code == 10062
    assert late.late and late.timed_out and late.response_type is None
    assert [(r.status, r.code) for r in late.rejected] == [(404, 10062)]
    with pytest.raises(AssertionError, match="too late"):
        await late.wait_response(timeout=1)

    sim.interaction_deadline = 3.0
    inter = await run(sim, bot, sim_member, sim_channel, MiniBot.default_handler)
    await inter.wait_response()
    # discord.py refuses a second response locally, so send the second one by hand
    url = f"{sim.rest_base}/interactions/{inter.id}/{inter.token}/callback"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"type": 4, "data": {"content": "again"}}) as resp,
    ):
        assert resp.status == 400 and (await resp.json())["code"] == 40060
    assert inter.rejected[-1].code == 40060 and [m.content for m in inter.messages] == ["pong"]


async def test_message_and_embed_limits(
    discord_sim: DiscordSimulator, bot: MiniBot, sim_channel: SimChannel, sim_member: SimMember
) -> None:
    failures: list[discord.HTTPException] = []

    async def handler(
        interaction: discord.Interaction, file: discord.Attachment | None, mode: str
    ) -> None:
        for attempt in (
            {"content": "x" * 2001},
            {"embed": discord.Embed(title="t" * 257)},
            {"embed": discord.Embed(description="d" * 4097)},
            {"embed": _embed_with_fields(26)},
            {"embed": discord.Embed(title="t").add_field(name="n", value="v" * 1025)},
            {
                "embeds": [
                    discord.Embed(description="d" * 4000),
                    discord.Embed(description="d" * 2001),
                ]
            },
        ):
            try:
                await interaction.response.send_message(**attempt)
            except discord.HTTPException as exc:
                failures.append(exc)
        await interaction.response.send_message("x" * 2000)

    inter = await run(discord_sim, bot, sim_member, sim_channel, handler)
    assert [(f.status, f.code) for f in failures] == [(400, 50035)] * 6
    assert "content" in str(failures[0]) and "embeds.0.title" in str(failures[1])
    assert inter.response_type == 4 and len(inter.original.content) == 2000  # type: ignore[union-attr]


async def test_upload_limit_token_expiry_deleted_message_and_threads(
    discord_sim: DiscordSimulator,
    bot: MiniBot,
    sim_guild: SimGuild,
    sim_channel: SimChannel,
    sim_member: SimMember,
) -> None:
    sim = discord_sim
    sim.set_upload_limit(sim_guild, 1024)
    locked = sim.add_text_channel(sim_guild, "no-threads", allow_threads=False)
    errors: dict[str, discord.HTTPException] = {}
    seen: dict[str, Any] = {}

    async def attempt(name: str, coro: Awaitable[Any]) -> None:
        try:
            await coro
        except discord.HTTPException as exc:
            errors[name] = exc

    async def handler(
        interaction: discord.Interaction, file: discord.Attachment | None, mode: str
    ) -> None:
        seen["limit"] = interaction.filesize_limit
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("status", wait=True)
        # a followup's WebhookMessage has no guild in discord.py; the original response has
        message = await interaction.original_response()
        await attempt(
            "too_big",
            interaction.followup.send(file=discord.File(io.BytesIO(b"v" * 2048), "v.mp4")),
        )
        await interaction.followup.send(file=discord.File(io.BytesIO(b"v" * 1024), "fits.mp4"))
        await message.create_thread(name="first")
        await attempt("thread_twice", message.create_thread(name="second"))
        other = await bot.get_channel(locked.id).send("in a locked channel")  # type: ignore[union-attr]
        await attempt("no_permission", other.create_thread(name="nope"))
        sim.delete_message(other.id)
        await attempt("deleted", other.edit(content="edit after delete"))
        temporary = await interaction.followup.send("temporary", wait=True)
        await temporary.delete()
        sim.expire_interaction_tokens()
        await attempt("expired", interaction.followup.send("15 minutes later"))

    inter = await run(sim, bot, sim_member, sim_channel, handler)
    assert seen["limit"] == 1024
    assert (errors["too_big"].status, errors["too_big"].code) == (413, 40005)
    assert (errors["thread_twice"].status, errors["thread_twice"].code) == (400, 160004)
    assert (
        isinstance(errors["no_permission"], discord.Forbidden)
        and errors["no_permission"].code == 50013
    )
    assert isinstance(errors["deleted"], discord.NotFound) and errors["deleted"].code == 10008
    assert (errors["expired"].status, errors["expired"].code) == (401, 50027)
    # the first followup filled the deferred "thinking" message; the rest were new messages
    assert inter.response_type == 5 and inter.original is inter.messages[0]
    assert [(m.content, m.deleted) for m in inter.messages] == [
        ("status", False),
        ("", False),
        ("temporary", True),
    ]
    assert [a.filename for a in inter.messages[1].attachments] == ["fits.mp4"]
    assert not inter.original.loading  # type: ignore[union-attr]


async def test_rate_limits_are_honoured_by_discord_py(
    discord_sim: DiscordSimulator, bot: MiniBot, sim_channel: SimChannel
) -> None:
    sim = discord_sim
    sim.enable_rate_limit_headers(limit=50, window=1.0)
    sim.inject_rate_limit(f"POST /channels/{sim_channel.id}/messages", count=1, retry_after=0.25)
    channel = bot.get_channel(sim_channel.id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("after a 429")
    calls = sim.calls("POST", f"/channels/{sim_channel.id}/messages")
    assert [c.status for c in calls] == [429, 200] and calls[0].rate_limited
    assert calls[1].at - calls[0].at >= 0.25
    assert message.content == "after a 429"

    async with aiohttp.ClientSession() as http:
        sim.inject_rate_limit("GET /users/@me", count=1, retry_after=2.5)
        headers = {"Authorization": f"Bot {sim.token}"}
        async with http.get(f"{sim.rest_base}/users/@me", headers=headers) as resp:
            assert resp.status == 429
            assert resp.headers["Via"] == "1.1 google" and resp.headers["Retry-After"] == "3"
            assert resp.headers["X-RateLimit-Scope"] == "user"
            assert json.loads(await resp.text()) == {
                "message": "You are being rate limited.",
                "retry_after": 2.5,
                "global": False,
            }
        async with http.get(f"{sim.rest_base}/users/@me", headers=headers) as resp:
            assert resp.status == 200
            for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{name}" in resp.headers


def _row(*custom_ids: str) -> dict[str, Any]:
    buttons = [{"type": 2, "style": 1, "label": c[:10] or "x", "custom_id": c} for c in custom_ids]
    return {"type": 1, "components": buttons}


async def test_rules_checked_over_raw_http_and_the_cdn(
    discord_sim: DiscordSimulator, sim_guild: SimGuild, sim_channel: SimChannel
) -> None:
    """Rules discord.py already checks locally, sent by hand; the CDN's signed links."""
    sim = discord_sim
    auth = {"Authorization": f"Bot {sim.token}"}
    url = f"{sim.rest_base}/channels/{sim_channel.id}/messages"
    bad_bodies = {
        "six rows": {"components": [_row(f"r{i}") for i in range(6)]},
        "six buttons": {"components": [_row(*(f"b{i}" for i in range(6)))]},
        "long custom_id": {"components": [_row("x" * 101)]},
        "duplicate custom_id": {"components": [_row("same", "same")]},
        "eleven embeds": {"embeds": [{"title": str(i)} for i in range(11)]},
        "empty field": {"embeds": [{"fields": [{"name": "n", "value": ""}]}]},
    }
    async with aiohttp.ClientSession(headers=auth) as http:
        for name, body in bad_bodies.items():
            async with http.post(url, json=body) as resp:
                assert (resp.status, (await resp.json())["code"]) == (400, 50035), name
        async with http.post(url, json={"content": ""}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (400, 50006)
        async with http.post(url, json={"content": "ok", "components": [_row("a", "b")]}) as resp:
            message_id = (await resp.json())["id"]
        thread_url = f"{url}/{message_id}/threads"
        async with http.post(thread_url, json={"name": "t"}) as resp:
            assert resp.status == 201
        async with http.post(
            f"{sim.rest_base}/channels/{message_id}/threads", json={"name": "x"}
        ) as r:
            assert (r.status, (await r.json())["code"]) == (400, 50024), "no thread in a thread"

        sim.delete_channel(sim_channel)
        async with http.post(url, json={"content": "gone"}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (404, 10003)
        assert sim.threads() == [], "a deleted channel takes its threads along"

        # the declared metadata is what the interaction says; the CDN serves the real bytes
        att = sim.add_attachment("big.png", b"tiny", content_type="image/png", size=20_000_000)
        assert att.payload()["size"] == 20_000_000 and "ex=" in att.url and "hm=" in att.url
        async with http.get(att.url) as resp:
            assert resp.headers["Content-Type"] == "image/png" and await resp.read() == b"tiny"
        async with http.get(att.url.replace("hm=", "hm=0")) as resp:
            assert resp.status == 404
        sim.expire_attachment_urls(att)
        async with http.get(att.url) as resp:
            assert resp.status == 404


async def test_history_fetch_and_delete(
    discord_sim: DiscordSimulator, bot: MiniBot, sim_channel: SimChannel
) -> None:
    channel = bot.get_channel(sim_channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"m{i}") for i in range(5)]
    newest = [m.content async for m in channel.history(limit=3)]
    after = [m.content async for m in channel.history(limit=10, after=sent[1])]
    before = [m.content async for m in channel.history(limit=2, before=sent[3])]
    around = [m.content async for m in channel.history(limit=3, around=sent[2])]
    assert newest == ["m4", "m3", "m2"] and before == ["m2", "m1"]
    assert after == ["m2", "m3", "m4"] and sorted(around) == ["m1", "m2", "m3"]
    assert (await channel.fetch_message(sent[0].id)).content == "m0"
    await sent[0].delete()
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent[0].id)
    contents = [m.content for m in discord_sim.channel_messages(sim_channel)]
    assert contents == ["m1", "m2", "m3", "m4"]


async def test_dm_interaction_shape(
    discord_sim: DiscordSimulator, bot: MiniBot, sim_member: SimMember
) -> None:
    sim = discord_sim
    dm = sim.dm_channel(sim_member)
    inter = await sim.slash(sim_member, dm, "help")
    await inter.wait_response()
    seen = bot.seen[-1]
    assert seen.guild is None and seen.guild_id is None
    assert isinstance(seen.channel, discord.DMChannel)
    assert type(seen.user) is discord.User and seen.user.id == sim_member.id
    assert "guild_id" not in inter.payload and inter.payload["context"] == 1
    assert inter.ephemeral is True and inter.messages[0].channel is dm


async def test_gateway_resume_after_reconnect_and_new_session_after_restart(
    discord_sim: DiscordSimulator,
    bot: MiniBot,
    sim_guild: SimGuild,
    sim_channel: SimChannel,
    sim_member: SimMember,
) -> None:
    sim = discord_sim
    first = sim.gateway.active
    await sim.gateway_reconnect()
    await sim.wait_for(lambda: sim.gateway_events("RESUMED"), 10)
    assert sim.gateway.active is first and first is not None and first.resumes == 1

    async def with_button(
        interaction: discord.Interaction, file: discord.Attachment | None, mode: str
    ) -> None:
        await interaction.response.send_message("pong", view=RetryView(bot))

    inter = await (await run(sim, bot, sim_member, sim_channel, with_button)).wait_response()
    status = inter.original
    assert status is not None
    with pytest.raises(SimulatorUsageError, match="no such component"):
        await sim.click(sim_member, status, "nope")

    # a second client (think: the bot restarted) gets a new session, and the persistent
    # button on the old message works through it
    await bot.close()
    with patch_discord(sim):
        second = MiniBot(sim_guild.id)
        await second.login(sim.token)
        runner = asyncio.create_task(second.connect())
        try:
            session = await sim.wait_until_connected(timeout=10)
            assert session is not first and sim.gateway.active is session
            click = await (await sim.click(sim_member, status, "mini:retry")).wait_response()
            assert second.clicks and not bot.clicks
            assert click.messages[0].content == "retrying" and click.ephemeral
        finally:
            await second.close()
            await asyncio.wait_for(runner, 10)


# ----------------------------------------------------------------------------------------------
# out of process: the harness's sitecustomize, SIGKILL, restart
# ----------------------------------------------------------------------------------------------

TINY_BOT = textwrap.dedent(
    """
    import os
    import discord
    from discord import app_commands

    rest, cdn = discord.http.Route.BASE, discord.asset.Asset.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    print("REST", rest, "GATEWAY", gateway, "CDN", cdn, flush=True)

    class Tiny(discord.Client):
        def __init__(self):
            super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)
            self.tree = app_commands.CommandTree(self)

            @self.tree.command(name="ping", description="pong")
            async def ping(interaction: discord.Interaction):
                await interaction.response.send_message(f"pong from {os.getpid()}")

        async def setup_hook(self):
            for guild_id in filter(None, os.environ.get("DISCORD_GUILD_IDS", "").split(",")):
                self.tree.copy_global_to(guild=discord.Object(int(guild_id)))
                await self.tree.sync(guild=discord.Object(int(guild_id)))

        async def on_ready(self):
            print("READY", self.user.name, [g.name for g in self.guilds], flush=True)

    Tiny().run(os.environ["DISCORD_TOKEN"], log_handler=None)
    """
)


async def test_subprocess_is_patched_by_sitecustomize_and_survives_sigkill(
    discord_sim: DiscordSimulator,
    start_bot: StartBot,
    sim_channel: SimChannel,
    sim_member: SimMember,
    tmp_path: Path,
) -> None:
    """The harness's ``start_bot`` with a tiny script instead of bot.py: patched URLs,
    SIGKILL, then a new process gets a new gateway session and answers."""
    sim = discord_sim
    script = tmp_path / "tiny_bot.py"
    script.write_text(TINY_BOT)

    first = await start_bot(args=[str(script)], timeout=20)
    await first.wait_for_log("READY")
    assert f"REST {sim.rest_base} GATEWAY {sim.gateway_url} CDN {sim.cdn_base}" in first.logs
    inter = await (await sim.slash(sim_member, sim_channel, "ping")).wait_response()
    assert inter.messages[0].content == f"pong from {first.pid}"
    first.kill()
    assert await first.wait_exit(5) == -signal.SIGKILL

    second = await start_bot(args=[str(script)], timeout=20)
    assert len(sim.sessions) == 2 and sim.gateway.active is sim.sessions[1]
    inter = await (await sim.slash(sim_member, sim_channel, "ping")).wait_response()
    assert inter.messages[0].content == f"pong from {second.pid}"
    assert await second.stop() in (0, -signal.SIGTERM)


async def test_sitecustomize_leaves_other_processes_alone(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import sys\nprint('discord' in sys.modules)\n")
    bot = BotProcess({}, args=[str(probe)], cwd=tmp_path)
    try:
        await bot.start()
        assert await bot.wait_exit(10) == 0
        assert bot.logs.strip() == "False", "without DISCORD_SIM_* nothing is imported"
    finally:
        await bot.close()

"""/status, /cancel and /help: ephemeral answers about tasks and the bot."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from videojobs.credits import credits_text
from videojobs.models import camera_label
from videojobs.policy import Policy

from . import render
from .front import Front, requester_of


class StatusCog(commands.Cog):
    def __init__(self, front: Front) -> None:
        self.front = front

    @app_commands.command(name="status", description="Your videos in progress, or one task")
    @app_commands.describe(task="A task's short id (8 characters); leave empty for an overview")
    async def status(self, interaction: discord.Interaction, task: str | None = None) -> None:
        requester = requester_of(interaction)
        now = render.now_utc()
        if task:
            found = await self.front.service.find(task, requester)
            embed = render.details_embed(found, now)
        else:
            embed = render.overview_embed(await self.front.service.overview(requester), now)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="cancel", description="Stop waiting for one of your videos")
    @app_commands.describe(task="The task's short id (8 characters), as shown by /status")
    async def cancel(self, interaction: discord.Interaction, task: str) -> None:
        cancelled = await self.front.service.cancel(task, requester_of(interaction))
        await interaction.response.send_message(
            f"Cancelled `{cancelled.short_id}`. The video service can't stop a video it has "
            "started, but the bot stopped waiting for it and your slot is free again.",
            ephemeral=True,
        )

    @app_commands.command(name="help", description="How to make videos with this bot")
    async def help(self, interaction: discord.Interaction) -> None:
        policy = await self.front.policies.for_guild(interaction.guild_id)
        await interaction.response.send_message(embed=help_embed(policy), ephemeral=True)


def help_embed(policy: Policy) -> discord.Embed:
    """What each command does, with examples, and the limits in force in this server."""
    embed = discord.Embed(
        title="Making videos",
        colour=discord.Colour.blurple(),
        description=(
            "`/video` turns a prompt, and optionally a first and a last frame, into a short "
            "video. The bot answers with a status message and a thread, shows progress there, "
            "and posts the video in the thread with a mention when it is ready."
        ),
    )
    examples = (
        "**Text to video**\n`/video prompt: a red fox running through snow at dawn`\n"
        "**Image to video**\n`/video prompt: the statue turns its head image: statue.png`\n"
        "**First and last frame**\n`/video prompt: day turns to night image: day.png "
        "end_image: night.png`\n"
        "**Camera move**\n`/video prompt: a quiet harbour at dusk camera: zoom in "
        "camera_strength: 7`"
    )
    embed.add_field(name="Examples", value=examples, inline=False)
    embed.add_field(
        name="Options",
        value=render.clip(
            "`mode` std or pro · `duration` 5 or 10 s · `aspect_ratio` 16:9, 9:16, 1:1 · "
            "`negative_prompt` what to avoid · `cfg_scale` 0-1 · `camera` "
            f"{', '.join(camera_label(c) for c in ('zoom_in', 'pan_left', 'tilt_up'))} and more"
            f" (not with end_image) · `model` {render.clip(', '.join(policy.models), 300)}\n"
            "Images: PNG, JPEG or WebP, at most 50 MB, both sides at least 300 px, aspect "
            "between 1:2.5 and 2.5:1 (the bot converts WebP and shrinks images over 10 MB "
            "for the video service).",
            FIELD_LIMIT,
        ),
        inline=False,
    )
    embed.add_field(
        name="Other commands",
        value=(
            "`/status` your videos in progress, recent results and limits left · "
            "`/status task:<id>` one task's details · `/cancel task:<id>` stop waiting for a "
            "video and free its slot · `/history` your finished videos here, ten to a page · "
            "`/help` this page\n"
            "Under each result: **Retry** (same settings and frames), **Remix** (edit the "
            "prompt and negative prompt, same settings and frames), **Details**\n"
            "Server admins: `/settings` this server's defaults, limits, channels and roles · "
            "`/queue` every unfinished video here, to cancel any"
        ),
        inline=False,
    )
    embed.add_field(name="Limits here", value=limits_text(policy), inline=False)
    return embed


FIELD_LIMIT = 1024


def limits_text(policy: Policy) -> str:
    """The rules in force in this server, from its policy."""
    parts = [
        _limit(policy.max_active, "videos at a time per member"),
        _limit(policy.max_daily, "per member per day (UTC)"),
    ]
    costs = " · ".join(f"{m} {credits_text(c)}" for m, c in policy.task_costs)
    if policy.has_budget:
        parts.append(
            f"{credits_text(policy.daily_server_credits)} credits per day for the whole server "
            f"(UTC); a video costs per 5 seconds: {costs}"
        )
    parts.append(
        f"defaults: {policy.mode}, {policy.duration} s, {policy.aspect_ratio}, {policy.model}"
    )
    if policy.allowed_channel_ids:
        parts.append(f"`/video` works in {_some(policy.allowed_channel_ids, '<#{}>')}")
    if policy.allowed_role_ids:
        parts.append(f"`/video` is for {_some(policy.allowed_role_ids, '<@&{}>')}")
    parts.append(
        f"a video not ready after {policy.task_timeout_minutes:g} minutes is reported as timed out"
    )
    return render.clip(" · ".join(parts), FIELD_LIMIT)


def _some(ids: frozenset[int], shape: str, shown: int = 8) -> str:
    """A few mentions (an embed field holds 1024 characters), and how many more there are."""
    first = ", ".join(shape.format(i) for i in sorted(ids)[:shown])
    more = len(ids) - shown
    return first if more <= 0 else f"{first} and {more} more"


def _limit(n: int, what: str) -> str:
    return f"no limit on {what}" if n == 0 else f"{n} {what}"

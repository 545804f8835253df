"""/status, /cancel and /help: ephemeral answers about tasks and the bot."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from videojobs.models import camera_label

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
        await interaction.response.send_message(embed=help_embed(self.front), ephemeral=True)


def help_embed(front: Front) -> discord.Embed:
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
        value=(
            "`mode` std or pro · `duration` 5 or 10 s · `aspect_ratio` 16:9, 9:16, 1:1 · "
            "`negative_prompt` what to avoid · `cfg_scale` 0-1 · `camera` "
            f"{', '.join(camera_label(c) for c in ('zoom_in', 'pan_left', 'tilt_up'))} and more"
            f" (not with end_image) · `model` {', '.join(front.models)}\n"
            "Images: PNG or JPEG, at most 10 MB, both sides at least 300 px, aspect between "
            "1:2.5 and 2.5:1."
        ),
        inline=False,
    )
    embed.add_field(
        name="Other commands",
        value=(
            "`/status` your videos in progress, recent results and limits left · "
            "`/status task:<id>` one task's details · `/cancel task:<id>` stop waiting for a "
            "video and free its slot · `/help` this page"
        ),
        inline=False,
    )
    embed.add_field(
        name="Limits here",
        value=(
            f"{_limit(front.max_active, 'videos at a time per member')} · "
            f"{_limit(front.max_daily, 'per member per day (UTC)')} · a video not ready after "
            f"{front.task_timeout_minutes:g} minutes is reported as timed out"
        ),
        inline=False,
    )
    return embed


def _limit(n: int, what: str) -> str:
    return f"no limit on {what}" if n == 0 else f"{n} {what}"

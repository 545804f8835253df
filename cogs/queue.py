"""/queue: every unfinished video of the server, for its admins, with a menu to cancel any.

Ephemeral, paginated with Previous/Next buttons; the buttons and the menu are dynamic items
(their custom ids carry the page), so they keep working after a restart. Every press checks the
Manage Server permission again.
"""

from __future__ import annotations

import math
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from videojobs.models import VideoTask

from . import render
from .errors import reply_error
from .front import Front, front_of, require_manager
from .paging import PageButton

PAGE_SIZE = 10
COMMAND = "/queue"
NO_PINGS = discord.AllowedMentions.none()


class QueueCog(commands.Cog):
    def __init__(self, front: Front) -> None:
        self.front = front

    @app_commands.command(name="queue", description="Every unfinished video here (server admins)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def queue(self, interaction: discord.Interaction) -> None:
        require_manager(interaction, COMMAND)
        embed, view = await queue_page(self.front, interaction, 0)
        await interaction.response.send_message(
            embed=embed,
            view=view or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


def task_line(task: VideoTask, now: float) -> str:
    age = render.duration_text(now - task.created_at)
    return (
        f"`{task.short_id}` <@{task.requester_id}> · {task.status_label} · "
        f"{render.progress_bar(task.progress)} · {age} · {render.clip(task.request.prompt, 40)}"
    )


async def queue_page(
    front: Front, interaction: discord.Interaction, page: int
) -> tuple[discord.Embed, discord.ui.View | None]:
    """One page of the server's unfinished tasks, oldest first, and its controls."""
    assert interaction.guild_id is not None
    total = await front.service.store.count_unfinished(interaction.guild_id)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    tasks = await front.service.server_queue(
        interaction.guild_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    now = render.now_utc()
    embed = discord.Embed(
        title=f"Unfinished videos in this server: {total}",
        colour=discord.Colour.blurple(),
        description="\n".join(task_line(t, now) for t in tasks) or "Nothing is waiting.",
    )
    embed.set_footer(text=f"Page {page + 1} of {pages} · oldest first")
    if not tasks:
        return embed, None
    view = discord.ui.View(timeout=None)
    view.add_item(CancelMenu(page, tasks))
    if pages > 1:
        for button in QueuePageButton.pair(page, has_previous=page > 0, has_next=page + 1 < pages):
            view.add_item(button)
    return embed, view


class QueuePageButton(PageButton, template=r"vb:queue:(?P<way>prev|next):(?P<page>-?[0-9]{1,6})"):
    """Previous or Next: another page of the server's queue (admins only)."""

    prefix = "vb:queue"

    async def show(self, interaction: discord.Interaction, page: int) -> None:
        require_manager(interaction, COMMAND)
        embed, view = await queue_page(front_of(interaction.client), interaction, page)
        await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=NO_PINGS)


class CancelMenu(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"vb:queue-cancel:(?P<page>\d{1,6})"
):
    """Pick a task of the page to cancel it; its requester is told who did, in its thread."""

    def __init__(self, page: int, tasks: list[VideoTask] | None = None) -> None:
        options = [
            discord.SelectOption(
                label=render.clip(f"{t.short_id} · {t.state.label} · {t.request.prompt}", 100),
                value=t.short_id,
            )
            for t in tasks or []
        ] or [discord.SelectOption(label="-", value="-")]
        super().__init__(
            discord.ui.Select(
                custom_id=f"vb:queue-cancel:{page}",
                placeholder="Cancel a video…",
                options=options,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelMenu:
        return cls(int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            requester = require_manager(interaction, COMMAND)
            front = front_of(interaction.client)
            values = self.item.values  # filled in from the interaction by discord.py
            note = "Nothing picked."
            if values:
                name = discord.utils.escape_markdown(interaction.user.display_name)
                done = await front.service.cancel(str(values[0]), requester, by_name=name)
                note = (
                    f"Cancelled `{done.short_id}` (asked by <@{done.requester_id}>); "
                    "they were told in its thread."
                )
            embed, view = await queue_page(front, interaction, self.page)
            await interaction.response.edit_message(
                content=note, embed=embed, view=view, allowed_mentions=NO_PINGS
            )
        except Exception as exc:
            await reply_error(interaction, exc)

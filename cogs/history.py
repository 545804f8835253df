"""/history: the member's finished tasks in this server, newest first, ten to a page, with
Previous and Next buttons that keep working after a restart (the page is in the custom id)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from videojobs.history import HistoryPage
from videojobs.models import VideoTask

from . import render
from .errors import reply_error
from .front import Front, front_of, requester_of

PROMPT_CHARS = 80


class HistoryCog(commands.Cog):
    def __init__(self, front: Front) -> None:
        self.front = front

    @app_commands.command(name="history", description="Your finished videos in this server")
    async def history(self, interaction: discord.Interaction) -> None:
        page = await self.front.history.page(requester_of(interaction), 0)
        await interaction.response.send_message(
            embed=history_embed(page), view=HistoryView(page), ephemeral=True
        )


class HistoryView(discord.ui.View):
    def __init__(self, page: HistoryPage) -> None:
        super().__init__(timeout=None)
        self.add_item(HistoryButton("prev", page.page - 1, disabled=not page.has_previous))
        self.add_item(HistoryButton("next", page.page + 1, disabled=not page.has_next))


class HistoryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"vb:history:(?P<way>prev|next):(?P<page>-?[0-9]{1,6})",
):
    """Previous or Next: shows page `page` of the clicking member's history."""

    def __init__(self, way: str, page: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Previous" if way == "prev" else "Next",
                emoji="◀️" if way == "prev" else "▶️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"vb:history:{way}:{page}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> HistoryButton:
        return cls(match["way"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            history = front_of(interaction.client).history
            page = await history.page(requester_of(interaction), self.page)
            await interaction.response.edit_message(
                embed=history_embed(page), view=HistoryView(page)
            )
        except Exception as exc:
            await reply_error(interaction, exc)


def history_embed(page: HistoryPage) -> discord.Embed:
    embed = discord.Embed(title="Your finished videos here", colour=discord.Colour.blurple())
    if not page.tasks:
        embed.description = "You have no finished videos here yet. Make one with `/video`."
        return embed
    embed.description = "\n".join(history_line(task) for task in page.tasks)
    embed.set_footer(
        text=f"Page {page.page + 1} of {page.pages} · {page.total} videos · newest first"
    )
    return embed


def history_line(task: VideoTask) -> str:
    """`abcd1234` completed · <when> · [result](link)\n  prompt"""
    when = f"<t:{int(task.finished_at or task.updated_at)}:R>"
    link = render.jump_url(task)
    where = f" · [result]({link})" if link else ""
    prompt = discord.utils.escape_markdown(
        render.clip(" ".join(task.request.prompt.split()), PROMPT_CHARS)
    )
    return f"`{task.short_id}` **{task.state.label}** · {when}{where}\n{prompt}"

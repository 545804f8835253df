"""/history: the member's finished tasks in this server, newest first, ten to a page, with
Previous and Next buttons that keep working after a restart (the page is in the custom id)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from videojobs.history import HistoryPage
from videojobs.models import VideoTask

from . import render
from .front import Front, front_of, requester_of
from .paging import PageButton

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
        for button in HistoryButton.pair(
            page.page, has_previous=page.has_previous, has_next=page.has_next
        ):
            self.add_item(button)


class HistoryButton(PageButton, template=r"vb:history:(?P<way>prev|next):(?P<page>-?[0-9]{1,6})"):
    """Previous or Next: shows page `page` of the clicking member's history."""

    prefix = "vb:history"

    async def show(self, interaction: discord.Interaction, page: int) -> None:
        history = front_of(interaction.client).history
        shown = await history.page(requester_of(interaction), page)
        await interaction.response.edit_message(embed=history_embed(shown), view=HistoryView(shown))


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

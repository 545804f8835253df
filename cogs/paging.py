"""Previous / Next buttons for paged ephemeral lists (/history, /queue).

The page is in the custom id, so the buttons keep working after a restart. A subclass names its
custom id prefix and template and says how to show a page (`show`); errors go to the one error
handler."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

import discord

from .errors import reply_error


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """Subclass with `template=rf"{prefix}:(?P<way>prev|next):(?P<page>-?[0-9]{{1,6}})"`."""

    prefix: ClassVar[str]

    def __init__(self, way: str, page: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Previous" if way == "prev" else "Next",
                emoji="◀️" if way == "prev" else "▶️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{self.prefix}:{way}:{page}",
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    def pair(cls, page: int, *, has_previous: bool, has_next: bool) -> list[Self]:
        """The Previous and Next buttons around `page` (each disabled at its end)."""
        return [
            cls("prev", page - 1, disabled=not has_previous),
            cls("next", page + 1, disabled=not has_next),
        ]

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["way"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.show(interaction, self.page)
        except Exception as exc:
            await reply_error(interaction, exc)

    async def show(self, interaction: discord.Interaction, page: int) -> None:
        """Edit the message to show `page`."""
        raise NotImplementedError

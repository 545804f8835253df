"""One place that turns errors into ephemeral replies.

Domain errors (a broken rule, a limit, an unknown task) carry their own message for the member.
Anything else is logged with the task id, when there is one, and answered with a short generic
reply: no traceback or secret reaches Discord.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from videojobs.errors import VideoJobsError

log = logging.getLogger(__name__)

GENERIC = "Something went wrong on our side. It has been logged; please try again in a moment."


async def reply_error(interaction: discord.Interaction, error: BaseException) -> None:
    original = getattr(error, "original", None) or error.__cause__ or error
    if isinstance(original, VideoJobsError):
        text = str(original)
    elif isinstance(error, app_commands.TransformerError):
        text = f"That value for `{error.value!s:.50}` isn't valid here; pick one the menu offers."
    elif isinstance(error, app_commands.CheckFailure):
        text = "You can't use this command here."
    else:
        log.error(
            "unexpected error in %s (task %s)",
            _what(interaction),
            interaction.extras.get("task_id", "-"),
            exc_info=original,
        )
        text = GENERIC
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell the member about an error: %s", exc)


def install(tree: app_commands.CommandTree[discord.Client]) -> None:
    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await reply_error(interaction, error)

    tree.on_error = on_error  # type: ignore[method-assign]


def _what(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, object] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    return f"component {custom_id}" if custom_id else "an interaction"

"""/settings: a server's own rules for /video (server admins only).

Registered guild-only with the default member permission Manage Server; every handler checks
that permission again (`require_manager`), since a server can give the command to anyone in its
Integrations page. The values live in the database (`Policies`), so a change applies at once to
the next /video in every process.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice

from videojobs.credits import credits_text
from videojobs.errors import RequestRejected
from videojobs.models import ASPECT_RATIOS, DURATIONS, MODES
from videojobs.policy import (
    ACTIVE_PER_MEMBER,
    ASPECT_RATIO,
    CHANNELS,
    DAILY_PER_MEMBER,
    DAILY_SERVER_CREDITS,
    DURATION,
    KEYS,
    MODE,
    MODEL,
    ROLES,
    Policy,
)

from .errors import reply_error
from .front import Front, front_of, require_manager

COMMAND = "/settings"
ACTIONS = [Choice(name=a, value=a) for a in ("allow", "remove", "clear")]
NOTHING_CHANGED = discord.AllowedMentions.none()
TEXT_CHANNELS = (
    discord.ChannelType.text,
    discord.ChannelType.news,
    discord.ChannelType.forum,
    discord.ChannelType.voice,
    discord.ChannelType.stage_voice,
)


def value_text(key: str, value: Any) -> str:
    """A value as /settings shows it."""
    if key == CHANNELS:
        return ", ".join(f"<#{c}>" for c in sorted(value)) or "every channel"
    if key == ROLES:
        return ", ".join(f"<@&{r}>" for r in sorted(value)) or "everyone"
    if key in (ACTIVE_PER_MEMBER, DAILY_PER_MEMBER):
        return "no limit" if value == 0 else str(value)
    if key == DAILY_SERVER_CREDITS:
        return "no limit" if value == 0 else f"{credits_text(value)} credits"
    if key == DURATION:
        return f"{value} s"
    return str(value)


def source_text(policy: Policy, key: str) -> str:
    record = policy.record(key)
    if record is None:
        return "bot default"
    return f"this server · set by <@{record.changed_by}> <t:{int(record.changed_at)}:R>"


def settings_embed(policy: Policy, used_today: float | None = None) -> discord.Embed:
    """Every value with its source; with `used_today`, the credits spent this UTC day."""
    embed = discord.Embed(
        title="Settings for /video in this server", colour=discord.Colour.blurple()
    )
    for key in KEYS:
        value = f"**{value_text(key, policy.value(key))}**"
        if key == DAILY_SERVER_CREDITS and used_today is not None:
            value += f" ({credits_text(used_today)} used today)"
        embed.add_field(
            name=key,
            value=f"{value}\n{source_text(policy, key)}",
            inline=key not in (CHANNELS, ROLES),
        )
    costs = " · ".join(f"{m} {credits_text(c)}" for m, c in policy.task_costs)
    embed.set_footer(
        text=f"Credits per 5 seconds of video: {costs}. Change with /settings defaults, limits, "
        "channels, roles; /settings reset goes back to the bot's defaults."
    )
    return embed


async def _saved(interaction: discord.Interaction, policy: Policy, keys: list[str]) -> None:
    lines = [f"`{k}`: **{value_text(k, policy.value(k))}**" for k in keys]
    await interaction.response.send_message(
        "Saved; the next `/video` in this server uses it.\n" + "\n".join(lines),
        ephemeral=True,
        allowed_mentions=NOTHING_CHANGED,
    )


def build_settings_group(front: Front) -> app_commands.Group:
    """The /settings group, built at start-up because the model choices come from settings."""
    group = app_commands.Group(
        name="settings",
        description="This server's rules for /video (server admins)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @group.command(name="show", description="Every value, where it comes from, who changed it")
    async def show(interaction: discord.Interaction) -> None:
        require_manager(interaction, COMMAND)
        assert interaction.guild_id is not None
        policy = await front.policies.for_guild(interaction.guild_id)
        used = await front.service.credits_today(interaction.guild_id)
        await interaction.response.send_message(embed=settings_embed(policy, used), ephemeral=True)

    @group.command(name="defaults", description="What /video uses when a member leaves it out")
    @app_commands.describe(
        mode="std or pro",
        duration="Length in seconds",
        aspect_ratio="Frame shape",
        model="One of the models the bot offers",
    )
    @app_commands.choices(  # type: ignore[misc]  # str and int choices side by side
        mode=[Choice(name=m, value=m) for m in MODES],
        duration=[Choice(name=f"{d} seconds", value=d) for d in DURATIONS],
        aspect_ratio=[Choice(name=a, value=a) for a in ASPECT_RATIOS],
        model=[Choice(name=m, value=m) for m in front.models],
    )
    async def defaults(
        interaction: discord.Interaction,
        mode: str | None = None,
        duration: int | None = None,
        aspect_ratio: str | None = None,
        model: str | None = None,
    ) -> None:
        requester = require_manager(interaction, COMMAND)
        given = {MODE: mode, DURATION: duration, ASPECT_RATIO: aspect_ratio, MODEL: model}
        values = {k: v for k, v in given.items() if v is not None}
        assert interaction.guild_id is not None
        policy = await front.policies.change(interaction.guild_id, values, by=requester.user_id)
        await _saved(interaction, policy, list(values))

    @group.command(name="limits", description="Per member and per server limits (0 = no limit)")
    @app_commands.describe(
        active_per_member="Unfinished videos one member may have at once (0 = no limit)",
        daily_per_member="Videos one member may start per UTC day (0 = no limit)",
        daily_server_credits="Credits the whole server may spend per UTC day (0 = no limit)",
    )
    async def limits(
        interaction: discord.Interaction,
        active_per_member: int | None = None,
        daily_per_member: int | None = None,
        daily_server_credits: float | None = None,
    ) -> None:
        requester = require_manager(interaction, COMMAND)
        given = {
            ACTIVE_PER_MEMBER: active_per_member,
            DAILY_PER_MEMBER: daily_per_member,
            DAILY_SERVER_CREDITS: daily_server_credits,
        }
        values = {k: v for k, v in given.items() if v is not None}
        assert interaction.guild_id is not None
        policy = await front.policies.change(interaction.guild_id, values, by=requester.user_id)
        await _saved(interaction, policy, list(values))

    @group.command(name="channels", description="The channels where /video may be used")
    @app_commands.describe(action="allow, remove or clear the list", channel="The channel")
    @app_commands.choices(action=ACTIONS)
    async def channels(
        interaction: discord.Interaction,
        action: str,
        channel: app_commands.AppCommandChannel | None = None,
    ) -> None:
        requester = require_manager(interaction, COMMAND)
        assert interaction.guild_id is not None
        if channel is not None and channel.type not in TEXT_CHANNELS:
            raise RequestRejected(
                f"{channel.mention} is not a text channel; pick one where members can type "
                "`/video`. Nothing changed."
            )
        policy = await front.policies.change_list(
            interaction.guild_id,
            CHANNELS,
            action,
            channel.id if channel else None,
            by=requester.user_id,
        )
        await _saved(interaction, policy, [CHANNELS])

    @group.command(name="roles", description="The roles that may use /video")
    @app_commands.describe(action="allow, remove or clear the list", role="The role")
    @app_commands.choices(action=ACTIONS)
    async def roles(
        interaction: discord.Interaction, action: str, role: discord.Role | None = None
    ) -> None:
        requester = require_manager(interaction, COMMAND)
        assert interaction.guild_id is not None
        policy = await front.policies.change_list(
            interaction.guild_id, ROLES, action, role.id if role else None, by=requester.user_id
        )
        await _saved(interaction, policy, [ROLES])

    @group.command(name="reset", description="Everything back to the bot's defaults (asks first)")
    async def reset(interaction: discord.Interaction) -> None:
        require_manager(interaction, COMMAND)
        view = discord.ui.View(timeout=None)
        view.add_item(ResetButton(confirm=True))
        view.add_item(ResetButton(confirm=False))
        await interaction.response.send_message(
            "Put every setting of this server back to the bot's defaults? This can't be undone.",
            view=view,
            ephemeral=True,
        )

    return group


class ResetButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vb:settings-reset:(?P<yes>[01])"
):
    """The confirm (or keep) button of /settings reset; works after a restart too."""

    def __init__(self, *, confirm: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Reset everything" if confirm else "Keep my settings",
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=f"vb:settings-reset:{int(confirm)}",
            )
        )
        self.confirm = confirm

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResetButton:
        return cls(confirm=match["yes"] == "1")

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            require_manager(interaction, COMMAND)
            assert interaction.guild_id is not None
            if not self.confirm:
                await interaction.response.edit_message(content="Nothing changed.", view=None)
                return
            count = await front_of(interaction.client).policies.reset(interaction.guild_id)
            await interaction.response.edit_message(
                content=f"Done: {count} server settings removed; the bot's defaults apply "
                "again (see `/settings show`).",
                view=None,
            )
        except Exception as exc:
            await reply_error(interaction, exc)

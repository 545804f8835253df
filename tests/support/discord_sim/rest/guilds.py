"""Guilds, their channels, roles and members."""

from __future__ import annotations

from .. import errors as E
from .context import Ctx, Reply, route
from .lookups import guild_of


async def get_guild(ctx: Ctx) -> Reply:
    guild = guild_of(ctx)
    data = guild.base_payload()
    if ctx.query.get("with_counts") in ("1", "true", "True"):
        data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
    return Reply(200, data)


async def get_guild_channels(ctx: Ctx) -> Reply:
    return Reply(200, [c.payload() for c in guild_of(ctx).text_channels()])


async def get_guild_roles(ctx: Ctx) -> Reply:
    return Reply(200, [r.payload() for r in guild_of(ctx).roles.values()])


async def get_member(ctx: Ctx) -> Reply:
    guild = guild_of(ctx)
    member = guild.members.get(ctx.snowflake("user_id", E.UNKNOWN_MEMBER))
    if member is None:
        raise E.unknown(E.UNKNOWN_MEMBER)
    return Reply(200, member.payload())


ROUTES = [
    route("GET", "/guilds/{guild_id}", get_guild),
    route("GET", "/guilds/{guild_id}/channels", get_guild_channels),
    route("GET", "/guilds/{guild_id}/roles", get_guild_roles),
    route("GET", "/guilds/{guild_id}/members/{user_id}", get_member),
]

"""Application commands: the bot reads and bulk-overwrites them, globally or for one guild."""

from __future__ import annotations

from .. import errors as E
from ..errors import DiscordAPIError
from ..validation import validate_commands
from .context import Ctx, Reply, route


def command_scope(ctx: Ctx) -> int | None:
    if ctx.snowflake("application_id", E.UNKNOWN_APPLICATION) != ctx.sim.application_id:
        raise DiscordAPIError(403, E.MISSING_ACCESS, "Missing Access")
    if "guild_id" not in ctx.params:
        return None
    guild_id = ctx.snowflake("guild_id", E.UNKNOWN_GUILD)
    guild = ctx.sim.guilds.get(guild_id)
    if guild is None or guild.deleted:
        raise DiscordAPIError(403, E.MISSING_ACCESS, "Missing Access")
    return guild_id


async def get_commands(ctx: Ctx) -> Reply:
    return Reply(200, ctx.sim.synced_commands(command_scope(ctx)))


async def put_commands(ctx: Ctx) -> Reply:
    scope = command_scope(ctx)
    validate_commands(ctx.json)
    return Reply(200, ctx.sim._store_commands(scope, ctx.json))


ROUTES = [
    route("GET", "/applications/{application_id}/commands", get_commands),
    route("PUT", "/applications/{application_id}/commands", put_commands),
    route("GET", "/applications/{application_id}/guilds/{guild_id}/commands", get_commands),
    route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", put_commands),
]

"""The bot's own user, other users and DMs, the application, and where the gateway is."""

from __future__ import annotations

from .. import errors as E
from .context import Ctx, Reply, route


async def get_me(ctx: Ctx) -> Reply:
    user = ctx.sim.bot_user.payload()
    user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
    return Reply(200, user)


async def get_user(ctx: Ctx) -> Reply:
    user = ctx.sim.users.get(ctx.snowflake("user_id", E.UNKNOWN_USER))
    if user is None:
        raise E.unknown(E.UNKNOWN_USER)
    return Reply(200, user.payload())


async def create_dm(ctx: Ctx) -> Reply:
    user = ctx.sim.users.get(int(str(ctx.body.get("recipient_id", "0"))))
    if user is None:
        raise E.unknown(E.UNKNOWN_USER)
    return Reply(200, ctx.sim.dm_channel(user).payload())


async def get_application(ctx: Ctx) -> Reply:
    sim = ctx.sim
    return Reply(
        200,
        {
            "id": str(sim.application_id),
            "name": sim.bot_user.name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": sim.application_flags,
            "owner": sim.owner_user.payload(),
            "team": None,
            "bot": sim.bot_user.payload(),
            "rpc_origins": [],
            "redirect_uris": [],
            "tags": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(sim.guilds),
            "integration_types_config": {"0": {}},
        },
    )


async def get_gateway(ctx: Ctx) -> Reply:
    return Reply(200, {"url": ctx.sim.gateway_url})


async def get_gateway_bot(ctx: Ctx) -> Reply:
    return Reply(
        200,
        {
            "url": ctx.sim.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        },
    )


ROUTES = [
    route("GET", "/users/@me", get_me),
    route("GET", "/users/{user_id}", get_user),
    route("POST", "/users/@me/channels", create_dm),
    route("GET", "/oauth2/applications/@me", get_application),
    route("GET", "/applications/@me", get_application),
    route("GET", "/gateway", get_gateway, bot_auth=False),
    route("GET", "/gateway/bot", get_gateway_bot),
]

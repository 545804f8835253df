"""Channels and their messages: read, list, send (with files), edit, delete, typing."""

from __future__ import annotations

import asyncio

from .. import errors as E
from ..errors import DiscordAPIError, FormErrors
from ..models import MessageFlag
from .context import Ctx, Reply, route
from .lookups import channel_of, check_message, message_of, require_attach, require_send


async def get_channel(ctx: Ctx) -> Reply:
    return Reply(200, channel_of(ctx).payload())


async def typing(ctx: Ctx) -> Reply:
    channel_of(ctx)
    return Reply(204, None)


async def list_messages(ctx: Ctx) -> Reply:
    channel = channel_of(ctx)
    try:
        limit = int(ctx.query.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        errors = FormErrors()
        errors.add(["limit"], "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        errors.raise_if_any()
    visible = sorted(
        (
            m
            for m in ctx.sim.messages.values()
            if m.channel is channel and not m.deleted and not m.ephemeral
        ),
        key=lambda m: m.id,
    )
    if "around" in ctx.query:
        around = int(ctx.query["around"])
        half = limit // 2
        chosen = [m for m in visible if m.id < around][-half:] if half else []
        chosen += [m for m in visible if m.id >= around][: limit - len(chosen)]
    elif "after" in ctx.query:
        after = int(ctx.query["after"])
        chosen = [m for m in visible if m.id > after][:limit]
    else:
        before = int(ctx.query["before"]) if "before" in ctx.query else None
        candidates = [m for m in visible if before is None or m.id < before]
        chosen = candidates[-limit:]
    return Reply(200, [m.payload() for m in sorted(chosen, key=lambda m: m.id, reverse=True)])


async def create_message(ctx: Ctx) -> Reply:
    sim = ctx.sim
    channel = channel_of(ctx)
    require_send(ctx, channel)
    require_attach(ctx, channel)
    body = ctx.body
    check_message(ctx, body, creating=True, upload_limit=sim.upload_limit_for(channel))
    await hold_upload(ctx)
    message = sim._create_message(
        channel,
        body,
        ctx.uploads,
        author=sim.bot_user,
        via="channel",
        allowed_flags=MessageFlag.SUPPRESS_EMBEDS
        | MessageFlag.SUPPRESS_NOTIFICATIONS
        | MessageFlag.IS_COMPONENTS_V2,
    )
    return Reply(200, message.payload())


async def hold_upload(ctx: Ctx) -> None:
    """A slow upload (`upload_hold`): the message is created after the hold even when the
    client is gone by then, as Discord keeps what it received."""
    if ctx.uploads and ctx.sim.upload_hold > 0:
        ctx.sim.uploads_started += 1
        ctx.sim._notify()
        await asyncio.sleep(ctx.sim.upload_hold)


async def get_message(ctx: Ctx) -> Reply:
    channel = channel_of(ctx)
    return Reply(200, message_of(ctx, channel).payload())


async def edit_message(ctx: Ctx) -> Reply:
    sim = ctx.sim
    channel = channel_of(ctx)
    message = message_of(ctx, channel)
    if message.author is not sim.bot_user:
        raise DiscordAPIError(
            403, E.CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
        )
    check_message(ctx, ctx.body, creating=False, upload_limit=sim.upload_limit_for(channel))
    sim._edit_message(message, ctx.body, ctx.uploads, via="channel")
    return Reply(200, message.payload())


async def delete_message(ctx: Ctx) -> Reply:
    channel = channel_of(ctx)
    message = message_of(ctx, channel)
    if message.author is not ctx.sim.bot_user:
        raise E.missing_permissions()
    ctx.sim._delete_message(message)
    return Reply(204, None)


ROUTES = [
    route("GET", "/channels/{channel_id}", get_channel),
    route("POST", "/channels/{channel_id}/typing", typing),
    route("GET", "/channels/{channel_id}/messages", list_messages),
    route("POST", "/channels/{channel_id}/messages", create_message),
    route("GET", "/channels/{channel_id}/messages/{message_id}", get_message),
    route("PATCH", "/channels/{channel_id}/messages/{message_id}", edit_message),
    route("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message),
]

"""Followups and the messages an interaction token may read, edit and delete."""

from __future__ import annotations

from .. import errors as E
from .context import Ctx, Reply, route
from .lookups import check_message, interaction_of, token_message, token_post


async def followup(ctx: Ctx) -> Reply:
    sim = ctx.sim
    inter = interaction_of(ctx)
    if inter.response_type is None:
        raise E.unknown(E.UNKNOWN_WEBHOOK)
    if inter.channel.deleted:
        raise E.unknown(E.UNKNOWN_CHANNEL)
    body = ctx.body
    check_message(ctx, body, creating=True, upload_limit=inter.attachment_size_limit)
    original = inter.original
    if (
        inter.response_type == 5
        and original is not None
        and original.loading
        and not original.deleted
    ):
        # the first followup after a deferral fills the "thinking…" message; its own
        # ephemeral flag cannot change the deferral's visibility
        sim._edit_message(original, body, ctx.uploads, via="followup", finish_loading=True)
        return Reply(200, original.payload())
    message = token_post(ctx, inter, body, ctx.uploads, via="followup")
    inter.messages.append(message)
    sim._notify()
    if ctx.query.get("wait") in ("0", "false", "False"):
        return Reply(204, None)
    return Reply(200, message.payload())


async def get_webhook_message(ctx: Ctx) -> Reply:
    inter = interaction_of(ctx)
    return Reply(200, token_message(inter, ctx.params["message_id"]).payload())


async def edit_webhook_message(ctx: Ctx) -> Reply:
    inter = interaction_of(ctx)
    message = token_message(inter, ctx.params["message_id"])
    if message.channel.deleted:
        raise E.unknown(E.UNKNOWN_CHANNEL)
    check_message(ctx, ctx.body, creating=False, upload_limit=inter.attachment_size_limit)
    ctx.sim._edit_message(message, ctx.body, ctx.uploads, via="webhook", finish_loading=True)
    return Reply(200, message.payload())


async def delete_webhook_message(ctx: Ctx) -> Reply:
    inter = interaction_of(ctx)
    message = token_message(inter, ctx.params["message_id"])
    ctx.sim._delete_message(message)
    return Reply(204, None)


_TOKEN_MESSAGE = "/webhooks/{application_id}/{token}/messages/{message_id}"
ROUTES = [
    route("POST", "/webhooks/{application_id}/{token}", followup, bot_auth=False),
    route("GET", _TOKEN_MESSAGE, get_webhook_message, bot_auth=False),
    route("PATCH", _TOKEN_MESSAGE, edit_webhook_message, bot_auth=False),
    route("DELETE", _TOKEN_MESSAGE, delete_webhook_message, bot_auth=False),
]

"""What several routes share: finding the channel, message, guild or interaction a path names,
and the checks on a message with files."""

from __future__ import annotations

from .. import errors as E
from ..errors import DiscordAPIError, FieldPath
from ..interactions import SimInteraction
from ..models import MessageFlag, SimChannel, SimGuild, SimMessage
from ..validation import validate_message
from ..wire import JsonObject
from .context import Ctx, Upload

INTERACTION_FLAGS = (
    MessageFlag.EPHEMERAL
    | MessageFlag.SUPPRESS_EMBEDS
    | MessageFlag.SUPPRESS_NOTIFICATIONS
    | MessageFlag.IS_COMPONENTS_V2
)
"""The flags a message sent through an interaction token may set."""


def channel_of(ctx: Ctx) -> SimChannel:
    channel = ctx.sim.channels.get(ctx.snowflake("channel_id", E.UNKNOWN_CHANNEL))
    if channel is None or channel.deleted:
        raise E.unknown(E.UNKNOWN_CHANNEL)
    return channel


def message_of(ctx: Ctx, channel: SimChannel) -> SimMessage:
    message = ctx.sim.messages.get(ctx.snowflake("message_id", E.UNKNOWN_MESSAGE))
    if message is None or message.deleted or message.channel is not channel or message.ephemeral:
        raise E.unknown(E.UNKNOWN_MESSAGE)
    return message


def check_uploads(ctx: Ctx, limit: int) -> None:
    for upload in ctx.uploads:
        if len(upload.data) > limit:
            raise DiscordAPIError(413, E.REQUEST_ENTITY_TOO_LARGE, "Request entity too large")


def require_send(ctx: Ctx, channel: SimChannel) -> None:
    home = ctx.sim.permission_channel(channel)
    if home is not None and not home.allow_send:
        raise E.missing_permissions()


def require_attach(ctx: Ctx, channel: SimChannel) -> None:
    """Files need Attach Files (a thread follows its parent): 403 50013 without it."""
    home = ctx.sim.permission_channel(channel)
    if ctx.uploads and home is not None and not home.allow_attach:
        raise E.missing_permissions()


def interaction_of(ctx: Ctx) -> SimInteraction:
    sim = ctx.sim
    inter = sim._interactions_by_token.get(ctx.params["token"])
    if ctx.params["application_id"] != str(sim.application_id):
        raise E.unknown(E.UNKNOWN_WEBHOOK)
    if inter is None or inter.token_expired:
        raise E.invalid_webhook_token()
    ctx.record.interaction_id = inter.id
    return inter


def token_message(inter: SimInteraction, message_id: str) -> SimMessage:
    if message_id == "@original":
        if inter.response_type is None:
            raise E.unknown(E.UNKNOWN_WEBHOOK)
        message = inter.original
    else:
        message = next((m for m in inter.messages if str(m.id) == message_id), None)
    if message is None or message.deleted:
        raise E.unknown(E.UNKNOWN_MESSAGE)
    return message


def guild_of(ctx: Ctx) -> SimGuild:
    guild = ctx.sim.guilds.get(ctx.snowflake("guild_id", E.UNKNOWN_GUILD))
    if guild is None or guild.deleted:
        raise E.unknown(E.UNKNOWN_GUILD)
    return guild


def check_message(
    ctx: Ctx, payload: JsonObject, *, creating: bool, upload_limit: int, prefix: FieldPath = ()
) -> None:
    """Discord's checks on a message body (50035/50006), then on the size of each file (413)."""
    validate_message(payload, file_count=len(ctx.uploads), creating=creating, prefix=prefix)
    check_uploads(ctx, upload_limit)


def token_post(
    ctx: Ctx,
    inter: SimInteraction,
    payload: JsonObject,
    uploads: list[Upload],
    *,
    via: str,
    first: bool = False,
    allowed_flags: int = INTERACTION_FLAGS,
    allow_empty: bool = False,
) -> SimMessage:
    """A message the bot posts through an interaction's token: the first response (a slash
    command's is of type 20, and a deferral's "thinking…" may be empty) or a followup."""
    return ctx.sim._create_message(
        inter.channel,
        payload,
        uploads,
        author=ctx.sim.bot_user,
        via=via,
        interaction=inter,
        allowed_flags=allowed_flags,
        mtype=20 if first and inter.type == 2 else 0,
        allow_empty=allow_empty,
    )

"""Threads: opened on a message, or on their own in a text channel."""

from __future__ import annotations

from .. import errors as E
from ..errors import DiscordAPIError, FormErrors
from ..models import ChannelType, MessageFlag
from ..wire import JsonObject
from .context import Ctx, Reply, route
from .lookups import channel_of, message_of


def thread_name(body: JsonObject) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        errors = FormErrors()
        errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        errors.raise_if_any()
    return str(name)


def archive_duration(body: JsonObject) -> int:
    value = body.get("auto_archive_duration") or 1440
    if value not in (60, 1440, 4320, 10080):
        errors = FormErrors()
        errors.add(
            ["auto_archive_duration"],
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        )
        errors.raise_if_any()
    return int(value)


async def thread_from_message(ctx: Ctx) -> Reply:
    sim = ctx.sim
    channel = channel_of(ctx)
    if channel.type != ChannelType.TEXT:
        raise E.wrong_channel_type()
    message = message_of(ctx, channel)
    if not channel.allow_threads:
        raise E.missing_permissions()
    if message.thread is not None:
        raise DiscordAPIError(
            400, E.THREAD_ALREADY_CREATED, "A thread has already been created for this message"
        )
    name = thread_name(ctx.body)
    thread = sim._open_thread(
        channel,
        name,
        thread_id=message.id,
        kind=ChannelType.PUBLIC_THREAD,
        auto_archive_duration=archive_duration(ctx.body),
    )
    message.thread = thread
    message.flags |= MessageFlag.HAS_THREAD
    return Reply(201, thread.payload())


async def thread_without_message(ctx: Ctx) -> Reply:
    sim = ctx.sim
    channel = channel_of(ctx)
    if channel.type != ChannelType.TEXT:
        raise E.wrong_channel_type()
    if not channel.allow_threads:
        raise E.missing_permissions()
    kind = ctx.body.get("type", ChannelType.PRIVATE_THREAD)
    if kind not in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD):
        raise E.wrong_channel_type()
    name = thread_name(ctx.body)
    thread = sim._open_thread(
        channel,
        name,
        thread_id=sim.snowflakes.next(),
        kind=kind,
        auto_archive_duration=archive_duration(ctx.body),
    )
    return Reply(201, thread.payload())


ROUTES = [
    route("POST", "/channels/{channel_id}/messages/{message_id}/threads", thread_from_message),
    route("POST", "/channels/{channel_id}/threads", thread_without_message),
]

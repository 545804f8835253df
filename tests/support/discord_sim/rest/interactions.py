"""The interaction callback: the bot's one first response, checked against Discord's rules."""

from __future__ import annotations

import time

from .. import errors as E
from ..errors import DiscordAPIError, FormErrors
from ..interactions import RejectedResponse, SimInteraction
from ..models import MessageFlag, SimMessage
from ..validation import validate_modal
from ..wire import JsonObject
from .context import Ctx, Reply, route
from .lookups import check_message, token_post


async def callback(ctx: Ctx) -> Reply:
    sim = ctx.sim
    inter = (
        sim.interactions.get(int(ctx.params["interaction_id"]))
        if ctx.params["interaction_id"].isdigit()
        else None
    )
    if inter is None or inter.token != ctx.params["token"]:
        raise E.unknown(E.UNKNOWN_INTERACTION)
    ctx.record.interaction_id = inter.id
    now = time.monotonic()
    rtype = ctx.body.get("type")
    if inter.response_type is not None:
        inter.rejected.append(_rejected(now, 400, E.INTERACTION_ALREADY_ACKNOWLEDGED, rtype))
        raise DiscordAPIError(
            400,
            E.INTERACTION_ALREADY_ACKNOWLEDGED,
            "Interaction has already been acknowledged.",
        )
    if now > inter.deadline:
        inter.late = True
        inter.rejected.append(_rejected(now, 404, E.UNKNOWN_INTERACTION, rtype))
        inter._settled.set()
        raise E.unknown(E.UNKNOWN_INTERACTION)
    allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[inter.type]
    if rtype not in allowed:
        errors = FormErrors()
        errors.add(
            ["type"],
            "INTERACTION_RESPONSE_TYPE_INVALID",
            f"Response type {rtype} is not valid for an interaction of type {inter.type}",
        )
        errors.raise_if_any()
    data = ctx.body.get("data") or {}
    message: SimMessage | None = None
    if rtype in (4, 5, 7, 6) and inter.channel.deleted:
        raise E.unknown(E.UNKNOWN_CHANNEL)
    if rtype == 4:
        check_message(
            ctx, data, creating=True, upload_limit=inter.attachment_size_limit, prefix=("data",)
        )
        message = token_post(ctx, inter, data, ctx.uploads, via="interaction", first=True)
    elif rtype == 5:
        flags = MessageFlag.LOADING | (int(data.get("flags", 0)) & MessageFlag.EPHEMERAL)
        message = token_post(
            ctx,
            inter,
            {"flags": flags},
            [],
            via="interaction",
            first=True,
            allowed_flags=flags,
            allow_empty=True,
        )
    elif rtype in (6, 7):
        message = inter.source_message
        if message is None or message.deleted:
            raise E.unknown(E.UNKNOWN_MESSAGE)
        if rtype == 7:
            check_message(
                ctx,
                data,
                creating=False,
                upload_limit=inter.attachment_size_limit,
                prefix=("data",),
            )
            sim._edit_message(message, data, ctx.uploads, via="interaction")
    elif rtype == 9:
        validate_modal(data)
        inter.modal = data
    inter.response_type = rtype
    inter.response_data = data
    inter.responded_at = now
    if message is not None:
        inter.original = message
        if message not in inter.messages and rtype in (4, 5):
            inter.messages.append(message)
    inter._settled.set()
    sim._notify()
    if ctx.query.get("with_response") not in ("1", "true", "True"):
        return Reply(204, None)
    return Reply(200, _callback_response(inter, message))


def _callback_response(inter: SimInteraction, message: SimMessage | None) -> JsonObject:
    """The body of a callback made ``?with_response=true``: the interaction and the resource."""
    rtype = inter.response_type
    body: JsonObject = {
        "interaction": {
            "id": str(inter.id),
            "type": inter.type,
            "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(inter.ephemeral),
        }
    }
    if message is not None and rtype != 6:
        body["interaction"]["response_message_id"] = str(message.id)
    if rtype in (4, 7) and message is not None:
        body["resource"] = {"type": rtype, "message": message.payload()}
    elif rtype in (5, 6):
        body["resource"] = {"type": rtype}
    return body


def _rejected(at: float, status: int, code: int, rtype: object) -> RejectedResponse:
    return RejectedResponse(
        at=at, status=status, code=code, response_type=rtype if isinstance(rtype, int) else None
    )


ROUTES = [
    route("POST", "/interactions/{interaction_id}/{token}/callback", callback, bot_auth=False),
]

"""REST v10 routes a bot uses, with Discord's checks and error bodies.

Every request is recorded (``CallRecord``); unknown routes answer 404 ``{"code": 0, ...}`` and
are listed in ``sim.unknown_routes`` so a test notices what the simulator lacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from . import errors as E
from .errors import DiscordAPIError, FormErrors
from .interactions import RejectedResponse, SimInteraction
from .models import ChannelType, MessageFlag, Perm, SimChannel, SimMessage
from .records import CallRecord, FileRecord
from .validation import validate_commands, validate_message, validate_modal

if TYPE_CHECKING:
    from .simulator import DiscordSimulator

log = logging.getLogger("discord_sim.rest")

API_PREFIX = "/api/v10"
JSON_TYPE = "application/json"


@dataclass
class Upload:
    index: int
    field: str
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    request: web.Request
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: list[Upload]
    record: CallRecord

    def snowflake(self, name: str, missing: int) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise E.unknown(missing)
        return int(value)

    @property
    def body(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}


Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    bot_auth: bool
    regex: re.Pattern[str]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Content-Type exactly ``application/json``: discord.py parses nothing else as JSON."""
    all_headers = dict(headers or {})
    if body is None and status == 204:
        return web.Response(status=204, headers=all_headers)
    all_headers["Content-Type"] = JSON_TYPE
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


class RestApi:
    def __init__(self, sim: DiscordSimulator) -> None:
        self.sim = sim
        self.routes: list[Route] = []
        r = self._add
        r("GET", "/users/@me", self.get_me)
        r("GET", "/users/{user_id}", self.get_user)
        r("POST", "/users/@me/channels", self.create_dm)
        r("GET", "/oauth2/applications/@me", self.get_application)
        r("GET", "/applications/@me", self.get_application)
        r("GET", "/gateway", self.get_gateway, bot_auth=False)
        r("GET", "/gateway/bot", self.get_gateway_bot)
        r("GET", "/applications/{application_id}/commands", self.get_commands)
        r("PUT", "/applications/{application_id}/commands", self.put_commands)
        r("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands)
        r("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands)
        r("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, bot_auth=False)
        r("POST", "/webhooks/{application_id}/{token}", self.followup, bot_auth=False)
        for method, handler in (
            ("GET", self.get_webhook_message),
            ("PATCH", self.edit_webhook_message),
            ("DELETE", self.delete_webhook_message),
        ):
            r(
                method,
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                handler,
                bot_auth=False,
            )
        r("GET", "/channels/{channel_id}", self.get_channel)
        r("POST", "/channels/{channel_id}/typing", self.typing)
        r("GET", "/channels/{channel_id}/messages", self.list_messages)
        r("POST", "/channels/{channel_id}/messages", self.create_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        r("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message)
        r("POST", "/channels/{channel_id}/threads", self.thread_without_message)
        r("GET", "/guilds/{guild_id}", self.get_guild)
        r("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self.get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)

    def _add(self, method: str, template: str, handler: Handler, *, bot_auth: bool = True) -> None:
        pattern = re.sub(
            r"\{(\w+)\}",
            r"(?P<\1>[^/]+)",
            re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
        )
        self.routes.append(Route(method, template, handler, bot_auth, re.compile(f"^{pattern}$")))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_exists_for_another_method)."""
        other = False
        # literal segments first ("/users/@me" before "/users/{user_id}")
        for route in sorted(self.routes, key=lambda r: r.template.count("{")):
            m = route.regex.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict(), False
                other = True
        return None, {}, other

    # -- the entry point ----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        sim = self.sim
        started = time.monotonic()
        path = "/" + request.match_info.get("tail", "")
        record = CallRecord(at=started, method=request.method, path=path, query=dict(request.query))
        headers: dict[str, str] = {}
        try:
            body, uploads = await self._read_body(request)
            record.json = body
            record.files = [
                FileRecord(u.field, u.filename, len(u.data), u.content_type) for u in uploads
            ]
            route, params, other = self.match(request.method, path)
            if route is None:
                sim.unknown_routes.append(record)
                status = 405 if other else 404
                reply = Reply(
                    status,
                    {
                        "message": f"{status}: {'Method Not Allowed' if other else 'Not Found'}",
                        "code": 0,
                    },
                )
            else:
                record.route = route.template
                if "token" in params:
                    record.auth = "interaction"
                    inter = sim._interactions_by_token.get(params["token"])
                    record.interaction_id = inter.id if inter else None
                elif request.headers.get("Authorization"):
                    record.auth = "bot"
                reply = await self._dispatch(route, params, request, body, uploads, record)
        except DiscordAPIError as exc:
            reply = Reply(exc.status, exc.body())
        except Exception as exc:  # a simulator bug: make it loud, but don't trigger 5xx retries
            log.exception("simulator error on %s %s", request.method, path)
            sim.internal_errors.append(f"{request.method} {path}: {traceback.format_exc()}")
            reply = Reply(400, {"message": f"Discord simulator internal error: {exc!r}", "code": 0})
        headers.update(reply.headers)
        record.status = reply.status
        record.response = reply.body
        if isinstance(reply.body, dict) and reply.status >= 400:
            record.error_code = reply.body.get("code")
        record.duration = time.monotonic() - started
        sim.call_log.append(record)
        sim._notify()
        return json_response(reply.status, reply.body, headers)

    async def _dispatch(
        self,
        route: Route,
        params: dict[str, str],
        request: web.Request,
        body: Any,
        uploads: list[Upload],
        record: CallRecord,
    ) -> Reply:
        sim = self.sim
        if route.bot_auth and request.headers.get("Authorization") != f"Bot {sim.token}":
            return Reply(401, {"message": "401: Unauthorized", "code": 0})
        major = params.get("channel_id") or params.get("guild_id") or params.get("token") or ""
        verdict = sim.rate_limits.check(
            request.method, route.template, major, f"{request.method} {record.path}"
        )
        if verdict.limited:
            record.rate_limited = True
            return Reply(
                429,
                {
                    "message": "You are being rate limited.",
                    "retry_after": round(verdict.retry_after, 3),
                    "global": verdict.is_global,
                },
                verdict.headers,
            )
        ctx = Ctx(
            request, request.method, record.path, params, dict(request.query), body, uploads, record
        )
        try:
            reply = await route.handler(ctx)
        except DiscordAPIError as exc:
            reply = Reply(exc.status, exc.body())
        reply.headers.update(verdict.headers)
        return reply

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        if not request.can_read_body:
            return None, []
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: Any = None
            uploads: list[Upload] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):  # nested multipart: not used by Discord
                    continue
                data = bytes(await part.read())
                name = part.name or ""
                if name == "payload_json":
                    payload = self._parse_json(data)
                    continue
                m = re.fullmatch(r"files\[(\d+)\]", name) or re.fullmatch(r"file(\d*)", name)
                if m:
                    index = int(m.group(1) or 0)
                    uploads.append(
                        Upload(
                            index,
                            name,
                            part.filename or f"file{index}",
                            data,
                            part.headers.get("Content-Type"),
                        )
                    )
            return payload, uploads
        raw = await request.read()
        if not raw:
            return None, []
        return self._parse_json(raw), []

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.") from None

    # -- users, application, gateway ------------------------------------------------------------
    async def get_me(self, ctx: Ctx) -> Reply:
        user = self.sim.bot_user.payload()
        user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        return Reply(200, user)

    async def get_user(self, ctx: Ctx) -> Reply:
        user = self.sim.users.get(ctx.snowflake("user_id", E.UNKNOWN_USER))
        if user is None:
            raise E.unknown(E.UNKNOWN_USER)
        return Reply(200, user.payload())

    async def create_dm(self, ctx: Ctx) -> Reply:
        user = self.sim.users.get(int(str(ctx.body.get("recipient_id", "0"))))
        if user is None:
            raise E.unknown(E.UNKNOWN_USER)
        return Reply(200, self.sim.dm_channel(user).payload())

    async def get_application(self, ctx: Ctx) -> Reply:
        sim = self.sim
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

    async def get_gateway(self, ctx: Ctx) -> Reply:
        return Reply(200, {"url": self.sim.gateway_url})

    async def get_gateway_bot(self, ctx: Ctx) -> Reply:
        return Reply(
            200,
            {
                "url": self.sim.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            },
        )

    # -- application commands --------------------------------------------------------------------
    def _command_scope(self, ctx: Ctx) -> int | None:
        if ctx.snowflake("application_id", E.UNKNOWN_APPLICATION) != self.sim.application_id:
            raise DiscordAPIError(403, E.MISSING_ACCESS, "Missing Access")
        if "guild_id" not in ctx.params:
            return None
        guild_id = ctx.snowflake("guild_id", E.UNKNOWN_GUILD)
        guild = self.sim.guilds.get(guild_id)
        if guild is None or guild.deleted:
            raise DiscordAPIError(403, E.MISSING_ACCESS, "Missing Access")
        return guild_id

    async def get_commands(self, ctx: Ctx) -> Reply:
        return Reply(200, self.sim.synced_commands(self._command_scope(ctx)))

    async def put_commands(self, ctx: Ctx) -> Reply:
        scope = self._command_scope(ctx)
        validate_commands(ctx.json)
        return Reply(200, self.sim._store_commands(scope, ctx.json))

    # -- interactions ----------------------------------------------------------------------------
    async def callback(self, ctx: Ctx) -> Reply:
        sim = self.sim
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
            validate_message(data, file_count=len(ctx.uploads), creating=True, prefix=("data",))
            self._check_uploads(ctx, inter.attachment_size_limit)
            message = sim._create_message(
                inter.channel,
                data,
                ctx.uploads,
                author=sim.bot_user,
                via="interaction",
                interaction=inter,
                allowed_flags=_INTERACTION_FLAGS,
                mtype=20 if inter.type == 2 else 0,
            )
        elif rtype == 5:
            flags = MessageFlag.LOADING | (int(data.get("flags", 0)) & MessageFlag.EPHEMERAL)
            message = sim._create_message(
                inter.channel,
                {"flags": flags},
                [],
                author=sim.bot_user,
                via="interaction",
                interaction=inter,
                allowed_flags=flags,
                mtype=20 if inter.type == 2 else 0,
                allow_empty=True,
            )
        elif rtype in (6, 7):
            message = inter.source_message
            if message is None or message.deleted:
                raise E.unknown(E.UNKNOWN_MESSAGE)
            if rtype == 7:
                validate_message(
                    data, file_count=len(ctx.uploads), creating=False, prefix=("data",)
                )
                self._check_uploads(ctx, inter.attachment_size_limit)
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
        body: dict[str, Any] = {
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
        return Reply(200, body)

    def _interaction_for(self, ctx: Ctx) -> SimInteraction:
        sim = self.sim
        inter = sim._interactions_by_token.get(ctx.params["token"])
        if ctx.params["application_id"] != str(sim.application_id):
            raise E.unknown(E.UNKNOWN_WEBHOOK)
        if inter is None or inter.token_expired:
            raise E.invalid_webhook_token()
        ctx.record.interaction_id = inter.id
        return inter

    def _token_message(self, inter: SimInteraction, message_id: str) -> SimMessage:
        if message_id == "@original":
            if inter.response_type is None:
                raise E.unknown(E.UNKNOWN_WEBHOOK)
            message = inter.original
        else:
            message = next((m for m in inter.messages if str(m.id) == message_id), None)
        if message is None or message.deleted:
            raise E.unknown(E.UNKNOWN_MESSAGE)
        return message

    async def followup(self, ctx: Ctx) -> Reply:
        sim = self.sim
        inter = self._interaction_for(ctx)
        if inter.response_type is None:
            raise E.unknown(E.UNKNOWN_WEBHOOK)
        if inter.channel.deleted:
            raise E.unknown(E.UNKNOWN_CHANNEL)
        body = ctx.body
        validate_message(body, file_count=len(ctx.uploads), creating=True)
        self._check_uploads(ctx, inter.attachment_size_limit)
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
        message = sim._create_message(
            inter.channel,
            body,
            ctx.uploads,
            author=sim.bot_user,
            via="followup",
            interaction=inter,
            allowed_flags=_INTERACTION_FLAGS,
        )
        inter.messages.append(message)
        sim._notify()
        if ctx.query.get("wait") in ("0", "false", "False"):
            return Reply(204, None)
        return Reply(200, message.payload())

    async def get_webhook_message(self, ctx: Ctx) -> Reply:
        inter = self._interaction_for(ctx)
        return Reply(200, self._token_message(inter, ctx.params["message_id"]).payload())

    async def edit_webhook_message(self, ctx: Ctx) -> Reply:
        inter = self._interaction_for(ctx)
        message = self._token_message(inter, ctx.params["message_id"])
        if message.channel.deleted:
            raise E.unknown(E.UNKNOWN_CHANNEL)
        validate_message(ctx.body, file_count=len(ctx.uploads), creating=False)
        self._check_uploads(ctx, inter.attachment_size_limit)
        self.sim._edit_message(message, ctx.body, ctx.uploads, via="webhook", finish_loading=True)
        return Reply(200, message.payload())

    async def delete_webhook_message(self, ctx: Ctx) -> Reply:
        inter = self._interaction_for(ctx)
        message = self._token_message(inter, ctx.params["message_id"])
        self.sim._delete_message(message)
        return Reply(204, None)

    # -- channels and messages --------------------------------------------------------------------
    def _channel(self, ctx: Ctx) -> SimChannel:
        channel = self.sim.channels.get(ctx.snowflake("channel_id", E.UNKNOWN_CHANNEL))
        if channel is None or channel.deleted:
            raise E.unknown(E.UNKNOWN_CHANNEL)
        return channel

    def _message(self, ctx: Ctx, channel: SimChannel) -> SimMessage:
        message = self.sim.messages.get(ctx.snowflake("message_id", E.UNKNOWN_MESSAGE))
        if (
            message is None
            or message.deleted
            or message.channel is not channel
            or message.ephemeral
        ):
            raise E.unknown(E.UNKNOWN_MESSAGE)
        return message

    def _check_uploads(self, ctx: Ctx, limit: int) -> None:
        for upload in ctx.uploads:
            if len(upload.data) > limit:
                raise DiscordAPIError(413, E.REQUEST_ENTITY_TOO_LARGE, "Request entity too large")

    def _require_send(self, channel: SimChannel) -> None:
        home = self.sim.permission_channel(channel)
        if home is not None and not home.allow_send:
            raise E.missing_permissions()

    def _require_attach(self, channel: SimChannel, ctx: Ctx) -> None:
        """Files need Attach Files (a thread follows its parent): 403 50013 without it."""
        home = self.sim.permission_channel(channel)
        if ctx.uploads and home is not None and not home.allow_attach:
            raise E.missing_permissions()

    async def get_channel(self, ctx: Ctx) -> Reply:
        return Reply(200, self._channel(ctx).payload())

    async def typing(self, ctx: Ctx) -> Reply:
        self._channel(ctx)
        return Reply(204, None)

    async def list_messages(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx)
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
                for m in self.sim.messages.values()
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

    async def create_message(self, ctx: Ctx) -> Reply:
        sim = self.sim
        channel = self._channel(ctx)
        self._require_send(channel)
        self._require_attach(channel, ctx)
        body = ctx.body
        validate_message(body, file_count=len(ctx.uploads), creating=True)
        self._check_uploads(ctx, sim.upload_limit_for(channel))
        await self._hold_upload(ctx)
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

    async def _hold_upload(self, ctx: Ctx) -> None:
        """A slow upload (`upload_hold`): the message is created after the hold even when the
        client is gone by then, as Discord keeps what it received."""
        if ctx.uploads and self.sim.upload_hold > 0:
            self.sim.uploads_started += 1
            self.sim._notify()
            await asyncio.sleep(self.sim.upload_hold)

    async def get_message(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx)
        return Reply(200, self._message(ctx, channel).payload())

    async def edit_message(self, ctx: Ctx) -> Reply:
        sim = self.sim
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        if message.author is not sim.bot_user:
            raise DiscordAPIError(
                403, E.CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        validate_message(ctx.body, file_count=len(ctx.uploads), creating=False)
        self._check_uploads(ctx, sim.upload_limit_for(channel))
        sim._edit_message(message, ctx.body, ctx.uploads, via="channel")
        return Reply(200, message.payload())

    async def delete_message(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        if message.author is not self.sim.bot_user:
            raise E.missing_permissions()
        self.sim._delete_message(message)
        return Reply(204, None)

    def _thread_name(self, body: dict[str, Any]) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors = FormErrors()
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            errors.raise_if_any()
        return str(name)

    def _archive_duration(self, body: dict[str, Any]) -> int:
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

    async def thread_from_message(self, ctx: Ctx) -> Reply:
        sim = self.sim
        channel = self._channel(ctx)
        if channel.type != ChannelType.TEXT:
            raise E.wrong_channel_type()
        message = self._message(ctx, channel)
        if not channel.allow_threads:
            raise E.missing_permissions()
        if message.thread is not None:
            raise DiscordAPIError(
                400, E.THREAD_ALREADY_CREATED, "A thread has already been created for this message"
            )
        name = self._thread_name(ctx.body)
        thread = sim._open_thread(
            channel,
            name,
            thread_id=message.id,
            kind=ChannelType.PUBLIC_THREAD,
            auto_archive_duration=self._archive_duration(ctx.body),
        )
        message.thread = thread
        message.flags |= MessageFlag.HAS_THREAD
        return Reply(201, thread.payload())

    async def thread_without_message(self, ctx: Ctx) -> Reply:
        sim = self.sim
        channel = self._channel(ctx)
        if channel.type != ChannelType.TEXT:
            raise E.wrong_channel_type()
        if not channel.allow_threads:
            raise E.missing_permissions()
        kind = ctx.body.get("type", ChannelType.PRIVATE_THREAD)
        if kind not in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD):
            raise E.wrong_channel_type()
        name = self._thread_name(ctx.body)
        thread = sim._open_thread(
            channel,
            name,
            thread_id=sim.snowflakes.next(),
            kind=kind,
            auto_archive_duration=self._archive_duration(ctx.body),
        )
        return Reply(201, thread.payload())

    # -- guilds ---------------------------------------------------------------------------------
    def _guild(self, ctx: Ctx) -> Any:
        guild = self.sim.guilds.get(ctx.snowflake("guild_id", E.UNKNOWN_GUILD))
        if guild is None or guild.deleted:
            raise E.unknown(E.UNKNOWN_GUILD)
        return guild

    async def get_guild(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        data = guild.base_payload()
        if ctx.query.get("with_counts") in ("1", "true", "True"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return Reply(200, data)

    async def get_guild_channels(self, ctx: Ctx) -> Reply:
        return Reply(200, [c.payload() for c in self._guild(ctx).text_channels()])

    async def get_guild_roles(self, ctx: Ctx) -> Reply:
        return Reply(200, [r.payload() for r in self._guild(ctx).roles.values()])

    async def get_member(self, ctx: Ctx) -> Reply:
        guild = self._guild(ctx)
        member = guild.members.get(ctx.snowflake("user_id", E.UNKNOWN_MEMBER))
        if member is None:
            raise E.unknown(E.UNKNOWN_MEMBER)
        return Reply(200, member.payload())


_INTERACTION_FLAGS = (
    MessageFlag.EPHEMERAL
    | MessageFlag.SUPPRESS_EMBEDS
    | MessageFlag.SUPPRESS_NOTIFICATIONS
    | MessageFlag.IS_COMPONENTS_V2
)


def _rejected(at: float, status: int, code: int, rtype: Any) -> RejectedResponse:
    return RejectedResponse(
        at=at, status=status, code=code, response_type=rtype if isinstance(rtype, int) else None
    )


__all__ = ["API_PREFIX", "Perm", "RestApi", "Upload", "json_response"]

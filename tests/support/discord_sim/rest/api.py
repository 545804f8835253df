"""REST v10 routes a bot uses, with Discord's checks and error bodies.

Every request is recorded (``CallRecord``); unknown routes answer 404 ``{"code": 0, ...}`` and
are listed in ``sim.unknown_routes`` so a test notices what the simulator lacks.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from ..errors import DiscordAPIError
from ..records import CallRecord, FileRecord
from . import commands, guilds, interactions, messages, threads, users, webhooks
from .context import Ctx, Reply, Route, Upload, json_response

if TYPE_CHECKING:
    from ..simulator import DiscordSimulator

log = logging.getLogger("discord_sim.rest")


class RestApi:
    """The REST endpoint: reads the body, finds the route, checks auth and rate limits,
    records the call."""

    def __init__(self, sim: DiscordSimulator) -> None:
        self.sim = sim
        self.routes: list[Route] = [
            *users.ROUTES,
            *commands.ROUTES,
            *interactions.ROUTES,
            *webhooks.ROUTES,
            *messages.ROUTES,
            *threads.ROUTES,
            *guilds.ROUTES,
        ]

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
            sim,
            request,
            request.method,
            record.path,
            params,
            dict(request.query),
            body,
            uploads,
            record,
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

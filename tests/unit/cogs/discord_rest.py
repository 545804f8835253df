"""Discord's REST API as far as the cogs use it, served on 127.0.0.1 for discord.py's own HTTP
client (`Route.BASE` points here): it answers like Discord (status, JSON shapes, the first
response once only) and records every request, so a test reads what a member would see.

It keeps the messages it was sent (per channel, editable), opens threads on messages, and hands
out the bot's user and application at login. Anything it does not know is a 404 that the test
sees in `unknown`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from .payloads import Person, iso, snowflake

API = "/api/v10"
JSON = {"Content-Type": "application/json"}  # exactly: discord.py parses nothing else as JSON
EPHEMERAL = 64


@dataclass
class Call:
    """One request the bot made."""

    method: str
    path: str  # after /api/v10
    query: dict[str, str]
    body: Any  # the JSON body, or a multipart body's payload_json
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content)
    status: int = 0

    @property
    def interaction_id(self) -> int | None:
        m = re.fullmatch(r"/interactions/(\d+)/[^/]+/callback", self.path)
        return int(m[1]) if m else None


@dataclass
class Failure:
    """Answer the next request matching `method` and `path` (a regex) with an error."""

    method: str
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call, re.Match[str]], Awaitable[tuple[int, Any]]]


class DiscordRest:
    def __init__(self, bot_user: Person, application_id: int, guild_id: int) -> None:
        self.bot_user = bot_user
        self.application_id = application_id
        self.guild_id = guild_id
        self.calls: list[Call] = []
        self.unknown: list[Call] = []
        self.failures: list[Failure] = []
        self.commands: list[dict[str, Any]] = []
        self.messages: dict[int, dict[str, Any]] = {}  # by id
        self.threads: dict[int, dict[str, Any]] = {}  # by id (the message they were opened on)
        self.originals: dict[str, int] = {}  # interaction token -> its response message id
        self.interactions: dict[str, tuple[int, int | None]] = {}  # token -> channel, source
        self.responded: set[int] = set()  # interaction ids that got their first response
        self.files: dict[str, bytes] = {}  # served at /files/<name> (videos to download)
        self.cdn: dict[str, bytes] = {}  # "<attachment id>/<filename>" -> its bytes
        self.base = ""
        self._runner: web.AppRunner | None = None
        a = r"(?P<app>\d+)"
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/users/@me"), self._me),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._application),
            ("PUT", re.compile(rf"/applications/{a}(/guilds/\d+)?/commands"), self._sync),
            (
                "POST",
                re.compile(r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback"),
                self._callback,
            ),
            (
                "GET",
                re.compile(rf"/webhooks/{a}/(?P<token>[^/]+)/messages/@original"),
                self._get_original,
            ),
            (
                "PATCH",
                re.compile(rf"/webhooks/{a}/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)"),
                self._edit_webhook_message,
            ),
            ("POST", re.compile(rf"/webhooks/{a}/(?P<token>[^/]+)"), self._followup),
            (
                "POST",
                re.compile(r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/threads"),
                self._thread,
            ),
            ("POST", re.compile(r"/channels/(?P<cid>\d+)/messages"), self._post),
            ("PATCH", re.compile(r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)"), self._edit),
            ("GET", re.compile(r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)"), self._get),
            ("GET", re.compile(r"/channels/(?P<cid>\d+)/messages"), self._history),
        ]

    # --- running ------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/files/{name}", self._file)
        app.router.add_route("GET", "/attachments/{cid}/{aid}/{name}", self._attachment)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self.base + API

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def expect(self, token: str, channel_id: int, source_message_id: int | None) -> None:
        """An interaction is coming (Discord knows where it happened and, for a component, the
        message it came from)."""
        self.interactions[token] = (channel_id, source_message_id)

    def fail_next(self, method: str, path: str, status: int, code: int, message: str) -> None:
        self.failures.append(Failure(method, path, status, _error(code, message)))

    def rate_limit_next(self, method: str, path: str, retry_after: float = 0.05) -> None:
        """A 429 as Discord sends it (a bucket's limit, not a Cloudflare ban: `Via` is set)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        headers = {
            "Retry-After": str(retry_after),
            "X-RateLimit-Scope": "user",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "test-bucket",
            "Via": "1.1 google",
        }
        self.failures.append(Failure(method, path, 429, {**body, "global": False}, headers))

    # --- what a member would see --------------------------------------------------------------

    def in_channel(self, channel_id: int) -> list[dict[str, Any]]:
        """The messages in a channel (or thread), oldest first."""
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    def served(self, url: str) -> bytes | None:
        """What this CDN serves at `url` (an attachment's link), if anything."""
        path = url.split("?", 1)[0].removeprefix(self.base)
        parts = path.split("/")  # "", "attachments", channel, id, name
        return self.cdn.get("/".join(parts[3:])) if len(parts) == 5 else None

    def message(self, message_id: int | str) -> dict[str, Any]:
        return self.messages[int(message_id)]

    # --- the handler --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix(API)
        body, files = await _read_body(request)
        call = Call(request.method, path, dict(request.query), body, files)
        self.calls.append(call)
        for failure in self.failures:
            if failure.method == request.method and re.fullmatch(failure.path, path):
                self.failures.remove(failure)
                return self._reply(call, failure.status, failure.body, failure.headers)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if method == request.method and match:
                status, answer = await handler(call, match)
                return self._reply(call, status, answer)
        self.unknown.append(call)
        return self._reply(call, 404, _error(0, "404: Not Found"))

    @staticmethod
    def _reply(
        call: Call, status: int, answer: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        call.status = status
        if answer is None:
            return web.Response(status=204 if status == 200 else status, headers=headers)
        body = json.dumps(answer).encode()
        return web.Response(status=status, body=body, headers={**JSON, **(headers or {})})

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="video/mp4")

    async def _attachment(self, request: web.Request) -> web.Response:
        """The CDN: an attachment's bytes, whatever the signature (expire one by removing it)."""
        key = f"{request.match_info['aid']}/{request.match_info['name']}"
        data = self.cdn.get(key)
        if data is None:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=data, content_type="application/octet-stream")

    # --- routes -------------------------------------------------------------------------------

    async def _me(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        return 200, {**self.bot_user.user(bot=True), "verified": True, "mfa_enabled": False}

    async def _application(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": "Kling video",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": Person(snowflake(), "owner").user(),
            "bot": self.bot_user.user(bot=True),
        }

    async def _sync(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        self.commands = [
            {
                **c,
                "id": str(snowflake()),
                "application_id": str(self.application_id),
                "version": str(snowflake()),
            }
            for c in call.body
        ]
        return 200, self.commands

    async def _callback(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        inter_id = int(m["id"])
        if inter_id in self.responded:
            return 400, _error(40060, "Interaction has already been acknowledged.")
        self.responded.add(inter_id)
        kind = call.body["type"]
        data = call.body.get("data") or {}
        message = None
        channel_id, source_id = self.interactions.get(m["token"], (0, None))
        if kind in (4, 5):
            message = self._new_message(channel_id, data, call.files, webhook=True)
            if kind == 5:
                message["flags"] |= 128  # loading
            self.originals[m["token"]] = int(message["id"])
        elif kind == 7 and source_id in self.messages:
            message = self._update(self.messages[source_id], data)
        if call.query.get("with_response") not in ("1", "true"):
            return 200, None
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(inter_id),
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
        if kind in (4, 7) and message is not None:
            answer["resource"] = {"type": kind, "message": message}
        else:
            answer["resource"] = {"type": kind}
        return 200, answer

    async def _get_original(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        mid = self.originals.get(m["token"])
        if mid is None:
            return 404, _error(10008, "Unknown Message")
        return 200, self.messages[mid]

    async def _edit_webhook_message(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        mid = self.originals.get(m["token"]) if m["mid"] == "@original" else int(m["mid"])
        if mid is None or mid not in self.messages:
            return 404, _error(10008, "Unknown Message")
        return 200, self._update(self.messages[mid], call.body or {})

    async def _followup(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        mid = self.originals.get(m["token"])
        original = self.messages.get(mid) if mid is not None else None
        if original is not None and original["flags"] & 128:  # the first followup fills it
            original["flags"] &= ~128
            return 200, self._update(original, call.body or {})
        channel = int(original["channel_id"]) if original else 0
        return 200, self._new_message(channel, call.body or {}, call.files, webhook=True)

    async def _thread(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        mid = int(m["mid"])
        if mid in self.threads:
            return 400, _error(160004, "A thread has already been created for this message")
        thread = {
            "id": str(mid),
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": m["cid"],
            "owner_id": str(self.bot_user.id),
            "name": (call.body or {}).get("name", ""),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": (call.body or {}).get("auto_archive_duration", 1440),
                "archive_timestamp": iso(time.time()),
                "locked": False,
            },
        }
        self.threads[mid] = thread
        return 201, thread

    async def _post(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        return 200, self._new_message(int(m["cid"]), call.body or {}, call.files)

    async def _edit(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        message = self.messages.get(int(m["mid"]))
        if message is None or message["channel_id"] != m["cid"]:
            return 404, _error(10008, "Unknown Message")
        return 200, self._update(message, call.body or {})

    async def _get(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        message = self.messages.get(int(m["mid"]))
        if message is None or message["channel_id"] != m["cid"]:
            return 404, _error(10008, "Unknown Message")
        return 200, message

    async def _history(self, call: Call, m: re.Match[str]) -> tuple[int, Any]:
        limit = int(call.query.get("limit", 50))
        return 200, list(reversed(self.in_channel(int(m["cid"]))))[:limit]

    # --- messages -----------------------------------------------------------------------------

    def _new_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        *,
        webhook: bool = False,
    ) -> dict[str, Any]:
        mid = snowflake()
        message: dict[str, Any] = {
            "id": str(mid),
            "type": 0,
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id),
            "author": self.bot_user.user(bot=True),
            "content": body.get("content") or "",
            "timestamp": iso(time.time()),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [self._attachment_of(channel_id, name, data) for name, data in files],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "flags": int(body.get("flags") or 0),
        }
        if webhook:
            message["webhook_id"] = message["application_id"] = str(self.application_id)
        self.messages[mid] = message
        return message

    def _attachment_of(self, channel_id: int, name: str, data: bytes) -> dict[str, Any]:
        aid = snowflake()
        self.cdn[f"{aid}/{name}"] = data
        url = f"{self.base}/attachments/{channel_id}/{aid}/{name}?ex={int(time.time()) + 86_400:x}"
        return {"id": str(aid), "filename": name, "size": len(data), "url": url, "proxy_url": url}

    @staticmethod
    def _update(message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        message["edited_timestamp"] = iso(time.time())
        return message


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    if not request.can_read_body:
        return None, []
    if request.content_type.startswith("multipart/"):
        body: Any = None
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            else:
                files.append((part.filename or "", bytes(data)))
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []

"""What a route handler gets (``Ctx``) and gives back (``Reply``), and how routes are declared."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import errors as E
from ..records import CallRecord
from ..wire import JsonObject

if TYPE_CHECKING:
    from ..simulator import DiscordSimulator

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
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """One request as a route handler sees it."""

    sim: DiscordSimulator
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
    def body(self) -> JsonObject:
        return self.json if isinstance(self.json, dict) else {}


Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    bot_auth: bool
    regex: re.Pattern[str]


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> web.Response:
    """Content-Type exactly ``application/json``: discord.py parses nothing else as JSON."""
    all_headers = dict(headers or {})
    if body is None and status == 204:
        return web.Response(status=204, headers=all_headers)
    all_headers["Content-Type"] = JSON_TYPE
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def route(method: str, template: str, handler: Handler, *, bot_auth: bool = True) -> Route:
    """``template`` like "/channels/{channel_id}/messages"; ``bot_auth``: needs "Bot <token>"
    (routes under an interaction token don't)."""
    pattern = re.sub(
        r"\{(\w+)\}",
        r"(?P<\1>[^/]+)",
        re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
    )
    return Route(method, template, handler, bot_auth, re.compile(f"^{pattern}$"))

"""What the simulator remembers of the requests it got, for tests to inspect: each request
(the last `record_limit` of them, the key itself never kept) and a count per route."""

from __future__ import annotations

import contextlib
import json
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the simulator saw it; the key itself is never kept."""

    method: str
    path: str
    route: str  # "POST /v1/video/generations", "GET /v1/video/generations/{task_id}", …
    kind: str  # "create" | "fetch" | "content" | "file" | "other"
    authorized: bool  # it carried `Authorization: Bearer <the configured key>`
    headers: dict[str, str]  # without Authorization
    json: Any  # the decoded body, or None


class RequestLog:
    """The requests kept for inspection and the count per route (always kept)."""

    def __init__(self, limit: int) -> None:
        self.records: deque[RecordedRequest] = deque(maxlen=limit)
        self.counts: Counter[str] = Counter()

    def resize(self, limit: int) -> None:
        self.records = deque(self.records, maxlen=limit)

    def clear(self) -> None:
        self.records.clear()
        self.counts.clear()

    async def record(self, request: web.Request, route: str, kind: str, authorized: bool) -> None:
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = json.loads(await request.read())
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        self.counts[route] += 1
        self.records.append(
            RecordedRequest(request.method, request.path, route, kind, authorized, headers, body)
        )

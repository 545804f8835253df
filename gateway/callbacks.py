"""The endpoint for Kling's task callbacks (CALLBACK_LISTEN), and what a callback says.

Kling POSTs its own task object on every status change, to the `callback_url` the task was
created with: CALLBACK_PUBLIC_URL plus that task's secret as the last path segment. The task is
named by `task_info.external_task_id` (our own id). A POST whose path does not end with that
task's secret is answered 403 and changes nothing; a POST with it is trusted and handed to the
service as a `CallbackNews`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from observability.server import serve
from videojobs.callbacks import CallbackNews
from videojobs.errors import GatewayError
from videojobs.models import GatewayState

from .snapshots import NO_VIDEO_REASON, parse_snapshot

log = logging.getLogger(__name__)

Verify = Callable[[str, str], Awaitable[bool]]  # (our task id, secret) -> whether it is its
Receive = Callable[[CallbackNews], Awaitable[bool]]  # -> whether the task was waited for
MAX_BODY = 256 * 1024
FORBIDDEN = {"ok": False, "error": "this callback URL does not carry the task's secret"}


def external_task_id(body: Any) -> str | None:
    """Our id from Kling's callback object (or from the gateway's flat shape)."""
    if not isinstance(body, dict):
        return None
    info = body.get("task_info")
    candidate = info.get("external_task_id") if isinstance(info, dict) else None
    candidate = candidate or body.get("external_task_id")
    return candidate if isinstance(candidate, str) and candidate else None


def parse_callback(body: Any) -> CallbackNews | None:
    """What a callback says about our task, or None when it names no task or no status."""
    task_id = external_task_id(body)
    if task_id is None:
        return None
    try:
        snapshot = parse_snapshot(body, task_id)
    except GatewayError:
        return None
    if snapshot.state is GatewayState.FAILED and snapshot.failure_reason == NO_VIDEO_REASON:
        return CallbackNews(task_id, GatewayState.COMPLETED)  # done, but where is the video?
    return CallbackNews(task_id, snapshot.state, snapshot.video_url, snapshot.failure_reason)


def secret_in(path: str, base_path: str) -> str | None:
    """The secret the POST's path carries: what follows the callback path (or, behind a proxy
    that rewrote the path, its last segment); None when there is nothing more."""
    base = base_path.rstrip("/")
    rest = path[len(base) :] if path.startswith(base + "/") else path.rsplit("/", 1)[-1]
    rest = rest.strip("/")
    return rest if rest and path.rstrip("/") != base else None


def callback_app(base_path: str, verify: Verify, receive: Receive) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        secret = secret_in(request.path, base_path)
        if secret is None:
            return web.json_response(FORBIDDEN, status=403)
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            body = None  # names no task, so no secret can be shown to be its: refused below
        task_id = external_task_id(body)
        if task_id is None or not await verify(task_id, secret):
            # the id is the sender's word: shown quoted and cut, so it cannot forge a log line
            log.warning("callback refused: no valid secret for task %r", (task_id or "")[:40])
            return web.json_response(FORBIDDEN, status=403)
        news = parse_callback(body)
        if news is None:
            return web.json_response({"ok": False, "error": "no task status"}, status=400)
        waited = await receive(news)
        log.info(
            "callback for task %s: %s%s", task_id, news.state.value, "" if waited else " (ignored)"
        )
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/{tail:.*}", handle)  # a proxy in front may rewrite the path
    return app


async def start_callback_server(
    listen: tuple[str, int], public_url: str, verify: Verify, receive: Receive
) -> web.AppRunner:
    """Serve the callback route (CALLBACK_PUBLIC_URL's path plus a secret) on host:port."""
    path = urlsplit(public_url).path or "/"
    runner = await serve(callback_app(path, verify, receive), listen)
    host, port = listen
    log.info("receiving task callbacks on %s:%d%s/<task secret>", host, port, path.rstrip("/"))
    return runner

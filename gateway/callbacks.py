"""The optional endpoint for Kling's task callbacks.

Kling POSTs its own task object on every status change, with no signature, so a callback is only
a hint: it is matched to our task by `task_info.external_task_id` (our own id) and the service
confirms with a GET before anything is delivered. Polling goes on as the fallback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

Hint = Callable[[str], Awaitable[bool]]
MAX_BODY = 256 * 1024


def external_task_id(body: Any) -> str | None:
    """Our id from Kling's callback object (or from the gateway's flat shape)."""
    if not isinstance(body, dict):
        return None
    info = body.get("task_info")
    candidate = info.get("external_task_id") if isinstance(info, dict) else None
    candidate = candidate or body.get("external_task_id")
    return candidate if isinstance(candidate, str) and candidate else None


def callback_app(path: str, on_hint: Hint) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
        task_id = external_task_id(body)
        if task_id is None:
            return web.json_response({"ok": False, "error": "no external_task_id"}, status=400)
        known = await on_hint(task_id)
        status = body.get("task_status") if isinstance(body, dict) else None
        log.info("callback for task %s (%s)%s", task_id, status, "" if known else ": not ours")
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(path, receive)
    if path != "/":  # a proxy in front may rewrite the path: any POST is still a hint
        app.router.add_post("/{tail:.*}", receive)
    return app


async def start_callback_server(
    listen: tuple[str, int], public_url: str, on_hint: Hint
) -> web.AppRunner:
    """Serve the callback route (the path of CALLBACK_PUBLIC_URL) on host:port."""
    path = urlsplit(public_url).path or "/"
    runner = web.AppRunner(callback_app(path, on_hint), access_log=None)
    await runner.setup()
    host, port = listen
    await web.TCPSite(runner, host, port).start()
    log.info("receiving task callbacks on %s:%d%s", host, port, path)
    return runner

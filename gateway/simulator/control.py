"""The `/_sim/` routes: the steering API over HTTP, for a simulator in another process.

`GET|POST /_sim/config`, `GET|POST|DELETE /_sim/faults`, `GET|DELETE /_sim/requests`,
`GET /_sim/tasks`, `POST /_sim/reset`, and `GET|POST|DELETE /_sim/outage` (`{"mode":
"refuse", "seconds": 20}` stops listening for that long). Each one calls the simulator's public
API; a bad body is answered 400 with what is wrong."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .error_bodies import json_response
from .settings import API_KINDS, Fault

if TYPE_CHECKING:
    from .server import GatewaySimulator

Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_control_routes(app: web.Application, sim: GatewaySimulator) -> None:
    control = _Control(sim)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_sim/config", control.config),
        ("POST", "/_sim/config", control.config),
        ("GET", "/_sim/faults", control.faults),
        ("POST", "/_sim/faults", control.faults),
        ("DELETE", "/_sim/faults", control.faults),
        ("GET", "/_sim/requests", control.requests),
        ("DELETE", "/_sim/requests", control.requests),
        ("GET", "/_sim/tasks", control.tasks),
        ("POST", "/_sim/reset", control.reset),
        ("*", "/_sim/outage", control.outage),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _answering_bad_input(handler))


def _answering_bad_input(handler: Handler) -> Handler:
    """A bad request body (ValueError, TypeError) is answered 400 with what is wrong."""

    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return answer


async def _json_object(request: web.Request, what: str) -> dict[str, Any]:
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError(f"send a JSON object{what}")
    return data


class _Control:
    def __init__(self, sim: GatewaySimulator) -> None:
        self._sim = sim

    async def config(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            self._sim.configure(**await _json_object(request, " of settings"))
        return web.json_response(self._sim.config.to_json())

    async def faults(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self._sim.clear_faults()
        elif request.method == "POST":
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            self._sim.add_faults(*[Fault.from_json(item) for item in items])
        queued = [dataclasses.asdict(fault) for fault in self._sim.faults]
        return web.json_response({"faults": queued})

    async def requests(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self._sim.clear_requests()
        records = [dataclasses.asdict(record) for record in self._sim.requests]
        return web.json_response({"counts": self._sim.request_counts, "requests": records})

    async def tasks(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "1000"))
        except ValueError:
            return web.json_response({"error": "limit must be an integer"}, status=400)
        book = self._sim.book
        tasks = []
        for task in book.tasks[:limit]:
            view = book.view(task)
            tasks.append(
                {
                    "id": task.id,
                    "kling_id": task.kling_id,
                    "kind": task.kind,
                    "model": task.model,
                    "prompt": task.prompt,
                    "duration": task.duration,
                    "aspect_ratio": task.aspect_ratio,
                    "external_task_id": task.external_task_id,
                    "callback_url": task.callback_url,
                    "outcome": task.outcome,
                    "phase": task.phase_at(book.now())[0],
                    "visible_phase": view.phase,
                    "progress": view.progress,
                }
            )
        return json_response({"count": len(book), "tasks": tasks})

    async def outage(self, request: web.Request) -> web.Response:
        """POST `{"mode", "seconds", "retry_after", "routes"}` starts an outage (mode
        "refuse" needs `seconds`: nobody could end it over HTTP); DELETE ends one."""
        if request.method == "DELETE":
            self._sim.end_outage()
        elif request.method == "POST":
            data = await _json_object(request, "")
            seconds = data.get("seconds")
            if data.get("mode") == "refuse":
                if not isinstance(seconds, int | float) or seconds <= 0:
                    raise ValueError("refuse needs seconds (nobody could end it over HTTP)")
                self._sim.refuse_connections_soon(seconds)  # answered first, then closed
            else:
                self._sim.start_outage(
                    str(data.get("mode")),
                    seconds=seconds,
                    retry_after=data.get("retry_after"),
                    routes=data.get("routes") or API_KINDS,
                )
        outage = self._sim.outage
        return web.json_response({"outage": dataclasses.asdict(outage) if outage else None})

    async def reset(self, request: web.Request) -> web.Response:
        self._sim.reset()
        return web.json_response({"reset": True})

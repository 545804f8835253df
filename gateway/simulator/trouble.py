"""Misbehaviour on demand: faults queued for the next requests of a kind (slow, dropped,
answered with an error, answer lost) and outages that answer every request of some routes
like a gateway in trouble for a while (`html_503`, `busy_429`, `timeout_504`). Refusing
connections altogether is the server's concern (it stops listening)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

from aiohttp import web

from .error_bodies import (
    BUSY_MESSAGE,
    busy_429,
    code_shape,
    error_shape,
    proxy_page,
    reason_phrase,
)
from .settings import API_KINDS, Fault, Outage

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _QueuedFault:
    fault: Fault
    left: int


class Trouble:
    """The faults waiting for requests, and the outage under way if any."""

    def __init__(self) -> None:
        self._faults: list[_QueuedFault] = []
        self.outage: Outage | None = None

    # --- faults -------------------------------------------------------------------------------

    def add_faults(self, *faults: Fault) -> None:
        self._faults.extend(_QueuedFault(fault, fault.times) for fault in faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def queued_faults(self) -> list[Fault]:
        """The faults still waiting, each with the number of requests it has left."""
        return [dataclasses.replace(q.fault, times=q.left) for q in self._faults]

    def take_fault(self, kind: str) -> Fault | None:
        """The first fault aimed at a request of `kind`, counted as used once more."""
        if kind not in API_KINDS:
            return None
        for index, queued in enumerate(self._faults):
            if queued.fault.route in (kind, "any"):
                queued.left -= 1
                if queued.left == 0:
                    del self._faults[index]
                return queued.fault
        return None

    # --- outages ------------------------------------------------------------------------------

    def outage_for(self, kind: str, now: float) -> Outage | None:
        """The outage under way for requests of `kind` at `now`, if any."""
        outage = self.outage
        if outage is None or not outage.covers(kind, now):
            return None
        return outage


async def answer_outage(
    request: web.Request, handler: Handler, outage: Outage, authorized: bool
) -> web.StreamResponse:
    """How a gateway in trouble answers a request during `outage`."""
    if outage.mode == "busy_429":
        return busy_429(outage.retry_after)
    if outage.mode == "timeout_504":
        if authorized:
            await handler(request)  # taken: a create makes its task, the answer is lost
        return proxy_page(504)
    return proxy_page(503)


async def apply_fault(request: web.Request, fault: Fault) -> web.Response | None:
    """Wait, drop the connection or answer the fault's error; None lets the request through."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.drop:
        drop_connection(request)
    if fault.status is None:
        return None
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    status = fault.status
    if fault.body == "html":
        return proxy_page(status, headers)
    if fault.body == "empty":
        return web.Response(status=status, headers=headers)
    message = fault.message or (BUSY_MESSAGE if status == 429 else reason_phrase(status))
    if fault.body == "code":
        default_code = "do_request_failed" if status >= 500 else "fail_to_fetch_task"
        response = code_shape(status, fault.code or default_code, message)
    else:
        response = error_shape(status, message, code=fault.code or "")
    response.headers.update(headers)
    return response


def drop_connection(request: web.Request) -> NoReturn:
    """Close the connection unanswered."""
    if request.transport is not None:
        request.transport.abort()
    raise web.HTTPServiceUnavailable  # never seen: the connection is gone

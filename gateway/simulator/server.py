"""`GatewaySimulator`: the simulator's parts put together on one aiohttp app on 127.0.0.1, its
lifecycle (start, stop, refuse and accept connections) and the steering API tests use
in-process. Every API request goes through one middleware: recorded, then an outage or a
queued fault if one applies, then the key is checked, then the route answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from .callbacks import CallbackSender
from .control import add_control_routes
from .error_bodies import error_shape
from .recording import RecordedRequest, RequestLog
from .routes import ApiRoutes, Handler, Videos
from .settings import API_KINDS, Fault, Outage, SimulatorConfig
from .tasks import SimTask, TaskBook
from .trouble import Trouble, answer_outage, apply_fault, drop_connection

logger = logging.getLogger(__name__)


class GatewaySimulator:
    """The gateway on 127.0.0.1: `base_url = await sim.start()`, then `await sim.stop()`."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book = TaskBook(config or SimulatorConfig(), clock)
        self._trouble = Trouble()
        self._log = RequestLog(self.book.config.record_limit)
        self._videos = Videos()
        self._callbacks = CallbackSender(self.book)
        self._api = ApiRoutes(self.book, self._videos, self._callbacks)
        self._kinds = {f"{method} {path}": kind for method, path, _, kind in self._api.table}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._bound: tuple[str, int] | None = None
        self._reopen: asyncio.Task[None] | None = None
        self._refusal: asyncio.Task[None] | None = None
        self.app = self._build_app()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def config(self) -> SimulatorConfig:
        return self.book.config

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator is not started")
        return self._base_url

    @property
    def listening(self) -> bool:
        return self._runner is not None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0: any free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already started")
        runner = web.AppRunner(
            self.app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self._bound = (host, bound_port)
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self._base_url = f"http://{shown_host}:{bound_port}"
        logger.info("gateway simulator listening on %s", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> GatewaySimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- outages ------------------------------------------------------------------------------

    async def refuse_connections(self, seconds: float | None = None) -> None:
        """Stop listening on the port: every connection is refused (open ones are closed);
        tasks, faults and records are kept. With `seconds`, listen again after that long."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.app = self._build_app()  # a cleaned-up app cannot be started again
            logger.info("gateway simulator refusing connections")
        if seconds is not None:
            self._reopen = asyncio.create_task(self._accept_after(seconds))

    def refuse_connections_soon(self, seconds: float) -> None:
        """`refuse_connections(seconds)` once the request under way has been answered."""

        def begin() -> None:
            self._refusal = asyncio.create_task(self.refuse_connections(seconds))

        asyncio.get_running_loop().call_soon(begin)

    async def _accept_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._reopen = None
        await self.accept_connections()

    async def accept_connections(self) -> None:
        """Listen again on the same host and port after `refuse_connections`."""
        if self._runner is not None or self._bound is None:
            return
        await self.start(*self._bound)

    def start_outage(
        self,
        mode: str,
        *,
        seconds: float | None = None,
        retry_after: str | None = None,
        routes: Sequence[str] = API_KINDS,
    ) -> Outage:
        """Answer every request of `routes` like a gateway in trouble (`html_503`, `busy_429`
        or `timeout_504`), for `seconds` of the simulator's clock or until `end_outage`."""
        until = None if seconds is None else self.book.now() + seconds
        self._trouble.outage = Outage(mode, tuple(routes), retry_after, until)
        return self._trouble.outage

    def end_outage(self) -> None:
        self._trouble.outage = None

    @property
    def outage(self) -> Outage | None:
        return self._trouble.outage

    # --- control ------------------------------------------------------------------------------

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change settings at once; tasks keep the timing they were created with."""
        book = self.book
        book.config = book.config.with_changes(changes)
        if "quota" in changes:
            book.quota_left = book.config.quota
        if "record_limit" in changes:
            self._log.resize(book.config.record_limit)
        return book.config

    def set_video(self, data: bytes | None) -> None:
        """Serve `data` as the video of every finished task (None: the bundled sample again)."""
        self._videos.replace(data)

    def add_faults(self, *faults: Fault) -> None:
        self._trouble.add_faults(*faults)

    def clear_faults(self) -> None:
        self._trouble.clear_faults()

    @property
    def faults(self) -> list[Fault]:
        """The faults still waiting, each with the number of requests it has left."""
        return self._trouble.queued_faults

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._log.records)

    @property
    def request_counts(self) -> dict[str, int]:
        """Requests per route, e.g. `{"POST /v1/video/generations": 1}`."""
        return dict(self._log.counts)

    def clear_requests(self) -> None:
        self._log.clear()

    def task(self, task_id: str) -> SimTask | None:
        return self.book.get(task_id)

    @property
    def tasks(self) -> list[SimTask]:
        return self.book.tasks

    @property
    def task_count(self) -> int:
        return len(self.book)

    def reset(self) -> None:
        """Forget tasks, faults and requests; the clock's origin starts again."""
        self.book.clear()
        self._callbacks.clear()
        self.clear_faults()
        self.clear_requests()

    # --- the app ------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024**2)
        for method, path, handler, _ in self._api.table:
            app.router.add_route(method, path, handler)
        add_control_routes(app, self)
        app.cleanup_ctx.append(self._callbacks.context)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        resource = request.match_info.route.resource
        route = f"{request.method} {resource.canonical if resource else request.path}"
        kind = self._kinds.get(route, "other")
        authorized = request.headers.get("Authorization") == f"Bearer {self.config.api_key}"
        await self._log.record(request, route, kind, authorized)
        outage = self._trouble.outage_for(kind, self.book.now())
        if outage is not None:
            return await answer_outage(request, handler, outage, authorized)
        fault = self._trouble.take_fault(kind)
        if fault is not None:
            early = await apply_fault(request, fault)
            if early is not None:
                return early
        if kind in API_KINDS and not authorized:
            response: web.StreamResponse = error_shape(401, "Invalid token")
        else:
            response = await handler(request)
        if fault is not None and fault.lose_answer:
            drop_connection(request)
        logger.debug("simulator %s %s -> %d", request.method, request.path, response.status)
        return response

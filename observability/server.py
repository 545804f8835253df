"""The operator's listener (METRICS_LISTEN): `GET /metrics` in Prometheus' text format and
`GET /healthz` (200 while the bot is connected to Discord and its poller ran recently, 503
otherwise, with the reason as JSON). Served by aiohttp on the bot's event loop."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from .prometheus import PrometheusMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str


HealthCheck = Callable[[], Health]
Unfinished = Callable[[], Awaitable[int]]


def ops_app(
    metrics: PrometheusMetrics, health: HealthCheck, unfinished: Unfinished | None = None
) -> web.Application:
    async def serve_metrics(request: web.Request) -> web.Response:
        if unfinished is not None:
            try:
                metrics.set_unfinished(await unfinished())
            except Exception:  # a scrape still answers with what it has
                log.warning("could not count unfinished tasks for /metrics", exc_info=True)
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def serve_health(request: web.Request) -> web.Response:
        state = health()
        return web.json_response(
            {"ok": state.ok, "detail": state.detail}, status=200 if state.ok else 503
        )

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", serve_health)
    return app


async def serve(app: web.Application, listen: tuple[str, int]) -> web.AppRunner:
    """Serve `app` on host:port; `cleanup()` the runner to stop. Raises OSError (nothing left
    open) when the address can't be served."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = listen
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


async def start_ops_server(listen: tuple[str, int], app: web.Application) -> web.AppRunner:
    """Serve /metrics and /healthz on host:port."""
    runner = await serve(app, listen)
    log.info("serving /metrics and /healthz on %s:%d", *listen)
    return runner

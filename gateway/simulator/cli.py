"""The command line: `python -m gateway.simulator --port 8080 --api-key sim-key` serves the
simulator until SIGINT or SIGTERM. Each option but the server's own (host, port, log level)
sets the `SimulatorConfig` field of the same name."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Callable, Sequence

from .server import GatewaySimulator
from .settings import KLING_ERROR_MODES, RETRIEVE_SHAPES, SimulatorConfig

_SERVER_OPTIONS = ("host", "port", "log_level")


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list as a tuple."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _names_or_all(text: str) -> tuple[str, ...] | None:
    """A comma-separated list; empty means no restriction (None)."""
    return _names(text) or None


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, SimulatorConfig]:
    """The options and the settings they make (a bad combination exits with its reason)."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m gateway.simulator",
        description="A local imitation of the Kling video gateway (never calls the real one).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=8080)
    add("--log-level", default="INFO")
    add(
        "--api-key",
        default=os.environ.get("KLING_API_KEY") or defaults.api_key,
        help="the key clients must send (default: $KLING_API_KEY, else sim-key)",
    )
    for name in ("time_factor", "queued_seconds", "running_seconds", "update_interval"):
        add("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    add("--duration-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None)
    add("--retrieve-shape", choices=RETRIEVE_SHAPES, default=defaults.retrieve_shape)
    add("--kling-errors", choices=KLING_ERROR_MODES, default=defaults.kling_errors)
    add("--models", default=",".join(defaults.models), type=_names, help="comma-separated")
    add("--allowed-models", default=None, type=_names_or_all, help="comma-separated; default all")
    add("--quota", type=int, default=None)
    add("--big-video-bytes", type=int, default=defaults.big_video_bytes)
    add("--callback-loss", type=float, default=0.0, help="share of callbacks never sent (0-1)")
    add("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    settings = {k: v for k, v in vars(args).items() if k not in _SERVER_OPTIONS}
    if settings["duration_range"] is not None:
        settings["duration_range"] = tuple(settings["duration_range"])
    try:
        config = SimulatorConfig(**settings)
    except ValueError as exc:
        parser.error(str(exc))
    return args, config


async def serve(
    simulator: GatewaySimulator,
    host: str,
    port: int,
    on_ready: Callable[[str], None] = lambda base_url: None,
) -> None:
    """Serve `simulator` on host:port until SIGINT or SIGTERM; `on_ready` gets the base URL."""
    on_ready(await simulator.start(host, port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> None:
    args, config = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(GatewaySimulator(config), args.host, args.port))

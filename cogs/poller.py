"""The background loop that drives the service: one pass, then sleep until the next task is due
(or a callback asks for a poll now). It starts once the bot is ready, survives any single
failure, and stops cleanly. Each pass also writes the heartbeat the health check reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path

from discord.ext import commands, tasks

from videojobs.service import VideoJobsService

log = logging.getLogger(__name__)

ERROR_PAUSE = 5.0


class PollerCog(commands.Cog):
    def __init__(
        self,
        bot: commands.Bot,
        service: VideoJobsService,
        *,
        max_sleep: float,
        heartbeat_path: Path | None = None,
    ) -> None:
        self.bot = bot
        self.service = service
        self.max_sleep = max_sleep
        self.heartbeat_path = heartbeat_path
        self.passes = 0
        self.last_pass: float | None = None  # time.monotonic() at the end of the last pass

    async def cog_load(self) -> None:
        self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()
        self.write_heartbeat(stopping=True)

    @tasks.loop(seconds=0)
    async def loop(self) -> None:
        try:
            report = await self.service.run_pass()
            self.passes += 1
            self.last_pass = time.monotonic()
            if report.polled or report.sent:
                log.debug("pass: %s", report)
        except Exception:
            log.exception("polling pass failed; trying again in %.0f s", ERROR_PAUSE)
            await asyncio.sleep(ERROR_PAUSE)
            return
        self.write_heartbeat()
        await self._sleep_until_due()

    @loop.before_loop
    async def before_loop(self) -> None:
        await self.bot.wait_until_ready()
        log.info("poller started")

    async def _sleep_until_due(self) -> None:
        wake = await self.service.next_wakeup()
        delay = self.max_sleep if wake is None else wake - time.time()
        delay = min(max(delay, 0.05), self.max_sleep)
        event = self.service.poll_requested
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=delay)
        event.clear()

    def write_heartbeat(self, *, stopping: bool = False) -> None:
        if self.heartbeat_path is None:
            return
        beat = {
            "time": time.time(),
            "connected": not stopping and not self.bot.is_closed() and self.bot.is_ready(),
            "latency": self.bot.latency if self.bot.latency == self.bot.latency else None,
            "passes": self.passes,
        }
        # one temporary file per process: two processes sharing a folder never trip over it
        tmp = self.heartbeat_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(beat))
        tmp.replace(self.heartbeat_path)

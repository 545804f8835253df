"""The callbacks Kling sends: at each relay tick, Kling's task object is POSTed to the
`callback_url` of every task whose status changed since the last one. Best effort, as Kling
does: a share may be lost on the way (`callback_loss`), failures are logged and forgotten."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .task_bodies import STATUS_WORDS, TaskBodies
from .tasks import TERMINAL_PHASES, SimTask, TaskBook

logger = logging.getLogger(__name__)


class CallbackSender:
    """Sends the callbacks of the tasks of `book` while the app it is attached to runs."""

    def __init__(self, book: TaskBook) -> None:
        self._book = book
        self._bodies = TaskBodies(book)
        self._loss_rng = random.Random(book.config.seed)  # apart: the tasks stay the same
        self._pending: set[str] = set()
        self._jobs: set[asyncio.Task[None]] = set()

    def watch(self, task: SimTask) -> None:
        """Call back about `task` until it ends, if it has a callback URL."""
        if task.callback_url:
            self._pending.add(task.id)

    def clear(self) -> None:
        self._pending.clear()

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """The app's cleanup context: send while it runs, stop with it."""
        session = aiohttp.ClientSession()
        loop = asyncio.create_task(self._loop(session))
        yield
        loop.cancel()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(loop, *self._jobs, return_exceptions=True)
        await session.close()

    async def _loop(self, session: aiohttp.ClientSession) -> None:
        """At each relay tick, tell Kling's callback URLs about tasks whose status changed."""
        limit = asyncio.Semaphore(64)
        while True:
            await asyncio.sleep(self._book.seconds_to_next_tick())
            try:
                self._send_due(session, limit)
            except Exception:
                logger.exception("simulator callback pass failed; carrying on")

    def _send_due(self, session: aiohttp.ClientSession, limit: asyncio.Semaphore) -> None:
        config = self._book.config
        for task_id in list(self._pending):
            task = self._book.get(task_id)
            if task is None or task.callback_url is None:
                self._pending.discard(task_id)
                continue
            view = self._book.view(task)
            status = STATUS_WORDS["kling"][view.phase]
            if view.phase in TERMINAL_PHASES:
                self._pending.discard(task_id)
            if status == task.last_callback:
                continue
            task.last_callback = status
            if config.callback_loss and self._loss_rng.random() < config.callback_loss:
                continue  # lost on the way, as callbacks sometimes are
            payload = self._bodies.kling_task(task, view, task.origin)
            job = asyncio.create_task(self._post(session, limit, task.callback_url, payload))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    async def _post(
        self, session: aiohttp.ClientSession, limit: asyncio.Semaphore, url: str, payload: Any
    ) -> None:
        timeout = aiohttp.ClientTimeout(total=self._book.config.callback_timeout)
        try:
            async with limit, session.post(url, json=payload, timeout=timeout) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            # the URL's path may carry the receiver's per-task secret: the host is enough
            logger.debug("callback to %s failed: %s", _origin(url), exc)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"

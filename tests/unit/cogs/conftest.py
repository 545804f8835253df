"""Fixtures of the cog tests: `cogs` (a bot with the environment's defaults), `make_cogs` (one
with other settings, or keeping frames with `fixer=image_fixer`). After each test: no traceback
or secret reached Discord, no interaction was answered twice, no request went to a route
Discord does not have."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest

from media.images import ImageFixer
from storage.task_store import SqliteTaskStore
from tests.fakes import MemoryStore

from .harness import KLING_KEY, TOKEN, TRACEBACK_MARKS, Cogs


@pytest.fixture
async def make_cogs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[Cogs]]]:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored after
    started: list[Cogs] = []

    async def make(
        *,
        fixer: ImageFixer | None = None,
        store: MemoryStore | SqliteTaskStore | None = None,
        **settings: Any,
    ) -> Cogs:
        cogs = Cogs(tmp_path / f"bot{len(started)}", fixer, store, **settings)
        cogs.tmp_path.mkdir()
        started.append(cogs)
        await cogs.start()
        return cogs

    yield make
    for cogs in started:
        with contextlib.suppress(Exception):
            await cogs.stop()
    for cogs in started:
        assert not cogs.rest.unknown, f"requests this Discord does not know: {cogs.rest.unknown}"
        twice = [c.path for c in cogs.rest.calls if c.interaction_id and c.status == 400]
        assert not twice, f"an interaction answered twice: {twice}"
        leaked = [
            f"{c.method} {c.path}: {c.body}"
            for c in cogs.rest.calls
            if c.body is not None
            and any(mark in str(c.body) for mark in (*TRACEBACK_MARKS, TOKEN, KLING_KEY))
        ]
        assert not leaked, f"a traceback or a secret reached Discord: {leaked}"


@pytest.fixture(scope="session")
def image_fixer() -> Iterator[ImageFixer]:
    """The bot's worker process for images, started once (it takes a moment)."""
    fixer = ImageFixer()
    yield fixer
    fixer.close()


@pytest.fixture
async def cogs(make_cogs: Callable[..., Awaitable[Cogs]]) -> Cogs:
    return await make_cogs()

"""The store contract suite runs every test on each backend: the in-memory fake the unit tests
use, SQLite and PostgreSQL. A backend opens stores on one shared set of data, as separate
processes would (the fake: one object, since it lives in one process)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from storage import PostgresTaskStore, SqliteTaskStore
from tests.fakes import MemoryStore

BACKENDS = ("memory", "sqlite", "postgres")


class Backend:
    """Opens stores on one backend's data and closes them all at the end."""

    def __init__(self, name: str, opener: Callable[[], Awaitable[Any]]) -> None:
        self.name = name
        self._opener = opener
        self._opened: list[Any] = []

    async def open(self, owner: str | None = None, clock: Callable[[], float] | None = None) -> Any:
        """A store on the backend's data; with `owner`, working for that process (leases),
        and with `clock`, timing its leases by it."""
        store = await self._opener()
        if owner is not None and self.name == "memory":
            store = MemoryStore(owner, shared=store)
        if owner is not None or clock is not None:
            store.set_lease_terms(owner=owner, clock=clock)
        self._opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in reversed(self._opened):
            await store.close()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        shared = MemoryStore()

        async def opener() -> Any:
            return shared

    elif request.param == "sqlite":
        path = tmp_path / "data" / "bot.sqlite3"

        async def opener() -> Any:
            return await SqliteTaskStore.open(path)

    else:
        # The server fixture is synchronous, so it can be asked for here (only the PostgreSQL
        # case needs it, and only it is skipped where no server can start).
        dsn = await request.getfixturevalue("postgres_server").create_database()

        async def opener() -> Any:
            return await PostgresTaskStore.open(dsn)

    backend = Backend(request.param, opener)
    yield backend
    await backend.close_all()


@pytest.fixture
async def store(backend: Backend) -> Any:
    """The first store of the backend."""
    return await backend.open()

"""Fixtures shared by every test folder: a real PostgreSQL server (started once per session), a
clock the test moves and an HTTP client session. Plain helpers (free ports, waiting on a
condition, the clock itself) are in tests/support/."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from .pg_server import PostgresServer, PostgresUnavailable, start_server
from .support.clock import FakeClock


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of our own (never one that happens to run here). Where none can be
    started the PostgreSQL tests are skipped, except in CI (CI=true), where they fail."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The DSN of a new, empty database on the session's server."""
    return await postgres_server.create_database()


@pytest.fixture
def clock() -> FakeClock:
    """Time that moves only when the test calls `clock.advance(seconds)`."""
    return FakeClock()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session

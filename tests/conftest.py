"""Fixtures shared by every test folder: a real PostgreSQL server, started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .pg_server import PostgresServer, PostgresUnavailable, start_server


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

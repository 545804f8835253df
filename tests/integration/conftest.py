"""Fixtures of the integration tests: the gateway simulator on a clock the test moves, and a
SQLite store on a new file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.simulator import GatewaySimulator, SimulatorConfig
from storage.task_store import SqliteTaskStore
from tests.support.clock import FakeClock

#: the key the `sim` fixture's gateway accepts (distinctive, so a leak of it can be searched)
GATEWAY_KEY = "sk-sim-7d2c9a4e1f"


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[GatewaySimulator]:
    """A started gateway simulator taking GATEWAY_KEY, whose tasks age with `clock`."""
    simulator = GatewaySimulator(SimulatorConfig(api_key=GATEWAY_KEY), clock=clock)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the `store` fixture's database is (its folder is made when it opens)."""
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteTaskStore]:
    """A SQLite store on a new file at `db_path`, closed after the test."""
    store = await SqliteTaskStore.open(db_path)
    try:
        yield store
    finally:
        await store.close()

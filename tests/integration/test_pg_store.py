"""What is particular to PostgreSQL: its migrations (from empty, re-run, several processes at
once, a failure), the query plans and the pool. The behaviour of every store method is in the
contract suite (tests/contract/), which runs on PostgreSQL too."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage import pg_leases
from storage import pg_store as sql
from storage.database import MigrationError, load_migrations
from storage.pg_database import PG_MIGRATIONS_DIR, create_pool, migrate, schema_version
from storage.pg_store import PostgresTaskStore
from videojobs.models import TaskState, VideoRequest, VideoTask, new_task_id
from videojobs.ports import AdmissionLimits

NOW = 1_700_010_000.0
DAY = 1_700_006_400.0
LEASE = {"me": "p1", "lnow": NOW, "until": NOW + 30, "now": NOW, "limit": 10}


@pytest.fixture
async def conn(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to a new, empty database."""
    conn = await asyncpg.connect(postgres_dsn)
    yield conn
    await conn.close()


async def table_names(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row[0] for row in rows}


def copy_migrations(directory: Path, extra: dict[str, str]) -> Path:
    directory.mkdir()
    for file in PG_MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(file, directory / file.name)
    for name, text in extra.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


async def test_opening_migrates_an_empty_database(postgres_dsn: str) -> None:
    """A new database gets every table and every migration, recorded once."""
    store = await PostgresTaskStore.open(postgres_dsn)
    try:
        async with store.pool.acquire() as conn:
            assert await schema_version(conn) == len(load_migrations(PG_MIGRATIONS_DIR))
            assert {"tasks", "meta", "schema_migrations"} <= await table_names(conn)
    finally:
        await store.close()


async def test_migrating_again_is_a_no_op(conn: asyncpg.Connection) -> None:
    """Re-running the migrations keeps the version, the recorded rows and the data."""
    version = await migrate(conn)
    await conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")

    assert await migrate(conn) == version
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == version
    assert await conn.fetchval("SELECT value FROM meta WHERE key = 'k'") == "v"


async def test_processes_starting_together_migrate_once(postgres_dsn: str) -> None:
    """Six pools opened at once on an empty database (six processes starting together): all
    start, and each migration is applied and recorded exactly once."""
    pools = await asyncio.gather(*(create_pool(postgres_dsn, max_size=2) for _ in range(6)))
    try:
        rows = await pools[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))

    assert [row[0] for row in rows] == list(range(1, len(load_migrations(PG_MIGRATIONS_DIR)) + 1))


async def test_a_failing_migration_rolls_back_everything(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """A bad migration leaves an empty database empty: no table of the good ones either."""
    bad = f"{len(load_migrations(PG_MIGRATIONS_DIR)) + 1:04d}_bad.sql"
    migrations = copy_migrations(
        tmp_path / "migrations",
        {bad: "CREATE TABLE extra (x integer);\nINSERT INTO nowhere VALUES (1);\n"},
    )

    with pytest.raises(MigrationError, match=rf"{re.escape(bad)} failed: .*nowhere"):
        await migrate(conn, migrations)
    assert await table_names(conn) == set()


async def test_a_failing_migration_leaves_a_migrated_database_as_it_was(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """On a migrated database a bad new migration changes neither the version nor the schema."""
    version = await migrate(conn)
    migrations = copy_migrations(
        tmp_path / "migrations",
        {f"{version + 1:04d}_bad.sql": "ALTER TABLE tasks ADD COLUMN x integer;\nSELEC 1;\n"},
    )

    with pytest.raises(MigrationError, match="syntax error"):
        await migrate(conn, migrations)
    assert await schema_version(conn) == version
    columns = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'tasks'"
    )
    assert "x" not in {row[0] for row in columns}


async def test_a_database_newer_than_the_code_is_refused(conn: asyncpg.Connection) -> None:
    """A version above the latest migration stops the start-up with a clear error."""
    await migrate(conn)
    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, '0099_x.sql')")

    with pytest.raises(MigrationError, match="version 99, newer than this code knows"):
        await migrate(conn)


async def test_a_claim_records_its_time(postgres_dsn: str) -> None:
    """claim_delivery stores delivery_claimed_at."""
    store = await PostgresTaskStore.open(postgres_dsn)
    try:
        task = VideoTask(
            id=new_task_id(),
            requester_id=1,
            guild_id=None,
            channel_id=2,
            request=VideoRequest(prompt="p", model="m"),
            created_at=NOW,
            deadline_at=NOW + 60,
            next_poll_at=NOW,
            state=TaskState.FAILED,
            finished_at=NOW,
        )
        await store.insert_within_limits(task, AdmissionLimits(day_start=DAY))
        await store.claim_delivery(task.id, NOW + 1)
        claimed = await store.pool.fetchrow(
            "SELECT delivery, delivery_claimed_at FROM tasks WHERE id = $1", task.id
        )
    finally:
        await store.close()

    assert tuple(claimed) == ("claimed", NOW + 1)


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (pg_leases._CLAIM_POLLS, LEASE, "tasks_poll"),
        (pg_leases._CLAIM_ORPHANS, LEASE, "tasks_unsent"),
        (pg_leases._RENEW, LEASE, "tasks_lease_owner"),
        (sql.SQL.next_poll_at, (), "tasks_poll"),
        (sql._UNDELIVERED, (), "tasks_undelivered"),
        (pg_leases._CLAIM_DELIVERIES, LEASE, "tasks_undelivered"),
        (sql.SQL.next_delivery_at, (), "tasks_undelivered"),
        (sql.SQL.reopen_given_up, (), "tasks_delivery_gave_up"),
        (sql.SQL.user_unfinished, (111, 10), "tasks_requester_unfinished"),
        (pg_leases._CLAIM_WAITING, LEASE, "tasks_waiting"),
        (sql.SQL.count_unfinished_guild, (222,), "tasks_guild_unfinished"),
        (sql.SQL.by_gateway_id, ("gw",), "tasks_gateway"),
        (sql.SQL.count_limits, (111, 111, DAY), "tasks_requester"),
        (sql._COMPLETED_DURATIONS, ("kling-v3", "std", "5", 30), "tasks_finish_times"),
        (sql._FINISHED_IN_GUILD, (111, 222, 10, 0), "tasks_history"),
        (sql._FINISHED_IN_DMS, (111, 10, 0), "tasks_history"),
        (sql._COUNT_FINISHED_IN_GUILD, (111, 222), "tasks_history"),
        (sql.SQL.credits_used, (222, DAY), "tasks_guild_credits"),
    ],
)
async def test_queries_can_use_their_index(
    conn: asyncpg.Connection, query: Any, params: Any, index: str
) -> None:
    """Each query's WHERE matches its partial index word for word: with sequential scans
    discouraged, the plan names that index."""
    await migrate(conn)
    await conn.execute("SET enable_seqscan = off")
    if isinstance(query, pg_leases._Statement):
        query, params = query.sql, query.args(params)
    rows = await conn.fetch(f"EXPLAIN {query}", *params)
    plan = " | ".join(row[0] for row in rows)

    assert re.search(rf"\b{index}\b", plan), plan

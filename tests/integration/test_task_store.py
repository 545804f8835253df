"""What is particular to SQLite: the file, its PRAGMAs, migrations, query plans and crashes.

The behaviour of every store method is in the contract suite (tests/contract/), run on SQLite,
PostgreSQL and the in-memory fake alike."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from storage import leases, rows
from storage import task_store as sql
from storage.database import (
    MIGRATIONS_DIR,
    SHARED_MIGRATIONS_DIR,
    MigrationError,
    load_migrations,
    migrate,
    open_database,
    split_statements,
)
from storage.pg_database import PG_MIGRATIONS_DIR
from storage.task_store import SqliteTaskStore
from tests.support.tasks import DAY, NO_LIMITS, NOW, make_task
from videojobs.models import (
    ACTIVE_STATES,
    POLLED_STATES,
    TERMINAL_STATES,
    TaskState,
    VideoTask,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
BIG_ID = 1234567890123456789
LEASE = {"me": "p1", "lnow": NOW, "until": NOW + 30, "now": NOW, "limit": 10}


@pytest.fixture
async def conn(db_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A second connection to the store's file."""
    conn = await open_database(db_path)
    yield conn
    await conn.close()


async def insert(store: SqliteTaskStore, **changes: Any) -> VideoTask:
    task = make_task(**changes)
    assert await store.insert_within_limits(task, NO_LIMITS) is None
    return task


async def scalar(conn: aiosqlite.Connection, query: str) -> Any:
    rows = list(await conn.execute_fetchall(query))
    return rows[0][0]


async def table_names(conn: aiosqlite.Connection) -> set[str]:
    rows = await conn.execute_fetchall("SELECT name FROM sqlite_schema WHERE type = 'table'")
    return {row[0] for row in rows}


# --- migrations ---------------------------------------------------------------------------------


async def test_open_migrates_an_empty_file_to_the_latest_version(tmp_path: Path) -> None:
    """A new file (in a folder that does not exist yet) gets every table and the version."""
    conn = await open_database(tmp_path / "new" / "folder" / "bot.sqlite3")
    try:
        assert await scalar(conn, "PRAGMA user_version") == len(load_migrations())
        assert {"tasks", "meta"} <= await table_names(conn)
    finally:
        await conn.close()


async def test_open_sets_the_pragmas(conn: aiosqlite.Connection) -> None:
    """WAL, synchronous NORMAL, foreign keys and a busy timeout are on."""
    assert await scalar(conn, "PRAGMA journal_mode") == "wal"
    assert await scalar(conn, "PRAGMA synchronous") == 1
    assert await scalar(conn, "PRAGMA foreign_keys") == 1
    assert await scalar(conn, "PRAGMA busy_timeout") == 5000


async def test_migrating_again_is_a_no_op(
    store: SqliteTaskStore, conn: aiosqlite.Connection
) -> None:
    """Re-running the migrations keeps the version and the data."""
    task = await insert(store)
    version = await scalar(conn, "PRAGMA user_version")

    assert await migrate(conn) == version
    assert await scalar(conn, "PRAGMA user_version") == version
    assert await store.get(task.id) == task


async def test_migrations_load_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migrations are found next to the package, not in the working directory."""
    monkeypatch.chdir(tmp_path)
    store = await SqliteTaskStore.open("relative.sqlite3")
    try:
        assert await store.count_unfinished(None) == 0
    finally:
        await store.close()


async def test_a_second_open_of_the_same_file_sees_the_data(
    store: SqliteTaskStore, db_path: Path
) -> None:
    """Two stores on one file share the data."""
    task = await insert(store)
    other = await SqliteTaskStore.open(db_path)
    try:
        assert await other.get(task.id) == task
    finally:
        await other.close()


def test_shared_statements_belong_to_a_migration_of_both_engines() -> None:
    """A file of shared_migrations/ is appended to the migration of the same name of SQLite
    and of PostgreSQL; one without both would be applied to one engine only, or to none."""
    shared = sorted(file.name for file in SHARED_MIGRATIONS_DIR.glob("*.sql"))
    assert shared, "the indexes of 0001 are shared"
    for name in shared:
        assert (MIGRATIONS_DIR / name).is_file(), f"{name}: no SQLite migration of that name"
        assert (PG_MIGRATIONS_DIR / name).is_file(), f"{name}: no PostgreSQL migration of that name"
    assert "CREATE INDEX tasks_poll" in load_migrations()[0].sql


def write_migrations(directory: Path, extra: dict[str, str]) -> Path:
    directory.mkdir()
    for file in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(file, directory / file.name)
    for name, text in extra.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


async def test_a_failing_migration_rolls_back_everything(tmp_path: Path) -> None:
    """A bad migration leaves an empty database empty: no table of the good ones, version 0."""
    bad = f"{len(load_migrations()) + 1:04d}_bad.sql"  # after the real ones
    migrations = write_migrations(
        tmp_path / "migrations",
        {bad: "CREATE TABLE extra (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n"},
    )
    conn = await aiosqlite.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    try:
        with pytest.raises(
            MigrationError, match=rf"{re.escape(bad)} failed: no such table: nowhere"
        ):
            await migrate(conn, migrations)
        assert await scalar(conn, "PRAGMA user_version") == 0
        assert await table_names(conn) == set()
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_the_version_unchanged(
    conn: aiosqlite.Connection, tmp_path: Path
) -> None:
    """On a migrated database, a bad new migration changes neither version nor schema."""
    version = await scalar(conn, "PRAGMA user_version")
    migrations = write_migrations(
        tmp_path / "migrations",
        {f"{version + 1:04d}_bad.sql": "ALTER TABLE tasks ADD COLUMN x INTEGER;\nSELEC 1;\n"},
    )
    with pytest.raises(MigrationError, match="syntax error"):
        await migrate(conn, migrations)

    assert await scalar(conn, "PRAGMA user_version") == version
    columns = await conn.execute_fetchall("SELECT name FROM pragma_table_info('tasks')")
    assert "x" not in {row[0] for row in columns}
    assert not conn.in_transaction


def test_migrations_must_be_numbered_without_gaps(tmp_path: Path) -> None:
    """A gap in the numbering is refused before anything runs."""
    latest = len(load_migrations())
    gap = {f"{latest + 2:04d}_later.sql": "SELECT 1;"}  # one number skipped
    migrations = write_migrations(tmp_path / "migrations", gap)
    with pytest.raises(MigrationError, match=f"should be numbered {latest + 1:04d}"):
        load_migrations(migrations)


def test_migrations_must_be_named_nnnn_name_sql(tmp_path: Path) -> None:
    """A .sql file with another name is refused, not silently skipped."""
    migrations = write_migrations(tmp_path / "migrations", {"2-oops.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match=r"not named NNNN_name\.sql"):
        load_migrations(migrations)


async def test_a_database_newer_than_the_code_is_refused(conn: aiosqlite.Connection) -> None:
    """A version above the latest migration stops the start-up with a clear error."""
    await conn.execute("PRAGMA user_version = 99")
    with pytest.raises(MigrationError, match="version 99, newer than this code knows"):
        await migrate(conn)
    assert await scalar(conn, "PRAGMA user_version") == 99


def test_split_statements_respects_quotes_comments_and_triggers() -> None:
    """A semicolon in a string, a comment or a trigger body does not end a statement."""
    script = textwrap.dedent("""
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT DEFAULT ';');
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'a;b'; END;
        SELECT 1
    """)
    statements = split_statements(script)

    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")
    assert statements[2] == "SELECT 1"


# --- writes and crashes ---------------------------------------------------------------------------


async def test_writes_are_visible_to_another_connection_at_once(
    store: SqliteTaskStore, conn: aiosqlite.Connection
) -> None:
    """Each write is committed before it returns, not left in an open transaction."""
    task = await insert(store)
    await store.update(task.evolve(state=TaskState.SUBMITTING))

    rows = list(await conn.execute_fetchall("SELECT state FROM tasks WHERE id = ?", (task.id,)))
    assert rows[0][0] == "submitting"


async def test_a_write_survives_a_process_that_dies_without_closing(db_path: Path) -> None:
    """A process killed right after a write (no close, no cleanup) loses nothing."""
    script = textwrap.dedent(f"""
        import asyncio, os, sys
        from storage.task_store import SqliteTaskStore
        from videojobs.models import TaskState, VideoRequest, VideoTask
        from videojobs.ports import AdmissionLimits

        async def main():
            store = await SqliteTaskStore.open(sys.argv[1])
            task = VideoTask(id="ab" * 16, requester_id={BIG_ID}, guild_id=None, channel_id=1,
                             request=VideoRequest(prompt="p", model="m"),
                             created_at=1.0, deadline_at=2.0, next_poll_at=1.0)
            assert await store.insert_within_limits(task, AdmissionLimits()) is None
            assert await store.update(task.evolve(state=TaskState.SUBMITTING))
            os._exit(3)

        asyncio.run(main())
    """)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(db_path), cwd=REPO_ROOT
    )
    assert await process.wait() == 3

    store = await SqliteTaskStore.open(db_path)
    try:
        task = await store.get("ab" * 16)
    finally:
        await store.close()
    assert task is not None
    assert task.state is TaskState.SUBMITTING
    assert task.requester_id == BIG_ID


async def test_closing_twice_is_harmless(db_path: Path) -> None:
    """close() may be called again (shutdown paths overlap)."""
    store = await SqliteTaskStore.open(db_path)
    await store.close()
    await store.close()


# --- delivery -----------------------------------------------------------------------------------


async def test_a_claim_records_its_time(store: SqliteTaskStore, conn: aiosqlite.Connection) -> None:
    """claim_delivery stores delivery_claimed_at."""
    task = await insert(store, state=TaskState.FAILED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW + 1)

    rows = list(
        await conn.execute_fetchall(
            "SELECT delivery, delivery_claimed_at FROM tasks WHERE id = ?", (task.id,)
        )
    )
    assert tuple(rows[0]) == ("claimed", NOW + 1)


# --- query plans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (leases._CLAIM_POLLS, LEASE, "tasks_poll"),
        (leases._CLAIM_WAITING, LEASE, "tasks_waiting"),
        (leases._CLAIM_ORPHANS, LEASE, "tasks_unsent"),
        (leases._RENEW, LEASE, "tasks_lease_owner"),
        (sql.SQL.next_poll_at, (), "tasks_poll"),
        (sql._UNDELIVERED_TASKS, (), "tasks_undelivered"),
        (leases._CLAIM_DELIVERIES, LEASE, "tasks_undelivered"),
        (sql.SQL.next_delivery_at, (), "tasks_undelivered"),
        (sql.SQL.reopen_given_up, (), "tasks_delivery_gave_up"),
        (sql.SQL.user_unfinished, (111, 10), "tasks_requester_unfinished"),
        (sql.SQL.count_unfinished_guild, (222,), "tasks_guild_unfinished"),
        (sql.SQL.count_unfinished_all, (), "tasks_guild_unfinished"),
        (sql.SQL.by_gateway_id, ("gw",), "tasks_gateway"),
        (sql.SQL.count_limits, (111, 111, DAY), "tasks_requester"),
        (sql.SQL.credits_used, (222, DAY), "tasks_guild_credits"),
        (sql.SQL.guild_unfinished, (222, 10, 0), "tasks_guild_unfinished"),
    ],
)
async def test_queries_use_their_index(
    conn: aiosqlite.Connection, query: str, params: Any, index: str
) -> None:
    """The query plan names the (partial) index meant for the query, with no table scan."""
    rows = await conn.execute_fetchall(f"EXPLAIN QUERY PLAN {query}", params)
    details = [row["detail"] for row in rows]

    assert re.search(rf"USING (COVERING )?INDEX {index}\b", " | ".join(details))
    assert "SCAN tasks" not in details  # a full table scan


def test_the_state_lists_in_sql_match_the_model() -> None:
    """The literal state lists (shared with the partial indexes) match the enums."""

    def values(literal: str) -> set[str]:
        return {word.strip(" '") for word in literal.strip("()").split(",")}

    assert values(rows.POLLED) == {s.value for s in POLLED_STATES}
    assert values(rows.ACTIVE) == {s.value for s in ACTIVE_STATES}
    assert values(rows.TERMINAL) == {s.value for s in TERMINAL_STATES}

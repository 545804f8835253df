"""SqliteTaskStore and the migrations, on real SQLite files."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from storage import task_store as sql
from storage.database import (
    MIGRATIONS_DIR,
    MigrationError,
    load_migrations,
    migrate,
    open_database,
    split_statements,
)
from storage.task_store import SqliteTaskStore
from videojobs.models import (
    ACTIVE_STATES,
    POLLED_STATES,
    TERMINAL_STATES,
    DeliveryState,
    ImageRef,
    TaskState,
    VideoRequest,
    VideoTask,
    new_task_id,
)
from videojobs.ports import LimitCounts

REPO_ROOT = Path(__file__).resolve().parents[2]
BIG_ID = 1234567890123456789
DAY = 1_700_006_400.0  # a UTC midnight
NOW = DAY + 3600.0

NO_LIMITS: dict[str, Any] = {"max_active": 0, "max_daily": 0, "day_start": DAY}


def make_task(**changes: Any) -> VideoTask:
    fields: dict[str, Any] = {
        "id": new_task_id(),
        "requester_id": 111,
        "guild_id": 222,
        "channel_id": 333,
        "request": VideoRequest(prompt="a cat on a skateboard", model="kling-v3"),
        "created_at": NOW,
        "deadline_at": NOW + 1800,
        "next_poll_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return VideoTask(**fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteTaskStore]:
    store = await SqliteTaskStore.open(db_path)
    yield store
    await store.close()


@pytest.fixture
async def conn(db_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A second connection to the store's file."""
    conn = await open_database(db_path)
    yield conn
    await conn.close()


async def insert(store: SqliteTaskStore, **changes: Any) -> VideoTask:
    task = make_task(**changes)
    assert await store.insert_within_limits(task, **NO_LIMITS) is None
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


# --- round trip ---------------------------------------------------------------------------------


async def test_every_field_survives_a_round_trip(store: SqliteTaskStore) -> None:
    """A task with every field set (images, big Discord ids) reads back equal."""
    parent = await insert(store, state=TaskState.FAILED)
    image = ImageRef("https://cdn.example/a.png", "a.png", "image/png", 123_456, 1024, 768)
    end_image = ImageRef("https://cdn.example/b.jpg", "b.jpg", "image/jpeg", 654_321, 800, 1200)
    request = VideoRequest(
        prompt="un chat qui fait du skate 🛹",
        model="kling-v2-master",
        mode="pro",
        duration=10,
        aspect_ratio="9:16",
        negative_prompt="blur",
        cfg_scale=0.35,
        image=image,
        end_image=end_image,
        camera=None,
        camera_strength=7,
    )
    task = make_task(
        requester_id=BIG_ID,
        guild_id=BIG_ID + 1,
        channel_id=BIG_ID + 2,
        thread_id=BIG_ID + 3,
        status_message_id=BIG_ID + 4,
        upload_limit=25 * 1024 * 1024,
        request=request,
        gateway_task_id="gw-123",
        state=TaskState.COMPLETED,
        progress=100,
        result_url="https://cdn.example/video.mp4",
        failure_reason="none at all",
        attempts=2,
        poll_errors=3,
        next_poll_at=NOW + 10.25,
        deadline_at=NOW + 1800.5,
        created_at=NOW + 0.125,
        updated_at=NOW + 60.75,
        finished_at=NOW + 61.5,
        delivery=DeliveryState.DELIVERED,
        delivery_message_id=2**63 - 1,
        delivered_at=NOW + 62.0,
        retry_of=parent.id,
    )
    assert await store.insert_within_limits(task, **NO_LIMITS) is None

    assert await store.get(task.id) == task


async def test_none_values_survive_a_round_trip(store: SqliteTaskStore) -> None:
    """A task with every optional field None (a DM, text only) reads back equal."""
    task = make_task(
        guild_id=None,
        request=VideoRequest(prompt="p", model="m", negative_prompt=None, cfg_scale=None),
    )
    await store.insert_within_limits(task, **NO_LIMITS)

    assert await store.get(task.id) == task


async def test_unknown_ids_are_not_found(store: SqliteTaskStore) -> None:
    """get, find_by_short_id and find_by_gateway_id return None for unknown ids."""
    await insert(store, gateway_task_id="gw-1")

    assert await store.get("0" * 32) is None
    assert await store.find_by_short_id("00000000") is None
    assert await store.find_by_gateway_id("gw-2") is None


async def test_find_by_short_id_ignores_case_and_spaces(store: SqliteTaskStore) -> None:
    """The short id is found as a member might type it."""
    task = await insert(store)

    assert await store.find_by_short_id(f" {task.short_id.upper()} ") == task


async def test_find_by_gateway_id(store: SqliteTaskStore) -> None:
    """A task is found by the id the gateway gave it."""
    await insert(store, gateway_task_id="gw-1")
    task = await insert(store, gateway_task_id="gw-2")

    assert await store.find_by_gateway_id("gw-2") == task


async def test_a_retry_of_an_unknown_task_is_refused(store: SqliteTaskStore) -> None:
    """retry_of is a foreign key, enforced."""
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await insert(store, retry_of="f" * 32)


async def test_an_id_that_is_not_32_hex_is_refused(store: SqliteTaskStore) -> None:
    """The schema keeps ids in the shape the short id relies on."""
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        await insert(store, id="not-a-task-id-not-a-task-id-1234")


# --- update -------------------------------------------------------------------------------------


async def test_update_writes_every_mutable_field(store: SqliteTaskStore) -> None:
    """An unconditional update stores all mutable fields."""
    task = await insert(store)
    changed = task.evolve(
        thread_id=BIG_ID,
        status_message_id=BIG_ID + 1,
        upload_limit=50 * 1024 * 1024,
        gateway_task_id="gw-9",
        state=TaskState.RUNNING,
        progress=42,
        result_url="https://x/y.mp4",
        failure_reason="later",
        attempts=1,
        poll_errors=2,
        next_poll_at=NOW + 30,
        deadline_at=NOW + 3600,
        updated_at=NOW + 5,
        finished_at=NOW + 6,
    )

    assert await store.update(changed) is True
    assert await store.get(task.id) == changed


async def test_update_with_expected_state_writes_when_it_matches(store: SqliteTaskStore) -> None:
    """Compare-and-set succeeds when the stored state is one of those expected."""
    task = await insert(store, state=TaskState.QUEUED)
    running = task.evolve(state=TaskState.RUNNING, progress=10)

    assert await store.update(running, expect_states=POLLED_STATES) is True
    assert await store.get(task.id) == running


async def test_update_with_expected_state_skips_when_it_moved_on(store: SqliteTaskStore) -> None:
    """Compare-and-set writes nothing when the stored state is not one of those expected."""
    task = await insert(store, state=TaskState.QUEUED)
    cancelled = task.evolve(state=TaskState.CANCELLED, finished_at=NOW)
    assert await store.update(cancelled, expect_states={TaskState.QUEUED})

    stale = task.evolve(state=TaskState.RUNNING, progress=50)
    assert await store.update(stale, expect_states=POLLED_STATES) is False
    assert await store.get(task.id) == cancelled


async def test_update_of_an_unknown_task_returns_false(store: SqliteTaskStore) -> None:
    """Nothing is written (or created) for an id that is not stored."""
    task = make_task()

    assert await store.update(task) is False
    assert await store.get(task.id) is None


async def test_update_leaves_the_delivery_fields_alone(store: SqliteTaskStore) -> None:
    """A stale copy of a task cannot undo a delivery claim."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    assert await store.claim_delivery(task.id, NOW)

    assert await store.update(task.evolve(progress=100))
    stored = await store.get(task.id)
    assert stored is not None
    assert stored.delivery is DeliveryState.CLAIMED
    assert stored.progress == 100


async def test_update_many_writes_every_task(store: SqliteTaskStore) -> None:
    """update_many stores each task's fields in one call."""
    tasks = [await insert(store, state=TaskState.QUEUED) for _ in range(5)]
    changed = [t.evolve(next_poll_at=NOW + i, poll_errors=i) for i, t in enumerate(tasks)]

    assert await store.update_many(changed) == 5
    assert [await store.get(t.id) for t in tasks] == changed


async def test_update_many_with_expected_states_skips_tasks_that_moved_on(
    store: SqliteTaskStore,
) -> None:
    """A task cancelled meanwhile is not put back to polling by a batched write."""
    kept, cancelled = [await insert(store, state=TaskState.QUEUED) for _ in range(2)]
    await store.update(cancelled.evolve(state=TaskState.CANCELLED))

    written = await store.update_many(
        [kept.evolve(next_poll_at=NOW + 9), cancelled.evolve(next_poll_at=NOW + 9)],
        expect_states=POLLED_STATES,
    )

    assert written == 1
    stored = await store.get(cancelled.id)
    assert stored is not None
    assert stored.state is TaskState.CANCELLED


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

        async def main():
            store = await SqliteTaskStore.open(sys.argv[1])
            task = VideoTask(id="ab" * 16, requester_id={BIG_ID}, guild_id=None, channel_id=1,
                             request=VideoRequest(prompt="p", model="m"),
                             created_at=1.0, deadline_at=2.0, next_poll_at=1.0)
            assert await store.insert_within_limits(
                task, max_active=0, max_daily=0, day_start=0.0) is None
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


async def test_a_terminal_task_can_be_claimed_once(store: SqliteTaskStore) -> None:
    """The first claim wins; a second one fails."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)

    assert await store.claim_delivery(task.id, NOW + 1) is True
    assert await store.claim_delivery(task.id, NOW + 2) is False


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


@pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
async def test_an_unfinished_task_cannot_be_claimed(
    store: SqliteTaskStore, state: TaskState
) -> None:
    """Only a task in a terminal state can be delivered."""
    task = await insert(store, state=state)

    assert await store.claim_delivery(task.id, NOW) is False


async def test_a_released_claim_can_be_claimed_again(store: SqliteTaskStore) -> None:
    """release_delivery puts CLAIMED back to NONE."""
    task = await insert(store, state=TaskState.TIMED_OUT, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)

    await store.release_delivery(task.id)

    assert await store.claim_delivery(task.id, NOW + 1) is True


async def test_release_does_not_undo_a_delivery(store: SqliteTaskStore) -> None:
    """A delivered task stays delivered when released by mistake."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)
    await store.mark_delivered(task.id, BIG_ID, NOW + 1)

    await store.release_delivery(task.id)

    stored = await store.get(task.id)
    assert stored is not None
    assert stored.delivery is DeliveryState.DELIVERED


async def test_mark_delivered_records_the_message_and_time(store: SqliteTaskStore) -> None:
    """mark_delivered stores the state, the message id and the time."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)

    await store.mark_delivered(task.id, BIG_ID, NOW + 1)

    stored = await store.get(task.id)
    assert stored == task.evolve(
        delivery=DeliveryState.DELIVERED, delivery_message_id=BIG_ID, delivered_at=NOW + 1
    )
    assert await store.claim_delivery(task.id, NOW + 2) is False


async def test_undelivered_lists_finished_tasks_not_yet_delivered(store: SqliteTaskStore) -> None:
    """Terminal tasks with delivery NONE or CLAIMED, the longest finished first."""
    claimed = await insert(store, state=TaskState.FAILED, finished_at=NOW + 1)
    waiting = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    delivered = await insert(store, state=TaskState.CANCELLED, finished_at=NOW)
    await insert(store, state=TaskState.RUNNING)
    await store.claim_delivery(claimed.id, NOW)
    await store.claim_delivery(delivered.id, NOW)
    await store.mark_delivered(delivered.id, None, NOW)

    assert [t.id for t in await store.undelivered()] == [waiting.id, claimed.id]


async def test_a_failed_delivery_waits_for_its_next_try(store: SqliteTaskStore) -> None:
    """delivery_failed keeps the attempts and the next try: not due before it, due after."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)

    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 60)

    stored = await store.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.CLAIMED
    assert (stored.delivery_attempts, stored.delivery_retry_at) == (1, NOW + 60)
    assert await store.deliveries_due(NOW + 59, 10) == []
    assert [t.id for t in await store.deliveries_due(NOW + 60, 10)] == [task.id]
    assert await store.next_delivery_at() == NOW + 60
    assert [t.id for t in await store.undelivered()] == [task.id]


async def test_deliveries_due_are_the_owed_ones_longest_finished_first(
    store: SqliteTaskStore,
) -> None:
    """NONE and CLAIMED deliveries of finished tasks, at most `limit`, oldest finish first."""
    later = await insert(store, state=TaskState.FAILED, finished_at=NOW + 1)
    first = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    third = await insert(store, state=TaskState.CANCELLED, finished_at=NOW + 2)
    await insert(store, state=TaskState.RUNNING)
    await store.claim_delivery(later.id, NOW)

    assert [t.id for t in await store.deliveries_due(NOW, 10)] == [first.id, later.id, third.id]
    assert [t.id for t in await store.deliveries_due(NOW, 2)] == [first.id, later.id]
    assert await store.next_delivery_at() is None


async def test_a_delivery_that_gave_up_is_its_own_state(store: SqliteTaskStore) -> None:
    """GAVE_UP is neither delivered nor owed in this run; reopening makes it CLAIMED again."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)
    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 5)

    await store.give_up_delivery(task.id, attempts=2, now=NOW + 5)

    stored = await store.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.GAVE_UP
    assert (stored.delivery_attempts, stored.delivery_retry_at) == (2, None)
    assert stored.delivery_message_id is None
    assert await store.undelivered() == []
    assert await store.deliveries_due(NOW + 1e6, 10) == []
    assert await store.next_delivery_at() is None
    assert await store.claim_delivery(task.id, NOW + 6) is False

    assert await store.reopen_given_up() == 1

    reopened = await store.get(task.id)
    assert reopened is not None and reopened.delivery is DeliveryState.CLAIMED
    assert (reopened.delivery_attempts, reopened.delivery_retry_at) == (0, None)
    assert [t.id for t in await store.deliveries_due(NOW + 6, 10)] == [task.id]
    assert await store.reopen_given_up() == 0


async def test_a_given_up_task_survives_a_round_trip(store: SqliteTaskStore) -> None:
    """A task inserted as GAVE_UP reads back as GAVE_UP with its attempts."""
    task = make_task(
        state=TaskState.FAILED,
        finished_at=NOW,
        delivery=DeliveryState.GAVE_UP,
        delivery_attempts=6,
    )
    assert await store.insert_within_limits(task, **NO_LIMITS) is None

    assert await store.get(task.id) == task


async def test_marking_delivered_clears_the_retry(store: SqliteTaskStore) -> None:
    """A delivery that succeeds on a retry leaves no retry time behind."""
    task = await insert(store, state=TaskState.COMPLETED, finished_at=NOW)
    await store.claim_delivery(task.id, NOW)
    await store.delivery_failed(task.id, attempts=1, retry_at=NOW + 5)

    await store.mark_delivered(task.id, BIG_ID, NOW + 5)

    stored = await store.get(task.id)
    assert stored is not None and stored.delivery is DeliveryState.DELIVERED
    assert stored.delivery_retry_at is None and stored.delivery_attempts == 1
    assert await store.next_delivery_at() is None


# --- limits -------------------------------------------------------------------------------------


async def test_the_active_limit_stops_an_insert(store: SqliteTaskStore) -> None:
    """With max_active unfinished tasks, the next is refused with the counts."""
    for state in (TaskState.PENDING, TaskState.RUNNING, TaskState.COMPLETED):
        await insert(store, state=state)
    task = make_task()

    counts = await store.insert_within_limits(task, max_active=2, max_daily=0, day_start=DAY)

    assert counts == LimitCounts(active=2, today=3)
    assert await store.get(task.id) is None


async def test_the_active_limit_lets_an_insert_under_it(store: SqliteTaskStore) -> None:
    """One unfinished task under a limit of two: the insert goes through."""
    await insert(store, state=TaskState.QUEUED)
    task = make_task()

    assert await store.insert_within_limits(task, max_active=2, max_daily=0, day_start=DAY) is None
    assert await store.get(task.id) == task


async def test_the_daily_limit_counts_tasks_of_every_state(store: SqliteTaskStore) -> None:
    """Finished tasks created today count towards the daily limit."""
    for state in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED):
        await insert(store, state=state)

    counts = await store.insert_within_limits(make_task(), max_active=0, max_daily=3, day_start=DAY)

    assert counts == LimitCounts(active=0, today=3)


async def test_the_daily_limit_starts_at_day_start(store: SqliteTaskStore) -> None:
    """Tasks created before day_start do not count; one created exactly at it does."""
    await insert(store, state=TaskState.COMPLETED, created_at=DAY - 0.001)
    await insert(store, state=TaskState.COMPLETED, created_at=DAY)

    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=0, today=1)
    assert (
        await store.insert_within_limits(make_task(), max_active=0, max_daily=2, day_start=DAY)
        is None
    )


async def test_zero_means_no_limit(store: SqliteTaskStore) -> None:
    """max_active=0 and max_daily=0 never refuse."""
    for _ in range(5):
        await insert(store, state=TaskState.RUNNING)

    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=5, today=5)


async def test_limits_count_only_the_requesters_tasks(store: SqliteTaskStore) -> None:
    """Another member's tasks do not use up this member's limits."""
    await insert(store, requester_id=999, state=TaskState.RUNNING)

    task = make_task(requester_id=111)
    assert await store.insert_within_limits(task, max_active=1, max_daily=1, day_start=DAY) is None


async def test_a_burst_of_inserts_never_passes_the_active_limit(store: SqliteTaskStore) -> None:
    """30 concurrent inserts for one member with max_active=2: exactly 2 are stored."""
    tasks = [make_task() for _ in range(30)]

    results = await asyncio.gather(
        *(
            store.insert_within_limits(task, max_active=2, max_daily=0, day_start=DAY)
            for task in tasks
        )
    )

    assert sum(result is None for result in results) == 2
    assert await store.count_limits(111, day_start=DAY) == LimitCounts(active=2, today=2)


async def test_a_burst_from_two_stores_on_one_file_never_passes_the_limit(
    store: SqliteTaskStore, db_path: Path
) -> None:
    """Two connections (as two processes would) inserting at once share the limit."""
    other = await SqliteTaskStore.open(db_path)
    try:
        results = await asyncio.gather(
            *(
                s.insert_within_limits(make_task(), max_active=3, max_daily=0, day_start=DAY)
                for _ in range(10)
                for s in (store, other)
            )
        )
    finally:
        await other.close()

    assert sum(result is None for result in results) == 3


# --- polling ------------------------------------------------------------------------------------


async def test_due_for_poll_returns_due_polled_tasks_soonest_first(store: SqliteTaskStore) -> None:
    """Only QUEUED/RUNNING tasks due by `now`, ordered by next_poll_at."""
    later = await insert(store, state=TaskState.RUNNING, next_poll_at=NOW - 1)
    soonest = await insert(store, state=TaskState.QUEUED, next_poll_at=NOW - 5)
    exactly_now = await insert(store, state=TaskState.RUNNING, next_poll_at=NOW)
    await insert(store, state=TaskState.QUEUED, next_poll_at=NOW + 1)
    await insert(store, state=TaskState.PENDING, next_poll_at=NOW - 9)
    await insert(store, state=TaskState.COMPLETED, next_poll_at=NOW - 9)

    due = await store.due_for_poll(NOW, limit=10)

    assert [t.id for t in due] == [soonest.id, later.id, exactly_now.id]


async def test_due_for_poll_returns_at_most_limit_tasks(store: SqliteTaskStore) -> None:
    """The limit keeps the soonest tasks."""
    tasks = [await insert(store, state=TaskState.QUEUED, next_poll_at=NOW - i) for i in range(5)]

    due = await store.due_for_poll(NOW, limit=2)

    assert [t.id for t in due] == [tasks[4].id, tasks[3].id]


async def test_next_poll_at_is_the_earliest_among_polled_tasks(store: SqliteTaskStore) -> None:
    """Unpolled states are ignored."""
    await insert(store, state=TaskState.PENDING, next_poll_at=NOW - 100)
    await insert(store, state=TaskState.RUNNING, next_poll_at=NOW + 7)
    await insert(store, state=TaskState.QUEUED, next_poll_at=NOW + 3)

    assert await store.next_poll_at() == NOW + 3


async def test_next_poll_at_is_none_without_polled_tasks(store: SqliteTaskStore) -> None:
    """Nothing to poll, no time."""
    await insert(store, state=TaskState.COMPLETED)

    assert await store.next_poll_at() is None


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (sql._DUE_FOR_POLL, (NOW, 10), "tasks_poll"),
        (sql._NEXT_POLL_AT, (), "tasks_poll"),
        (sql._UNDELIVERED_TASKS, (), "tasks_undelivered"),
        (sql._DELIVERIES_DUE, (NOW, 10), "tasks_undelivered"),
        (sql._NEXT_DELIVERY_AT, (), "tasks_undelivered"),
        (sql._REOPEN_GIVEN_UP, (), "tasks_delivery_gave_up"),
        (sql._USER_UNFINISHED, (111, 10), "tasks_requester_unfinished"),
        (sql._COUNT_UNFINISHED_GUILD, (222,), "tasks_guild_unfinished"),
        (sql._COUNT_UNFINISHED_ALL, (), "tasks_guild_unfinished"),
        (sql._BY_GATEWAY_ID, ("gw",), "tasks_gateway"),
        (sql._COUNT_LIMITS, (111, 111, DAY), "tasks_requester"),
    ],
)
async def test_queries_use_their_index(
    conn: aiosqlite.Connection, query: str, params: tuple[Any, ...], index: str
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

    assert values(sql._POLLED) == {s.value for s in POLLED_STATES}
    assert values(sql._ACTIVE) == {s.value for s in ACTIVE_STATES}
    assert values(sql._TERMINAL) == {s.value for s in TERMINAL_STATES}


# --- listings and counts ------------------------------------------------------------------------


async def test_in_states_returns_tasks_in_those_states_oldest_first(
    store: SqliteTaskStore,
) -> None:
    """Only the asked states, by creation time."""
    newer = await insert(store, state=TaskState.SUBMITTING, created_at=NOW + 1)
    older = await insert(store, state=TaskState.PENDING, created_at=NOW)
    await insert(store, state=TaskState.QUEUED)

    found = await store.in_states({TaskState.PENDING, TaskState.SUBMITTING})

    assert [t.id for t in found] == [older.id, newer.id]
    assert await store.in_states(()) == []


async def test_user_tasks_unfinished_are_oldest_first(store: SqliteTaskStore) -> None:
    """A member's unfinished tasks, by creation time, up to the limit."""
    second = await insert(store, state=TaskState.RUNNING, created_at=NOW + 2)
    first = await insert(store, state=TaskState.PENDING, created_at=NOW + 1)
    await insert(store, state=TaskState.QUEUED, created_at=NOW + 3)
    await insert(store, state=TaskState.COMPLETED, created_at=NOW)
    await insert(store, requester_id=999, state=TaskState.RUNNING, created_at=NOW)

    found = await store.user_tasks(111, unfinished=True, limit=2)

    assert [t.id for t in found] == [first.id, second.id]


async def test_user_tasks_finished_are_newest_first(store: SqliteTaskStore) -> None:
    """A member's finished tasks, by the time they finished, most recent first."""
    old = await insert(store, state=TaskState.COMPLETED, created_at=NOW + 5, finished_at=NOW + 6)
    new = await insert(store, state=TaskState.FAILED, created_at=NOW, finished_at=NOW + 9)
    await insert(store, state=TaskState.RUNNING)
    await insert(store, requester_id=999, state=TaskState.COMPLETED, finished_at=NOW + 99)

    found = await store.user_tasks(111, unfinished=False, limit=10)

    assert [t.id for t in found] == [new.id, old.id]


async def test_count_unfinished_per_guild_and_in_all(store: SqliteTaskStore) -> None:
    """Unfinished tasks counted for one guild, or everywhere (DMs included) with None."""
    await insert(store, guild_id=1, state=TaskState.PENDING)
    await insert(store, guild_id=1, state=TaskState.RUNNING)
    await insert(store, guild_id=1, state=TaskState.COMPLETED)
    await insert(store, guild_id=2, state=TaskState.QUEUED)
    await insert(store, guild_id=None, state=TaskState.SUBMITTING)

    assert await store.count_unfinished(1) == 2
    assert await store.count_unfinished(2) == 1
    assert await store.count_unfinished(3) == 0
    assert await store.count_unfinished(None) == 4


# --- meta ---------------------------------------------------------------------------------------


async def test_meta_is_none_until_set(store: SqliteTaskStore) -> None:
    """An unknown key reads as None."""
    assert await store.get_meta("command_tree_hash") is None


async def test_set_meta_stores_and_replaces_a_value(store: SqliteTaskStore) -> None:
    """The last value set is the one read."""
    await store.set_meta("command_tree_hash", "abc")
    await store.set_meta("command_tree_hash", "def")

    assert await store.get_meta("command_tree_hash") == "def"

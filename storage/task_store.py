"""SqliteTaskStore: the TaskStore port on one aiosqlite connection.

Concurrency: aiosqlite runs every statement of a connection on one thread, in the order they
were queued, so the statements of two coroutines can interleave. Every write therefore holds
`self._lock`; a write of one statement runs in autocommit mode (committed when it returns), a
write of several runs inside BEGIN IMMEDIATE ... COMMIT, which also keeps a second process on
the same file out. Reads take no lock (so one may see another coroutine's write a moment
before it is committed; nothing here is ever read back to decide a write outside a lock).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import aiosqlite

from videojobs.errors import DuplicateTaskId, InvalidTaskRecord
from videojobs.models import TaskState, VideoTask
from videojobs.ports import AdmissionLimits, LimitCounts

from .database import open_database
from .file_lock import FileLock
from .guild_settings import GuildSettingsSql
from .key_values import SqliteKeyValues
from .leases import SqliteLeases
from .rows import COLUMNS as _COLUMNS
from .rows import MUTABLE_COLUMNS as _MUTABLE_COLUMNS
from .rows import OWED as _OWED
from .rows import TERMINAL as _TERMINAL
from .rows import from_row as _from_row
from .rows import from_rows as _from_rows
from .rows import mutable_fields as _mutable_fields
from .rows import to_row as _to_row
from .statements import SELECT
from .statements import SQLITE as SQL

# --- statements ---------------------------------------------------------------------------------
# Built once at import from the constants above (S608 is about untrusted text, which never
# reaches these strings: every value goes through a parameter).


_INSERT = (
    f"INSERT INTO tasks ({', '.join(_COLUMNS)}, lease_owner, lease_until) "  # noqa: S608
    f"VALUES ({', '.join(':' + column for column in _COLUMNS)}, :me, :until)"
)
_UPDATE = f"UPDATE tasks SET {', '.join(f'{c} = :{c}' for c in _MUTABLE_COLUMNS)} WHERE id = :id"  # noqa: S608

_UNDELIVERED_TASKS = f"{SELECT} WHERE {_OWED} ORDER BY finished_at, created_at"
# must match the partial indexes of migrations/0005_member_queries.sql
_COMPLETED_DURATIONS = (
    "SELECT finished_at - created_at FROM tasks "
    "WHERE state = 'completed' AND json_extract(request, '$.model') = ? "
    "AND json_extract(request, '$.mode') = ? AND json_extract(request, '$.duration') = ? "
    "AND attempts <= 1 ORDER BY finished_at DESC LIMIT ?"
)
_FINISHED_TASKS = (
    f"{SELECT} WHERE requester_id = ? AND guild_id IS ? AND state IN {_TERMINAL} "
    "ORDER BY finished_at DESC, id DESC LIMIT ? OFFSET ?"
)
_COUNT_FINISHED = (
    "SELECT count(*) FROM tasks "  # noqa: S608
    f"WHERE requester_id = ? AND guild_id IS ? AND state IN {_TERMINAL}"
)


def _placeholders(count: int, prefix: str = "") -> str:
    if prefix:
        return "(" + ", ".join(f":{prefix}{i}" for i in range(count)) + ")"
    return "(" + ", ".join("?" * count) + ")"


@cache
def _update_if_state(count: int) -> str:
    """UPDATE of the mutable columns when the stored state is one of `count` named states."""
    return f"{_UPDATE} AND state IN {_placeholders(count, 's')}"


@cache
def _in_states(count: int) -> str:
    return f"{SELECT} WHERE state IN {_placeholders(count)} ORDER BY created_at"


def _state_params(states: Collection[TaskState]) -> dict[str, str]:
    return {f"s{i}": state.value for i, state in enumerate(sorted(states))}


class SqliteTaskStore(GuildSettingsSql, SqliteLeases):
    """Tasks and server settings in SQLite. Owns its connection: `close()` closes it, and so does
    leaving `async with store:`."""

    def __init__(self, conn: aiosqlite.Connection, file_lock: FileLock | None = None) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._closed = False
        self._file_lock = file_lock
        self.key_values = SqliteKeyValues(conn, self._lock)  # the KeyValues port, same file

    @classmethod
    async def open(
        cls, path: str | Path, *, exclusive: bool = False, lease_seconds: float | None = None
    ) -> SqliteTaskStore:
        """Open (create, migrate) the database at `path`.

        `exclusive` (the bot): first take the lock file beside it, or raise DatabaseInUse when
        another process has it. Being alone, this process then frees every lease left by the
        one before it (dead, since it no longer holds the lock) and takes its work over at
        once."""
        file_lock = FileLock.acquire(Path(path)) if exclusive else None
        try:
            store = cls(await open_database(path), file_lock)
        except BaseException:
            if file_lock is not None:
                file_lock.release()
            raise
        store.set_lease_terms(lease_seconds=lease_seconds)
        if exclusive:
            await store.clear_leases()
        return store

    async def __aenter__(self) -> SqliteTaskStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (waiting for a write under way); a second call does nothing."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                await self._conn.execute("PRAGMA optimize")
            finally:
                await self._conn.close()
                if self._file_lock is not None:
                    self._file_lock.release()

    # --- writes ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the write lock; rolled back on any error."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
            except BaseException:
                # Shielded: a cancelled caller must not leave the transaction open. The
                # connection's thread runs it after anything already queued.
                await asyncio.shield(self._conn.rollback())
                raise
            await asyncio.shield(self._conn.commit())

    async def _write(self, sql: str, params: Any) -> int:
        """One statement, committed on return; the number of rows it changed."""
        async with self._lock:
            cursor = await self._conn.execute(sql, params)
            return cursor.rowcount

    async def insert_within_limits(
        self, task: VideoTask, limits: AdmissionLimits
    ) -> LimitCounts | None:
        """See TaskStore.insert_within_limits."""
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall(
                SQL.count_limits, (task.requester_id, task.requester_id, limits.day_start)
            )
            counts = _limit_counts(rows)
            if limits.budgeted and task.guild_id is not None:
                rows = await conn.execute_fetchall(
                    SQL.credits_used, (task.guild_id, limits.day_start)
                )
                counts = replace(counts, credits_used=float(next(iter(rows))[0]))
            if not limits.admit(counts, task.cost):
                return counts
            try:
                await conn.execute(_INSERT, _to_row(task) | self._lease_params())
            except sqlite3.IntegrityError as exc:
                if "UNIQUE" in str(exc):
                    raise DuplicateTaskId(task.id) from None
                raise InvalidTaskRecord(f"task {task.id!r} refused by the store: {exc}") from exc
        return None

    async def update(
        self, task: VideoTask, *, expect_states: Collection[TaskState] | None = None
    ) -> bool:
        """Write every mutable field of `task` (not the delivery fields: see claim_delivery,
        mark_delivered and the retry writes). With `expect_states`, only if the stored state
        is one of them (compare-and-set). Returns whether the row was written."""
        params = _mutable_fields(task)
        if expect_states is None:
            return await self._write(_UPDATE, params) == 1
        params.update(_state_params(expect_states))
        return await self._write(_update_if_state(len(expect_states)), params) == 1

    async def update_many(
        self, tasks: Sequence[VideoTask], *, expect_states: Collection[TaskState] | None = None
    ) -> int:
        """`update` for many tasks in one transaction; returns how many rows were written.

        With `expect_states`, a task whose stored state has moved on (cancelled, say) is
        skipped rather than overwritten."""
        if not tasks:
            return 0
        extra: dict[str, str] = {}
        if expect_states is None:
            sql = _UPDATE
        else:
            sql, extra = _update_if_state(len(expect_states)), _state_params(expect_states)
        params = [_mutable_fields(task) | extra for task in tasks]
        async with self._transaction() as conn:
            cursor = await conn.executemany(sql, params)
            return cursor.rowcount

    async def delivery_failed(self, task_id: str, *, attempts: int, retry_at: float) -> None:
        """Record a failed attempt of a CLAIMED delivery and when to try again."""
        await self._write(SQL.delivery_failed, (attempts, retry_at, task_id))

    async def give_up_delivery(self, task_id: str, *, attempts: int, now: float) -> None:
        """CLAIMED -> GAVE_UP after `attempts` failed attempts."""
        await self._write(SQL.give_up_delivery, (attempts, now, task_id))

    async def reopen_given_up(self) -> int:
        """GAVE_UP -> CLAIMED with no failures counted; returns how many."""
        return await self._write(SQL.reopen_given_up, ())

    # --- reads ----------------------------------------------------------------------------------

    async def _one(self, sql: str, params: Sequence[Any]) -> VideoTask | None:
        rows = list(await self._conn.execute_fetchall(sql, params))
        return _from_row(rows[0]) if rows else None

    async def _many(self, sql: str, params: Sequence[Any]) -> list[VideoTask]:
        return _from_rows(await self._conn.execute_fetchall(sql, params))

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = list(await self._conn.execute_fetchall(sql, params))
        return rows[0][0] if rows else None

    async def get(self, task_id: str) -> VideoTask | None:
        return await self._one(SQL.get, (task_id,))

    async def find_by_short_id(self, short_id: str) -> VideoTask | None:
        """The task with this short id (as a member types it: case and spaces ignored)."""
        return await self._one(SQL.by_short_id, (short_id.strip().lower(),))

    async def find_by_gateway_id(self, gateway_task_id: str) -> VideoTask | None:
        """The task the gateway knows as `gateway_task_id` (the newest, were there two)."""
        return await self._one(SQL.by_gateway_id, (gateway_task_id,))

    async def next_poll_at(self) -> float | None:
        """The earliest next_poll_at among polled tasks."""
        value = await self._scalar(SQL.next_poll_at)
        return None if value is None else float(value)

    async def in_states(self, states: Collection[TaskState]) -> list[VideoTask]:
        """Tasks in any of `states`, oldest first."""
        if not states:
            return []
        return await self._many(_in_states(len(states)), sorted(s.value for s in states))

    async def undelivered(self) -> list[VideoTask]:
        """Terminal tasks whose delivery is NONE or CLAIMED, the longest finished first."""
        return await self._many(_UNDELIVERED_TASKS, ())

    async def next_delivery_at(self) -> float | None:
        """The earliest retry time among owed deliveries."""
        value = await self._scalar(SQL.next_delivery_at)
        return None if value is None else float(value)

    async def user_tasks(self, user_id: int, *, unfinished: bool, limit: int) -> list[VideoTask]:
        """A member's unfinished tasks (oldest first) or finished ones (newest first)."""
        return await self._many(
            SQL.user_unfinished if unfinished else SQL.user_finished, (user_id, limit)
        )

    async def count_limits(self, user_id: int, *, day_start: float) -> LimitCounts:
        """The member's unfinished tasks, and the tasks they created since `day_start`."""
        rows = await self._conn.execute_fetchall(SQL.count_limits, (user_id, user_id, day_start))
        return _limit_counts(rows)

    async def count_unfinished(self, guild_id: int | None) -> int:
        """Unfinished tasks in the guild; with None, in all guilds and DMs."""
        if guild_id is None:
            return int(await self._scalar(SQL.count_unfinished_all))
        return int(await self._scalar(SQL.count_unfinished_guild, (guild_id,)))

    async def credits_used(self, guild_id: int, *, day_start: float) -> float:
        """Credits of the guild's tasks created since `day_start`, failed ones left out."""
        return float(await self._scalar(SQL.credits_used, (guild_id, day_start)))

    async def guild_unfinished(self, guild_id: int, *, limit: int, offset: int) -> list[VideoTask]:
        """A page of the guild's unfinished tasks, oldest first."""
        return await self._many(SQL.guild_unfinished, (guild_id, limit, offset))

    async def completed_durations(
        self, model: str, mode: str, duration: int, *, limit: int
    ) -> list[float]:
        """Seconds from creation to completion of the newest `limit` COMPLETED tasks with
        this model, mode and duration, newest first; not those sent more than once."""
        rows = await self._conn.execute_fetchall(
            _COMPLETED_DURATIONS, (model, mode, duration, limit)
        )
        return [float(row[0]) for row in rows if row[0] is not None]

    async def finished_tasks(
        self, user_id: int, guild_id: int | None, *, offset: int, limit: int
    ) -> list[VideoTask]:
        """A member's finished tasks in one server (None: in DMs), newest finish first."""
        return await self._many(_FINISHED_TASKS, (user_id, guild_id, limit, offset))

    async def count_finished(self, user_id: int, guild_id: int | None) -> int:
        return int(await self._scalar(_COUNT_FINISHED, (user_id, guild_id)))


def _limit_counts(rows: Iterable[sqlite3.Row]) -> LimitCounts:
    active, today = next(iter(rows))
    return LimitCounts(active=int(active), today=int(today))

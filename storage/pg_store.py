"""PostgresTaskStore: the TaskStore port on PostgreSQL, shared by any number of bot processes.

One asyncpg pool per process. Every write is one statement (committed on return) or one short
transaction. The limits are checked and the task inserted under transaction-scoped advisory
locks — on the guild when it has a budget, then on the requester (always in that order, so two
admits never wait on each other in a cycle) — so concurrent admits for one member or one
server, in this process or in another, are counted one after the other and never pass a limit
together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from videojobs.errors import DuplicateTaskId, InvalidTaskRecord
from videojobs.models import TaskState, VideoTask
from videojobs.ports import AdmissionLimits, LimitCounts

from .key_values import PostgresKeyValues
from .pg_database import create_pool
from .pg_guild_settings import GuildSettingsPg
from .pg_leases import _NOTIFY, WAKE_CHANNEL, PgLeases
from .rows import (
    COLUMNS,
    MUTABLE_COLUMNS,
    OWED,
    TERMINAL,
    from_row,
    from_rows,
    mutable_fields,
    to_row,
)
from .statements import POSTGRES as SQL
from .statements import SELECT

# Advisory lock classes for admissions (the second key is a hash of the id): one server's budget,
# one requester's limits.
GUILD_LOCK_CLASS = 0x4B47
REQUESTER_LOCK_CLASS = 0x4B4C

# The PostgreSQL type of every column, for the arrays of the batched update.
_TYPES = {
    "id": "text",
    "thread_id": "bigint",
    "status_message_id": "bigint",
    "upload_limit": "bigint",
    "gateway_task_id": "text",
    "state": "text",
    "progress": "integer",
    "result_url": "text",
    "failure_reason": "text",
    "attempts": "integer",
    "poll_errors": "integer",
    "next_poll_at": "double precision",
    "deadline_at": "double precision",
    "updated_at": "double precision",
    "finished_at": "double precision",
    "wait_reason": "text",
    "send_after": "double precision",
    "frames": "text",
}

# --- statements (built once from the constants of rows.py; every value is a parameter) --------

_INSERT = (
    f"INSERT INTO tasks ({', '.join(COLUMNS)}, lease_owner, lease_until) "  # noqa: S608
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 3))})"
)
_UPDATED = ("id", *MUTABLE_COLUMNS)
# One statement for one task or many: the new values arrive as one array per column. The last
# parameter is the states the stored row must be in (NULL: any).
_UPDATE = (
    f"UPDATE tasks AS t SET {', '.join(f'{c} = v.{c}' for c in MUTABLE_COLUMNS)} "  # noqa: S608
    f"FROM unnest({', '.join(f'${i}::{_TYPES[c]}[]' for i, c in enumerate(_UPDATED, 1))}) "
    f"AS v({', '.join(_UPDATED)}) "
    f"WHERE t.id = v.id AND (${len(_UPDATED) + 1}::text[] IS NULL "
    f"OR t.state = ANY(${len(_UPDATED) + 1}::text[]))"
)
# must match the partial index tasks_waiting of pg_migrations/0004_send_wait.sql
_IN_STATES = f"{SELECT} WHERE state = ANY($1::text[]) ORDER BY created_at"
# NULLS FIRST: the order SQLite gives (a terminal task always has finished_at in practice).
_UNDELIVERED = f"{SELECT} WHERE {OWED} ORDER BY finished_at NULLS FIRST, created_at"
_LOCK = "SELECT pg_advisory_xact_lock($1, hashtext($2::bigint::text))"
# must match the indexes of pg_migrations/0005_member_queries.sql
_COMPLETED_DURATIONS = (
    "SELECT finished_at - created_at FROM tasks "
    "WHERE state = 'completed' AND ((request::jsonb) ->> 'model') = $1 "
    "AND ((request::jsonb) ->> 'mode') = $2 AND ((request::jsonb) ->> 'duration') = $3 "
    "AND attempts <= 1 ORDER BY finished_at DESC LIMIT $4"
)
_FINISHED_IN_GUILD = (
    f"{SELECT} WHERE requester_id = $1 AND guild_id = $2 AND state IN {TERMINAL} "
    "ORDER BY finished_at DESC, id DESC LIMIT $3 OFFSET $4"
)
_FINISHED_IN_DMS = (
    f"{SELECT} WHERE requester_id = $1 AND guild_id IS NULL AND state IN {TERMINAL} "
    "ORDER BY finished_at DESC, id DESC LIMIT $2 OFFSET $3"
)
_COUNT_FINISHED_IN_GUILD = (
    "SELECT count(*) FROM tasks "  # noqa: S608
    f"WHERE requester_id = $1 AND guild_id = $2 AND state IN {TERMINAL}"
)
_COUNT_FINISHED_IN_DMS = (
    "SELECT count(*) FROM tasks "  # noqa: S608
    f"WHERE requester_id = $1 AND guild_id IS NULL AND state IN {TERMINAL}"
)


def _changed(status: str) -> int:
    """The row count of a command tag such as 'UPDATE 3'."""
    return int(status.rsplit(" ", 1)[-1])


def _states(states: Collection[TaskState] | None) -> list[str] | None:
    return None if states is None else sorted(state.value for state in states)


class PostgresTaskStore(GuildSettingsPg, PgLeases):
    """Tasks and server settings in PostgreSQL. Owns its pool: `close()` closes it, and so
    does leaving `async with store:`."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._closed = False
        self.key_values = PostgresKeyValues(pool)  # the KeyValues port, same database

    @classmethod
    async def open(cls, dsn: str, *, lease_seconds: float | None = None) -> PostgresTaskStore:
        """Connect (one pool for this process) and migrate."""
        store = cls(await create_pool(dsn), dsn)
        store.set_lease_terms(lease_seconds=lease_seconds)
        return store

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def __aenter__(self) -> PostgresTaskStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pool (waiting for queries under way); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        await self._close_listener()
        await self._pool.close()

    # --- writes ---------------------------------------------------------------------------------

    async def insert_within_limits(
        self, task: VideoTask, limits: AdmissionLimits
    ) -> LimitCounts | None:
        """See TaskStore.insert_within_limits."""
        row = to_row(task)
        budgeted = limits.budgeted and task.guild_id is not None
        async with self._pool.acquire() as conn, conn.transaction():
            if budgeted:
                await conn.execute(_LOCK, GUILD_LOCK_CLASS, task.guild_id)
            await conn.execute(_LOCK, REQUESTER_LOCK_CLASS, task.requester_id)
            active, today = await conn.fetchrow(
                SQL.count_limits, task.requester_id, task.requester_id, float(limits.day_start)
            )
            counts = LimitCounts(active=int(active), today=int(today))
            if budgeted:
                used = await conn.fetchval(SQL.credits_used, task.guild_id, float(limits.day_start))
                counts = replace(counts, credits_used=float(used))
            if not limits.admit(counts, task.cost):
                return counts
            try:
                lease = self._lease_params()
                await conn.execute(_INSERT, *(row[c] for c in COLUMNS), lease["me"], lease["until"])
            except asyncpg.UniqueViolationError:
                raise DuplicateTaskId(task.id) from None
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise InvalidTaskRecord(f"task {task.id!r} refused by the store: {exc}") from exc
            await conn.execute(_NOTIFY, WAKE_CHANNEL, self.owner)  # sent at the commit
        return None

    async def update(
        self, task: VideoTask, *, expect_states: Collection[TaskState] | None = None
    ) -> bool:
        """Write every mutable field of `task` (not the delivery fields). With
        `expect_states`, only if the stored state is one of them (compare-and-set)."""
        return await self.update_many([task], expect_states=expect_states) == 1

    async def update_many(
        self, tasks: Sequence[VideoTask], *, expect_states: Collection[TaskState] | None = None
    ) -> int:
        """`update` for many tasks in one statement; returns how many rows were written."""
        if not tasks:
            return 0
        fields = [mutable_fields(task) for task in tasks]
        columns = [[f[c] for f in fields] for c in _UPDATED]
        status = await self._pool.execute(_UPDATE, *columns, _states(expect_states))
        return _changed(status)

    async def delivery_failed(self, task_id: str, *, attempts: int, retry_at: float) -> None:
        """Record a failed attempt of a CLAIMED delivery and when to try again."""
        await self._pool.execute(SQL.delivery_failed, attempts, float(retry_at), task_id)

    async def give_up_delivery(self, task_id: str, *, attempts: int, now: float) -> None:
        """CLAIMED -> GAVE_UP after `attempts` failed attempts."""
        await self._pool.execute(SQL.give_up_delivery, attempts, float(now), task_id)

    async def reopen_given_up(self) -> int:
        """GAVE_UP -> CLAIMED with no failures counted; returns how many."""
        return _changed(await self._pool.execute(SQL.reopen_given_up))

    # --- reads ----------------------------------------------------------------------------------

    async def _one(self, sql: str, *params: Any) -> VideoTask | None:
        row = await self._pool.fetchrow(sql, *params)
        return None if row is None else from_row(row)

    async def _many(self, sql: str, *params: Any) -> list[VideoTask]:
        return from_rows(await self._pool.fetch(sql, *params))

    async def get(self, task_id: str) -> VideoTask | None:
        return await self._one(SQL.get, task_id)

    async def find_by_short_id(self, short_id: str) -> VideoTask | None:
        """The task with this short id (as a member types it: case and spaces ignored)."""
        return await self._one(SQL.by_short_id, short_id.strip().lower())

    async def find_by_gateway_id(self, gateway_task_id: str) -> VideoTask | None:
        """The task the gateway knows as `gateway_task_id` (the newest, were there two)."""
        return await self._one(SQL.by_gateway_id, gateway_task_id)

    async def next_poll_at(self) -> float | None:
        """The earliest next_poll_at among polled tasks."""
        value = await self._pool.fetchval(SQL.next_poll_at)
        return None if value is None else float(value)

    async def in_states(self, states: Collection[TaskState]) -> list[VideoTask]:
        """Tasks in any of `states`, oldest first."""
        if not states:
            return []
        return await self._many(_IN_STATES, _states(states))

    async def undelivered(self) -> list[VideoTask]:
        """Terminal tasks whose delivery is NONE or CLAIMED, the longest finished first."""
        return await self._many(_UNDELIVERED)

    async def next_delivery_at(self) -> float | None:
        """The earliest retry time among owed deliveries."""
        value = await self._pool.fetchval(SQL.next_delivery_at)
        return None if value is None else float(value)

    async def user_tasks(self, user_id: int, *, unfinished: bool, limit: int) -> list[VideoTask]:
        """A member's unfinished tasks (oldest first) or finished ones (newest first)."""
        return await self._many(
            SQL.user_unfinished if unfinished else SQL.user_finished, user_id, limit
        )

    async def count_limits(self, user_id: int, *, day_start: float) -> LimitCounts:
        """The member's unfinished tasks, and the tasks they created since `day_start`."""
        active, today = await self._pool.fetchrow(
            SQL.count_limits, user_id, user_id, float(day_start)
        )
        return LimitCounts(active=int(active), today=int(today))

    async def count_unfinished(self, guild_id: int | None) -> int:
        """Unfinished tasks in the guild; with None, in all guilds and DMs."""
        if guild_id is None:
            return int(await self._pool.fetchval(SQL.count_unfinished_all))
        return int(await self._pool.fetchval(SQL.count_unfinished_guild, guild_id))

    async def credits_used(self, guild_id: int, *, day_start: float) -> float:
        """Credits of the guild's tasks created since `day_start`, failed ones left out."""
        return float(await self._pool.fetchval(SQL.credits_used, guild_id, float(day_start)))

    async def guild_unfinished(self, guild_id: int, *, limit: int, offset: int) -> list[VideoTask]:
        """A page of the guild's unfinished tasks, oldest first."""
        return await self._many(SQL.guild_unfinished, guild_id, limit, offset)

    async def completed_durations(
        self, model: str, mode: str, duration: int, *, limit: int
    ) -> list[float]:
        """Seconds from creation to completion of the newest `limit` COMPLETED tasks with
        this model, mode and duration, newest first; not those sent more than once."""
        rows = await self._pool.fetch(_COMPLETED_DURATIONS, model, mode, str(duration), limit)
        return [float(row[0]) for row in rows if row[0] is not None]

    async def finished_tasks(
        self, user_id: int, guild_id: int | None, *, offset: int, limit: int
    ) -> list[VideoTask]:
        """A member's finished tasks in one server (None: in DMs), newest finish first."""
        if guild_id is None:
            return await self._many(_FINISHED_IN_DMS, user_id, limit, offset)
        return await self._many(_FINISHED_IN_GUILD, user_id, guild_id, limit, offset)

    async def count_finished(self, user_id: int, guild_id: int | None) -> int:
        if guild_id is None:
            return int(await self._pool.fetchval(_COUNT_FINISHED_IN_DMS, user_id))
        return int(await self._pool.fetchval(_COUNT_FINISHED_IN_GUILD, user_id, guild_id))

"""Leased work on SQLite: which process works on a task, until when.

A store hands work out only with a lease to its process (`owner`, `videojobs.identity`): the
polls that are due, the deliveries owed, the tasks waiting for the gateway, and the tasks a
gone process left unsent. Another process's live lease is skipped; a lease that has run out
(its process died or hangs) is free to take. A live process renews its leases (`renew_leases`)
well before they run out. Lease times use the store's own clock (`time.time`), not the
service's, since they are compared between processes.

On SQLite one statement (UPDATE ... RETURNING) picks and leases a batch under the database's
write lock, which is what FOR UPDATE SKIP LOCKED gives on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiosqlite

from videojobs.identity import process_id
from videojobs.models import VideoTask

from .rows import COLUMNS, OWED, POLLED, TERMINAL, by_finish, from_rows

DEFAULT_LEASE_SECONDS = 30.0

_RETURNING = f"RETURNING {', '.join(COLUMNS)}"
_FREE = "(lease_owner IS NULL OR lease_owner = :me OR lease_until < :lnow)"
_EXPIRED = "(lease_owner IS NULL OR lease_until < :lnow)"
_TAKE = "lease_owner = :me, lease_until = :until"


def _claim(where: str, order: str) -> str:
    return (
        f"UPDATE tasks SET {_TAKE} WHERE id IN (SELECT id FROM tasks WHERE {where} "  # noqa: S608
        f"ORDER BY {order} LIMIT :limit) {_RETURNING}"
    )


_CLAIM_POLLS = _claim(f"state IN {POLLED} AND next_poll_at <= :now AND {_FREE}", "next_poll_at")
_CLAIM_DELIVERIES = _claim(
    f"{OWED} AND coalesce(delivery_retry_at, 0) <= :now AND {_FREE}", "finished_at, created_at"
)
_CLAIM_WAITING = _claim(f"state = 'pending' AND wait_reason IS NOT NULL AND {_FREE}", "created_at")
_CLAIM_ORPHANS = _claim(
    f"state IN ('pending', 'submitting') AND wait_reason IS NULL AND {_EXPIRED}", "created_at"
)
_CLAIM_DELIVERY = (
    f"UPDATE tasks SET delivery = 'claimed', delivery_claimed_at = :now, {_TAKE} "  # noqa: S608
    f"WHERE id = :id AND delivery = 'none' AND state IN {TERMINAL} AND {_FREE}"
)
_MARK_DELIVERED = (
    "UPDATE tasks SET delivery = 'delivered', delivery_message_id = :message, "
    "delivered_at = :now, delivery_retry_at = NULL, delivery_gave_up_at = NULL, "
    "lease_owner = NULL, lease_until = NULL WHERE id = :id"
)
_TAKE_ONE = f"UPDATE tasks SET {_TAKE} WHERE id = :id AND {_FREE}"  # noqa: S608
_RENEW = "UPDATE tasks SET lease_until = :until WHERE lease_owner = :me AND lease_until >= :lnow"
_LEASE_OF = "SELECT lease_owner, lease_until FROM tasks WHERE id = ?"
_TRY_LOCK = (
    "INSERT INTO locks (name, owner, until) VALUES (:name, :me, :until) "
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    "WHERE locks.until < :lnow OR locks.owner = excluded.owner"
)
_RELEASE_LOCK = "DELETE FROM locks WHERE name = :name AND owner = :me"
_CLEAR_ALL = "UPDATE tasks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL"
_CLEAR_LOCKS = "DELETE FROM locks"


class LeaseTerms:
    """Who this store works for and for how long it leases work (set by `open`)."""

    owner: str = process_id()
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    lease_clock: Callable[[], float] = staticmethod(time.time)

    def _lease_params(self, **extra: Any) -> dict[str, Any]:
        lnow = self.lease_clock()
        return {"me": self.owner, "lnow": lnow, "until": lnow + self.lease_seconds} | extra

    def set_lease_terms(
        self,
        owner: str | None = None,
        lease_seconds: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if owner is not None:
            self.owner = owner
        if lease_seconds is not None:
            self.lease_seconds = lease_seconds
        if clock is not None:
            self.lease_clock = clock


class SqliteLeases(LeaseTerms):
    """Mixed into SqliteTaskStore: needs `_conn`, `_lock` and `_write`."""

    _conn: aiosqlite.Connection
    _lock: asyncio.Lock

    async def _write(self, sql: str, params: Any) -> int:
        raise NotImplementedError

    async def _claim(self, sql: str, params: dict[str, Any]) -> list[VideoTask]:
        async with self._lock:
            rows = await self._conn.execute_fetchall(sql, params)
        return from_rows(rows)

    async def due_for_poll(self, now: float, limit: int) -> list[VideoTask]:
        """Tasks in QUEUED or RUNNING whose next_poll_at <= now and whose lease is free (or
        ours), soonest first; leased to this process."""
        tasks = await self._claim(_CLAIM_POLLS, self._lease_params(now=now, limit=limit))
        return sorted(tasks, key=lambda t: t.next_poll_at)

    async def deliveries_due(self, now: float, limit: int) -> list[VideoTask]:
        """Owed deliveries not waiting for a later retry and not held by another live
        process, the longest finished first; leased to this process."""
        tasks = await self._claim(_CLAIM_DELIVERIES, self._lease_params(now=now, limit=limit))
        return sorted(tasks, key=by_finish)

    async def waiting(self, limit: int) -> list[VideoTask]:
        """Tasks waiting for the gateway (PENDING with a wait reason) not held by another
        live process, oldest first; leased to this process."""
        tasks = await self._claim(_CLAIM_WAITING, self._lease_params(limit=limit))
        return sorted(tasks, key=lambda t: t.created_at)

    async def orphaned(self, limit: int) -> list[VideoTask]:
        """Tasks never sent (PENDING, not waiting) or interrupted while being sent
        (SUBMITTING) whose lease ran out — their process is gone — oldest first; leased to
        this process."""
        tasks = await self._claim(_CLAIM_ORPHANS, self._lease_params(limit=limit))
        return sorted(tasks, key=lambda t: t.created_at)

    async def claim_delivery(self, task_id: str, now: float) -> bool:
        """NONE -> CLAIMED (leased to this process) for a task in a terminal state; False if
        someone else has it."""
        return await self._write(_CLAIM_DELIVERY, self._lease_params(id=task_id, now=now)) == 1

    async def mark_delivered(self, task_id: str, message_id: int | None, now: float) -> None:
        """-> DELIVERED, with the message that did it; the lease ends."""
        params = {"id": task_id, "message": message_id, "now": now}
        await self._write(_MARK_DELIVERED, params)

    async def take(self, task_id: str) -> bool:
        """Lease one task to this process, unless another live process holds it."""
        return await self._write(_TAKE_ONE, self._lease_params(id=task_id)) == 1

    async def renew_leases(self) -> int:
        """Extend every lease this process still holds; returns how many."""
        return await self._write(_RENEW, self._lease_params())

    async def lease_of(self, task_id: str) -> tuple[str, float] | None:
        """Who holds the task's lease and until when (None: nobody)."""
        rows = list(await self._conn.execute_fetchall(_LEASE_OF, (task_id,)))
        if not rows or rows[0][0] is None:
            return None
        return str(rows[0][0]), float(rows[0][1])

    async def try_lock(self, name: str, seconds: float) -> bool:
        """Hold the named lock for `seconds` unless another process holds it."""
        params = self._lease_params(name=name)
        params["until"] = params["lnow"] + seconds
        return await self._write(_TRY_LOCK, params) == 1

    async def release_lock(self, name: str) -> None:
        """Let go of the named lock if this process holds it."""
        await self._write(_RELEASE_LOCK, self._lease_params(name=name))

    async def clear_leases(self) -> int:
        """Free every lease and lock (only when this process is surely alone on the
        database)."""
        await self._write(_CLEAR_LOCKS, ())
        return await self._write(_CLEAR_ALL, ())

    async def on_wake(self, callback: Callable[[], None]) -> None:
        """One process per SQLite file: nobody else to wake us."""

    async def wake_others(self) -> None:
        """One process per SQLite file: nobody else to wake."""

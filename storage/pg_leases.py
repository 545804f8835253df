"""Leased work on PostgreSQL (see storage/leases.py for what a lease is), and wake-ups.

Each batch is picked with FOR UPDATE SKIP LOCKED, so processes claiming at the same moment
never wait for each other and never get the same task; the lease is written in the same
statement. LISTEN/NOTIFY on one channel wakes the other processes when there is work for
whoever takes it (a task admitted, a callback for a task another process holds).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import asyncpg

from videojobs.models import VideoTask

from .leases import LeaseTerms
from .rows import OWED, POLLED, TERMINAL, by_finish, from_rows

log = logging.getLogger(__name__)

WAKE_CHANNEL = "klingbot_wake"

_FREE = "(lease_owner IS NULL OR lease_owner = :me OR lease_until < :lnow)"
_EXPIRED = "(lease_owner IS NULL OR lease_until < :lnow)"
_TAKE = "lease_owner = :me, lease_until = :until"


class _Statement:
    """SQL written with :names, run with asyncpg's $n placeholders."""

    def __init__(self, sql: str) -> None:
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.sql = re.sub(r"(?<!:):([a-z]+)", number, sql)

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


def _claim(where: str, order: str) -> _Statement:
    return _Statement(
        f"WITH picked AS (SELECT id FROM tasks WHERE {where} ORDER BY {order} "  # noqa: S608
        "LIMIT :limit FOR UPDATE SKIP LOCKED) "
        f"UPDATE tasks AS t SET {_TAKE} FROM picked WHERE t.id = picked.id RETURNING t.*"
    )


_CLAIM_POLLS = _claim(f"state IN {POLLED} AND next_poll_at <= :now AND {_FREE}", "next_poll_at")
_CLAIM_DELIVERIES = _claim(
    f"{OWED} AND coalesce(delivery_retry_at, 0) <= :now AND {_FREE}",
    "finished_at NULLS FIRST, created_at",
)
_CLAIM_WAITING = _claim(f"state = 'pending' AND wait_reason IS NOT NULL AND {_FREE}", "created_at")
_CLAIM_ORPHANS = _claim(
    f"state IN ('pending', 'submitting') AND wait_reason IS NULL AND {_EXPIRED}", "created_at"
)
_CLAIM_DELIVERY = _Statement(
    f"UPDATE tasks SET delivery = 'claimed', delivery_claimed_at = :now, {_TAKE} "  # noqa: S608
    f"WHERE id = :id AND delivery = 'none' AND state IN {TERMINAL} AND {_FREE}"
)
_MARK_DELIVERED = _Statement(
    "UPDATE tasks SET delivery = 'delivered', delivery_message_id = :message, "
    "delivered_at = :now, delivery_retry_at = NULL, delivery_gave_up_at = NULL, "
    "lease_owner = NULL, lease_until = NULL WHERE id = :id"
)
_TAKE_ONE = _Statement(f"UPDATE tasks SET {_TAKE} WHERE id = :id AND {_FREE}")  # noqa: S608
_RENEW = _Statement(
    "UPDATE tasks SET lease_until = :until WHERE lease_owner = :me AND lease_until >= :lnow"
)
_TRY_LOCK = _Statement(
    "INSERT INTO locks (name, owner, until) VALUES (:name, :me, :until) "
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    "WHERE locks.until < :lnow OR locks.owner = excluded.owner"
)
_RELEASE_LOCK = _Statement("DELETE FROM locks WHERE name = :name AND owner = :me")
_LEASE_OF = "SELECT lease_owner, lease_until FROM tasks WHERE id = $1"
_NOTIFY = "SELECT pg_notify($1, $2)"


def _changed(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


class PgLeases(LeaseTerms):
    """Mixed into PostgresTaskStore: needs `_pool` and `_dsn`."""

    _pool: asyncpg.Pool
    _dsn: str
    _listener: asyncpg.Connection | None = None

    async def _run(self, statement: _Statement, **extra: Any) -> str:
        return str(
            await self._pool.execute(statement.sql, *statement.args(self._lease_params(**extra)))
        )

    async def _claim(self, statement: _Statement, **extra: Any) -> list[VideoTask]:
        args = statement.args(self._lease_params(**extra))
        return from_rows(await self._pool.fetch(statement.sql, *args))

    async def due_for_poll(self, now: float, limit: int) -> list[VideoTask]:
        """Tasks in QUEUED or RUNNING whose next_poll_at <= now and whose lease is free (or
        ours), soonest first; leased to this process."""
        tasks = await self._claim(_CLAIM_POLLS, now=float(now), limit=limit)
        return sorted(tasks, key=lambda t: t.next_poll_at)

    async def deliveries_due(self, now: float, limit: int) -> list[VideoTask]:
        """Owed deliveries not waiting for a later retry and not held by another live
        process, the longest finished first; leased to this process."""
        tasks = await self._claim(_CLAIM_DELIVERIES, now=float(now), limit=limit)
        return sorted(tasks, key=by_finish)

    async def waiting(self, limit: int) -> list[VideoTask]:
        """Tasks waiting for the gateway not held by another live process, oldest first;
        leased to this process."""
        tasks = await self._claim(_CLAIM_WAITING, limit=limit)
        return sorted(tasks, key=lambda t: t.created_at)

    async def orphaned(self, limit: int) -> list[VideoTask]:
        """Tasks never sent (PENDING, not waiting) or interrupted while being sent
        (SUBMITTING) whose lease ran out, oldest first; leased to this process."""
        tasks = await self._claim(_CLAIM_ORPHANS, limit=limit)
        return sorted(tasks, key=lambda t: t.created_at)

    async def claim_delivery(self, task_id: str, now: float) -> bool:
        """NONE -> CLAIMED (leased to this process) for a task in a terminal state; False if
        someone else has it."""
        return _changed(await self._run(_CLAIM_DELIVERY, id=task_id, now=float(now))) == 1

    async def mark_delivered(self, task_id: str, message_id: int | None, now: float) -> None:
        """-> DELIVERED, with the message that did it; the lease ends."""
        await self._run(_MARK_DELIVERED, id=task_id, message=message_id, now=float(now))

    async def take(self, task_id: str) -> bool:
        """Lease one task to this process, unless another live process holds it."""
        return _changed(await self._run(_TAKE_ONE, id=task_id)) == 1

    async def renew_leases(self) -> int:
        """Extend every lease this process still holds; returns how many."""
        return _changed(await self._run(_RENEW))

    async def try_lock(self, name: str, seconds: float) -> bool:
        """Hold the named lock for `seconds` unless another process holds it."""
        params = self._lease_params(name=name)
        params["until"] = params["lnow"] + seconds
        status = await self._pool.execute(_TRY_LOCK.sql, *_TRY_LOCK.args(params))
        return _changed(status) == 1

    async def release_lock(self, name: str) -> None:
        """Let go of the named lock if this process holds it."""
        await self._run(_RELEASE_LOCK, name=name)

    async def lease_of(self, task_id: str) -> tuple[str, float] | None:
        """Who holds the task's lease and until when (None: nobody)."""
        row = await self._pool.fetchrow(_LEASE_OF, task_id)
        if row is None or row[0] is None:
            return None
        return str(row[0]), float(row[1])

    async def on_wake(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever another process says there is work (LISTEN)."""
        if self._listener is None:
            self._listener = await asyncpg.connect(self._dsn)
        owner = self.owner

        def heard(_conn: object, _pid: int, _channel: str, sender: str) -> None:
            if sender != owner:
                callback()

        await self._listener.add_listener(WAKE_CHANNEL, heard)

    async def wake_others(self) -> None:
        """Tell the other processes there is work for whoever takes it (NOTIFY)."""
        await self._pool.execute(_NOTIFY, WAKE_CHANNEL, self.owner)

    async def _close_listener(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()

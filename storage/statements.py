"""The task statements both engines run as they are, written once.

They use SQLite's `?` placeholders; `POSTGRES` is the same set with the placeholders numbered
(`$1`, `$2`, …) for asyncpg, so both stores pass their parameters in the same order. What only
one dialect can say (JSON paths, `IS ?`, arrays, `NULLS FIRST`, advisory locks) stays in that
store. Every value is a parameter; the f-strings only join constants of rows.py.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, fields

from .rows import ACTIVE, COLUMNS, NOT_GAVE_UP, OWED, POLLED, TERMINAL

SELECT = f"SELECT {', '.join(COLUMNS)} FROM tasks"  # noqa: S608


@dataclass(frozen=True, slots=True)
class Statements:
    get: str = f"{SELECT} WHERE id = ?"
    by_short_id: str = f"{SELECT} WHERE short_id = ?"
    by_gateway_id: str = f"{SELECT} WHERE gateway_task_id = ? ORDER BY created_at DESC LIMIT 1"
    next_poll_at: str = f"SELECT min(next_poll_at) FROM tasks WHERE state IN {POLLED}"  # noqa: S608
    next_delivery_at: str = f"SELECT min(delivery_retry_at) FROM tasks WHERE {OWED}"  # noqa: S608
    user_unfinished: str = (
        f"{SELECT} WHERE requester_id = ? AND state IN {ACTIVE} ORDER BY created_at LIMIT ?"
    )
    user_finished: str = (
        f"{SELECT} WHERE requester_id = ? AND state IN {TERMINAL} "
        "ORDER BY coalesce(finished_at, updated_at) DESC, created_at DESC LIMIT ?"
    )
    # parameters: requester, requester, day start
    count_limits: str = (
        f"SELECT (SELECT count(*) FROM tasks WHERE requester_id = ? AND state IN {ACTIVE}), "  # noqa: S608
        "(SELECT count(*) FROM tasks WHERE requester_id = ? AND created_at >= ?)"
    )
    credits_used: str = (
        "SELECT coalesce(sum(cost), 0) FROM tasks "
        "WHERE guild_id = ? AND created_at >= ? AND state != 'failed'"
    )
    guild_unfinished: str = (
        f"{SELECT} WHERE guild_id = ? AND state IN {ACTIVE} "
        "ORDER BY created_at, id LIMIT ? OFFSET ?"
    )
    count_unfinished_all: str = f"SELECT count(*) FROM tasks WHERE state IN {ACTIVE}"  # noqa: S608
    count_unfinished_guild: str = (
        f"SELECT count(*) FROM tasks WHERE guild_id = ? AND state IN {ACTIVE}"  # noqa: S608
    )
    # parameters: attempts, retry at, task id
    delivery_failed: str = (
        "UPDATE tasks SET delivery_attempts = ?, delivery_retry_at = ? "  # noqa: S608
        f"WHERE id = ? AND delivery = 'claimed' AND {NOT_GAVE_UP}"
    )
    # parameters: attempts, now, task id
    give_up_delivery: str = (
        "UPDATE tasks SET delivery_attempts = ?, delivery_retry_at = NULL, "  # noqa: S608
        f"delivery_gave_up_at = ? WHERE id = ? AND delivery = 'claimed' AND {NOT_GAVE_UP}"
    )
    reopen_given_up: str = (
        "UPDATE tasks SET delivery_attempts = 0, delivery_retry_at = NULL, "
        "delivery_gave_up_at = NULL WHERE delivery_gave_up_at IS NOT NULL AND delivery = 'claimed'"
    )

    def numbered(self) -> Statements:
        """The same statements with PostgreSQL's numbered placeholders."""
        return Statements(**{f.name: numbered(getattr(self, f.name)) for f in fields(self)})


def numbered(sql: str) -> str:
    """`?` placeholders as `$1`, `$2`, … in order (the statements hold no `?` in a literal)."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


SQLITE = Statements()
POSTGRES = SQLITE.numbered()

"""The members' side's store queries on SQLite use their indexes (the behaviour is in
tests/contract/test_member_queries_contract.py, on every backend)."""

from __future__ import annotations

from storage import task_store as sql
from storage.task_store import SqliteTaskStore


async def test_the_member_queries_use_their_indexes(store: SqliteTaskStore) -> None:
    """The planner searches the migration's indexes (the expressions match word for word)."""

    async def plan(statement: str, params: tuple[object, ...]) -> str:
        rows = await store._conn.execute_fetchall(f"EXPLAIN QUERY PLAN {statement}", params)
        return " ".join(str(row[3]) for row in rows)

    durations = await plan(sql._COMPLETED_DURATIONS, ("kling-v3", "std", 5, 10))
    assert "USING INDEX tasks_finish_times" in durations
    history = await plan(sql._FINISHED_TASKS, (111, 222, 10, 0))
    assert "USING INDEX tasks_history" in history
    assert "USING INDEX tasks_history" in await plan(sql._COUNT_FINISHED, (111, 222))

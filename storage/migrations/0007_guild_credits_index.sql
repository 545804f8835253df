-- The daily budget check sums the cost of a server's tasks of the day that did not fail, inside
-- the admission transaction. This partial index holds exactly those rows with their cost, so it
-- is read alone. The WHERE must match storage/task_store.py's _CREDITS_USED word for word, or
-- the planner will not use it.

DROP INDEX tasks_guild_created;
CREATE INDEX tasks_guild_credits ON tasks (guild_id, created_at, cost, state)
    WHERE state != 'failed';

-- The daily budget check sums the cost of a server's tasks of the day that did not fail, inside
-- the admission transaction: with state and cost in the index it reads the index alone.

DROP INDEX tasks_guild_created;
CREATE INDEX tasks_guild_credits ON tasks (guild_id, created_at, state, cost);

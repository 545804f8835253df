-- Twin of ../migrations/0007_guild_credits_index.sql: the daily budget check sums the cost of
-- a server's tasks of the day that did not fail; this partial index holds exactly those rows,
-- with the cost, so the sum reads the index alone. Its WHERE matches pg_store's _CREDITS_USED.

DROP INDEX tasks_guild_created;
CREATE INDEX tasks_guild_credits ON tasks (guild_id, created_at) INCLUDE (cost)
    WHERE state != 'failed';

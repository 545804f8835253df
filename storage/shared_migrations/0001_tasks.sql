-- The indexes of 0001 and the meta table, written once: both engines accept them as they are,
-- and storage/database.py appends this file to each engine's 0001_tasks.sql. The state lists in
-- the partial indexes must match storage/rows.py word for word, or SQLite's planner will not
-- use them.

-- the poller: due tasks, soonest first
CREATE INDEX tasks_poll ON tasks (next_poll_at)
    WHERE state IN ('queued', 'running');

-- finished tasks still to be delivered (after a crash mid-delivery, too)
CREATE INDEX tasks_undelivered ON tasks (finished_at)
    WHERE delivery IN ('none', 'claimed')
      AND state IN ('completed', 'failed', 'timed_out', 'cancelled');

-- a member's tasks: the daily limit and /status history
CREATE INDEX tasks_requester ON tasks (requester_id, created_at);

-- a member's unfinished tasks: the active limit and /status
CREATE INDEX tasks_requester_unfinished ON tasks (requester_id, created_at)
    WHERE state IN ('pending', 'submitting', 'queued', 'running');

-- unfinished tasks per guild (and in all, counted over the same index)
CREATE INDEX tasks_guild_unfinished ON tasks (guild_id)
    WHERE state IN ('pending', 'submitting', 'queued', 'running');

-- callbacks name the gateway's task id
CREATE INDEX tasks_gateway ON tasks (gateway_task_id)
    WHERE gateway_task_id IS NOT NULL;

-- the foreign key's child side
CREATE INDEX tasks_retry_of ON tasks (retry_of);

CREATE TABLE meta (
    key    text PRIMARY KEY,
    value  text NOT NULL
);

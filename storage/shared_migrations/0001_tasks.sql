-- Everything needed to finish a video task after a restart, and a small key/value table, in
-- SQL both engines accept as it is; storage/database.py appends it to each engine's
-- 0001_tasks.sql. Times are seconds since the epoch (UTC) as double precision (REAL affinity in
-- SQLite); Discord ids are bigint (INTEGER affinity). The state lists in the partial indexes
-- must match storage/rows.py word for word, or SQLite's planner will not use them.

CREATE TABLE tasks (
    id                   text             PRIMARY KEY
                                          CHECK (length(id) = 32
                                                 AND ltrim(id, '0123456789abcdef') = ''),
    short_id             text             NOT NULL UNIQUE CHECK (short_id = substr(id, 1, 8)),
    requester_id         bigint           NOT NULL,
    guild_id             bigint,
    channel_id           bigint           NOT NULL,
    thread_id            bigint,
    status_message_id    bigint,
    upload_limit         bigint           NOT NULL,
    request              text             NOT NULL,  -- VideoRequest.to_json() as JSON
    gateway_task_id      text,
    state                text             NOT NULL CHECK (state IN (
                             'pending', 'submitting', 'queued', 'running',
                             'completed', 'failed', 'timed_out', 'cancelled')),
    progress             integer          NOT NULL DEFAULT 0,
    result_url           text,
    failure_reason       text,
    attempts             integer          NOT NULL DEFAULT 0,
    poll_errors          integer          NOT NULL DEFAULT 0,
    next_poll_at         double precision NOT NULL,
    deadline_at          double precision NOT NULL,
    created_at           double precision NOT NULL,
    updated_at           double precision NOT NULL,
    finished_at          double precision,
    delivery             text             NOT NULL DEFAULT 'none'
                                          CHECK (delivery IN ('none', 'claimed', 'delivered')),
    delivery_message_id  bigint,
    delivered_at         double precision,
    delivery_claimed_at  double precision,
    retry_of             text             REFERENCES tasks (id) ON DELETE SET NULL
);

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

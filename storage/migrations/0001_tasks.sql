-- Everything needed to finish a video task after a restart, and a small key/value table.
-- Times are seconds since the epoch (UTC) as REAL; Discord ids are 64-bit INTEGERs.
-- The state lists in the partial indexes must match storage/task_store.py word for word,
-- or the planner will not use them.

CREATE TABLE tasks (
    id                   TEXT    PRIMARY KEY
                                 CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
    short_id             TEXT    NOT NULL UNIQUE CHECK (short_id = substr(id, 1, 8)),
    requester_id         INTEGER NOT NULL,
    guild_id             INTEGER,
    channel_id           INTEGER NOT NULL,
    thread_id            INTEGER,
    status_message_id    INTEGER,
    upload_limit         INTEGER NOT NULL,
    request              TEXT    NOT NULL,  -- VideoRequest.to_json() as JSON
    gateway_task_id      TEXT,
    state                TEXT    NOT NULL CHECK (state IN (
                             'pending', 'submitting', 'queued', 'running',
                             'completed', 'failed', 'timed_out', 'cancelled')),
    progress             INTEGER NOT NULL DEFAULT 0,
    result_url           TEXT,
    failure_reason       TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    poll_errors          INTEGER NOT NULL DEFAULT 0,
    next_poll_at         REAL    NOT NULL,
    deadline_at          REAL    NOT NULL,
    created_at           REAL    NOT NULL,
    updated_at           REAL    NOT NULL,
    finished_at          REAL,
    delivery             TEXT    NOT NULL DEFAULT 'none'
                                 CHECK (delivery IN ('none', 'claimed', 'delivered')),
    delivery_message_id  INTEGER,
    delivered_at         REAL,
    delivery_claimed_at  REAL,
    retry_of             TEXT    REFERENCES tasks (id) ON DELETE SET NULL
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
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Everything needed to finish a video task after a restart, and a small key/value table.
-- Times are seconds since the epoch (UTC) as REAL; Discord ids are 64-bit INTEGERs.

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

-- indexes and the meta table: ../shared_migrations/0001_tasks.sql

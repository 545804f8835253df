-- PostgreSQL twin of ../migrations/0001_tasks.sql: the same columns with the same meaning, so
-- storage/rows.py maps a row of either. Times are seconds since the epoch (UTC) as double
-- precision; Discord ids are bigint.

CREATE TABLE tasks (
    id                   text             PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
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

-- indexes and the meta table: ../shared_migrations/0001_tasks.sql

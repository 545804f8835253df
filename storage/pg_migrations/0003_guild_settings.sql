-- Twin of ../migrations/0003_guild_settings.sql: per-server settings (/settings) and the
-- credits each task costs (daily server budgets).

ALTER TABLE tasks ADD COLUMN cost double precision NOT NULL DEFAULT 0;

CREATE INDEX tasks_guild_created ON tasks (guild_id, created_at);

CREATE TABLE guild_settings (
    guild_id    bigint           NOT NULL,
    key         text             NOT NULL,
    value       text             NOT NULL,  -- JSON
    changed_by  bigint           NOT NULL,
    changed_at  double precision NOT NULL,
    PRIMARY KEY (guild_id, key)
);

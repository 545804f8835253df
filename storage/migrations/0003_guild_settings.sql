-- Per-server settings (/settings) and the credits each task costs (daily server budgets).

-- what a task costs, in credits, fixed when it is admitted (TASK_COSTS at that moment)
ALTER TABLE tasks ADD COLUMN cost REAL NOT NULL DEFAULT 0;

-- a server's tasks of the day: its credits spent, /queue
CREATE INDEX tasks_guild_created ON tasks (guild_id, created_at);

-- one row per value a server set; no row = the bot's default
CREATE TABLE guild_settings (
    guild_id    INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,  -- JSON
    changed_by  INTEGER NOT NULL,  -- the Discord user who set it
    changed_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, key)
);

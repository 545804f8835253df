-- Twin of ../migrations/0004_send_wait.sql: tasks waiting for the gateway keep the reason and
-- the earliest time to send them again, so the wait survives a restart.

ALTER TABLE tasks ADD COLUMN wait_reason text;
ALTER TABLE tasks ADD COLUMN send_after double precision;

CREATE INDEX tasks_waiting ON tasks (created_at)
    WHERE state = 'pending' AND wait_reason IS NOT NULL;

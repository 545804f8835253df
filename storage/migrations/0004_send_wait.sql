-- Tasks waiting for the gateway: a create that surely did not reach it (unreachable, 429, 502,
-- 503, the relay's own 5xx) leaves the task pending with the reason and the earliest time to
-- send it again, so the wait survives a restart.

ALTER TABLE tasks ADD COLUMN wait_reason TEXT;
ALTER TABLE tasks ADD COLUMN send_after REAL;

-- the sender: waiting tasks in the order they were made
CREATE INDEX tasks_waiting ON tasks (created_at)
    WHERE state = 'pending' AND wait_reason IS NOT NULL;

-- Leases: which process works on a task, until when (see storage/leases.py). A lease that has
-- run out is free: the process that held it is gone or stuck, and another takes the work over.

ALTER TABLE tasks ADD COLUMN lease_owner TEXT;
ALTER TABLE tasks ADD COLUMN lease_until REAL;

-- renewing this process's leases
CREATE INDEX tasks_lease_owner ON tasks (lease_owner)
    WHERE lease_owner IS NOT NULL;

-- start-up and take-over: tasks never sent, or interrupted while being sent
CREATE INDEX tasks_unsent ON tasks (created_at)
    WHERE state IN ('pending', 'submitting');

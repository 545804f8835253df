-- Twin of ../migrations/0005_leases.sql: which process works on a task, until when.

ALTER TABLE tasks ADD COLUMN lease_owner text;
ALTER TABLE tasks ADD COLUMN lease_until double precision;

CREATE INDEX tasks_lease_owner ON tasks (lease_owner)
    WHERE lease_owner IS NOT NULL;

-- start-up and take-over: tasks never sent, or interrupted while being sent
CREATE INDEX tasks_unsent ON tasks (created_at)
    WHERE state IN ('pending', 'submitting');

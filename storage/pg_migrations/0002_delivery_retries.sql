-- Twin of ../migrations/0002_delivery_retries.sql: delivery retries survive a restart. GAVE_UP
-- is stored as delivery = 'claimed' with delivery_gave_up_at set, as on SQLite (rows.py).

ALTER TABLE tasks ADD COLUMN delivery_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN delivery_retry_at double precision;
ALTER TABLE tasks ADD COLUMN delivery_gave_up_at double precision;

CREATE INDEX tasks_delivery_gave_up ON tasks (id)
    WHERE delivery_gave_up_at IS NOT NULL;

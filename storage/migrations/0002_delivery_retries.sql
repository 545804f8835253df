-- Delivery retries survive a restart: failed attempts so far and when the next one is due.
-- A delivery that gave up is DeliveryState.GAVE_UP: stored as delivery = 'claimed' with
-- delivery_gave_up_at set (0001's CHECK on `delivery` can't be widened without rebuilding the
-- table); storage/task_store.py is the only code that knows this.

ALTER TABLE tasks ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN delivery_retry_at REAL;
ALTER TABLE tasks ADD COLUMN delivery_gave_up_at REAL;

-- start-up: the deliveries that gave up, to try again
CREATE INDEX tasks_delivery_gave_up ON tasks (id)
    WHERE delivery_gave_up_at IS NOT NULL;

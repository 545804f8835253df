-- Twin of ../migrations/0006_frames.sql: where a task's frames are kept (a message of the
-- bot's holding them), as KeptFrames.to_json() JSON text; NULL without frames or before.

ALTER TABLE tasks ADD COLUMN frames text;

-- Where a task's frames are kept (a message of the bot's holding them, fixed to Kling's rules):
-- KeptFrames.to_json() as JSON, NULL for a task without frames or before they were kept.
-- Retry and Remix fetch fresh links from that message after Discord's links expired.

ALTER TABLE tasks ADD COLUMN frames TEXT;

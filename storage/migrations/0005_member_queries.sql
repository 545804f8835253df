-- The members' side: finish times by kind of task (the estimate of the time left) and a
-- member's finished tasks in one server (/history). The expressions and state lists must match
-- storage/task_store.py word for word, or the planner will not use these indexes.

CREATE INDEX tasks_finish_times ON tasks (
    json_extract(request, '$.model'),
    json_extract(request, '$.mode'),
    json_extract(request, '$.duration'),
    finished_at
) WHERE state = 'completed';

CREATE INDEX tasks_history ON tasks (requester_id, guild_id, finished_at)
    WHERE state IN ('completed', 'failed', 'timed_out', 'cancelled');

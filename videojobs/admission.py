"""Admission: what a member asks for becomes a stored task (PENDING) — or a clear refusal —
before anything is sent; retry, cancel, and the queries behind /status.

Every rule, allowlist and limit is checked here. The limits are checked in the same store
transaction as the insert, so a burst of requests cannot pass them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from .credits import day_start, refusal_message
from .errors import DuplicateTaskId, NotAllowed, RequestRejected, TaskNotFound
from .finish import Finish
from .lifecycle import Lifecycle
from .models import ACTIVE_STATES, Requester, TaskState, VideoRequest, VideoTask, new_task_id
from .policy import Policies, Policy
from .ports import AdmissionLimits
from .rules import check_access, validate_request
from .telemetry import bind

log = logging.getLogger(__name__)

ID_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Overview:
    """What `/status` shows a member."""

    unfinished: list[VideoTask]
    recent: list[VideoTask]
    active_left: int | None  # None: no limit
    daily_left: int | None
    server_unfinished: int | None  # None in a DM: no server
    credits_left: float | None = None  # None: the server has no daily budget


class Admission:
    def __init__(self, lifecycle: Lifecycle, finish: Finish, policies: Policies) -> None:
        self.lc = lifecycle
        self.finish = finish
        self.policies = policies

    async def admit(
        self, request: VideoRequest, requester: Requester, *, retry_of: str | None = None
    ) -> VideoTask:
        """Check every rule, allowlist, limit and the server's credit budget, and store the
        task (PENDING). The one way in for /video, Retry and Remix alike.

        The rules are the policy of the requester's server, read now (a /settings change made
        by any process applies at once). Raises RequestRejected with a message for the member;
        nothing is stored then."""
        policy = await self.policies.for_guild(requester.guild_id)
        request = validate_request(request, policy.models)
        check_access(
            requester,
            allowed_channel_ids=policy.allowed_channel_ids,
            allowed_role_ids=policy.allowed_role_ids,
        )
        for _ in range(ID_ATTEMPTS):
            try:
                return await self._store_new(request, requester, retry_of, policy)
            except DuplicateTaskId:
                continue
        raise RuntimeError("could not draw a free task id")

    async def _store_new(
        self, request: VideoRequest, requester: Requester, retry_of: str | None, policy: Policy
    ) -> VideoTask:
        config = self.lc.config
        now = self.lc.clock.now()
        cost = policy.cost(request.mode, request.duration)
        task = VideoTask(
            id=new_task_id(),
            requester_id=requester.user_id,
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            request=request,
            created_at=now,
            updated_at=now,
            deadline_at=now + config.task_timeout,
            next_poll_at=now,
            upload_limit=requester.upload_limit,
            retry_of=retry_of,
            cost=cost,
        )
        limits = AdmissionLimits(
            max_active=policy.max_active,
            max_daily=policy.max_daily,
            day_start=day_start(now),
            server_budget=policy.daily_server_credits if policy.has_budget else 0.0,
        )
        counts = await self.lc.store.insert_within_limits(task, limits)
        if counts is not None:
            raise RequestRejected(
                refusal_message(
                    policy,
                    active=counts.active,
                    today=counts.today,
                    used=counts.credits_used,
                    cost=cost,
                    now=now,
                )
            )
        self.lc.metrics.task_admitted()
        bind(task)
        log.info("task %s admitted for user %s", task.id, task.requester_id)
        return task

    async def retry(
        self, task_id: str, requester: Requester, *, verb: str = "retry", **changes: Any
    ) -> VideoTask:
        """A new task with the same settings and frames (and `changes` to the request, for
        Remix), through the same admission as /video. Not yet sent."""
        original = await self.restartable(task_id, requester, verb=verb)
        request = replace(original.request, **changes) if changes else original.request
        return await self.admit(request, requester, retry_of=original.id)

    async def remix(
        self, task_id: str, requester: Requester, *, prompt: str, negative_prompt: str | None
    ) -> VideoTask:
        """Retry with an edited prompt and negative prompt."""
        return await self.retry(
            task_id, requester, verb="remix", prompt=prompt, negative_prompt=negative_prompt
        )

    async def restartable(self, task_id: str, requester: Requester, *, verb: str) -> VideoTask:
        """The task, if `requester` may start it again (its requester or an admin)."""
        original = await self.lc.get(task_id)
        if original.requester_id != requester.user_id and not requester.is_admin:
            raise NotAllowed(
                f"Only the member who asked for this video, or an admin, can {verb} it."
            )
        return original

    async def set_location(
        self, task_id: str, *, thread_id: int | None, status_message_id: int | None
    ) -> VideoTask:
        """Remember where the task's messages live (its thread and status embed)."""
        return await self.lc.patch(
            task_id, thread_id=thread_id, status_message_id=status_message_id
        )

    async def cancel(
        self, short_id: str, requester: Requester, *, by_name: str | None = None
    ) -> VideoTask:
        """Stop waiting for a task: its requester, or an admin (named to the requester as
        `by_name` when given)."""
        task = await self.find(short_id, requester)
        if task.requester_id != requester.user_id and not requester.is_admin:
            raise NotAllowed("You can only cancel your own tasks (admins can cancel any).")
        if task.state not in ACTIVE_STATES:
            raise RequestRejected(
                f"Task `{task.short_id}` is already {task.state.label}; there is nothing to cancel."
            )
        who = "its requester" if task.requester_id == requester.user_id else "an admin"
        if by_name and task.requester_id != requester.user_id:
            who = f"{by_name} (a server admin)"
        done = await self.finish(
            task,
            TaskState.CANCELLED,
            reason=f"Cancelled by {who}. The bot stopped waiting for it.",
            expect=ACTIVE_STATES,
        )
        if done.state is not TaskState.CANCELLED:
            raise RequestRejected(
                f"Task `{task.short_id}` just finished as {done.state.label}; "
                "it can't be cancelled."
            )
        return done

    # --- the queries behind /status -----------------------------------------------------------

    async def find(self, short_id: str, requester: Requester) -> VideoTask:
        """A task by its short id, visible to members of the server it was made in (and, in
        DMs, to its requester)."""
        key = short_id.strip().lower().lstrip("#`").rstrip("`")[:8]
        task = await self.lc.store.find_by_short_id(key) if len(key) == 8 else None
        visible = task is not None and (
            task.requester_id == requester.user_id
            or (task.guild_id is not None and task.guild_id == requester.guild_id)
        )
        if task is None or not visible:
            raise TaskNotFound(
                f"No task `{short_id.strip()[:20]}` here. Task ids are the 8 characters shown "
                "on the status message; `/status` lists yours."
            )
        return task

    async def get(self, task_id: str) -> VideoTask:
        return await self.lc.get(task_id)

    async def overview(self, requester: Requester, *, recent: int = 5) -> Overview:
        store = self.lc.store
        now = self.lc.clock.now()
        policy = await self.policies.for_guild(requester.guild_id)
        unfinished = await store.user_tasks(requester.user_id, unfinished=True, limit=25)
        finished = await store.user_tasks(requester.user_id, unfinished=False, limit=recent)
        counts = await store.count_limits(requester.user_id, day_start=day_start(now))
        credits_left = None
        if policy.has_budget and requester.guild_id is not None:
            used = await store.credits_used(requester.guild_id, day_start=day_start(now))
            credits_left = max(0.0, policy.daily_server_credits - used)
        return Overview(
            unfinished=unfinished,
            recent=finished,
            active_left=_left(policy.max_active, counts.active),
            daily_left=_left(policy.max_daily, counts.today),
            server_unfinished=(
                None
                if requester.guild_id is None
                else await store.count_unfinished(requester.guild_id)
            ),
            credits_left=credits_left,
        )

    async def credits_today(self, guild_id: int) -> float:
        """Credits the server's tasks of this UTC day cost (failed ones left out)."""
        today = day_start(self.lc.clock.now())
        return await self.lc.store.credits_used(guild_id, day_start=today)

    async def server_queue(self, guild_id: int, *, limit: int, offset: int) -> list[VideoTask]:
        """A page of the server's unfinished tasks, oldest first (/queue)."""
        return await self.lc.store.guild_unfinished(guild_id, limit=limit, offset=offset)


def _left(limit: int, used: int) -> int | None:
    return None if limit == 0 else max(0, limit - used)

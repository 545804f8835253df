"""Credits and daily limits: what a task costs, when the day (UTC) starts and ends, and the
words a member reads when a limit or the server's budget stops a task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .models import DURATIONS

if TYPE_CHECKING:
    from .policy import Policy


def cost_of(task_costs: tuple[tuple[str, float], ...], mode: str, duration: int) -> float:
    return round(dict(task_costs).get(mode, 0.0) * duration / 5, 6)


def day_start(now: float) -> float:
    """The start of the UTC day that `now` falls in."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def next_reset(now: float) -> float:
    """The next UTC midnight: when daily limits and budgets start again."""
    return (datetime.fromtimestamp(day_start(now), UTC) + timedelta(days=1)).timestamp()


def credits_text(value: float) -> str:
    """A credit amount as a member reads it: 3, 2.5, 0.25."""
    return f"{round(value, 4):g}"


def credits_word(value: float) -> str:
    """ "1 credit", "2.5 credits"."""
    text = credits_text(value)
    return f"{text} credit" if text == "1" else f"{text} credits"


# --- what a member is told when a limit stops a task -------------------------------------------


def refusal_message(
    policy: Policy, *, active: int, today: int, used: float, cost: float, now: float
) -> str:
    """Why a task did not fit: the member's limits first, then the server's budget."""
    if policy.max_active and active >= policy.max_active:
        return (
            f"You already have {active} videos in progress (the limit is "
            f"{policy.max_active}). Wait for one to finish, or stop one with `/cancel`."
        )
    if policy.max_daily and today >= policy.max_daily:
        return (
            f"You have used all {policy.max_daily} videos for today (UTC). The count resets at "
            "midnight UTC."
        )
    budget = policy.daily_server_credits
    left = max(0.0, budget - used)
    reset = int(next_reset(now))
    text = (
        f"This video costs {credits_word(cost)}, but this server has only "
        f"{credits_text(left)} of its {credits_word(budget)} for today left. "
        f"The budget resets at midnight UTC (<t:{reset}:t>, <t:{reset}:R>)."
    )
    cheapest = min(
        ((policy.cost(m, d), m, d) for m in dict(policy.task_costs) for d in DURATIONS),
        default=None,
    )
    if cheapest is not None and 0 < cheapest[0] <= left < cost:
        price, mode, duration = cheapest
        text += f" A {duration}-second {mode} video costs {credits_word(price)} and would fit."
    return text

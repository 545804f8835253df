"""One policy per server: the environment's defaults merged with a server's own values."""

from __future__ import annotations

import json

import pytest

from tests.fakes import MemoryStore
from tests.support.clock import FakeClock
from videojobs.credits import day_start, next_reset, refusal_message
from videojobs.errors import RequestRejected
from videojobs.policy import BotDefaults, Policies, SettingRecord

DEFAULTS = BotDefaults(
    models=("kling-v3", "kling-v2"),
    max_active=2,
    max_daily=20,
    daily_server_credits=0,
    task_costs=(("std", 1.0), ("pro", 2.5)),
    allowed_channel_ids=frozenset({11}),
)
GUILD = 100


@pytest.fixture
def book() -> Policies:
    return Policies(MemoryStore(), DEFAULTS, FakeClock())


async def test_a_server_without_settings_gets_the_environment(book: Policies) -> None:
    """No stored value: every rule is the bot's default, and nothing has a source."""
    policy = await book.for_guild(GUILD)
    assert (policy.mode, policy.duration, policy.model) == ("std", 5, "kling-v3")
    assert (policy.max_active, policy.max_daily) == (2, 20)
    assert policy.allowed_channel_ids == {11}
    assert not policy.has_budget and policy.records == {}


async def test_cost_is_duration_over_five_times_the_mode_cost(book: Policies) -> None:
    """TASK_COSTS are per 5 seconds: pro 10 s at 2.5 costs 5."""
    policy = await book.for_guild(GUILD)
    assert policy.cost("pro", 10) == 5.0
    assert policy.cost("std", 5) == 1.0


async def test_changed_values_apply_and_say_who_and_when(book: Policies) -> None:
    """A change is stored with its author and time, and only for that server."""
    await book.change(GUILD, {"mode": "pro", "daily_server_credits": 12.5}, by=7)
    policy = await book.for_guild(GUILD)
    assert policy.mode == "pro" and policy.daily_server_credits == 12.5 and policy.has_budget
    record = policy.record("mode")
    assert record is not None and record.changed_by == 7
    assert record.changed_at == book.clock.now()
    assert policy.record("duration") is None
    assert (await book.for_guild(GUILD + 1)).mode == "std"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"mode": "ultra"}, "std, pro"),
        ({"duration": 7}, "5, 10"),
        ({"model": "kling-v9"}, "kling-v3, kling-v2"),
        ({"active_per_member": -1}, "0 to 1000"),
        ({"daily_per_member": True}, "0 to 1000"),
        ({"daily_server_credits": float("nan")}, "0 to 1,000,000"),
    ],
)
async def test_bad_values_are_refused_and_nothing_changes(
    book: Policies, values: dict[str, object], words: str
) -> None:
    """Each bad value names what is allowed; a good value beside it is not stored either."""
    with pytest.raises(RequestRejected, match=words.replace(".", r"\.")):
        await book.change(GUILD, {"aspect_ratio": "1:1", **values}, by=7)
    assert (await book.for_guild(GUILD)).records == {}


async def test_a_change_needs_at_least_one_value(book: Policies) -> None:
    """/settings defaults with no option says so."""
    with pytest.raises(RequestRejected, match="at least one option"):
        await book.change(GUILD, {}, by=7)


async def test_allowlists_start_from_the_list_in_force(book: Policies) -> None:
    """allow adds to the environment's list; remove and clear; an empty list is everyone."""
    policy = await book.change_list(GUILD, "channels", "allow", 22, by=7)
    assert policy.allowed_channel_ids == {11, 22}
    policy = await book.change_list(GUILD, "channels", "remove", 11, by=7)
    assert policy.allowed_channel_ids == {22}
    with pytest.raises(RequestRejected, match="nothing to remove"):
        await book.change_list(GUILD, "channels", "remove", 11, by=7)
    with pytest.raises(RequestRejected, match="already allowed"):
        await book.change_list(GUILD, "channels", "allow", 22, by=7)
    with pytest.raises(RequestRejected, match="needs a `role`"):
        await book.change_list(GUILD, "roles", "allow", None, by=7)
    policy = await book.change_list(GUILD, "channels", "clear", None, by=7)
    assert policy.allowed_channel_ids == frozenset()
    assert policy.record("channels") is not None


async def test_reset_brings_back_every_default(book: Policies) -> None:
    """reset removes the server's values."""
    await book.change(GUILD, {"mode": "pro", "duration": 10}, by=7)
    assert await book.reset(GUILD) == 2
    assert (await book.for_guild(GUILD)).records == {}


async def test_a_stored_value_that_no_longer_applies_falls_back(book: Policies) -> None:
    """A model the bot stopped offering (KLING_MODELS changed) gives way to the default."""
    store = book.store
    assert isinstance(store, MemoryStore)
    store.settings[GUILD] = {"model": SettingRecord("model", json.dumps("kling-v1"), 7, 0.0)}
    policy = await book.for_guild(GUILD)
    assert policy.model == "kling-v3" and policy.record("model") is None


async def test_direct_messages_follow_the_environment(book: Policies) -> None:
    """Outside a server there is no server policy and no budget."""
    policy = await book.for_guild(None)
    assert policy.guild_id is None and not policy.has_budget


async def test_refusal_says_cost_what_is_left_and_when_it_resets(book: Policies) -> None:
    """The budget message: the cost, what is left of how much, the next UTC midnight, and a
    cheaper video that would still fit."""
    await book.change(GUILD, {"daily_server_credits": 6}, by=7)
    policy = await book.for_guild(GUILD)
    now = 1_770_000_000.0
    text = refusal_message(policy, active=0, today=0, used=4.5, cost=5.0, now=now)
    assert "costs 5 credits" in text and "1.5 of its 6 credits" in text
    assert f"<t:{int(next_reset(now))}:R>" in text
    assert "A 5-second std video costs 1 credit and would fit" in text
    assert next_reset(now) - day_start(now) == 86400

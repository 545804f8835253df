"""What /help and /settings show of a server's policy fits Discord's embed limits."""

from __future__ import annotations

from cogs.settings import settings_embed
from cogs.status import help_embed, limits_text
from tests.fakes import MemoryStore
from tests.support.clock import FakeClock
from videojobs.policy import BotDefaults, Policies, SettingRecord

BIG_ID = 1234567890123456789


async def test_help_lists_a_servers_limits_and_stays_within_a_field() -> None:
    """Twenty-five allowed channels and roles: a few are named, the rest counted, under 1024."""
    channels = frozenset(BIG_ID + i for i in range(25))
    book = Policies(MemoryStore(), BotDefaults(allowed_channel_ids=channels), FakeClock())
    for i in range(25):
        await book.change_list(1, "roles", "allow", BIG_ID + 100 + i, by=7)
    await book.change(1, {"active_per_member": 3, "daily_server_credits": 40}, by=7)
    policy = await book.for_guild(1)
    text = limits_text(policy)
    assert len(text) <= 1024
    assert "3 videos at a time per member" in text
    assert "40 credits per day for the whole server" in text
    assert text.count("and 17 more") == 2
    embed = help_embed(policy)
    assert all(len(f.value or "") <= 1024 for f in embed.fields)


async def test_settings_show_says_where_each_value_comes_from() -> None:
    """A server's value names who set it; the others say they are the bot's defaults."""
    store = MemoryStore()
    store.settings[1] = {"mode": SettingRecord("mode", '"pro"', 42, 1_770_000_000.0)}
    policy = await Policies(store, BotDefaults(), FakeClock()).for_guild(1)
    fields = {f.name: f.value or "" for f in settings_embed(policy).fields}
    assert fields["mode"] == "**pro**\nthis server · set by <@42> <t:1770000000:R>"
    assert fields["duration"] == "**5 s**\nbot default"
    assert fields["channels"].startswith("**every channel**")
    assert "used today" not in fields["daily_server_credits"]
    with_use = {f.name: f.value or "" for f in settings_embed(policy, 2.5).fields}
    assert with_use["daily_server_credits"].startswith("**no limit** (2.5 used today)")
    assert all(len(v) <= 1024 for v in fields.values())

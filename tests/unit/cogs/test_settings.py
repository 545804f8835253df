"""/settings: server admins only (the bot checks Manage Server again), every value shown with
its source, bad values refused with what is allowed, reset behind a confirm button."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.discord_sim.models import SimChannel, SimRole

from .harness import ADMIN, BOB, GUILD, Cogs
from .payloads import CATEGORY, TEXT, Person, snowflake

REFUSAL = "`/settings` is for server admins: it needs the Manage Server permission."


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("settings show", {}),
        ("settings limits", {"active_per_member": 9}),
        ("settings defaults", {"mode": "pro"}),
        ("settings channels", {"action": "clear"}),
        ("settings roles", {"action": "clear"}),
        ("settings reset", {}),
    ],
)
async def test_a_member_without_manage_server_is_refused(
    cogs: Cogs, path: str, values: dict[str, Any]
) -> None:
    """Discord would hide the command from them, but a server may give it to anyone."""
    outcome = await cogs.slash(path, BOB, **values)
    assert outcome.type == 4 and outcome.ephemeral
    assert outcome.text == REFUSAL
    assert outcome.custom_ids == []
    assert cogs.store.settings.get(GUILD, {}) == {}


async def test_the_commands_are_registered_for_managers_and_servers_only(cogs: Cogs) -> None:
    synced = {c["name"]: c for c in cogs.rest.commands}
    for name in ("settings", "queue"):
        assert int(synced[name]["default_member_permissions"]) == 1 << 5  # Manage Server
        assert synced[name]["dm_permission"] is False


async def test_show_lists_every_value_and_where_it_comes_from(cogs: Cogs) -> None:
    outcome = await cogs.slash("settings show", ADMIN)
    assert outcome.ephemeral
    for key in ("mode", "duration", "active_per_member", "daily_server_credits", "channels"):
        assert key in outcome.text
    assert outcome.text.count("bot default") == 9 and "set by" not in outcome.text


async def test_limits_are_saved_and_shown_with_who_set_them(cogs: Cogs) -> None:
    saved = await cogs.slash("settings limits", ADMIN, active_per_member=5, daily_per_member=0)
    assert saved.ephemeral
    assert "`active_per_member`: **5**" in saved.text
    assert "`daily_per_member`: **no limit**" in saved.text
    shown = await cogs.slash("settings show", ADMIN)
    assert f"this server · set by <@{ADMIN.id}>" in shown.text
    assert (await cogs.service.policies.for_guild(GUILD)).max_active == 5


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"active_per_member": -1}, "must be a whole number from 0 to 1000"),
        ({"daily_per_member": 5000}, "must be a whole number from 0 to 1000"),
        ({"daily_server_credits": -0.5}, "must be a number from 0 to 1,000,000"),
        ({}, "Give at least one option to change."),
    ],
)
async def test_a_bad_limit_says_what_is_allowed_and_changes_nothing(
    cogs: Cogs, values: dict[str, Any], says: str
) -> None:
    outcome = await cogs.slash("settings limits", ADMIN, **values)
    assert outcome.type == 4 and outcome.ephemeral
    assert says in outcome.text and "Nothing changed." in outcome.text
    assert cogs.store.settings.get(GUILD, {}) == {}


async def test_a_channel_allowlist_applies_to_the_next_video(cogs: Cogs) -> None:
    art = SimChannel(snowflake(), TEXT, "art")
    saved = await cogs.slash("settings channels", ADMIN, action="allow", channel=art)
    assert saved.ephemeral and f"<#{art.id}>" in saved.text
    refused = await cogs.slash("video", prompt="in general")
    assert refused.ephemeral and f"Try it in <#{art.id}>" in refused.text


async def test_a_category_is_not_a_channel_for_video(cogs: Cogs) -> None:
    shelf = SimChannel(snowflake(), CATEGORY, "shelf")
    outcome = await cogs.slash("settings channels", ADMIN, action="allow", channel=shelf)
    assert outcome.ephemeral and "is not a text channel" in outcome.text
    assert cogs.store.settings.get(GUILD, {}) == {}


async def test_a_role_allowlist_applies_to_the_next_video(cogs: Cogs) -> None:
    artists = SimRole(snowflake(), GUILD, "artists")
    await cogs.slash("settings roles", ADMIN, action="allow", role=artists)
    refused = await cogs.slash("video", BOB, prompt="bob has no role")
    assert refused.ephemeral and f"<@&{artists.id}>" in refused.text
    await cogs.video(Person(snowflake(), "carol", roles=(artists.id,)), prompt="carol has it")


async def test_reset_asks_first_then_removes_everything(cogs: Cogs) -> None:
    await cogs.slash("settings limits", ADMIN, active_per_member=5)
    await cogs.slash("settings defaults", ADMIN, duration=10)
    asked = await cogs.slash("settings reset", ADMIN)
    assert asked.ephemeral and "can't be undone" in asked.text
    assert asked.custom_ids == ["vb:settings-reset:1", "vb:settings-reset:0"]
    assert len(cogs.store.settings[GUILD]) == 2, "nothing removed before the confirm"
    done = await cogs.click(asked.message, "vb:settings-reset:1", ADMIN)
    assert done.type == 7
    assert "Done: 2 server settings removed" in done.text
    assert done.data["components"] == []
    assert cogs.store.settings.get(GUILD, {}) == {}


async def test_keep_changes_nothing(cogs: Cogs) -> None:
    await cogs.slash("settings limits", ADMIN, active_per_member=5)
    asked = await cogs.slash("settings reset", ADMIN)
    kept = await cogs.click(asked.message, "vb:settings-reset:0", ADMIN)
    assert kept.type == 7 and kept.text == "Nothing changed."
    assert len(cogs.store.settings[GUILD]) == 1


async def test_the_confirm_button_checks_the_permission_again(cogs: Cogs) -> None:
    await cogs.slash("settings limits", ADMIN, active_per_member=5)
    asked = await cogs.slash("settings reset", ADMIN)
    outcome = await cogs.click(asked.message, "vb:settings-reset:1", BOB)
    assert outcome.type == 4 and outcome.ephemeral and outcome.text == REFUSAL
    assert len(cogs.store.settings[GUILD]) == 1

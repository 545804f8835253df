"""Settings: defaults, parsing, and one clear line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load_settings

BASE = {"DISCORD_TOKEN": "discord-token-xyz", "KLING_API_KEY": "sk-secret-123"}


def load(**env: str):
    return load_settings({**BASE, **env})


def test_defaults_follow_the_spec() -> None:
    """Only the two secrets are required; everything else has the spec's default."""
    s = load()
    assert s.kling_api_base == "https://cubicspaces.cloud"
    assert s.kling_api_style == "unified"
    assert s.kling_models == ("kling-v3",)
    assert s.database_path == Path("data/bot.sqlite3")
    assert (s.poll_interval_seconds, s.task_timeout_minutes) == (10.0, 30.0)
    assert (s.max_active_tasks_per_user, s.daily_tasks_per_user) == (2, 20)
    assert s.allowed_channel_ids == frozenset() and s.allowed_role_ids == frozenset()
    assert s.discord_guild_ids == () and s.callback_listen is None
    assert s.log_level == "INFO"


def test_lists_and_numbers_are_parsed() -> None:
    """Comma-separated ids and models, fractional minutes, the simulator keyword."""
    s = load(
        KLING_MODELS="kling-v3, kling-v2-master",
        ALLOWED_CHANNEL_IDS="111111111111111111,222222222222222222",
        DISCORD_GUILD_IDS="333333333333333333",
        TASK_TIMEOUT_MINUTES="0.5",
        KLING_API_BASE="Simulator",
        KLING_API_STYLE="KLING",
        CALLBACK_PUBLIC_URL="https://bot.example.org/kling/callback",
        CALLBACK_LISTEN="0.0.0.0:8080",
        LOG_LEVEL="debug",
    )
    assert s.kling_models == ("kling-v3", "kling-v2-master") and s.default_model == "kling-v3"
    assert s.allowed_channel_ids == {111111111111111111, 222222222222222222}
    assert s.discord_guild_ids == (333333333333333333,)
    assert s.task_timeout_seconds == 30.0
    assert s.use_simulator and s.kling_api_style == "kling"
    assert s.callback_listen == ("0.0.0.0", 8080) and s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"DISCORD_TOKEN": ""}, "DISCORD_TOKEN"),
        ({"KLING_API_KEY": "  "}, "KLING_API_KEY"),
        ({"KLING_API_STYLE": "openai"}, "KLING_API_STYLE"),
        ({"KLING_API_BASE": "ftp://x"}, "KLING_API_BASE"),
        ({"KLING_MODELS": " , "}, "KLING_MODELS"),
        ({"POLL_INTERVAL_SECONDS": "fast"}, "POLL_INTERVAL_SECONDS"),
        ({"POLL_INTERVAL_SECONDS": "0"}, "POLL_INTERVAL_SECONDS"),
        ({"TASK_TIMEOUT_MINUTES": "-1"}, "TASK_TIMEOUT_MINUTES"),
        ({"MAX_ACTIVE_TASKS_PER_USER": "two"}, "MAX_ACTIVE_TASKS_PER_USER"),
        ({"DAILY_TASKS_PER_USER": "-3"}, "DAILY_TASKS_PER_USER"),
        ({"ALLOWED_CHANNEL_IDS": "general"}, "ALLOWED_CHANNEL_IDS"),
        ({"ALLOWED_ROLE_IDS": "1,x"}, "ALLOWED_ROLE_IDS"),
        ({"DISCORD_GUILD_IDS": "12.5"}, "DISCORD_GUILD_IDS"),
        ({"CALLBACK_LISTEN": "0.0.0.0:8080"}, "CALLBACK_PUBLIC_URL"),
        ({"CALLBACK_PUBLIC_URL": "https://x.org/cb", "CALLBACK_LISTEN": "x"}, "CALLBACK_LISTEN"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_value_names_the_setting(env: dict[str, str], name: str) -> None:
    """A missing or malformed value raises one error that names the setting."""
    with pytest.raises(SettingsError) as caught:
        load(**env)
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}: ")
    assert "\n" not in str(caught.value)


def test_secrets_are_never_echoed() -> None:
    """A malformed secret's error and the settings' repr leave the value out."""
    with pytest.raises(SettingsError) as caught:
        load(KLING_API_KEY="sk secret with spaces")
    assert "secret" not in str(caught.value).replace("KLING_API_KEY", "")
    assert "sk-secret-123" not in repr(load())
    assert "discord-token-xyz" not in repr(load())


def test_dotenv_is_loaded_and_real_environment_wins(tmp_path: Path, monkeypatch) -> None:
    """.env fills in what the environment lacks; the environment overrides .env."""
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DISCORD_TOKEN=from-file\nKLING_API_KEY=key-from-file\nPOLL_INTERVAL_SECONDS=7\n"
    )
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("POLL_INTERVAL_SECONDS", raising=False)
    monkeypatch.setenv("KLING_API_KEY", "key-from-env")
    s = load_settings(dotenv_path=env_file)
    assert s.discord_token == "from-file"
    assert s.kling_api_key == "key-from-env"
    assert s.poll_interval_seconds == 7.0


def test_growth_settings_are_parsed() -> None:
    """Shards, PostgreSQL, credits, costs, metrics and the log format of the spec."""
    s = load(
        SHARD_COUNT="3",
        SHARD_IDS="2, 0",
        DATABASE_URL="postgresql://bot:pw@db:5432/bot",
        DAILY_SERVER_CREDITS="12.5",
        TASK_COSTS="pro:3.5",
        METRICS_LISTEN="127.0.0.1:9100",
        LOG_FORMAT="JSON",
    )
    assert (s.shard_count, s.shard_ids) == (3, (0, 2))
    assert s.database_url == "postgresql://bot:pw@db:5432/bot" and "pw" not in repr(s)
    assert s.daily_server_credits == 12.5 and s.task_costs == (("std", 1.0), ("pro", 3.5))
    assert s.metrics_listen == ("127.0.0.1", 9100) and s.log_format == "json"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SHARD_IDS": "1"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"TASK_COSTS": "ultra:1"}, "TASK_COSTS"),
        ({"TASK_COSTS": "std:-1"}, "TASK_COSTS"),
        ({"DAILY_SERVER_CREDITS": "lots"}, "DAILY_SERVER_CREDITS"),
        ({"DATABASE_URL": "mysql://u:hunter2@h/db"}, "DATABASE_URL"),
        ({"METRICS_LISTEN": "9100"}, "METRICS_LISTEN"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_bad_growth_settings_name_the_setting(env: dict[str, str], name: str) -> None:
    """One line naming the setting; a database password is never echoed."""
    with pytest.raises(SettingsError) as caught:
        load(**env)
    assert caught.value.name == name and "hunter2" not in str(caught.value)

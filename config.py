"""Settings: every setting of product-spec.md, parsed and validated once at start-up.

`load_settings()` reads a `.env` file from the working directory (python-dotenv; real environment
variables win) and returns a frozen `Settings`, or raises `SettingsError` naming the one setting
that is missing or malformed. Secret values are never echoed in an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import load_dotenv

SIMULATOR = "simulator"
API_STYLES = ("unified", "kling")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMATS = ("text", "json")
MODES = ("std", "pro")
SECRETS = frozenset({"DISCORD_TOKEN", "KLING_API_KEY", "DATABASE_URL"})
DEFAULT_TASK_COSTS: tuple[tuple[str, float], ...] = (("std", 1.0), ("pro", 2.0))
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")

T = TypeVar("T")


class SettingsError(Exception):
    """One setting is missing or malformed; `str()` is the one line to print."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: str = field(repr=False)
    kling_api_key: str = field(repr=False)
    kling_api_base: str = "https://cubicspaces.cloud"
    kling_api_style: str = "unified"
    kling_models: tuple[str, ...] = ("kling-v3",)
    database_path: Path = Path("data/bot.sqlite3")
    poll_interval_seconds: float = 10.0
    task_timeout_minutes: float = 30.0
    max_active_tasks_per_user: int = 2
    daily_tasks_per_user: int = 20
    allowed_channel_ids: frozenset[int] = frozenset()
    allowed_role_ids: frozenset[int] = frozenset()
    discord_guild_ids: tuple[int, ...] = ()
    callback_public_url: str | None = None
    callback_listen: tuple[str, int] | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    database_url: str | None = field(default=None, repr=False)
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    daily_server_credits: float = 0.0
    task_costs: tuple[tuple[str, float], ...] = DEFAULT_TASK_COSTS
    metrics_listen: tuple[str, int] | None = None

    @property
    def use_simulator(self) -> bool:
        return self.kling_api_base == SIMULATOR

    @property
    def default_model(self) -> str:
        return self.kling_models[0]

    @property
    def task_timeout_seconds(self) -> float:
        return self.task_timeout_minutes * 60


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Build Settings from `environ` (default: os.environ after loading `.env`)."""
    if environ is None:
        if dotenv_path is not None and Path(dotenv_path).is_file():
            load_dotenv(dotenv_path, override=False)
        environ = os.environ
    return _parse(_Reader(environ))


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def raw(self, name: str) -> str:
        return self._env.get(name, "").strip()

    def get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        text = self.raw(name)
        if not text:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            shown = "" if name in SECRETS else f" (got {text[:60]!r})"
            raise SettingsError(name, f"{exc}{shown}") from None

    def required_secret(self, name: str, what: str) -> str:
        text = self.raw(name)
        if not text:
            raise SettingsError(name, f"missing: set it to your {what} in .env or the environment")
        if any(c.isspace() for c in text) or not text.isprintable():
            raise SettingsError(name, "malformed: it must be one word with no spaces")
        return text


def _parse(env: _Reader) -> Settings:
    listen = env.get("CALLBACK_LISTEN", None, _host_port)
    public = env.get("CALLBACK_PUBLIC_URL", None, _http_url)
    if (listen is None) != (public is None):
        missing = "CALLBACK_LISTEN" if listen is None else "CALLBACK_PUBLIC_URL"
        raise SettingsError(
            missing, "set CALLBACK_PUBLIC_URL and CALLBACK_LISTEN together, or neither"
        )
    shard_count = env.get("SHARD_COUNT", None, _shard_count)
    shard_ids = env.get("SHARD_IDS", None, _id_list)
    if shard_ids is not None:
        if shard_count is None:
            raise SettingsError("SHARD_IDS", "needs SHARD_COUNT (the total number of shards)")
        if any(i >= shard_count for i in shard_ids):
            raise SettingsError(
                "SHARD_IDS", f"shard ids must be between 0 and {shard_count - 1} (SHARD_COUNT - 1)"
            )
    return Settings(
        discord_token=env.required_secret("DISCORD_TOKEN", "Discord bot token"),
        kling_api_key=env.required_secret("KLING_API_KEY", "video gateway API key"),
        kling_api_base=env.get("KLING_API_BASE", "https://cubicspaces.cloud", _api_base),
        kling_api_style=env.get("KLING_API_STYLE", "unified", _choice(API_STYLES, lower=True)),
        kling_models=env.get("KLING_MODELS", ("kling-v3",), _models),
        database_path=env.get("DATABASE_PATH", Path("data/bot.sqlite3"), Path),
        poll_interval_seconds=env.get("POLL_INTERVAL_SECONDS", 10.0, _positive_float),
        task_timeout_minutes=env.get("TASK_TIMEOUT_MINUTES", 30.0, _positive_float),
        max_active_tasks_per_user=env.get("MAX_ACTIVE_TASKS_PER_USER", 2, _count),
        daily_tasks_per_user=env.get("DAILY_TASKS_PER_USER", 20, _count),
        allowed_channel_ids=env.get("ALLOWED_CHANNEL_IDS", frozenset(), _id_set),
        allowed_role_ids=env.get("ALLOWED_ROLE_IDS", frozenset(), _id_set),
        discord_guild_ids=env.get("DISCORD_GUILD_IDS", (), _id_tuple),
        callback_public_url=public,
        callback_listen=listen,
        log_level=env.get("LOG_LEVEL", "INFO", _choice(LOG_LEVELS, lower=False)),
        log_format=env.get("LOG_FORMAT", "text", _choice(LOG_FORMATS, lower=True)),
        database_url=env.get("DATABASE_URL", None, _postgres_url),
        shard_count=shard_count,
        shard_ids=shard_ids,
        daily_server_credits=env.get("DAILY_SERVER_CREDITS", 0.0, _credits),
        task_costs=env.get("TASK_COSTS", DEFAULT_TASK_COSTS, _task_costs),
        metrics_listen=env.get("METRICS_LISTEN", None, _host_port),
    )


# --- parsers: each raises ValueError with the reason, never echoing the value itself ----------


def _choice(options: tuple[str, ...], *, lower: bool) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.lower() if lower else text.upper()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a number greater than 0")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise ValueError("must be a whole number, 0 or more (0 = no limit)")
    return int(text)


def _snowflake(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**64:
        raise ValueError(f"{text[:30]!r} is not a Discord id (a number like 1234567890123456789)")
    return int(text)


def _id_tuple(text: str) -> tuple[int, ...]:
    ids = [_snowflake(part.strip()) for part in text.split(",") if part.strip()]
    return tuple(dict.fromkeys(ids))


def _id_set(text: str) -> frozenset[int]:
    return frozenset(_id_tuple(text))


def _models(text: str) -> tuple[str, ...]:
    models = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not models:
        raise ValueError("must name at least one model, like kling-v3")
    if len(models) > 25:
        raise ValueError("at most 25 models (Discord shows at most 25 choices)")
    for model in models:
        if not _MODEL_NAME.match(model):
            raise ValueError(f"{model[:40]!r} is not a model name")
    return models


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return text.rstrip("/")


def _api_base(text: str) -> str:
    return SIMULATOR if text.lower() == SIMULATOR else _http_url(text)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, like 0.0.0.0:8080")
    return host.strip("[]") or "0.0.0.0", int(port)


def _postgres_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("postgresql", "postgres") or not parts.netloc:
        raise ValueError("must be a postgresql:// URL, like postgresql://bot:secret@db:5432/bot")
    return text


def _shard_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError("must be a whole number, 1 or more")
    return int(text)


def _id_list(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise ValueError("must be comma-separated shard ids, like 0,1")
    return tuple(sorted({int(part) for part in parts}))


def _credits(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number, 0 or more (0 = no limit)") from None
    if not 0 <= value < float("inf"):
        raise ValueError("must be a number, 0 or more (0 = no limit)")
    return value


def _task_costs(text: str) -> tuple[tuple[str, float], ...]:
    costs = dict(DEFAULT_TASK_COSTS)
    for part in (p.strip() for p in text.split(",") if p.strip()):
        mode, sep, value = part.partition(":")
        mode = mode.strip().lower()
        if not sep or mode not in MODES:
            raise ValueError("must be mode:credits pairs, like std:1,pro:2 (modes: std, pro)")
        try:
            costs[mode] = _credits(value.strip())
        except ValueError:
            raise ValueError(f"the cost of {mode} must be a number, 0 or more") from None
    return tuple(costs.items())

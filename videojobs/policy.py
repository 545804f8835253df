"""One policy per server: which rules apply in a guild.

The bot's defaults come from the environment (`BotDefaults`, built once in bot.py); a server's
admins override some of them with `/settings` (stored per guild, with who changed each value and
when). `Policies.for_guild()` merges the two, reading the database every time, so a change made
by any process applies to the next `/video` in every process. Admission, `/status`, `/help`,
option descriptions and error messages all read their numbers from a `Policy`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .credits import cost_of
from .errors import RequestRejected
from .models import ASPECT_RATIOS, DURATIONS, MODES

log = logging.getLogger(__name__)

# the names of the per-server values, as /settings shows them
MODE = "mode"
DURATION = "duration"
ASPECT_RATIO = "aspect_ratio"
MODEL = "model"
ACTIVE_PER_MEMBER = "active_per_member"
DAILY_PER_MEMBER = "daily_per_member"
DAILY_SERVER_CREDITS = "daily_server_credits"
CHANNELS = "channels"
ROLES = "roles"
KEYS = (
    MODE,
    DURATION,
    ASPECT_RATIO,
    MODEL,
    ACTIVE_PER_MEMBER,
    DAILY_PER_MEMBER,
    DAILY_SERVER_CREDITS,
    CHANNELS,
    ROLES,
)
MAX_COUNT = 1000  # a member limit above this is surely a typo
MAX_CREDITS = 1_000_000.0
MAX_LIST = 25  # channels or roles in one allowlist (they are listed in messages)


class Clock(Protocol):
    def now(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SettingRecord:
    """One value a server set: its JSON text, who set it and when."""

    key: str
    value: str
    changed_by: int
    changed_at: float


class GuildSettingsStore(Protocol):
    """Per-server values, kept in the database."""

    async def guild_settings(self, guild_id: int) -> list[SettingRecord]:
        """Every value the server set."""
        ...

    async def change_guild_settings(
        self, guild_id: int, values: Mapping[str, str | None], *, changed_by: int, at: float
    ) -> None:
        """Set (JSON text) or remove (None) several values at once, in one transaction."""
        ...

    async def reset_guild_settings(self, guild_id: int) -> int:
        """Remove every value of the server; returns how many there were."""
        ...


@dataclass(frozen=True, slots=True)
class BotDefaults:
    """The environment's rules: what applies where a server set nothing. bot.py builds it from
    the settings; the defaults here are product-spec.md's, for tests and benchmarks."""

    models: tuple[str, ...] = ("kling-v3",)
    mode: str = "std"
    duration: int = 5
    aspect_ratio: str = "16:9"
    max_active: int = 2
    max_daily: int = 20
    daily_server_credits: float = 0.0
    task_costs: tuple[tuple[str, float], ...] = (("std", 1.0), ("pro", 2.0))
    allowed_channel_ids: frozenset[int] = frozenset()
    allowed_role_ids: frozenset[int] = frozenset()
    task_timeout_minutes: float = 30.0

    @property
    def model(self) -> str:
        return self.models[0]


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules in force in one guild (or in DMs: the bot's defaults)."""

    guild_id: int | None
    models: tuple[str, ...]
    mode: str
    duration: int
    aspect_ratio: str
    model: str
    max_active: int  # 0 = no limit
    max_daily: int
    daily_server_credits: float
    allowed_channel_ids: frozenset[int]
    allowed_role_ids: frozenset[int]
    task_costs: tuple[tuple[str, float], ...]
    task_timeout_minutes: float
    records: Mapping[str, SettingRecord] = field(default_factory=dict)

    def cost(self, mode: str, duration: int) -> float:
        """Credits a task costs: its duration / 5 x the cost of its mode."""
        return cost_of(self.task_costs, mode, duration)

    @property
    def has_budget(self) -> bool:
        return self.guild_id is not None and self.daily_server_credits > 0

    def record(self, key: str) -> SettingRecord | None:
        """Who set `key` in this server and when; None when it is the bot's default."""
        return self.records.get(key)

    def value(self, key: str) -> Any:
        """The value in force for a /settings key."""
        return {
            MODE: self.mode,
            DURATION: self.duration,
            ASPECT_RATIO: self.aspect_ratio,
            MODEL: self.model,
            ACTIVE_PER_MEMBER: self.max_active,
            DAILY_PER_MEMBER: self.max_daily,
            DAILY_SERVER_CREDITS: self.daily_server_credits,
            CHANNELS: self.allowed_channel_ids,
            ROLES: self.allowed_role_ids,
        }[key]


# --- validation: a value from /settings, or the reason it is refused ----------------------------


def _choice(key: str, allowed: tuple[object, ...]) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value not in allowed:
            raise RequestRejected(
                f"`{key}` must be one of: {', '.join(str(a) for a in allowed)}. Nothing changed."
            )
        return value

    return check


def _count(key: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise RequestRejected(
                f"`{key}` must be a whole number from 0 to {MAX_COUNT} (0 = no limit). "
                "Nothing changed."
            )
        return value

    return check


def _credits(value: object) -> object:
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_CREDITS:
        raise RequestRejected(
            f"`{DAILY_SERVER_CREDITS}` must be a number from 0 to {MAX_CREDITS:,.0f} "
            "(0 = no limit; for example 50 or 12.5). Nothing changed."
        )
    return int(number) if number.is_integer() else number


def _validators(models: tuple[str, ...]) -> dict[str, Callable[[object], object]]:
    return {
        MODE: _choice(MODE, MODES),
        DURATION: _choice(DURATION, DURATIONS),
        ASPECT_RATIO: _choice(ASPECT_RATIO, ASPECT_RATIOS),
        MODEL: _choice(MODEL, models),
        ACTIVE_PER_MEMBER: _count(ACTIVE_PER_MEMBER),
        DAILY_PER_MEMBER: _count(DAILY_PER_MEMBER),
        DAILY_SERVER_CREDITS: _credits,
    }


# --- the book of policies -----------------------------------------------------------------------


class Policies:
    """Answers "which rules apply in this guild", and changes a guild's own values."""

    def __init__(
        self, store: GuildSettingsStore | None, defaults: BotDefaults, clock: Clock
    ) -> None:
        self.store = store
        self.defaults = defaults
        self.clock = clock
        self._validators = _validators(defaults.models)

    async def for_guild(self, guild_id: int | None) -> Policy:
        """The rules in force in `guild_id` right now (read from the database every time)."""
        records = []
        if guild_id is not None and self.store is not None:
            records = await self.store.guild_settings(guild_id)
        return self._merge(guild_id, records)

    async def change(self, guild_id: int, values: Mapping[str, object], *, by: int) -> Policy:
        """Validate every value first (RequestRejected names what is allowed), then store them
        together. Returns the new policy."""
        if not values:
            raise RequestRejected("Give at least one option to change. Nothing changed.")
        encoded = {key: json.dumps(self._validators[key](value)) for key, value in values.items()}
        await self._store().change_guild_settings(
            guild_id, encoded, changed_by=by, at=self.clock.now()
        )
        return await self.for_guild(guild_id)

    async def change_list(
        self, guild_id: int, key: str, action: str, item: int | None, *, by: int
    ) -> Policy:
        """`allow`, `remove` or `clear` one channel or role of a server's allowlist.

        The first change starts from the list in force (the bot's, until the server has its
        own); an empty list means everyone, everywhere."""
        what = {CHANNELS: "channel", ROLES: "role"}[key]
        current = set((await self.for_guild(guild_id)).value(key))
        if action == "clear":
            new: set[int] = set()
        elif action not in ("allow", "remove"):
            raise RequestRejected("`action` must be allow, remove or clear. Nothing changed.")
        elif item is None:
            raise RequestRejected(
                f"`{action}` needs a `{what}`: pick the {what} to {action}. Nothing changed."
            )
        elif action == "allow":
            if item in current:
                raise RequestRejected(f"That {what} is already allowed. Nothing changed.")
            if len(current) >= MAX_LIST:
                raise RequestRejected(
                    f"At most {MAX_LIST} {what}s can be allowed; remove one first. Nothing changed."
                )
            new = current | {item}
        else:
            if item not in current:
                listed = "no list" if not current else "the list"
                raise RequestRejected(
                    f"That {what} is not in {listed}, so there is nothing to remove. "
                    "Nothing changed."
                )
            new = current - {item}
        await self._store().change_guild_settings(
            guild_id, {key: json.dumps(sorted(new))}, changed_by=by, at=self.clock.now()
        )
        return await self.for_guild(guild_id)

    async def reset(self, guild_id: int) -> int:
        """Every value of the server back to the bot's defaults."""
        return await self._store().reset_guild_settings(guild_id)

    def _store(self) -> GuildSettingsStore:
        if self.store is None:
            raise RuntimeError("no guild settings store")
        return self.store

    def _merge(self, guild_id: int | None, records: list[SettingRecord]) -> Policy:
        d = self.defaults
        values: dict[str, Any] = {
            MODE: d.mode,
            DURATION: d.duration,
            ASPECT_RATIO: d.aspect_ratio,
            MODEL: d.model,
            ACTIVE_PER_MEMBER: d.max_active,
            DAILY_PER_MEMBER: d.max_daily,
            DAILY_SERVER_CREDITS: d.daily_server_credits,
            CHANNELS: d.allowed_channel_ids,
            ROLES: d.allowed_role_ids,
        }
        used: dict[str, SettingRecord] = {}
        for record in records:
            parsed = self._parse(record)
            if parsed is not None:
                values[record.key] = parsed
                used[record.key] = record
        return Policy(
            guild_id=guild_id,
            models=d.models,
            mode=values[MODE],
            duration=values[DURATION],
            aspect_ratio=values[ASPECT_RATIO],
            model=values[MODEL],
            max_active=values[ACTIVE_PER_MEMBER],
            max_daily=values[DAILY_PER_MEMBER],
            daily_server_credits=float(values[DAILY_SERVER_CREDITS]),
            allowed_channel_ids=frozenset(values[CHANNELS]),
            allowed_role_ids=frozenset(values[ROLES]),
            task_costs=d.task_costs,
            task_timeout_minutes=d.task_timeout_minutes,
            records=used,
        )

    def _parse(self, record: SettingRecord) -> object | None:
        """A stored value, or None when it no longer applies (say, a model the bot stopped
        offering): then the bot's default is used."""
        try:
            value = json.loads(record.value)
            if record.key in (CHANNELS, ROLES):
                if not isinstance(value, list) or not all(isinstance(i, int) for i in value):
                    raise ValueError(record.key)
                return frozenset(value)
            return self._validators[record.key](value)
        except (ValueError, KeyError, RequestRejected):
            log.warning("ignoring the stored setting %s=%s", record.key, record.value[:60])
            return None

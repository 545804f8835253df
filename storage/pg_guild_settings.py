"""The GuildSettingsStore port in PostgreSQL: one row per value a server set (/settings).

Mixed into PostgresTaskStore, so it shares its pool.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from storage.rows import setting_from_row
from videojobs.policy import SettingRecord

_SELECT = (
    "SELECT key, value, changed_by, changed_at FROM guild_settings WHERE guild_id = $1 ORDER BY key"
)
_UPSERT = (
    "INSERT INTO guild_settings (guild_id, key, value, changed_by, changed_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guild_id, key) DO UPDATE SET "
    "value = excluded.value, changed_by = excluded.changed_by, changed_at = excluded.changed_at"
)
_DELETE_ONE = "DELETE FROM guild_settings WHERE guild_id = $1 AND key = $2"
_DELETE_ALL = "DELETE FROM guild_settings WHERE guild_id = $1"


class GuildSettingsPg:
    """Needs `_pool` from the class it is mixed into."""

    _pool: asyncpg.Pool

    async def guild_settings(self, guild_id: int) -> list[SettingRecord]:
        """Every value the server set, by key."""
        rows = await self._pool.fetch(_SELECT, guild_id)
        return [setting_from_row(row) for row in rows]

    async def change_guild_settings(
        self, guild_id: int, values: Mapping[str, str | None], *, changed_by: int, at: float
    ) -> None:
        """Set (JSON text) or remove (None) several values at once, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            for key, value in values.items():
                if value is None:
                    await conn.execute(_DELETE_ONE, guild_id, key)
                else:
                    await conn.execute(_UPSERT, guild_id, key, value, changed_by, float(at))

    async def reset_guild_settings(self, guild_id: int) -> int:
        """Remove every value of the server; returns how many there were."""
        status = await self._pool.execute(_DELETE_ALL, guild_id)
        return int(status.rsplit(" ", 1)[-1])

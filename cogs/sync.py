"""The slash commands synced with Discord only when they changed, and by one process at a time.

The tree's JSON (with the guilds it goes to) is hashed; the hash of the last successful sync is
kept in the database (`KeyValues`), so a restart with the same commands costs no request. When
several processes start together (shards), a named lock lets one of them sync.
"""

from __future__ import annotations

import hashlib
import json
import logging

import discord
from discord import app_commands

from videojobs.ports import KeyValues, TaskStore

log = logging.getLogger(__name__)

COMMAND_HASH_KEY = "command_tree_hash"
COMMAND_SYNC_LOCK = "command_sync"
COMMAND_SYNC_LOCK_SECONDS = 120.0


async def sync_commands_if_changed(
    tree: app_commands.CommandTree[discord.Client],
    guild_ids: tuple[int, ...],
    store: TaskStore,
    key_values: KeyValues,
) -> None:
    """Sync when the command tree changed since the last successful sync (to `guild_ids`, or
    globally when there are none), unless another process is syncing right now."""
    commands = [command.to_dict(tree) for command in tree.get_commands()]
    digest = hashlib.sha256(
        json.dumps({"guilds": guild_ids, "commands": commands}, sort_keys=True).encode()
    ).hexdigest()
    if not await store.try_lock(COMMAND_SYNC_LOCK, COMMAND_SYNC_LOCK_SECONDS):
        log.info("another bot process is syncing the commands; not syncing here")
        return
    try:
        if await key_values.get(COMMAND_HASH_KEY) == digest:
            log.info("commands unchanged since the last sync; not syncing")
            return
        if await _sync(tree, guild_ids):
            await key_values.set(COMMAND_HASH_KEY, digest)
    finally:
        await store.release_lock(COMMAND_SYNC_LOCK)


async def _sync(tree: app_commands.CommandTree[discord.Client], guild_ids: tuple[int, ...]) -> bool:
    try:
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(guild_id)
                tree.copy_global_to(guild=guild)
                await tree.sync(guild=guild)
            log.info("commands synced to guilds %s", ", ".join(map(str, guild_ids)))
        else:
            await tree.sync()
            log.info("commands synced globally (they may take a while to appear)")
    except discord.HTTPException as exc:
        log.error("command sync failed (%s); will try again at the next start", exc)
        return False
    return True

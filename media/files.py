"""Temporary workspaces that are always removed, and downloads streamed into them."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp

WORKSPACE_PREFIX = "klingbot-media-"
CHUNK = 1 << 16
STALE_AFTER = 3600.0  # far longer than any download or re-encode (they are time-bounded)


class TooLarge(Exception):
    """The download is larger than the caller allows."""


@contextlib.asynccontextmanager
async def workspace() -> AsyncIterator[Path]:
    """A private temporary directory, removed with everything in it when the block ends
    (also on errors and cancellation)."""
    path = Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_workspaces(max_age: float = STALE_AFTER) -> int:
    """Remove workspaces a killed process left behind (blocking: run it in a thread). Returns
    how many. Only ours (by prefix), and only old ones, so another bot process on the machine
    keeps its own."""
    removed = 0
    cutoff = time.time() - max_age
    for path in Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


async def download(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    client_timeout: aiohttp.ClientTimeout,
    on_status: Callable[[str], None] = lambda status: None,
) -> int:
    """Stream `url` into `dest`, a file in a workspace (never the whole body in memory);
    returns its size.

    Raises TooLarge past `max_bytes`, aiohttp.ClientError or TimeoutError when the download
    fails; a partial file is left for the workspace to remove. `on_status` hears the HTTP
    status, or "error" when no answer came."""
    size = 0
    try:
        response = await session.get(url, timeout=client_timeout)
    except (aiohttp.ClientError, TimeoutError):
        on_status("error")
        raise
    on_status(str(response.status))
    async with response:
        response.raise_for_status()
        if response.content_length is not None and response.content_length > max_bytes:
            raise TooLarge(f"{response.content_length} bytes")
        with dest.open("wb") as out:  # small writes to the page cache: no thread needed
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"over {max_bytes} bytes")
                out.write(chunk)
    return size

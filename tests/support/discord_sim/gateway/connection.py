"""One gateway websocket: frames queued and written in order, optionally stream-compressed."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
import zlib
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from ..records import GatewayRecord
from .session import Frame, GatewaySession


class StreamCompressor(Protocol):
    """A streaming compressor: ``zlib.compressobj()`` or zstandard's ``compressobj()``."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int, /) -> bytes: ...


class GatewayConnection:
    """One websocket. Frames are queued and written by one task, so order is kept."""

    def __init__(
        self,
        number: int,
        ws: web.WebSocketResponse,
        compression: str | None,
        record: Callable[[GatewayRecord], None],
    ) -> None:
        self.number = number
        self.ws = ws
        self.compression = compression
        self.session: GatewaySession | None = None
        self.closed = False
        self._record = record
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._compressor: StreamCompressor | None = None
        self._flush_mode = zlib.Z_SYNC_FLUSH
        if compression == "zlib-stream":
            self._compressor = zlib.compressobj()
        elif compression == "zstd-stream":
            # optional and untyped: only a client that asks for zstd needs it (discord.py asks
            # for zlib); ImportError when it is missing closes the connection (Gateway.handle)
            zstandard = importlib.import_module("zstandard")
            self._compressor = zstandard.ZstdCompressor().compressobj()
            self._flush_mode = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        self._writer = asyncio.create_task(self._write_loop(), name=f"sim-gateway-writer-{number}")

    def enqueue(self, frame: Frame) -> None:
        if not self.closed:
            self._queue.put_nowait(frame)

    def encode(self, frame: Frame) -> bytes | str:
        """JSON text, or with a stream compression one compressed chunk flushed to a boundary."""
        text = json.dumps(frame, separators=(",", ":"))
        if self._compressor is None:
            return text
        return self._compressor.compress(text.encode()) + self._compressor.flush(self._flush_mode)

    async def _write_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None or self.ws.closed:
                return
            data = self.encode(frame)
            try:
                if isinstance(data, bytes):
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return
            self._record(
                GatewayRecord(
                    at=time.monotonic(),
                    connection=self.number,
                    session_id=self.session.id if self.session else None,
                    direction="send",
                    op=frame["op"],
                    t=frame["t"],
                    s=frame["s"],
                    d=frame["d"],
                )
            )

    async def flush(self) -> None:
        """Let queued frames go out (used before closing on purpose)."""
        for _ in range(200):
            if self._queue.empty():
                break
            await asyncio.sleep(0.005)

    async def close(self, code: int, message: str = "") -> None:
        if self.closed:
            return
        await self.flush()
        self.closed = True
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())

    async def stop_writer(self) -> None:
        self.closed = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer

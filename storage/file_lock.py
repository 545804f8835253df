"""One bot process per SQLite file: an exclusive lock on a file beside the database.

The lock is `flock` on `<database>.lock`, held for the life of the process (the kernel drops
it when the process ends, however it ends, so a SIGKILL never leaves a stale lock). The file
holds the pid of its holder, for the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DatabaseInUse(RuntimeError):
    """Another process holds the database's lock file."""


class FileLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> FileLock:
        """Take `<database>.lock`, or raise DatabaseInUse naming the process that has it."""
        database.parent.mkdir(parents=True, exist_ok=True)
        path = database.with_name(database.name + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DatabaseInUse(
                f"another bot process (pid {holder}) is already using {database}; run one "
                "process per SQLite file, or set DATABASE_URL to share a PostgreSQL database"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

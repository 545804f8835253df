"""A throw-away PostgreSQL server for the tests: initdb in a temporary folder, started with
pg_ctl on a free port of 127.0.0.1, stopped and deleted at the end.

The server binaries come from the Debian package (`/usr/lib/postgresql/<version>/bin`, which
`.ci/run` installs when missing) or from `PG_BINDIR`. PostgreSQL refuses to run as root, so when
the tests run as root (CI) the server runs as the `postgres` user the package creates.
Authentication is `trust` for the one local user `bot`; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from .support.ports import free_port

USER = "bot"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (the reason is the message)."""


def find_bindir() -> Path:
    """Where initdb and pg_ctl are: PG_BINDIR, the newest Debian package, or the PATH."""
    if configured := os.environ.get("PG_BINDIR"):
        return Path(configured)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb) found: install the Debian package "
        "`postgresql` or set PG_BINDIR"
    )


class PostgresServer:
    """One running server; `create_database()` gives each test a fresh, empty database."""

    def __init__(self, bindir: Path, root: Path, port: int, run_as: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.port = port
        self._run_as = run_as
        self._names = itertools.count(1)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    async def create_database(self) -> str:
        """A new empty database; returns its DSN."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.dsn(name)

    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._run_as, *args], capture_output=True, text=True, check=check, timeout=60
        )

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        self._pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop",
                 check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    """Initialise and start a server, or raise PostgresUnavailable saying why."""
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="klingbot-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no `postgres` user to run the server as"
            ) from None
        os.chown(root, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir, root, 0, run_as)
    initdb = server._pg(
        str(bindir / "initdb"), "-D", str(server.data), "-U", USER, "--auth=trust",
        "-E", "UTF8", "--locale=C", "--no-sync", check=False,
    )  # fmt: skip
    if initdb.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {initdb.stderr.strip()}")
    options = (
        "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        f"-c full_page_writes=off -c max_connections=300 -k {root}"
    )
    for _ in range(5):  # another program may take the free port before the server binds it
        server.port = free_port()
        started = server._pg(
            str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(root / "server.log"),
            "-w", "-t", "30", "-o", f"-p {server.port} {options}", "start", check=False,
        )  # fmt: skip
        if started.returncode == 0:
            return server
    log = server.log()
    shutil.rmtree(root, ignore_errors=True)
    raise PostgresUnavailable(f"pg_ctl could not start the server: {started.stderr}\n{log}")

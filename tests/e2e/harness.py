"""Run the real bot (``python bot.py`` from the repository root) against the Discord simulator.

Nothing in the bot changes for the tests: a ``sitecustomize.py`` in a temporary directory on the
subprocess's ``PYTHONPATH`` repoints discord.py at the simulator before ``bot.py`` runs, when
``DISCORD_SIM_REST`` / ``DISCORD_SIM_GATEWAY`` / ``DISCORD_SIM_CDN`` are set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.discord_sim import DiscordSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]

SITECUSTOMIZE = '''\
"""Written by tests/e2e/harness.py: points discord.py at the Discord simulator.

Only acts when DISCORD_SIM_REST, DISCORD_SIM_GATEWAY or DISCORD_SIM_CDN is set, and only then
imports discord, so any other Python process is untouched.
"""

import os


def _point_discord_at_simulator():
    rest = os.environ.get("DISCORD_SIM_REST")
    gateway = os.environ.get("DISCORD_SIM_GATEWAY")
    cdn = os.environ.get("DISCORD_SIM_CDN")
    if not (rest or gateway or cdn):
        return
    try:
        import yarl
        import discord.asset
        import discord.gateway
        import discord.http
    except ImportError:
        return
    if rest:
        discord.http.Route.BASE = rest
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    if cdn:
        discord.asset.Asset.BASE = cdn


_point_discord_at_simulator()
'''

#: variables kept from the test runner's environment; everything else comes from the caller,
#: so a developer's exported DISCORD_TOKEN or KLING_API_KEY never leaks into a test
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


def write_sitecustomize(directory: Path) -> Path:
    path = Path(directory) / "sitecustomize.py"
    path.write_text(SITECUSTOMIZE)
    return path


@contextlib.contextmanager
def patch_discord(sim: DiscordSimulator) -> Iterator[None]:
    """In-process equivalent of the sitecustomize: point discord.py at ``sim``, then restore."""
    import discord.asset
    import discord.gateway
    import discord.http
    import yarl

    saved = (
        discord.http.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        discord.asset.Asset.BASE,
    )
    discord.http.Route.BASE = sim.rest_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sim.gateway_url)
    discord.asset.Asset.BASE = sim.cdn_base
    try:
        yield
    finally:
        (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            discord.asset.Asset.BASE,
        ) = saved


def default_bot_env(sim: DiscordSimulator, data_dir: Path) -> dict[str, str]:
    """A complete, valid settings environment for the bot against ``sim``."""
    return {
        "DISCORD_TOKEN": sim.token,
        "KLING_API_KEY": "sk-e2e-test-key",
        "KLING_API_BASE": "simulator",
        "DATABASE_PATH": str(Path(data_dir) / "bot.sqlite3"),
        "POLL_INTERVAL_SECONDS": "1",
        "DISCORD_GUILD_IDS": ",".join(str(g) for g in sim.guilds),
        "LOG_LEVEL": "INFO",
    }


class BotProcess:
    """The bot as a server owner runs it: ``python bot.py`` in the repository root.

    ``env`` is the bot's whole configuration (plus PATH/HOME/LANG from the runner); with ``sim``
    the simulator's URLs are added for the sitecustomize. Output (stdout and stderr together)
    is read continuously into ``logs``.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        sim: DiscordSimulator | None = None,
        args: Sequence[str] = ("bot.py",),
        cwd: Path | str = REPO_ROOT,
        python: str = sys.executable,
    ) -> None:
        self.env = dict(env)
        self.sim = sim
        self.args = list(args)
        self.cwd = Path(cwd)
        self.python = python
        self.started_at: float | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._chunks: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._site_dir: tempfile.TemporaryDirectory[str] | None = None
        if sim is not None:
            sim.diagnostics.append(self._diagnostics)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> BotProcess:
        if self._proc is not None:
            raise RuntimeError("this BotProcess was already started; make a new one to restart")
        self._site_dir = tempfile.TemporaryDirectory(prefix="discord-sim-site-")
        write_sitecustomize(Path(self._site_dir.name))
        env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
        env.update(self.env)
        if self.sim is not None:
            env.update(self.sim.env())
        extra = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (self._site_dir.name, extra) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.started_at = time.monotonic()
        self._proc = await asyncio.create_subprocess_exec(
            self.python,
            *self.args,
            cwd=self.cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read_output(), name=f"bot-output-{self._proc.pid}")
        return self

    async def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            chunk = await self._proc.stdout.read(65536)
            if not chunk:
                return
            self._chunks.append(chunk.decode(errors="replace"))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def logs(self) -> str:
        return "".join(self._chunks)

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.logs.splitlines()[-lines:])

    def _diagnostics(self) -> str:
        state = "running" if self.running else f"exited with {self.returncode}"
        return (
            f"----- bot {self.args} (pid {self.pid}, {state}) last output -----\n{self.log_tail()}"
        )

    async def wait_ready(self, sim: DiscordSimulator | None = None, timeout: float = 30.0) -> None:
        """Until the bot has a gateway session (READY and GUILD_CREATE sent after this process
        started) and its commands are synced (to ``DISCORD_GUILD_IDS`` if set, else globally);
        fails fast if the process exits."""
        sim = sim or self.sim
        if sim is None:
            raise ValueError("wait_ready needs the simulator")
        guild_ids = [
            int(g) for g in self.env.get("DISCORD_GUILD_IDS", "").replace(" ", "").split(",") if g
        ]
        since = self.started_at

        def ready() -> bool:
            if not self.running:
                code = self.returncode
                raise AssertionError(
                    f"the bot exited with {code} before it was ready\n{self._diagnostics()}"
                )
            if sim.ready_session(since=since) is None:
                return False
            if guild_ids:
                return all(sim.synced_commands(g) for g in guild_ids)
            return bool(sim.synced_commands())

        await sim.wait_for(ready, timeout, message="the bot to connect and sync its commands")

    async def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Until ``text`` is in the bot's output; fails at once if the bot exited without it."""

        def printed() -> bool:
            if text in self.logs:
                return True
            if not self.running and self._reader is not None and self._reader.done():
                raise AssertionError(
                    f"the bot exited without printing {text!r}\n{self._diagnostics()}"
                )
            return False

        await wait_until(
            printed, timeout, what=f"{text!r} in the bot's output", details=self._diagnostics
        )

    async def wait_exit(self, timeout: float = 10.0) -> int:
        assert self._proc is not None, "not started"
        code = await asyncio.wait_for(self._proc.wait(), timeout)
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._reader, 5)
        return code

    def kill(self) -> None:
        """SIGKILL, like a crash or an OOM kill: no cleanup runs in the bot."""
        if self.running:
            assert self._proc is not None
            self._proc.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit code."""
        assert self._proc is not None, "not started"
        if self.running:
            self._proc.send_signal(signal.SIGTERM)
        try:
            return await self.wait_exit(timeout)
        except TimeoutError:
            self.kill()
            return await self.wait_exit(timeout)

    async def close(self) -> None:
        """Stop if still running and clean up; safe to call more than once."""
        if self._proc is not None and self.running:
            await self.stop(timeout=5.0)
        elif self._proc is not None:
            with contextlib.suppress(Exception):
                await self.wait_exit(5.0)
        if self._site_dir is not None:
            self._site_dir.cleanup()
            self._site_dir = None

    async def __aenter__(self) -> BotProcess:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

"""What can be checked of the shipped artefacts without a Docker engine: the image copies every
file the bot imports, runs as a non-root user, and its health check works; .env.example lists
every setting; the README's test command is the one CI runs."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from config import load_settings

ROOT = Path(__file__).resolve().parents[2]
SPEC_SETTINGS = [
    "DISCORD_TOKEN", "KLING_API_KEY", "KLING_API_BASE", "KLING_API_STYLE", "KLING_MODELS",
    "DATABASE_PATH", "POLL_INTERVAL_SECONDS", "TASK_TIMEOUT_MINUTES",
    "MAX_ACTIVE_TASKS_PER_USER", "DAILY_TASKS_PER_USER", "ALLOWED_CHANNEL_IDS",
    "ALLOWED_ROLE_IDS", "DISCORD_GUILD_IDS", "CALLBACK_PUBLIC_URL", "CALLBACK_LISTEN",
    "LOG_LEVEL",
]  # fmt: skip


def dockerfile() -> list[str]:
    return (ROOT / "Dockerfile").read_text().splitlines()


def first_party_imports(entry: Path) -> set[Path]:
    """Every project file reachable by imports from `entry` (following packages)."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = path.parent
                    for _ in range(node.level - 1):
                        base = base.parent
                    module = ".".join(
                        base.relative_to(ROOT).parts + ((node.module,) if node.module else ())
                    )
                else:
                    module = node.module or ""
                names = [module] + [f"{module}.{a.name}" for a in node.names]
            for name in names:
                candidate = ROOT.joinpath(*name.split("."))
                for found in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                    if found.is_file():
                        todo.append(found)
    return seen


def test_image_copies_every_file_the_bot_needs() -> None:
    """Each project file bot.py and healthcheck.py import, and the simulator's mp4, is copied."""
    copied = []
    for line in dockerfile():
        if line.startswith("COPY ") and "requirements" not in line:
            copied += [src.rstrip("/") for src in line.split()[1:-1]]
    needed = first_party_imports(ROOT / "bot.py") | first_party_imports(ROOT / "healthcheck.py")
    needed |= set((ROOT / "storage" / "migrations").glob("*.sql"))
    needed.add(ROOT / "gateway" / "assets" / "sample.mp4")
    for path in needed:
        rel = path.relative_to(ROOT)
        assert str(rel) in copied or rel.parts[0] in copied, f"{rel} is not copied into the image"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in needed:
        assert path.relative_to(ROOT).parts[0] not in ignored


def test_image_installs_dependencies_first_and_runs_as_a_user() -> None:
    """requirements.txt is installed before the source is copied; a non-root user runs
    `python bot.py` with a meaningful health check."""
    lines = dockerfile()
    install = next(i for i, line in enumerate(lines) if "pip install -r requirements.txt" in line)
    first_source = next(i for i, line in enumerate(lines) if line.startswith("COPY bot.py"))
    assert install < first_source
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("FROM python:3.11-slim") for line in lines)
    assert 'CMD ["python", "bot.py"]' in lines
    assert any("healthcheck.py" in line for line in lines if "HEALTHCHECK" in line or "CMD" in line)
    assert any(line.startswith("VOLUME") and "/app/data" in line for line in lines)


def run_healthcheck(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_PATH": str(data_dir / "bot.sqlite3"),
        "POLL_INTERVAL_SECONDS": "10",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("beat", "healthy", "says"),
    [
        ({"age": 5, "connected": True}, True, "healthy"),
        ({"age": 500, "connected": True}, False, "last pass"),
        ({"age": 5, "connected": False}, False, "not connected"),
        (None, False, "no heartbeat"),
    ],
)
def test_health_check_reads_the_poller_heartbeat(
    tmp_path: Path, beat: dict[str, object] | None, healthy: bool, says: str
) -> None:
    """Exit 0 only with a recent heartbeat from a connected bot; a line says why."""
    if beat is not None:
        payload = {"time": time.time() - float(beat["age"]), "connected": beat["connected"]}  # type: ignore[arg-type]
        (tmp_path / "heartbeat.json").write_text(json.dumps(payload))
    result = run_healthcheck(tmp_path)
    assert (result.returncode == 0) is healthy
    assert says in result.stdout


def test_env_example_lists_every_setting_with_a_comment() -> None:
    """Each setting of the spec is in .env.example, under a comment line."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    for name in SPEC_SETTINGS:
        index = next((i for i, line in enumerate(lines) if line.startswith(f"{name}=")), None)
        assert index is not None, f"{name} missing from .env.example"
        above = lines[index - 1]
        assert above.startswith("#") or above.startswith(("CALLBACK_",)), f"{name} has no comment"


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers every name config.py asks it for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def settings_config_reads() -> set[str]:
    """The names load_settings() reads, found by running it (no list kept by hand)."""
    environ = RecordingEnvironment({"DISCORD_TOKEN": "token", "KLING_API_KEY": "key"})
    load_settings(environ, dotenv_path=None)
    return environ.asked


def test_env_example_lists_every_setting_config_reads() -> None:
    """A setting config.py reads but .env.example does not list fails here."""
    read = settings_config_reads()
    assert set(SPEC_SETTINGS) <= read  # the recording sees every setting
    listed = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert sorted(read - listed) == []


def test_readme_test_command_is_what_ci_runs() -> None:
    """The README's install-and-test command appears, word for word, in .ci/run."""
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    test_command = next(c.strip() for c in commands if "pytest" in c and "pip install" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def compose_service_env(text: str, service: str) -> dict[str, str]:
    """The `environment:` mapping of one service of deploy/compose.yaml (no YAML library: the
    file keeps to `KEY: value` lines)."""
    block = text.split(f"\n  {service}:\n", 1)[1].split("\n\n", 1)[0]
    env = block.split("environment:\n", 1)[1]
    pairs = re.findall(r"^      ([A-Z_]+): \"?([^\"\n]*)\"?$", env, re.M)
    return {key: re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value) for key, value in pairs}


def test_compose_runs_postgres_and_two_shard_processes() -> None:
    """deploy/compose.yaml: PostgreSQL with a volume and a health check, and two processes of
    the bot image that share it, shards 0 and 1 of 2, with health checks; their settings pass
    the bot's own validation."""
    text = (ROOT / "deploy" / "compose.yaml").read_text()

    assert "image: postgres:" in text and "pg_isready" in text
    assert "pgdata:/var/lib/postgresql/data" in text and "\nvolumes:\n  pgdata:" in text
    assert '["CMD", "python", "healthcheck.py"]' in text
    assert "condition: service_healthy" in text
    shards = []
    for service in ("bot-shard-0", "bot-shard-1"):
        env = compose_service_env(text, service)
        settings = load_settings(
            {"DISCORD_TOKEN": "t", "KLING_API_KEY": "k", **env}, dotenv_path=None
        )
        assert settings.database_url is not None
        assert settings.database_url.startswith("postgresql://")
        assert settings.shard_count == 2
        shards.extend(settings.shard_ids or ())
    assert sorted(shards) == [0, 1]

"""Log formats: JSON lines with the task context, and secrets redacted in either format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from observability.logs import configure_logging
from videojobs.identity import process_id
from videojobs.telemetry import about

TOKEN = "MTk4NjIy.token.secret-part"
KEY = "sk-live-abcdef123456"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    saved = logging.getLogger().handlers[:], logging.getLogger().level
    yield stream
    root = logging.getLogger()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def setup(stream: io.StringIO, log_format: str) -> logging.Logger:
    handler = configure_logging("INFO", log_format, [TOKEN, KEY])
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return logging.getLogger("videojobs.test")


def test_json_line_has_the_fields_and_the_task_context(captured: io.StringIO) -> None:
    """Inside `about`, a JSON line names the task and server; outside, it does not."""
    log = setup(captured, "json")
    with about(task_id="ab12cd34" * 4, guild_id=1234567890123456789):
        log.info("task %s submitted", "ab12cd34")
    log.warning("no task here")
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["message"] == "task ab12cd34 submitted"
    assert first["level"] == "INFO"
    assert first["logger"] == "videojobs.test"
    assert first["task_id"] == "ab12cd34" * 4
    assert first["guild_id"] == "1234567890123456789"
    assert first["process_id"] == process_id()
    assert first["time"].endswith("+00:00")
    assert second["level"] == "WARNING"
    assert "task_id" not in second and "guild_id" not in second


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_secrets_never_written(captured: io.StringIO, log_format: str) -> None:
    """The token and key are redacted in the message, its arguments and a traceback."""
    log = setup(captured, log_format)
    log.info("connecting with %s", TOKEN)
    try:
        raise RuntimeError(f"bad header Bearer {KEY}")
    except RuntimeError:
        log.exception("request failed for key %s", KEY)
    output = captured.getvalue()
    assert TOKEN not in output and KEY not in output
    assert output.count("[redacted]") >= 3
    if log_format == "json":
        lines = [json.loads(line) for line in output.splitlines()]
        assert "RuntimeError" in lines[1]["exception"]

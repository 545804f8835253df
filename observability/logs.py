"""Log formats: `text` (one readable line) or `json` (one JSON object a line: time, level,
logger, message, process_id, and task_id and guild_id where they apply). Secrets (the Discord
token, the gateway key) are replaced by `[redacted]` in either, message and traceback alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from videojobs.identity import process_id
from videojobs.telemetry import current_ids

REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


class RedactSecrets(logging.Filter):
    """A last line of defence: no record's message carries the token or the API key."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class TaskContext(logging.Filter):
    """Puts the task and server being worked on (`videojobs.telemetry.about`) on the record,
    unless the call passed them itself (`extra={"task_id": ..., "guild_id": ...}`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task_id, guild_id = current_ids()
        if getattr(record, "task_id", None) is None:
            record.task_id = task_id
        if getattr(record, "guild_id", None) is None:
            record.guild_id = guild_id
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            "process_id": process_id(),
        }
        task_id = getattr(record, "task_id", None)
        guild_id = getattr(record, "guild_id", None)
        if task_id is not None:
            entry["task_id"] = str(task_id)
        if guild_id is not None:
            entry["guild_id"] = str(guild_id)  # a snowflake: beyond JSON's safe integers
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(level: str, log_format: str, secrets: Iterable[str]) -> logging.Handler:
    """Configure the root logger once: one stream handler in the chosen format."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler()
    formatter = JsonFormatter(redact) if log_format == "json" else TextFormatter(redact)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(redact.secrets))
    handler.addFilter(TaskContext())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
    return handler

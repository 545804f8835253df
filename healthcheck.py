"""Exit 0 when the bot is alive: connected to Discord and its poller ran recently.

The poller writes `heartbeat.json` beside the database after every pass; this reads it. Used by
the Dockerfile's HEALTHCHECK, and by owners: `python healthcheck.py`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def check(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[bool, str]:
    database = Path(environ.get("DATABASE_PATH", "").strip() or "data/bot.sqlite3")
    interval = float(environ.get("POLL_INTERVAL_SECONDS", "").strip() or 10)
    max_age = max(60.0, 3 * interval)
    beat_file = database.parent / "heartbeat.json"
    try:
        beat = json.loads(beat_file.read_text())
    except (OSError, ValueError):
        return False, f"unhealthy: no heartbeat at {beat_file} (is the bot running?)"
    age = time.time() - float(beat.get("time", 0))
    if age > max_age:
        return False, f"unhealthy: the poller's last pass was {age:.0f} s ago"
    if not beat.get("connected"):
        return False, "unhealthy: not connected to Discord"
    return True, f"healthy: last pass {age:.0f} s ago, {beat.get('passes', 0)} passes"


if __name__ == "__main__":
    ok, line = check()
    print(line)
    sys.exit(0 if ok else 1)

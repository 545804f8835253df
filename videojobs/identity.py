"""Who this process is: one id per running bot process, shown in its logs and recorded with the
work it holds (leases), so several processes on one database can be told apart."""

from __future__ import annotations

import os
import secrets
import socket

_PROCESS_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def process_id() -> str:
    """This process's id: host, pid and a random suffix (a restarted process gets a new one)."""
    return _PROCESS_ID

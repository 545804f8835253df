"""Ports on 127.0.0.1 for servers a test starts (the bot's metrics, callbacks, PostgreSQL)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now. (Another process may take it
    before the caller binds it; for a server that can bind port 0 itself, let it.)"""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

"""Per-task callback secrets. A task's `callback_url` is CALLBACK_PUBLIC_URL with one more path
segment: an HMAC of the task's id under a key generated once and kept in the database (meta
`callback_key`), so every process makes and checks the same secrets, and a task's secret
exists before the create call that hands its URL over. Only the bot can make one; a callback
that brings it back can be trusted."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit, urlunsplit

from .ports import KeyValues

KEY_META = "callback_key"
SECRET_CHARS = 32  # hex digits: 128 bits


class CallbackSigner:
    """Makes and checks the per-task secrets, and the callback URL that carries one."""

    def __init__(self, base_url: str, key: str) -> None:
        if not key:
            raise ValueError("the callback key must not be empty")
        self._base = urlsplit(base_url)
        self._key = key.encode()

    def secret(self, task_id: str) -> str:
        digest = hmac.new(self._key, f"callback:{task_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:SECRET_CHARS]

    def url_for(self, task_id: str) -> str:
        """The base URL with the task's secret as one more path segment (any query kept)."""
        path = self._base.path.rstrip("/") + "/" + self.secret(task_id)
        return urlunsplit(self._base._replace(path=path))

    def verify(self, task_id: str, secret: str) -> bool:
        """Whether `secret` is `task_id`'s (in constant time)."""
        return hmac.compare_digest(self.secret(task_id).encode(), secret.encode())


async def load_signer(key_values: KeyValues, base_url: str) -> CallbackSigner:
    """The signer with the database's key, made now (by whichever process comes first) if
    there is none yet."""
    key = await key_values.setdefault(KEY_META, secrets.token_hex(32))
    return CallbackSigner(base_url, key)

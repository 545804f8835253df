"""Signed CDN links like Discord's (``?ex=…&is=…&hm=…``, valid about 24 h), and revoked ones."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping


class CdnLinks:
    """Signs links to attachments and checks them when the CDN is asked for a file."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(16)
        self._revoked: set[str] = set()  # signatures of links that ran out early

    def _mac(self, att_id: int, ex: str, is_: str) -> str:
        return hmac.new(self._secret, f"{att_id}:{ex}:{is_}".encode(), hashlib.sha256).hexdigest()

    def sign(self, base: str, att_id: int, *, issued: int | None = None) -> str:
        issued = int(time.time()) if issued is None else issued
        expires = issued + 24 * 3600
        ex, is_ = format(expires, "x"), format(issued, "x")
        return f"{base}?ex={ex}&is={is_}&hm={self._mac(att_id, ex, is_)}&"

    def revoke(self, *urls: str) -> None:
        self._revoked.update(signature(url) for url in urls)

    def fresh(self, url: str, att_id: int) -> str:
        """A newly signed link to the same file, unlike any revoked one."""
        base, issued = url.split("?", 1)[0], int(time.time())
        while True:
            renewed = self.sign(base, att_id, issued=issued)
            if signature(renewed) not in self._revoked:
                return renewed
            issued += 1

    def valid(self, att_id: int, query: Mapping[str, str]) -> bool:
        """Whether ``query`` carries a link signed for this attachment, not revoked or expired."""
        ex, is_, hm = (query.get(k, "") for k in ("ex", "is", "hm"))
        if not hmac.compare_digest(hm, self._mac(att_id, ex, is_)) or hm in self._revoked:
            return False
        try:
            return int(ex, 16) >= time.time()
        except ValueError:
            return False


def signature(url: str) -> str:
    """The `hm` of a signed CDN link."""
    query = url.split("?", 1)[1] if "?" in url else ""
    return next((p[3:] for p in query.split("&") if p.startswith("hm=")), "")

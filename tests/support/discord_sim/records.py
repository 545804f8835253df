"""What the simulator saw: every REST call and every gateway frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FileRecord:
    field: str
    filename: str
    size: int
    content_type: str | None


@dataclass
class CallRecord:
    """One HTTP request to the simulator (REST or CDN) and its answer."""

    at: float  # time.monotonic()
    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    status: int = 0
    json: Any = None  # the JSON body, or payload_json of a multipart body
    files: list[FileRecord] = field(default_factory=list)
    response: Any = None
    error_code: int | None = None
    route: str = ""  # the matched template, e.g. "/channels/{channel_id}/messages"
    auth: str | None = None  # "bot", "interaction" (token in the path) or None
    interaction_id: int | None = None
    rate_limited: bool = False
    duration: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def __repr__(self) -> str:
        extra = f" code={self.error_code}" if self.error_code else ""
        extra += f" files={[f.filename for f in self.files]}" if self.files else ""
        extra += f" interaction={self.interaction_id}" if self.interaction_id else ""
        return f"<Call {self.method} {self.path} -> {self.status}{extra}>"


@dataclass
class GatewayRecord:
    """One gateway frame, ``direction`` "send" (sim -> bot) or "recv" (bot -> sim)."""

    at: float
    connection: int
    session_id: str | None
    direction: str
    op: int
    t: str | None = None
    s: int | None = None
    d: Any = None

    def __repr__(self) -> str:
        name = self.t or f"op{self.op}"
        arrow = "->" if self.direction == "send" else "<-"
        return f"<Gateway {arrow} {name} s={self.s} conn={self.connection}>"

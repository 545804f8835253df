"""How the gateway says no: the relay's two error body shapes (`{"error": {…}}` and
`{"code", "message", "data"}`), Kling's rejections passed through as message text, and the HTML
page of a proxy in front (gateway-notes.md, "Errors: two body shapes")."""

from __future__ import annotations

import functools
import json
import random
from http import HTTPStatus
from typing import Any

from aiohttp import web

from ..errors import UPSTREAM_SATURATED

BUSY_MESSAGE = UPSTREAM_SATURATED + "，请稍后再试"

dumps = functools.partial(json.dumps, ensure_ascii=False)


class Rejection(Exception):
    """A request refused with a ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def request_id() -> str:
    return f"{random.getrandbits(96):024x}"


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_shape(status: int, message: str, *, code: str = "") -> web.Response:
    """The relay's OpenAI-like error body."""
    error = {"message": f"{message} (request id: {request_id()})", "type": "new_api_error"}
    return web.json_response({"error": {**error, "code": code}}, status=status, dumps=dumps)


def code_shape(status: int, code: str, message: str) -> web.Response:
    """The relay's task error body."""
    body = {"code": code, "message": message, "data": None}
    return web.json_response(body, status=status, dumps=dumps)


def task_not_exist() -> web.Response:
    """An unknown task id: the relay has no 404."""
    return code_shape(400, "task_not_exist", "task_not_exist")


def invalid_request(message: str) -> Rejection:
    return Rejection(code_shape(400, "invalid_request", message))


def kling_json(code: int, message: str) -> str:
    """Kling's own error JSON, as text."""
    return dumps({"code": code, "message": message, "request_id": request_id()})


def kling_rejection(code: int, message: str) -> Rejection:
    """Kling refused: the relay passes its raw error JSON through as the message text."""
    return Rejection(code_shape(400, "fail_to_fetch_task", kling_json(code, message)))


def proxy_page(status: int, headers: dict[str, str] | None = None) -> web.Response:
    """The HTML error page a proxy (nginx) in front of the relay answers with."""
    reason = reason_phrase(status)
    page = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)


def busy_429(retry_after: str | None) -> web.Response:
    """The relay's answer when upstream is saturated."""
    response = error_shape(429, BUSY_MESSAGE)
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def json_response(body: Any) -> web.Response:
    """A successful answer, non-ASCII text kept as it is (as the relay does)."""
    return web.json_response(body, dumps=dumps)

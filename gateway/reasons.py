"""What each kind of gateway failure means: the words a Discord member reads, and whether
trying again can help. The relay's snake_case codes and Kling's numeric codes map onto them
(gateway/errors.py reads the codes out of a response)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    """One kind of failure: what a member reads, and whether trying again can help."""

    message: str
    transient: bool


INVALID_KEY = Reason(
    "The video gateway rejected the bot's API key. Ask the server owner to check KLING_API_KEY.",
    transient=False,
)
NO_ACCESS = Reason(
    "The bot's gateway account cannot use this model. "
    "Ask the server owner to check KLING_MODELS and the account's permissions.",
    transient=False,
)
OUT_OF_QUOTA = Reason(
    "The bot's gateway account is out of quota. Ask the server owner to top it up.",
    transient=False,
)
CONTENT_POLICY = Reason(
    "The video service refused this request under its content policy. "
    "Rephrase the prompt or use a different image.",
    transient=False,
)
BAD_PARAMETER = Reason("The video service rejected the request's settings.", transient=False)
BUSY = Reason("The video service is busy right now. Try again in a few minutes.", transient=True)
DOWN = Reason(
    "The video gateway is down or unreachable right now. Try again in a few minutes.",
    transient=True,
)
TIMED_OUT = Reason(
    "The video gateway did not answer in time. Try again in a few minutes.", transient=True
)
UNREADABLE = Reason(
    "The video gateway sent an answer the bot could not read. Try again in a few minutes.",
    transient=True,
)
BAD_ADDRESS = Reason(
    "The video gateway's address is not valid. Ask the server owner to check KLING_API_BASE.",
    transient=False,
)
NOT_FOUND = Reason("The video gateway does not know this task.", transient=False)

# The relay's snake_case codes whose meaning does not depend on the HTTP status.
CODE_REASONS = {
    "insufficient_user_quota": OUT_OF_QUOTA,
    "model_not_found": NO_ACCESS,
    "task_not_exist": NOT_FOUND,
    "invalid_request": BAD_PARAMETER,
    "build_request_failed": BAD_PARAMETER,  # the client sent a field of the wrong JSON type
    "token_concurrency_limit_reached": BUSY,
    "do_request_failed": DOWN,
    "get_task_failed": DOWN,
}


def kling_reason(code: int) -> Reason | None:
    """Kling's numeric error codes, from its API reference."""
    if 1000 <= code <= 1004:  # the relay's own Kling credentials are broken
        return Reason(DOWN.message, transient=False)
    if code in (1100, 1101, 1102):  # account abnormal, in arrears, resource pack used up
        return OUT_OF_QUOTA
    if code in (1103, 1203):  # no access to the resource, model does not exist
        return NO_ACCESS
    if 1200 <= code <= 1202:
        return BAD_PARAMETER
    if code in (1300, 1301):
        return CONTENT_POLICY
    if code in (1302, 1303):  # requests too fast, concurrency over the package's limit
        return BUSY
    if code == 1304:  # IP allow-list of the relay's Kling account
        return Reason(DOWN.message, transient=False)
    if 5000 <= code <= 5999:
        return DOWN
    return None

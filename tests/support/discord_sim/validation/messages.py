"""Discord's checks on a message a bot sends: content, embeds, files, then its components."""

from __future__ import annotations

from urllib.parse import urlparse

from ..errors import CANNOT_SEND_EMPTY_MESSAGE, DiscordAPIError, FieldPath, FormErrors
from ..models import MessageFlag
from ..wire import JsonObject
from .components import validate_components

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL_LIMIT = 6000
FILES_LIMIT = 10

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


def validate_message(
    payload: JsonObject,
    *,
    file_count: int,
    creating: bool,
    prefix: FieldPath = (),
    kept_attachments: int = 0,
) -> None:
    """Raise 50035 (or 50006 for an empty new message) like Discord does."""
    errors = FormErrors(prefix)
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(["content"], "BASE_TYPE_STRING", "Must be a string.")
    elif isinstance(content, str) and len(content) > CONTENT_LIMIT:
        errors.max_length(["content"], CONTENT_LIMIT)

    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_LIMIT:
        errors.max_length(["embeds"], EMBEDS_LIMIT)
    total = 0
    for index, embed in enumerate(embeds):
        total += _validate_embed(embed, ["embeds", index], errors)
    if total > EMBED_TOTAL_LIMIT:
        errors.add(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}",
        )

    flags = payload.get("flags") or 0
    components = payload.get("components") or []
    validate_components(components, errors, v2=bool(flags & MessageFlag.IS_COMPONENTS_V2))
    if flags & MessageFlag.IS_COMPONENTS_V2 and (content or embeds):
        errors.add(
            ["content" if content else "embeds"],
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with IS_COMPONENTS_V2",
        )

    if file_count > FILES_LIMIT:
        errors.max_length(["files"], FILES_LIMIT)
    errors.raise_if_any()

    if creating and not (
        content
        or embeds
        or components
        or file_count
        or kept_attachments
        or payload.get("sticker_ids")
        or payload.get("poll")
    ):
        raise DiscordAPIError(400, CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message")


def _text_len(value: object) -> int:
    return len(value) if isinstance(value, str) else 0


def _check_url(
    value: object, path: list[str | int], errors: FormErrors, *, allow_attachment: bool
) -> None:
    if value is None:
        return
    schemes = ("http", "https", "attachment") if allow_attachment else ("http", "https")
    scheme = urlparse(str(value)).scheme
    if scheme not in schemes:
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f'Scheme "{scheme}" is not supported. Scheme must be one of {schemes}.',
        )


def _validate_embed(embed: JsonObject, path: list[str | int], errors: FormErrors) -> int:
    total = 0
    for key, limit in _EMBED_TEXT_LIMITS.items():
        n = _text_len(embed.get(key))
        total += n
        if n > limit:
            errors.max_length([*path, key], limit)
    _check_url(embed.get("url"), [*path, "url"], errors, allow_attachment=False)
    for key in ("image", "thumbnail"):
        if isinstance(embed.get(key), dict):
            _check_url(embed[key].get("url"), [*path, key, "url"], errors, allow_attachment=True)
    footer = embed.get("footer") or {}
    n = _text_len(footer.get("text"))
    total += n
    if n > 2048:
        errors.max_length([*path, "footer", "text"], 2048)
    author = embed.get("author") or {}
    n = _text_len(author.get("name"))
    total += n
    if n > 256:
        errors.max_length([*path, "author", "name"], 256)
    if author:
        _check_url(author.get("url"), [*path, "author", "url"], errors, allow_attachment=False)
    fields = embed.get("fields") or []
    if len(fields) > 25:
        errors.max_length([*path, "fields"], 25)
    for i, fld in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            value = fld.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                errors.required([*path, "fields", i, key])
            elif _text_len(value) > limit:
                errors.max_length([*path, "fields", i, key], limit)
            total += _text_len(value)
    return total

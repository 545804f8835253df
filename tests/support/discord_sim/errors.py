"""Errors the simulator answers with, shaped like Discord's, and errors about misuse of the sim."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .wire import JsonObject

# Discord JSON error codes the simulator uses.
UNKNOWN_ACCOUNT = 10001
UNKNOWN_APPLICATION = 10002
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_APPLICATION_COMMAND = 10063
CANNOT_EDIT_OTHERS_MESSAGE = 50005
CANNOT_SEND_EMPTY_MESSAGE = 50006
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035
WRONG_CHANNEL_TYPE = 50024
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
REQUEST_ENTITY_TOO_LARGE = 40005
THREAD_ALREADY_CREATED = 160004

FieldPath = Sequence[str | int]


class SimulatorUsageError(Exception):
    """A test asked the simulator for something a real Discord client could not do."""


class DiscordAPIError(Exception):
    """An error answered to the bot over REST: ``{"code", "message"[, "errors"]}``."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: JsonObject | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JsonObject:
        body: JsonObject = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors and turns them into Discord's 50035 ``errors`` tree."""

    def __init__(self, prefix: FieldPath = ()) -> None:
        self.prefix: tuple[str | int, ...] = tuple(prefix)
        self.items: list[tuple[tuple[str | int, ...], str, str]] = []

    def add(self, path: FieldPath, code: str, message: str) -> None:
        self.items.append((self.prefix + tuple(path), code, message))

    def max_length(self, path: FieldPath, limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def required(self, path: FieldPath) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def extend(self, other: Iterable[tuple[tuple[str | int, ...], str, str]]) -> None:
        self.items.extend(other)

    def __bool__(self) -> bool:
        return bool(self.items)

    def tree(self) -> JsonObject:
        root: JsonObject = {}
        for path, code, message in self.items:
            node = root
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return root

    def error(self) -> DiscordAPIError:
        """The 400 50035 answer carrying these field errors."""
        return DiscordAPIError(400, INVALID_FORM_BODY, "Invalid Form Body", self.tree())

    def raise_if_any(self) -> None:
        if self.items:
            raise self.error()


def unknown(code: int) -> DiscordAPIError:
    names = {
        UNKNOWN_CHANNEL: "Unknown Channel",
        UNKNOWN_GUILD: "Unknown Guild",
        UNKNOWN_MEMBER: "Unknown Member",
        UNKNOWN_MESSAGE: "Unknown Message",
        UNKNOWN_USER: "Unknown User",
        UNKNOWN_WEBHOOK: "Unknown Webhook",
        UNKNOWN_INTERACTION: "Unknown interaction",
        UNKNOWN_APPLICATION: "Unknown Application",
        UNKNOWN_APPLICATION_COMMAND: "Unknown application command",
    }
    return DiscordAPIError(404, code, names[code])


def missing_permissions() -> DiscordAPIError:
    return DiscordAPIError(403, MISSING_PERMISSIONS, "Missing Permissions")


def invalid_webhook_token() -> DiscordAPIError:
    return DiscordAPIError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")


def wrong_channel_type() -> DiscordAPIError:
    return DiscordAPIError(400, WRONG_CHANNEL_TYPE, "Cannot execute action on this channel type")

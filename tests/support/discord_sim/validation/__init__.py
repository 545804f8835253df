"""Discord's server-side checks on what a bot sends: messages, components, modals, commands."""

from .commands import validate_commands
from .components import CUSTOM_ID_LIMIT
from .messages import validate_message
from .modals import check_modal_value, validate_modal

__all__ = [
    "CUSTOM_ID_LIMIT",
    "check_modal_value",
    "validate_commands",
    "validate_message",
    "validate_modal",
]

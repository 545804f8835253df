"""The REST API: ``api`` receives, ``context`` declares routes, one module per resource
(users, commands, interactions, webhooks, messages, threads, guilds), ``lookups`` what they share.
"""

from .api import RestApi
from .context import API_PREFIX, Ctx, Reply, Upload, json_response

__all__ = ["API_PREFIX", "Ctx", "Reply", "RestApi", "Upload", "json_response"]

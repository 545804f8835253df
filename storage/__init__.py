"""The only code that knows SQL: the SQLite file, its migrations and the task store."""

from .database import MigrationError, migrate, open_database
from .task_store import SqliteTaskStore

__all__ = ["MigrationError", "SqliteTaskStore", "migrate", "open_database"]

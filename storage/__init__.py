"""The only code that knows SQL: SQLite (one process) and PostgreSQL (any number of processes),
their migrations and the task stores. Both map rows the same way (rows.py)."""

from .database import MigrationError, migrate, open_database
from .file_lock import DatabaseInUse
from .opening import StoreUnavailable, open_store
from .pg_store import PostgresTaskStore
from .task_store import SqliteTaskStore

__all__ = [
    "DatabaseInUse",
    "MigrationError",
    "PostgresTaskStore",
    "SqliteTaskStore",
    "StoreUnavailable",
    "migrate",
    "open_database",
    "open_store",
]

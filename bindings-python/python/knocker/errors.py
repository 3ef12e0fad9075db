"""Exceptions raised by Knocker, and the two signals a handler can raise.

Every error is a :class:`KnockerError` carrying the core's stable ``code``, and also an instance
of the built-in type the prior art raised for that case (``KeyError`` for unknown ids,
``ValueError`` for invalid states and arguments, ``TypeError`` for wrong types), so existing
``except`` clauses keep working.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "KnockerError",
    "NotFoundError",
    "InvalidStateError",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "UnknownProviderError",
    "VerificationNotConfiguredError",
    "SchemaTooNewError",
    "NotKnockerDatabaseError",
    "BusyError",
    "ClosedError",
    "StorageError",
    "LeaseLostError",
    "WalReplacedError",
    "DatabaseMissingError",
    "SQLiteSharingWarning",
    "Retry",
    "Discard",
]


class KnockerError(Exception):
    """Base class of every Knocker error. ``code`` is stable and documented."""

    code: str = "error"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.code


class NotFoundError(KnockerError, KeyError):
    """An event or delivery id that does not exist (also a ``KeyError``)."""

    code = "not_found"


class InvalidStateError(KnockerError, ValueError):
    """An operator action on an event whose status does not allow it (also a ``ValueError``)."""

    code = "invalid_state"


class InvalidArgumentError(KnockerError, ValueError):
    """An argument outside its documented range or shape (also a ``ValueError``)."""

    code = "invalid_argument"


class ArgumentTypeError(KnockerError, TypeError):
    """An argument of the wrong type (also a ``TypeError``)."""

    code = "invalid_type"


class UnknownProviderError(InvalidArgumentError):
    """A provider name that is neither curated nor registered (also a ``ValueError``)."""

    code = "unknown_provider"


class VerificationNotConfiguredError(KnockerError, RuntimeError):
    """The endpoint requires verification but this process has no secrets for it (fail closed)."""

    code = "verification_not_configured"


class SchemaTooNewError(KnockerError, RuntimeError):
    """The file was written by a newer Knocker."""

    code = "schema_too_new"


class NotKnockerDatabaseError(KnockerError, RuntimeError):
    """The file has knocker_* tables that are not Knocker's layout (e.g. the prior art's)."""

    code = "not_knocker_database"


class BusyError(KnockerError, RuntimeError):
    """SQLite stayed locked past ``busy_timeout_ms``."""

    code = "busy"


class ClosedError(KnockerError, RuntimeError):
    """The handle was closed."""

    code = "closed"


class StorageError(KnockerError, RuntimeError):
    """Any other SQLite error."""

    code = "storage"


class LeaseLostError(KnockerError, RuntimeError):
    """A worker's lease was taken over; nothing it did was committed."""

    code = "lease_lost"


class WalReplacedError(StorageError):
    """Another SQLite library in this process deleted the WAL while this call committed: the
    commit may be lost, so answer 5xx and let the sender retry (Knocker reopened its connections)."""

    code = "wal_replaced"


class DatabaseMissingError(KnockerError, FileNotFoundError):
    """The database file does not exist (operator tools never create one)."""

    code = "database_missing"


class SQLiteSharingWarning(RuntimeWarning):
    """This process runs two copies of SQLite; opening the Knocker file with ``sqlite3`` is unsafe."""


class Retry(Exception):
    """Raise from a handler to retry after ``after_s`` seconds instead of the backoff schedule.

    The attempt still counts; when attempts are exhausted the event goes ``dead``.
    """

    def __init__(self, after_s: float = 0.0, reason: Optional[str] = None) -> None:
        if isinstance(after_s, bool) or not isinstance(after_s, (int, float)):
            raise TypeError("after_s must be a number of seconds")
        if after_s < 0:
            raise ValueError("after_s must be >= 0")
        super().__init__(reason or f"retry requested after {after_s}s")
        self.after_s = float(after_s)
        self.reason = reason


class Discard(Exception):
    """Raise from a handler to stop retrying: the event goes ``dead`` now with ``reason``."""

    def __init__(self, reason: Optional[str] = None) -> None:
        super().__init__(reason or "discarded by handler")
        self.reason = reason

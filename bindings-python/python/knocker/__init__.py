"""Knocker: an embeddable inbound-webhook inbox on one SQLite file.

Store first. Ack fast. Process later::

    import knocker

    app = knocker.open("app.db")
    app.add_endpoint(name="acme", path="/hooks/acme", provider="generic-hmac",
                     secrets=["whsec_..."], provider_options={"header": "X-Signature"})

    @app.handle(endpoint="acme", event_type="invoice.paid")
    def on_paid(event, tx):
        tx.execute("UPDATE invoices SET paid = 1 WHERE id = ?", [event.json()["id"]])

    result = app.receive(endpoint="acme", body=raw_body, headers=request_headers)
    # answer result.status_code

All semantics live in the Rust core (``knocker-core``); this package converts types and maps
errors. It is a drop-in for the prior art's ``knockerlite`` API.
"""

from __future__ import annotations

from . import _logging, _native
from ._app import Endpoint, Knocker, open
from ._sqlite import sqlite_sharing
from .errors import (
    ArgumentTypeError,
    BusyError,
    ClosedError,
    Discard,
    InvalidArgumentError,
    InvalidStateError,
    KnockerError,
    LeaseLostError,
    WalReplacedError,
    DatabaseMissingError,
    NotFoundError,
    NotKnockerDatabaseError,
    Retry,
    SchemaTooNewError,
    SQLiteSharingWarning,
    StorageError,
    UnknownProviderError,
    VerificationNotConfiguredError,
)
from .models import (
    Attempt,
    Delivery,
    EndpointMetrics,
    Event,
    Histogram,
    IngestResult,
    Metrics,
    Provider,
    ProviderRequest,
    ProviderResult,
    PruneAudit,
    OperatorAudit,
    PruneDeliveriesResult,
    PruneEventsResult,
    RetentionPolicy,
    Stats,
    WorkerState,
)

__version__: str = _native.__version__
Transaction = _native.Transaction

# Core log events go to logging.getLogger("knocker") (see _logging.py); once per process.
_logging.install()

__all__ = [
    "Attempt",
    "ArgumentTypeError",
    "BusyError",
    "ClosedError",
    "Delivery",
    "Discard",
    "Endpoint",
    "EndpointMetrics",
    "Event",
    "Histogram",
    "IngestResult",
    "InvalidArgumentError",
    "InvalidStateError",
    "Knocker",
    "KnockerError",
    "LeaseLostError",
    "Metrics",
    "WalReplacedError",
    "DatabaseMissingError",
    "NotFoundError",
    "NotKnockerDatabaseError",
    "Provider",
    "ProviderRequest",
    "ProviderResult",
    "PruneAudit",
    "OperatorAudit",
    "PruneDeliveriesResult",
    "PruneEventsResult",
    "RetentionPolicy",
    "Retry",
    "SQLiteSharingWarning",
    "SchemaTooNewError",
    "Stats",
    "StorageError",
    "Transaction",
    "UnknownProviderError",
    "VerificationNotConfiguredError",
    "WorkerState",
    "open",
    "sqlite_sharing",
    "provider_catalogue",
]


def provider_catalogue() -> list:  # type: ignore[type-arg]
    """The curated provider catalogue: name, version, algorithm, options, idempotency key, docs."""
    return list(_native.provider_catalogue())

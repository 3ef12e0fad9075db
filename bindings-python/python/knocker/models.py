"""Typed, frozen models returned by Knocker, and the app-local provider contract.

Field names follow the prior art (``knockerlite``); fields it did not have are listed after
its fields. ``repr()`` of a model never prints bodies, headers or secrets.
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Dict, FrozenSet, Mapping, Optional, Sequence, Tuple

__all__ = [
    "Event",
    "Delivery",
    "Attempt",
    "IngestResult",
    "PruneAudit",
    "PruneEventsResult",
    "PruneDeliveriesResult",
    "WorkerState",
    "Stats",
    "Metrics",
    "EndpointMetrics",
    "Histogram",
    "RetentionPolicy",
    "ProviderRequest",
    "ProviderResult",
    "Provider",
]


def _body_note(body: bytes) -> str:
    return f"<{len(body)} bytes>"


@dataclass(frozen=True, repr=False)
class Event:
    """A deduplicated unit of work (the first valid delivery of one identity). The row is the job.

    ``received_at``/``handled_at`` are Unix seconds; ``run_at`` is when the event next becomes
    claimable (Unix seconds, float). Inside a handler, ``attempt_count`` is the running attempt
    (1-based) and, for a ``replay_delivery`` run, the payload fields come from that delivery.
    """

    id: int
    endpoint: str
    event_type: Optional[str]
    provider_event_id: Optional[str]
    provider_delivery_id: Optional[str]
    dedupe_key: Optional[str]
    status: str
    attempt_count: int
    headers: Dict[str, str]
    query: Dict[str, Any]
    body: bytes
    received_at: int
    handled_at: Optional[int]
    last_error: Optional[str]
    max_attempts: int
    run_at: float
    method: str
    url: Optional[str]
    replay_delivery_id: Optional[int]
    lease_owner: Optional[str]
    #: W3C trace context (``traceparent`` header) of the delivery this run sees, if it had one.
    traceparent: Optional[str] = None

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return (
            f"Event(id={self.id}, endpoint={self.endpoint!r}, event_type={self.event_type!r}, "
            f"status={self.status!r}, attempt_count={self.attempt_count}, body={_body_note(self.body)})"
        )


@dataclass(frozen=True, repr=False)
class Delivery:
    """One HTTP receipt exactly as received (append-only). ``event_id`` is None for an orphan.

    ``signature_valid`` is True, False, or None (not verified); ``error_code`` is the stable
    reason when the receipt was not accepted; ``status_code`` is what it was answered with.
    """

    id: int
    event_id: Optional[int]
    endpoint: str
    event_type: Optional[str]
    provider_event_id: Optional[str]
    provider_delivery_id: Optional[str]
    dedupe_key: Optional[str]
    method: str
    headers: Dict[str, str]
    query: Dict[str, Any]
    body: bytes
    received_at: int
    signature_valid: Optional[bool]
    signature_error: Optional[str]
    url: Optional[str]
    body_size: int
    error_code: Optional[str]
    secret_index: Optional[int]
    status_code: int
    #: W3C trace context (``traceparent`` header) the request arrived with, if valid.
    traceparent: Optional[str] = None

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return _json.loads(self.body)

    def __repr__(self) -> str:
        return (
            f"Delivery(id={self.id}, event_id={self.event_id}, endpoint={self.endpoint!r}, "
            f"event_type={self.event_type!r}, signature_valid={self.signature_valid}, "
            f"status_code={self.status_code}, body={_body_note(self.body)})"
        )


@dataclass(frozen=True)
class Attempt:
    """One processing attempt (a row of ``knocker_attempts``); times in Unix milliseconds."""

    id: int
    event_id: int
    attempt_no: int
    worker_id: Optional[str]
    delivery_id: Optional[int]
    started_at_ms: int
    finished_at_ms: int
    duration_ms: int
    outcome: str
    error: Optional[str]


@dataclass(frozen=True, repr=False)
class IngestResult:
    """What ``receive``/``ingest`` answered. Return ``status_code`` (and ``response_body`` when set).

    ``delivery_id`` is None only for an unknown endpoint (404, nothing stored).
    """

    delivery_id: Optional[int]
    event_id: Optional[int]
    duplicate: bool
    status_code: int
    response_body: Optional[bytes] = None
    response_content_type: Optional[str] = None
    error_code: Optional[str] = None

    def __repr__(self) -> str:
        rb = None if self.response_body is None else _body_note(self.response_body)
        return (
            f"IngestResult(delivery_id={self.delivery_id}, event_id={self.event_id}, "
            f"duplicate={self.duplicate}, status_code={self.status_code}, error_code={self.error_code!r}, "
            f"response_body={rb})"
        )


@dataclass(frozen=True)
class PruneEventsResult:
    """Counts of one ``prune_events`` call (cascaded rows included).

    ``live_jobs_pruned`` is always 0: the event row is the job (kept for the prior art's shape).
    """

    events_pruned: int
    attempts_pruned: int
    deliveries_pruned: int
    live_jobs_pruned: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class PruneDeliveriesResult:
    """Count of one ``prune_orphan_deliveries`` call."""

    deliveries_pruned: int
    dry_run: bool = False


@dataclass(frozen=True)
class PruneAudit:
    """One audit row, written in the same transaction as the prune it records."""

    id: int
    kind: str
    queue_name: str
    executed_at: int
    events_pruned: Optional[int]
    deliveries_pruned: int
    attempts_pruned: Optional[int]
    live_jobs_pruned: Optional[int]
    summary_json: str


@dataclass(frozen=True)
class OperatorAudit:
    """One operator mutation (ignore, replay, requeue, replay_delivery, bulk actions, prunes),
    recorded with its actor in the same transaction."""

    id: int
    action: str
    actor: str
    executed_at: int
    target_kind: str
    affected: int
    ids: Tuple[int, ...]
    filters_json: str


@dataclass(frozen=True)
class WorkerState:
    """A local, non-durable snapshot of one worker loop of this handle."""

    worker_id: str
    running: bool
    current_event_id: Optional[int]
    last_error: Optional[str]
    started_at: int = 0
    processed: int = 0
    failed: int = 0
    last_error_at: Optional[int] = None


@dataclass(frozen=True)
class Stats:
    """Queue health from one read snapshot."""

    by_status: Dict[str, int]
    by_endpoint: Dict[str, Dict[str, int]]
    claimable: int
    oldest_claimable_age_s: Optional[int]
    dead: int
    processing: int
    orphan_deliveries: int


@dataclass(frozen=True)
class Histogram:
    """A fixed-bucket histogram: cumulative ``(upper bound in seconds, count)`` pairs (the +Inf
    bucket is ``count``), the number of observations and their sum in seconds."""

    buckets: Tuple[Tuple[float, int], ...]
    count: int
    sum_s: float


@dataclass(frozen=True)
class EndpointMetrics:
    """Process-local counters of one endpoint since this handle was opened.

    ``receipts`` by outcome (``created``, ``duplicate``, ``invalid``, ``too_large``, ``disabled``,
    ``handshake``); ``invalid_by_error_code`` (``signature_mismatch``, ...); ``handler_attempts``
    by outcome (``handled``, ``failed``, ``dead``, ``skipped``).
    """

    receipts: Dict[str, int]
    invalid_by_error_code: Dict[str, int]
    handler_attempts: Dict[str, int]
    dead_letters: int
    retries: int


@dataclass(frozen=True)
class Metrics:
    """``Knocker.metrics()``: counters and histograms of this handle (process-local) and the
    file's gauges (``stats``). ``prometheus_text()`` renders the same data."""

    endpoints: Dict[str, EndpointMetrics]
    unknown_endpoint_receipts: int
    receive_errors: int
    receive_duration: Histogram
    handler_duration: Histogram
    enqueue_to_handled: Histogram
    stats: Stats


@dataclass(frozen=True)
class RetentionPolicy:
    """What ``run_retention`` prunes every ``interval_s`` seconds.

    At least one of ``event_older_than_s`` / ``orphan_deliveries_older_than_s`` must be set.
    """

    interval_s: float
    event_statuses: Tuple[str, ...] = ("handled", "ignored")
    event_older_than_s: Optional[int] = None
    event_limit: int = 100
    orphan_deliveries_older_than_s: Optional[int] = None
    orphan_deliveries_limit: int = 100


class ProviderRequest:
    """The request an app-local provider (or a key function) sees.

    ``headers`` and ``query`` are read-only mappings (first value of a repeated name);
    ``header_pairs``/``query_pairs`` keep every pair in order. ``header()`` is case-insensitive.
    """

    __slots__ = ("method", "url", "header_pairs", "query_pairs", "body", "_headers", "_query", "_json", "_lower")

    def __init__(
        self,
        method: str,
        url: Optional[str],
        headers: Sequence[Tuple[str, str]],
        query: Sequence[Tuple[str, str]],
        body: bytes,
    ) -> None:
        self.method = method
        self.url = url
        self.header_pairs: Tuple[Tuple[str, str], ...] = tuple((str(k), str(v)) for k, v in headers)
        self.query_pairs: Tuple[Tuple[str, str], ...] = tuple((str(k), str(v)) for k, v in query)
        self.body = bytes(body)
        h: Dict[str, str] = {}
        for k, v in self.header_pairs:
            h.setdefault(k, v)
        q: Dict[str, str] = {}
        for k, v in self.query_pairs:
            q.setdefault(k, v)
        self._headers = MappingProxyType(h)
        self._query = MappingProxyType(q)
        self._lower = {k.lower(): v for k, v in reversed(self.header_pairs)}
        self._json: Any = _UNPARSED

    @property
    def headers(self) -> Mapping[str, str]:
        """Headers as a read-only mapping (exact-case keys)."""
        return self._headers

    @property
    def query(self) -> Mapping[str, str]:
        """Query parameters as a read-only mapping."""
        return self._query

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A header value, looked up case-insensitively."""
        return self._lower.get(name.lower(), default)

    def json(self) -> Any:
        """The body parsed as JSON (cached); ``ValueError`` when it is not JSON."""
        if self._json is _UNPARSED:
            self._json = _json.loads(self.body)
        return self._json

    def __repr__(self) -> str:
        return f"ProviderRequest(method={self.method!r}, url={self.url!r}, body={_body_note(self.body)})"


_UNPARSED = object()


@dataclass(frozen=True)
class ProviderResult:
    """What ``Provider.verify`` returns. Use :meth:`accept` / :meth:`reject`.

    ``idempotency_key`` (the id that stays the same across the sender's retries) is the default
    dedupe key; ``error_code`` is a stable reason for a rejection (default ``signature_mismatch``).
    """

    valid: bool
    signature_error: Optional[str] = None
    provider_delivery_id: Optional[str] = None
    provider_event_id: Optional[str] = None
    event_type: Optional[str] = None
    idempotency_key: Optional[str] = None
    error_code: Optional[str] = None

    @classmethod
    def accept(cls, **meta: Any) -> "ProviderResult":
        """A valid result with optional metadata (provider_event_id, event_type, ...)."""
        return cls(True, None, **meta)

    @classmethod
    def reject(cls, error: str, **meta: Any) -> "ProviderResult":
        """An invalid result; ``error`` must be a non-empty reason."""
        if not isinstance(error, str) or not error:
            raise ValueError("reject() needs a non-empty error string")
        return cls(False, error, **meta)


class Provider:
    """Base class of app-local providers, passed as ``add_endpoint(provider=MyProvider())``.

    Set ``name`` (lower-case, not a curated name), ``version`` (SemVer) and ``option_keys``;
    implement :meth:`verify`. Extract metadata before checking the signature so orphan rows stay
    useful. An exception in ``verify`` becomes an invalid delivery ("provider error: ..."),
    never a crash.
    """

    name: str = ""
    version: str = ""
    option_keys: FrozenSet[str] = frozenset()
    requires_secrets: bool = True

    def verify(self, request: ProviderRequest, *, secrets: Tuple[bytes, ...], options: Dict[str, Any]) -> ProviderResult:
        """Verifies one request; returns ``ProviderResult.accept(...)`` or ``.reject(...)``."""
        raise NotImplementedError

    def validate_options(self, options: Dict[str, Any]) -> None:
        """Validates ``provider_options`` at ``add_endpoint``; raise ``ValueError`` to refuse them."""
        unknown = sorted(set(options) - set(self.option_keys))
        if unknown:
            raise ValueError(f"unknown option(s) for provider {self.name}: {', '.join(unknown)}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider {self.name!r} {self.version}>"



"""The ``Knocker`` handle: the prior art's Python surface over knocker-core."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import secrets as _secrets
import threading
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from . import _native
from ._sqlite import sqlite_sharing
from .errors import ArgumentTypeError, InvalidArgumentError, SQLiteSharingWarning
from .models import (
    Attempt,
    Delivery,
    EndpointMetrics,
    Event,
    Histogram,
    IngestResult,
    Metrics,
    OperatorAudit,
    Provider,
    ProviderRequest,
    PruneAudit,
    PruneDeliveriesResult,
    PruneEventsResult,
    RetentionPolicy,
    Stats,
    WorkerState,
)

__all__ = ["Knocker", "Endpoint", "open", "Handler", "Headers"]

QUEUE_NAME_DEFAULT = "knocker.events"
STATUSES = ("received", "processing", "handled", "failed", "dead", "ignored")

Headers = Union[Mapping[str, Any], Sequence[Tuple[str, str]], None]
Handler = Callable[[Event, Any], None]
F = TypeVar("F", bound=Callable[..., Any])
KeyFunc = Callable[[ProviderRequest], Optional[str]]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
_LEGACY_HMAC_KINDS = ("hmac-sha256", "generic-hmac-sha256", "hmac")
_sharing_warned = False


def _int_arg(name: str, value: Any, message: Optional[str] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(message or f"{name} must be an integer")
    return value


def _opt_int(name: str, value: Any, message: Optional[str] = None) -> Optional[int]:
    return None if value is None else _int_arg(name, value, message)


def _opt_bool(name: str, value: Any) -> Optional[bool]:
    if value is not None and not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be a bool")
    return value


def _opt_str(name: str, value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a str or None")
    return value


def _body(body: Any) -> bytes:
    if not isinstance(body, bytes):
        raise ArgumentTypeError(f"body must be bytes, got {type(body).__name__}")
    return body


def _coerce_secrets(value: Any) -> List[bytes]:
    if isinstance(value, (str, bytes)):
        items: Sequence[Any] = [value]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ArgumentTypeError("secrets must be a str, bytes, or a list/tuple of them")
    out: List[bytes] = []
    for s in items:
        if isinstance(s, str):
            b = s.encode("utf-8")
        elif isinstance(s, bytes):
            b = s
        else:
            raise ArgumentTypeError("each secret must be a str or bytes")
        if not b:
            raise InvalidArgumentError("secrets must not be empty strings")
        out.append(b)
    if not out:
        raise InvalidArgumentError("secrets must not be empty")
    return out


def _event(t: Tuple[Any, ...]) -> Event:
    return Event(*t)


def _delivery(t: Tuple[Any, ...]) -> Delivery:
    return Delivery(*t)


def _ingest(t: Tuple[Any, ...]) -> IngestResult:
    return IngestResult(*t)


def _check_handler(handler: Any) -> None:
    if not callable(handler):
        raise ArgumentTypeError("handler must be callable: handler(event, tx)")
    if inspect.iscoroutinefunction(handler):
        raise ArgumentTypeError(
            "handlers must be synchronous functions handler(event, tx): they run inside the event's "
            "SQLite transaction on a worker thread; move slow async work to a follow-up job"
        )


def _in_thread(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
    """Runs ``fn`` on a dedicated daemon thread and resolves a future on ``loop``."""
    fut: "asyncio.Future[Any]" = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            ok, value = False, exc
        else:
            ok, value = True, result
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:
            pass  # the loop is closed; nobody awaits this any more

    threading.Thread(target=run, name="knocker-loop", daemon=True).start()
    return fut


async def _stop_when_set(stop_event: Any, stop: Any) -> None:
    await stop_event.wait()
    stop.set()


async def _call_on_error(on_error: Optional[Callable[[BaseException], Any]], exc: BaseException) -> None:
    if on_error is None:
        return
    r = on_error(exc)
    if inspect.isawaitable(r):
        await r


class Endpoint:
    """A helper bound to one endpoint name, returned by :meth:`Knocker.endpoint`."""

    def __init__(self, app: "Knocker", name: str) -> None:
        self._app = app
        self.name = name

    def add_handler(self, handler: Handler, *, event_type: Optional[str] = None) -> None:
        """Registers ``handler(event, tx)`` for this endpoint (and event type, if given)."""
        self._app.add_handler(endpoint=self.name, handler=handler, event_type=event_type)

    def handle(self, event_type: Optional[str] = None) -> Callable[[F], F]:
        """Decorator form of :meth:`add_handler`."""
        return self._app.handle(endpoint=self.name, event_type=event_type)

    def receive(self, *, body: bytes, **kwargs: Any) -> IngestResult:
        """``Knocker.receive`` with ``endpoint`` set to this endpoint."""
        return self._app.receive(endpoint=self.name, body=body, **kwargs)

    def ingest(self, *, body: bytes, **kwargs: Any) -> IngestResult:
        """``Knocker.ingest`` with ``endpoint`` set to this endpoint."""
        return self._app.ingest(endpoint=self.name, body=body, **kwargs)

    def __repr__(self) -> str:
        return f"<knocker.Endpoint {self.name!r}>"


class Knocker:
    """A Knocker handle on one SQLite file. Open one per process and share it between threads.

    Options (all optional; defaults are core's documented constants): ``visibility_timeout_s``,
    ``max_attempts``, ``backoff_base_s``, ``backoff_max_s``, ``claim_batch``, ``busy_timeout_ms``,
    ``synchronous`` ("normal" or "full"), ``max_readers``, ``max_body_bytes``, ``idle_poll_ms``.
    ``queue_name`` is accepted for compatibility with the prior art and only labels audits.
    """

    def __init__(
        self,
        db_path: Union[str, "os.PathLike[str]"],
        *,
        queue_name: str = QUEUE_NAME_DEFAULT,
        visibility_timeout_s: Optional[float] = None,
        max_attempts: Optional[int] = None,
        max_readers: Optional[int] = None,
        busy_timeout_ms: Optional[int] = None,
        synchronous: Optional[str] = None,
        backoff_base_s: Optional[float] = None,
        backoff_max_s: Optional[float] = None,
        claim_batch: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        idle_poll_ms: Optional[int] = None,
        clock: Optional[Callable[[], float]] = None,
        handler_batch: Optional[int] = None,
        handler_batch_max_ms: Optional[int] = None,
        actor: Optional[str] = None,
    ) -> None:
        self.db_path = os.fspath(db_path)
        if not isinstance(queue_name, str) or not queue_name:
            raise InvalidArgumentError("queue_name must be a non-empty str")
        self._queue_name = queue_name
        self._native = _native.Knocker(
            self.db_path,
            busy_timeout_ms=busy_timeout_ms,
            synchronous=synchronous,
            visibility_timeout_s=visibility_timeout_s,
            max_attempts=max_attempts,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            claim_batch=claim_batch,
            max_readers=max_readers,
            max_body_bytes=max_body_bytes,
            idle_poll_ms=idle_poll_ms,
            clock=clock,
            handler_batch=handler_batch,
            handler_batch_max_ms=handler_batch_max_ms,
            actor=actor,
        )
        self.max_attempts: int = self._native.options()["max_attempts"]
        _warn_if_sqlite_not_shared()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def queue_name(self) -> str:
        """The queue label (compatibility with the prior art; Knocker has one queue per file)."""
        return self._queue_name

    @property
    def options(self) -> Dict[str, Any]:
        """The effective options of this handle."""
        return dict(self._native.options())

    def close(self) -> None:
        """Closes every connection and drops handler references. Running workers stop."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return bool(self._native.is_closed())

    def __enter__(self) -> "Knocker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<knocker.Knocker {self.db_path!r} ({state})>"

    # -- providers and endpoints -------------------------------------------------------------

    def provider_versions(self) -> Dict[str, str]:
        """``{name: version}`` of the curated providers."""
        return dict(self._native.provider_versions())

    def add_endpoint(
        self,
        *,
        name: str,
        path: str,
        provider: Union[str, Provider, None] = None,
        enabled: bool = True,
        verification: Any = UNSET,
        delivery_key: Any = UNSET,
        event_key: Any = UNSET,
        secrets: Any = UNSET,
        provider_options: Any = UNSET,
        max_body_bytes: Optional[int] = None,
        max_attempts: Optional[int] = None,
        backoff_base_s: Optional[float] = None,
        backoff_max_s: Optional[float] = None,
        verification_required: Optional[bool] = None,
        body_hash_dedupe: bool = False,
        dedupe_key: Any = UNSET,
        event_type_key: Any = UNSET,
    ) -> None:
        """Adds or updates an endpoint (persisted: name, path, provider, enabled, policy; kept in
        this process only: secrets, options and key functions).

        ``provider`` is a curated name (see :meth:`provider_versions`), a :class:`Provider`
        instance, or None. ``verification={"kind": "hmac-sha256", "header": ..., "prefix": ...,
        "secrets": [...]}`` is the prior art's form of ``provider="generic-hmac"``.
        Re-adding a provider endpoint without ``secrets`` keeps the secrets this handle has.
        """
        if not isinstance(name, str) or not isinstance(path, str):
            raise ArgumentTypeError("name and path must be str")
        if not isinstance(enabled, bool):
            raise ArgumentTypeError("enabled must be a bool")
        if verification is not UNSET and secrets is not UNSET:
            raise InvalidArgumentError("pass secrets inside verification= or use provider= with secrets=, not both")
        if verification is not UNSET and provider_options is not UNSET:
            raise InvalidArgumentError("provider_options cannot be combined with verification=; use provider=")
        provider_name: Optional[str] = None
        options: Optional[Dict[str, Any]] = None
        secret_list: Optional[List[bytes]] = None
        if isinstance(provider, str):
            provider_name = provider.lower()
        elif isinstance(provider, Provider):
            self._register_provider(provider)
            provider_name = provider.name
        elif provider is not None:
            raise ArgumentTypeError("provider must be a provider name (str), a knocker.Provider instance, or None")
        if verification is not UNSET and verification is not None:
            if provider is not None:
                raise InvalidArgumentError("pass either provider= or verification=, not both")
            provider_name, options, secret_list = _legacy_verification(verification)
        if secrets is not UNSET and secrets is not None:
            secret_list = _coerce_secrets(secrets)
        if provider_options is not UNSET and provider_options is not None:
            if not isinstance(provider_options, Mapping):
                raise ArgumentTypeError("provider_options must be a dict")
            options = dict(provider_options)
        for label, fn in (("delivery_key", delivery_key), ("event_key", event_key), ("dedupe_key", dedupe_key), ("event_type_key", event_type_key)):
            if fn is not UNSET and fn is not None and not callable(fn):
                raise ArgumentTypeError(f"{label} must be callable (request) -> str | None, or None")
        self._native.add_endpoint(
            name,
            path,
            provider=provider_name,
            secrets=secret_list,
            provider_options_json=None if options is None else json.dumps(options),
            enabled=enabled,
            verification_required=_opt_bool("verification_required", verification_required),
            max_body_bytes=_opt_int("max_body_bytes", max_body_bytes),
            max_attempts=_opt_int("max_attempts", max_attempts),
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            body_hash_dedupe=bool(body_hash_dedupe),
            event_key=None if event_key is UNSET else event_key,
            delivery_key=None if delivery_key is UNSET else delivery_key,
            dedupe_key=None if dedupe_key is UNSET else dedupe_key,
            event_type_key=None if event_type_key is UNSET else event_type_key,
        )

    def endpoint(self, name: str, *, path: str, **kwargs: Any) -> Endpoint:
        """Adds the endpoint (same keywords as :meth:`add_endpoint`) and returns a helper bound to it."""
        self.add_endpoint(name=name, path=path, **kwargs)
        return Endpoint(self, name)

    def _register_provider(self, provider: Provider) -> None:
        name = getattr(provider, "name", None)
        if not isinstance(name, str) or not name or name != name.lower():
            raise InvalidArgumentError("Provider.name must be a non-empty lower-case str")
        if not isinstance(getattr(provider, "option_keys", frozenset()), (frozenset, set)):
            raise ArgumentTypeError("Provider.option_keys must be a frozenset")
        self._native.register_provider(provider)

    # -- handlers ----------------------------------------------------------------------------

    def add_handler(self, *, endpoint: str, handler: Handler, event_type: Optional[str] = None) -> None:
        """Registers ``handler(event, tx)`` for an endpoint and event type (None: every type
        without a more specific handler). The last registration for a key wins."""
        _check_handler(handler)
        if not isinstance(endpoint, str):
            raise ArgumentTypeError("endpoint must be a str")
        self._native.handle(endpoint, _opt_str("event_type", event_type), handler)

    def handle(self, *, endpoint: str, event_type: Optional[str] = None) -> Callable[[F], F]:
        """Decorator: ``@app.handle(endpoint="stripe", event_type="invoice.paid")``."""

        def deco(fn: F) -> F:
            self.add_handler(endpoint=endpoint, handler=fn, event_type=event_type)
            return fn

        return deco

    # -- ingress -----------------------------------------------------------------------------

    def receive(
        self,
        *,
        endpoint: str,
        body: bytes,
        headers: Headers = None,
        query: Headers = None,
        method: str = "POST",
        url: Optional[str] = None,
        event_type: Optional[str] = None,
        provider_event_id: Optional[str] = None,
        provider_delivery_id: Optional[str] = None,
        dedupe_key: Optional[str] = None,
    ) -> IngestResult:
        """Verifies a webhook with the endpoint's provider and stores it; answer ``status_code``.

        204 stored (new or duplicate), 401 invalid signature (orphan delivery), 413 too large,
        404 unknown or disabled endpoint. Committed before it returns.
        """
        return IngestResult(
            *self._native.receive(
                endpoint,
                _body(body),
                headers,
                query,
                method,
                url,
                event_type,
                provider_event_id,
                provider_delivery_id,
                dedupe_key,
            )
        )

    def ingest(
        self,
        *,
        endpoint: str,
        body: bytes,
        headers: Headers = None,
        query: Headers = None,
        method: str = "POST",
        url: Optional[str] = None,
        event_type: Optional[str] = None,
        provider_event_id: Optional[str] = None,
        provider_delivery_id: Optional[str] = None,
        dedupe_key: Optional[str] = None,
        signature_valid: Optional[bool] = True,
        signature_error: Optional[str] = None,
    ) -> IngestResult:
        """Stores a receipt whose verification the caller already did (trusted ingress).

        ``signature_valid`` True, False (stored as an orphan with ``signature_error``) or None
        (not verified; accepted and stored as NULL).
        """
        return IngestResult(
            *self._native.ingest(
                endpoint,
                _body(body),
                headers,
                query,
                method,
                url,
                event_type,
                provider_event_id,
                provider_delivery_id,
                dedupe_key,
                _opt_bool("signature_valid", signature_valid),
                signature_error,
            )
        )

    # -- reads -------------------------------------------------------------------------------

    def get_event(self, event_id: int) -> Event:
        """One event; ``KeyError`` (NotFoundError) for an unknown id."""
        return Event(*self._native.get_event(_int_arg("event_id", event_id)))

    def list_events(
        self,
        *,
        status: Optional[str] = None,
        endpoint: Optional[str] = None,
        event_type: Optional[str] = None,
        since: Optional[int] = None,
        limit: int = 100,
        until: Optional[int] = None,
        before_id: Optional[int] = None,
    ) -> List[Event]:
        """Events newest-first (``received_at DESC, id DESC``); filters are ANDed; ``since`` is
        inclusive Unix seconds; ``limit`` 1..1000; ``before_id`` pages backwards."""
        rows = self._native.list_events(
            status,
            endpoint,
            event_type,
            _opt_int("since", since, "since must be an integer timestamp"),
            _opt_int("until", until, "until must be an integer timestamp"),
            _opt_int("before_id", before_id),
            _int_arg("limit", limit),
        )
        return [Event(*r) for r in rows]

    def get_delivery(self, delivery_id: int) -> Delivery:
        """One delivery; ``KeyError`` (NotFoundError) for an unknown id."""
        return Delivery(*self._native.get_delivery(_int_arg("delivery_id", delivery_id)))

    def list_deliveries(
        self,
        *,
        event_id: Optional[int] = None,
        endpoint: Optional[str] = None,
        signature_valid: Optional[bool] = None,
        orphaned: Optional[bool] = None,
        since: Optional[int] = None,
        limit: int = 100,
    ) -> List[Delivery]:
        """Deliveries newest-first. ``signature_valid=False`` matches invalid and not verified;
        ``orphaned`` (no event) is a separate axis."""
        rows = self._native.list_deliveries(
            _opt_int("event_id", event_id),
            endpoint,
            _opt_bool("signature_valid", signature_valid),
            _opt_bool("orphaned", orphaned),
            _opt_int("since", since, "since must be an integer timestamp"),
            _int_arg("limit", limit),
        )
        return [Delivery(*r) for r in rows]

    def list_attempts(self, event_id: int) -> List[Attempt]:
        """Attempt history of one event, oldest first."""
        return [Attempt(*r) for r in self._native.list_attempts(_int_arg("event_id", event_id))]

    def list_prune_audits(self, *, kind: Optional[str] = None, since: Optional[int] = None, limit: int = 50) -> List[PruneAudit]:
        """Prune audit rows, newest first."""
        rows = self._native.list_prune_audits(
            kind, _opt_int("since", since, "since must be an integer timestamp"), _int_arg("limit", limit)
        )
        out = []
        for (id_, k, executed_at, ev, dl, at, summary) in rows:
            live = 0 if k == "prune_events" else None
            out.append(PruneAudit(id_, k, self._queue_name, executed_at, ev, dl, at, live, summary))
        return out

    def list_operator_audits(self, *, action: Optional[str] = None, since: Optional[int] = None, limit: int = 50) -> List["OperatorAudit"]:
        """Operator audit rows (who did what, when, to which ids), newest first."""
        rows = self._native.list_operator_audits(
            action, _opt_int("since", since, "since must be an integer timestamp"), _int_arg("limit", limit)
        )
        return [OperatorAudit(i, a, actor, at, kind, n, tuple(ids), f) for (i, a, actor, at, kind, n, ids, f) in rows]

    def execute_batch(self, sql: str) -> None:
        """Runs app SQL (for example your own schema) on Knocker's writer connection in one
        transaction — the safe way to touch Knocker's file from this process outside handlers."""
        if not isinstance(sql, str):
            raise ArgumentTypeError("sql must be a str")
        self._native.execute_batch(sql)

    def stats(self) -> Stats:
        """Counts by status and endpoint, claimable depth, oldest claimable age, dead count."""
        return Stats(**self._native.stats())

    def metrics(self) -> Metrics:
        """Counters and histograms of this handle (process-local) plus the file's gauges."""
        m = self._native.metrics()

        def hist(t: Tuple[Any, ...]) -> Histogram:
            return Histogram(buckets=tuple((float(b), int(c)) for b, c in t[0]), count=t[1], sum_s=t[2])

        return Metrics(
            endpoints={name: EndpointMetrics(**e) for name, e in m["endpoints"].items()},
            unknown_endpoint_receipts=m["unknown_endpoint_receipts"],
            receive_errors=m["receive_errors"],
            receive_duration=hist(m["receive_duration"]),
            handler_duration=hist(m["handler_duration"]),
            enqueue_to_handled=hist(m["enqueue_to_handled"]),
            stats=Stats(**m["stats"]),
        )

    def prometheus_text(self) -> str:
        """The Prometheus text exposition (format 0.0.4) of ``metrics()``; serve it with
        ``Content-Type: text/plain; version=0.0.4``."""
        return self._native.prometheus_text()

    # -- operator actions --------------------------------------------------------------------

    def ignore(self, event_id: int) -> None:
        """received/failed/dead → ignored (no-op when already ignored)."""
        self._native.ignore(_int_arg("event_id", event_id))

    def replay(self, event_id: int) -> None:
        """handled/failed/dead/ignored → received, attempt count 0, due now."""
        self._native.replay(_int_arg("event_id", event_id))

    def requeue(self, event_id: int) -> None:
        """failed/dead/ignored → received, attempt count 0, due now."""
        self._native.requeue(_int_arg("event_id", event_id))

    def replay_delivery(self, delivery_id: int) -> None:
        """Runs the handler again with this delivery's payload; the event row is unchanged."""
        self._native.replay_delivery(_int_arg("delivery_id", delivery_id))

    # -- retention ---------------------------------------------------------------------------

    def prune_events(self, *, statuses: Sequence[str], older_than: int, limit: int, dry_run: bool = False) -> PruneEventsResult:
        """Deletes events in ``statuses`` (⊆ handled, ignored, dead) received strictly before
        ``older_than`` (Unix seconds), oldest first, with their deliveries and attempts, and
        writes one audit row (also when nothing matched). ``dry_run`` only counts."""
        st = _statuses(statuses)
        ev, at, dl, dry = self._native.prune_events(
            st, _int_arg("older_than", older_than), _int_arg("limit", limit), bool(dry_run)
        )
        return PruneEventsResult(ev, at, dl, 0, dry)

    def prune_orphan_deliveries(self, *, older_than: int, limit: int, dry_run: bool = False) -> PruneDeliveriesResult:
        """Deletes orphan deliveries received strictly before ``older_than``, oldest first, with an audit row."""
        dl, dry = self._native.prune_orphan_deliveries(
            _int_arg("older_than", older_than), _int_arg("limit", limit), bool(dry_run)
        )
        return PruneDeliveriesResult(dl, dry)

    def run_retention_once(self, policy: RetentionPolicy, *, owner: Optional[str] = None) -> Tuple[bool, Optional[PruneEventsResult], Optional[PruneDeliveriesResult]]:
        """One retention pass if this process takes the file-wide retention lease.

        Returns ``(ran, events_result, orphans_result)``; ``ran`` is False when another process
        holds the lease for this interval.
        """
        args = _retention_args(policy)
        ran, ev, orph = self._native.run_retention_pass(owner or _owner(), *args)
        e = None if ev is None else PruneEventsResult(ev[0], ev[1], ev[2], 0, ev[3])
        o = None if orph is None else PruneDeliveriesResult(orph[0], orph[1])
        return bool(ran), e, o

    async def run_retention(
        self,
        policy: RetentionPolicy,
        *,
        stop_event: Optional[asyncio.Event] = None,
        on_error: Optional[Callable[[BaseException], Any]] = None,
    ) -> None:
        """Runs a retention pass every ``policy.interval_s`` until ``stop_event`` is set.

        Several processes may run it on one file: a lease in the file makes sure a pass runs at
        most once per interval. A pass error calls ``on_error`` (awaited if a coroutine) and is
        re-raised.
        """
        args = _retention_args(policy)
        _native.Knocker.validate_retention(*args)
        owner = _owner()
        while not (stop_event is not None and stop_event.is_set()):
            try:
                await asyncio.to_thread(self._native.run_retention_pass, owner, *args)
            except Exception as exc:
                await _call_on_error(on_error, exc)
                raise
            if stop_event is None:
                await asyncio.sleep(policy.interval_s)
            else:
                try:
                    await asyncio.wait_for(stop_event.wait(), timeout=policy.interval_s)
                except asyncio.TimeoutError:
                    pass

    # -- worker ------------------------------------------------------------------------------

    async def run_worker(
        self,
        *,
        worker_id: Optional[str] = None,
        stop_event: Optional[asyncio.Event] = None,
        idle_poll_s: float = 0.1,
        on_error: Optional[Callable[[BaseException], Any]] = None,
        claim_batch: Optional[int] = None,
    ) -> None:
        """Claims and processes events until ``stop_event`` is set (or the task is cancelled).

        The loop runs on its own thread, so the event loop is never blocked by a handler or by
        waiting for work. On stop it finishes the in-flight handler and releases unstarted
        claims. A worker-loop error (not a handler failure) is recorded in
        :meth:`worker_states`, passed to ``on_error`` (awaited if a coroutine; if it raises,
        that exception replaces the original) and re-raised.
        """
        if isinstance(idle_poll_s, bool) or not isinstance(idle_poll_s, (int, float)) or idle_poll_s <= 0:
            raise InvalidArgumentError("idle_poll_s must be a number > 0")
        loop = asyncio.get_running_loop()
        stop = _native.StopSignal()
        watcher: Optional["asyncio.Task[None]"] = None
        if stop_event is not None:
            if stop_event.is_set():
                return
            watcher = loop.create_task(_stop_when_set(stop_event, stop))
        fut = _in_thread(loop, self._native.run_worker, stop, worker_id, float(idle_poll_s), claim_batch)
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            stop.set()
            try:
                await fut
            except BaseException:  # noqa: BLE001 - the cancellation is what propagates
                pass
            raise
        except Exception as exc:
            await _call_on_error(on_error, exc)
            raise
        finally:
            stop.set()
            if watcher is not None:
                watcher.cancel()

    def drain(self, max_events: Optional[int] = None) -> int:
        """Processes until nothing is claimable (or ``max_events`` were processed); returns the count."""
        return int(self._native.drain(_opt_int("max_events", max_events)))

    def worker_states(self) -> List[WorkerState]:
        """Local, non-durable snapshots of this handle's worker loops, sorted by worker id."""
        out = []
        for (wid, running, started_at, cur, processed, failed, last_error, last_error_at) in self._native.worker_states():
            out.append(WorkerState(wid, running, cur, last_error, started_at, processed, failed, last_error_at))
        return out


def _owner() -> str:
    return f"knocker-retention-{_secrets.token_hex(4)}"


def _statuses(statuses: Any) -> List[str]:
    if isinstance(statuses, str) or not isinstance(statuses, (list, tuple)):
        raise ArgumentTypeError("statuses must be a non-empty list or tuple of strings")
    if not statuses:
        raise InvalidArgumentError("statuses must be a non-empty list or tuple")
    out: List[str] = []
    for s in statuses:
        if not isinstance(s, str):
            raise ArgumentTypeError("statuses must be a non-empty list or tuple of strings")
        if s not in STATUSES:
            raise InvalidArgumentError(f"unknown status: {s!r}")
        if s not in out:
            out.append(s)
    return out


def _retention_args(policy: RetentionPolicy) -> Tuple[Any, ...]:
    if not isinstance(policy, RetentionPolicy):
        raise ArgumentTypeError("policy must be a knocker.RetentionPolicy")
    iv = policy.interval_s
    if isinstance(iv, bool) or not isinstance(iv, (int, float)):
        raise InvalidArgumentError("interval_s must be a number of seconds > 0")
    for label in ("event_older_than_s", "orphan_deliveries_older_than_s"):
        v = getattr(policy, label)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise InvalidArgumentError(f"{label} must be an int >= 0 or None")
    for label in ("event_limit", "orphan_deliveries_limit"):
        v = getattr(policy, label)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidArgumentError(f"{label} must be an int between 1 and 1000")
    return (
        float(iv),
        _statuses(list(policy.event_statuses)),
        policy.event_older_than_s,
        policy.event_limit,
        policy.orphan_deliveries_older_than_s,
        policy.orphan_deliveries_limit,
    )


def _legacy_verification(v: Any) -> Tuple[str, Dict[str, Any], Optional[List[bytes]]]:
    if not isinstance(v, Mapping):
        raise ArgumentTypeError("verification must be a dict like {'kind': 'hmac-sha256', 'header': ..., 'secrets': [...]}")
    kind = v.get("kind")
    secret_value = v.get("secrets", v.get("secret"))
    secret_list = None if secret_value is None else _coerce_secrets(secret_value)
    if kind in _LEGACY_HMAC_KINDS:
        header = v.get("header")
        if not isinstance(header, str) or not header:
            raise InvalidArgumentError("verification kind hmac-sha256 needs a non-empty 'header'")
        prefix = v.get("prefix", "sha256=")
        options: Dict[str, Any] = {"header": header, "prefix": prefix if prefix is not None else "", "algorithm": "sha256"}
        unknown = set(v) - {"kind", "header", "prefix", "secret", "secrets"}
        if unknown:
            raise InvalidArgumentError(f"unknown verification keys: {', '.join(sorted(unknown))}")
        return "generic-hmac", options, secret_list
    if kind == "stripe":
        options = {}
        if "tolerance_s" in v:
            t = v["tolerance_s"]
            if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                raise InvalidArgumentError("tolerance_s must be an int >= 0")
            options["tolerance_s"] = t
        return "stripe", options, secret_list
    raise InvalidArgumentError(f"unknown verification kind: {kind!r} (use 'hmac-sha256' or 'stripe', or provider=)")


def _warn_if_sqlite_not_shared() -> None:
    global _sharing_warned
    if _sharing_warned:
        return
    _sharing_warned = True
    info = sqlite_sharing()
    if info["shared"] is False:
        warnings.warn(info["message"], SQLiteSharingWarning, stacklevel=3)


def open(path: Union[str, "os.PathLike[str]"], **kwargs: Any) -> Knocker:  # noqa: A001 - prior art's name
    """Opens (creating if needed) a Knocker file: ``knocker.open("app.db", max_attempts=5)``."""
    return Knocker(path, **kwargs)



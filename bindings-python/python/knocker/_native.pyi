"""Type stubs of the native module ``knocker._native`` (checked against the runtime by
``tests/test_stubs.py`` with ``mypy.stubtest``). Use the ``knocker`` package, not this module."""

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union, final


__all__ = [
    "Knocker",
    "SCHEMA_VERSION",
    "StopSignal",
    "Transaction",
    "provider_catalogue",
    "sqlite_info",
    "install_log_bridge",
    "verify_vector",
    "__version__",
]

_Pairs = Union[Mapping[str, Any], Sequence[Tuple[str, str]], None]
_IngestTuple = Tuple[Optional[int], Optional[int], bool, int, Optional[bytes], Optional[str], Optional[str]]

SCHEMA_VERSION: int
__version__: str

@final
class Transaction:
    """The handler's transaction; valid only during the handler call."""

    def query(self, sql: str, params: Optional[Sequence[Any]] = None) -> List[Dict[str, Any]]: ...
    def execute(self, sql: str, params: Optional[Sequence[Any]] = None) -> int: ...

@final
class StopSignal:
    """A thread-safe stop flag for loops running in a thread."""

    def __new__(cls) -> "StopSignal": ...
    def set(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout_s: float) -> bool: ...

@final
class Knocker:
    """The native handle."""

    def __new__(
        cls,
        path: str,
        *,
        busy_timeout_ms: Optional[int] = None,
        synchronous: Optional[str] = None,
        visibility_timeout_s: Optional[float] = None,
        max_attempts: Optional[int] = None,
        backoff_base_s: Optional[float] = None,
        backoff_max_s: Optional[float] = None,
        claim_batch: Optional[int] = None,
        max_readers: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        idle_poll_ms: Optional[int] = None,
        clock: Optional[Callable[[], float]] = None,
        handler_batch: Optional[int] = None,
        handler_batch_max_ms: Optional[int] = None,
        actor: Optional[str] = None,
    ) -> "Knocker": ...
    def execute_batch(self, sql: str) -> None: ...
    def list_operator_audits(
        self, action: Optional[str] = None, since: Optional[int] = None, limit: int = 50
    ) -> List[Tuple[int, str, str, int, str, int, List[int], str]]: ...
    @property
    def path(self) -> str: ...
    def options(self) -> Dict[str, Any]: ...
    def close(self) -> None: ...
    def is_closed(self) -> bool: ...
    def provider_versions(self) -> Dict[str, str]: ...
    def register_provider(self, obj: Any) -> str: ...
    def add_endpoint(
        self,
        name: str,
        path: str,
        provider: Optional[str] = None,
        secrets: Optional[Sequence[bytes]] = None,
        provider_options_json: Optional[str] = None,
        enabled: bool = True,
        verification_required: Optional[bool] = None,
        max_body_bytes: Optional[int] = None,
        max_attempts: Optional[int] = None,
        backoff_base_s: Optional[float] = None,
        backoff_max_s: Optional[float] = None,
        body_hash_dedupe: bool = False,
        event_key: Optional[Callable[[Any], Optional[str]]] = None,
        delivery_key: Optional[Callable[[Any], Optional[str]]] = None,
        dedupe_key: Optional[Callable[[Any], Optional[str]]] = None,
        event_type_key: Optional[Callable[[Any], Optional[str]]] = None,
    ) -> None: ...
    def endpoint_names(self) -> List[str]: ...
    def receive(
        self,
        endpoint: str,
        body: bytes,
        headers: _Pairs = None,
        query: _Pairs = None,
        method: str = "POST",
        url: Optional[str] = None,
        event_type: Optional[str] = None,
        provider_event_id: Optional[str] = None,
        provider_delivery_id: Optional[str] = None,
        dedupe_key: Optional[str] = None,
    ) -> _IngestTuple: ...
    def ingest(
        self,
        endpoint: str,
        body: bytes,
        headers: _Pairs = None,
        query: _Pairs = None,
        method: str = "POST",
        url: Optional[str] = None,
        event_type: Optional[str] = None,
        provider_event_id: Optional[str] = None,
        provider_delivery_id: Optional[str] = None,
        dedupe_key: Optional[str] = None,
        signature_valid: Optional[bool] = ...,
        signature_error: Optional[str] = None,
    ) -> _IngestTuple: ...
    def get_event(self, event_id: int) -> Tuple[Any, ...]: ...
    def list_events(
        self,
        status: Optional[str] = None,
        endpoint: Optional[str] = None,
        event_type: Optional[str] = None,
        since: Optional[int] = None,
        until: Optional[int] = None,
        before_id: Optional[int] = None,
        limit: int = 100,
    ) -> List[Tuple[Any, ...]]: ...
    def get_delivery(self, delivery_id: int) -> Tuple[Any, ...]: ...
    def list_deliveries(
        self,
        event_id: Optional[int] = None,
        endpoint: Optional[str] = None,
        signature_valid: Optional[bool] = None,
        orphaned: Optional[bool] = None,
        since: Optional[int] = None,
        limit: int = 100,
    ) -> List[Tuple[Any, ...]]: ...
    def list_attempts(self, event_id: int) -> List[Tuple[Any, ...]]: ...
    def list_prune_audits(self, kind: Optional[str] = None, since: Optional[int] = None, limit: int = 50) -> List[Tuple[Any, ...]]: ...
    def metrics(self) -> Dict[str, Any]: ...
    def prometheus_text(self) -> str: ...
    def stats(self) -> Dict[str, Any]: ...
    def ignore(self, event_id: int) -> None: ...
    def replay(self, event_id: int) -> None: ...
    def requeue(self, event_id: int) -> None: ...
    def replay_delivery(self, delivery_id: int) -> None: ...
    def prune_events(self, statuses: Sequence[str], older_than: int, limit: int, dry_run: bool = False) -> Tuple[int, int, int, bool]: ...
    def prune_orphan_deliveries(self, older_than: int, limit: int, dry_run: bool = False) -> Tuple[int, bool]: ...
    @staticmethod
    def validate_retention(
        interval_s: float,
        event_statuses: Sequence[str],
        event_older_than_s: Optional[int],
        event_limit: int,
        orphan_deliveries_older_than_s: Optional[int],
        orphan_deliveries_limit: int,
    ) -> None: ...
    def run_retention_pass(
        self,
        owner: str,
        interval_s: float,
        event_statuses: Sequence[str],
        event_older_than_s: Optional[int],
        event_limit: int,
        orphan_deliveries_older_than_s: Optional[int],
        orphan_deliveries_limit: int,
    ) -> Tuple[bool, Optional[Tuple[int, int, int, bool]], Optional[Tuple[int, bool]]]: ...
    def handle(self, endpoint: str, event_type: Optional[str], handler: Callable[[Any, Transaction], Any]) -> None: ...
    def drain(self, max_events: Optional[int] = None) -> int: ...
    def run_worker(
        self, stop: StopSignal, worker_id: Optional[str] = None, idle_poll_s: float = 0.1, claim_batch: Optional[int] = None
    ) -> None: ...
    def worker_states(self) -> List[Tuple[str, bool, int, Optional[int], int, int, Optional[str], Optional[int]]]: ...

def provider_catalogue() -> List[Dict[str, Any]]: ...
def verify_vector(
    provider: str,
    method: str,
    url: Optional[str],
    headers: _Pairs,
    query: _Pairs,
    body: bytes,
    secrets: Sequence[bytes],
    options_json: Optional[str],
    now: int,
) -> Dict[str, Any]: ...
def sqlite_info() -> Dict[str, Any]: ...
def install_log_bridge(callback: Callable[[str, str, str, List[Tuple[str, str]]], Any]) -> bool: ...

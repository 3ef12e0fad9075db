import inspect
import os
import subprocess
import sys

import knocker
import knocker._app

PKG = os.path.dirname(knocker.__file__)


def test_stubs_match_the_native_module():
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "knocker._native", "--ignore-missing-stub"],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(PKG),
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_py_typed_and_stub_files_ship():
    assert os.path.exists(os.path.join(PKG, "py.typed"))
    assert os.path.exists(os.path.join(PKG, "_native.pyi"))


def test_every_public_name_has_a_docstring():
    missing = []
    for name in knocker.__all__:
        obj = getattr(knocker, name)
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member) and not isinstance(member, property):
                    continue
                if not (inspect.getdoc(member) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert missing == []


def test_prior_art_names_and_keywords():
    for name in ["Delivery", "Endpoint", "Event", "IngestResult", "Knocker", "PruneAudit", "PruneDeliveriesResult",
                 "PruneEventsResult", "Provider", "ProviderRequest", "ProviderResult", "RetentionPolicy", "WorkerState", "open"]:
        assert name in knocker.__all__
    K = knocker.Knocker
    sig = lambda f: list(inspect.signature(f).parameters)  # noqa: E731
    assert sig(K.receive)[1:] == ["endpoint", "body", "headers", "query", "method", "url", "event_type",
                                  "provider_event_id", "provider_delivery_id", "dedupe_key"]
    assert sig(K.ingest)[-2:] == ["signature_valid", "signature_error"]
    assert sig(K.list_events)[1:6] == ["status", "endpoint", "event_type", "since", "limit"]
    assert sig(K.list_deliveries)[1:] == ["event_id", "endpoint", "signature_valid", "orphaned", "since", "limit"]
    assert sig(K.list_prune_audits)[1:] == ["kind", "since", "limit"]
    assert inspect.signature(K.list_prune_audits).parameters["limit"].default == 50
    assert sig(K.run_worker)[1:5] == ["worker_id", "stop_event", "idle_poll_s", "on_error"]
    assert sig(K.add_endpoint)[1:11] == ["name", "path", "provider", "enabled", "verification", "delivery_key",
                                         "event_key", "secrets", "provider_options", "max_body_bytes"]
    assert inspect.iscoroutinefunction(K.run_worker) and inspect.iscoroutinefunction(K.run_retention)
    fields = lambda c: [f for f in c.__dataclass_fields__]  # noqa: E731
    assert fields(knocker.Event)[:14] == ["id", "endpoint", "event_type", "provider_event_id", "provider_delivery_id",
                                          "dedupe_key", "status", "attempt_count", "headers", "query", "body",
                                          "received_at", "handled_at", "last_error"]
    assert fields(knocker.IngestResult)[:5] == ["delivery_id", "event_id", "duplicate", "status_code", "response_body"]
    assert fields(knocker.WorkerState)[:4] == ["worker_id", "running", "current_event_id", "last_error"]


def test_error_hierarchy():
    assert issubclass(knocker.NotFoundError, KeyError)
    assert issubclass(knocker.InvalidStateError, ValueError)
    assert issubclass(knocker.InvalidArgumentError, ValueError)
    assert issubclass(knocker.ArgumentTypeError, TypeError)
    for cls in (knocker.NotFoundError, knocker.InvalidStateError, knocker.BusyError, knocker.ClosedError):
        assert issubclass(cls, knocker.KnockerError) and cls.code

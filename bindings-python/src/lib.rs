//! `knocker._native`: the PyO3 layer over knocker-core.
//!
//! This module only converts types and maps errors. Every rule about statuses, dedupe, retries,
//! verification and retention lives in knocker-core. The pure-Python package `knocker` wraps
//! these functions with the prior art's keyword arguments and frozen dataclass models.
//!
//! The GIL is released around every call into core (SQLite and crypto work). Python callbacks
//! (handlers, app-local providers, key functions, a test clock) re-acquire it. No panic crosses
//! the FFI boundary: PyO3 turns a panic in a method into `PanicException`, and core catches
//! panics of handlers and providers.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use knocker_core as kc;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyLong, PyString, PyTuple};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

static ERRORS_MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();
static MODELS_MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS_MODULE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import_bound("knocker.errors")?.unbind()))
        .map(|m| m.bind(py))
}

fn models_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    MODELS_MODULE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import_bound("knocker.models")?.unbind()))
        .map(|m| m.bind(py))
}

/// The core receipt of a `receive` / `ingest` call; `overrides` are event_type,
/// provider_event_id, provider_delivery_id and dedupe_key, in that order.
fn receipt<'a>(
    body: &'a Bound<'_, PyBytes>,
    headers: Option<&Bound<'_, PyAny>>,
    query: Option<&Bound<'_, PyAny>>,
    method: &'a str,
    url: Option<&'a str>,
    overrides: [Option<String>; 4],
) -> PyResult<kc::Receipt<'a>> {
    let [event_type, provider_event_id, provider_delivery_id, dedupe_key] = overrides;
    Ok(kc::Receipt {
        method,
        url,
        headers: to_pairs(headers, "headers")?,
        query: to_pairs(query, "query")?,
        body: body.as_bytes(),
        event_type,
        provider_event_id,
        provider_delivery_id,
        dedupe_key,
    })
}

/// Maps a core error to the `knocker.errors` class for its stable code.
fn to_py_err(py: Python<'_>, e: kc::Error) -> PyErr {
    let class = match e.code() {
        "not_found" => "NotFoundError",
        "invalid_state" => "InvalidStateError",
        "invalid_argument" => "InvalidArgumentError",
        "unknown_provider" => "UnknownProviderError",
        "verification_not_configured" => "VerificationNotConfiguredError",
        "schema_too_new" => "SchemaTooNewError",
        "not_knocker_database" => "NotKnockerDatabaseError",
        "busy" => "BusyError",
        "closed" => "ClosedError",
        "lease_lost" => "LeaseLostError",
        "wal_replaced" => "WalReplacedError",
        "database_missing" => "DatabaseMissingError",
        _ => "StorageError",
    };
    let msg = e.to_string();
    let code = e.code();
    match errors_module(py).and_then(|m| m.getattr(class)) {
        // The instance carries core's exact code, also for codes that share a class.
        Ok(cls) => match cls.call1((msg.clone(),)) {
            Ok(instance) => {
                let _ = instance.setattr("code", code);
                PyErr::from_value_bound(instance)
            }
            Err(_) => PyRuntimeError::new_err(msg),
        },
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

trait IntoPyResult<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for kc::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py_err(py, e))
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

/// Headers or query parameters: a mapping (`{name: value}`, a list value means repeated) or an
/// iterable of `(name, value)` pairs. Names and values must be `str`.
fn to_pairs(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<kc::Pairs> {
    let mut pairs = kc::Pairs::new();
    let Some(obj) = obj else { return Ok(pairs) };
    if obj.is_none() {
        return Ok(pairs);
    }
    let push = |pairs: &mut kc::Pairs, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> PyResult<()> {
        let k: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{what} names must be str, got {}", type_name(k))))?;
        if let Ok(s) = v.downcast::<PyString>() {
            pairs.push(k, s.extract::<String>()?);
        } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
            for item in v.iter()? {
                let item = item?;
                let s: String = item.extract().map_err(|_| {
                    PyTypeError::new_err(format!("{what} values must be str, got {}", type_name(&item)))
                })?;
                pairs.push(k.clone(), s);
            }
        } else {
            return Err(PyTypeError::new_err(format!("{what} values must be str, got {}", type_name(v))));
        }
        Ok(())
    };
    if let Ok(d) = obj.downcast::<PyDict>() {
        for (k, v) in d.iter() {
            push(&mut pairs, &k, &v)?;
        }
        return Ok(pairs);
    }
    if obj.hasattr("items")? {
        for item in obj.call_method0("items")?.iter()? {
            let item = item?;
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            push(&mut pairs, &k, &v)?;
        }
        return Ok(pairs);
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!("{what} must be a mapping or a list of (name, value) pairs")));
    }
    for item in obj
        .iter()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a mapping or a list of (name, value) pairs")))?
    {
        let item = item?;
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{what} must be a mapping or a list of (name, value) pairs")))?;
        push(&mut pairs, &k, &v)?;
    }
    Ok(pairs)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

/// Headers as a dict (repeated names were joined with ", " when stored).
fn headers_dict<'py>(py: Python<'py>, p: &kc::Pairs) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new_bound(py);
    for (k, v) in p.iter() {
        if !d.contains(k)? {
            d.set_item(k, v)?;
        }
    }
    Ok(d)
}

/// Query as a dict; a repeated name maps to a list of its values.
fn query_dict<'py>(py: Python<'py>, p: &kc::Pairs) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new_bound(py);
    for (k, v) in p.iter() {
        match d.get_item(k)? {
            None => d.set_item(k, v)?,
            Some(prev) => {
                if let Ok(l) = prev.downcast::<PyList>() {
                    l.append(v)?;
                } else {
                    let v: PyObject = v.into_py(py);
                    d.set_item(k, PyList::new_bound(py, [prev.unbind(), v]))?;
                }
            }
        }
    }
    Ok(d)
}

fn pairs_list<'py>(py: Python<'py>, p: &kc::Pairs) -> Bound<'py, PyList> {
    PyList::new_bound(py, p.iter().map(|(k, v)| (k, v).into_py(py)).collect::<Vec<PyObject>>())
}

fn event_tuple(py: Python<'_>, e: &kc::Event) -> PyResult<PyObject> {
    let items: Vec<PyObject> = vec![
        e.id.into_py(py),
        e.endpoint.clone().into_py(py),
        e.event_type.clone().into_py(py),
        e.provider_event_id.clone().into_py(py),
        e.provider_delivery_id.clone().into_py(py),
        e.dedupe_key.clone().into_py(py),
        e.status.as_str().into_py(py),
        e.attempt_count.into_py(py),
        headers_dict(py, &e.headers)?.into_py(py),
        query_dict(py, &e.query)?.into_py(py),
        PyBytes::new_bound(py, &e.body).into_py(py),
        e.received_at.into_py(py),
        e.handled_at.into_py(py),
        e.last_error.clone().into_py(py),
        e.max_attempts.into_py(py),
        (e.run_at_ms as f64 / 1000.0).into_py(py),
        e.method.clone().into_py(py),
        e.url.clone().into_py(py),
        e.replay_delivery_id.into_py(py),
        e.lease_owner.clone().into_py(py),
        e.traceparent.clone().into_py(py),
    ];
    Ok(PyTuple::new_bound(py, items).into_py(py))
}

fn delivery_tuple(py: Python<'_>, d: &kc::Delivery) -> PyResult<PyObject> {
    let items: Vec<PyObject> = vec![
        d.id.into_py(py),
        d.event_id.into_py(py),
        d.endpoint.clone().into_py(py),
        d.event_type.clone().into_py(py),
        d.provider_event_id.clone().into_py(py),
        d.provider_delivery_id.clone().into_py(py),
        d.dedupe_key.clone().into_py(py),
        d.method.clone().into_py(py),
        headers_dict(py, &d.headers)?.into_py(py),
        query_dict(py, &d.query)?.into_py(py),
        PyBytes::new_bound(py, &d.body).into_py(py),
        d.received_at.into_py(py),
        d.signature_valid.into_py(py),
        d.signature_error.clone().into_py(py),
        d.url.clone().into_py(py),
        d.body_size.into_py(py),
        d.error_code.clone().into_py(py),
        d.secret_index.into_py(py),
        (d.status_code as i64).into_py(py),
        d.traceparent.clone().into_py(py),
    ];
    Ok(PyTuple::new_bound(py, items).into_py(py))
}

fn ingest_tuple(py: Python<'_>, r: kc::IngestResult) -> PyObject {
    (
        r.delivery_id,
        r.event_id,
        r.duplicate,
        r.status_code as i64,
        r.response_body.map(|b| PyBytes::new_bound(py, &b).unbind()),
        r.response_content_type,
        r.error_code,
    )
        .into_py(py)
}

fn prune_events_tuple(py: Python<'_>, r: &kc::PruneEventsResult) -> PyObject {
    (r.events_pruned, r.attempts_pruned, r.deliveries_pruned, r.dry_run).into_py(py)
}

fn prune_orphans_tuple(py: Python<'_>, r: &kc::PruneDeliveriesResult) -> PyObject {
    (r.deliveries_pruned, r.dry_run).into_py(py)
}

fn parse_status(s: &str) -> PyResult<kc::Status> {
    kc::Status::parse(s).ok_or_else(|| PyValueError::new_err(format!("unknown status: {s:?}")))
}

fn parse_options(json: Option<&str>) -> PyResult<kc::provider::ProviderOptions> {
    match json {
        None => Ok(kc::provider::ProviderOptions::new()),
        Some(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Err(PyTypeError::new_err("provider_options must be a dict")),
            Err(e) => Err(PyValueError::new_err(format!("provider_options are not JSON-serialisable: {e}"))),
        },
    }
}

/// JSON text → Python object (through the json module; used for provider options only).
fn json_to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<PyObject> {
    Ok(py.import_bound("json")?.call_method1("loads", (v.to_string(),))?.unbind())
}

// ---------------------------------------------------------------------------------------------
// Python callbacks: clock, key functions, providers, handlers
// ---------------------------------------------------------------------------------------------

/// A clock backed by a Python callable returning Unix milliseconds (tests only).
struct PyClock(Py<PyAny>);

impl kc::Clock for PyClock {
    fn now_ms(&self) -> i64 {
        Python::with_gil(|py| {
            self.0
                .call0(py)
                .and_then(|v| v.extract::<f64>(py))
                .map(|v| v as i64)
                .unwrap_or_else(|e| {
                    e.print(py);
                    kc::SystemClock.now_ms()
                })
        })
    }
}

fn make_request(py: Python<'_>, r: &kc::provider::Request<'_>) -> PyResult<PyObject> {
    let cls = models_module(py)?.getattr("ProviderRequest")?;
    let obj = cls.call1((
        r.method,
        r.url,
        pairs_list(py, r.headers),
        pairs_list(py, r.query),
        PyBytes::new_bound(py, r.body),
    ))?;
    Ok(obj.unbind())
}

fn key_fn(f: Py<PyAny>) -> kc::KeyFn {
    Arc::new(move |req: &kc::provider::Request<'_>| {
        Python::with_gil(|py| {
            let out = make_request(py, req).and_then(|r| f.call1(py, (r,)));
            match out {
                Ok(v) if v.is_none(py) => None,
                Ok(v) => v.bind(py).str().ok().map(|s| s.to_string()),
                Err(e) => {
                    e.print(py);
                    None
                }
            }
        })
    })
}

/// An app-local provider: a `knocker.Provider` instance.
struct PyProvider {
    obj: Py<PyAny>,
    name: String,
    version: String,
    requires_secrets: bool,
}

impl kc::Provider for PyProvider {
    fn name(&self) -> &str {
        &self.name
    }
    fn version(&self) -> &str {
        &self.version
    }
    fn requires_secrets(&self) -> bool {
        self.requires_secrets
    }
    fn validate_options(&self, options: &kc::provider::ProviderOptions) -> Result<(), String> {
        Python::with_gil(|py| {
            let opts = json_to_py(py, &serde_json::Value::Object(options.clone())).map_err(|e| e.to_string())?;
            self.obj.call_method1(py, "validate_options", (opts,)).map(|_| ()).map_err(|e| {
                let v = e.value_bound(py);
                v.str().map(|s| s.to_string()).unwrap_or_else(|_| "invalid provider options".into())
            })
        })
    }
    fn verify(&self, request: &kc::provider::Request<'_>, ctx: &kc::provider::VerifyContext<'_>) -> kc::provider::Verification {
        use kc::provider::{codes, Metadata, Rejection, Verification};
        Python::with_gil(|py| {
            let run = || -> PyResult<Verification> {
                let req = make_request(py, request)?;
                let secrets = PyTuple::new_bound(py, ctx.secrets.iter().map(|s| PyBytes::new_bound(py, s.expose())));
                let kwargs = PyDict::new_bound(py);
                kwargs.set_item("secrets", secrets)?;
                kwargs.set_item("options", json_to_py(py, &serde_json::Value::Object(ctx.options.clone()))?)?;
                let result = match self.obj.bind(py).call_method("verify", (req,), Some(&kwargs)) {
                    Ok(r) => r,
                    Err(e) => {
                        let v = e.value_bound(py);
                        let msg = format!("provider error: {}: {}", type_name(v), v.str()?);
                        return Ok(Verification::invalid(Metadata::default(), Rejection::new(codes::PROVIDER_ERROR, msg)));
                    }
                };
                let cls = models_module(py)?.getattr("ProviderResult")?;
                if !result.is_instance(&cls)? {
                    let msg = format!("provider '{}' returned non-ProviderResult: {}", self.name, type_name(&result));
                    return Ok(Verification::invalid(Metadata::default(), Rejection::new(codes::PROVIDER_ERROR, msg)));
                }
                let get = |attr: &str| -> PyResult<Option<String>> {
                    let v = result.getattr(attr)?;
                    if v.is_none() {
                        Ok(None)
                    } else {
                        Ok(Some(v.str()?.to_string()))
                    }
                };
                let meta = Metadata {
                    event_id: get("provider_event_id")?,
                    event_type: get("event_type")?,
                    delivery_id: get("provider_delivery_id")?,
                    idempotency_key: get("idempotency_key")?,
                };
                let valid: bool = result.getattr("valid")?.is_truthy()?;
                if valid {
                    Ok(Verification::valid(meta, None))
                } else {
                    let msg = get("signature_error")?.unwrap_or_else(|| "rejected by provider".into());
                    let code = get("error_code")?.unwrap_or_else(|| codes::SIGNATURE_MISMATCH.into());
                    Ok(Verification::invalid(meta, Rejection::new(code, msg)))
                }
            };
            run().unwrap_or_else(|e| {
                Verification::invalid(
                    Metadata::default(),
                    Rejection::new(codes::PROVIDER_ERROR, format!("provider error: {e}")),
                )
            })
        })
    }
}

/// The handler transaction handed to Python handlers; valid only during the handler call and
/// only on the thread that runs it.
#[pyclass(unsendable, module = "knocker._native", name = "Transaction")]
struct PyTx {
    ptr: Cell<Option<*const kc::HandlerTx<'static>>>,
}

struct SendPtr(*const kc::HandlerTx<'static>);
// SAFETY: the pointer is only dereferenced on the thread that created it (PyTx is `unsendable`)
// while `allow_threads` runs the closure synchronously on that same thread.
unsafe impl Send for SendPtr {}

fn to_sql_params(params: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<kc::SqlValue>> {
    let mut out = Vec::new();
    let Some(params) = params else { return Ok(out) };
    if params.is_none() {
        return Ok(out);
    }
    if params.is_instance_of::<PyString>() || params.is_instance_of::<PyBytes>() || params.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err("params must be a list or tuple"));
    }
    for p in params.iter()? {
        let p = p?;
        let v = if p.is_none() {
            kc::SqlValue::Null
        } else if let Ok(b) = p.downcast::<PyBool>() {
            kc::SqlValue::Integer(b.is_true() as i64)
        } else if p.is_instance_of::<PyLong>() {
            kc::SqlValue::Integer(p.extract::<i64>()?)
        } else if let Ok(f) = p.downcast::<PyFloat>() {
            kc::SqlValue::Real(f.value())
        } else if let Ok(s) = p.downcast::<PyString>() {
            kc::SqlValue::Text(s.extract::<String>()?)
        } else if let Ok(b) = p.downcast::<PyBytes>() {
            kc::SqlValue::Blob(b.as_bytes().to_vec())
        } else {
            return Err(PyTypeError::new_err(format!("unsupported SQL parameter type: {}", type_name(&p))));
        };
        out.push(v);
    }
    Ok(out)
}

fn sql_to_py(py: Python<'_>, v: &kc::SqlValue) -> PyObject {
    match v {
        kc::SqlValue::Null => py.None(),
        kc::SqlValue::Integer(i) => i.into_py(py),
        kc::SqlValue::Real(f) => f.into_py(py),
        kc::SqlValue::Text(s) => s.into_py(py),
        kc::SqlValue::Blob(b) => PyBytes::new_bound(py, b).into_py(py),
    }
}

impl PyTx {
    fn get(&self) -> PyResult<SendPtr> {
        self.ptr
            .get()
            .map(SendPtr)
            .ok_or_else(|| PyRuntimeError::new_err("this transaction is finished: use tx only inside the handler call"))
    }
}

#[pymethods]
impl PyTx {
    /// Runs a query inside the handler's transaction and returns every row as a dict.
    #[pyo3(signature = (sql, params=None))]
    fn query(&self, py: Python<'_>, sql: &str, params: Option<&Bound<'_, PyAny>>) -> PyResult<PyObject> {
        let params = to_sql_params(params)?;
        let p = self.get()?;
        let rows = py
            .allow_threads(move || {
                let p = p;
                // SAFETY: see SendPtr; the handler call that owns the HandlerTx is still running.
                let tx = unsafe { &*p.0 };
                tx.query(sql, &params)
            })
            .py(py)?;
        let list = PyList::empty_bound(py);
        for row in rows {
            let d = PyDict::new_bound(py);
            for (k, v) in &row {
                d.set_item(k, sql_to_py(py, v))?;
            }
            list.append(d)?;
        }
        Ok(list.into_py(py))
    }

    /// Runs a statement inside the handler's transaction; returns the number of changed rows.
    #[pyo3(signature = (sql, params=None))]
    fn execute(&self, py: Python<'_>, sql: &str, params: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
        let params = to_sql_params(params)?;
        let p = self.get()?;
        py.allow_threads(move || {
            let p = p;
            // SAFETY: as in `query`.
            let tx = unsafe { &*p.0 };
            tx.execute(sql, &params)
        })
        .py(py)
    }

    fn __repr__(&self) -> String {
        if self.ptr.get().is_some() {
            "<knocker Transaction (open)>".into()
        } else {
            "<knocker Transaction (finished)>".into()
        }
    }
}

/// A Python handler `handler(event, tx)`, registered in core's handler table.
struct PyHandler(Py<PyAny>);

impl kc::Handler for PyHandler {
    fn handle(&self, event: &kc::Event, tx: &kc::HandlerTx<'_>) -> Result<(), kc::HandlerError> {
        Python::with_gil(|py| {
            let ev = match event_tuple(py, event).and_then(|t| {
                models_module(py)?.getattr("Event")?.call1(t.bind(py).downcast::<PyTuple>()?.clone()).map(|o| o.unbind())
            }) {
                Ok(ev) => ev,
                Err(e) => return Err(kc::HandlerError::Failed(format!("building the event failed: {e}"))),
            };
            // SAFETY: the pointer is cleared before this function returns, so Python never
            // dereferences it after `tx` is gone (a kept reference raises instead).
            let raw: *const kc::HandlerTx<'static> = (tx as *const kc::HandlerTx<'_>).cast();
            let pytx = match Py::new(py, PyTx { ptr: Cell::new(Some(raw)) }) {
                Ok(t) => t,
                Err(e) => return Err(kc::HandlerError::Failed(e.to_string())),
            };
            let r = self.0.call1(py, (ev, pytx.clone_ref(py)));
            pytx.borrow(py).ptr.set(None);
            match r {
                Ok(v) => {
                    if v.bind(py).hasattr("__await__").unwrap_or(false) {
                        let _ = v.call_method0(py, "close");
                        return Err(kc::HandlerError::Failed(
                            "handler returned a coroutine; handlers must be synchronous functions".into(),
                        ));
                    }
                    Ok(())
                }
                Err(e) => Err(classify_handler_error(py, e)),
            }
        })
    }
}

fn classify_handler_error(py: Python<'_>, e: PyErr) -> kc::HandlerError {
    let v = e.value_bound(py);
    let msg = |v: &Bound<'_, PyAny>| -> String {
        let s = v.str().map(|s| s.to_string()).unwrap_or_default();
        if s.is_empty() {
            type_name(v)
        } else {
            s
        }
    };
    if let Ok(m) = errors_module(py) {
        if let Ok(retry) = m.getattr("Retry") {
            if v.is_instance(&retry).unwrap_or(false) {
                let after_s = v.getattr("after_s").and_then(|a| a.extract::<f64>()).unwrap_or(0.0);
                let reason = v
                    .getattr("reason")
                    .ok()
                    .filter(|r| !r.is_none())
                    .and_then(|r| r.str().ok().map(|s| s.to_string()))
                    .unwrap_or_else(|| format!("retry requested after {after_s}s"));
                return kc::HandlerError::RetryAfter { after_s, reason };
            }
        }
        if let Ok(discard) = m.getattr("Discard") {
            if v.is_instance(&discard).unwrap_or(false) {
                let reason = v
                    .getattr("reason")
                    .ok()
                    .filter(|r| !r.is_none())
                    .and_then(|r| r.str().ok().map(|s| s.to_string()))
                    .unwrap_or_else(|| "discarded by handler".into());
                return kc::HandlerError::Discard(reason);
            }
        }
    }
    kc::HandlerError::Failed(msg(v))
}

// ---------------------------------------------------------------------------------------------
// Stop signal
// ---------------------------------------------------------------------------------------------

/// A thread-safe stop flag for `run_worker` / `run_retention` loops running in a thread.
#[pyclass(frozen, module = "knocker._native", name = "StopSignal")]
struct PyStop(kc::StopSignal);

#[pymethods]
impl PyStop {
    #[new]
    fn new() -> Self {
        PyStop(kc::StopSignal::new())
    }
    /// Asks the loop to stop (it finishes the in-flight handler first).
    fn set(&self) {
        self.0.set()
    }
    /// Whether stop was asked.
    fn is_set(&self) -> bool {
        self.0.is_set()
    }
    /// Waits up to `timeout_s` seconds (GIL released); returns whether stop was set.
    fn wait(&self, py: Python<'_>, timeout_s: f64) -> bool {
        let s = self.0.clone();
        py.allow_threads(move || s.wait(Duration::from_secs_f64(timeout_s.max(0.0))))
    }
}

// ---------------------------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------------------------

/// The native handle. Use `knocker.Knocker`, which wraps it with keyword arguments and models.
#[pyclass(frozen, module = "knocker._native", name = "Knocker")]
struct PyKnocker {
    k: kc::Knocker,
}

#[pymethods]
impl PyKnocker {
    #[new]
    #[pyo3(signature = (path, *, busy_timeout_ms=None, synchronous=None, visibility_timeout_s=None,
        max_attempts=None, backoff_base_s=None, backoff_max_s=None, claim_batch=None, max_readers=None,
        max_body_bytes=None, idle_poll_ms=None, clock=None, handler_batch=None, handler_batch_max_ms=None,
        actor=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: &str,
        busy_timeout_ms: Option<u32>,
        synchronous: Option<&str>,
        visibility_timeout_s: Option<f64>,
        max_attempts: Option<u32>,
        backoff_base_s: Option<f64>,
        backoff_max_s: Option<f64>,
        claim_batch: Option<u32>,
        max_readers: Option<usize>,
        max_body_bytes: Option<usize>,
        idle_poll_ms: Option<u64>,
        clock: Option<Py<PyAny>>,
        handler_batch: Option<u32>,
        handler_batch_max_ms: Option<u64>,
        actor: Option<String>,
    ) -> PyResult<Self> {
        let mut o = kc::Options::default();
        if let Some(v) = busy_timeout_ms {
            o.busy_timeout_ms = v;
        }
        if let Some(s) = synchronous {
            o.synchronous = kc::Synchronous::parse(s).py(py)?;
        }
        if let Some(v) = visibility_timeout_s {
            o.visibility_timeout_s = v;
        }
        if let Some(v) = max_attempts {
            o.retry.max_attempts = v;
        }
        if let Some(v) = backoff_base_s {
            o.retry.backoff_base_s = v;
            if backoff_max_s.is_none() && o.retry.backoff_max_s < v {
                o.retry.backoff_max_s = v;
            }
        }
        if let Some(v) = backoff_max_s {
            o.retry.backoff_max_s = v;
        }
        if let Some(v) = claim_batch {
            o.claim_batch = v;
        }
        if let Some(v) = max_readers {
            o.max_readers = v;
        }
        if let Some(v) = max_body_bytes {
            o.max_body_bytes = v;
        }
        if let Some(v) = idle_poll_ms {
            o.idle_poll_ms = v;
        }
        if let Some(c) = clock {
            o.clock = Arc::new(PyClock(c));
        }
        if let Some(v) = handler_batch {
            o.handler_batch = v;
        }
        if let Some(v) = handler_batch_max_ms {
            o.handler_batch_max_ms = v;
        }
        let path = path.to_string();
        let k = py.allow_threads(move || kc::Knocker::open_with(&path, o)).py(py)?;
        let k = match actor {
            Some(a) => k.with_actor(&a),
            None => k,
        };
        Ok(PyKnocker { k })
    }

    /// Runs app SQL (schema set-up) on Knocker's own writer connection, in one transaction.
    fn execute_batch(&self, py: Python<'_>, sql: String) -> PyResult<()> {
        py.allow_threads(|| self.k.execute_batch(&sql)).py(py)
    }

    /// Operator audit rows, newest first: (id, action, actor, executed_at, target_kind, affected, ids, filters_json).
    #[pyo3(signature = (action=None, since=None, limit=50))]
    fn list_operator_audits(
        &self,
        py: Python<'_>,
        action: Option<String>,
        since: Option<i64>,
        limit: i64,
    ) -> PyResult<Vec<(i64, String, String, i64, String, i64, Vec<i64>, String)>> {
        let f = kc::OperatorAuditFilter { action, since, limit };
        let rows = py.allow_threads(|| self.k.list_operator_audits(&f)).py(py)?;
        Ok(rows
            .into_iter()
            .map(|a| (a.id, a.action, a.actor, a.executed_at, a.target_kind, a.affected, a.ids, a.filters_json))
            .collect())
    }

    #[getter]
    fn path(&self) -> String {
        self.k.path().to_string()
    }

    /// The effective handle options as a dict (no secrets).
    fn options(&self, py: Python<'_>) -> PyResult<PyObject> {
        let o = self.k.options();
        let d = PyDict::new_bound(py);
        d.set_item("busy_timeout_ms", o.busy_timeout_ms)?;
        d.set_item("synchronous", if o.synchronous == kc::Synchronous::Full { "full" } else { "normal" })?;
        d.set_item("visibility_timeout_s", o.visibility_timeout_s)?;
        d.set_item("max_attempts", o.retry.max_attempts)?;
        d.set_item("backoff_base_s", o.retry.backoff_base_s)?;
        d.set_item("backoff_max_s", o.retry.backoff_max_s)?;
        d.set_item("claim_batch", o.claim_batch)?;
        d.set_item("max_readers", o.max_readers)?;
        d.set_item("max_body_bytes", o.max_body_bytes)?;
        d.set_item("idle_poll_ms", o.idle_poll_ms)?;
        Ok(d.into_py(py))
    }

    fn close(&self, py: Python<'_>) {
        let k = self.k.clone();
        py.allow_threads(move || {
            k.close();
            k.clear_handlers();
        });
    }

    fn is_closed(&self) -> bool {
        self.k.is_closed()
    }

    fn provider_versions(&self) -> BTreeMap<String, String> {
        self.k.provider_versions()
    }

    /// Registers an app-local provider object (name, version, requires_secrets, verify,
    /// validate_options). Core refuses curated names.
    fn register_provider(&self, py: Python<'_>, obj: Py<PyAny>) -> PyResult<String> {
        let b = obj.bind(py);
        let name: String = b.getattr("name")?.extract().map_err(|_| PyTypeError::new_err("Provider.name must be a str"))?;
        let version: String =
            b.getattr("version")?.extract().map_err(|_| PyTypeError::new_err("Provider.version must be a str"))?;
        let requires_secrets = b.getattr("requires_secrets")?.is_truthy()?;
        let p = PyProvider { obj, name: name.clone(), version, requires_secrets };
        self.k.register_provider(Arc::new(p)).py(py)?;
        Ok(name)
    }

    #[pyo3(signature = (name, path, provider=None, secrets=None, provider_options_json=None, enabled=true,
        verification_required=None, max_body_bytes=None, max_attempts=None, backoff_base_s=None,
        backoff_max_s=None, body_hash_dedupe=false, event_key=None, delivery_key=None, dedupe_key=None,
        event_type_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_endpoint(
        &self,
        py: Python<'_>,
        name: String,
        path: String,
        provider: Option<String>,
        secrets: Option<Vec<Vec<u8>>>,
        provider_options_json: Option<&str>,
        enabled: bool,
        verification_required: Option<bool>,
        max_body_bytes: Option<usize>,
        max_attempts: Option<u32>,
        backoff_base_s: Option<f64>,
        backoff_max_s: Option<f64>,
        body_hash_dedupe: bool,
        event_key: Option<Py<PyAny>>,
        delivery_key: Option<Py<PyAny>>,
        dedupe_key: Option<Py<PyAny>>,
        event_type_key: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let mut c = kc::EndpointConfig::new(name, path);
        c.provider = provider;
        c.secrets = secrets.unwrap_or_default().into_iter().map(kc::Secret::new).collect();
        c.provider_options = parse_options(provider_options_json)?;
        c.enabled = enabled;
        c.verification_required = verification_required;
        c.max_body_bytes = max_body_bytes;
        if max_attempts.is_some() || backoff_base_s.is_some() || backoff_max_s.is_some() {
            let mut r = self.k.options().retry;
            if let Some(v) = max_attempts {
                r.max_attempts = v;
            }
            if let Some(v) = backoff_base_s {
                r.backoff_base_s = v;
                if backoff_max_s.is_none() && r.backoff_max_s < v {
                    r.backoff_max_s = v;
                }
            }
            if let Some(v) = backoff_max_s {
                r.backoff_max_s = v;
            }
            c.retry = Some(r);
        }
        c.body_hash_dedupe = body_hash_dedupe;
        c.event_key = event_key.map(key_fn);
        c.delivery_key = delivery_key.map(key_fn);
        c.dedupe_key = dedupe_key.map(key_fn);
        c.event_type_key = event_type_key.map(key_fn);
        let k = self.k.clone();
        py.allow_threads(move || k.add_endpoint(c)).py(py)
    }

    fn endpoint_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let k = self.k.clone();
        py.allow_threads(move || k.endpoint_names()).py(py)
    }

    /// Verifies and stores one receipt. Returns (delivery_id, event_id, duplicate, status_code,
    /// response_body, response_content_type, error_code).
    #[pyo3(signature = (endpoint, body, headers=None, query=None, method="POST", url=None, event_type=None,
        provider_event_id=None, provider_delivery_id=None, dedupe_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn receive(
        &self,
        py: Python<'_>,
        endpoint: &str,
        body: &Bound<'_, PyBytes>,
        headers: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        method: &str,
        url: Option<&str>,
        event_type: Option<String>,
        provider_event_id: Option<String>,
        provider_delivery_id: Option<String>,
        dedupe_key: Option<String>,
    ) -> PyResult<PyObject> {
        let overrides = [event_type, provider_event_id, provider_delivery_id, dedupe_key];
        let receipt = receipt(body, headers, query, method, url, overrides)?;
        let k = &self.k;
        let r = py.allow_threads(|| k.receive(endpoint, &receipt)).py(py)?;
        Ok(ingest_tuple(py, r))
    }

    /// Stores one receipt with the caller's verification outcome (trusted ingress).
    #[pyo3(signature = (endpoint, body, headers=None, query=None, method="POST", url=None, event_type=None,
        provider_event_id=None, provider_delivery_id=None, dedupe_key=None, signature_valid=Some(true),
        signature_error=None))]
    #[allow(clippy::too_many_arguments)]
    fn ingest(
        &self,
        py: Python<'_>,
        endpoint: &str,
        body: &Bound<'_, PyBytes>,
        headers: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        method: &str,
        url: Option<&str>,
        event_type: Option<String>,
        provider_event_id: Option<String>,
        provider_delivery_id: Option<String>,
        dedupe_key: Option<String>,
        signature_valid: Option<bool>,
        signature_error: Option<String>,
    ) -> PyResult<PyObject> {
        let overrides = [event_type, provider_event_id, provider_delivery_id, dedupe_key];
        let receipt = receipt(body, headers, query, method, url, overrides)?;
        let outcome = kc::TrustedOutcome { signature_valid, signature_error };
        let k = &self.k;
        let r = py.allow_threads(|| k.ingest(endpoint, &receipt, outcome)).py(py)?;
        Ok(ingest_tuple(py, r))
    }

    fn get_event(&self, py: Python<'_>, event_id: i64) -> PyResult<PyObject> {
        let k = &self.k;
        let e = py.allow_threads(|| k.get_event(event_id)).py(py)?;
        event_tuple(py, &e)
    }

    #[pyo3(signature = (status=None, endpoint=None, event_type=None, since=None, until=None, before_id=None, limit=100))]
    #[allow(clippy::too_many_arguments)]
    fn list_events(
        &self,
        py: Python<'_>,
        status: Option<String>,
        endpoint: Option<String>,
        event_type: Option<String>,
        since: Option<i64>,
        until: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> PyResult<Vec<PyObject>> {
        let f = kc::EventFilter { status, endpoint, event_type, since, until, before_id, limit };
        let k = &self.k;
        let rows = py.allow_threads(|| k.list_events(&f)).py(py)?;
        rows.iter().map(|e| event_tuple(py, e)).collect()
    }

    fn get_delivery(&self, py: Python<'_>, delivery_id: i64) -> PyResult<PyObject> {
        let k = &self.k;
        let d = py.allow_threads(|| k.get_delivery(delivery_id)).py(py)?;
        delivery_tuple(py, &d)
    }

    #[pyo3(signature = (event_id=None, endpoint=None, signature_valid=None, orphaned=None, since=None, limit=100))]
    #[allow(clippy::too_many_arguments)]
    fn list_deliveries(
        &self,
        py: Python<'_>,
        event_id: Option<i64>,
        endpoint: Option<String>,
        signature_valid: Option<bool>,
        orphaned: Option<bool>,
        since: Option<i64>,
        limit: i64,
    ) -> PyResult<Vec<PyObject>> {
        let f = kc::DeliveryFilter { event_id, endpoint, signature_valid, orphaned, since, limit };
        let k = &self.k;
        let rows = py.allow_threads(|| k.list_deliveries(&f)).py(py)?;
        rows.iter().map(|d| delivery_tuple(py, d)).collect()
    }

    /// Attempt rows of one event, oldest first: (id, event_id, attempt_no, worker_id,
    /// delivery_id, started_at_ms, finished_at_ms, duration_ms, outcome, error).
    fn list_attempts(&self, py: Python<'_>, event_id: i64) -> PyResult<Vec<PyObject>> {
        let k = &self.k;
        let rows = py.allow_threads(|| k.list_attempts(event_id)).py(py)?;
        Ok(rows
            .into_iter()
            .map(|a| {
                (
                    a.id,
                    a.event_id,
                    a.attempt_no,
                    a.worker_id,
                    a.delivery_id,
                    a.started_at_ms,
                    a.finished_at_ms,
                    a.duration_ms,
                    a.outcome,
                    a.error,
                )
                    .into_py(py)
            })
            .collect())
    }

    #[pyo3(signature = (kind=None, since=None, limit=50))]
    fn list_prune_audits(&self, py: Python<'_>, kind: Option<String>, since: Option<i64>, limit: i64) -> PyResult<Vec<PyObject>> {
        let f = kc::AuditFilter { kind, since, limit };
        let k = &self.k;
        let rows = py.allow_threads(|| k.list_prune_audits(&f)).py(py)?;
        Ok(rows
            .into_iter()
            .map(|a| (a.id, a.kind, a.executed_at, a.events_pruned, a.deliveries_pruned, a.attempts_pruned, a.summary_json).into_py(py))
            .collect())
    }

    /// Counters and histograms of this handle plus the file's gauges, as plain dicts/tuples.
    fn metrics(&self, py: Python<'_>) -> PyResult<PyObject> {
        let k = &self.k;
        let m = py.allow_threads(|| k.metrics()).py(py)?;
        let d = PyDict::new_bound(py);
        let eps = PyDict::new_bound(py);
        for (name, e) in &m.endpoints {
            let ed = PyDict::new_bound(py);
            ed.set_item("receipts", e.receipts.clone().into_py(py))?;
            ed.set_item("invalid_by_error_code", e.invalid_by_error_code.clone().into_py(py))?;
            ed.set_item("handler_attempts", e.handler_attempts.clone().into_py(py))?;
            ed.set_item("dead_letters", e.dead_letters)?;
            ed.set_item("retries", e.retries)?;
            eps.set_item(name, ed)?;
        }
        d.set_item("endpoints", eps)?;
        d.set_item("unknown_endpoint_receipts", m.unknown_endpoint_receipts)?;
        d.set_item("receive_errors", m.receive_errors)?;
        for (key, h) in [("receive_duration", &m.receive_duration), ("handler_duration", &m.handler_duration), ("enqueue_to_handled", &m.enqueue_to_handled)] {
            d.set_item(key, (h.buckets.clone(), h.count, h.sum_s))?;
        }
        let s = &m.stats;
        let sd = PyDict::new_bound(py);
        sd.set_item("by_status", s.by_status.clone().into_py(py))?;
        sd.set_item("by_endpoint", s.by_endpoint.clone().into_py(py))?;
        sd.set_item("claimable", s.claimable)?;
        sd.set_item("oldest_claimable_age_s", s.oldest_claimable_age_s)?;
        sd.set_item("dead", s.dead)?;
        sd.set_item("processing", s.processing)?;
        sd.set_item("orphan_deliveries", s.orphan_deliveries)?;
        d.set_item("stats", sd)?;
        Ok(d.into_py(py))
    }

    /// The Prometheus text exposition (0.0.4) of `metrics()`.
    fn prometheus_text(&self, py: Python<'_>) -> PyResult<String> {
        let k = &self.k;
        py.allow_threads(|| k.prometheus_text()).py(py)
    }

    fn stats(&self, py: Python<'_>) -> PyResult<PyObject> {
        let k = &self.k;
        let s = py.allow_threads(|| k.stats()).py(py)?;
        let d = PyDict::new_bound(py);
        d.set_item("by_status", s.by_status.into_py(py))?;
        d.set_item("by_endpoint", s.by_endpoint.into_py(py))?;
        d.set_item("claimable", s.claimable)?;
        d.set_item("oldest_claimable_age_s", s.oldest_claimable_age_s)?;
        d.set_item("dead", s.dead)?;
        d.set_item("processing", s.processing)?;
        d.set_item("orphan_deliveries", s.orphan_deliveries)?;
        Ok(d.into_py(py))
    }

    fn ignore(&self, py: Python<'_>, event_id: i64) -> PyResult<()> {
        let k = &self.k;
        py.allow_threads(|| k.ignore(event_id)).py(py)
    }

    fn replay(&self, py: Python<'_>, event_id: i64) -> PyResult<()> {
        let k = &self.k;
        py.allow_threads(|| k.replay(event_id)).py(py)
    }

    fn requeue(&self, py: Python<'_>, event_id: i64) -> PyResult<()> {
        let k = &self.k;
        py.allow_threads(|| k.requeue(event_id)).py(py)
    }

    fn replay_delivery(&self, py: Python<'_>, delivery_id: i64) -> PyResult<()> {
        let k = &self.k;
        py.allow_threads(|| k.replay_delivery(delivery_id)).py(py)
    }

    /// Returns (events_pruned, attempts_pruned, deliveries_pruned, dry_run).
    #[pyo3(signature = (statuses, older_than, limit, dry_run=false))]
    fn prune_events(&self, py: Python<'_>, statuses: Vec<String>, older_than: i64, limit: i64, dry_run: bool) -> PyResult<PyObject> {
        let statuses = statuses.iter().map(|s| parse_status(s)).collect::<PyResult<Vec<_>>>()?;
        let p = kc::PruneEvents { statuses, older_than, limit, dry_run };
        let k = &self.k;
        let r = py.allow_threads(|| k.prune_events(&p)).py(py)?;
        Ok(prune_events_tuple(py, &r))
    }

    /// Returns (deliveries_pruned, dry_run).
    #[pyo3(signature = (older_than, limit, dry_run=false))]
    fn prune_orphan_deliveries(&self, py: Python<'_>, older_than: i64, limit: i64, dry_run: bool) -> PyResult<PyObject> {
        let p = kc::PruneOrphans { older_than, limit, dry_run };
        let k = &self.k;
        let r = py.allow_threads(|| k.prune_orphan_deliveries(&p)).py(py)?;
        Ok(prune_orphans_tuple(py, &r))
    }

    /// Validates a retention policy (raises InvalidArgumentError).
    #[staticmethod]
    #[pyo3(signature = (interval_s, event_statuses, event_older_than_s, event_limit, orphan_deliveries_older_than_s, orphan_deliveries_limit))]
    fn validate_retention(
        py: Python<'_>,
        interval_s: f64,
        event_statuses: Vec<String>,
        event_older_than_s: Option<i64>,
        event_limit: i64,
        orphan_deliveries_older_than_s: Option<i64>,
        orphan_deliveries_limit: i64,
    ) -> PyResult<()> {
        let p = retention_policy(interval_s, event_statuses, event_older_than_s, event_limit, orphan_deliveries_older_than_s, orphan_deliveries_limit)?;
        kc::Knocker::validate_retention(&p).py(py)
    }

    /// One retention pass under the file-wide lease. Returns (ran, events_result|None,
    /// orphans_result|None).
    #[pyo3(signature = (owner, interval_s, event_statuses, event_older_than_s, event_limit, orphan_deliveries_older_than_s, orphan_deliveries_limit))]
    #[allow(clippy::too_many_arguments)]
    fn run_retention_pass(
        &self,
        py: Python<'_>,
        owner: &str,
        interval_s: f64,
        event_statuses: Vec<String>,
        event_older_than_s: Option<i64>,
        event_limit: i64,
        orphan_deliveries_older_than_s: Option<i64>,
        orphan_deliveries_limit: i64,
    ) -> PyResult<PyObject> {
        let p = retention_policy(interval_s, event_statuses, event_older_than_s, event_limit, orphan_deliveries_older_than_s, orphan_deliveries_limit)?;
        let k = &self.k;
        let r = py.allow_threads(|| k.run_retention_pass(&p, owner)).py(py)?;
        Ok((
            r.ran,
            r.events.map(|e| prune_events_tuple(py, &e)),
            r.orphans.map(|o| prune_orphans_tuple(py, &o)),
        )
            .into_py(py))
    }

    /// Registers a handler `handler(event, tx)` for (endpoint, event_type); None = endpoint-wide.
    #[pyo3(signature = (endpoint, event_type, handler))]
    fn handle(&self, endpoint: &str, event_type: Option<&str>, handler: Py<PyAny>) {
        self.k.handle(endpoint, event_type, Arc::new(PyHandler(handler)));
    }

    /// Processes until nothing is claimable (or max_events); returns the count.
    #[pyo3(signature = (max_events=None))]
    fn drain(&self, py: Python<'_>, max_events: Option<usize>) -> PyResult<usize> {
        let k = &self.k;
        py.allow_threads(|| k.drain(max_events)).py(py)
    }

    /// Runs core's worker loop on the calling thread (GIL released) until `stop` is set or the
    /// handle closes. Loop errors are recorded in worker state and raised.
    #[pyo3(signature = (stop, worker_id=None, idle_poll_s=0.1, claim_batch=None))]
    fn run_worker(
        &self,
        py: Python<'_>,
        stop: &Bound<'_, PyStop>,
        worker_id: Option<String>,
        idle_poll_s: f64,
        claim_batch: Option<u32>,
    ) -> PyResult<()> {
        if !(idle_poll_s > 0.0 && idle_poll_s.is_finite()) {
            return Err(PyValueError::new_err("idle_poll_s must be a finite number > 0"));
        }
        let opts = kc::WorkerOptions { worker_id, idle_poll: Duration::from_secs_f64(idle_poll_s), claim_batch };
        let stop = stop.get().0.clone();
        let k = &self.k;
        py.allow_threads(|| k.run_worker(&opts, &stop, |_| {})).py(py)
    }

    /// (worker_id, running, started_at, current_event_id, processed, failed, last_error, last_error_at)
    fn worker_states(&self, py: Python<'_>) -> Vec<PyObject> {
        self.k
            .worker_states()
            .into_iter()
            .map(|s| {
                (s.worker_id, s.running, s.started_at, s.current_event_id, s.processed, s.failed, s.last_error, s.last_error_at)
                    .into_py(py)
            })
            .collect()
    }
}

fn retention_policy(
    interval_s: f64,
    event_statuses: Vec<String>,
    event_older_than_s: Option<i64>,
    event_limit: i64,
    orphan_deliveries_older_than_s: Option<i64>,
    orphan_deliveries_limit: i64,
) -> PyResult<kc::RetentionPolicy> {
    Ok(kc::RetentionPolicy {
        interval_s,
        event_statuses: event_statuses.iter().map(|s| parse_status(s)).collect::<PyResult<Vec<_>>>()?,
        event_older_than_s,
        event_limit,
        orphan_deliveries_older_than_s,
        orphan_deliveries_limit,
    })
}

// ---------------------------------------------------------------------------------------------
// Module functions
// ---------------------------------------------------------------------------------------------

/// The curated catalogue as a list of dicts (name, version, algorithm, options, idempotency_key,
/// doc, doc_url).
#[pyfunction]
fn provider_catalogue(py: Python<'_>) -> PyResult<Vec<PyObject>> {
    kc::Knocker::provider_catalogue()
        .into_iter()
        .map(|p| {
            let d = PyDict::new_bound(py);
            d.set_item("name", p.name)?;
            d.set_item("version", p.version)?;
            d.set_item("algorithm", p.algorithm)?;
            let opts = PyList::empty_bound(py);
            for o in p.options {
                let od = PyDict::new_bound(py);
                od.set_item("key", o.key)?;
                od.set_item("kind", format!("{:?}", o.kind).to_ascii_lowercase())?;
                od.set_item("default", o.default)?;
                od.set_item("doc", o.doc)?;
                opts.append(od)?;
            }
            d.set_item("options", opts)?;
            d.set_item("idempotency_key", p.idempotency_key)?;
            d.set_item("doc", p.doc)?;
            d.set_item("doc_url", p.doc_url)?;
            Ok(d.into_py(py))
        })
        .collect()
}

/// Test helper for the shared provider vectors: runs a curated provider's `verify` with an
/// injected clock. Production verification goes through `Knocker.receive`.
#[pyfunction]
#[pyo3(signature = (provider, method, url, headers, query, body, secrets, options_json, now))]
#[allow(clippy::too_many_arguments)]
fn verify_vector(
    py: Python<'_>,
    provider: &str,
    method: &str,
    url: Option<&str>,
    headers: &Bound<'_, PyAny>,
    query: &Bound<'_, PyAny>,
    body: &Bound<'_, PyBytes>,
    secrets: Vec<Vec<u8>>,
    options_json: Option<&str>,
    now: i64,
) -> PyResult<PyObject> {
    let p = kc::providers::find(provider).ok_or_else(|| to_py_err(py, kc::Error::UnknownProvider(provider.to_string())))?;
    let headers = to_pairs(Some(headers), "headers")?;
    let query = to_pairs(Some(query), "query")?;
    let options = parse_options(options_json)?;
    let secrets: Vec<kc::Secret> = secrets.into_iter().map(kc::Secret::new).collect();
    let body = body.as_bytes();
    let v = py.allow_threads(|| {
        let req = kc::provider::Request { method, url, headers: &headers, query: &query, body };
        let ctx = kc::provider::VerifyContext { secrets: &secrets, options: &options, now_s: now };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.verify(&req, &ctx)))
    });
    let v = v.map_err(|_| PyRuntimeError::new_err(format!("provider {provider} panicked")))?;
    let d = PyDict::new_bound(py);
    d.set_item("valid", v.is_valid())?;
    d.set_item("error_code", v.result.as_ref().err().map(|r| r.code.clone()))?;
    d.set_item("error", v.result.as_ref().err().map(|r| r.message.clone()))?;
    d.set_item("secret_index", v.result.as_ref().ok().copied().flatten())?;
    d.set_item("event_id", v.metadata.event_id)?;
    d.set_item("event_type", v.metadata.event_type)?;
    d.set_item("delivery_id", v.metadata.delivery_id)?;
    d.set_item("idempotency_key", v.metadata.idempotency_key)?;
    match v.handshake {
        Some(h) => {
            let hd = PyDict::new_bound(py);
            hd.set_item("status_code", h.status_code)?;
            hd.set_item("content_type", h.content_type)?;
            hd.set_item("body", PyBytes::new_bound(py, &h.body))?;
            d.set_item("handshake", hd)?;
        }
        None => d.set_item("handshake", py.None())?,
    }
    Ok(d.into_py(py))
}

/// Which SQLite this extension runs: version, whether it is compiled in (`bundled`) or the
/// shared system library, and the file the library was loaded from.
#[pyfunction]
fn sqlite_info(py: Python<'_>) -> PyResult<PyObject> {
    let d = PyDict::new_bound(py);
    d.set_item("version", rusqlite::version())?;
    d.set_item("version_number", rusqlite::version_number())?;
    d.set_item("bundled", cfg!(feature = "bundled"))?;
    d.set_item("library_path", library_path_of(rusqlite::ffi::sqlite3_libversion as *const libc::c_void))?;
    d.set_item("extension_path", library_path_of(sqlite_info as *const libc::c_void))?;
    Ok(d.into_py(py))
}

fn library_path_of(addr: *const libc::c_void) -> Option<String> {
    // SAFETY: dladdr only reads the loader's tables; `info` is fully written when it returns non-zero.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(addr, &mut info) != 0 && !info.dli_fname.is_null() {
            let p = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned();
            return std::fs::canonicalize(&p).map(|c| c.to_string_lossy().into_owned()).ok().or(Some(p));
        }
    }
    None
}

/// Routes Knocker's log events to `callback(level, target, message, fields)` (a Python callable;
/// `fields` is a list of (name, value) string pairs). Installed once per process as the global
/// `tracing` subscriber; returns False when one was already installed.
#[pyfunction]
fn install_log_bridge(callback: PyObject) -> bool {
    let cb = Arc::new(callback);
    kc::logs::install_log_callback(
        kc::logs::Level::DEBUG,
        Arc::new(move |r: &kc::logs::LogRecord| {
            // Never from a thread that could block the interpreter's shutdown forever.
            if unsafe { pyo3::ffi::Py_IsInitialized() } == 0 {
                return;
            }
            Python::with_gil(|py| {
                if let Err(e) = cb.call1(py, (r.level, r.target.as_str(), r.message.as_str(), r.fields.clone())) {
                    e.write_unraisable_bound(py, None);
                }
            });
        }),
    )
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKnocker>()?;
    m.add_class::<PyTx>()?;
    m.add_class::<PyStop>()?;
    m.add_function(wrap_pyfunction!(provider_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(verify_vector, m)?)?;
    m.add_function(wrap_pyfunction!(sqlite_info, m)?)?;
    m.add_function(wrap_pyfunction!(install_log_bridge, m)?)?;
    m.add("SCHEMA_VERSION", kc::SCHEMA_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

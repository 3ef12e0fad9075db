//! The handle: one SQLite file, a writer connection, pools of reader and worker connections,
//! the endpoint runtime config (secrets live only here) and the handler registry.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};
use tracing::{debug_span, info_span, warn};


use crate::error::{Error, Result};
use crate::model::*;
use crate::options::*;
use crate::provider::{codes, Metadata, Pairs, Provider, ProviderInfo, Rejection, Request, Verification, VerifyContext};
use crate::providers;
use crate::checkpoint::WalProgress;
use crate::storage::{self, ConnSettings, EndpointRow};
use crate::worker::{Handler, WorkerRegistry};

/// One inbound request handed to `receive` or `ingest`, plus the caller's metadata overrides.
#[derive(Debug, Clone, Default)]
pub struct Receipt<'a> {
    pub method: &'a str,
    pub url: Option<&'a str>,
    pub headers: Pairs,
    pub query: Pairs,
    pub body: &'a [u8],
    /// Overrides: explicit values win over everything a provider or key function extracted.
    pub event_type: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub dedupe_key: Option<String>,
}

impl<'a> Receipt<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        Receipt { method: "POST", body, ..Default::default() }
    }
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }
}

/// The caller's verification outcome for `ingest` (trusted ingress).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedOutcome {
    /// `Some(true)` valid, `Some(false)` invalid (stored as an orphan), `None` not verified
    /// (accepted, stored as NULL).
    pub signature_valid: Option<bool>,
    pub signature_error: Option<String>,
}

impl TrustedOutcome {
    pub fn valid() -> Self {
        TrustedOutcome { signature_valid: Some(true), signature_error: None }
    }
}

/// Runtime (in-memory) part of an endpoint.
#[derive(Clone)]
pub(crate) struct EndpointRuntime {
    pub config: EndpointConfig,
    pub provider: Option<Arc<dyn Provider>>,
}

/// A small pool of connections opened on demand.
pub(crate) struct Pool {
    path: String,
    settings: ConnSettings,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    /// Bumped when every connection must be reopened (see [`WalGuard`]); connections of an
    /// older generation are dropped instead of returning to the pool.
    generation: AtomicU64,
    /// The WAL hook's target for this pool's connections; after `idle`, so that it outlives them.
    wal_progress: Arc<WalProgress>,
}

pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
    generation: u64,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("pooled connection present until drop")
    }
}
impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("pooled connection present until drop")
    }
}
impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            // A connection left inside a transaction (a panic mid-way) is not reused.
            if !c.is_autocommit() || self.generation != self.pool.generation.load(Ordering::SeqCst) {
                return;
            }
            let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.pool.max_idle {
                idle.push(c);
            }
        }
    }
}

impl Pool {
    fn new(path: &str, settings: ConnSettings, max_idle: usize, wal_progress: Arc<WalProgress>) -> Self {
        Pool {
            path: path.to_string(),
            settings,
            idle: Mutex::new(Vec::new()),
            max_idle,
            generation: AtomicU64::new(0),
            wal_progress,
        }
    }
    pub(crate) fn get(&self) -> Result<Pooled<'_>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let existing = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match existing {
            Some(c) => c,
            None => storage::open_connection(&self.path, self.settings, Some(&self.wal_progress))?,
        };
        Ok(Pooled { pool: self, conn: Some(conn), generation })
    }
    fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
    /// Drops every idle connection and retires the ones in use.
    fn retire_all(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        idle.clear();
    }
}

/// Detects the "two SQLite libraries in one process" hazard (DESIGN.md "One SQLite per
/// process"): when another copy of SQLite in this process (better-sqlite3, a bundled driver)
/// closes its last connection to our file, it believes it is alone (POSIX locks are per
/// process), checkpoints and deletes `-wal` and `-shm`. Our connections would then commit into
/// an unlinked file and lose those commits at the next crash. Every write checks the WAL file's
/// identity before it begins (reopening every connection when it changed) and after it commits
/// (failing the call, so that no 2xx is given for a commit that may be lost).
pub(crate) struct WalGuard {
    wal_path: Option<String>,
    /// The WAL file our connections use, held open: once another library deletes (or replaces)
    /// it, its link count drops to 0. Checking that with `fstat` on this descriptor costs a
    /// fraction of a path lookup, and the check runs twice per commit.
    known: Mutex<Option<std::fs::File>>,
}

impl WalGuard {
    fn new(db_path: &str) -> Self {
        let wal_path = (db_path != ":memory:" && !db_path.is_empty() && !db_path.starts_with("file:"))
            .then(|| format!("{db_path}-wal"));
        let g = WalGuard { wal_path, known: Mutex::new(None) };
        g.changed();
        g
    }

    /// Whether the WAL file is no longer the one our connections use. Records the file the
    /// first time it is seen.
    fn changed(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(path) = &self.wal_path else { return false };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        match &*known {
            None => {
                *known = std::fs::File::open(path).ok();
                false
            }
            Some(file) => file.metadata().map_or(true, |m| m.nlink() == 0),
        }
    }

    fn forget(&self) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Lets the checkpointer take the writer ahead of callers (see [`Inner::writer_pause`]).
#[derive(Default)]
pub(crate) struct WriterPause {
    requested: AtomicBool,
    paused: Mutex<bool>,
    resumed: Condvar,
}

impl WriterPause {
    /// Returns at once unless a pause is requested (one atomic load on the fast path).
    pub(crate) fn wait_until_resumed(&self) {
        if self.requested.load(Ordering::Acquire) {
            let paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
            drop(self.resumed.wait_while(paused, |p| *p).unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Holds new writers back until the returned guard is dropped.
    pub(crate) fn pause(&self) -> PauseGuard<'_> {
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.requested.store(true, Ordering::Release);
        PauseGuard(self)
    }
}

pub(crate) struct PauseGuard<'a>(&'a WriterPause);

impl Drop for PauseGuard<'_> {
    fn drop(&mut self) {
        let mut paused = self.0.paused.lock().unwrap_or_else(|e| e.into_inner());
        *paused = false;
        self.0.requested.store(false, Ordering::Release);
        drop(paused);
        self.0.resumed.notify_all();
    }
}

/// In-process wake-up: a generation counter bumped on every commit that may create work.
#[derive(Default)]
pub(crate) struct Notify {
    /// (generation, threads waiting in `wait_past`)
    state: Mutex<(u64, usize)>,
    cv: Condvar,
}

impl Notify {
    pub(crate) fn current(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }
    /// Every commit calls this; waking a condition variable is a system call even when nobody
    /// waits, so it is skipped then (waiters register under the same lock, so none is missed).
    pub(crate) fn bump(&self) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = g.0.wrapping_add(1);
        if g.1 > 0 {
            self.cv.notify_all();
        }
    }
    /// Waits until the generation moves past `seen` or the timeout passes. Returns whether it moved.
    pub(crate) fn wait_past(&self, seen: u64, timeout: std::time::Duration) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.1 += 1;
        let (mut g, _) = self.cv.wait_timeout_while(g, timeout, |g| g.0 == seen).unwrap_or_else(|e| e.into_inner());
        g.1 -= 1;
        g.0 != seen
    }
}

pub(crate) struct Inner {
    pub path: String,
    pub options: Options,
    pub writer: Mutex<Option<Connection>>,
    /// Set while the checkpointer waits for or holds the writer (see `checkpoint.rs`): callers
    /// wait until it is done instead of taking the writer, so that a caller that releases the
    /// writer and at once asks for it again (a sequential ingest loop) cannot keep it from the
    /// checkpointer. A mutex is not fair: a catch-up that waited 30 ms for it had 5,000 more
    /// frames to copy while it held ingress.
    pub writer_pause: WriterPause,
    pub readers: Pool,
    pub workers: Pool,
    pub endpoints: RwLock<HashMap<String, EndpointRuntime>>,
    pub custom_providers: RwLock<HashMap<String, Arc<dyn Provider>>>,
    pub handlers: RwLock<HashMap<(String, Option<String>), Arc<dyn Handler>>>,
    pub notify: Notify,
    pub wal_guard: WalGuard,
    /// Stored endpoint rows as last read inside a write transaction, with the writer
    /// connection's `data_version` then: the pre-checks of `receive` (body limit, whether
    /// verification is required) read them without a query, and a write transaction re-reads a
    /// row only when another connection has committed since (see `ingress.rs`).
    pub endpoint_rows: RwLock<HashMap<String, (EndpointRow, i64)>>,
    /// Receipts waiting for the next group commit (see `ingress.rs`).
    pub ingest_queue: Mutex<Vec<Arc<crate::ingress::PendingReceipt>>>,
    /// The background checkpointer; `close` wakes and joins it before closing the writer.
    pub checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The checkpointer's connection, opened on its first pass. It lives here rather than on
    /// the checkpointer's stack so that [`Knocker::reopen_connections`] can close it with the
    /// others: a connection left on a deleted WAL would keep SQLite's in-process view of the
    /// old shared-memory index alive for the new connections, and would checkpoint frames from
    /// the old file. Lock order: `writer` before this.
    pub checkpoint_conn: Mutex<Option<Connection>>,
    pub worker_registry: WorkerRegistry,
    pub closed: AtomicBool,
    pub token_counter: AtomicU64,
    pub handle_id: String,
    /// Process-local counters and histograms (metrics.rs).
    pub metrics: crate::metrics::Metrics,
    /// What the connections' WAL hook reports to the checkpointer. Declared last: every
    /// connection above points at it and is closed before it is dropped.
    pub wal_progress: Arc<WalProgress>,
}

/// A Knocker handle on one SQLite file. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Knocker {
    pub(crate) inner: Arc<Inner>,
    /// Who operator actions through this clone are attributed to (audit rows).
    actor: Arc<str>,
}

impl std::fmt::Debug for Knocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knocker").field("path", &self.inner.path).field("options", &self.inner.options).finish()
    }
}

/// The actor recorded in operator audit rows when none is set.
pub const DEFAULT_ACTOR: &str = "app";

fn check_limit(limit: i64) -> Result<()> {
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid(format!("limit must be between 1 and 1000, got {limit}")));
    }
    Ok(())
}

pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Knocker {
    /// Opens (creating if needed) a Knocker file with default options.
    pub fn open(path: &str) -> Result<Knocker> {
        Knocker::open_with(path, Options::default())
    }

    /// Opens with options. Applies pragmas and forward-only migrations; refuses a newer schema.
    pub fn open_with(path: &str, options: Options) -> Result<Knocker> {
        options.validate()?;
        let _span = info_span!("knocker.open", path = %path).entered();
        let settings = ConnSettings {
            busy_timeout_ms: options.busy_timeout_ms,
            synchronous_full: options.synchronous == Synchronous::Full,
        };
        let wal_progress = Arc::new(WalProgress::default());
        let mut writer = storage::open_connection(path, settings, Some(&wal_progress))?;
        storage::migrate(&mut writer)?;
        let inner = Inner {
            path: path.to_string(),
            readers: Pool::new(path, settings, options.max_readers, wal_progress.clone()),
            workers: Pool::new(path, settings, 4, wal_progress.clone()),
            options,
            writer: Mutex::new(Some(writer)),
            writer_pause: WriterPause::default(),
            endpoints: RwLock::new(HashMap::new()),
            custom_providers: RwLock::new(HashMap::new()),
            handlers: RwLock::new(HashMap::new()),
            notify: Notify::default(),
            wal_guard: WalGuard::new(path),
            endpoint_rows: RwLock::new(HashMap::new()),
            ingest_queue: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(None),
            checkpoint_conn: Mutex::new(None),
            worker_registry: WorkerRegistry::default(),
            closed: AtomicBool::new(false),
            token_counter: AtomicU64::new(0),
            handle_id: random_hex(6),
            metrics: Default::default(),
            wal_progress,
        };
        let inner = Arc::new(inner);
        let checkpointer = crate::checkpoint::spawn(&inner, settings);
        *inner.checkpointer.lock().unwrap_or_else(|e| e.into_inner()) = checkpointer;
        Ok(Knocker { inner, actor: Arc::from(DEFAULT_ACTOR) })
    }

    /// A clone of this handle whose operator actions are audited as done by `actor` (a person,
    /// a tool: `"cli:alice"`, `"admin-ui"`). Shares connections and state with `self`.
    pub fn with_actor(&self, actor: &str) -> Knocker {
        Knocker { inner: self.inner.clone(), actor: Arc::from(actor) }
    }

    /// The actor operator actions are recorded under.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    fn audit(&self, tx: &Connection, action: &str, target_kind: &str, ids: &[i64], filters: serde_json::Value, now_ms: i64) -> Result<()> {
        storage::insert_operator_audit(
            tx,
            &storage::AuditEntry { action, actor: &self.actor, executed_at: now_ms.div_euclid(1000), target_kind, ids, filters },
        )
    }

    /// The file this handle is on.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Closes every connection. Later calls fail with [`Error::Closed`]. Running workers stop at
    /// their next step.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.notify.bump();
        // Stop the checkpointer first, so that the writer is the last connection to close: SQLite
        // then checkpoints the WAL into the file and removes it, leaving one self-contained file.
        let checkpointer = self.inner.checkpointer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = checkpointer {
            handle.thread().unpark();
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        *self.inner.checkpoint_conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.inner.readers.clear();
        self.inner.workers.clear();
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.options.clock.now_ms()
    }

    /// The writer connection, checked against the WAL hazard before a write begins.
    pub(crate) fn writer(&self) -> Result<MutexGuard<'_, Option<Connection>>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.inner.writer_pause.wait_until_resumed();
        let mut guard = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(Error::Closed);
        }
        if self.inner.wal_guard.changed() {
            self.reopen_connections(&mut guard)?;
        }
        Ok(guard)
    }

    /// Reopens every connection after the WAL file was replaced under us.
    fn reopen_connections(&self, writer: &mut Option<Connection>) -> Result<()> {
        warn!(path = %self.inner.path, "the WAL file was deleted or replaced by another SQLite library in this process; reopening Knocker's connections");
        let settings = ConnSettings {
            busy_timeout_ms: self.inner.options.busy_timeout_ms,
            synchronous_full: self.inner.options.synchronous == Synchronous::Full,
        };
        *writer = None;
        self.inner.endpoint_rows.write().unwrap_or_else(|e| e.into_inner()).clear();
        *self.inner.checkpoint_conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.inner.readers.retire_all();
        self.inner.workers.retire_all();
        *writer = Some(storage::open_connection(&self.inner.path, settings, Some(&self.inner.wal_progress))?);
        self.inner.wal_guard.forget();
        self.inner.wal_guard.changed();
        Ok(())
    }

    /// After a commit: fails when the commit may have gone into a WAL file that another SQLite
    /// library in this process deleted meanwhile (the caller must not acknowledge it).
    pub(crate) fn check_committed(&self, writer: Option<&mut Option<Connection>>) -> Result<()> {
        if !self.inner.wal_guard.changed() {
            return Ok(());
        }
        match writer {
            Some(w) => self.reopen_connections(w)?,
            None => {
                let mut guard = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
                if guard.is_some() {
                    self.reopen_connections(&mut guard)?;
                }
            }
        }
        Err(Error::WalReplaced)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer; commits on Ok.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.writer()?;
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        self.check_committed(Some(&mut guard))?;
        Ok(value)
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let conn = self.inner.readers.get()?;
        f(&conn)
    }

    // -----------------------------------------------------------------------------------------
    // Providers and endpoints
    // -----------------------------------------------------------------------------------------

    /// `{name: version}` of the curated providers.
    pub fn provider_versions(&self) -> std::collections::BTreeMap<String, String> {
        providers::curated().iter().map(|p| (p.name().to_string(), p.version().to_string())).collect()
    }

    /// The curated catalogue with options, algorithm and docs (rendered in the docs site).
    pub fn provider_catalogue() -> Vec<ProviderInfo> {
        providers::curated().iter().map(|p| p.info()).collect()
    }

    /// Registers an app-local provider. Its name must not be a curated one.
    pub fn register_provider(&self, provider: Arc<dyn Provider>) -> Result<()> {
        let name = provider.name().to_string();
        if name.is_empty() || name != name.to_ascii_lowercase() {
            return Err(Error::invalid(format!("provider name must be non-empty lower-case, got {name:?}")));
        }
        if !is_semver(provider.version()) {
            return Err(Error::invalid(format!(
                "provider {name} version must be SemVer (MAJOR.MINOR.PATCH), got {:?}",
                provider.version()
            )));
        }
        if providers::find(&name).is_some() {
            return Err(Error::invalid(format!(
                "provider name {name:?} is curated; a custom provider cannot shadow it, pick another name"
            )));
        }
        self.inner.custom_providers.write().unwrap_or_else(|e| e.into_inner()).insert(name, provider);
        Ok(())
    }

    fn resolve_provider(&self, name: &str) -> Result<Arc<dyn Provider>> {
        if let Some(p) = providers::find(name) {
            return Ok(p);
        }
        self.inner
            .custom_providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownProvider(name.to_string()))
    }

    /// Adds or updates an endpoint. Persists name, path, provider, enabled, whether verification
    /// is required, limits and retry policy (never secrets); keeps secrets, options and key
    /// functions in this handle. Re-adding a provider endpoint without secrets keeps the secrets
    /// this handle already has for it.
    pub fn add_endpoint(&self, mut config: EndpointConfig) -> Result<()> {
        if config.name.is_empty() {
            return Err(Error::invalid("endpoint name must not be empty"));
        }
        if config.path.is_empty() {
            return Err(Error::invalid("endpoint path must not be empty"));
        }
        let provider = match &config.provider {
            Some(name) => {
                let name = name.to_ascii_lowercase();
                config.provider = Some(name.clone());
                Some(self.resolve_provider(&name)?)
            }
            None => None,
        };
        if let Some(p) = &provider {
            if config.secrets.is_empty() && p.requires_secrets() {
                let previous = self.inner.endpoints.read().unwrap_or_else(|e| e.into_inner()).get(&config.name).cloned();
                match previous {
                    Some(prev) if prev.config.provider == config.provider && !prev.config.secrets.is_empty() => {
                        config.secrets = prev.config.secrets.clone();
                        if config.provider_options.is_empty() {
                            config.provider_options = prev.config.provider_options.clone();
                        }
                    }
                    _ => {
                        return Err(Error::invalid(format!(
                            "provider {} requires non-empty secrets for endpoint {:?}",
                            p.name(),
                            config.name
                        )))
                    }
                }
            }
            if config.secrets.iter().any(|s| s.expose().is_empty()) {
                return Err(Error::invalid("secrets must not be empty strings"));
            }
            p.validate_options(&config.provider_options).map_err(Error::InvalidArgument)?;
        } else if !config.provider_options.is_empty() {
            return Err(Error::invalid("provider_options given without a provider"));
        }
        let retry = config.retry.unwrap_or(self.inner.options.retry);
        retry.validate()?;
        let max_body = config.max_body_bytes.unwrap_or(self.inner.options.max_body_bytes);
        if max_body == 0 {
            return Err(Error::invalid("max_body_bytes must be at least 1"));
        }
        let row = EndpointRow {
            id: 0,
            name: config.name.clone(),
            path: config.path.clone(),
            provider: config.provider.clone(),
            enabled: config.enabled,
            verification_required: config.verification_required.unwrap_or(provider.is_some()),
            max_body_bytes: max_body as i64,
            max_attempts: retry.max_attempts as i64,
            backoff_base_s: retry.backoff_base_s,
            backoff_max_s: retry.backoff_max_s,
            body_hash_dedupe: config.body_hash_dedupe,
        };
        let now_s = self.now_ms() / 1000;
        {
            let mut guard = self.writer()?;
            let conn = guard.as_mut().ok_or(Error::Closed)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            storage::upsert_endpoint(&tx, &row, now_s)?;
            tx.commit()?;
            // Still holding the writer: no receipt can be stored against the old row after this
            // commit (our own commits do not move the writer's data_version).
            self.inner.endpoint_rows.write().unwrap_or_else(|e| e.into_inner()).remove(&config.name);
            self.check_committed(Some(&mut guard))?;
        }
        self.inner
            .endpoints
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(config.name.clone(), EndpointRuntime { config, provider });
        Ok(())
    }

    /// Names of the endpoints stored in the file, with their persisted policy.
    pub fn endpoint_names(&self) -> Result<Vec<String>> {
        self.read(|c| Ok(storage::list_endpoints(c)?.into_iter().map(|e| e.name).collect()))
    }

    // -----------------------------------------------------------------------------------------
    // Ingress
    // -----------------------------------------------------------------------------------------

    /// Verifies a receipt with the endpoint's provider and stores it (see DESIGN.md "Ingress").
    /// Verification runs before the write lock is taken.
    pub fn receive(&self, endpoint: &str, receipt: &Receipt<'_>) -> Result<IngestResult> {
        let span = info_span!("knocker.receive", endpoint = %endpoint, status_code = tracing::field::Empty, delivery_id = tracing::field::Empty, event_id = tracing::field::Empty);
        let _e = span.enter();
        let started = std::time::Instant::now();
        let runtime = self.inner.endpoints.read().unwrap_or_else(|e| e.into_inner()).get(endpoint).cloned();
        let result = self.receive_inner(endpoint, receipt, runtime, None);
        self.inner.metrics.record_receipt(endpoint, &result, started.elapsed());
        if let Ok(r) = &result {
            span.record("status_code", r.status_code);
            if let Some(d) = r.delivery_id {
                span.record("delivery_id", d);
            }
            if let Some(e) = r.event_id {
                span.record("event_id", e);
            }
        }
        result
    }

    /// Stores a receipt with a verification outcome decided by the caller (trusted ingress).
    pub fn ingest(&self, endpoint: &str, receipt: &Receipt<'_>, outcome: TrustedOutcome) -> Result<IngestResult> {
        let _span = info_span!("knocker.ingest", endpoint = %endpoint).entered();
        if outcome.signature_valid == Some(false) && outcome.signature_error.as_deref().is_none_or(str::is_empty) {
            return Err(Error::invalid("signature_error is required when signature_valid is false"));
        }
        let started = std::time::Instant::now();
        let runtime = self.inner.endpoints.read().unwrap_or_else(|e| e.into_inner()).get(endpoint).cloned();
        let result = self.receive_inner(endpoint, receipt, runtime, Some(outcome));
        self.inner.metrics.record_receipt(endpoint, &result, started.elapsed());
        result
    }

    fn receive_inner(
        &self,
        endpoint: &str,
        receipt: &Receipt<'_>,
        runtime: Option<EndpointRuntime>,
        trusted: Option<TrustedOutcome>,
    ) -> Result<IngestResult> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let now_ms = self.now_ms();
        // The stored row is the policy every process agrees on; read it without the write lock.
        let cached = self.inner.endpoint_rows.read().unwrap_or_else(|e| e.into_inner()).get(endpoint).map(|(r, _)| r.clone());
        let row = match cached {
            Some(r) => Some(r),
            None => self.read(|c| storage::endpoint_by_name(c, endpoint))?,
        };
        let Some(row) = row else {
            return Ok(IngestResult {
                delivery_id: None,
                event_id: None,
                duplicate: false,
                status_code: 404,
                response_body: None,
                response_content_type: None,
                error_code: Some("unknown_endpoint".into()),
            });
        };
        let request = Request {
            method: receipt.method,
            url: receipt.url,
            headers: &receipt.headers,
            query: &receipt.query,
            body: receipt.body,
        };
        let oversize = receipt.body.len() > row.max_body_bytes as usize;

        // Verification (or the trusted outcome), outside any transaction.
        let mut verification: Verification;
        let mut signature_valid: Option<bool>;
        if let Some(t) = &trusted {
            verification = Verification::valid(Metadata::default(), None);
            signature_valid = t.signature_valid;
            if t.signature_valid == Some(false) {
                verification.result = Err(Rejection::new(
                    codes::SIGNATURE_MISMATCH,
                    t.signature_error.clone().unwrap_or_default(),
                ));
            }
        } else {
            let has_secrets = runtime
                .as_ref()
                .is_some_and(|r| r.provider.is_some() && (!r.config.secrets.is_empty() || !r.provider.as_ref().is_some_and(|p| p.requires_secrets())));
            if row.verification_required && !has_secrets {
                return Err(Error::VerificationNotConfigured(endpoint.to_string()));
            }
            match runtime.as_ref().and_then(|r| r.provider.clone().map(|p| (r, p))) {
                Some((rt, provider)) if !oversize => {
                    let _v = debug_span!("knocker.verify", provider = %provider.name()).entered();
                    let ctx = VerifyContext {
                        secrets: &rt.config.secrets,
                        options: &rt.config.provider_options,
                        now_s: now_ms.div_euclid(1000),
                    };
                    verification = match catch_unwind(AssertUnwindSafe(|| provider.verify(&request, &ctx))) {
                        Ok(v) => v,
                        Err(panic) => {
                            let msg = panic_message(&panic);
                            warn!(provider = %provider.name(), "provider panicked: {msg}");
                            Verification::invalid(
                                Metadata::default(),
                                Rejection::new(codes::PROVIDER_ERROR, format!("provider error: {msg}")),
                            )
                        }
                    };
                    signature_valid = Some(verification.is_valid());
                }
                Some(_) => {
                    verification = Verification::valid(Metadata::default(), None);
                    signature_valid = None;
                }
                None => {
                    verification = Verification::valid(Metadata::default(), None);
                    signature_valid = None;
                }
            }
        }

        // Metadata precedence: provider extraction → endpoint key functions → explicit arguments.
        let mut meta = verification.metadata.clone();
        let mut dedupe_from_fn = None;
        if let Some(rt) = &runtime {
            let c = &rt.config;
            if let Some(f) = &c.event_key {
                meta.event_id = call_key_fn(f, &request);
            }
            if let Some(f) = &c.delivery_key {
                meta.delivery_id = call_key_fn(f, &request);
            }
            if let Some(f) = &c.event_type_key {
                meta.event_type = call_key_fn(f, &request);
            }
            if let Some(f) = &c.dedupe_key {
                dedupe_from_fn = call_key_fn(f, &request);
            }
        }
        if receipt.event_type.is_some() {
            meta.event_type = receipt.event_type.clone();
        }
        if receipt.provider_event_id.is_some() {
            meta.event_id = receipt.provider_event_id.clone();
        }
        if receipt.provider_delivery_id.is_some() {
            meta.delivery_id = receipt.provider_delivery_id.clone();
        }
        let mut dedupe_key = receipt
            .dedupe_key
            .clone()
            .or(dedupe_from_fn)
            .or_else(|| meta.idempotency_key.clone())
            .or_else(|| meta.event_id.clone())
            .or_else(|| meta.delivery_id.clone());
        if dedupe_key.is_none() && row.body_hash_dedupe && !oversize {
            dedupe_key = Some(format!("sha256:{}", hex::encode(Sha256::digest(receipt.body))));
        }

        // Status code and stored reason.
        let (status_code, accepted, error_code, signature_error): (u16, bool, Option<String>, Option<String>) = if oversize {
            signature_valid = None;
            (
                413,
                false,
                Some("body_too_large".into()),
                Some(format!("body of {} bytes exceeds the endpoint limit of {} bytes", receipt.body.len(), row.max_body_bytes)),
            )
        } else {
            match &verification.result {
                Err(r) => (401, false, Some(r.code.clone()), Some(r.message.clone())),
                Ok(_) if verification.handshake.is_some() => (
                    verification.handshake.as_ref().map(|h| h.status_code).unwrap_or(200),
                    false,
                    Some("handshake".into()),
                    None,
                ),
                Ok(_) => (204, true, None, None),
            }
        };
        let secret_index = verification.result.as_ref().ok().copied().flatten().map(|i| i as i64);
        let headers_json = storage::headers_to_json(&receipt.headers);
        let query_json = storage::query_to_json(&receipt.query);
        let body: &[u8] = if oversize { &[] } else { receipt.body };

        let _store = debug_span!("knocker.store").entered();
        let pending = Arc::new(crate::ingress::PendingReceipt {
            endpoint: endpoint.to_string(),
            precheck_row: row,
            verified_here: trusted.is_some() || signature_valid.is_some(),
            oversize,
            body_len: receipt.body.len(),
            received_at: now_ms.div_euclid(1000),
            now_ms,
            provider_event_id: meta.event_id,
            provider_delivery_id: meta.delivery_id,
            event_type: meta.event_type,
            dedupe_key,
            method: receipt.method.to_string(),
            url: receipt.url.map(str::to_string),
            headers_json,
            query_json,
            body: body.to_vec(),
            signature_valid,
            signature_error,
            error_code,
            secret_index,
            status_code,
            accepted,
            traceparent: crate::trace::from_headers(&receipt.headers),
            outcome: Mutex::new(None),
            wake: Condvar::new(),
        });
        let (stored, status_code, error_code) = match self.commit_receipt(&pending)? {
            crate::ingress::Committed::Stored { stored, status_code, error_code } => (stored, status_code, error_code),
            crate::ingress::Committed::UnknownEndpoint => {
                return Ok(IngestResult {
                    delivery_id: None,
                    event_id: None,
                    duplicate: false,
                    status_code: 404,
                    response_body: None,
                    response_content_type: None,
                    error_code: Some("unknown_endpoint".into()),
                })
            }
            // The stored policy turned stricter since the pre-checks (verification now required,
            // another body limit): decide again with the fresh row.
            crate::ingress::Committed::PolicyChanged => return self.receive_inner(endpoint, receipt, runtime, trusted),
        };
        let handshake = verification.handshake.filter(|_| status_code != 404);
        Ok(IngestResult {
            delivery_id: Some(stored.delivery_id),
            event_id: stored.event_id,
            duplicate: stored.duplicate,
            status_code,
            response_content_type: handshake.as_ref().map(|h| h.content_type.clone()),
            response_body: handshake.map(|h| h.body),
            error_code,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Reads
    // -----------------------------------------------------------------------------------------

    pub fn get_event(&self, id: i64) -> Result<Event> {
        self.read(|c| storage::get_event(c, id))?.ok_or(Error::NotFound { kind: "event", id })
    }

    /// Newest-first; filters are ANDed; `limit` 1..=1000.
    pub fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        check_limit(filter.limit)?;
        self.read(|c| storage::list_events(c, filter))
    }

    pub fn get_delivery(&self, id: i64) -> Result<Delivery> {
        self.read(|c| storage::get_delivery(c, id))?.ok_or(Error::NotFound { kind: "delivery", id })
    }

    /// Newest-first; `signature_valid=false` matches invalid and not-verified; `orphaned` is a
    /// separate axis.
    pub fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        check_limit(filter.limit)?;
        self.read(|c| storage::list_deliveries(c, filter))
    }

    /// Attempt history of one event, oldest first.
    pub fn list_attempts(&self, event_id: i64) -> Result<Vec<Attempt>> {
        self.read(|c| {
            if storage::event_status(c, event_id)?.is_none() {
                return Err(Error::NotFound { kind: "event", id: event_id });
            }
            storage::list_attempts(c, event_id)
        })
    }

    pub fn list_prune_audits(&self, filter: &AuditFilter) -> Result<Vec<PruneAudit>> {
        check_limit(filter.limit)?;
        self.read(|c| storage::list_prune_audits(c, filter))
    }

    /// Counts by status and endpoint, claimable depth, oldest claimable age and dead count.
    pub fn stats(&self) -> Result<Stats> {
        let now = self.now_ms();
        self.read(|c| storage::stats(c, now))
    }

    // -----------------------------------------------------------------------------------------
    // Operator actions
    // -----------------------------------------------------------------------------------------

    /// `received`, `failed`, `dead` → `ignored` (no-op when already ignored).
    pub fn ignore(&self, event_id: i64) -> Result<()> {
        let now = self.now_ms();
        self.write(|tx| {
            let (status, attempts) = storage::event_status(tx, event_id)?.ok_or(Error::NotFound { kind: "event", id: event_id })?;
            match status {
                Status::Ignored => Ok(()),
                Status::Received | Status::Failed | Status::Dead => {
                    storage::mark_ignored(tx, event_id, status, now)?;
                    storage::insert_attempt(tx, event_id, attempts, None, None, now, now, "ignored", None)?;
                    self.audit(tx, "ignore", "event", &[event_id], serde_json::json!({}), now)
                }
                other => Err(Error::InvalidState {
                    kind: "event",
                    id: event_id,
                    status: other.to_string(),
                    action: "ignored",
                    allowed: "received, failed, dead",
                }),
            }
        })
    }

    /// `handled`, `failed`, `dead`, `ignored` → `received`, attempt count 0, due now.
    pub fn replay(&self, event_id: i64) -> Result<()> {
        self.reset(event_id, "replayed", &[Status::Handled, Status::Failed, Status::Dead, Status::Ignored], "handled, failed, dead, ignored")
    }

    /// `failed`, `dead`, `ignored` → `received`, attempt count 0, due now.
    pub fn requeue(&self, event_id: i64) -> Result<()> {
        self.reset(event_id, "requeued", &[Status::Failed, Status::Dead, Status::Ignored], "failed, dead, ignored")
    }

    fn reset(&self, event_id: i64, action: &'static str, allowed: &[Status], allowed_text: &'static str) -> Result<()> {
        let now = self.now_ms();
        self.write(|tx| {
            let (status, _) = storage::event_status(tx, event_id)?.ok_or(Error::NotFound { kind: "event", id: event_id })?;
            if !allowed.contains(&status) {
                return Err(Error::InvalidState { kind: "event", id: event_id, status: status.to_string(), action, allowed: allowed_text });
            }
            storage::reset_event(tx, event_id, status, None, now)?;
            self.audit(tx, action_name(action), "event", &[event_id], serde_json::json!({}), now)
        })?;
        self.inner.notify.bump();
        Ok(())
    }

    /// Runs the handler again with one delivery's body and headers; the event row's payload is
    /// unchanged. The linked event must be `handled`, `failed`, `dead` or `ignored`.
    pub fn replay_delivery(&self, delivery_id: i64) -> Result<()> {
        let now = self.now_ms();
        self.write(|tx| {
            let link = storage::delivery_link(tx, delivery_id)?.ok_or(Error::NotFound { kind: "delivery", id: delivery_id })?;
            let Some(event_id) = link else {
                return Err(Error::InvalidState {
                    kind: "delivery",
                    id: delivery_id,
                    status: "orphaned (not linked to an event)".into(),
                    action: "replayed",
                    allowed: "deliveries linked to an event",
                });
            };
            let (status, _) = storage::event_status(tx, event_id)?.ok_or(Error::NotFound { kind: "event", id: event_id })?;
            if !matches!(status, Status::Handled | Status::Failed | Status::Dead | Status::Ignored) {
                return Err(Error::InvalidState {
                    kind: "event",
                    id: event_id,
                    status: status.to_string(),
                    action: "reset by replay_delivery",
                    allowed: "handled, failed, dead, ignored",
                });
            }
            storage::reset_event(tx, event_id, status, Some(delivery_id), now)?;
            self.audit(tx, "replay_delivery", "delivery", &[delivery_id], serde_json::json!({ "event_id": event_id }), now)
        })?;
        self.inner.notify.bump();
        Ok(())
    }

    /// Applies `ignore`, `replay` or `requeue` to every event matching `filter` (oldest first, up
    /// to `filter.limit`) whose status allows it, in one transaction with one audit row. A
    /// `filter.status` the action does not allow is an invalid-state error. `dry_run` returns
    /// the ids that would change and changes nothing. Call repeatedly to work through more than
    /// `limit` events.
    pub fn bulk(&self, action: BulkAction, filter: &EventFilter, dry_run: bool) -> Result<BulkResult> {
        check_limit(filter.limit)?;
        let (allowed, allowed_text) = action.allowed_from();
        if let Some(s) = &filter.status {
            let st = Status::parse(s).ok_or_else(|| Error::invalid(format!("unknown status {s:?}")))?;
            if !allowed.contains(&st) {
                return Err(Error::InvalidState { kind: "events", id: 0, status: st.to_string(), action: action.as_str(), allowed: allowed_text });
            }
        }
        if dry_run {
            let ids = self.read(|c| storage::select_for_bulk(c, filter, allowed))?;
            return Ok(BulkResult { ids, dry_run: true });
        }
        let now = self.now_ms();
        let ids = self.write(|tx| {
            let ids = storage::select_for_bulk(tx, filter, allowed)?;
            for &id in &ids {
                let (status, attempts) = storage::event_status(tx, id)?.ok_or(Error::NotFound { kind: "event", id })?;
                match action {
                    BulkAction::Ignore => {
                        storage::mark_ignored(tx, id, status, now)?;
                        storage::insert_attempt(tx, id, attempts, None, None, now, now, "ignored", None)?;
                    }
                    BulkAction::Replay | BulkAction::Requeue => {
                        storage::reset_event(tx, id, status, None, now)?;
                    }
                }
            }
            let filters = serde_json::json!({
                "status": filter.status, "endpoint": filter.endpoint, "event_type": filter.event_type,
                "since": filter.since, "until": filter.until, "limit": filter.limit,
            });
            self.audit(tx, action.as_str(), "event", &ids, filters, now)?;
            Ok(ids)
        })?;
        if action != BulkAction::Ignore && !ids.is_empty() {
            self.inner.notify.bump();
        }
        Ok(BulkResult { ids, dry_run: false })
    }

    /// Operator audit rows, newest first.
    pub fn list_operator_audits(&self, filter: &OperatorAuditFilter) -> Result<Vec<OperatorAudit>> {
        check_limit(filter.limit)?;
        self.read(|c| storage::list_operator_audits(c, filter))
    }

    // -----------------------------------------------------------------------------------------
    // Retention
    // -----------------------------------------------------------------------------------------

    /// Deletes events in the given terminal statuses received strictly before `older_than`,
    /// oldest first, with their deliveries and attempts, and writes one audit row in the same
    /// transaction (also when nothing matched). `dry_run` counts only and writes nothing.
    pub fn prune_events(&self, p: &PruneEvents) -> Result<PruneEventsResult> {
        if p.statuses.is_empty() {
            return Err(Error::invalid("statuses must be a non-empty subset of handled, ignored, dead"));
        }
        if let Some(bad) = p.statuses.iter().find(|s| !matches!(s, Status::Handled | Status::Ignored | Status::Dead)) {
            return Err(Error::invalid(format!("cannot prune {bad} events; statuses must be among handled, ignored, dead")));
        }
        if p.older_than < 0 {
            return Err(Error::invalid("older_than must be >= 0 (Unix seconds)"));
        }
        check_limit(p.limit)?;
        let mut p = p.clone();
        p.statuses.sort();
        p.statuses.dedup();
        let now_s = self.now_ms() / 1000;
        let _span = info_span!("knocker.prune", kind = "prune_events", dry_run = p.dry_run).entered();
        if p.dry_run {
            return self.read(|c| Ok(storage::prune_events(c, &p, now_s)?.0));
        }
        let now = self.now_ms();
        self.write(|tx| {
            let (result, ids) = storage::prune_events(tx, &p, now_s)?;
            let filters = serde_json::json!({
                "statuses": p.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "older_than": p.older_than, "limit": p.limit,
            });
            self.audit(tx, "prune_events", "event", &ids, filters, now)?;
            Ok(result)
        })
    }

    /// Deletes orphan deliveries (no event) received strictly before `older_than`, oldest first,
    /// with one audit row in the same transaction.
    pub fn prune_orphan_deliveries(&self, p: &PruneOrphans) -> Result<PruneDeliveriesResult> {
        if p.older_than < 0 {
            return Err(Error::invalid("older_than must be >= 0 (Unix seconds)"));
        }
        check_limit(p.limit)?;
        let now_s = self.now_ms() / 1000;
        let _span = info_span!("knocker.prune", kind = "prune_orphan_deliveries", dry_run = p.dry_run).entered();
        if p.dry_run {
            return self.read(|c| Ok(storage::prune_orphans(c, p, now_s)?.0));
        }
        let now = self.now_ms();
        self.write(|tx| {
            let (result, ids) = storage::prune_orphans(tx, p, now_s)?;
            let filters = serde_json::json!({ "older_than": p.older_than, "limit": p.limit });
            self.audit(tx, "prune_orphan_deliveries", "delivery", &ids, filters, now)?;
            Ok(result)
        })
    }

    /// Validates a retention policy.
    pub fn validate_retention(policy: &RetentionPolicy) -> Result<()> {
        if !(policy.interval_s > 0.0 && policy.interval_s.is_finite()) {
            return Err(Error::invalid("interval_s must be a finite number > 0"));
        }
        if policy.event_older_than_s.is_none() && policy.orphan_deliveries_older_than_s.is_none() {
            return Err(Error::invalid(
                "retention policy must enable at least one prune: set event_older_than_s or orphan_deliveries_older_than_s",
            ));
        }
        if policy.event_older_than_s.is_some_and(|s| s < 0) || policy.orphan_deliveries_older_than_s.is_some_and(|s| s < 0) {
            return Err(Error::invalid("retention ages must be >= 0 seconds"));
        }
        check_limit(policy.event_limit)?;
        check_limit(policy.orphan_deliveries_limit)?;
        if policy.event_older_than_s.is_some() && policy.event_statuses.is_empty() {
            return Err(Error::invalid("event_statuses must not be empty"));
        }
        Ok(())
    }

    /// One retention pass, if this handle can take the file-wide retention lease (held for the
    /// policy's interval so that several processes never run a pass for the same interval).
    pub fn run_retention_pass(&self, policy: &RetentionPolicy, owner: &str) -> Result<RetentionPass> {
        Knocker::validate_retention(policy)?;
        let now = self.now_ms();
        let ttl = (policy.interval_s * 1000.0) as i64;
        let got = self.write(|tx| storage::try_lease(tx, "knocker.retention", owner, now, ttl.max(1)))?;
        if !got {
            return Ok(RetentionPass::default());
        }
        let now_s = now / 1000;
        let mut pass = RetentionPass { ran: true, ..Default::default() };
        if let Some(age) = policy.event_older_than_s {
            pass.events = Some(self.prune_events(&PruneEvents {
                statuses: policy.event_statuses.clone(),
                older_than: now_s - age,
                limit: policy.event_limit,
                dry_run: false,
            })?);
        }
        if let Some(age) = policy.orphan_deliveries_older_than_s {
            pass.orphans = Some(self.prune_orphan_deliveries(&PruneOrphans {
                older_than: now_s - age,
                limit: policy.orphan_deliveries_limit,
                dry_run: false,
            })?);
        }
        Ok(pass)
    }

    /// Repeats retention passes every `interval_s` until `stop` is set. A pass error is returned
    /// (after `on_error`), leaving restart to the caller's supervisor.
    pub fn run_retention(
        &self,
        policy: &RetentionPolicy,
        stop: &crate::worker::StopSignal,
        mut on_error: impl FnMut(&Error),
    ) -> Result<()> {
        Knocker::validate_retention(policy)?;
        let owner = format!("retention-{}", self.inner.handle_id);
        while !stop.is_set() && !self.is_closed() {
            if let Err(e) = self.run_retention_pass(policy, &owner) {
                on_error(&e);
                return Err(e);
            }
            stop.wait(std::time::Duration::from_secs_f64(policy.interval_s));
        }
        Ok(())
    }

    /// Runs app SQL (for example the app's own schema) on Knocker's writer connection in one
    /// transaction. Apps that cannot share the SQLite library with Knocker use this (and the
    /// handler `tx`) instead of opening the file a second way.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.write(|tx| Ok(tx.execute_batch(sql)?))
    }

    /// Runs an app query on a reader connection; rows as (column, value) pairs.
    pub fn query(&self, sql: &str, params: &[rusqlite::types::Value]) -> Result<Vec<crate::worker::SqlRow>> {
        self.read(|c| Ok(crate::worker::query_rows(c, sql, params)?))
    }

    pub(crate) fn next_token_prefix(&self) -> String {
        let n = self.inner.token_counter.fetch_add(1, Ordering::Relaxed);
        format!("{}{:x}", self.inner.handle_id, n)
    }
}

fn action_name(past: &str) -> &'static str {
    match past {
        "replayed" => "replay",
        _ => "requeue",
    }
}

fn call_key_fn(f: &KeyFn, request: &Request<'_>) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| f(request))).ok().flatten()
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

pub(crate) fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

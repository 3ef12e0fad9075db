//! Every SQL statement Knocker runs lives in this module, so that a second backend can later be
//! added behind the same functions and pass the same conformance suite.
//!
//! Times: `received_at`, `handled_at`, `executed_at`, `created_at` are Unix seconds (the public,
//! queryable contract); `run_at_ms`, `lease_expires_at_ms` and attempt times are Unix milliseconds
//! because leases and backoff need finer grain than a second.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::{Map, Value};

use crate::checkpoint::WalProgress;
use crate::error::{Error, Result};
use crate::model::*;
use crate::provider::Pairs;

/// Schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 4;

/// Page size of files Knocker creates (existing files keep theirs).
pub const NEW_FILE_PAGE_SIZE: u32 = 1024;

/// Oldest SQLite this code needs (RETURNING, partial indexes, `unixepoch`).
pub const MIN_SQLITE_VERSION: i32 = 3_038_000;

/// Forward-only migrations; entry i takes the schema from version i to i + 1.
pub const MIGRATIONS: &[&str] = &[
    // v1
    r#"
CREATE TABLE knocker_endpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL UNIQUE,
  provider TEXT,
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  verification_required INTEGER NOT NULL DEFAULT 0 CHECK (verification_required IN (0, 1)),
  max_body_bytes INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  backoff_base_s REAL NOT NULL,
  backoff_max_s REAL NOT NULL,
  body_hash_dedupe INTEGER NOT NULL DEFAULT 0 CHECK (body_hash_dedupe IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE knocker_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id INTEGER NOT NULL REFERENCES knocker_endpoints(id),
  received_at INTEGER NOT NULL,
  provider_event_id TEXT,
  provider_delivery_id TEXT,
  event_type TEXT,
  dedupe_key TEXT,
  status TEXT NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processing', 'handled', 'failed', 'dead', 'ignored')),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at_ms INTEGER NOT NULL,
  lease_token TEXT,
  lease_owner TEXT,
  lease_expires_at_ms INTEGER,
  replay_delivery_id INTEGER,
  handled_at INTEGER,
  last_error TEXT,
  updated_at_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX knocker_events_dedupe ON knocker_events(endpoint_id, dedupe_key)
  WHERE dedupe_key IS NOT NULL;
CREATE INDEX knocker_events_ready ON knocker_events(run_at_ms, id)
  WHERE status IN ('received', 'failed');
CREATE INDEX knocker_events_leased ON knocker_events(lease_expires_at_ms)
  WHERE status = 'processing';
CREATE INDEX knocker_events_received ON knocker_events(received_at, id);
CREATE INDEX knocker_events_endpoint_received ON knocker_events(endpoint_id, received_at, id);
-- The statuses an operator looks for are a small minority of rows; one partial index each keeps
-- those lists fast without touching an index on every insert. `received` and `handled` lists
-- walk knocker_events_received (received rows are the newest; handled rows are most rows).
CREATE INDEX knocker_events_failed ON knocker_events(received_at, id) WHERE status = 'failed';
CREATE INDEX knocker_events_dead ON knocker_events(received_at, id) WHERE status = 'dead';
CREATE INDEX knocker_events_ignored ON knocker_events(received_at, id) WHERE status = 'ignored';

CREATE TABLE knocker_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id INTEGER NOT NULL REFERENCES knocker_endpoints(id),
  event_id INTEGER REFERENCES knocker_events(id),
  received_at INTEGER NOT NULL,
  provider_event_id TEXT,
  provider_delivery_id TEXT,
  event_type TEXT,
  dedupe_key TEXT,
  method TEXT NOT NULL,
  url TEXT,
  headers_json TEXT NOT NULL,
  query_json TEXT NOT NULL,
  body_blob BLOB NOT NULL,
  body_size INTEGER NOT NULL,
  signature_valid INTEGER CHECK (signature_valid IN (0, 1)),
  signature_error TEXT,
  error_code TEXT,
  secret_index INTEGER,
  status_code INTEGER NOT NULL
);
CREATE INDEX knocker_deliveries_event ON knocker_deliveries(event_id, id);
CREATE INDEX knocker_deliveries_received ON knocker_deliveries(received_at, id);
CREATE INDEX knocker_deliveries_orphan ON knocker_deliveries(received_at, id) WHERE event_id IS NULL;

-- A row here exists only inside a prune transaction; other connections never see it.
CREATE TABLE knocker_prune_guard (id INTEGER PRIMARY KEY CHECK (id = 1));

CREATE TRIGGER knocker_deliveries_append_only BEFORE UPDATE ON knocker_deliveries
BEGIN
  SELECT RAISE(ABORT, 'knocker_deliveries is append-only: deliveries are never updated');
END;
CREATE TRIGGER knocker_deliveries_delete_only_by_prune BEFORE DELETE ON knocker_deliveries
  WHEN NOT EXISTS (SELECT 1 FROM knocker_prune_guard)
BEGIN
  SELECT RAISE(ABORT, 'knocker_deliveries rows are deleted only by prune_events / prune_orphan_deliveries');
END;

CREATE TABLE knocker_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id INTEGER NOT NULL REFERENCES knocker_events(id) ON DELETE CASCADE,
  attempt_no INTEGER NOT NULL,
  worker_id TEXT,
  delivery_id INTEGER,
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('handled', 'failed', 'dead', 'ignored', 'lost')),
  error TEXT
);
CREATE INDEX knocker_attempts_event ON knocker_attempts(event_id, id);

CREATE TABLE knocker_prune_audits (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('prune_events', 'prune_orphan_deliveries')),
  executed_at INTEGER NOT NULL,
  events_pruned INTEGER,
  deliveries_pruned INTEGER NOT NULL,
  attempts_pruned INTEGER,
  summary_json TEXT NOT NULL
);
CREATE INDEX knocker_prune_audits_kind_executed ON knocker_prune_audits(kind, executed_at, id);
CREATE INDEX knocker_prune_audits_executed ON knocker_prune_audits(executed_at, id);

CREATE TABLE knocker_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
"#,
    // v2: one audit row for every operator mutation (ignore, replay, requeue, replay_delivery,
    // bulk actions, prunes), written in the same transaction as the mutation.
    r#"
CREATE TABLE knocker_operator_audits (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  executed_at INTEGER NOT NULL,
  target_kind TEXT NOT NULL CHECK (target_kind IN ('event', 'delivery')),
  affected INTEGER NOT NULL,
  ids_json TEXT NOT NULL,
  filters_json TEXT NOT NULL
);
CREATE INDEX knocker_operator_audits_executed ON knocker_operator_audits(executed_at, id);
CREATE INDEX knocker_operator_audits_action_executed ON knocker_operator_audits(action, executed_at, id);
"#,
    // v3: the W3C trace context (`traceparent` header) a delivery arrived with; the handler span
    // of its event continues that trace (see trace.rs). NULL when absent or malformed.
    r#"
ALTER TABLE knocker_deliveries ADD COLUMN traceparent TEXT;
"#,
    // v4: events and deliveries without AUTOINCREMENT, whose sqlite_sequence row was rewritten by
    // every receipt (one more WAL page per commit; measured ~10 % of a sequential ingest). Ids
    // are still never reused: pruning records each table's largest id in knocker_id_floors
    // first, and inserts number past max(largest id, floor) (see IdFloors). The tables are
    // rebuilt (SQLite cannot drop AUTOINCREMENT in place); migrate() runs this with foreign
    // keys off and checks them before committing.
    r#"
CREATE TABLE knocker_id_floors (
  table_name TEXT PRIMARY KEY,
  max_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO knocker_id_floors (table_name, max_id)
  SELECT name, seq FROM sqlite_sequence WHERE name IN ('knocker_events', 'knocker_deliveries');

CREATE TABLE knocker_events_v4 (
  id INTEGER PRIMARY KEY,
  endpoint_id INTEGER NOT NULL REFERENCES knocker_endpoints(id),
  received_at INTEGER NOT NULL,
  provider_event_id TEXT,
  provider_delivery_id TEXT,
  event_type TEXT,
  dedupe_key TEXT,
  status TEXT NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processing', 'handled', 'failed', 'dead', 'ignored')),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at_ms INTEGER NOT NULL,
  lease_token TEXT,
  lease_owner TEXT,
  lease_expires_at_ms INTEGER,
  replay_delivery_id INTEGER,
  handled_at INTEGER,
  last_error TEXT,
  updated_at_ms INTEGER NOT NULL
);
INSERT INTO knocker_events_v4 (id, endpoint_id, received_at, provider_event_id, provider_delivery_id, event_type,
    dedupe_key, status, attempt_count, max_attempts, run_at_ms, lease_token, lease_owner, lease_expires_at_ms,
    replay_delivery_id, handled_at, last_error, updated_at_ms)
  SELECT id, endpoint_id, received_at, provider_event_id, provider_delivery_id, event_type,
    dedupe_key, status, attempt_count, max_attempts, run_at_ms, lease_token, lease_owner, lease_expires_at_ms,
    replay_delivery_id, handled_at, last_error, updated_at_ms FROM knocker_events;
DROP TABLE knocker_events;
ALTER TABLE knocker_events_v4 RENAME TO knocker_events;
CREATE UNIQUE INDEX knocker_events_dedupe ON knocker_events(endpoint_id, dedupe_key)
  WHERE dedupe_key IS NOT NULL;
CREATE INDEX knocker_events_ready ON knocker_events(run_at_ms, id)
  WHERE status IN ('received', 'failed');
CREATE INDEX knocker_events_leased ON knocker_events(lease_expires_at_ms)
  WHERE status = 'processing';
CREATE INDEX knocker_events_received ON knocker_events(received_at, id);
CREATE INDEX knocker_events_endpoint_received ON knocker_events(endpoint_id, received_at, id);
CREATE INDEX knocker_events_failed ON knocker_events(received_at, id) WHERE status = 'failed';
CREATE INDEX knocker_events_dead ON knocker_events(received_at, id) WHERE status = 'dead';
CREATE INDEX knocker_events_ignored ON knocker_events(received_at, id) WHERE status = 'ignored';

CREATE TABLE knocker_deliveries_v4 (
  id INTEGER PRIMARY KEY,
  endpoint_id INTEGER NOT NULL REFERENCES knocker_endpoints(id),
  event_id INTEGER REFERENCES knocker_events(id),
  received_at INTEGER NOT NULL,
  provider_event_id TEXT,
  provider_delivery_id TEXT,
  event_type TEXT,
  dedupe_key TEXT,
  method TEXT NOT NULL,
  url TEXT,
  headers_json TEXT NOT NULL,
  query_json TEXT NOT NULL,
  body_blob BLOB NOT NULL,
  body_size INTEGER NOT NULL,
  signature_valid INTEGER CHECK (signature_valid IN (0, 1)),
  signature_error TEXT,
  error_code TEXT,
  secret_index INTEGER,
  status_code INTEGER NOT NULL,
  traceparent TEXT
);
INSERT INTO knocker_deliveries_v4 (id, endpoint_id, event_id, received_at, provider_event_id, provider_delivery_id,
    event_type, dedupe_key, method, url, headers_json, query_json, body_blob, body_size, signature_valid,
    signature_error, error_code, secret_index, status_code, traceparent)
  SELECT id, endpoint_id, event_id, received_at, provider_event_id, provider_delivery_id,
    event_type, dedupe_key, method, url, headers_json, query_json, body_blob, body_size, signature_valid,
    signature_error, error_code, secret_index, status_code, traceparent FROM knocker_deliveries;
DROP TABLE knocker_deliveries;
ALTER TABLE knocker_deliveries_v4 RENAME TO knocker_deliveries;
CREATE INDEX knocker_deliveries_event ON knocker_deliveries(event_id, id);
CREATE INDEX knocker_deliveries_received ON knocker_deliveries(received_at, id);
CREATE INDEX knocker_deliveries_orphan ON knocker_deliveries(received_at, id) WHERE event_id IS NULL;
CREATE TRIGGER knocker_deliveries_append_only BEFORE UPDATE ON knocker_deliveries
BEGIN
  SELECT RAISE(ABORT, 'knocker_deliveries is append-only: deliveries are never updated');
END;
CREATE TRIGGER knocker_deliveries_delete_only_by_prune BEFORE DELETE ON knocker_deliveries
  WHEN NOT EXISTS (SELECT 1 FROM knocker_prune_guard)
BEGIN
  SELECT RAISE(ABORT, 'knocker_deliveries rows are deleted only by prune_events / prune_orphan_deliveries');
END;
"#,
];

/// Where the next event and delivery ids must start within one write transaction, when pruning
/// removed the newest rows of a table (see the v4 migration): `None` lets SQLite number past the
/// largest id as usual.
#[derive(Debug, Default)]
pub(crate) struct IdFloors {
    next_event: Option<i64>,
    next_delivery: Option<i64>,
}

impl IdFloors {
    /// Reads the floors pruning recorded (almost always none: one lookup in an empty table),
    /// dropping those that rows have since passed.
    pub(crate) fn read(tx: &Connection) -> Result<IdFloors> {
        let floors: Vec<(String, i64)> = tx
            .prepare_cached("SELECT table_name, max_id FROM knocker_id_floors")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = IdFloors::default();
        for (table, floor) in floors {
            let max: i64 = match table.as_str() {
                "knocker_events" => tx.query_row("SELECT coalesce(max(id), 0) FROM knocker_events", [], |r| r.get(0))?,
                "knocker_deliveries" => tx.query_row("SELECT coalesce(max(id), 0) FROM knocker_deliveries", [], |r| r.get(0))?,
                _ => continue,
            };
            if max >= floor {
                tx.prepare_cached("DELETE FROM knocker_id_floors WHERE table_name = ?1")?.execute([&table])?;
            } else if table == "knocker_events" {
                out.next_event = Some(floor + 1);
            } else {
                out.next_delivery = Some(floor + 1);
            }
        }
        Ok(out)
    }

    /// The id to insert the next event with (NULL: SQLite's usual numbering).
    fn take_event(&mut self) -> Option<i64> {
        let id = self.next_event?;
        self.next_event = Some(id + 1);
        Some(id)
    }

    fn take_delivery(&mut self) -> Option<i64> {
        let id = self.next_delivery?;
        self.next_delivery = Some(id + 1);
        Some(id)
    }
}

/// Before pruning deletes rows: remembers the table's largest id, so that a pruned id is never
/// handed out again.
fn record_id_floor(tx: &Connection, table: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO knocker_id_floors (table_name, max_id)
           SELECT '{table}', coalesce(max(id), 0) FROM {table} WHERE true
         ON CONFLICT (table_name) DO UPDATE SET max_id = max(max_id, excluded.max_id)"
    );
    tx.prepare_cached(&sql)?.execute([])?;
    Ok(())
}

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnSettings {
    pub busy_timeout_ms: u32,
    pub synchronous_full: bool,
}

/// Opens one connection with Knocker's pragmas. WAL is set by the writer at migration time;
/// every connection sets its own per-connection pragmas.
/// Opens a Knocker connection. With `progress`, the connection reports every commit's WAL
/// length to it (SQLite's WAL hook; see `checkpoint.rs`): the caller keeps the `Arc` alive for
/// as long as the connection is open.
pub(crate) fn open_connection(path: &str, s: ConnSettings, progress: Option<&std::sync::Arc<WalProgress>>) -> Result<Connection> {
    if rusqlite::version_number() < MIN_SQLITE_VERSION {
        return Err(Error::invalid(format!(
            "SQLite {} is too old; Knocker needs 3.38 or newer",
            rusqlite::version()
        )));
    }
    // Knocker's VFS: the platform's, writing each commit's WAL frames with one system call.
    let vfs = crate::vfs::ensure_registered().map_err(Error::invalid)?;
    let conn = Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), vfs)?;
    conn.busy_timeout(std::time::Duration::from_millis(s.busy_timeout_ms as u64))?;
    // A new file gets small pages: a receipt dirties one page in each table and index it
    // touches, and every dirty page is copied and checksummed into the WAL at commit, so the
    // commit cost follows the page size (measured: 1.5x more receipts/s at 1 KiB than at 4 KiB).
    // The pragma does nothing on a file that already has content.
    conn.execute_batch(&format!("PRAGMA page_size = {NEW_FILE_PAGE_SIZE}"))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && path != ":memory:" {
        return Err(Error::invalid(format!("could not enable WAL on {path} (journal_mode={mode})")));
    }
    // A small page cache: SQLite empties a connection's cache whenever another connection
    // committed since that connection's last transaction, and emptying costs time in proportion
    // to the cache's size, not to what it holds. A handle's connections take turns (ingress,
    // claims, handlers, reads), so a big cache was mostly paid for and rarely reused (measured:
    // 16 MB -> 2 MB took batched drain from ~44k to ~49k events/s; ingest and list unchanged).
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys=ON;
         PRAGMA synchronous={};
         PRAGMA temp_store=MEMORY;
         PRAGMA cache_size=-2000;
         PRAGMA wal_autocheckpoint=0;
         PRAGMA journal_size_limit=67108864;",
        if s.synchronous_full { "FULL" } else { "NORMAL" }
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    // SAFETY: the hook's argument is the connection's own handle, valid while the hook can run;
    // the callback only drops this connection's unwritten WAL frames (see the function).
    unsafe {
        rusqlite::ffi::sqlite3_rollback_hook(conn.handle(), Some(on_rollback), conn.handle() as *mut std::ffi::c_void);
    }
    if let Some(progress) = progress {
        // SAFETY: the hook argument points into an `Arc` that the caller keeps alive while the
        // connection is open (see `WalProgress`); the callback only touches atomics.
        unsafe {
            rusqlite::ffi::sqlite3_wal_hook(
                conn.handle(),
                Some(wal_hook),
                std::sync::Arc::as_ptr(progress) as *mut std::ffi::c_void,
            );
        }
    }
    Ok(conn)
}

/// Rollback hook of every Knocker connection: frames of the rolled-back transaction that the
/// `knocker-wal` VFS still buffers must never be written (`vfs::discard_uncommitted`).
unsafe extern "C" fn on_rollback(db: *mut std::ffi::c_void) {
    crate::vfs::discard_uncommitted(db as *mut rusqlite::ffi::sqlite3);
}

/// WAL hook of connections that report to the checkpointer: the WAL's length after each commit.
unsafe extern "C" fn wal_hook(
    arg: *mut std::ffi::c_void,
    _db: *mut rusqlite::ffi::sqlite3,
    _schema: *const std::ffi::c_char,
    frames: std::ffi::c_int,
) -> std::ffi::c_int {
    (*(arg as *const WalProgress)).on_commit(frames as i64);
    rusqlite::ffi::SQLITE_OK
}

/// One PASSIVE checkpoint: copies committed WAL frames into the database file without blocking
/// writers or readers. Returns (frames in the WAL, frames checkpointed).
pub(crate) fn checkpoint_passive(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)))?)
}

/// Applies forward-only migrations; refuses a newer schema.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    // Table rebuilds (v4) drop and rename tables that others reference: foreign keys are off
    // while migrating (the pragma only works outside a transaction) and are checked before the
    // migration commits.
    conn.execute_batch("PRAGMA foreign_keys=OFF")?;
    let result = migrate_in_transaction(conn);
    conn.execute_batch("PRAGMA foreign_keys=ON")?;
    result
}

fn migrate_in_transaction(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found: version, supported: SCHEMA_VERSION });
    }
    if version == 0 {
        let existing: i64 = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name LIKE 'knocker\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )?;
        if existing > 0 {
            return Err(Error::NotKnocker(
                "the file has knocker_* tables but no Knocker schema version (an older or foreign layout); \
                 export what you need and start from a new file"
                    .into(),
            ));
        }
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    if version < SCHEMA_VERSION {
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get::<_, String>(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::invalid(format!(
                "migrating to schema {SCHEMA_VERSION} found rows of {table} whose foreign key points nowhere; \
                 nothing was changed. Run `PRAGMA foreign_key_check` on a copy of the file to see them"
            )));
        }
    }
    tx.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON encoding of headers and query
// ---------------------------------------------------------------------------------------------

/// Headers as a JSON object; repeated names are joined with ", " (HTTP field semantics).
///
/// Written out directly rather than through a `serde_json::Map` (this runs for every receipt;
/// the map cost ~8,000 instructions of ~120,000 per ingest), with the same text: names in byte
/// order, as the map's BTreeMap keeps them, a repeated name's values in arrival order, and
/// serde_json's own string escaping.
pub(crate) fn headers_to_json(h: &Pairs) -> String {
    let mut sorted: Vec<&(String, String)> = h.0.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0)); // stable: arrival order within one name
    let mut out: Vec<u8> = Vec::with_capacity(2 + h.0.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>());
    out.push(b'{');
    let mut rest = sorted.as_slice();
    while let Some(((name, first), more)) = rest.split_first() {
        let same = more.iter().take_while(|(k, _)| k == name).count();
        if out.len() > 1 {
            out.push(b',');
        }
        write_json_str(&mut out, name);
        out.push(b':');
        if same == 0 {
            write_json_str(&mut out, first);
        } else {
            let mut joined = first.clone();
            for (_, v) in &more[..same] {
                joined.push_str(", ");
                joined.push_str(v);
            }
            write_json_str(&mut out, &joined);
        }
        rest = &more[same..];
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON text of UTF-8 strings is UTF-8")
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

/// Query as a JSON object; a repeated key becomes an array of its values in order.
pub(crate) fn query_to_json(q: &Pairs) -> String {
    let mut map: Map<String, Value> = Map::new();
    for (k, v) in q.iter() {
        match map.get_mut(k) {
            Some(Value::Array(a)) => a.push(Value::String(v.to_string())),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, Value::String(v.to_string())]);
            }
            None => {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
    }
    Value::Object(map).to_string()
}

pub(crate) fn pairs_from_json(text: &str) -> Pairs {
    let mut out = Pairs::new();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        for (k, v) in map {
            match v {
                Value::String(s) => out.push(k, s),
                Value::Array(items) => {
                    for item in items {
                        out.push(k.clone(), item.as_str().map(str::to_string).unwrap_or_else(|| item.to_string()));
                    }
                }
                other => out.push(k, other.to_string()),
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

/// The persisted part of an endpoint (never secrets).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EndpointRow {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub provider: Option<String>,
    pub enabled: bool,
    pub verification_required: bool,
    pub max_body_bytes: i64,
    pub max_attempts: i64,
    pub backoff_base_s: f64,
    pub backoff_max_s: f64,
    pub body_hash_dedupe: bool,
}

macro_rules! endpoint_cols {
    () => {
        "id, name, path, provider, enabled, verification_required, max_body_bytes, max_attempts, backoff_base_s, \
         backoff_max_s, body_hash_dedupe"
    };
}

fn endpoint_from_row(r: &Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        id: r.get(0)?,
        name: r.get(1)?,
        path: r.get(2)?,
        provider: r.get(3)?,
        enabled: r.get(4)?,
        verification_required: r.get(5)?,
        max_body_bytes: r.get(6)?,
        max_attempts: r.get(7)?,
        backoff_base_s: r.get(8)?,
        backoff_max_s: r.get(9)?,
        body_hash_dedupe: r.get(10)?,
    })
}

/// Insert, or update everything but the id on a name conflict. Returns the id.
pub(crate) fn upsert_endpoint(tx: &Transaction<'_>, e: &EndpointRow, now_s: i64) -> Result<i64> {
    let taken: Option<String> = tx
        .query_row("SELECT name FROM knocker_endpoints WHERE path = ?1 AND name <> ?2", params![e.path, e.name], |r| r.get(0))
        .optional()?;
    if let Some(other) = taken {
        return Err(Error::invalid(format!("path {:?} is already used by endpoint {other:?}; paths are unique", e.path)));
    }
    let id = tx.query_row(
        "INSERT INTO knocker_endpoints (name, path, provider, enabled, verification_required, max_body_bytes,
             max_attempts, backoff_base_s, backoff_max_s, body_hash_dedupe, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT(name) DO UPDATE SET path = excluded.path, provider = excluded.provider,
             enabled = excluded.enabled, verification_required = excluded.verification_required,
             max_body_bytes = excluded.max_body_bytes, max_attempts = excluded.max_attempts,
             backoff_base_s = excluded.backoff_base_s, backoff_max_s = excluded.backoff_max_s,
             body_hash_dedupe = excluded.body_hash_dedupe, updated_at = excluded.updated_at
         RETURNING id",
        params![
            e.name,
            e.path,
            e.provider,
            e.enabled,
            e.verification_required,
            e.max_body_bytes,
            e.max_attempts,
            e.backoff_base_s,
            e.backoff_max_s,
            e.body_hash_dedupe,
            now_s
        ],
        |r| r.get(0),
    )?;
    Ok(id)
}

pub(crate) fn endpoint_by_name(conn: &Connection, name: &str) -> Result<Option<EndpointRow>> {
    let mut st = conn.prepare_cached(concat!("SELECT ", endpoint_cols!(), " FROM knocker_endpoints WHERE name = ?1"))?;
    Ok(st.query_row([name], endpoint_from_row).optional()?)
}

/// SQLite's `data_version` of this connection: it moves when another connection commits to the
/// file, and not for this connection's own commits.
pub(crate) fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?)
}

pub(crate) fn endpoint_by_id(conn: &Connection, id: i64) -> Result<Option<EndpointRow>> {
    let mut st = conn.prepare_cached(concat!("SELECT ", endpoint_cols!(), " FROM knocker_endpoints WHERE id = ?1"))?;
    Ok(st.query_row([id], endpoint_from_row).optional()?)
}

pub(crate) fn list_endpoints(conn: &Connection) -> Result<Vec<EndpointRow>> {
    let mut st = conn.prepare_cached(concat!("SELECT ", endpoint_cols!(), " FROM knocker_endpoints ORDER BY name"))?;
    let rows = st.query_map([], endpoint_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Ingress
// ---------------------------------------------------------------------------------------------

/// Everything one receipt writes.
pub(crate) struct ReceiptRow<'a> {
    pub endpoint_id: i64,
    pub received_at: i64,
    pub now_ms: i64,
    pub provider_event_id: Option<&'a str>,
    pub provider_delivery_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub dedupe_key: Option<&'a str>,
    pub method: &'a str,
    pub url: Option<&'a str>,
    pub headers_json: &'a str,
    pub query_json: &'a str,
    pub body: &'a [u8],
    pub body_size: i64,
    pub signature_valid: Option<bool>,
    pub signature_error: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub secret_index: Option<i64>,
    pub status_code: u16,
    /// Whether this receipt may create or link an event.
    pub accepted: bool,
    pub max_attempts: i64,
    pub traceparent: Option<&'a str>,
}

/// Result of storing one receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub delivery_id: i64,
    pub event_id: Option<i64>,
    pub duplicate: bool,
}

/// Dedupe decision, optional event insert and the delivery insert, inside the caller's
/// transaction.
pub(crate) fn store_receipt(tx: &Connection, r: &ReceiptRow<'_>, ids: &mut IdFloors) -> Result<Stored> {
    let mut event_id = None;
    let mut duplicate = false;
    if r.accepted {
        if let Some(key) = r.dedupe_key {
            let mut st = tx.prepare_cached("SELECT id FROM knocker_events WHERE endpoint_id = ?1 AND dedupe_key = ?2")?;
            event_id = st.query_row(params![r.endpoint_id, key], |row| row.get::<_, i64>(0)).optional()?;
            duplicate = event_id.is_some();
        }
        if event_id.is_none() {
            let mut st = tx.prepare_cached(
                "INSERT INTO knocker_events (id, endpoint_id, received_at, provider_event_id, provider_delivery_id,
                     event_type, dedupe_key, status, attempt_count, max_attempts, run_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'received', 0, ?8, ?9, ?9)",
            )?;
            st.execute(params![
                ids.take_event(),
                r.endpoint_id,
                r.received_at,
                r.provider_event_id,
                r.provider_delivery_id,
                r.event_type,
                r.dedupe_key,
                r.max_attempts,
                r.now_ms
            ])?;
            event_id = Some(tx.last_insert_rowid());
        }
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO knocker_deliveries (id, endpoint_id, event_id, received_at, provider_event_id, provider_delivery_id,
             event_type, dedupe_key, method, url, headers_json, query_json, body_blob, body_size, signature_valid,
             signature_error, error_code, secret_index, status_code, traceparent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?;
    st.execute(params![
        ids.take_delivery(),
        r.endpoint_id,
        event_id,
        r.received_at,
        r.provider_event_id,
        r.provider_delivery_id,
        r.event_type,
        r.dedupe_key,
        r.method,
        r.url,
        r.headers_json,
        r.query_json,
        r.body,
        r.body_size,
        r.signature_valid,
        r.signature_error,
        r.error_code,
        r.secret_index,
        r.status_code,
        r.traceparent
    ])?;
    Ok(Stored { delivery_id: tx.last_insert_rowid(), event_id, duplicate })
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// The event's payload is the body, headers, query and method of its first linked delivery
/// (the valid receipt that created it); deliveries are append-only, so it never changes.
const EVENT_SELECT: &str = "SELECT e.id, p.name, e.event_type, e.provider_event_id, e.provider_delivery_id, e.dedupe_key,
        e.status, e.attempt_count, e.max_attempts, d.method, d.url, d.headers_json, d.query_json, d.body_blob,
        e.received_at, e.handled_at, e.run_at_ms, e.last_error, e.replay_delivery_id, e.lease_owner, d.traceparent
   FROM knocker_events e
   JOIN knocker_endpoints p ON p.id = e.endpoint_id
   JOIN knocker_deliveries d ON d.id = (SELECT min(x.id) FROM knocker_deliveries x WHERE x.event_id = e.id)";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    let status: String = r.get(6)?;
    let headers: String = r.get(11)?;
    let query: String = r.get(12)?;
    Ok(Event {
        id: r.get(0)?,
        endpoint: r.get(1)?,
        event_type: r.get(2)?,
        provider_event_id: r.get(3)?,
        provider_delivery_id: r.get(4)?,
        dedupe_key: r.get(5)?,
        status: Status::parse(&status).unwrap_or(Status::Received),
        attempt_count: r.get(7)?,
        max_attempts: r.get(8)?,
        method: r.get(9)?,
        url: r.get(10)?,
        headers: pairs_from_json(&headers),
        query: pairs_from_json(&query),
        body: r.get(13)?,
        received_at: r.get(14)?,
        handled_at: r.get(15)?,
        run_at_ms: r.get(16)?,
        last_error: r.get(17)?,
        replay_delivery_id: r.get(18)?,
        lease_owner: r.get(19)?,
        traceparent: r.get(20)?,
    })
}

pub(crate) fn get_event(conn: &Connection, id: i64) -> Result<Option<Event>> {
    let mut st = conn.prepare_cached(&format!("{EVENT_SELECT} WHERE e.id = ?1"))?;
    Ok(st.query_row([id], event_from_row).optional()?)
}

/// The SQL and arguments of this read (public so that tests can check its query plan).
/// WHERE clauses with numbered parameters, for the list and bulk queries: `bind` takes a
/// clause with one `{}` where the parameter goes.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<rusqlite::types::Value>,
}

impl Where {
    fn bind(&mut self, clause: &str, value: impl Into<rusqlite::types::Value>) {
        self.args.push(value.into());
        self.clauses.push(clause.replace("{}", &format!("?{}", self.args.len())));
    }
    fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_string());
    }
    /// `select` + WHERE + `order` + a bound LIMIT.
    fn finish(mut self, select: &str, order: &str, limit: i64) -> (String, Vec<rusqlite::types::Value>) {
        let mut sql = String::from(select);
        if !self.clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.clauses.join(" AND "));
        }
        self.args.push(limit.into());
        sql.push_str(&format!(" {order} LIMIT ?{}", self.args.len()));
        (sql, self.args)
    }
}

pub fn list_events_sql(f: &EventFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut w = Where::default();
    if let Some(s) = &f.status {
        // A known status is written as a literal so that the planner can pick its partial index;
        // anything else matches nothing.
        match Status::parse(s) {
            Some(st) => w.raw(&format!("e.status = '{}'", st.as_str())),
            None => w.raw("0"),
        }
    }
    if let Some(name) = &f.endpoint {
        w.bind("e.endpoint_id = (SELECT id FROM knocker_endpoints WHERE name = {})", name.clone());
    }
    if let Some(t) = &f.event_type {
        w.bind("e.event_type = {}", t.clone());
    }
    if let Some(s) = f.since {
        w.bind("e.received_at >= {}", s);
    }
    if let Some(u) = f.until {
        w.bind("e.received_at < {}", u);
    }
    if let Some(b) = f.before_id {
        w.bind("e.id < {}", b);
    }
    w.finish(EVENT_SELECT, "ORDER BY e.received_at DESC, e.id DESC", f.limit)
}

pub(crate) fn list_events(conn: &Connection, f: &EventFilter) -> Result<Vec<Event>> {
    let (sql, args) = list_events_sql(f);
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), event_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.event_id, p.name, d.event_type, d.provider_event_id, d.provider_delivery_id,
        d.dedupe_key, d.method, d.url, d.headers_json, d.query_json, d.body_blob, d.body_size, d.received_at,
        d.signature_valid, d.signature_error, d.error_code, d.secret_index, d.status_code, d.traceparent
   FROM knocker_deliveries d JOIN knocker_endpoints p ON p.id = d.endpoint_id";

fn delivery_from_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    let headers: String = r.get(9)?;
    let query: String = r.get(10)?;
    Ok(Delivery {
        id: r.get(0)?,
        event_id: r.get(1)?,
        endpoint: r.get(2)?,
        event_type: r.get(3)?,
        provider_event_id: r.get(4)?,
        provider_delivery_id: r.get(5)?,
        dedupe_key: r.get(6)?,
        method: r.get(7)?,
        url: r.get(8)?,
        headers: pairs_from_json(&headers),
        query: pairs_from_json(&query),
        body: r.get(11)?,
        body_size: r.get(12)?,
        received_at: r.get(13)?,
        signature_valid: r.get(14)?,
        signature_error: r.get(15)?,
        error_code: r.get(16)?,
        secret_index: r.get(17)?,
        status_code: r.get(18)?,
        traceparent: r.get(19)?,
    })
}

pub(crate) fn get_delivery(conn: &Connection, id: i64) -> Result<Option<Delivery>> {
    let mut st = conn.prepare_cached(&format!("{DELIVERY_SELECT} WHERE d.id = ?1"))?;
    Ok(st.query_row([id], delivery_from_row).optional()?)
}

/// The SQL and arguments of this read (public so that tests can check its query plan).
pub fn list_deliveries_sql(f: &DeliveryFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut w = Where::default();
    if let Some(e) = f.event_id {
        w.bind("d.event_id = {}", e);
    }
    if let Some(name) = &f.endpoint {
        w.bind("d.endpoint_id = (SELECT id FROM knocker_endpoints WHERE name = {})", name.clone());
    }
    match f.signature_valid {
        Some(true) => w.raw("d.signature_valid = 1"),
        Some(false) => w.raw("(d.signature_valid = 0 OR d.signature_valid IS NULL)"),
        None => {}
    }
    match f.orphaned {
        Some(true) => w.raw("d.event_id IS NULL"),
        Some(false) => w.raw("d.event_id IS NOT NULL"),
        None => {}
    }
    if let Some(s) = f.since {
        w.bind("d.received_at >= {}", s);
    }
    w.finish(DELIVERY_SELECT, "ORDER BY d.received_at DESC, d.id DESC", f.limit)
}

pub(crate) fn list_deliveries(conn: &Connection, f: &DeliveryFilter) -> Result<Vec<Delivery>> {
    let (sql, args) = list_deliveries_sql(f);
    let mut st = conn.prepare_cached(&sql)?;
    let rows =
        st.query_map(rusqlite::params_from_iter(args), delivery_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn list_attempts(conn: &Connection, event_id: i64) -> Result<Vec<Attempt>> {
    let mut st = conn.prepare_cached(
        "SELECT id, event_id, attempt_no, worker_id, delivery_id, started_at_ms, finished_at_ms, duration_ms, outcome, error
           FROM knocker_attempts WHERE event_id = ?1 ORDER BY id",
    )?;
    let rows = st
        .query_map([event_id], |r| {
            Ok(Attempt {
                id: r.get(0)?,
                event_id: r.get(1)?,
                attempt_no: r.get(2)?,
                worker_id: r.get(3)?,
                delivery_id: r.get(4)?,
                started_at_ms: r.get(5)?,
                finished_at_ms: r.get(6)?,
                duration_ms: r.get(7)?,
                outcome: r.get(8)?,
                error: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The SQL and arguments of this read (public so that tests can check its query plan).
pub fn list_prune_audits_sql(f: &AuditFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut w = Where::default();
    if let Some(k) = &f.kind {
        w.bind("kind = {}", k.clone());
    }
    if let Some(s) = f.since {
        w.bind("executed_at >= {}", s);
    }
    w.finish(
        "SELECT id, kind, executed_at, events_pruned, deliveries_pruned, attempts_pruned, summary_json FROM knocker_prune_audits",
        "ORDER BY executed_at DESC, id DESC",
        f.limit,
    )
}

pub(crate) fn list_prune_audits(conn: &Connection, f: &AuditFilter) -> Result<Vec<PruneAudit>> {
    let (sql, args) = list_prune_audits_sql(f);
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok(PruneAudit {
                id: r.get(0)?,
                kind: r.get(1)?,
                executed_at: r.get(2)?,
                events_pruned: r.get(3)?,
                deliveries_pruned: r.get(4)?,
                attempts_pruned: r.get(5)?,
                summary_json: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn stats(conn: &Connection, now_ms: i64) -> Result<Stats> {
    let mut out = Stats::default();
    {
        let mut st = conn.prepare_cached(
            "SELECT p.name, e.status, count(*) FROM knocker_events e JOIN knocker_endpoints p ON p.id = e.endpoint_id
              GROUP BY e.endpoint_id, e.status",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            let status: String = r.get(1)?;
            let n: i64 = r.get(2)?;
            *out.by_status.entry(status.clone()).or_default() += n;
            out.by_endpoint.entry(name).or_insert_with(BTreeMap::new).insert(status, n);
        }
    }
    let (ready, oldest): (i64, Option<i64>) = conn.query_row(
        "SELECT count(*), min(run_at_ms) FROM knocker_events WHERE status IN ('received', 'failed') AND run_at_ms <= ?1",
        [now_ms],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (expired, oldest_lease): (i64, Option<i64>) = conn.query_row(
        "SELECT count(*), min(lease_expires_at_ms) FROM knocker_events WHERE status = 'processing' AND lease_expires_at_ms < ?1",
        [now_ms],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    out.claimable = ready + expired;
    let oldest_due = match (oldest, oldest_lease) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    out.oldest_claimable_age_s = oldest_due.map(|t| (now_ms - t).max(0) / 1000);
    out.dead = out.by_status.get("dead").copied().unwrap_or(0);
    out.processing = out.by_status.get("processing").copied().unwrap_or(0);
    out.orphan_deliveries =
        conn.query_row("SELECT count(*) FROM knocker_deliveries WHERE event_id IS NULL", [], |r| r.get(0))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Queue: claim, transitions, wake-up hints
// ---------------------------------------------------------------------------------------------

/// A claimed event: the worker holds the lease identified by `lease_token` until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub event_id: i64,
    pub lease_token: String,
    pub attempt_no: i64,
    pub max_attempts: i64,
    pub endpoint_id: i64,
    pub claimed_at_ms: i64,
}

/// An event that a claim moved to `dead` because the lease of its last allowed attempt expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LostLastAttempt {
    pub event_id: i64,
    pub endpoint: String,
    pub attempt: i64,
    pub error: String,
}

/// Takes up to `n` claimable events. Expired leases are settled first: the lost attempt gets an
/// attempt row, and an event whose last allowed attempt was lost goes `dead` instead of being
/// retried forever (returned second, for the dead-letter metric and log).
pub(crate) fn claim(
    tx: &Connection,
    worker_id: &str,
    token_prefix: &str,
    now_ms: i64,
    lease_ms: i64,
    n: i64,
) -> Result<(Vec<Claim>, Vec<LostLastAttempt>)> {
    let mut ids: Vec<i64> = Vec::new();
    let mut dead = Vec::new();
    {
        let mut st = tx.prepare_cached(
            "SELECT e.id, e.attempt_count, e.max_attempts, e.lease_owner, e.lease_expires_at_ms, p.name
               FROM knocker_events e JOIN knocker_endpoints p ON p.id = e.endpoint_id
              WHERE e.status = 'processing' AND e.lease_expires_at_ms < ?1 ORDER BY e.lease_expires_at_ms LIMIT ?2",
        )?;
        let expired = st
            .query_map(params![now_ms, n], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, attempt, max, owner, expired_at, endpoint) in expired {
            let error = format!(
                "lease expired: worker {} did not finish attempt {attempt} before its visibility timeout",
                owner.as_deref().unwrap_or("?")
            );
            insert_attempt(tx, id, attempt, owner.as_deref(), None, expired_at, now_ms, "lost", Some(&error))?;
            if attempt >= max {
                tx.prepare_cached(
                    "UPDATE knocker_events SET status = 'dead', last_error = ?2, lease_token = NULL, lease_owner = NULL,
                         lease_expires_at_ms = NULL, updated_at_ms = ?3 WHERE id = ?1 AND status = 'processing'",
                )?
                .execute(params![id, error, now_ms])?;
                dead.push(LostLastAttempt { event_id: id, endpoint, attempt, error });
            } else {
                tx.prepare_cached("UPDATE knocker_events SET last_error = ?2 WHERE id = ?1")?.execute(params![id, error])?;
                ids.push(id);
            }
        }
    }
    if (ids.len() as i64) < n {
        let mut st = tx.prepare_cached(
            "SELECT id FROM knocker_events WHERE status IN ('received', 'failed') AND run_at_ms <= ?1
              ORDER BY run_at_ms, id LIMIT ?2",
        )?;
        let ready = st.query_map(params![now_ms, n - ids.len() as i64], |r| r.get::<_, i64>(0))?;
        for id in ready {
            ids.push(id?);
        }
    }
    let mut claims = Vec::with_capacity(ids.len());
    let mut st = tx.prepare_cached(
        "UPDATE knocker_events SET status = 'processing', lease_token = ?2, lease_owner = ?3,
             lease_expires_at_ms = ?4, attempt_count = attempt_count + 1, updated_at_ms = ?5
          WHERE id = ?1 RETURNING attempt_count, max_attempts, endpoint_id",
    )?;
    for id in ids {
        let token = format!("{token_prefix}-{id}");
        let (attempt_no, max_attempts, endpoint_id) = st.query_row(
            params![id, token, worker_id, now_ms + lease_ms, now_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        claims.push(Claim { event_id: id, lease_token: token, attempt_no, max_attempts, endpoint_id, claimed_at_ms: now_ms });
    }
    Ok((claims, dead))
}

/// Earliest time (ms) at which something becomes claimable, if anything is scheduled.
pub(crate) fn next_due_ms(conn: &Connection) -> Result<Option<i64>> {
    let ready: Option<i64> = conn.query_row(
        "SELECT min(run_at_ms) FROM knocker_events WHERE status IN ('received', 'failed')",
        [],
        |r| r.get(0),
    )?;
    let lease: Option<i64> = conn.query_row(
        "SELECT min(lease_expires_at_ms) FROM knocker_events WHERE status = 'processing'",
        [],
        |r| r.get(0),
    )?;
    Ok(match (ready, lease) {
        (Some(a), Some(b)) => Some(a.min(b + 1)),
        (a, b) => a.or(b.map(|x| x + 1)),
    })
}

/// The claimed event as the handler sees it, read inside the handler transaction. `None` when
/// the lease is no longer ours (reclaimed) or the event vanished.
pub(crate) fn load_claimed(tx: &Connection, claim: &Claim) -> Result<Option<Event>> {
    let mut st = tx.prepare_cached(&format!("{EVENT_SELECT} WHERE e.id = ?1 AND e.status = 'processing' AND e.lease_token = ?2"))?;
    Ok(st.query_row(params![claim.event_id, claim.lease_token], event_from_row).optional()?)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_attempt(
    tx: &Connection,
    event_id: i64,
    attempt_no: i64,
    worker_id: Option<&str>,
    delivery_id: Option<i64>,
    started_ms: i64,
    finished_ms: i64,
    outcome: &str,
    error: Option<&str>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO knocker_attempts (event_id, attempt_no, worker_id, delivery_id, started_at_ms, finished_at_ms,
             duration_ms, outcome, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        event_id,
        attempt_no,
        worker_id,
        delivery_id,
        started_ms,
        finished_ms,
        (finished_ms - started_ms).max(0),
        outcome,
        error
    ])?;
    Ok(())
}

/// The terminal or retry state a finished attempt moves its event to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Settle<'a> {
    Handled,
    Retry { run_at_ms: i64, error: &'a str },
    Dead { error: &'a str },
}

/// Compare-and-set on `(id, status='processing', lease_token)`: a worker that lost its lease
/// changes nothing. Returns whether the transition happened.
pub(crate) fn settle(tx: &Connection, claim: &Claim, now_ms: i64, s: &Settle<'_>) -> Result<bool> {
    let changed = match s {
        Settle::Handled => tx
            .prepare_cached(
                "UPDATE knocker_events SET status = 'handled', handled_at = ?3, last_error = NULL, lease_token = NULL,
                     lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?4
                  WHERE id = ?1 AND status = 'processing' AND lease_token = ?2",
            )?
            .execute(params![claim.event_id, claim.lease_token, now_ms / 1000, now_ms])?,
        Settle::Retry { run_at_ms, error } => tx
            .prepare_cached(
                "UPDATE knocker_events SET status = 'failed', run_at_ms = ?3, last_error = ?4, lease_token = NULL,
                     lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?5
                  WHERE id = ?1 AND status = 'processing' AND lease_token = ?2",
            )?
            .execute(params![claim.event_id, claim.lease_token, run_at_ms, error, now_ms])?,
        Settle::Dead { error } => tx
            .prepare_cached(
                "UPDATE knocker_events SET status = 'dead', last_error = ?3, lease_token = NULL, lease_owner = NULL,
                     lease_expires_at_ms = NULL, updated_at_ms = ?4
                  WHERE id = ?1 AND status = 'processing' AND lease_token = ?2",
            )?
            .execute(params![claim.event_id, claim.lease_token, error, now_ms])?,
    };
    Ok(changed == 1)
}

/// Gives an unstarted claim back: the attempt did not happen, so the count goes back too.
pub(crate) fn release(tx: &Connection, claim: &Claim, now_ms: i64) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE knocker_events SET status = CASE WHEN attempt_count > 1 THEN 'failed' ELSE 'received' END,
                 attempt_count = attempt_count - 1, run_at_ms = ?3, lease_token = NULL, lease_owner = NULL,
                 lease_expires_at_ms = NULL, updated_at_ms = ?3
              WHERE id = ?1 AND status = 'processing' AND lease_token = ?2",
        )?
        .execute(params![claim.event_id, claim.lease_token, now_ms])?;
    Ok(n == 1)
}

// ---------------------------------------------------------------------------------------------
// Operator actions
// ---------------------------------------------------------------------------------------------

pub(crate) fn event_status(tx: &Connection, id: i64) -> Result<Option<(Status, i64)>> {
    let row: Option<(String, i64)> = tx
        .prepare_cached("SELECT status, attempt_count FROM knocker_events WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(s, a)| (Status::parse(&s).unwrap_or(Status::Received), a)))
}

pub(crate) fn mark_ignored(tx: &Connection, id: i64, from: Status, now_ms: i64) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE knocker_events SET status = 'ignored', last_error = NULL, updated_at_ms = ?3
              WHERE id = ?1 AND status = ?2",
        )?
        .execute(params![id, from.as_str(), now_ms])?;
    Ok(n == 1)
}

/// Resets an event for another cycle: `received`, attempt count 0, due now.
pub(crate) fn reset_event(tx: &Connection, id: i64, from: Status, replay_delivery: Option<i64>, now_ms: i64) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE knocker_events SET status = 'received', attempt_count = 0, run_at_ms = ?3, handled_at = NULL,
                 last_error = NULL, replay_delivery_id = ?4, lease_token = NULL, lease_owner = NULL,
                 lease_expires_at_ms = NULL, updated_at_ms = ?3
              WHERE id = ?1 AND status = ?2",
        )?
        .execute(params![id, from.as_str(), now_ms, replay_delivery])?;
    Ok(n == 1)
}

pub(crate) fn delivery_link(tx: &Connection, delivery_id: i64) -> Result<Option<Option<i64>>> {
    Ok(tx
        .prepare_cached("SELECT event_id FROM knocker_deliveries WHERE id = ?1")?
        .query_row([delivery_id], |r| r.get::<_, Option<i64>>(0))
        .optional()?)
}

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

/// Returns the counts and the pruned event ids.
pub(crate) fn prune_events(tx: &Connection, p: &PruneEvents, now_s: i64) -> Result<(PruneEventsResult, Vec<i64>)> {
    let statuses: Vec<&str> = p.statuses.iter().map(|s| s.as_str()).collect();
    let placeholders = (0..statuses.len()).map(|i| format!("?{}", i + 1)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT id FROM knocker_events WHERE status IN ({placeholders}) AND received_at < ?{} \
         ORDER BY received_at, id LIMIT ?{}",
        statuses.len() + 1,
        statuses.len() + 2
    );
    let mut args: Vec<rusqlite::types::Value> =
        statuses.iter().map(|s| rusqlite::types::Value::Text(s.to_string())).collect();
    args.push(p.older_than.into());
    args.push(p.limit.into());
    let ids: Vec<i64> = tx
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut result = PruneEventsResult { dry_run: p.dry_run, ..Default::default() };
    let mut count_attempts = tx.prepare_cached("SELECT count(*) FROM knocker_attempts WHERE event_id = ?1")?;
    let mut count_deliveries = tx.prepare_cached("SELECT count(*) FROM knocker_deliveries WHERE event_id = ?1")?;
    for id in &ids {
        result.attempts_pruned += count_attempts.query_row([id], |r| r.get::<_, i64>(0))?;
        result.deliveries_pruned += count_deliveries.query_row([id], |r| r.get::<_, i64>(0))?;
    }
    result.events_pruned = ids.len() as i64;
    if p.dry_run {
        return Ok((result, ids));
    }
    record_id_floor(tx, "knocker_events")?;
    record_id_floor(tx, "knocker_deliveries")?;
    tx.execute("INSERT INTO knocker_prune_guard (id) VALUES (1)", [])?;
    {
        let mut del_d = tx.prepare_cached("DELETE FROM knocker_deliveries WHERE event_id = ?1")?;
        let mut del_e = tx.prepare_cached("DELETE FROM knocker_events WHERE id = ?1")?;
        for id in &ids {
            del_d.execute([id])?;
            // Attempts go by ON DELETE CASCADE (foreign_keys is ON on every Knocker connection).
            del_e.execute([id])?;
        }
    }
    tx.execute("DELETE FROM knocker_prune_guard", [])?;
    let summary = serde_json::json!({
        "statuses": statuses,
        "older_than": p.older_than,
        "limit": p.limit,
        "event_ids": ids,
    });
    tx.prepare_cached(
        "INSERT INTO knocker_prune_audits (kind, executed_at, events_pruned, deliveries_pruned, attempts_pruned, summary_json)
         VALUES ('prune_events', ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![now_s, result.events_pruned, result.deliveries_pruned, result.attempts_pruned, summary.to_string()])?;
    Ok((result, ids))
}

/// Returns the count and the pruned delivery ids.
pub(crate) fn prune_orphans(tx: &Connection, p: &PruneOrphans, now_s: i64) -> Result<(PruneDeliveriesResult, Vec<i64>)> {
    let ids: Vec<i64> = tx
        .prepare_cached(
            "SELECT id FROM knocker_deliveries WHERE event_id IS NULL AND received_at < ?1 ORDER BY received_at, id LIMIT ?2",
        )?
        .query_map(params![p.older_than, p.limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let result = PruneDeliveriesResult { deliveries_pruned: ids.len() as i64, dry_run: p.dry_run };
    if p.dry_run {
        return Ok((result, ids));
    }
    record_id_floor(tx, "knocker_deliveries")?;
    tx.execute("INSERT INTO knocker_prune_guard (id) VALUES (1)", [])?;
    {
        let mut del = tx.prepare_cached("DELETE FROM knocker_deliveries WHERE id = ?1 AND event_id IS NULL")?;
        for id in &ids {
            del.execute([id])?;
        }
    }
    tx.execute("DELETE FROM knocker_prune_guard", [])?;
    let summary = serde_json::json!({ "older_than": p.older_than, "limit": p.limit });
    tx.prepare_cached(
        "INSERT INTO knocker_prune_audits (kind, executed_at, events_pruned, deliveries_pruned, attempts_pruned, summary_json)
         VALUES ('prune_orphan_deliveries', ?1, NULL, ?2, NULL, ?3)",
    )?
    .execute(params![now_s, result.deliveries_pruned, summary.to_string()])?;
    Ok((result, ids))
}

// ---------------------------------------------------------------------------------------------
// Operator audit
// ---------------------------------------------------------------------------------------------

/// One operator mutation, recorded in the transaction that made it.
pub(crate) struct AuditEntry<'a> {
    pub action: &'a str,
    pub actor: &'a str,
    pub executed_at: i64,
    pub target_kind: &'a str,
    pub ids: &'a [i64],
    pub filters: serde_json::Value,
}

pub(crate) fn insert_operator_audit(tx: &Connection, a: &AuditEntry<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO knocker_operator_audits (action, actor, executed_at, target_kind, affected, ids_json, filters_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.action,
        a.actor,
        a.executed_at,
        a.target_kind,
        a.ids.len() as i64,
        serde_json::to_string(a.ids).unwrap_or_else(|_| "[]".into()),
        a.filters.to_string()
    ])?;
    Ok(())
}

pub fn list_operator_audits_sql(f: &OperatorAuditFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut w = Where::default();
    if let Some(a) = &f.action {
        w.bind("action = {}", a.clone());
    }
    if let Some(s) = f.since {
        w.bind("executed_at >= {}", s);
    }
    w.finish(
        "SELECT id, action, actor, executed_at, target_kind, affected, ids_json, filters_json FROM knocker_operator_audits",
        "ORDER BY executed_at DESC, id DESC",
        f.limit,
    )
}

pub(crate) fn list_operator_audits(conn: &Connection, f: &OperatorAuditFilter) -> Result<Vec<OperatorAudit>> {
    let (sql, args) = list_operator_audits_sql(f);
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), |r| {
            let ids: String = r.get(6)?;
            Ok(OperatorAudit {
                id: r.get(0)?,
                action: r.get(1)?,
                actor: r.get(2)?,
                executed_at: r.get(3)?,
                target_kind: r.get(4)?,
                affected: r.get(5)?,
                ids: serde_json::from_str(&ids).unwrap_or_default(),
                filters_json: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The WHERE clauses and arguments of a bulk selection: `f`'s filters, and a status among
/// `allowed` (or `f.status`). `limit` is not applied here.
fn bulk_where(f: &EventFilter, allowed: &[Status]) -> Where {
    let mut w = Where::default();
    let statuses: Vec<&str> = match &f.status {
        Some(s) => vec![s.as_str()],
        None => allowed.iter().map(|s| s.as_str()).collect(),
    };
    let mut ph = Vec::new();
    for st in statuses {
        w.args.push(st.to_string().into());
        ph.push(format!("?{}", w.args.len()));
    }
    w.raw(&format!("e.status IN ({})", ph.join(", ")));
    if let Some(name) = &f.endpoint {
        w.bind("e.endpoint_id = (SELECT id FROM knocker_endpoints WHERE name = {})", name.clone());
    }
    if let Some(t) = &f.event_type {
        w.bind("e.event_type = {}", t.clone());
    }
    if let Some(s) = f.since {
        w.bind("e.received_at >= {}", s);
    }
    if let Some(u) = f.until {
        w.bind("e.received_at < {}", u);
    }
    w
}

/// Ids (oldest first) of events matching a bulk selection whose status is in `allowed`.
pub(crate) fn select_for_bulk(conn: &Connection, f: &EventFilter, allowed: &[Status]) -> Result<Vec<i64>> {
    let (sql, args) = bulk_where(f, allowed).finish("SELECT e.id FROM knocker_events e", "ORDER BY e.received_at, e.id", f.limit);
    let ids = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(ids)
}

/// Runs a statement without parameters through the statement cache (savepoints in hot loops).
pub(crate) fn exec_cached(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// A `BEGIN IMMEDIATE` transaction whose BEGIN and COMMIT are cached statements (the ingress hot
/// path runs one per commit; parsing them anew was 3 % of an ingest's instructions). Rolls back
/// when dropped uncommitted, on an error or a panic alike.
pub(crate) struct ImmediateTx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> ImmediateTx<'c> {
    pub(crate) fn begin(conn: &'c Connection) -> Result<Self> {
        exec_cached(conn, "BEGIN IMMEDIATE")?;
        Ok(ImmediateTx { conn, open: true })
    }

    pub(crate) fn commit(mut self) -> Result<()> {
        exec_cached(self.conn, "COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for ImmediateTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for ImmediateTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Takes or renews the named lease when it is free, expired, or already ours.
pub(crate) fn try_lease(tx: &Connection, name: &str, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO knocker_leases (name, owner, expires_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
              WHERE knocker_leases.expires_at_ms <= ?4 OR knocker_leases.owner = excluded.owner",
        )?
        .execute(params![name, owner, now_ms + ttl_ms, now_ms])?;
    Ok(n == 1)
}

// =============================================================================================
// ADMIN (operator CLI): open checks, doctor, workers, bulk counts, export/import, backup.
// Used by `crate::admin`; appended here so that every SQL statement stays in this module.
// =============================================================================================

use crate::admin::{ExportDelivery, ExportEndpoint, ExportEvent, ExportFilter, LeaseInfo, WorkerActivity};

/// Checks, without creating or changing anything, that `path` is an existing Knocker file this
/// build can open. Returns its schema version.
pub(crate) fn probe_existing(path: &str) -> Result<i64> {
    use rusqlite::OpenFlags;
    let p = std::path::Path::new(path);
    if path.is_empty() || path == ":memory:" || !p.exists() {
        return Err(Error::DatabaseMissing(path.to_string()));
    }
    if p.is_dir() {
        return Err(Error::NotKnocker(format!("{path:?} is a directory, not a SQLite file")));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| Error::NotKnocker(format!("cannot open {path:?} as SQLite: {e}")))?;
    let version: i64 = match conn.query_row("PRAGMA user_version", [], |r| r.get(0)) {
        Ok(v) => v,
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::NotADatabase => {
            return Err(Error::NotKnocker(format!("{path:?} is not a SQLite database")))
        }
        Err(e) => return Err(e.into()),
    };
    if version > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found: version, supported: SCHEMA_VERSION });
    }
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'
            AND name IN ('knocker_endpoints', 'knocker_events', 'knocker_deliveries', 'knocker_attempts')",
        [],
        |r| r.get(0),
    )?;
    if version == 0 || tables < 4 {
        return Err(Error::NotKnocker(format!(
            "{path:?} is a SQLite file without the Knocker schema (user_version {version}, {tables} of 4 knocker_* tables)"
        )));
    }
    Ok(version)
}

/// A pragma's value as text (`journal_mode`, `synchronous`, `busy_timeout`, `user_version`, ...).
pub(crate) fn admin_pragma(conn: &Connection, name: &str) -> Result<String> {
    let v: rusqlite::types::Value = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
    Ok(match v {
        rusqlite::types::Value::Integer(n) => n.to_string(),
        rusqlite::types::Value::Text(s) => s,
        rusqlite::types::Value::Real(f) => f.to_string(),
        _ => String::new(),
    })
}

/// `PRAGMA quick_check` lines (`["ok"]` when healthy).
pub(crate) fn admin_quick_check(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn.prepare("PRAGMA quick_check")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn admin_foreign_key_violations(conn: &Connection) -> Result<i64> {
    let mut st = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while rows.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

pub(crate) fn admin_count_expired_leases(conn: &Connection, now_ms: i64) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM knocker_events WHERE status = 'processing' AND lease_expires_at_ms < ?1",
        [now_ms],
        |r| r.get(0),
    )?)
}

pub(crate) fn admin_count_events_without_delivery(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM knocker_events e
          WHERE NOT EXISTS (SELECT 1 FROM knocker_deliveries d WHERE d.event_id = e.id)",
        [],
        |r| r.get(0),
    )?)
}

/// `(name, provider)` of endpoints whose stored policy requires verification.
pub(crate) fn admin_endpoints_requiring_verification(conn: &Connection) -> Result<Vec<(String, Option<String>)>> {
    let mut st =
        conn.prepare("SELECT name, provider FROM knocker_endpoints WHERE verification_required = 1 ORDER BY name")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Attempts finished since `since_ms`, grouped by worker id (operator `ignore` rows have none).
pub(crate) fn admin_worker_activity(conn: &Connection, since_ms: i64) -> Result<Vec<WorkerActivity>> {
    let mut st = conn.prepare(
        "SELECT worker_id, count(*), sum(outcome = 'handled'), sum(outcome = 'failed'), sum(outcome = 'dead'),
                sum(outcome = 'lost'), sum(outcome = 'ignored'), min(started_at_ms), max(finished_at_ms),
                avg(duration_ms)
           FROM knocker_attempts WHERE finished_at_ms >= ?1
          GROUP BY worker_id ORDER BY max(finished_at_ms) DESC",
    )?;
    let rows = st
        .query_map([since_ms], |r| {
            Ok(WorkerActivity {
                worker_id: r.get(0)?,
                attempts: r.get(1)?,
                handled: r.get(2)?,
                failed: r.get(3)?,
                dead: r.get(4)?,
                lost: r.get(5)?,
                ignored: r.get(6)?,
                first_started_at_ms: r.get(7)?,
                last_finished_at_ms: r.get(8)?,
                avg_duration_ms: r.get::<_, Option<f64>>(9)?.unwrap_or(0.0),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Every `processing` event with its lease, soonest-expiring first.
pub(crate) fn admin_leases(conn: &Connection, now_ms: i64) -> Result<Vec<LeaseInfo>> {
    let mut st = conn.prepare(
        "SELECT e.id, p.name, e.lease_owner, e.attempt_count, e.max_attempts, e.lease_expires_at_ms, e.updated_at_ms
           FROM knocker_events e JOIN knocker_endpoints p ON p.id = e.endpoint_id
          WHERE e.status = 'processing' ORDER BY e.lease_expires_at_ms, e.id",
    )?;
    let rows = st
        .query_map([], |r| {
            let expires: Option<i64> = r.get(5)?;
            Ok(LeaseInfo {
                event_id: r.get(0)?,
                endpoint: r.get(1)?,
                lease_owner: r.get(2)?,
                attempt_count: r.get(3)?,
                max_attempts: r.get(4)?,
                lease_expires_at_ms: expires,
                claimed_at_ms: r.get(6)?,
                expired: expires.is_some_and(|t| t < now_ms),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many events a bulk action with this filter (ignoring `limit`) would select now.
pub(crate) fn admin_count_for_bulk(conn: &Connection, f: &EventFilter, allowed: &[Status]) -> Result<i64> {
    let w = bulk_where(f, allowed);
    let sql = format!("SELECT count(*) FROM knocker_events e WHERE {}", w.clauses.join(" AND "));
    Ok(conn.query_row(&sql, rusqlite::params_from_iter(w.args), |r| r.get(0))?)
}

fn export_where(f: &ExportFilter, alias: &str, args: &mut Vec<rusqlite::types::Value>) -> Vec<String> {
    use rusqlite::types::Value as V;
    let mut clauses = Vec::new();
    if let Some(s) = f.since {
        args.push(V::Integer(s));
        clauses.push(format!("{alias}.received_at >= ?{}", args.len()));
    }
    if let Some(u) = f.until {
        args.push(V::Integer(u));
        clauses.push(format!("{alias}.received_at < ?{}", args.len()));
    }
    if let Some(name) = &f.endpoint {
        args.push(V::Text(name.clone()));
        clauses.push(format!("{alias}.endpoint_id = (SELECT id FROM knocker_endpoints WHERE name = ?{})", args.len()));
    }
    clauses
}

/// `(events, orphan deliveries)` an export with this filter writes.
pub(crate) fn admin_count_export(conn: &Connection, f: &ExportFilter) -> Result<(i64, i64)> {
    let mut args = Vec::new();
    let mut clauses = export_where(f, "e", &mut args);
    clauses.push("1 = 1".into());
    let events: i64 = conn.query_row(
        &format!("SELECT count(*) FROM knocker_events e WHERE {}", clauses.join(" AND ")),
        rusqlite::params_from_iter(args),
        |r| r.get(0),
    )?;
    let mut args = Vec::new();
    let mut clauses = export_where(f, "d", &mut args);
    clauses.push("d.event_id IS NULL".into());
    let orphans: i64 = conn.query_row(
        &format!("SELECT count(*) FROM knocker_deliveries d WHERE {}", clauses.join(" AND ")),
        rusqlite::params_from_iter(args),
        |r| r.get(0),
    )?;
    Ok((events, orphans))
}

pub(crate) fn admin_export_endpoints(conn: &Connection) -> Result<Vec<ExportEndpoint>> {
    Ok(list_endpoints(conn)?
        .into_iter()
        .map(|e| ExportEndpoint {
            name: e.name,
            path: e.path,
            provider: e.provider,
            enabled: e.enabled,
            verification_required: e.verification_required,
            max_body_bytes: e.max_body_bytes,
            max_attempts: e.max_attempts,
            backoff_base_s: e.backoff_base_s,
            backoff_max_s: e.backoff_max_s,
            body_hash_dedupe: e.body_hash_dedupe,
        })
        .collect())
}

/// A page of events (id order, after `after_id`), without their deliveries.
pub(crate) fn admin_export_events_page(conn: &Connection, f: &ExportFilter, after_id: i64, limit: i64) -> Result<Vec<ExportEvent>> {
    use rusqlite::types::Value as V;
    let mut args = Vec::new();
    let mut clauses = export_where(f, "e", &mut args);
    args.push(V::Integer(after_id));
    clauses.push(format!("e.id > ?{}", args.len()));
    args.push(V::Integer(limit));
    let sql = format!(
        "SELECT e.id, p.name, e.received_at, e.provider_event_id, e.provider_delivery_id, e.event_type, e.dedupe_key,
                e.status, e.attempt_count, e.max_attempts, e.run_at_ms, e.handled_at, e.last_error
           FROM knocker_events e JOIN knocker_endpoints p ON p.id = e.endpoint_id
          WHERE {} ORDER BY e.id LIMIT ?{}",
        clauses.join(" AND "),
        args.len()
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok(ExportEvent {
                source_id: r.get(0)?,
                endpoint: r.get(1)?,
                received_at: r.get(2)?,
                provider_event_id: r.get(3)?,
                provider_delivery_id: r.get(4)?,
                event_type: r.get(5)?,
                dedupe_key: r.get(6)?,
                status: r.get(7)?,
                attempt_count: r.get(8)?,
                max_attempts: r.get(9)?,
                run_at_ms: r.get(10)?,
                handled_at: r.get(11)?,
                last_error: r.get(12)?,
                deliveries: Vec::new(),
                attempts: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

const EXPORT_DELIVERY_COLS: &str = "d.id, p.name, d.received_at, d.provider_event_id, d.provider_delivery_id, d.event_type,
        d.dedupe_key, d.method, d.url, d.headers_json, d.query_json, d.body_blob, d.body_size, d.signature_valid,
        d.signature_error, d.error_code, d.secret_index, d.status_code, d.traceparent";

fn export_delivery_from_row(r: &Row<'_>) -> rusqlite::Result<ExportDelivery> {
    use base64::Engine as _;
    let headers: String = r.get(9)?;
    let query: String = r.get(10)?;
    let body: Vec<u8> = r.get(11)?;
    Ok(ExportDelivery {
        source_id: r.get(0)?,
        endpoint: r.get(1)?,
        received_at: r.get(2)?,
        provider_event_id: r.get(3)?,
        provider_delivery_id: r.get(4)?,
        event_type: r.get(5)?,
        dedupe_key: r.get(6)?,
        method: r.get(7)?,
        url: r.get(8)?,
        headers: serde_json::from_str(&headers).unwrap_or(Value::Object(Map::new())),
        query: serde_json::from_str(&query).unwrap_or(Value::Object(Map::new())),
        body_b64: base64::engine::general_purpose::STANDARD.encode(body),
        body_size: r.get(12)?,
        signature_valid: r.get(13)?,
        signature_error: r.get(14)?,
        error_code: r.get(15)?,
        secret_index: r.get(16)?,
        status_code: r.get(17)?,
        traceparent: r.get(18)?,
    })
}


pub(crate) fn admin_export_deliveries_of(conn: &Connection, event_id: i64) -> Result<Vec<ExportDelivery>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {EXPORT_DELIVERY_COLS} FROM knocker_deliveries d JOIN knocker_endpoints p ON p.id = d.endpoint_id
          WHERE d.event_id = ?1 ORDER BY d.id"
    ))?;
    let rows = st.query_map([event_id], export_delivery_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn admin_export_orphans_page(conn: &Connection, f: &ExportFilter, after_id: i64, limit: i64) -> Result<Vec<ExportDelivery>> {
    use rusqlite::types::Value as V;
    let mut args = Vec::new();
    let mut clauses = export_where(f, "d", &mut args);
    clauses.push("d.event_id IS NULL".into());
    args.push(V::Integer(after_id));
    clauses.push(format!("d.id > ?{}", args.len()));
    args.push(V::Integer(limit));
    let sql = format!(
        "SELECT {EXPORT_DELIVERY_COLS} FROM knocker_deliveries d JOIN knocker_endpoints p ON p.id = d.endpoint_id
          WHERE {} ORDER BY d.id LIMIT ?{}",
        clauses.join(" AND "),
        args.len()
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), export_delivery_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Inserts an endpoint definition from an export (the caller checked the name is free).
pub(crate) fn admin_insert_endpoint(conn: &Connection, e: &ExportEndpoint, now_s: i64) -> Result<i64> {
    let taken: Option<String> = conn
        .query_row("SELECT name FROM knocker_endpoints WHERE path = ?1", [&e.path], |r| r.get(0))
        .optional()?;
    if let Some(other) = taken {
        return Err(Error::invalid(format!(
            "cannot import endpoint {:?}: its path {:?} is already used by endpoint {other:?}",
            e.name, e.path
        )));
    }
    conn.execute(
        "INSERT INTO knocker_endpoints (name, path, provider, enabled, verification_required, max_body_bytes,
             max_attempts, backoff_base_s, backoff_max_s, body_hash_dedupe, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            e.name,
            e.path,
            e.provider,
            e.enabled,
            e.verification_required,
            e.max_body_bytes,
            e.max_attempts,
            e.backoff_base_s,
            e.backoff_max_s,
            e.body_hash_dedupe,
            now_s
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The event an imported record is already stored as: by dedupe key when it has one, else by
/// the identity of its first delivery (received_at, headers, body).
pub(crate) fn admin_find_imported_event(
    conn: &Connection,
    endpoint_id: i64,
    dedupe_key: Option<&str>,
    first_received_at: i64,
    first_headers_json: &str,
    first_body: &[u8],
) -> Result<Option<i64>> {
    Ok(match dedupe_key {
        Some(key) => conn
            .prepare_cached("SELECT id FROM knocker_events WHERE endpoint_id = ?1 AND dedupe_key = ?2")?
            .query_row(params![endpoint_id, key], |r| r.get(0))
            .optional()?,
        None => conn
            .prepare_cached(
                "SELECT e.id FROM knocker_events e
                  WHERE e.endpoint_id = ?1 AND e.dedupe_key IS NULL AND EXISTS (
                        SELECT 1 FROM knocker_deliveries d WHERE d.event_id = e.id AND d.received_at = ?2
                           AND d.headers_json = ?3 AND d.body_blob = ?4)
                  LIMIT 1",
            )?
            .query_row(params![endpoint_id, first_received_at, first_headers_json, first_body], |r| r.get(0))
            .optional()?,
    })
}

pub(crate) fn admin_insert_imported_event(
    conn: &Connection,
    endpoint_id: i64,
    e: &ExportEvent,
    status: Status,
    now_ms: i64,
    ids: &mut IdFloors,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO knocker_events (id, endpoint_id, received_at, provider_event_id, provider_delivery_id, event_type,
             dedupe_key, status, attempt_count, max_attempts, run_at_ms, handled_at, last_error, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        ids.take_event(),
        endpoint_id,
        e.received_at,
        e.provider_event_id,
        e.provider_delivery_id,
        e.event_type,
        e.dedupe_key,
        status.as_str(),
        e.attempt_count,
        e.max_attempts,
        e.run_at_ms,
        e.handled_at,
        e.last_error,
        now_ms
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn admin_insert_imported_delivery(
    conn: &Connection,
    endpoint_id: i64,
    event_id: Option<i64>,
    d: &ExportDelivery,
    headers_json: &str,
    query_json: &str,
    body: &[u8],
    ids: &mut IdFloors,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO knocker_deliveries (id, endpoint_id, event_id, received_at, provider_event_id, provider_delivery_id,
             event_type, dedupe_key, method, url, headers_json, query_json, body_blob, body_size, signature_valid,
             signature_error, error_code, secret_index, status_code, traceparent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        ids.take_delivery(),
        endpoint_id,
        event_id,
        d.received_at,
        d.provider_event_id,
        d.provider_delivery_id,
        d.event_type,
        d.dedupe_key,
        d.method,
        d.url,
        headers_json,
        query_json,
        body,
        d.body_size,
        d.signature_valid,
        d.signature_error,
        d.error_code,
        d.secret_index,
        d.status_code,
        d.traceparent
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn admin_find_imported_orphan(
    conn: &Connection,
    endpoint_id: i64,
    received_at: i64,
    headers_json: &str,
    body: &[u8],
) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM knocker_deliveries WHERE event_id IS NULL AND endpoint_id = ?1 AND received_at = ?2
                AND headers_json = ?3 AND body_blob = ?4 LIMIT 1",
        )?
        .query_row(params![endpoint_id, received_at, headers_json, body], |r| r.get(0))
        .optional()?)
}

/// Copies the database behind `src` into a new file at `dest` with SQLite's online backup API,
/// `pages_per_step` pages at a time; `progress(remaining, total)` after each step.
pub(crate) fn admin_backup(src: &Connection, dest: &str, progress: &mut dyn FnMut(i64, i64)) -> Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let mut out = Connection::open(dest)?;
    {
        let backup = Backup::new(src, &mut out)?;
        loop {
            let step = backup.step(256)?;
            let p = backup.progress();
            progress(p.remaining as i64, p.pagecount as i64);
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
    // The copy is a standalone Knocker file: same schema version, WAL like every Knocker file.
    out.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `headers_to_json` wrote before it skipped the map: the reference text.
    fn headers_via_map(h: &Pairs) -> String {
        let mut map: Map<String, Value> = Map::new();
        for (k, v) in h.iter() {
            match map.get_mut(k) {
                Some(Value::String(s)) => {
                    s.push_str(", ");
                    s.push_str(v);
                }
                _ => {
                    map.insert(k.to_string(), Value::String(v.to_string()));
                }
            }
        }
        Value::Object(map).to_string()
    }

    proptest::proptest! {
        #[test]
        fn headers_json_is_the_map_text(pairs in proptest::collection::vec(("[a-cA-C\\-\"\u{0}-\u{1f}é☃]{0,3}", "\\PC{0,6}|[\"\\\u{0}-\u{1f}]{0,3}"), 0..8)) {
            let h: Pairs = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let text = headers_to_json(&h);
            proptest::prop_assert_eq!(&text, &headers_via_map(&h));
            proptest::prop_assert!(serde_json::from_str::<Value>(&text).is_ok());
        }
    }

    #[test]
    fn headers_json_edge_cases() {
        let empty = Pairs::new();
        assert_eq!(headers_to_json(&empty), "{}");
        let h: Pairs = [("b", "1"), ("a", "x\"y\n"), ("b", ""), ("B", "2"), ("b", "3")].into_iter().collect();
        assert_eq!(headers_to_json(&h), headers_via_map(&h));
        assert_eq!(headers_to_json(&h), r#"{"B":"2","a":"x\"y\n","b":"1, , 3"}"#);
    }

    #[test]
    fn repeated_headers_join_and_repeated_query_keys_become_arrays() {
        let h: Pairs = [("X-A", "1"), ("X-A", "2"), ("B", "3")].into_iter().collect();
        assert_eq!(headers_to_json(&h), r#"{"B":"3","X-A":"1, 2"}"#);
        let q: Pairs = [("k", "1"), ("k", "2"), ("z", "3")].into_iter().collect();
        let json = query_to_json(&q);
        assert_eq!(json, r#"{"k":["1","2"],"z":"3"}"#);
        let back = pairs_from_json(&json);
        assert_eq!(back.get_all("k").collect::<Vec<_>>(), vec!["1", "2"]);
    }
}

//! Operator administration on a Knocker file: opening an existing file without creating one,
//! `doctor` health checks, file-level worker activity and leases, bulk actions over more than
//! one batch, retention loops, the versioned JSONL export/import format, and online backups.
//!
//! The `knocker` operator CLI is a thin layer over these methods; every SQL statement they run
//! lives in the ADMIN section at the end of `storage.rs`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::knocker::Knocker;
use crate::model::*;
use crate::options::Options;
use crate::storage;

/// Outcomes an attempt row may have (the `knocker_attempts.outcome` CHECK).
const ATTEMPT_OUTCOMES: [&str; 5] = ["handled", "failed", "dead", "ignored", "lost"];

/// `format` field of the export header line.
pub const EXPORT_FORMAT: &str = "knocker-export";
/// Version of the export record format this build writes and reads (see `ExportRecord`).
pub const EXPORT_VERSION: i64 = 1;
/// A WAL file bigger than this (the `journal_size_limit` Knocker sets) means checkpoints are
/// being starved, usually by a long-lived reader.
pub const WAL_SIZE_WARN_BYTES: u64 = 64 * 1024 * 1024;

/// Severity of one doctor check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckLevel {
    /// Healthy.
    Ok,
    /// Informational (no judgement).
    Info,
    /// Needs attention but the file is sound (e.g. expired leases nobody reclaimed).
    Warn,
    /// Something is wrong with the file or its configuration.
    Fail,
}

impl CheckLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckLevel::Ok => "ok",
            CheckLevel::Info => "info",
            CheckLevel::Warn => "warn",
            CheckLevel::Fail => "fail",
        }
    }
}

/// One doctor finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorCheck {
    pub name: String,
    pub level: CheckLevel,
    pub value: String,
    pub detail: Option<String>,
}

/// What `doctor` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    pub path: String,
    pub checks: Vec<DoctorCheck>,
}

impl DoctorReport {
    /// The worst level among the checks.
    pub fn worst(&self) -> CheckLevel {
        self.checks.iter().map(|c| c.level).max().unwrap_or(CheckLevel::Ok)
    }
}

/// Attempts recorded in the file by one worker id in a time window (`worker_id` is `None` for
/// operator `ignore` rows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerActivity {
    pub worker_id: Option<String>,
    pub attempts: i64,
    pub handled: i64,
    pub failed: i64,
    pub dead: i64,
    pub lost: i64,
    pub ignored: i64,
    pub first_started_at_ms: i64,
    pub last_finished_at_ms: i64,
    pub avg_duration_ms: f64,
}

/// A `processing` event and its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseInfo {
    pub event_id: i64,
    pub endpoint: String,
    pub lease_owner: Option<String>,
    pub attempt_count: i64,
    pub max_attempts: i64,
    pub lease_expires_at_ms: Option<i64>,
    /// When the lease was taken (the row's last update).
    pub claimed_at_ms: i64,
    /// The lease ran out: its worker died or overran the visibility timeout; the next claim
    /// records the attempt as `lost` and runs the event again.
    pub expired: bool,
}

/// Which events and orphan deliveries an export writes (`received_at` bounds, Unix seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub endpoint: Option<String>,
}

/// First line of an export: format name and version, and what was exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportHeader {
    pub format: String,
    pub version: i64,
    pub schema_version: i64,
    pub exported_at: i64,
    #[serde(default)]
    pub since: Option<i64>,
    #[serde(default)]
    pub until: Option<i64>,
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// An endpoint's stored policy (never secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportEndpoint {
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

/// One delivery, exactly as stored; the body is standard base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportDelivery {
    /// Its id in the exporting file (informational: import assigns new ids).
    pub source_id: i64,
    pub endpoint: String,
    pub received_at: i64,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    pub method: String,
    pub url: Option<String>,
    /// JSON object, as `knocker_deliveries.headers_json`.
    pub headers: serde_json::Value,
    /// JSON object, as `knocker_deliveries.query_json`.
    pub query: serde_json::Value,
    pub body_b64: String,
    pub body_size: i64,
    pub signature_valid: Option<bool>,
    pub signature_error: Option<String>,
    pub error_code: Option<String>,
    pub secret_index: Option<i64>,
    pub status_code: i64,
    /// The W3C `traceparent` the delivery arrived with (absent in exports before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// One attempt at an event, as recorded in `knocker_attempts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportAttempt {
    pub attempt_no: i64,
    pub worker_id: Option<String>,
    /// The `source_id` of the delivery the attempt ran (a replay of it), if any.
    pub delivery_source_id: Option<i64>,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    /// `handled`, `failed`, `dead`, `ignored` or `lost`.
    pub outcome: String,
    pub error: Option<String>,
}

impl From<Attempt> for ExportAttempt {
    fn from(a: Attempt) -> Self {
        ExportAttempt {
            attempt_no: a.attempt_no,
            worker_id: a.worker_id,
            delivery_source_id: a.delivery_id,
            started_at_ms: a.started_at_ms,
            finished_at_ms: a.finished_at_ms,
            outcome: a.outcome,
            error: a.error,
        }
    }
}

/// One event with its deliveries (oldest first: the first is the canonical payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportEvent {
    pub source_id: i64,
    pub endpoint: String,
    pub received_at: i64,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    pub status: String,
    pub attempt_count: i64,
    pub max_attempts: i64,
    pub run_at_ms: i64,
    pub handled_at: Option<i64>,
    pub last_error: Option<String>,
    pub deliveries: Vec<ExportDelivery>,
    /// Its attempt history, oldest first (absent in exports before it was added).
    #[serde(default)]
    pub attempts: Vec<ExportAttempt>,
}

/// One line of the JSONL export, tagged by `kind`: a `header` first, then every `endpoint`,
/// then `event` lines (each with its deliveries), then `orphan_delivery` lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportRecord {
    Header(ExportHeader),
    Endpoint(ExportEndpoint),
    Event(ExportEvent),
    OrphanDelivery(ExportDelivery),
}

impl ExportRecord {
    /// Parses one line; a header of another format or a newer version is refused.
    pub fn parse_line(line: &str) -> Result<ExportRecord> {
        let record: ExportRecord =
            serde_json::from_str(line).map_err(|e| Error::invalid(format!("not a Knocker export record: {e}")))?;
        if let ExportRecord::Header(h) = &record {
            if h.format != EXPORT_FORMAT {
                return Err(Error::invalid(format!("export format {:?} is not {EXPORT_FORMAT:?}", h.format)));
            }
            if h.version > EXPORT_VERSION || h.version < 1 {
                return Err(Error::invalid(format!(
                    "export format version {} is not supported (this build reads version {EXPORT_VERSION})",
                    h.version
                )));
            }
        }
        Ok(record)
    }

    /// The record as one JSON line (no trailing newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("export records always serialise")
    }
}

/// What one import call stored and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportResult {
    pub endpoints_created: i64,
    pub events_imported: i64,
    /// Events already in the file (same endpoint and dedupe key, or, without a dedupe key, the
    /// same first delivery): import is idempotent.
    pub events_skipped: i64,
    pub deliveries_imported: i64,
    /// Attempt rows carried over with the imported events.
    pub attempts_imported: i64,
    pub orphans_imported: i64,
    pub orphans_skipped: i64,
    /// New ids of the imported events.
    pub event_ids: Vec<i64>,
}

impl ImportResult {
    pub fn add(&mut self, o: &ImportResult) {
        self.endpoints_created += o.endpoints_created;
        self.events_imported += o.events_imported;
        self.events_skipped += o.events_skipped;
        self.deliveries_imported += o.deliveries_imported;
        self.attempts_imported += o.attempts_imported;
        self.orphans_imported += o.orphans_imported;
        self.orphans_skipped += o.orphans_skipped;
        self.event_ids.extend_from_slice(&o.event_ids);
    }
}

impl BulkAction {
    /// The statuses this action applies to, and the same as text for error messages.
    pub fn allowed_from(self) -> (&'static [Status], &'static str) {
        match self {
            BulkAction::Ignore => (&[Status::Received, Status::Failed, Status::Dead], "received, failed, dead"),
            BulkAction::Replay => {
                (&[Status::Handled, Status::Failed, Status::Dead, Status::Ignored], "handled, failed, dead, ignored")
            }
            BulkAction::Requeue => (&[Status::Failed, Status::Dead, Status::Ignored], "failed, dead, ignored"),
        }
    }
}

fn decode_body(d: &ExportDelivery) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(d.body_b64.as_bytes())
        .map_err(|e| Error::invalid(format!("delivery {}: body_b64 is not base64: {e}", d.source_id)))
}

fn json_object_text(v: &serde_json::Value, what: &str, id: i64) -> Result<String> {
    if !v.is_object() {
        return Err(Error::invalid(format!("delivery {id}: {what} must be a JSON object")));
    }
    Ok(v.to_string())
}

impl Knocker {
    /// Opens an existing Knocker file: never creates a file, never adds Knocker tables to a
    /// foreign SQLite file. Errors: [`Error::DatabaseMissing`], [`Error::NotKnocker`] (not
    /// SQLite, or SQLite without the Knocker schema), [`Error::SchemaTooNew`]. An older schema
    /// is migrated forward like [`Knocker::open_with`] does.
    pub fn open_existing(path: &str, options: Options) -> Result<Knocker> {
        storage::probe_existing(path)?;
        Knocker::open_with(path, options)
    }

    /// Health checks of the file and this handle's connections.
    pub fn doctor(&self) -> Result<DoctorReport> {
        let now = self.now_ms();
        let path = self.path().to_string();
        let wal_bytes = std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
        self.read(|c| {
            let mut checks = Vec::new();
            let mut add = |name: &str, level: CheckLevel, value: String, detail: Option<String>| {
                checks.push(DoctorCheck { name: name.to_string(), level, value, detail })
            };
            add("sqlite_version", CheckLevel::Info, rusqlite::version().to_string(), None);
            let version: i64 = storage::admin_pragma(c, "user_version")?.parse().unwrap_or(0);
            add(
                "schema_version",
                if version == storage::SCHEMA_VERSION { CheckLevel::Ok } else { CheckLevel::Fail },
                version.to_string(),
                (version != storage::SCHEMA_VERSION).then(|| format!("this build writes version {}", storage::SCHEMA_VERSION)),
            );
            let mode = storage::admin_pragma(c, "journal_mode")?;
            let wal = mode.eq_ignore_ascii_case("wal");
            add(
                "journal_mode",
                if wal { CheckLevel::Ok } else { CheckLevel::Fail },
                mode,
                (!wal).then(|| "Knocker needs WAL: readers and the writer must not block each other".to_string()),
            );
            let sync = match storage::admin_pragma(c, "synchronous")?.as_str() {
                "0" => "off",
                "1" => "normal",
                "2" => "full",
                "3" => "extra",
                _ => "unknown",
            };
            add(
                "synchronous",
                if sync == "off" { CheckLevel::Fail } else { CheckLevel::Ok },
                sync.to_string(),
                (sync == "off").then(|| "commits are not durable".to_string()),
            );
            let busy: i64 = storage::admin_pragma(c, "busy_timeout")?.parse().unwrap_or(0);
            add(
                "busy_timeout_ms",
                if busy > 0 { CheckLevel::Ok } else { CheckLevel::Warn },
                busy.to_string(),
                (busy == 0).then(|| "writers fail at once instead of waiting for the lock".to_string()),
            );
            let qc = storage::admin_quick_check(c)?;
            let healthy = qc.len() == 1 && qc[0] == "ok";
            add(
                "quick_check",
                if healthy { CheckLevel::Ok } else { CheckLevel::Fail },
                if healthy { "ok".into() } else { format!("{} problem(s)", qc.len()) },
                (!healthy).then(|| qc.iter().take(5).cloned().collect::<Vec<_>>().join("; ")),
            );
            let fk = storage::admin_foreign_key_violations(c)?;
            add(
                "foreign_key_check",
                if fk == 0 { CheckLevel::Ok } else { CheckLevel::Fail },
                fk.to_string(),
                (fk > 0).then(|| "rows reference missing parents".to_string()),
            );
            add(
                "wal_size_bytes",
                if wal_bytes > WAL_SIZE_WARN_BYTES { CheckLevel::Warn } else { CheckLevel::Ok },
                wal_bytes.to_string(),
                (wal_bytes > WAL_SIZE_WARN_BYTES)
                    .then(|| "checkpoints are starved: look for a long-lived reader or transaction".to_string()),
            );
            let expired = storage::admin_count_expired_leases(c, now)?;
            add(
                "expired_leases",
                if expired == 0 { CheckLevel::Ok } else { CheckLevel::Warn },
                expired.to_string(),
                (expired > 0).then(|| {
                    "processing events whose worker died or overran its lease; a running worker reclaims them (see `workers`)"
                        .to_string()
                }),
            );
            let orphaned_events = storage::admin_count_events_without_delivery(c)?;
            add(
                "events_without_delivery",
                if orphaned_events == 0 { CheckLevel::Ok } else { CheckLevel::Fail },
                orphaned_events.to_string(),
                (orphaned_events > 0)
                    .then(|| "every event needs its first delivery (its payload); these cannot be read or run".to_string()),
            );
            let verified = storage::admin_endpoints_requiring_verification(c)?;
            add(
                "endpoints_requiring_verification",
                CheckLevel::Info,
                verified.len().to_string(),
                (!verified.is_empty()).then(|| {
                    let names: Vec<String> = verified
                        .iter()
                        .map(|(n, p)| format!("{n} ({})", p.as_deref().unwrap_or("no provider")))
                        .collect();
                    format!("a process receiving for these needs their secrets: {}", names.join(", "))
                }),
            );
            Ok(DoctorReport { path: path.clone(), checks })
        })
    }

    /// Attempts finished since `since_ms` (Unix ms), by worker id, most recently active first.
    pub fn worker_activity(&self, since_ms: i64) -> Result<Vec<WorkerActivity>> {
        self.read(|c| storage::admin_worker_activity(c, since_ms))
    }

    /// Every `processing` event with its lease; `expired` marks stuck ones.
    pub fn leases(&self) -> Result<Vec<LeaseInfo>> {
        let now = self.now_ms();
        self.read(|c| storage::admin_leases(c, now))
    }

    /// How many events `bulk(action, filter, ..)` would select now, ignoring `filter.limit`.
    pub fn bulk_count(&self, action: BulkAction, filter: &EventFilter) -> Result<i64> {
        let (allowed, allowed_text) = action.allowed_from();
        if let Some(s) = &filter.status {
            let st = Status::parse(s).ok_or_else(|| Error::invalid(format!("unknown status {s:?}")))?;
            if !allowed.contains(&st) {
                return Err(Error::InvalidState { kind: "events", id: 0, status: st.to_string(), action: action.as_str(), allowed: allowed_text });
            }
        }
        self.read(|c| storage::admin_count_for_bulk(c, filter, allowed))
    }

    /// Applies a bulk action batch by batch (`filter.limit` per batch, one transaction and one
    /// audit row each) until nothing matches or `max_total` events changed. The total is also
    /// capped by the count matching at the start, so events that cycle back into a matching
    /// status while this runs (a worker handling a replayed event) are not picked up again.
    /// `on_batch` sees each batch's ids.
    pub fn bulk_all(
        &self,
        action: BulkAction,
        filter: &EventFilter,
        max_total: Option<i64>,
        mut on_batch: impl FnMut(&[i64]),
    ) -> Result<BulkResult> {
        let mut cap = self.bulk_count(action, filter)?;
        if let Some(m) = max_total {
            cap = cap.min(m.max(0));
        }
        let mut ids = Vec::new();
        while (ids.len() as i64) < cap {
            let mut f = filter.clone();
            f.limit = filter.limit.min(cap - ids.len() as i64).max(1);
            let r = self.bulk(action, &f, false)?;
            if r.ids.is_empty() {
                break;
            }
            on_batch(&r.ids);
            ids.extend(r.ids);
        }
        Ok(BulkResult { ids, dry_run: false })
    }

    /// Repeats `prune_events` passes (`p.limit` per pass, one audit row each) until a pass
    /// prunes fewer than `p.limit` events or `max_total` events went. A dry run is one pass.
    pub fn prune_events_all(&self, p: &PruneEvents, max_total: i64, mut on_pass: impl FnMut(&PruneEventsResult)) -> Result<PruneEventsResult> {
        let mut total = PruneEventsResult { dry_run: p.dry_run, ..Default::default() };
        loop {
            let mut pass = p.clone();
            pass.limit = p.limit.min(max_total - total.events_pruned).max(1);
            let r = self.prune_events(&pass)?;
            on_pass(&r);
            total.events_pruned += r.events_pruned;
            total.deliveries_pruned += r.deliveries_pruned;
            total.attempts_pruned += r.attempts_pruned;
            if p.dry_run || r.events_pruned < pass.limit || total.events_pruned >= max_total {
                return Ok(total);
            }
        }
    }

    /// Repeats `prune_orphan_deliveries` passes like [`Knocker::prune_events_all`].
    pub fn prune_orphans_all(&self, p: &PruneOrphans, max_total: i64, mut on_pass: impl FnMut(&PruneDeliveriesResult)) -> Result<PruneDeliveriesResult> {
        let mut total = PruneDeliveriesResult { dry_run: p.dry_run, ..Default::default() };
        loop {
            let mut pass = p.clone();
            pass.limit = p.limit.min(max_total - total.deliveries_pruned).max(1);
            let r = self.prune_orphan_deliveries(&pass)?;
            on_pass(&r);
            total.deliveries_pruned += r.deliveries_pruned;
            if p.dry_run || r.deliveries_pruned < pass.limit || total.deliveries_pruned >= max_total {
                return Ok(total);
            }
        }
    }

    /// `(events, orphan deliveries)` that `export` with this filter writes now.
    pub fn export_count(&self, filter: &ExportFilter) -> Result<(i64, i64)> {
        self.read(|c| storage::admin_count_export(c, filter))
    }

    /// Streams an export from one read snapshot: a header, every endpoint, the matching events
    /// (id order, each with its deliveries), then the matching orphan deliveries. `sink` gets
    /// each record; an error from it stops the export.
    pub fn export(&self, filter: &ExportFilter, mut sink: impl FnMut(ExportRecord) -> Result<()>) -> Result<()> {
        let now_s = self.now_ms().div_euclid(1000);
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let version: i64 = storage::admin_pragma(&tx, "user_version")?.parse().unwrap_or(0);
            sink(ExportRecord::Header(ExportHeader {
                format: EXPORT_FORMAT.into(),
                version: EXPORT_VERSION,
                schema_version: version,
                exported_at: now_s,
                since: filter.since,
                until: filter.until,
                endpoint: filter.endpoint.clone(),
            }))?;
            for e in storage::admin_export_endpoints(&tx)? {
                sink(ExportRecord::Endpoint(e))?;
            }
            let mut after = 0;
            loop {
                let page = storage::admin_export_events_page(&tx, filter, after, 500)?;
                let Some(last) = page.last() else { break };
                after = last.source_id;
                for mut e in page {
                    e.deliveries = storage::admin_export_deliveries_of(&tx, e.source_id)?;
                    e.attempts = storage::list_attempts(&tx, e.source_id)?.into_iter().map(ExportAttempt::from).collect();
                    sink(ExportRecord::Event(e))?;
                }
            }
            let mut after = 0;
            loop {
                let page = storage::admin_export_orphans_page(&tx, filter, after, 500)?;
                let Some(last) = page.last() else { break };
                after = last.source_id;
                for d in page {
                    sink(ExportRecord::OrphanDelivery(d))?;
                }
            }
            tx.finish()?;
            Ok(())
        })
    }

    /// Imports export records in one transaction with one operator audit row (`import`).
    /// Endpoints missing from this file are created from their stored policy (an existing
    /// endpoint of the same name is kept as is). Events already present — same endpoint and
    /// dedupe key, or, without a dedupe key, the same first delivery (received_at, headers,
    /// body) — are skipped, so importing a file twice changes nothing. Imported events keep
    /// their status and attempt bookkeeping, except that `processing` becomes `received` (the
    /// lease belonged to another file's worker) and `replay_delivery_id` is not carried over.
    pub fn import_records(&self, records: &[ExportRecord]) -> Result<ImportResult> {
        let now = self.now_ms();
        let result = self.write(|tx| {
            let mut out = ImportResult::default();
            let mut ids = storage::IdFloors::read(tx)?;
            let endpoint_id = |name: &str| -> Result<i64> {
                storage::endpoint_by_name(tx, name)?.map(|e| e.id).ok_or_else(|| {
                    Error::invalid(format!("endpoint {name:?} is neither in this file nor in the import's endpoint records"))
                })
            };
            for r in records {
                match r {
                    ExportRecord::Header(_) => {}
                    ExportRecord::Endpoint(e) => {
                        if storage::endpoint_by_name(tx, &e.name)?.is_none() {
                            storage::admin_insert_endpoint(tx, e, now.div_euclid(1000))?;
                            out.endpoints_created += 1;
                        }
                    }
                    ExportRecord::Event(e) => {
                        let status = Status::parse(&e.status)
                            .ok_or_else(|| Error::invalid(format!("event {}: unknown status {:?}", e.source_id, e.status)))?;
                        let status = if status == Status::Processing { Status::Received } else { status };
                        let Some(first) = e.deliveries.first() else {
                            return Err(Error::invalid(format!(
                                "event {}: an event record needs at least one delivery (its payload)",
                                e.source_id
                            )));
                        };
                        let ep = endpoint_id(&e.endpoint)?;
                        let first_body = decode_body(first)?;
                        let first_headers = json_object_text(&first.headers, "headers", first.source_id)?;
                        if storage::admin_find_imported_event(tx, ep, e.dedupe_key.as_deref(), first.received_at, &first_headers, &first_body)?
                            .is_some()
                        {
                            out.events_skipped += 1;
                            continue;
                        }
                        let id = storage::admin_insert_imported_event(tx, ep, e, status, now, &mut ids)?;
                        // source id -> new id, for the attempts that name the delivery they ran.
                        let mut delivery_ids = Vec::with_capacity(e.deliveries.len());
                        for d in &e.deliveries {
                            let body = decode_body(d)?;
                            let headers = json_object_text(&d.headers, "headers", d.source_id)?;
                            let query = json_object_text(&d.query, "query", d.source_id)?;
                            let new_id = storage::admin_insert_imported_delivery(tx, ep, Some(id), d, &headers, &query, &body, &mut ids)?;
                            delivery_ids.push((d.source_id, new_id));
                            out.deliveries_imported += 1;
                        }
                        for a in &e.attempts {
                            if !ATTEMPT_OUTCOMES.contains(&a.outcome.as_str()) {
                                return Err(Error::invalid(format!(
                                    "event {}: attempt {} has unknown outcome {:?} (expected one of {ATTEMPT_OUTCOMES:?})",
                                    e.source_id, a.attempt_no, a.outcome
                                )));
                            }
                            let delivery = a.delivery_source_id.and_then(|s| delivery_ids.iter().find(|(src, _)| *src == s).map(|(_, new)| *new));
                            storage::insert_attempt(
                                tx,
                                id,
                                a.attempt_no,
                                a.worker_id.as_deref(),
                                delivery,
                                a.started_at_ms,
                                a.finished_at_ms,
                                &a.outcome,
                                a.error.as_deref(),
                            )?;
                            out.attempts_imported += 1;
                        }
                        out.events_imported += 1;
                        out.event_ids.push(id);
                    }
                    ExportRecord::OrphanDelivery(d) => {
                        let ep = endpoint_id(&d.endpoint)?;
                        let body = decode_body(d)?;
                        let headers = json_object_text(&d.headers, "headers", d.source_id)?;
                        let query = json_object_text(&d.query, "query", d.source_id)?;
                        if storage::admin_find_imported_orphan(tx, ep, d.received_at, &headers, &body)?.is_some() {
                            out.orphans_skipped += 1;
                            continue;
                        }
                        storage::admin_insert_imported_delivery(tx, ep, None, d, &headers, &query, &body, &mut ids)?;
                        out.orphans_imported += 1;
                    }
                }
            }
            storage::insert_operator_audit(
                tx,
                &storage::AuditEntry {
                    action: "import",
                    actor: self.actor(),
                    executed_at: now.div_euclid(1000),
                    target_kind: "event",
                    ids: &out.event_ids,
                    filters: serde_json::json!({
                        "events_skipped": out.events_skipped,
                        "orphans_imported": out.orphans_imported,
                        "orphans_skipped": out.orphans_skipped,
                        "endpoints_created": out.endpoints_created,
                    }),
                },
            )?;
            Ok(out)
        })?;
        if result.events_imported > 0 {
            // Imported events may be claimable: wake in-process workers.
            self.inner.notify.bump();
        }
        Ok(result)
    }

    /// Copies the file to a new file at `dest` with SQLite's online backup API (consistent
    /// while writers keep working). Refuses an existing `dest`. `progress(remaining, total)`
    /// is called with page counts after each step.
    pub fn backup(&self, dest: &str, mut progress: impl FnMut(i64, i64)) -> Result<()> {
        if dest.is_empty() {
            return Err(Error::invalid("backup destination must not be empty"));
        }
        if std::path::Path::new(dest).exists() {
            return Err(Error::invalid(format!("backup destination {dest:?} already exists; choose a new path")));
        }
        self.read(|c| storage::admin_backup(c, dest, &mut progress))
    }
}

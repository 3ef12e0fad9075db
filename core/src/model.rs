//! Public data types: what reads return and what operator actions take.

use std::collections::BTreeMap;
use std::fmt;

use crate::provider::Pairs;

/// Event status. See DESIGN.md "Statuses and operator actions".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Received,
    Processing,
    Handled,
    Failed,
    Dead,
    Ignored,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Received, Status::Processing, Status::Handled, Status::Failed, Status::Dead, Status::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Processing => "processing",
            Status::Handled => "handled",
            Status::Failed => "failed",
            Status::Dead => "dead",
            Status::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A deduplicated unit of work: the first valid delivery of one identity. The event row is the job.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub endpoint: String,
    pub event_type: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub dedupe_key: Option<String>,
    pub status: Status,
    /// Attempts in the current cycle (reset by replay/requeue). During a handler call it is the
    /// number of the running attempt (1-based).
    pub attempt_count: i64,
    pub max_attempts: i64,
    pub method: String,
    pub url: Option<String>,
    pub headers: Pairs,
    pub query: Pairs,
    pub body: Vec<u8>,
    /// Unix seconds.
    pub received_at: i64,
    pub handled_at: Option<i64>,
    /// Unix milliseconds when the event next becomes claimable.
    pub run_at_ms: i64,
    pub last_error: Option<String>,
    /// Set by `replay_delivery`: the delivery whose body the next run sees.
    pub replay_delivery_id: Option<i64>,
    /// The worker holding the lease while `processing`.
    pub lease_owner: Option<String>,
    /// W3C trace context of the delivery the handler sees (`traceparent` header), if it had one.
    pub traceparent: Option<String>,
}

/// One HTTP receipt, exactly as received. Append-only.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    /// `None` for an orphan (invalid signature, oversize, disabled endpoint, handshake).
    pub event_id: Option<i64>,
    pub endpoint: String,
    pub event_type: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub dedupe_key: Option<String>,
    pub method: String,
    pub url: Option<String>,
    pub headers: Pairs,
    pub query: Pairs,
    pub body: Vec<u8>,
    /// Size of the body as received (the body itself is not stored when over the limit).
    pub body_size: i64,
    pub received_at: i64,
    pub signature_valid: Option<bool>,
    pub signature_error: Option<String>,
    pub error_code: Option<String>,
    pub secret_index: Option<i64>,
    pub status_code: u16,
    /// W3C trace context (`traceparent` header) the request arrived with, if valid.
    pub traceparent: Option<String>,
}

/// One processing attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: i64,
    pub event_id: i64,
    pub attempt_no: i64,
    pub worker_id: Option<String>,
    pub delivery_id: Option<i64>,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub duration_ms: i64,
    /// `handled`, `failed`, `dead`, `ignored` or `lost` (the lease expired before the worker finished).
    pub outcome: String,
    pub error: Option<String>,
}

/// What `receive` / `ingest` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestResult {
    /// `None` only for an unknown endpoint (nothing is stored).
    pub delivery_id: Option<i64>,
    pub event_id: Option<i64>,
    pub duplicate: bool,
    /// The HTTP status to answer with.
    pub status_code: u16,
    /// A body to send (handshakes); `None` means an empty body.
    pub response_body: Option<Vec<u8>>,
    pub response_content_type: Option<String>,
    /// Stable code of why the receipt was not accepted, if it was not.
    pub error_code: Option<String>,
}

/// Filter for `list_events`. Lists are newest-first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub status: Option<String>,
    pub endpoint: Option<String>,
    pub event_type: Option<String>,
    /// Inclusive lower bound on `received_at` (Unix seconds).
    pub since: Option<i64>,
    /// Exclusive upper bound on `received_at`.
    pub until: Option<i64>,
    /// Return events with an id below this one (keyset cursor for paging).
    pub before_id: Option<i64>,
    /// 1..=1000.
    pub limit: i64,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter { status: None, endpoint: None, event_type: None, since: None, until: None, before_id: None, limit: 100 }
    }
}

/// Filter for `list_deliveries`. Lists are newest-first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub event_id: Option<i64>,
    pub endpoint: Option<String>,
    /// `Some(true)` matches valid; `Some(false)` matches invalid *and* not verified.
    pub signature_valid: Option<bool>,
    /// `Some(true)` matches deliveries without an event.
    pub orphaned: Option<bool>,
    pub since: Option<i64>,
    pub limit: i64,
}

impl Default for DeliveryFilter {
    fn default() -> Self {
        DeliveryFilter { event_id: None, endpoint: None, signature_valid: None, orphaned: None, since: None, limit: 100 }
    }
}

/// Filter for `list_prune_audits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter { kind: None, since: None, limit: 50 }
    }
}

/// Arguments of `prune_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneEvents {
    /// Subset of handled, ignored, dead.
    pub statuses: Vec<Status>,
    /// Strict: events with `received_at < older_than` go.
    pub older_than: i64,
    /// 1..=1000, oldest first.
    pub limit: i64,
    pub dry_run: bool,
}

/// Arguments of `prune_orphan_deliveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOrphans {
    pub older_than: i64,
    pub limit: i64,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneEventsResult {
    pub events_pruned: i64,
    pub deliveries_pruned: i64,
    pub attempts_pruned: i64,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneDeliveriesResult {
    pub deliveries_pruned: i64,
    pub dry_run: bool,
}

/// One audit row, written in the same transaction as the prune it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneAudit {
    pub id: i64,
    pub kind: String,
    pub executed_at: i64,
    pub events_pruned: Option<i64>,
    pub deliveries_pruned: i64,
    pub attempts_pruned: Option<i64>,
    pub summary_json: String,
}

/// Queue health, from one read snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    pub by_status: BTreeMap<String, i64>,
    pub by_endpoint: BTreeMap<String, BTreeMap<String, i64>>,
    /// Events a worker could claim now.
    pub claimable: i64,
    /// Age in seconds of the oldest claimable event (by when it became due).
    pub oldest_claimable_age_s: Option<i64>,
    pub dead: i64,
    pub processing: i64,
    pub orphan_deliveries: i64,
}

/// A local, non-durable snapshot of one worker loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerState {
    pub worker_id: String,
    pub running: bool,
    pub started_at: i64,
    pub current_event_id: Option<i64>,
    pub processed: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

/// Retention policy for `run_retention`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionPolicy {
    pub interval_s: f64,
    pub event_statuses: Vec<Status>,
    pub event_older_than_s: Option<i64>,
    pub event_limit: i64,
    pub orphan_deliveries_older_than_s: Option<i64>,
    pub orphan_deliveries_limit: i64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            interval_s: 3600.0,
            event_statuses: vec![Status::Handled, Status::Ignored],
            event_older_than_s: None,
            event_limit: 100,
            orphan_deliveries_older_than_s: None,
            orphan_deliveries_limit: 100,
        }
    }
}

/// What one retention pass did (`None` where the policy leaves that path off, or when another
/// process held the retention lease).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionPass {
    pub ran: bool,
    pub events: Option<PruneEventsResult>,
    pub orphans: Option<PruneDeliveriesResult>,
}

/// One operator mutation (who, what, when, which ids, with which filters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorAudit {
    pub id: i64,
    /// `ignore`, `replay`, `requeue`, `replay_delivery`, `bulk_ignore`, `bulk_replay`,
    /// `bulk_requeue`, `prune_events`, `prune_orphan_deliveries`.
    pub action: String,
    pub actor: String,
    pub executed_at: i64,
    /// `event` or `delivery`.
    pub target_kind: String,
    pub affected: i64,
    pub ids: Vec<i64>,
    pub filters_json: String,
}

/// Filter for `list_operator_audits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorAuditFilter {
    pub action: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

impl Default for OperatorAuditFilter {
    fn default() -> Self {
        OperatorAuditFilter { action: None, since: None, limit: 50 }
    }
}

/// An operator action that can be applied in bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Ignore,
    Replay,
    Requeue,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Ignore => "bulk_ignore",
            BulkAction::Replay => "bulk_replay",
            BulkAction::Requeue => "bulk_requeue",
        }
    }
}

/// What a bulk action selected (and, unless a dry run, changed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkResult {
    pub ids: Vec<i64>,
    pub dry_run: bool,
}

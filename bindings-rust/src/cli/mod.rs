//! The `knocker` operator CLI: parse, call `knocker-core`, format. No semantics live here.
//! See `CLI.md` in this crate for the commands, the export format and the exit codes.

mod format;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use knocker_core::{
    AuditFilter, BulkAction, CheckLevel, DeliveryFilter, Error, EventFilter, ExportFilter, ExportRecord, ImportResult,
    Knocker, OperatorAuditFilter, Options, PruneEvents, PruneOrphans, Status,
};
use serde_json::{json, Value};

use format::*;

/// Exit codes (documented in `--help` and CLI.md).
pub mod exit {
    pub const OK: i32 = 0;
    /// Generic failure; `doctor` found a problem.
    pub const FAILURE: i32 = 1;
    /// Bad usage or an invalid argument.
    pub const USAGE: i32 = 2;
    /// Unknown event or delivery id.
    pub const NOT_FOUND: i32 = 3;
    /// The item's status does not allow the action.
    pub const INVALID_STATE: i32 = 4;
    /// Not a Knocker file, or its schema is newer than this build.
    pub const NOT_KNOCKER: i32 = 5;
    /// A bulk action was not confirmed (no terminal and no --yes, or answered no).
    pub const NOT_CONFIRMED: i32 = 6;
    /// The database file does not exist (read commands never create one).
    pub const NO_DATABASE: i32 = 7;
    /// The database stayed locked past the busy timeout.
    pub const BUSY: i32 = 8;
}

const AFTER_HELP: &str = "\
Times: --since/--until/--older-than take a duration before now (90s, 15m, 12h, 30d, 2w, 1h30m)
or an absolute Unix time in seconds.

Exit codes:
  0  ok
  1  failure (storage error, I/O error); doctor found a problem
  2  usage error or invalid argument
  3  not found (unknown event or delivery id)
  4  invalid state (the status does not allow the action)
  5  not a Knocker database, or its schema is newer than this knocker
  6  not confirmed (bulk action without a terminal and without --yes, or answered no)
  7  database file does not exist (read commands never create it)
  8  database busy (locked past the busy timeout)";

/// Operator CLI for a Knocker SQLite file: inspect, recover, prune, audit, export, back up.
#[derive(Parser, Debug)]
#[command(name = "knocker", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// The Knocker SQLite file.
    #[arg(long, env = "KNOCKER_DB", global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Machine-readable JSON on stdout (errors as JSON on stderr); no progress bars.
    #[arg(long, global = true)]
    json: bool,
    /// Who operator actions are recorded as in the audit table (default cli:$USER).
    #[arg(long, global = true, value_name = "WHO")]
    actor: Option<String>,
    /// How long to wait for the write lock, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 5000)]
    busy_timeout: u32,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List and inspect events.
    #[command(subcommand)]
    Events(EventsCmd),
    /// List and inspect deliveries (raw receipts).
    #[command(subcommand)]
    Deliveries(DeliveriesCmd),
    /// Ignore an event (received, failed, dead), or every event matching filters.
    Ignore(ActionArgs),
    /// Run an event again with its canonical payload (handled, failed, dead, ignored), or in bulk.
    Replay(ActionArgs),
    /// Retry a failed, dead or ignored event now with a fresh attempt budget, or in bulk.
    Requeue(ActionArgs),
    /// Run the linked event's handler again with this delivery's body and headers.
    ReplayDelivery {
        /// Delivery id.
        id: i64,
    },
    /// Delete old terminal events or orphan deliveries (audited).
    #[command(subcommand)]
    Prune(PruneCmd),
    /// Operator and prune audit rows.
    #[command(subcommand)]
    Audits(AuditsCmd),
    /// Queue depth, dead count, oldest claimable age, counts per endpoint and status.
    Stats {
        /// Print the gauges in the Prometheus text format (0.0.4), the same series an app's
        /// `prometheus_text()` serves (e.g. for node_exporter's textfile collector).
        #[arg(long)]
        prometheus: bool,
    },
    /// Recent attempt activity by worker id, and leases of processing events (stuck ones first).
    Workers {
        /// Activity window.
        #[arg(long, default_value = "24h", value_name = "TIME")]
        since: String,
    },
    /// Health checks; exits 1 when something is wrong.
    Doctor {
        /// Also exit 1 on warnings (expired leases, a large WAL).
        #[arg(long)]
        strict: bool,
    },
    /// Write events and deliveries as versioned JSONL (bodies base64) to stdout or --out.
    Export {
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[arg(long)]
        endpoint: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import a JSONL export; events already present are skipped (idempotent).
    Import {
        /// The export file (`-` for stdin).
        file: PathBuf,
        /// Create the database file if it does not exist.
        #[arg(long)]
        create: bool,
    },
    /// Copy the database to a new file with SQLite's online backup API.
    Backup {
        /// Destination (must not exist).
        path: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum EventsCmd {
    /// Events, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// 1..=1000.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Page: events with an id below this one (printed as next_cursor).
        #[arg(long, value_name = "ID")]
        cursor: Option<i64>,
    },
    /// One event with its payload, deliveries and attempt history.
    Show { id: i64 },
}

#[derive(Subcommand, Debug)]
enum DeliveriesCmd {
    /// Deliveries, newest first.
    List {
        /// Only deliveries with a valid signature.
        #[arg(long, conflicts_with = "invalid")]
        valid: bool,
        /// Only deliveries with an invalid or no verified signature.
        #[arg(long)]
        invalid: bool,
        /// Only orphans (no event: invalid, oversize, disabled endpoint, handshake).
        #[arg(long, conflicts_with = "linked")]
        orphaned: bool,
        /// Only deliveries linked to an event.
        #[arg(long)]
        linked: bool,
        #[arg(long)]
        endpoint: Option<String>,
        /// Only deliveries of this event.
        #[arg(long, value_name = "ID")]
        event: Option<i64>,
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One delivery: headers and body (JSON pretty, text, or hex for binary).
    Show {
        id: i64,
        /// Write the exact body bytes to this file.
        #[arg(long, value_name = "FILE")]
        raw: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone, Default)]
struct FilterArgs {
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    endpoint: Option<String>,
    /// Event type.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: Option<String>,
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
}

impl FilterArgs {
    fn any(&self) -> bool {
        self.status.is_some() || self.endpoint.is_some() || self.event_type.is_some() || self.since.is_some() || self.until.is_some()
    }
    fn to_filter(&self, now_s: i64, limit: i64) -> Result<EventFilter, CliError> {
        if let Some(s) = &self.status {
            if Status::parse(s).is_none() {
                return Err(CliError::Usage(format!(
                    "unknown status {s:?}; one of received, processing, handled, failed, dead, ignored"
                )));
            }
        }
        Ok(EventFilter {
            status: self.status.clone(),
            endpoint: self.endpoint.clone(),
            event_type: self.event_type.clone(),
            since: time_arg(&self.since, now_s)?,
            until: time_arg(&self.until, now_s)?,
            before_id: None,
            limit,
        })
    }
}

#[derive(Args, Debug)]
struct ActionArgs {
    /// Event id. Without it, the action applies to every event matching the filters.
    #[arg(conflicts_with_all = ["status", "endpoint", "event_type", "since", "until", "dry_run", "max"])]
    id: Option<i64>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Bulk: show the count and ids, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Bulk: do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
    /// Bulk: change at most this many events.
    #[arg(long, value_name = "N")]
    max: Option<i64>,
}

#[derive(Subcommand, Debug)]
enum PruneCmd {
    /// Delete terminal events (with their deliveries and attempts) received before --older-than.
    Events {
        /// Statuses to prune (repeat or comma-separate): handled, ignored, dead.
        #[arg(long, value_delimiter = ',', default_value = "handled")]
        status: Vec<String>,
        #[arg(long, value_name = "TIME")]
        older_than: String,
        /// At most this many events in total (passes of up to 1000, one audit row each).
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Count only (one pass of up to 1000); nothing is deleted or audited.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete orphan deliveries (no event) received before --older-than.
    Orphans {
        #[arg(long, value_name = "TIME")]
        older_than: String,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AuditsCmd {
    /// Operator audit rows (every mutation, with actor) and prune audit rows, newest first.
    List {
        /// operator, prune, or all.
        #[arg(long, default_value = "all")]
        kind: String,
        /// Only this operator action (requeue, bulk_requeue, prune_events, import, ...).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub enum CliError {
    Core(Error),
    Usage(String),
    NotConfirmed(String),
    /// Already reported (doctor): just the exit code.
    Silent(i32),
    Io(String),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Core(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e.to_string())
    }
}

impl CliError {
    fn code(&self) -> i32 {
        match self {
            CliError::Core(e) => match e.code() {
                "not_found" => exit::NOT_FOUND,
                "invalid_state" => exit::INVALID_STATE,
                "invalid_argument" => exit::USAGE,
                "not_knocker_database" | "schema_too_new" => exit::NOT_KNOCKER,
                "database_missing" => exit::NO_DATABASE,
                "busy" => exit::BUSY,
                _ => exit::FAILURE,
            },
            CliError::Usage(_) => exit::USAGE,
            CliError::NotConfirmed(_) => exit::NOT_CONFIRMED,
            CliError::Silent(c) => *c,
            CliError::Io(_) => exit::FAILURE,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            CliError::Core(e) => e.code(),
            CliError::Usage(_) => "usage",
            CliError::NotConfirmed(_) => "not_confirmed",
            CliError::Silent(_) => "failed",
            CliError::Io(_) => "io",
        }
    }
    fn message(&self) -> String {
        match self {
            CliError::Core(Error::DatabaseMissing(p)) => {
                format!("no database file at {p:?}; check --db or KNOCKER_DB (read commands never create a file)")
            }
            CliError::Core(e) => e.to_string(),
            CliError::Usage(m) | CliError::NotConfirmed(m) | CliError::Io(m) => m.clone(),
            CliError::Silent(_) => String::new(),
        }
    }
}

fn time_arg(a: &Option<String>, now_s: i64) -> Result<Option<i64>, CliError> {
    a.as_deref().map(|s| parse_time(s, now_s).map_err(CliError::Usage)).transpose()
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => exit::OK,
                _ => exit::USAGE,
            };
        }
    };
    let json = cli.json;
    let mut ctx = Ctx { json, out: std::io::stdout().lock() };
    match run(&cli, &mut ctx) {
        Ok(()) => exit::OK,
        Err(CliError::Io(m)) if m.contains("Broken pipe") => exit::OK,
        Err(e) => {
            let code = e.code();
            if !matches!(e, CliError::Silent(_)) {
                if json {
                    eprintln!("{}", json!({ "error": { "code": e.kind(), "exit_code": code, "message": e.message() } }));
                } else {
                    eprintln!("knocker: {}", e.message());
                }
            }
            code
        }
    }
}

struct Ctx<W: Write> {
    json: bool,
    out: W,
}

impl<W: Write> Ctx<W> {
    fn print(&mut self, s: &str) -> Result<(), CliError> {
        self.out.write_all(s.as_bytes())?;
        if !s.ends_with('\n') {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
    fn emit_json(&mut self, v: &Value) -> Result<(), CliError> {
        let s = serde_json::to_string_pretty(v).unwrap_or_default();
        self.print(&s)
    }
    /// Progress bars only for people: not with --json, not when stdout or stderr is piped.
    fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.json || !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        progress_bar(len, what)
    }
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn open(cli: &Cli, create: bool) -> Result<Knocker, CliError> {
    let Some(db) = &cli.db else {
        return Err(CliError::Usage("no database: pass --db PATH or set KNOCKER_DB".into()));
    };
    let path = db.to_string_lossy().into_owned();
    let options = Options { busy_timeout_ms: cli.busy_timeout, ..Options::default() };
    let k = if create && !db.exists() { Knocker::open_with(&path, options)? } else { Knocker::open_existing(&path, options)? };
    let actor = cli.actor.clone().unwrap_or_else(|| {
        format!("cli:{}", std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into()))
    });
    Ok(k.with_actor(&actor))
}

fn run<W: Write>(cli: &Cli, ctx: &mut Ctx<W>) -> Result<(), CliError> {
    match &cli.cmd {
        Cmd::Events(EventsCmd::List { filter, limit, cursor }) => {
            let k = open(cli, false)?;
            let mut f = filter.to_filter(now_s(), *limit)?;
            f.before_id = *cursor;
            let events = k.list_events(&f)?;
            let next = if events.len() as i64 == *limit { events.last().map(|e| e.id) } else { None };
            if ctx.json {
                let items: Vec<Value> = events.iter().map(event_json_summary).collect();
                return ctx.emit_json(&json!({ "events": items, "next_cursor": next }));
            }
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.endpoint.clone(),
                        cell(e.event_type.as_deref().unwrap_or("-"), 24),
                        e.status.to_string(),
                        format!("{}/{}", e.attempt_count, e.max_attempts),
                        ts(e.received_at),
                        cell(e.last_error.as_deref().unwrap_or(""), 60),
                    ]
                })
                .collect();
            ctx.print(&table(&["ID", "ENDPOINT", "TYPE", "STATUS", "ATTEMPTS", "RECEIVED", "LAST ERROR"], &rows))?;
            if let Some(n) = next {
                ctx.print(&format!("more: --cursor {n}"))?;
            }
            Ok(())
        }
        Cmd::Events(EventsCmd::Show { id }) => {
            let k = open(cli, false)?;
            let e = k.get_event(*id)?;
            let deliveries = k.list_deliveries(&DeliveryFilter { event_id: Some(*id), limit: 1000, ..Default::default() })?;
            let attempts = k.list_attempts(*id)?;
            if ctx.json {
                let mut ev = event_json_summary(&e);
                ev["method"] = json!(e.method);
                ev["url"] = json!(e.url);
                ev["headers"] = pairs_json(&e.headers);
                ev["query"] = pairs_json(&e.query);
                ev["body_b64"] = json!(b64(&e.body));
                ev["body_text"] = json!(std::str::from_utf8(&e.body).ok());
                return ctx.emit_json(&json!({
                    "event": ev,
                    "deliveries": deliveries.iter().map(delivery_json_summary).collect::<Vec<_>>(),
                    "attempts": attempts.iter().map(|a| json!({
                        "id": a.id, "attempt_no": a.attempt_no, "worker_id": a.worker_id, "delivery_id": a.delivery_id,
                        "started_at_ms": a.started_at_ms, "finished_at_ms": a.finished_at_ms, "duration_ms": a.duration_ms,
                        "outcome": a.outcome, "error": a.error,
                    })).collect::<Vec<_>>(),
                }));
            }
            let mut s = String::new();
            let kv = |s: &mut String, k: &str, v: String| s.push_str(&format!("{k:<20} {v}\n"));
            kv(&mut s, "event", e.id.to_string());
            kv(&mut s, "endpoint", e.endpoint.clone());
            kv(&mut s, "type", cell(e.event_type.as_deref().unwrap_or("-"), 200));
            kv(&mut s, "status", e.status.to_string());
            kv(&mut s, "attempts", format!("{}/{}", e.attempt_count, e.max_attempts));
            kv(&mut s, "received", ts(e.received_at));
            kv(&mut s, "run at", ts_ms(e.run_at_ms));
            kv(&mut s, "handled", e.handled_at.map(ts).unwrap_or_else(|| "-".into()));
            kv(&mut s, "provider event id", cell(&opt(&e.provider_event_id), 200));
            kv(&mut s, "provider delivery id", cell(&opt(&e.provider_delivery_id), 200));
            kv(&mut s, "dedupe key", cell(&opt(&e.dedupe_key), 200));
            kv(&mut s, "lease owner", opt(&e.lease_owner));
            kv(&mut s, "replay delivery", opt(&e.replay_delivery_id));
            kv(&mut s, "last error", cell(&opt(&e.last_error), 500));
            let (kind, body) = render_body(&e.body);
            s.push_str(&format!("\npayload ({kind}, {} bytes):\n{body}\n", e.body.len()));
            s.push_str("\ndeliveries:\n");
            s.push_str(&deliveries_table(&deliveries));
            s.push_str("\nattempts:\n");
            let rows: Vec<Vec<String>> = attempts
                .iter()
                .map(|a| {
                    vec![
                        a.attempt_no.to_string(),
                        a.outcome.clone(),
                        opt(&a.worker_id),
                        ts_ms(a.started_at_ms),
                        format!("{}ms", a.duration_ms),
                        opt(&a.delivery_id),
                        cell(a.error.as_deref().unwrap_or(""), 80),
                    ]
                })
                .collect();
            s.push_str(&table(&["NO", "OUTCOME", "WORKER", "STARTED", "DURATION", "DELIVERY", "ERROR"], &rows));
            ctx.print(&s)
        }
        Cmd::Deliveries(DeliveriesCmd::List { valid, invalid, orphaned, linked, endpoint, event, since, limit }) => {
            let k = open(cli, false)?;
            let f = DeliveryFilter {
                event_id: *event,
                endpoint: endpoint.clone(),
                signature_valid: if *valid { Some(true) } else if *invalid { Some(false) } else { None },
                orphaned: if *orphaned { Some(true) } else if *linked { Some(false) } else { None },
                since: time_arg(since, now_s())?,
                limit: *limit,
            };
            let ds = k.list_deliveries(&f)?;
            if ctx.json {
                return ctx.emit_json(&json!({ "deliveries": ds.iter().map(delivery_json_summary).collect::<Vec<_>>() }));
            }
            ctx.print(&deliveries_table(&ds))
        }
        Cmd::Deliveries(DeliveriesCmd::Show { id, raw }) => {
            let k = open(cli, false)?;
            let d = k.get_delivery(*id)?;
            if let Some(path) = raw {
                std::fs::write(path, &d.body).map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))?;
            }
            if ctx.json {
                let mut v = delivery_json_summary(&d);
                v["method"] = json!(d.method);
                v["url"] = json!(d.url);
                v["headers"] = pairs_json(&d.headers);
                v["query"] = pairs_json(&d.query);
                v["body_b64"] = json!(b64(&d.body));
                v["body_text"] = json!(std::str::from_utf8(&d.body).ok());
                v["raw_written_to"] = json!(raw.as_ref().map(|p| p.display().to_string()));
                return ctx.emit_json(&json!({ "delivery": v }));
            }
            let mut s = String::new();
            let kv = |s: &mut String, k: &str, v: String| s.push_str(&format!("{k:<20} {v}\n"));
            kv(&mut s, "delivery", d.id.to_string());
            kv(&mut s, "event", d.event_id.map(|e| e.to_string()).unwrap_or_else(|| "- (orphan)".into()));
            kv(&mut s, "endpoint", d.endpoint.clone());
            kv(&mut s, "received", ts(d.received_at));
            kv(&mut s, "answered", d.status_code.to_string());
            kv(&mut s, "signature", signature_text(d.signature_valid).into());
            kv(&mut s, "error code", opt(&d.error_code));
            kv(&mut s, "signature error", cell(&opt(&d.signature_error), 500));
            kv(&mut s, "type", cell(&opt(&d.event_type), 200));
            kv(&mut s, "provider event id", cell(&opt(&d.provider_event_id), 200));
            kv(&mut s, "dedupe key", cell(&opt(&d.dedupe_key), 200));
            kv(&mut s, "request", format!("{} {}", cell(&d.method, 16), cell(d.url.as_deref().unwrap_or(""), 500)));
            s.push_str("\nheaders:\n");
            for (name, value) in d.headers.iter() {
                s.push_str(&format!("  {}: {}\n", cell(name, 100), cell(value, 2000)));
            }
            if !d.query.is_empty() {
                s.push_str("\nquery:\n");
                for (name, value) in d.query.iter() {
                    s.push_str(&format!("  {}={}\n", cell(name, 100), cell(value, 2000)));
                }
            }
            if d.body.is_empty() && d.body_size > 0 {
                s.push_str(&format!("\nbody: not stored ({} bytes received)\n", d.body_size));
            } else {
                let (kind, body) = render_body(&d.body);
                s.push_str(&format!("\nbody ({kind}, {} bytes):\n{body}\n", d.body.len()));
            }
            if let Some(p) = raw {
                s.push_str(&format!("raw body written to {}\n", p.display()));
            }
            ctx.print(&s)
        }
        Cmd::Ignore(a) => action(cli, ctx, BulkAction::Ignore, a),
        Cmd::Replay(a) => action(cli, ctx, BulkAction::Replay, a),
        Cmd::Requeue(a) => action(cli, ctx, BulkAction::Requeue, a),
        Cmd::ReplayDelivery { id } => {
            let k = open(cli, false)?;
            k.replay_delivery(*id)?;
            let event_id = k.get_delivery(*id)?.event_id;
            if ctx.json {
                return ctx.emit_json(&json!({ "action": "replay_delivery", "delivery_id": id, "event_id": event_id, "actor": k.actor() }));
            }
            ctx.print(&format!("delivery {id} replayed: event {} is received again and will run with this delivery's payload", opt(&event_id)))
        }
        Cmd::Prune(PruneCmd::Events { status, older_than, limit, dry_run }) => {
            let k = open(cli, false)?;
            let mut statuses = Vec::new();
            for s in status {
                statuses.push(Status::parse(s.trim()).ok_or_else(|| {
                    CliError::Usage(format!("unknown status {s:?}; prune takes handled, ignored, dead"))
                })?);
            }
            if *limit < 1 {
                return Err(CliError::Usage("--limit must be at least 1".into()));
            }
            let older = parse_time(older_than, now_s()).map_err(CliError::Usage)?;
            let p = PruneEvents { statuses, older_than: older, limit: (*limit).min(1000), dry_run: *dry_run };
            let pb = ctx.progress(*limit as u64, "pruning");
            let r = k.prune_events_all(&p, *limit, |pass| pb.inc(pass.events_pruned as u64))?;
            pb.finish_and_clear();
            if ctx.json {
                return ctx.emit_json(&json!({
                    "kind": "prune_events", "dry_run": r.dry_run, "older_than": older, "events_pruned": r.events_pruned,
                    "deliveries_pruned": r.deliveries_pruned, "attempts_pruned": r.attempts_pruned,
                }));
            }
            let verb = if r.dry_run { "would prune" } else { "pruned" };
            ctx.print(&format!(
                "{verb} {} events, {} deliveries, {} attempts received before {}",
                r.events_pruned,
                r.deliveries_pruned,
                r.attempts_pruned,
                ts(older)
            ))
        }
        Cmd::Prune(PruneCmd::Orphans { older_than, limit, dry_run }) => {
            let k = open(cli, false)?;
            if *limit < 1 {
                return Err(CliError::Usage("--limit must be at least 1".into()));
            }
            let older = parse_time(older_than, now_s()).map_err(CliError::Usage)?;
            let p = PruneOrphans { older_than: older, limit: (*limit).min(1000), dry_run: *dry_run };
            let pb = ctx.progress(*limit as u64, "pruning");
            let r = k.prune_orphans_all(&p, *limit, |pass| pb.inc(pass.deliveries_pruned as u64))?;
            pb.finish_and_clear();
            if ctx.json {
                return ctx.emit_json(&json!({
                    "kind": "prune_orphan_deliveries", "dry_run": r.dry_run, "older_than": older,
                    "deliveries_pruned": r.deliveries_pruned,
                }));
            }
            let verb = if r.dry_run { "would prune" } else { "pruned" };
            ctx.print(&format!("{verb} {} orphan deliveries received before {}", r.deliveries_pruned, ts(older)))
        }
        Cmd::Audits(AuditsCmd::List { kind, action, since, limit }) => {
            let k = open(cli, false)?;
            if !matches!(kind.as_str(), "all" | "operator" | "prune") {
                return Err(CliError::Usage(format!("--kind must be operator, prune or all, got {kind:?}")));
            }
            let since = time_arg(since, now_s())?;
            let ops = if kind != "prune" {
                k.list_operator_audits(&OperatorAuditFilter { action: action.clone(), since, limit: *limit })?
            } else {
                Vec::new()
            };
            let prunes = if kind != "operator" {
                k.list_prune_audits(&AuditFilter { kind: None, since, limit: *limit })?
            } else {
                Vec::new()
            };
            if ctx.json {
                return ctx.emit_json(&json!({
                    "operator": ops.iter().map(|a| json!({
                        "id": a.id, "action": a.action, "actor": a.actor, "executed_at": a.executed_at,
                        "target_kind": a.target_kind, "affected": a.affected, "ids": a.ids,
                        "filters": serde_json::from_str::<Value>(&a.filters_json).unwrap_or(Value::Null),
                    })).collect::<Vec<_>>(),
                    "prune": prunes.iter().map(|a| json!({
                        "id": a.id, "kind": a.kind, "executed_at": a.executed_at, "events_pruned": a.events_pruned,
                        "deliveries_pruned": a.deliveries_pruned, "attempts_pruned": a.attempts_pruned,
                        "summary": serde_json::from_str::<Value>(&a.summary_json).unwrap_or(Value::Null),
                    })).collect::<Vec<_>>(),
                }));
            }
            let mut s = String::new();
            if kind != "prune" {
                s.push_str("operator audits:\n");
                let rows: Vec<Vec<String>> = ops
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.to_string(),
                            ts(a.executed_at),
                            cell(&a.actor, 30),
                            a.action.clone(),
                            format!("{} {}{}", a.affected, a.target_kind, if a.affected == 1 { "" } else { "s" }),
                            cell(&ids_text(&a.ids), 40),
                            cell(&a.filters_json, 60),
                        ]
                    })
                    .collect();
                s.push_str(&table(&["ID", "WHEN", "ACTOR", "ACTION", "AFFECTED", "IDS", "FILTERS"], &rows));
            }
            if kind != "operator" {
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str("prune audits:\n");
                let rows: Vec<Vec<String>> = prunes
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.to_string(),
                            ts(a.executed_at),
                            a.kind.clone(),
                            opt(&a.events_pruned),
                            a.deliveries_pruned.to_string(),
                            opt(&a.attempts_pruned),
                            cell(&a.summary_json, 60),
                        ]
                    })
                    .collect();
                s.push_str(&table(&["ID", "WHEN", "KIND", "EVENTS", "DELIVERIES", "ATTEMPTS", "SUMMARY"], &rows));
            }
            ctx.print(&s)
        }
        Cmd::Stats { prometheus } => {
            let k = open(cli, false)?;
            // The gauges of the metrics snapshot (counters are per process: an app's, not ours).
            let st = k.metrics()?.stats;
            if *prometheus {
                return ctx.print(&knocker_core::render_prometheus_gauges(&st));
            }
            if ctx.json {
                return ctx.emit_json(&json!({
                    "by_status": st.by_status, "by_endpoint": st.by_endpoint, "claimable": st.claimable,
                    "oldest_claimable_age_s": st.oldest_claimable_age_s, "dead": st.dead, "processing": st.processing,
                    "orphan_deliveries": st.orphan_deliveries,
                }));
            }
            let mut s = format!(
                "claimable (depth)       {}\noldest claimable age    {}\nprocessing              {}\ndead                    {}\norphan deliveries       {}\n\n",
                st.claimable,
                st.oldest_claimable_age_s.map(age).unwrap_or_else(|| "-".into()),
                st.processing,
                st.dead,
                st.orphan_deliveries
            );
            let cols = ["received", "processing", "handled", "failed", "dead", "ignored"];
            let mut rows: Vec<Vec<String>> = st
                .by_endpoint
                .iter()
                .map(|(name, m)| {
                    let mut r = vec![name.clone()];
                    r.extend(cols.iter().map(|c| m.get(*c).copied().unwrap_or(0).to_string()));
                    r
                })
                .collect();
            let mut total = vec!["(all)".to_string()];
            total.extend(cols.iter().map(|c| st.by_status.get(*c).copied().unwrap_or(0).to_string()));
            rows.push(total);
            s.push_str(&table(&["ENDPOINT", "RECEIVED", "PROCESSING", "HANDLED", "FAILED", "DEAD", "IGNORED"], &rows));
            ctx.print(&s)
        }
        Cmd::Workers { since } => {
            let k = open(cli, false)?;
            let since_s = parse_time(since, now_s()).map_err(CliError::Usage)?;
            let activity = k.worker_activity(since_s * 1000)?;
            let leases = k.leases()?;
            if ctx.json {
                return ctx.emit_json(&json!({ "since": since_s, "activity": activity, "leases": leases }));
            }
            let mut s = format!("attempt activity since {}:\n", ts(since_s));
            let rows: Vec<Vec<String>> = activity
                .iter()
                .map(|a| {
                    vec![
                        a.worker_id.clone().map(|w| cell(&w, 40)).unwrap_or_else(|| "(operator)".into()),
                        a.attempts.to_string(),
                        a.handled.to_string(),
                        a.failed.to_string(),
                        a.dead.to_string(),
                        a.lost.to_string(),
                        format!("{:.0}ms", a.avg_duration_ms),
                        ts_ms(a.last_finished_at_ms),
                    ]
                })
                .collect();
            s.push_str(&table(&["WORKER", "ATTEMPTS", "HANDLED", "FAILED", "DEAD", "LOST", "AVG", "LAST"], &rows));
            let stuck = leases.iter().filter(|l| l.expired).count();
            s.push_str(&format!("\nleases ({} processing, {stuck} expired):\n", leases.len()));
            let rows: Vec<Vec<String>> = leases
                .iter()
                .map(|l| {
                    vec![
                        l.event_id.to_string(),
                        l.endpoint.clone(),
                        l.lease_owner.clone().map(|w| cell(&w, 40)).unwrap_or_else(|| "-".into()),
                        format!("{}/{}", l.attempt_count, l.max_attempts),
                        l.lease_expires_at_ms.map(ts_ms).unwrap_or_else(|| "-".into()),
                        if l.expired { "EXPIRED".into() } else { "ok".into() },
                    ]
                })
                .collect();
            s.push_str(&table(&["EVENT", "ENDPOINT", "OWNER", "ATTEMPT", "EXPIRES", "STATE"], &rows));
            ctx.print(&s)
        }
        Cmd::Doctor { strict } => {
            let k = open(cli, false)?;
            let report = k.doctor()?;
            let worst = report.worst();
            let failed = worst == CheckLevel::Fail || (*strict && worst == CheckLevel::Warn);
            if ctx.json {
                ctx.emit_json(&json!({ "path": report.path, "ok": !failed, "worst": worst.as_str(), "checks": report.checks }))?;
            } else {
                let rows: Vec<Vec<String>> = report
                    .checks
                    .iter()
                    .map(|c| {
                        vec![
                            c.level.as_str().to_uppercase(),
                            c.name.clone(),
                            cell(&c.value, 40),
                            c.detail.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                let mut s = table(&["LEVEL", "CHECK", "VALUE", "DETAIL"], &rows);
                s.push_str(if failed { "\nproblems found\n" } else { "\nno problems found\n" });
                ctx.print(&s)?;
            }
            if failed {
                return Err(CliError::Silent(exit::FAILURE));
            }
            Ok(())
        }
        Cmd::Export { since, until, endpoint, out } => {
            let k = open(cli, false)?;
            let now = now_s();
            let f = ExportFilter { since: time_arg(since, now)?, until: time_arg(until, now)?, endpoint: endpoint.clone() };
            let (events, orphans) = k.export_count(&f)?;
            // stdout may be the export itself, so the bar only needs a terminal on stderr.
            let pb = if !ctx.json && std::io::stderr().is_terminal() {
                progress_bar((events + orphans) as u64, "exporting")
            } else {
                ProgressBar::hidden()
            };
            let mut writer: Box<dyn Write> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).map_err(|e| CliError::Io(format!("cannot create {}: {e}", p.display())))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let mut written = (0i64, 0i64);
            let mut io_err: Option<std::io::Error> = None;
            k.export(&f, |r| {
                match &r {
                    ExportRecord::Event(_) => written.0 += 1,
                    ExportRecord::OrphanDelivery(_) => written.1 += 1,
                    _ => {}
                }
                if matches!(r, ExportRecord::Event(_) | ExportRecord::OrphanDelivery(_)) {
                    pb.inc(1);
                }
                if let Err(e) = writeln!(writer, "{}", r.to_line()) {
                    io_err = Some(e);
                    return Err(Error::InvalidArgument("export output failed".into()));
                }
                Ok(())
            })
            .map_err(|e| match io_err.take() {
                Some(io) => CliError::Io(io.to_string()),
                None => CliError::Core(e),
            })?;
            writer.flush()?;
            pb.finish_and_clear();
            let summary = json!({ "events": written.0, "orphan_deliveries": written.1, "out": out.as_ref().map(|p| p.display().to_string()) });
            if out.is_some() {
                if ctx.json {
                    return ctx.emit_json(&summary);
                }
                return ctx.print(&format!("exported {} events and {} orphan deliveries", written.0, written.1));
            }
            if !ctx.json {
                eprintln!("exported {} events and {} orphan deliveries", written.0, written.1);
            }
            Ok(())
        }
        Cmd::Import { file, create } => {
            let k = open(cli, *create)?;
            let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(file).map_err(|e| CliError::Io(format!("cannot open {}: {e}", file.display())))?,
                ))
            };
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            let pb = ctx.progress(size, "importing");
            let mut total = ImportResult::default();
            let mut batch = Vec::new();
            let mut seen_header = false;
            for (i, line) in reader.lines().enumerate() {
                let line = line?;
                pb.inc(line.len() as u64 + 1);
                if line.trim().is_empty() {
                    continue;
                }
                let record = ExportRecord::parse_line(&line).map_err(|e| CliError::Usage(format!("{}:{}: {}", file.display(), i + 1, e_msg(&e))))?;
                if !seen_header {
                    if !matches!(record, ExportRecord::Header(_)) {
                        return Err(CliError::Usage(format!(
                            "{}:{}: the first record must be a knocker-export header",
                            file.display(),
                            i + 1
                        )));
                    }
                    seen_header = true;
                }
                batch.push(record);
                if batch.len() >= 500 {
                    total.add(&k.import_records(&batch)?);
                    batch.clear();
                }
            }
            if !seen_header {
                return Err(CliError::Usage(format!("{}: empty file, no knocker-export header", file.display())));
            }
            if !batch.is_empty() {
                total.add(&k.import_records(&batch)?);
            }
            pb.finish_and_clear();
            if ctx.json {
                return ctx.emit_json(&serde_json::to_value(&total).unwrap_or_default());
            }
            ctx.print(&format!(
                "imported {} events ({} deliveries, {} attempts), skipped {} already present; {} orphan deliveries imported, {} skipped; {} endpoints created",
                total.events_imported,
                total.deliveries_imported,
                total.attempts_imported,
                total.events_skipped,
                total.orphans_imported,
                total.orphans_skipped,
                total.endpoints_created
            ))
        }
        Cmd::Backup { path } => {
            let k = open(cli, false)?;
            let dest = path.to_string_lossy().into_owned();
            let pb = ctx.progress(0, "backing up");
            let mut pages = 0;
            k.backup(&dest, |remaining, total| {
                pages = total;
                pb.set_length(total as u64);
                pb.set_position((total - remaining) as u64);
            })?;
            pb.finish_and_clear();
            // The copy must open as a Knocker file.
            let copy = Knocker::open_existing(&dest, Options::default())?;
            let quick = copy.doctor()?.checks.into_iter().find(|c| c.name == "quick_check").map(|c| c.value).unwrap_or_default();
            copy.close();
            if ctx.json {
                return ctx.emit_json(&json!({ "backup": dest, "pages": pages, "quick_check": quick }));
            }
            ctx.print(&format!("backed up {} pages to {dest} (quick_check: {quick})", pages))
        }
    }
}

fn e_msg(e: &Error) -> String {
    match e {
        Error::InvalidArgument(m) => m.clone(),
        other => other.to_string(),
    }
}

/// A single-event action, or the bulk form over filters.
fn action<W: Write>(cli: &Cli, ctx: &mut Ctx<W>, act: BulkAction, a: &ActionArgs) -> Result<(), CliError> {
    let name = match act {
        BulkAction::Ignore => "ignore",
        BulkAction::Replay => "replay",
        BulkAction::Requeue => "requeue",
    };
    if let Some(id) = a.id {
        let k = open(cli, false)?;
        match act {
            BulkAction::Ignore => k.ignore(id)?,
            BulkAction::Replay => k.replay(id)?,
            BulkAction::Requeue => k.requeue(id)?,
        }
        let status = k.get_event(id)?.status;
        if ctx.json {
            return ctx.emit_json(&json!({ "action": name, "event_id": id, "status": status.as_str(), "actor": k.actor() }));
        }
        return ctx.print(&format!("event {id}: {name} done, status is now {status}"));
    }
    if !a.filter.any() {
        return Err(CliError::Usage(format!(
            "{name} needs an event ID, or filters (--status, --endpoint, --type, --since, --until) for a bulk {name}"
        )));
    }
    if a.max.is_some_and(|m| m < 1) {
        return Err(CliError::Usage("--max must be at least 1".into()));
    }
    let k = open(cli, false)?;
    let filter = a.filter.to_filter(now_s(), 500)?;
    let mut count = k.bulk_count(act, &filter)?;
    if let Some(m) = a.max {
        count = count.min(m);
    }
    let preview_limit = count.clamp(1, 1000);
    let preview = k.bulk(act, &EventFilter { limit: preview_limit, ..filter.clone() }, true)?;
    let shown: Vec<i64> = preview.ids.iter().copied().take(count as usize).collect();
    if a.dry_run {
        if ctx.json {
            return ctx.emit_json(&json!({
                "action": format!("bulk_{name}"), "dry_run": true, "count": count, "ids": shown,
                "ids_truncated": (shown.len() as i64) < count,
            }));
        }
        return ctx.print(&format!("dry run: would {name} {}{}", events_n(count), ids_suffix(&shown, count)));
    }
    if count == 0 {
        if ctx.json {
            return ctx.emit_json(&json!({ "action": format!("bulk_{name}"), "dry_run": false, "count": 0, "ids": [] }));
        }
        return ctx.print(&format!("no events match; nothing to {name}"));
    }
    confirm(a.yes, &format!("{name} {}{}?", events_n(count), ids_suffix(&shown, count)))?;
    let pb = ctx.progress(count as u64, name);
    let r = k.bulk_all(act, &filter, Some(count), |batch| pb.inc(batch.len() as u64))?;
    pb.finish_and_clear();
    if ctx.json {
        return ctx.emit_json(&json!({
            "action": format!("bulk_{name}"), "dry_run": false, "count": r.ids.len(), "ids": r.ids, "actor": k.actor(),
        }));
    }
    ctx.print(&format!("{name}: done for {}{}", events_n(r.ids.len() as i64), ids_suffix(&r.ids, r.ids.len() as i64)))
}

fn confirm(yes: bool, question: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(CliError::NotConfirmed(format!(
            "refusing to {} without confirmation: no terminal to ask on; re-run with --yes (or --dry-run to preview)",
            question.trim_end_matches('?')
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::NotConfirmed("not confirmed; nothing changed".into()))
    }
}

fn events_n(n: i64) -> String {
    if n == 1 { "1 event".into() } else { format!("{n} events") }
}

fn ids_text(ids: &[i64]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn ids_suffix(ids: &[i64], count: i64) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let head: Vec<String> = ids.iter().take(20).map(|i| i.to_string()).collect();
    let more = if count > head.len() as i64 { format!(", … {} more", count - head.len() as i64) } else { String::new() };
    format!(" (ids {}{more})", head.join(", "))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn pairs_json(p: &knocker_core::Pairs) -> Value {
    Value::Array(p.iter().map(|(k, v)| json!([k, v])).collect())
}

fn signature_text(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "valid",
        Some(false) => "invalid",
        None => "not verified",
    }
}

fn event_json_summary(e: &knocker_core::Event) -> Value {
    json!({
        "id": e.id, "endpoint": e.endpoint, "event_type": e.event_type, "status": e.status.as_str(),
        "attempt_count": e.attempt_count, "max_attempts": e.max_attempts, "received_at": e.received_at,
        "handled_at": e.handled_at, "run_at_ms": e.run_at_ms, "last_error": e.last_error,
        "provider_event_id": e.provider_event_id, "provider_delivery_id": e.provider_delivery_id,
        "dedupe_key": e.dedupe_key, "replay_delivery_id": e.replay_delivery_id, "lease_owner": e.lease_owner,
        "body_size": e.body.len(),
    })
}

fn delivery_json_summary(d: &knocker_core::Delivery) -> Value {
    json!({
        "id": d.id, "event_id": d.event_id, "endpoint": d.endpoint, "event_type": d.event_type,
        "received_at": d.received_at, "status_code": d.status_code, "signature_valid": d.signature_valid,
        "signature_error": d.signature_error, "error_code": d.error_code, "provider_event_id": d.provider_event_id,
        "provider_delivery_id": d.provider_delivery_id, "dedupe_key": d.dedupe_key, "body_size": d.body_size,
        "orphan": d.event_id.is_none(),
    })
}

fn deliveries_table(ds: &[knocker_core::Delivery]) -> String {
    let rows: Vec<Vec<String>> = ds
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.event_id.map(|e| e.to_string()).unwrap_or_else(|| "orphan".into()),
                d.endpoint.clone(),
                d.status_code.to_string(),
                signature_text(d.signature_valid).into(),
                ts(d.received_at),
                d.body_size.to_string(),
                cell(d.error_code.as_deref().unwrap_or(""), 24),
                cell(d.signature_error.as_deref().unwrap_or(""), 50),
            ]
        })
        .collect();
    table(&["ID", "EVENT", "ENDPOINT", "HTTP", "SIGNATURE", "RECEIVED", "BYTES", "CODE", "REASON"], &rows)
}

//! # knocker-core
//!
//! Store first. Ack fast. Process later. The embeddable inbound-webhook inbox on one SQLite file.
//!
//! Every semantic decision of Knocker lives in this crate: storage and schema, verification
//! (the curated provider catalogue), dedupe, the event state machine, the worker, operator
//! actions and retention. The bindings (`knocker` for Rust, `knocker` on PyPI and npm) only
//! convert types and map errors. See `DESIGN.md` for the contract.

pub mod admin;
pub mod error;
pub mod checkpoint;
mod ingress;
pub mod knocker;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod options;
pub mod provider;
pub mod providers;
pub mod storage;
pub mod trace;
mod vfs;
pub mod worker;

pub use crate::admin::*;
pub use crate::error::{Error, Result};
pub use crate::knocker::{Knocker, Receipt, TrustedOutcome};
pub use crate::metrics::{render_prometheus, render_prometheus_gauges, EndpointMetrics, HistogramSnapshot, MetricsSnapshot};
pub use crate::trace::TraceParent;
pub use crate::model::*;
pub use crate::options::*;
pub use crate::provider::{Pairs, Provider, Secret};
pub use crate::storage::{Claim, SCHEMA_VERSION};
pub use crate::worker::{Handler, HandlerError, HandlerTx, Outcome, SqlRow, StopSignal, WorkerOptions};
pub use rusqlite::types::Value as SqlValue;

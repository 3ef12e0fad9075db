//! Group commit for ingress.
//!
//! Concurrent `receive`/`ingest` calls on one handle share write transactions: each caller
//! queues its prepared receipt and then takes the writer lock. Whoever gets the lock first (the
//! leader) stores every queued receipt in one transaction, each in its own SAVEPOINT so that a
//! failing receipt rolls back alone, commits once, and hands each caller its outcome. A caller
//! whose receipt a leader already committed finds its outcome when it gets the lock and returns
//! at once. Every caller returns only after the commit that holds its receipt (invariant 1); a
//! lone caller is its own leader and waits for nobody (no timers). Dedupe stays exact inside a
//! batch: receipts are stored in order in one transaction, so a later one sees an earlier one.
//! A leader that finds more receipts queued after its commit runs the next group commit itself
//! (up to [`LEADER_ROUNDS_MAX`] rounds): it is already running and holds the writer, so the
//! next batch needs no hand-over to a thread that would first have to be woken and scheduled.

use std::sync::{Arc, Condvar, Mutex, TryLockError};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::knocker::Knocker;
use crate::storage::{self, EndpointRow, ReceiptRow, Stored};

/// Receipts per group commit at most (bounds one transaction's duration).
pub const GROUP_COMMIT_MAX: usize = 256;

/// Group commits one leader runs back to back while receipts keep arriving, before it hands
/// leadership over and returns (bounds the leader's own latency).
pub const LEADER_ROUNDS_MAX: usize = 8;

/// A receipt prepared outside the write lock (verification done), waiting to be stored.
pub(crate) struct PendingReceipt {
    pub endpoint: String,
    /// The endpoint row the pre-checks (body limit, verification required) used.
    pub precheck_row: EndpointRow,
    pub verified_here: bool,
    pub oversize: bool,
    pub body_len: usize,
    pub received_at: i64,
    pub now_ms: i64,
    pub provider_event_id: Option<String>,
    pub provider_delivery_id: Option<String>,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    pub method: String,
    pub url: Option<String>,
    pub headers_json: String,
    pub query_json: String,
    pub body: Vec<u8>,
    pub signature_valid: Option<bool>,
    pub signature_error: Option<String>,
    pub error_code: Option<String>,
    pub secret_index: Option<i64>,
    pub status_code: u16,
    pub accepted: bool,
    /// The request's valid W3C `traceparent`, stored with the delivery.
    pub traceparent: Option<String>,
    pub outcome: Mutex<Option<Result<Committed>>>,
    /// Signalled when the outcome is set, or when this receipt should try to lead.
    pub wake: Condvar,
}

/// What storing one receipt came to.
#[derive(Debug)]
pub(crate) enum Committed {
    Stored { stored: Stored, status_code: u16, error_code: Option<String> },
    UnknownEndpoint,
    /// The stored policy differs from the one the pre-checks used in a way that changes the
    /// decision; nothing was stored, the caller decides again.
    PolicyChanged,
}

impl PendingReceipt {
    fn take_outcome(&self) -> Option<Result<Committed>> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
    fn set_outcome(&self, r: Result<Committed>) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        self.wake.notify_all();
    }
    /// Waits until the outcome is set or a leader hands over (or briefly, as a safety net).
    fn wait(&self) -> Option<Result<Committed>> {
        let g = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        let (mut g, _) = self
            .wake
            .wait_timeout_while(g, Duration::from_millis(2), |o| o.is_none())
            .unwrap_or_else(|e| e.into_inner());
        g.take()
    }
}

/// An equivalent error for the other receipts of a batch whose commit failed.
fn replicate(e: &Error) -> Error {
    match e {
        Error::Busy(m) => Error::Busy(m.clone()),
        Error::Closed => Error::Closed,
        Error::WalReplaced => Error::WalReplaced,
        other => Error::CommitFailed(other.to_string()),
    }
}

impl Knocker {
    /// Stores one prepared receipt, possibly together with other callers' receipts.
    ///
    /// Callers that find the writer busy wait on their own condition variable instead of
    /// queueing on the writer mutex, so a leader's followers return as soon as their outcome is
    /// set (no lock convoy), and a leader hands leadership to the oldest waiting receipt.
    pub(crate) fn commit_receipt(&self, job: &Arc<PendingReceipt>) -> Result<Committed> {
        self.inner.ingest_queue.lock().unwrap_or_else(|e| e.into_inner()).push(job.clone());
        loop {
            if let Some(done) = job.take_outcome() {
                return done;
            }
            let guard = match self.inner.writer.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    if let Some(done) = job.wait() {
                        return done;
                    }
                    continue;
                }
            };
            drop(guard);
            // Take the writer through the usual path (closed check, WAL guard).
            let mut guard = match self.writer() {
                Ok(g) => g,
                Err(e) => {
                    self.inner.ingest_queue.lock().unwrap_or_else(|e| e.into_inner()).retain(|j| !Arc::ptr_eq(j, job));
                    return job.take_outcome().unwrap_or(Err(e));
                }
            };
            if let Some(done) = job.take_outcome() {
                self.hand_over();
                return done;
            }
            let batch: Vec<Arc<PendingReceipt>> = {
                let mut q = self.inner.ingest_queue.lock().unwrap_or_else(|e| e.into_inner());
                let Some(pos) = q.iter().position(|j| Arc::ptr_eq(j, job)) else {
                    // Another leader took it and is handing out outcomes now.
                    drop(q);
                    drop(guard);
                    if let Some(done) = job.wait() {
                        return done;
                    }
                    continue;
                };
                let n = q.len().min(GROUP_COMMIT_MAX);
                let mine = q.remove(pos);
                let mut batch = vec![mine];
                batch.extend(q.drain(..n.saturating_sub(1)));
                batch
            };
            // Lead rounds while receipts keep arriving: the leader is running and holds the
            // writer, so serving the next batch itself costs no hand-over (no thread to wake
            // and schedule first), and the batch grows with whatever queued during the last
            // commit. Bounded, so that the leader's own call returns soon.
            let mut own = None;
            let mut batch = batch;
            let mut rounds = 0;
            loop {
                let conn = guard.as_mut().ok_or(Error::Closed);
                let result = conn.and_then(|conn| self.store_batch(conn, &batch));
                let failed = result.is_err();
                let results = match result {
                    Ok(results) => match self.check_committed(Some(&mut guard)) {
                        Ok(()) => results,
                        Err(e) => batch.iter().map(|_| Err(replicate(&e))).collect(),
                    },
                    Err(e) => batch.iter().map(|_| Err(replicate(&e))).collect(),
                };
                let mut created = false;
                for (job_i, r) in batch.iter().zip(results) {
                    if let Ok(Committed::Stored { stored, .. }) = &r {
                        created |= stored.event_id.is_some() && !stored.duplicate;
                    }
                    if Arc::ptr_eq(job_i, job) {
                        own = Some(r);
                    } else {
                        job_i.set_outcome(r);
                    }
                }
                if created {
                    self.inner.notify.bump();
                }
                rounds += 1;
                if failed || rounds >= LEADER_ROUNDS_MAX {
                    break;
                }
                batch = {
                    let mut q = self.inner.ingest_queue.lock().unwrap_or_else(|e| e.into_inner());
                    let n = q.len().min(GROUP_COMMIT_MAX);
                    q.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
            }
            drop(guard);
            self.hand_over();
            return own.expect("own receipt in its batch");
        }
    }

    /// Wakes the oldest receipt still waiting, so that it leads the next group commit.
    fn hand_over(&self) {
        let next = self.inner.ingest_queue.lock().unwrap_or_else(|e| e.into_inner()).first().cloned();
        if let Some(next) = next {
            next.wake.notify_all();
        }
    }

    /// One transaction for the batch; per-receipt outcomes are returned only when it committed.
    fn store_batch(&self, conn: &mut Connection, batch: &[Arc<PendingReceipt>]) -> Result<Vec<Result<Committed>>> {
        let tx = storage::ImmediateTx::begin(conn)?;
        let out = self.store_batch_in_transaction(&tx, batch)?;
        tx.commit()?;
        Ok(out)
    }

    fn store_batch_in_transaction(&self, tx: &Connection, batch: &[Arc<PendingReceipt>]) -> Result<Vec<Result<Committed>>> {
        let mut ids = storage::IdFloors::read(tx)?;
        let data_version = storage::data_version(tx)?;
        let mut out = Vec::with_capacity(batch.len());
        if batch.len() == 1 {
            out.push(Ok(self.store_one(tx, &batch[0], &mut ids, data_version)?));
        } else {
            for job in batch {
                storage::exec_cached(tx, "SAVEPOINT knocker_receipt")?;
                match self.store_one(tx, job, &mut ids, data_version) {
                    Ok(c) => {
                        storage::exec_cached(tx, "RELEASE knocker_receipt")?;
                        out.push(Ok(c));
                    }
                    Err(e) => {
                        storage::exec_cached(tx, "ROLLBACK TO knocker_receipt")?;
                        storage::exec_cached(tx, "RELEASE knocker_receipt")?;
                        out.push(Err(e));
                    }
                }
            }
        }
        Ok(out)
    }

    fn store_one(&self, tx: &Connection, job: &PendingReceipt, ids: &mut storage::IdFloors, data_version: i64) -> Result<Committed> {
        // The endpoint may have been disabled, changed or removed by another connection: re-read
        // it inside the write lock unless no other connection has committed since it was read.
        let cached = self
            .inner
            .endpoint_rows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job.endpoint)
            .filter(|(_, seen)| *seen == data_version)
            .map(|(row, _)| row.clone());
        let current = match cached {
            Some(row) => row,
            None => {
                let Some(row) = storage::endpoint_by_name(tx, &job.endpoint)? else {
                    self.inner.endpoint_rows.write().unwrap_or_else(|e| e.into_inner()).remove(&job.endpoint);
                    return Ok(Committed::UnknownEndpoint);
                };
                self.inner.endpoint_rows.write().unwrap_or_else(|e| e.into_inner()).insert(job.endpoint.clone(), (row.clone(), data_version));
                row
            }
        };
        if current != job.precheck_row {
            let now_oversize = job.body_len > current.max_body_bytes as usize;
            if (current.verification_required && !job.verified_here && !now_oversize) || now_oversize != job.oversize {
                return Ok(Committed::PolicyChanged);
            }
        }
        let disabled = !current.enabled;
        let (status_code, accepted, error_code, signature_error) = if disabled {
            (404u16, false, Some("endpoint_disabled".to_string()), Some("endpoint disabled".to_string()))
        } else {
            (job.status_code, job.accepted, job.error_code.clone(), job.signature_error.clone())
        };
        let r = ReceiptRow {
            endpoint_id: current.id,
            received_at: job.received_at,
            now_ms: job.now_ms,
            provider_event_id: job.provider_event_id.as_deref(),
            provider_delivery_id: job.provider_delivery_id.as_deref(),
            event_type: job.event_type.as_deref(),
            dedupe_key: job.dedupe_key.as_deref(),
            method: &job.method,
            url: job.url.as_deref(),
            headers_json: &job.headers_json,
            query_json: &job.query_json,
            body: &job.body,
            body_size: job.body_len as i64,
            signature_valid: job.signature_valid,
            signature_error: signature_error.as_deref(),
            error_code: error_code.as_deref(),
            secret_index: job.secret_index,
            status_code,
            accepted,
            max_attempts: current.max_attempts,
            traceparent: job.traceparent.as_deref(),
        };
        let stored = storage::store_receipt(tx, &r, ids)?;
        Ok(Committed::Stored { stored, status_code, error_code })
    }
}

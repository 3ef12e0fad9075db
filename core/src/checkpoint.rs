//! WAL checkpoints on a background thread, triggered by the WAL's growth.
//!
//! Knocker's connections set `wal_autocheckpoint=0`, so no commit ever copies frames back into
//! the database file itself. Instead every connection that commits reports the WAL's length
//! through SQLite's WAL hook ([`WalProgress::on_commit`]), and once the log has grown by
//! [`CHECKPOINT_FRAMES`] since the last checkpoint, the commit wakes this thread, which copies
//! the frames back with PASSIVE checkpoints (they block neither writers nor readers).
//!
//! Why growth and not a timer: once every frame is copied, the next commit restarts the WAL from
//! its start, and SQLite syncs the new WAL header in that commit (one `fdatasync` on the
//! request path, required against reordered writes after a restart). A checkpoint every 10 ms
//! meant up to 100 such syncs a second — measured at 14 % of a Python ingest loop — while a
//! checkpoint per [`CHECKPOINT_FRAMES`] frames bounds them by the write volume, keeps the WAL a
//! few MiB that stay in the page cache and are overwritten in place after each restart, and
//! costs nothing while nothing is written.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::Result;
use crate::knocker::Inner;
use crate::storage::{self, ConnSettings};

/// WAL growth, in frames (pages), that wakes the checkpointer: 4 MiB of 1 KiB pages, about 350
/// receipts of 1 KiB.
pub const CHECKPOINT_FRAMES: i64 = 4096;

/// WAL frames beyond which a checkpoint that could not copy everything (because commits kept
/// arriving) finishes the job with ingress paused for a moment: 16 MiB of 1 KiB pages. Under a
/// writer that never pauses, a PASSIVE checkpoint never copies every frame, and SQLite restarts
/// the WAL only once every frame is copied: without this the file grows without bound
/// (measured: 1.3 GiB after 100k receipts).
pub const CHECKPOINT_CATCH_UP_FRAMES: i64 = 16384;

/// While less than [`CHECKPOINT_FRAMES`] is written, the checkpointer still copies what there is
/// this often, so that the database file alone soon holds every commit of a quiet spell.
pub const CHECKPOINT_IDLE_MS: u64 = 1000;

/// What the WAL hook of a handle's connections has seen; shared by the handle, its connection
/// pools and the hook. Connections hold a raw pointer to it (SQLite's hook argument), so every
/// owner keeps its `Arc` in a field declared after its connections: they are closed first.
#[derive(Default)]
pub(crate) struct WalProgress {
    /// Frames in the WAL after the last commit.
    frames: AtomicI64,
    /// Frames in the WAL when the checkpointer last finished a pass.
    checkpointed_log: AtomicI64,
    /// Commits since the checkpointer last ran.
    commits: AtomicU32,
    /// A commit has woken the checkpointer, which has not started its passes yet (so that a
    /// busy writer unparks it once, not on every commit).
    woken: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl WalProgress {
    /// Called by SQLite after every commit of a Knocker connection, with the WAL's length.
    pub(crate) fn on_commit(&self, frames: i64) {
        self.frames.store(frames, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        let base = self.checkpointed_log.load(Ordering::Relaxed);
        // A WAL shorter than at the last checkpoint has restarted since: it grew from zero.
        let grown = if frames < base { frames } else { frames - base };
        if grown >= CHECKPOINT_FRAMES && !self.woken.swap(true, Ordering::AcqRel) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }
}

/// Starts the handle's checkpointer. It ends when the handle is closed or dropped.
pub(crate) fn spawn(inner: &Arc<Inner>, settings: ConnSettings) -> Option<std::thread::JoinHandle<()>> {
    if inner.path == ":memory:" || inner.path.is_empty() {
        return None;
    }
    let weak = Arc::downgrade(inner);
    let path = inner.path.clone();
    let progress = inner.wal_progress.clone();
    let handle = std::thread::Builder::new()
        .name("knocker-checkpoint".into())
        .spawn(move || {
            loop {
                std::thread::park_timeout(Duration::from_millis(CHECKPOINT_IDLE_MS));
                let Some(inner) = weak.upgrade() else { return };
                if inner.closed.load(Ordering::SeqCst) {
                    *inner.checkpoint_conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    return;
                }
                let woken = progress.woken.swap(false, Ordering::AcqRel);
                if progress.commits.swap(0, Ordering::Relaxed) == 0 && !woken {
                    continue;
                }
                let _span = tracing::trace_span!("knocker.checkpoint").entered();
                if let Err(e) = checkpoint(&inner, &path, settings) {
                    tracing::debug!("background checkpoint: {e}");
                }
            }
        })
        .ok()?;
    let _ = inner.wal_progress.thread.set(handle.thread().clone());
    Some(handle)
}

/// A PASSIVE pass; once the WAL is [`CHECKPOINT_CATCH_UP_FRAMES`] long, also a restart of it.
///
/// SQLite starts the WAL over only when a write transaction begins while every frame has been
/// copied, which under steady writes never happens by itself: each pass ends with the frames
/// committed during it still to copy. So once the log is long, further unpaused passes shrink
/// that remainder (each copies what arrived during the previous one) and the last pass runs with
/// this handle's writer held, so the writer's next transaction begins on a fully copied log and
/// restarts it. The pause is one short pass (measured: 2-5 ms here); worker connections may still
/// commit meanwhile and delay the restart to the next catch-up.
fn checkpoint(inner: &Inner, path: &str, settings: ConnSettings) -> Result<()> {
    let (log, copied) = pass(inner, path, settings)?;
    // A pass copies every frame committed before it began unless a reader's snapshot still
    // needs older pages: then a paused pass could not finish the copy either, and pausing
    // ingress would gain nothing.
    if log < CHECKPOINT_CATCH_UP_FRAMES || copied < log {
        return Ok(());
    }
    for _ in 0..4 {
        let (frames, checkpointed) = (inner.wal_progress.frames.load(Ordering::Relaxed), inner.wal_progress.checkpointed_log.load(Ordering::Relaxed));
        if frames < checkpointed {
            return Ok(()); // a commit has restarted the WAL meanwhile
        }
        if frames - checkpointed <= CATCH_UP_REMAINDER_FRAMES {
            break;
        }
        let (log, copied) = pass(inner, path, settings)?;
        if copied < log {
            return Ok(());
        }
    }
    let _pause = inner.writer_pause.pause();
    let _writer = inner.writer.lock().unwrap_or_else(|e| e.into_inner());
    pass(inner, path, settings)?;
    Ok(())
}

/// Frames left to copy below which the catch-up's last pass pauses the writer.
const CATCH_UP_REMAINDER_FRAMES: i64 = 512;

/// One PASSIVE checkpoint on the checkpointer's connection, (re)opened when missing (it is
/// closed with the others when another SQLite library replaced the WAL). Returns (frames in the
/// WAL, frames copied).
fn pass(inner: &Inner, path: &str, settings: ConnSettings) -> Result<(i64, i64)> {
    let mut conn = inner.checkpoint_conn.lock().unwrap_or_else(|e| e.into_inner());
    if conn.is_none() {
        *conn = Some(storage::open_connection(path, settings, None)?);
    }
    let (log, copied) = storage::checkpoint_passive(conn.as_ref().expect("opened above"))?;
    inner.wal_progress.checkpointed_log.store(log.max(0), Ordering::Relaxed);
    Ok((log, copied))
}


//! Handle and endpoint options, with their defaults as named, documented constants.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::provider::{ProviderOptions, Request, Secret};

/// Default `busy_timeout`: how long a connection waits for SQLite's write lock.
pub const BUSY_TIMEOUT_MS_DEFAULT: u32 = 5_000;
/// Default lease length. A handler running longer than this may be run again by another worker.
pub const VISIBILITY_TIMEOUT_S_DEFAULT: f64 = 60.0;
/// Default attempts per event cycle. With the default backoff, 20 attempts span at least 28 hours
/// (every delay at its jitter minimum), so a day-long outage of the app's downstream does not
/// dead-letter events.
pub const MAX_ATTEMPTS_DEFAULT: u32 = 20;
/// Delay before the second attempt, before jitter; it doubles per attempt.
pub const BACKOFF_BASE_S_DEFAULT: f64 = 15.0;
/// Cap on one delay, before jitter.
pub const BACKOFF_MAX_S_DEFAULT: f64 = 6.0 * 3600.0;
/// Events claimed per claim transaction.
pub const CLAIM_BATCH_DEFAULT: u32 = 16;
/// Handlers run per worker transaction (each in its own SAVEPOINT, one commit per batch).
/// 1 means one commit per event.
pub const HANDLER_BATCH_DEFAULT: u32 = 16;
/// A handler batch stops taking more events once it has run this long, bounding how long its
/// write lock can hold ingress back and how long a finished handler waits for its commit.
pub const HANDLER_BATCH_MAX_MS_DEFAULT: u64 = 5;
/// How often an idle worker checks for work written by other processes.
pub const IDLE_POLL_MS_DEFAULT: u64 = 100;
/// Largest body stored; bigger receipts are answered 413 and stored without their body.
pub const MAX_BODY_BYTES_DEFAULT: usize = 10 * 1024 * 1024;
/// Reader connections kept open per handle.
pub const MAX_READERS_DEFAULT: usize = 4;

/// Where "now" comes from. Injected so tests and vectors are deterministic.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// `synchronous` pragma choice. NORMAL (default) survives application crashes; FULL also
/// survives power loss and OS crashes, at one fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    #[default]
    Normal,
    Full,
}

impl Synchronous {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            other => Err(Error::invalid(format!("synchronous must be \"normal\" or \"full\", got {other:?}"))),
        }
    }
}

/// Retry schedule: the delay after attempt n lies in [0.5, 1.0] × min(max, base × 2^(n-1)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff_base_s: f64,
    pub backoff_max_s: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: MAX_ATTEMPTS_DEFAULT,
            backoff_base_s: BACKOFF_BASE_S_DEFAULT,
            backoff_max_s: BACKOFF_MAX_S_DEFAULT,
        }
    }
}

impl RetryPolicy {
    /// The un-jittered delay after attempt `n` (1-based), in seconds.
    pub fn ceiling_s(&self, attempt: u32) -> f64 {
        let exp = attempt.saturating_sub(1).min(62) as i32;
        (self.backoff_base_s * 2f64.powi(exp)).min(self.backoff_max_s)
    }

    /// The jittered delay after attempt `n`, given a jitter draw in [0, 1).
    pub fn delay_s(&self, attempt: u32, jitter01: f64) -> f64 {
        self.ceiling_s(attempt) * (0.5 + 0.5 * jitter01.clamp(0.0, 1.0))
    }

    pub fn validate(&self) -> Result<()> {
        if self.max_attempts < 1 {
            return Err(Error::invalid("max_attempts must be at least 1"));
        }
        if !(self.backoff_base_s >= 0.0 && self.backoff_base_s.is_finite()) {
            return Err(Error::invalid("backoff_base_s must be a finite number >= 0"));
        }
        if !(self.backoff_max_s >= self.backoff_base_s && self.backoff_max_s.is_finite()) {
            return Err(Error::invalid("backoff_max_s must be finite and >= backoff_base_s"));
        }
        Ok(())
    }
}

/// Options of a handle (`Knocker::open`).
#[derive(Clone)]
pub struct Options {
    pub busy_timeout_ms: u32,
    pub synchronous: Synchronous,
    pub visibility_timeout_s: f64,
    /// Defaults for endpoints that do not set their own.
    pub retry: RetryPolicy,
    pub claim_batch: u32,
    /// Handlers per worker transaction (1: one commit per event).
    pub handler_batch: u32,
    /// Time after which a handler batch stops taking more events.
    pub handler_batch_max_ms: u64,
    pub max_readers: usize,
    pub max_body_bytes: usize,
    pub idle_poll_ms: u64,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .field("synchronous", &self.synchronous)
            .field("visibility_timeout_s", &self.visibility_timeout_s)
            .field("retry", &self.retry)
            .field("claim_batch", &self.claim_batch)
            .field("handler_batch", &self.handler_batch)
            .field("handler_batch_max_ms", &self.handler_batch_max_ms)
            .field("max_readers", &self.max_readers)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("idle_poll_ms", &self.idle_poll_ms)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            busy_timeout_ms: BUSY_TIMEOUT_MS_DEFAULT,
            synchronous: Synchronous::Normal,
            visibility_timeout_s: VISIBILITY_TIMEOUT_S_DEFAULT,
            retry: RetryPolicy::default(),
            claim_batch: CLAIM_BATCH_DEFAULT,
            handler_batch: HANDLER_BATCH_DEFAULT,
            handler_batch_max_ms: HANDLER_BATCH_MAX_MS_DEFAULT,
            max_readers: MAX_READERS_DEFAULT,
            max_body_bytes: MAX_BODY_BYTES_DEFAULT,
            idle_poll_ms: IDLE_POLL_MS_DEFAULT,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Options {
    pub fn validate(&self) -> Result<()> {
        self.retry.validate()?;
        if !(self.visibility_timeout_s > 0.0 && self.visibility_timeout_s.is_finite()) {
            return Err(Error::invalid("visibility_timeout_s must be a finite number > 0"));
        }
        if self.claim_batch == 0 || self.claim_batch > 1000 {
            return Err(Error::invalid("claim_batch must be between 1 and 1000"));
        }
        if self.handler_batch == 0 || self.handler_batch > 1000 {
            return Err(Error::invalid("handler_batch must be between 1 and 1000 (1: one commit per event)"));
        }
        if self.max_readers == 0 {
            return Err(Error::invalid("max_readers must be at least 1"));
        }
        if self.max_body_bytes == 0 {
            return Err(Error::invalid("max_body_bytes must be at least 1"));
        }
        Ok(())
    }
}

/// A function from the request to an id (dedupe key, event id, delivery id or event type).
pub type KeyFn = Arc<dyn Fn(&Request<'_>) -> Option<String> + Send + Sync>;

/// An endpoint: what is persisted (name, path, provider, enabled, whether verification is
/// required, limits and retry policy) and what lives only in this handle (secrets, provider
/// options, key functions).
#[derive(Clone, Default)]
pub struct EndpointConfig {
    pub name: String,
    pub path: String,
    /// A curated provider name or one registered on the handle.
    pub provider: Option<String>,
    pub secrets: Vec<Secret>,
    pub provider_options: ProviderOptions,
    pub enabled: bool,
    /// Defaults to whether a provider is set. When true, a handle without secrets for this
    /// endpoint refuses to receive on it (fail closed).
    pub verification_required: Option<bool>,
    pub max_body_bytes: Option<usize>,
    pub retry: Option<RetryPolicy>,
    /// Dedupe on sha256(body) when no other key exists.
    pub body_hash_dedupe: bool,
    pub dedupe_key: Option<KeyFn>,
    pub event_key: Option<KeyFn>,
    pub delivery_key: Option<KeyFn>,
    pub event_type_key: Option<KeyFn>,
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("provider", &self.provider)
            .field("secrets", &format_args!("<{} redacted>", self.secrets.len()))
            .field("provider_options", &self.provider_options)
            .field("enabled", &self.enabled)
            .field("verification_required", &self.verification_required)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("retry", &self.retry)
            .field("body_hash_dedupe", &self.body_hash_dedupe)
            .finish_non_exhaustive()
    }
}

impl EndpointConfig {
    /// An enabled endpoint with no provider (receipts are stored as not verified).
    pub fn new(name: impl Into<String>, path: impl Into<String>) -> Self {
        EndpointConfig { name: name.into(), path: path.into(), enabled: true, ..Default::default() }
    }
    pub fn provider(mut self, name: impl Into<String>) -> Self {
        self.provider = Some(name.into());
        self
    }
    pub fn secret(mut self, s: impl Into<Secret>) -> Self {
        self.secrets.push(s.into());
        self
    }
    pub fn option(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.provider_options.insert(key.to_string(), value.into());
        self
    }
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = Some(n);
        self
    }
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = Some(r);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults must keep an event alive through at least 24 hours of failures, even when
    /// every jittered delay lands on its minimum.
    #[test]
    fn default_schedule_covers_a_day_of_outage() {
        let p = RetryPolicy::default();
        let min_total: f64 = (1..p.max_attempts).map(|n| p.delay_s(n, 0.0)).sum();
        assert!(min_total >= 24.0 * 3600.0, "min total {min_total}s");
        assert_eq!(p.ceiling_s(1), 15.0);
        assert_eq!(p.ceiling_s(2), 30.0);
        assert_eq!(p.ceiling_s(30), BACKOFF_MAX_S_DEFAULT);
        assert_eq!(p.delay_s(3, 0.0), 30.0);
        assert_eq!(p.delay_s(3, 1.0), 60.0);
    }
}

//! The one error type of knocker-core. Every variant has a stable `code()` that the bindings
//! expose (Python `KnockerError.code`, Node `err.code`, Rust `Error::code`).

/// Errors returned by knocker-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event, delivery or endpoint id that does not exist.
    #[error("unknown {kind} id: {id}")]
    NotFound { kind: &'static str, id: i64 },
    /// An operator action on an item whose status does not allow it.
    #[error("{kind} {id} with status {status} cannot be {action}; allowed from: {allowed}")]
    InvalidState { kind: &'static str, id: i64, status: String, action: &'static str, allowed: &'static str },
    /// An argument outside its documented range or shape.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A provider name that is neither curated nor registered on this handle.
    #[error("unknown provider: {0}; call provider_versions() for the curated list or register a custom provider first")]
    UnknownProvider(String),
    /// The stored endpoint requires verification but this handle has no secrets for it (fail closed).
    #[error("endpoint {0:?} requires signature verification but this handle has no secrets for it; call add_endpoint with its provider and secrets in this process before receiving")]
    VerificationNotConfigured(String),
    /// The file was written by a newer Knocker.
    #[error("database schema version {found} is newer than this Knocker supports ({supported}); upgrade the knocker package")]
    SchemaTooNew { found: i64, supported: i64 },
    /// `Knocker::open_existing` on a path where no file exists (it never creates one).
    #[error("no database file at {0:?} (opening an existing Knocker file never creates one)")]
    DatabaseMissing(String),
    /// The file has tables named like Knocker's but not Knocker's layout.
    #[error("not a Knocker database: {0}")]
    NotKnocker(String),
    /// SQLite stayed busy past busy_timeout.
    #[error("database is busy (locked by another connection past busy_timeout): {0}; retry, or raise busy_timeout_ms")]
    Busy(String),
    /// The handle was closed.
    #[error("this Knocker handle is closed")]
    Closed,
    /// Any other SQLite error.
    #[error("storage error: {0}")]
    Storage(rusqlite::Error),
    /// Another SQLite library in this process deleted or replaced the WAL file while this call
    /// committed: the commit may be lost, so it must not be acknowledged. Connections were
    /// reopened; retrying is safe.
    #[error("the SQLite WAL file was deleted by another SQLite library in this process (for example better-sqlite3 closing the same file); this commit may be lost, so answer 5xx and let the sender retry. Keep app SQL on Knocker's connection (handler tx, execute_batch) or in another file")]
    WalReplaced,
    /// The group commit that held this receipt failed; nothing of it was stored.
    #[error("storage error: the commit holding this receipt failed ({0}); nothing was stored, retry")]
    CommitFailed(String),
    /// A handler's lease was taken over by another worker; nothing it did was committed.
    #[error("lease lost for event {0}: another worker reclaimed it; its transition was not committed")]
    LeaseLost(i64),
}

impl Error {
    /// A stable, documented, snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::InvalidState { .. } => "invalid_state",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::UnknownProvider(_) => "unknown_provider",
            Error::VerificationNotConfigured(_) => "verification_not_configured",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::NotKnocker(_) => "not_knocker_database",
            Error::DatabaseMissing(_) => "database_missing",
            Error::Busy(_) => "busy",
            Error::Closed => "closed",
            Error::Storage(_) => "storage",
            Error::LeaseLost(_) => "lease_lost",
            Error::WalReplaced => "wal_replaced",
            Error::CommitFailed(_) => "storage",
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) {
                return Error::Busy(msg.clone().unwrap_or_else(|| f.to_string()));
            }
        }
        Error::Storage(e)
    }
}

/// Result alias for knocker-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

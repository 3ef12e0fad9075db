//! The WAL stays bounded under a writer that never pauses: the background checkpointer must
//! find a moment when every frame is copied, or SQLite can never restart the log from its start.
use knocker_core::*;

#[test]
fn the_wal_stays_bounded_under_continuous_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bounded.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    let body = vec![b'x'; 1024];
    let wal = format!("{path}-wal");
    let mut largest = 0u64;
    // ~13 one-KiB frames per receipt: 20k receipts would make a ~270 MiB log if it never
    // restarted.
    for i in 0..20_000 {
        let r = Receipt { dedupe_key: Some(format!("k{i}")), ..Receipt::new(&body) };
        k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
        if i % 500 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    assert!(largest < 64 << 20, "the WAL reached {} MiB", largest >> 20);
    assert_eq!(k.stats().unwrap().claimable, 20_000);
    k.close();
    assert!(!std::path::Path::new(&wal).exists(), "close checkpoints and removes the WAL");
}

/// Fewer commits than wake the checkpointer still reach the database file soon: a quiet spell
/// leaves a file that a copy without its WAL (a naive backup) holds whole.
#[test]
fn a_quiet_spell_is_checkpointed_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiet.sqlite").to_string_lossy().into_owned();
    let k = Knocker::open(&path).unwrap();
    k.add_endpoint(EndpointConfig::new("p", "/p")).unwrap();
    for i in 0..10 {
        let r = Receipt { dedupe_key: Some(format!("k{i}")), ..Receipt::new(b"{}") };
        k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(knocker_core::checkpoint::CHECKPOINT_IDLE_MS * 5);
    let in_main_file = loop {
        let copy_dir = tempfile::tempdir().unwrap();
        let copy = copy_dir.path().join("main-only.sqlite");
        std::fs::copy(&path, &copy).unwrap();
        let n: i64 = rusqlite::Connection::open(&copy)
            .and_then(|c| c.query_row("SELECT count(*) FROM knocker_events", [], |r| r.get(0)))
            .unwrap_or(-1);
        if n == 10 || std::time::Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(in_main_file, 10, "the database file alone should hold every receipt after a quiet spell");
}

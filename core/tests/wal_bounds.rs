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

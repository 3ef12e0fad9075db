//! Ingress: status codes, stored rows, dedupe precedence, fail closed, bad input.
mod common;
use common::*;
use knocker_core::*;

fn hmac_endpoint(f: &Fixture, name: &str) {
    f.k.add_endpoint(
        EndpointConfig::new(name, format!("/hooks/{name}"))
            .provider("generic-hmac")
            .secret("old-secret")
            .secret("new-secret")
            .option("header", "X-Sig")
            .option("id_header", "X-Delivery"),
    )
    .unwrap();
}

fn signed<'a>(body: &'a [u8], secret: &[u8], delivery: &str) -> Receipt<'a> {
    Receipt::new(body).header("X-Sig", format!("sha256={}", hmac_hex(secret, body))).header("X-Delivery", delivery)
}

#[test]
fn valid_receipt_stores_delivery_and_event_and_answers_204() {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    let r = f.k.receive("gh", &signed(b"{\"a\":1}", b"new-secret", "d-1")).unwrap();
    assert_eq!(r.status_code, 204);
    assert!(!r.duplicate);
    let d = f.k.get_delivery(r.delivery_id.unwrap()).unwrap();
    assert_eq!(d.signature_valid, Some(true));
    assert_eq!(d.secret_index, Some(1), "the second (rotated) secret verified");
    assert_eq!(d.status_code, 204);
    assert_eq!(d.dedupe_key.as_deref(), Some("d-1"));
    let e = f.k.get_event(r.event_id.unwrap()).unwrap();
    assert_eq!(e.status, Status::Received);
    assert_eq!(e.body, b"{\"a\":1}");
    assert_eq!(e.max_attempts, 3);
    assert_eq!(e.headers.get_ignore_case("x-delivery"), Some("d-1"));
}

#[test]
fn duplicate_links_to_existing_event_and_never_mutates_it() {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    let first = f.k.receive("gh", &signed(b"first", b"old-secret", "d-1")).unwrap();
    let second = f.k.receive("gh", &signed(b"second", b"old-secret", "d-1")).unwrap();
    assert_eq!(second.status_code, 204);
    assert!(second.duplicate);
    assert_eq!(second.event_id, first.event_id);
    assert_eq!(f.count("SELECT count(*) FROM knocker_events"), 1);
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 2);
    let e = f.k.get_event(first.event_id.unwrap()).unwrap();
    assert_eq!(e.body, b"first", "the event keeps the first valid delivery's payload");
}

#[test]
fn duplicate_into_dead_handled_or_ignored_event_enqueues_nothing() {
    let f = fixture();
    f.plain_endpoint("p");
    let a = f.ingest("p", b"x", Some("k1"));
    f.k.ignore(a.event_id.unwrap()).unwrap();
    let again = f.ingest("p", b"x", Some("k1"));
    assert!(again.duplicate);
    assert_eq!(f.k.get_event(a.event_id.unwrap()).unwrap().status, Status::Ignored);
    assert_eq!(f.k.stats().unwrap().claimable, 0);
}

#[test]
fn invalid_signature_is_an_orphan_with_reason_and_metadata() {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    let r = f.k.receive("gh", &signed(b"body", b"forged", "d-9")).unwrap();
    assert_eq!(r.status_code, 401);
    assert_eq!(r.event_id, None);
    assert_eq!(r.error_code.as_deref(), Some("signature_mismatch"));
    let d = f.k.get_delivery(r.delivery_id.unwrap()).unwrap();
    assert_eq!(d.signature_valid, Some(false));
    assert_eq!(d.event_id, None);
    assert_eq!(d.error_code.as_deref(), Some("signature_mismatch"));
    assert!(d.signature_error.unwrap().contains("does not match"));
    assert_eq!(d.provider_delivery_id.as_deref(), Some("d-9"), "metadata kept on orphans");
    assert_eq!(f.count("SELECT count(*) FROM knocker_events"), 0);
    // a missing header is a distinct code
    let r = f.k.receive("gh", &Receipt::new(b"body")).unwrap();
    assert_eq!((r.status_code, r.error_code.as_deref()), (401, Some("missing_signature")));
}

#[test]
fn oversize_body_is_413_stored_without_body() {
    let f = fixture();
    f.k.add_endpoint(EndpointConfig::new("small", "/s").max_body_bytes(8)).unwrap();
    let r = f.k.ingest("small", &Receipt::new(b"0123456789"), TrustedOutcome::valid()).unwrap();
    assert_eq!(r.status_code, 413);
    assert_eq!(r.event_id, None);
    let d = f.k.get_delivery(r.delivery_id.unwrap()).unwrap();
    assert_eq!(d.body, b"");
    assert_eq!(d.body_size, 10);
    assert_eq!(d.error_code.as_deref(), Some("body_too_large"));
    assert_eq!(d.status_code, 413);
}

#[test]
fn unknown_endpoint_is_404_and_stores_nothing() {
    let f = fixture();
    let r = f.k.receive("nope", &Receipt::new(b"x")).unwrap();
    assert_eq!((r.status_code, r.delivery_id, r.event_id), (404, None, None));
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 0);
}

#[test]
fn disabled_endpoint_is_404_with_a_delivery_and_no_event() {
    let f = fixture();
    f.k.add_endpoint(EndpointConfig::new("off", "/off").enabled(false)).unwrap();
    let r = f.k.ingest("off", &Receipt::new(b"x"), TrustedOutcome::valid()).unwrap();
    assert_eq!(r.status_code, 404);
    assert_eq!(r.event_id, None);
    let d = f.k.get_delivery(r.delivery_id.unwrap()).unwrap();
    assert_eq!(d.error_code.as_deref(), Some("endpoint_disabled"));
    assert_eq!(d.signature_error.as_deref(), Some("endpoint disabled"));
}

#[test]
fn verification_fails_closed_in_a_handle_without_secrets() {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    let other = f.reopen(); // a second process that never registered the secrets
    let forged = Receipt::new(b"forged").header("X-Sig", "sha256=00");
    let err = other.receive("gh", &forged).unwrap_err();
    assert_eq!(err.code(), "verification_not_configured");
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 0);
    assert_eq!(f.count("SELECT count(*) FROM knocker_events"), 0);
}

#[test]
fn endpoint_rows_never_hold_secrets() {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    let dump: String = f
        .raw()
        .query_row("SELECT group_concat(name || path || coalesce(provider,'')) FROM knocker_endpoints", [], |r| r.get(0))
        .unwrap();
    assert!(!dump.contains("secret"), "{dump}");
    let (vr, provider): (i64, String) =
        f.raw().query_row("SELECT verification_required, provider FROM knocker_endpoints", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((vr, provider.as_str()), (1, "generic-hmac"));
}

#[test]
fn dedupe_precedence_explicit_then_key_fn_then_idempotency_key() {
    let f = fixture();
    let mut cfg = EndpointConfig::new("p", "/p");
    cfg.dedupe_key = Some(std::sync::Arc::new(|r: &knocker_core::provider::Request<'_>| r.header("X-Key").map(str::to_string)));
    f.k.add_endpoint(cfg).unwrap();
    let mut r = Receipt::new(b"a").header("X-Key", "from-fn");
    r.provider_event_id = Some("evt-1".into());
    let a = f.k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    assert_eq!(f.k.get_event(a.event_id.unwrap()).unwrap().dedupe_key.as_deref(), Some("from-fn"));
    r.dedupe_key = Some("explicit".into());
    let b = f.k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    assert_eq!(f.k.get_event(b.event_id.unwrap()).unwrap().dedupe_key.as_deref(), Some("explicit"));
    // no key function value, no explicit key: the provider event id
    let r = Receipt { provider_event_id: Some("evt-2".into()), ..Receipt::new(b"c") };
    let c = f.k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
    assert_eq!(f.k.get_event(c.event_id.unwrap()).unwrap().dedupe_key.as_deref(), Some("evt-2"));
    // nothing at all: every receipt is new
    let d1 = f.k.ingest("p", &Receipt::new(b"same"), TrustedOutcome::valid()).unwrap();
    let d2 = f.k.ingest("p", &Receipt::new(b"same"), TrustedOutcome::valid()).unwrap();
    assert_ne!(d1.event_id, d2.event_id);
}

#[test]
fn body_hash_fallback_dedupes_identical_bodies_when_enabled() {
    let f = fixture();
    let mut cfg = EndpointConfig::new("h", "/h");
    cfg.body_hash_dedupe = true;
    f.k.add_endpoint(cfg).unwrap();
    let a = f.k.ingest("h", &Receipt::new(b"same"), TrustedOutcome::valid()).unwrap();
    let b = f.k.ingest("h", &Receipt::new(b"same"), TrustedOutcome::valid()).unwrap();
    assert!(b.duplicate);
    assert_eq!(a.event_id, b.event_id);
}

#[test]
fn dedupe_is_scoped_per_endpoint() {
    let f = fixture();
    f.plain_endpoint("a");
    f.plain_endpoint("b");
    let x = f.ingest("a", b"1", Some("k"));
    let y = f.ingest("b", b"1", Some("k"));
    assert!(!y.duplicate);
    assert_ne!(x.event_id, y.event_id);
}

#[test]
fn two_handles_on_one_file_dedupe_one_identity_into_one_event() {
    let f = fixture();
    f.plain_endpoint("p");
    let other = f.reopen();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let k = if i % 2 == 0 { f.k.clone() } else { other.clone() };
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let r = Receipt { dedupe_key: Some("same-id".into()), ..Receipt::new(b"payload") };
                    k.ingest("p", &r, TrustedOutcome::valid()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(f.count("SELECT count(*) FROM knocker_events"), 1);
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 160);
}

#[test]
fn ingest_outcomes_none_false_and_missing_error() {
    let f = fixture();
    f.plain_endpoint("p");
    let none = f.k.ingest("p", &Receipt::new(b"x"), TrustedOutcome::default()).unwrap();
    assert_eq!(none.status_code, 204);
    assert_eq!(f.k.get_delivery(none.delivery_id.unwrap()).unwrap().signature_valid, None);
    let bad = TrustedOutcome { signature_valid: Some(false), signature_error: Some("checked upstream".into()) };
    let r = f.k.ingest("p", &Receipt::new(b"x"), bad).unwrap();
    assert_eq!((r.status_code, r.event_id), (401, None));
    let err = f.k.ingest("p", &Receipt::new(b"x"), TrustedOutcome { signature_valid: Some(false), signature_error: None }).unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
}

#[test]
fn odd_bodies_and_headers_are_stored_exactly() {
    let f = fixture();
    f.plain_endpoint("p");
    let invalid_utf8 = [0xff, 0xfe, 0x00, 0x80];
    let r = f.k.ingest("p", &Receipt::new(&invalid_utf8), TrustedOutcome::valid()).unwrap();
    assert_eq!(f.k.get_event(r.event_id.unwrap()).unwrap().body, invalid_utf8);
    let r = f.k.ingest("p", &Receipt::new(b""), TrustedOutcome::valid()).unwrap();
    assert_eq!(f.k.get_event(r.event_id.unwrap()).unwrap().body, b"");
    let huge = "v".repeat(1 << 20);
    let r = f.k.ingest("p", &Receipt::new(b"x").header("X-Huge", huge.clone()), TrustedOutcome::valid()).unwrap();
    assert_eq!(f.k.get_delivery(r.delivery_id.unwrap()).unwrap().headers.get("X-Huge"), Some(huge.as_str()));
}

#[test]
fn add_endpoint_validation_errors() {
    let f = fixture();
    let e = f.k.add_endpoint(EndpointConfig::new("x", "/x").provider("no-such")).unwrap_err();
    assert_eq!(e.code(), "unknown_provider");
    let e = f.k.add_endpoint(EndpointConfig::new("x", "/x").provider("generic-hmac")).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    assert!(e.to_string().contains("secrets"));
    let e = f.k.add_endpoint(EndpointConfig::new("x", "/x").provider("generic-hmac").secret("s").option("bogus", 1)).unwrap_err();
    assert!(e.to_string().contains("bogus"), "{e}");
    f.plain_endpoint("a");
    let e = f.k.add_endpoint(EndpointConfig::new("b", "/hooks/a")).unwrap_err();
    assert!(e.to_string().contains("already used"), "{e}");
    let e = f.k.add_endpoint(EndpointConfig::new("", "/e")).unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
}

#[test]
fn re_adding_without_secrets_keeps_this_handles_secrets() {
    let f = fixture();
    hmac_endpoint(&f, "gh");
    let mut cfg = EndpointConfig::new("gh", "/moved").provider("generic-hmac");
    cfg.enabled = true;
    f.k.add_endpoint(cfg).unwrap();
    let r = f.k.receive("gh", &signed(b"b", b"old-secret", "d")).unwrap();
    assert_eq!(r.status_code, 204);
}

#[test]
fn a_panicking_custom_provider_yields_an_invalid_delivery() {
    use knocker_core::provider::*;
    struct Boom;
    impl Provider for Boom {
        fn name(&self) -> &str { "boom" }
        fn version(&self) -> &str { "1.0.0" }
        fn verify(&self, _: &Request<'_>, _: &VerifyContext<'_>) -> Verification { panic!("kaput") }
    }
    let f = fixture();
    f.k.register_provider(std::sync::Arc::new(Boom)).unwrap();
    f.k.add_endpoint(EndpointConfig::new("b", "/b").provider("boom").secret("s")).unwrap();
    let r = f.k.receive("b", &Receipt::new(b"x")).unwrap();
    assert_eq!((r.status_code, r.error_code.as_deref()), (401, Some("provider_error")));
    let d = f.k.get_delivery(r.delivery_id.unwrap()).unwrap();
    assert_eq!(d.signature_error.as_deref(), Some("provider error: kaput"));
}

#[test]
fn custom_providers_cannot_shadow_curated_names() {
    use knocker_core::provider::*;
    struct Fake;
    impl Provider for Fake {
        fn name(&self) -> &str { "generic-hmac" }
        fn version(&self) -> &str { "1.0.0" }
        fn verify(&self, _: &Request<'_>, _: &VerifyContext<'_>) -> Verification { unreachable!() }
    }
    let f = fixture();
    assert_eq!(f.k.register_provider(std::sync::Arc::new(Fake)).unwrap_err().code(), "invalid_argument");
}

#[test]
fn deliveries_are_append_only() {
    let f = fixture();
    f.plain_endpoint("p");
    f.ingest("p", b"x", None);
    let c = f.raw();
    let e = c.execute("UPDATE knocker_deliveries SET body_blob = x'00'", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM knocker_deliveries", []).unwrap_err();
    assert!(e.to_string().contains("pruning") || e.to_string().contains("prune"), "{e}");
    assert_eq!(f.count("SELECT count(*) FROM knocker_deliveries"), 1);
}

#[test]
fn closed_handle_errors() {
    let f = fixture();
    f.plain_endpoint("p");
    f.k.close();
    assert_eq!(f.k.ingest("p", &Receipt::new(b"x"), TrustedOutcome::valid()).unwrap_err().code(), "closed");
    assert_eq!(f.k.get_event(1).unwrap_err().code(), "closed");
}

#[test]
fn an_endpoint_changed_by_another_handle_or_this_one_applies_to_the_next_receipt() {
    let f = fixture();
    f.plain_endpoint("p");
    // Warm this handle's endpoint cache.
    assert_eq!(f.ingest("p", b"1", Some("k1")).status_code, 204);
    // Another process disables it: the next receipt here must see that, not the cached row.
    let other = f.reopen();
    other.add_endpoint(EndpointConfig::new("p", "/p").enabled(false)).unwrap();
    let r = f.ingest("p", b"2", Some("k2"));
    assert_eq!((r.status_code, r.event_id, r.error_code.as_deref()), (404, None, Some("endpoint_disabled")));
    // Enabled again through this handle: its own commit must refresh its cache too.
    f.k.add_endpoint(EndpointConfig::new("p", "/p").max_body_bytes(4)).unwrap();
    assert_eq!(f.ingest("p", b"3", Some("k3")).status_code, 204);
    let r = f.ingest("p", b"too long", Some("k4"));
    assert_eq!(r.status_code, 413);
    // A raw write by another library (no Knocker handle) is seen as well.
    f.raw().execute("UPDATE knocker_endpoints SET enabled = 0 WHERE name = 'p'", []).unwrap();
    assert_eq!(f.ingest("p", b"5", Some("k5")).status_code, 404);
}

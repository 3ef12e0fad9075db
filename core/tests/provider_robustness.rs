//! Property tests: every signature-header parser and every curated provider's `verify` must
//! never panic on arbitrary input, and must never accept a request without the secret.

use knocker_core::provider::{Pairs, ProviderOptions, Request, Secret, VerifyContext};
use knocker_core::providers::{self, util};
use proptest::prelude::*;

const HEADER_NAMES: &[&str] = &[
    "Stripe-Signature", "X-Hub-Signature-256", "X-Hub-Signature", "X-GitHub-Delivery", "X-GitHub-Event",
    "X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id", "X-Slack-Signature",
    "X-Slack-Request-Timestamp", "webhook-id", "webhook-timestamp", "webhook-signature", "svix-id",
    "svix-timestamp", "svix-signature", "Paddle-Signature", "X-Signature", "Authorization",
    "X-Twilio-Signature", "X-Twilio-Webhooks-Signature-Settings", "Content-Type",
    "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp", "Linear-Signature",
    "Linear-Delivery", "X-Signature-Ed25519", "X-Signature-Timestamp", "X-Zendesk-Webhook-Signature",
    "X-Zendesk-Webhook-Signature-Timestamp", "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp",
    "X-Gitlab-Token", "X-Request-UUID", "x-square-hmacsha256-signature", "Typeform-Signature",
    "x-vercel-signature", "x-zm-signature", "x-zm-request-timestamp", "X-PagerDuty-Signature",
    "WorkOS-Signature", "Sentry-Hook-Signature", "Calendly-Webhook-Signature",
    "Twitch-Eventsub-Message-Signature", "Twitch-Eventsub-Message-Id", "Twitch-Eventsub-Message-Timestamp",
    "Twitch-Eventsub-Message-Type", "X-Telegram-Bot-Api-Secret-Token", "Mux-Signature",
    "X-CC-Webhook-Signature", "X-Webhook-Token", "X-Timestamp", "I-Twilio-Idempotency-Token",
];

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,100}",
        "t=[0-9]{0,14},v1=[0-9a-f]{0,64}",
        "ts=[0-9]{0,12};h1=[0-9a-f]{0,64}",
        "(v1,[A-Za-z0-9+/=]{0,44} ?){0,3}",
        "(sha256|sha1|v0|v1)=[0-9a-fA-F]{0,64}",
        "[A-Za-z0-9+/=]{0,96}",
        "[0-9]{0,19}",
        "-?[0-9]{1,20}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "(Basic|Bearer|basic) [ -~]{0,40}",
        "\\PC{0,40}",
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (prop_oneof![prop::sample::select(HEADER_NAMES).prop_map(str::to_string), "[A-Za-z-]{1,20}"], header_value()),
        0..12,
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        "\\{\"(id|type|event_id|webhookTimestamp|signature|update_id|event)\":(\"[ -~]{0,20}\"|[0-9]{1,16}|\\{\\}|\\[\\]|null)\\}".prop_map(String::into_bytes),
        "\\[\\{\"eventId\":[0-9]{1,5},\"sg_event_id\":\"[a-z]{0,5}\"\\}\\]".prop_map(String::into_bytes),
        "([A-Za-z%+]{1,8}=[A-Za-z0-9%+]{0,8}&?){0,6}".prop_map(String::into_bytes),
    ]
}

fn secrets() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof!["[ -~]{1,40}", "whsec_[A-Za-z0-9+/]{4,44}", "[0-9a-f]{64}", "[A-Za-z0-9+/=]{20,120}"],
        0..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn providers_never_panic_and_never_accept_without_the_secret(
        hs in headers(),
        body in body(),
        secrets in secrets(),
        method in prop_oneof![Just("POST".to_string()), Just("GET".to_string()), "[A-Za-z]{0,7}"],
        url in prop::option::of(prop_oneof!["https?://[a-z.]{1,12}(:[0-9]{0,6})?/[ -~]{0,30}", "[ -~]{0,40}"]),
        now in prop_oneof![Just(1_700_000_000i64), any::<i64>()],
        tolerance in prop::option::of(0i64..1_000_000),
    ) {
        let headers: Pairs = hs.into_iter().collect();
        let query = Pairs::new();
        let secrets: Vec<Secret> = secrets.into_iter().map(Secret::from).collect();
        let mut options = ProviderOptions::new();
        if let Some(t) = tolerance {
            options.insert("tolerance_s".into(), t.into());
        }
        for p in providers::curated() {
            let opts = if p.options().iter().any(|s| s.key == "tolerance_s") { options.clone() } else { ProviderOptions::new() };
            let req = Request { method: &method, url: url.as_deref(), headers: &headers, query: &query, body: &body };
            let ctx = VerifyContext { secrets: &secrets, options: &opts, now_s: now };
            let v = p.verify(&req, &ctx);
            prop_assert!(!v.is_valid(), "{} accepted a random request: {:?}", p.name(), v);
            prop_assert!(v.handshake.is_none(), "{} answered a handshake for an invalid request", p.name());
        }
    }

    #[test]
    fn header_parsers_never_panic(s in "\\PC{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = util::kv_list(&s, ',');
        let _ = util::kv_list(&s, ';');
        let _ = util::rfc3339_to_unix(&s);
        let _ = util::parse_int_timestamp(&s, "t");
        let _ = util::decode_whsec(&bytes);
        let _ = util::decode_whsec(s.as_bytes());
        let _ = util::form_decode(&s);
        let _ = util::strip_any_prefix(&s, &["sha256=", "v0="]);
        let _ = providers::twilio::url_variants(&s);
        let _ = providers::sendgrid::parse_public_key(&bytes);
        let _ = providers::sendgrid::parse_public_key(s.as_bytes());
        let _ = providers::discord::parse_public_key(s.as_bytes());
        for enc in [util::Encoding::Hex, util::Encoding::Base64] {
            let _ = enc.decode(&s);
        }
    }

    #[test]
    fn rfc3339_round_trips(secs in 0i64..253_402_300_799, offset_min in -1439i64..1439) {
        // Format `secs` as local time at `offset_min`, then parse it back.
        let local = secs + offset_min * 60;
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        // Civil from days (inverse of the parser's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
        prop_assume!((0..=9999).contains(&y));
        let sign = if offset_min < 0 { '-' } else { '+' };
        let text = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.5{sign}{:02}:{:02}",
            rem / 3600, rem % 3600 / 60, rem % 60, offset_min.abs() / 60, offset_min.abs() % 60
        );
        prop_assert_eq!(util::rfc3339_to_unix(&text), Some(secs), "{}", text);
    }
}

#[test]
fn rfc3339_known_values() {
    assert_eq!(util::rfc3339_to_unix("2023-11-14T22:13:20Z"), Some(1_700_000_000));
    assert_eq!(util::rfc3339_to_unix("2023-11-15T00:13:20+02:00"), Some(1_700_000_000));
    assert_eq!(util::rfc3339_to_unix("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(util::rfc3339_to_unix("2024-02-29T00:00:00.123456789Z"), Some(1_709_164_800));
    assert_eq!(util::rfc3339_to_unix("2023-02-29T00:00:00Z"), None);
    assert_eq!(util::rfc3339_to_unix("1700000000"), None);
    assert_eq!(util::rfc3339_to_unix("2023-11-14T22:13:20"), None);
}

#[test]
fn every_provider_info_is_complete() {
    for p in providers::curated() {
        let i = p.info();
        assert!(!i.algorithm.is_empty(), "{} algorithm", p.name());
        assert!(!i.doc.is_empty(), "{} doc", p.name());
        assert!(i.doc_url.starts_with("https://"), "{} doc_url", p.name());
        assert!(!i.idempotency_key.is_empty(), "{} idempotency_key", p.name());
        assert_eq!(i.name, p.name());
        assert_eq!(i.version, p.version());
        assert!(p.validate_options(&ProviderOptions::new()).is_ok());
        let mut bad = ProviderOptions::new();
        bad.insert("no_such_option".into(), true.into());
        assert!(p.validate_options(&bad).is_err(), "{} accepts unknown options", p.name());
    }
}

#[test]
fn required_providers_are_curated() {
    for name in [
        "stripe", "github", "shopify", "slack", "standard-webhooks", "svix", "clerk", "resend", "paddle",
        "lemon-squeezy", "postmark", "twilio", "sendgrid", "linear", "meta", "discord", "zendesk", "intercom",
        "hubspot", "bearer-token", "basic-auth", "gitlab", "bitbucket", "mailgun", "square", "typeform",
        "vercel", "zoom", "pagerduty", "workos", "sentry", "calendly", "twitch", "telegram", "mux",
        "coinbase-commerce", "generic-hmac", "token-header",
    ] {
        assert!(providers::find(name).is_some(), "{name} missing from curated()");
    }
}

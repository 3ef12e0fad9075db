//! The curated provider catalogue. Each provider is a small module with a name, a SemVer
//! version, validated options and a doc paragraph; every binding uses these same modules.

use std::sync::Arc;

use crate::provider::Provider;


/// Declares a curated provider: a unit struct whose `Provider` impl delegates `verify` to the
/// module's `verify` function and fills `info()` completely.
macro_rules! curated_provider {
    ($ty:ident {
        name: $name:expr,
        version: $version:expr,
        algorithm: $alg:expr,
        idempotency_key: $idem:expr,
        doc: $doc:expr,
        doc_url: $url:expr,
        options: $opts:expr $(,)?
    }) => {
        pub struct $ty;
        impl $crate::provider::Provider for $ty {
            fn name(&self) -> &str {
                $name
            }
            fn version(&self) -> &str {
                $version
            }
            fn options(&self) -> Vec<$crate::provider::OptionSpec> {
                $opts
            }
            fn info(&self) -> $crate::provider::ProviderInfo {
                $crate::provider::ProviderInfo {
                    name: $name.into(),
                    version: $version.into(),
                    algorithm: $alg.into(),
                    options: self.options(),
                    idempotency_key: $idem.into(),
                    doc: $doc.into(),
                    doc_url: $url.into(),
                }
            }
            fn verify(
                &self,
                req: &$crate::provider::Request<'_>,
                ctx: &$crate::provider::VerifyContext<'_>,
            ) -> $crate::provider::Verification {
                verify(req, ctx)
            }
        }
    };
}

pub mod generic_hmac;
pub mod basic_auth;
pub mod bearer_token;
pub mod bitbucket;
pub mod calendly;
pub mod clerk;
pub mod coinbase_commerce;
pub mod discord;
pub mod github;
pub mod gitlab;
pub mod hubspot;
pub mod intercom;
pub mod lemon_squeezy;
pub mod linear;
pub mod mailgun;
pub mod meta;
pub mod mux;
pub mod pagerduty;
pub mod paddle;
pub mod postmark;
pub mod resend;
pub mod sendgrid;
pub mod sentry;
pub mod shopify;
pub mod slack;
pub mod square;
pub mod standard_webhooks;
pub mod stripe;
pub mod svix;
pub mod telegram;
pub mod twilio;
pub mod twitch;
pub mod typeform;
pub mod vercel;
pub mod workos;
pub mod zendesk;
pub mod zoom;
pub mod token_header;
pub mod util;

/// Every curated provider, in catalogue order.
pub fn curated() -> Vec<Arc<dyn Provider>> {
    vec![
        Arc::new(generic_hmac::GenericHmac),
        Arc::new(token_header::TokenHeader),
        Arc::new(stripe::Stripe),
        Arc::new(github::Github),
        Arc::new(shopify::Shopify),
        Arc::new(slack::Slack),
        Arc::new(standard_webhooks::StandardWebhooks),
        Arc::new(svix::Svix),
        Arc::new(clerk::Clerk),
        Arc::new(resend::Resend),
        Arc::new(paddle::Paddle),
        Arc::new(lemon_squeezy::LemonSqueezy),
        Arc::new(postmark::Postmark),
        Arc::new(twilio::Twilio),
        Arc::new(sendgrid::Sendgrid),
        Arc::new(linear::Linear),
        Arc::new(meta::Meta),
        Arc::new(discord::Discord),
        Arc::new(zendesk::Zendesk),
        Arc::new(intercom::Intercom),
        Arc::new(hubspot::Hubspot),
        Arc::new(bearer_token::BearerToken),
        Arc::new(basic_auth::BasicAuth),
        Arc::new(gitlab::Gitlab),
        Arc::new(bitbucket::Bitbucket),
        Arc::new(mailgun::Mailgun),
        Arc::new(square::Square),
        Arc::new(typeform::Typeform),
        Arc::new(vercel::Vercel),
        Arc::new(zoom::Zoom),
        Arc::new(pagerduty::Pagerduty),
        Arc::new(workos::Workos),
        Arc::new(sentry::Sentry),
        Arc::new(calendly::Calendly),
        Arc::new(twitch::Twitch),
        Arc::new(telegram::Telegram),
        Arc::new(mux::Mux),
        Arc::new(coinbase_commerce::CoinbaseCommerce),
    ]
}

/// Looks a curated provider up by name (case-insensitive; names are lower-case).
pub fn find(name: &str) -> Option<Arc<dyn Provider>> {
    let name = name.to_ascii_lowercase();
    curated().into_iter().find(|p| p.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_versions_are_semver() {
        let all = curated();
        let mut names: Vec<&str> = all.iter().map(|p| p.name()).collect();
        for p in &all {
            assert_eq!(p.name(), p.name().to_ascii_lowercase());
            let parts: Vec<&str> = p.version().split('.').collect();
            assert_eq!(parts.len(), 3, "{} version {}", p.name(), p.version());
            assert!(parts.iter().all(|x| x.parse::<u32>().is_ok()), "{}", p.version());
            let info = p.info();
            assert!(!info.doc.is_empty() && !info.algorithm.is_empty(), "{} needs doc+algorithm", p.name());
        }
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}

//! The curated provider catalogue. Each provider is a small module with a name, a SemVer
//! version, validated options and a doc paragraph; every binding uses these same modules.

use std::sync::Arc;

use crate::provider::Provider;

pub mod generic_hmac;
pub mod token_header;
pub mod util;

/// Every curated provider, in catalogue order.
pub fn curated() -> Vec<Arc<dyn Provider>> {
    vec![
        Arc::new(generic_hmac::GenericHmac),
        Arc::new(token_header::TokenHeader),
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

//! Placeholder until the dev-issuer crate lands.

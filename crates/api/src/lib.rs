//! Placeholder until the api crate lands.

//! Placeholder until the spa-server crate lands.

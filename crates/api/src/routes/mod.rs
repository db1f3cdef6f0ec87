//! The HTTP handlers, one file per concern. Handlers are thin: authentication and scope checks
//! happen in extractors and middleware (`crate::authentication`), failures are `ApiError`s.

mod health;
mod messages;
mod metrics;

pub use health::{healthz, readyz};
pub use messages::{
    EXTERNAL_BODY, PRIVATE_SCOPED_BODY, PUBLIC_BODY, external, private_scoped, public,
};
pub use metrics::metrics;

//! The wall clock, read in one place.
//!
//! Token and proof times (`exp`, `nbf`, `iat`) are NumericDates, seconds since the epoch on the
//! wall clock, so they are compared with [`now_secs`]. Its own module because the verifier, the
//! token cache's expiry sweep and the DPoP proof checks all read it, and none of them should
//! import another for it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, with the fraction (a clock set before 1970 reads 0).
///
/// `#[inline]`: a cache hit reads it, and from another module it would otherwise be a call
/// into another codegen unit on every request.
#[inline]
pub(crate) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

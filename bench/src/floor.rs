//! The floor of the scenarios that verify a signature per request, measured in the same run:
//! one ES256 and one RS256 (2048-bit) verification with aws-lc-rs, the library our API uses,
//! in a tight single-thread loop, timed in that thread's CPU time. A request of (e) or (d)
//! cannot cost less than its signature plus what a cached-Bearer request (a) costs; the targets
//! compare each with that sum.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RsaKeyPair, UnparsedPublicKey,
};
use serde::Serialize;

/// How long each loop runs (after a warm-up of a tenth of it).
const LOOP: Duration = Duration::from_millis(500);

/// Microseconds per verification, single thread.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Floor {
    /// One ES256 verification (a DPoP proof's signature).
    pub es256_us: f64,
    /// One RS256 verification with a 2048-bit key (an access token's signature).
    pub rs256_us: f64,
}

/// Measures both; `None` if a key could not be made (then the floor targets say so).
pub fn measure() -> Option<Floor> {
    let message = [0x5au8; 700];
    let rng = SystemRandom::new();
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).ok()?;
    let ec_signature = ec.sign(&rng, &message).ok()?;
    let ec_public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec.public_key().as_ref());
    let es256_us = per_call(|| ec_public.verify(&message, ec_signature.as_ref()).is_ok())?;

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).ok()?;
    let mut rsa_signature = vec![0u8; rsa.public_modulus_len()];
    rsa.sign(
        &signature::RSA_PKCS1_SHA256,
        &rng,
        &message,
        &mut rsa_signature,
    )
    .ok()?;
    let rsa_public = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        rsa.public_key().as_ref(),
    );
    let rs256_us = per_call(|| rsa_public.verify(&message, &rsa_signature).is_ok())?;
    Some(Floor { es256_us, rs256_us })
}

/// Microseconds of this thread's CPU time per call of `verify` over [`LOOP`] (wall time where
/// the kernel does not tell a thread's CPU time); `None` if a verification failed.
///
/// CPU time, not wall time: on a machine where something else runs, a wall clock would count
/// the time the thread waited for a core, and the floor would rise with the noise.
fn per_call(mut verify: impl FnMut() -> bool) -> Option<f64> {
    let warm_up = Instant::now();
    while warm_up.elapsed() < LOOP / 10 {
        if !verify() {
            return None;
        }
    }
    let start = Instant::now();
    let cpu_start = thread_cpu_ns();
    let mut calls = 0u64;
    while start.elapsed() < LOOP {
        for _ in 0..16 {
            if !std::hint::black_box(verify()) {
                return None;
            }
        }
        calls += 16;
    }
    let wall_us = start.elapsed().as_secs_f64() * 1e6;
    let us = match (cpu_start, thread_cpu_ns()) {
        (Some(from), Some(to)) if to > from => (to - from) as f64 / 1e3,
        _ => wall_us,
    };
    Some(us / calls as f64)
}

/// The CPU time this thread has run, in nanoseconds (the first field of
/// `/proc/thread-self/schedstat`), if the kernel tells.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_verifications_are_measured_in_microseconds() {
        let floor = measure().expect("aws-lc-rs makes both keys");
        assert!(
            floor.es256_us > 0.0 && floor.es256_us < 10_000.0,
            "{floor:?}"
        );
        assert!(
            floor.rs256_us > 0.0 && floor.rs256_us < 10_000.0,
            "{floor:?}"
        );
    }

    #[test]
    fn this_threads_cpu_time_grows_with_work() {
        let before = thread_cpu_ns().expect("Linux tells a thread's CPU time");
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(thread_cpu_ns().expect("still") > before, "{x}");
    }

    #[test]
    fn a_verification_that_fails_gives_no_floor() {
        assert_eq!(per_call(|| false), None);
    }
}

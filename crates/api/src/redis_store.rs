//! The DPoP replay store shared by replicas: Redis.
//!
//! Each accepted proof is recorded with one atomic step, a Lua script (Redis runs a script
//! alone, nothing interleaves): if the proof's key exists it is a replay; otherwise, if the
//! proof key (`jkt`) already holds its bound of ids, only that client is refused; otherwise
//! `SET <proof key> 1 NX PX <ms until the proof's window ends>` records it and the id joins the
//! client's set. So a proof is accepted once across every replica, also when several receive it
//! at the same moment, and no key outlives the proof's acceptance window.
//!
//! Why a script and a sorted set for the per-key bound: a counter key (`INCR` with an expiry)
//! cannot forget ids one by one as their windows end, so a steady client would be refused once
//! its counter had lived long enough; a sorted set scored by expiry drops exactly the ids whose
//! window has ended (`ZREMRANGEBYSCORE`), its size is the number held, and its lowest score is
//! the honest `Retry-After`. Both keys carry the client's hash in braces, a Redis Cluster hash
//! tag, so they live on one node and the script stays valid there.
//!
//! Fail closed, never slow: every call is bounded by the configured timeout; an error, a
//! timeout or an unreachable server answer [`ReplayVerdict::Unavailable`] (the request gets
//! 503). The `redis` crate's `ConnectionManager` is created lazily (the API starts with Redis
//! down) and reconnects in the background, so DPoP works again without a restart once Redis is
//! back.
//!
//! One connection per thread: each actix-web worker is a single-threaded runtime, and a
//! connection's driver task runs on the runtime that first used it. With one connection for the
//! process, every other worker's command crossed threads twice (handed to the driver, the
//! answer handed back), two wake-ups of another thread per DPoP request. Each thread's own
//! connection keeps a command on the thread that asked; a replica holds one connection per
//! worker, plus the one its start-up check (`ping`, on the main thread) opened.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth::dpop::{ProofId, ReplayFuture, ReplayStore, ReplayVerdict};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use thread_local::ThreadLocal;

/// Prefix of every key the API writes.
pub const KEY_PREFIX: &str = "api:dpop:";

/// The check-and-record script. KEYS[1]: the proof; KEYS[2]: the client's held ids.
/// ARGV[1]: now (ms); ARGV[2]: the proof's expiry (ms since the epoch); ARGV[3]: its TTL (ms);
/// ARGV[4]: the per-key bound; ARGV[5]: the id's member name in the client's set.
/// Returns {1, 0} fresh, {0, 0} replay, {2, oldest expiry ms} client over its bound.
const CHECK_AND_RECORD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tonumber(oldest[2])}
end
redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {1, 0}
";

/// A [`ReplayStore`] in Redis, shared by every replica that names the same server.
pub struct RedisReplayStore {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// Each thread's connection, made on its first command.
    managers: ThreadLocal<ConnectionManager>,
    script: redis::Script,
    timeout: Duration,
    per_key: usize,
    /// The URL without its password, for logs.
    shown: String,
    /// Whether the last call failed: a failure is logged when it starts, not per request.
    failing: AtomicBool,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("url", &self.shown)
            .field("timeout", &self.timeout)
            .field("per_key", &self.per_key)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// A store on the server `url` names (`redis://[user:pass@]host:port[/db]`). Connects
    /// lazily, one connection per thread on its first command: an unreachable server is not an
    /// error here.
    pub fn new(url: &str, timeout: Duration, per_key: usize) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Few retries per attempt: a request never waits for them (the timeout answers it),
            // and the next request starts a new attempt.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        Ok(Self {
            client,
            config,
            managers: ThreadLocal::new(),
            script: redis::Script::new(CHECK_AND_RECORD),
            timeout,
            per_key: per_key.max(1),
            shown: shown_url(url),
            failing: AtomicBool::new(false),
        })
    }

    /// The URL with any password replaced by `***`, for log lines.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// This thread's connection (made lazily: no I/O here). Needs a Tokio runtime.
    fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.managers
            .get_or_try(|| {
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            })
            .cloned()
    }

    /// Sends `PING` within the timeout: whether the server answers now.
    pub async fn ping(&self) -> bool {
        let Ok(mut connection) = self.connection() else {
            return false;
        };
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        matches!(tokio::time::timeout(self.timeout, ping).await, Ok(Ok(_)))
    }

    async fn record(&self, id: ProofId, now_ms: u64, expires_at_ms: u64) -> ReplayVerdict {
        let client = hex(&id.key_bytes()[..16]);
        let proof_key = format!("{KEY_PREFIX}{{{client}}}:{}", hex(id.as_bytes()));
        let held_key = format!("{KEY_PREFIX}{{{client}}}:held");
        let ttl_ms = expires_at_ms.saturating_sub(now_ms).max(1);
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(&proof_key)
            .key(&held_key)
            .arg(now_ms)
            .arg(expires_at_ms)
            .arg(ttl_ms)
            .arg(self.per_key)
            .arg(hex(&id.as_bytes()[..16]));
        let answer = match self.connection() {
            Ok(mut connection) => {
                tokio::time::timeout(
                    self.timeout,
                    invocation.invoke_async::<(i64, i64)>(&mut connection),
                )
                .await
            }
            Err(err) => Ok(Err(err)),
        };
        let verdict = match answer {
            Ok(Ok((1, _))) => Ok(ReplayVerdict::Fresh),
            Ok(Ok((0, _))) => Ok(ReplayVerdict::Replayed),
            Ok(Ok((2, oldest))) => Ok(ReplayVerdict::KeyLimit {
                retry_after: Duration::from_millis(
                    u64::try_from(oldest)
                        .unwrap_or(0)
                        .saturating_sub(now_ms)
                        .max(1),
                ),
            }),
            Ok(Ok(other)) => Err(format!("unexpected answer {other:?}")),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        match verdict {
            Ok(verdict) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(store = %self.shown, "DPoP replay store answers again");
                }
                verdict
            }
            Err(problem) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        store = %self.shown,
                        "DPoP replay store unavailable ({problem}); DPoP requests get 503 until it answers again"
                    );
                }
                ReplayVerdict::Unavailable
            }
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_record(&self, id: ProofId, now_ms: u64, expires_at_ms: u64) -> ReplayFuture<'_> {
        Box::pin(self.record(id, now_ms, expires_at_ms))
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// `redis://user:secret@host:6379/0` → `redis://user:***@host:6379/0`.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_the_shown_url() {
        assert_eq!(
            shown_url("redis://user:s3cret@cache:6379/2"),
            "redis://user:***@cache:6379/2"
        );
        assert_eq!(
            shown_url("redis://:s3cret@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert_eq!(shown_url("redis://cache:6379"), "redis://cache:6379");
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}

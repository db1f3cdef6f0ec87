//! `/metrics` in the Prometheus text exposition format, from a handful of atomics.
//!
//! Hand-written because what we expose is tiny (one request counter table plus the verifier's
//! own [`auth::Stats`]) and a metrics framework would add a registry, locks or hashing to every
//! request. Recording a response is one relaxed atomic increment in a fixed table indexed by
//! route and status code, the worker thread's own table; the route label is the matched route
//! pattern, never the raw path, so the label set stays bounded whatever clients send.

use actix_web::http::StatusCode;
use auth::counters::PerThreadCounters;
use std::fmt::Write as _;

/// The routes with their own label; everything else is counted as `other`. `/metrics` is not
/// among them: it is served on its own listener, and the public port answers it 404 (`other`).
pub const ROUTES: [&str; 5] = [
    "/api/public",
    "/api/external",
    "/api/private-scoped",
    "/healthz",
    "/readyz",
];

const ROUTE_LABELS: usize = ROUTES.len() + 1;
const OTHER_ROUTE: usize = ROUTES.len();
const FIRST_STATUS: usize = 100;
const STATUS_CODES: usize = 500; // 100..=599

/// Request counters by route and status, a table per worker thread (`auth::counters`).
#[derive(Debug)]
pub struct Metrics {
    requests: PerThreadCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: PerThreadCounters::new(ROUTE_LABELS * STATUS_CODES),
        }
    }
}

impl Metrics {
    /// Counts one response for `route` (a matched pattern, `None` when no route matched).
    pub fn record(&self, route: Option<&str>, status: StatusCode) {
        let route = route
            .and_then(|r| ROUTES.iter().position(|known| *known == r))
            .unwrap_or(OTHER_ROUTE);
        let status = usize::from(status.as_u16())
            .saturating_sub(FIRST_STATUS)
            .min(STATUS_CODES - 1);
        self.requests.bump(route * STATUS_CODES + status);
    }

    /// The exposition text: our request counters followed by the verifier's statistics.
    pub fn render(&self, stats: &auth::Stats, ready: bool) -> String {
        let mut out = String::with_capacity(2048);
        // Writing to a String cannot fail; the results are ignored for that reason.
        out.push_str(
            "# HELP api_http_requests_total HTTP responses by route pattern and status code.\n",
        );
        out.push_str("# TYPE api_http_requests_total counter\n");
        for (index, count) in self.requests.totals().into_iter().enumerate() {
            if count == 0 {
                continue;
            }
            let route = ROUTES.get(index / STATUS_CODES).copied().unwrap_or("other");
            let status = index % STATUS_CODES + FIRST_STATUS;
            let _ = writeln!(
                out,
                "api_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }

        by_outcome(
            &mut out,
            "api_token_verifications_total",
            "Access-token verifications by outcome.",
            &stats.verifications,
        );

        counter(
            &mut out,
            "api_token_cache_hits_total",
            "Verifications answered by the verified-token cache.",
            stats.token_cache_hits,
        );

        // One series per configured issuer: the list is fixed at start-up, so the label set
        // is bounded by the configuration, never by what tokens claim.
        per_issuer(
            &mut out,
            "api_jwks_fetches_total",
            "counter",
            "Discovery and JWKS fetch attempts, by issuer.",
            stats,
            |i| Some(i.jwks_fetches.to_string()),
        );
        per_issuer(
            &mut out,
            "api_jwks_fetch_failures_total",
            "counter",
            "Discovery and JWKS fetches that failed, by issuer.",
            stats,
            |i| Some(i.jwks_fetch_failures.to_string()),
        );
        per_issuer(
            &mut out,
            "api_jwks_keys_loaded",
            "gauge",
            "Usable signing keys in the cache, by issuer.",
            stats,
            |i| Some(i.keys_loaded.to_string()),
        );
        per_issuer(
            &mut out,
            "api_jwks_key_set_age_seconds",
            "gauge",
            "Age of the cached key set, by issuer; absent until one is loaded.",
            stats,
            |i| i.key_set_age.map(|age| format!("{:.3}", age.as_secs_f64())),
        );
        per_issuer(
            &mut out,
            "api_issuer_ready",
            "gauge",
            "Whether the issuer's signing keys are usable (1) or not (0).",
            stats,
            |i| Some(u8::from(i.ready).to_string()),
        );
        out.push_str(
            "# HELP api_ready What /readyz says: the main issuer's signing keys are loaded and no stop is under way (1), or not (0).\n",
        );
        out.push_str("# TYPE api_ready gauge\n");
        let _ = writeln!(out, "api_ready {}", u8::from(ready));
        out
    }
}

/// Appends the DPoP proof counters: checks by outcome, nonces issued, replay-store entries.
pub fn render_dpop(out: &mut String, stats: &auth::dpop::DpopStats) {
    by_outcome(
        out,
        "api_dpop_proofs_total",
        "DPoP proof checks by outcome.",
        &stats.proofs,
    );
    counter(
        out,
        "api_dpop_nonces_issued_total",
        "DPoP server nonces handed out (use_dpop_nonce refusals and slot renewals).",
        stats.nonces_issued,
    );
    if let Some(entries) = stats.replay_entries {
        out.push_str(
            "# HELP api_dpop_replay_entries DPoP proof ids held against replay.\n# TYPE api_dpop_replay_entries gauge\n",
        );
        let _ = writeln!(out, "api_dpop_replay_entries {entries}");
    }
}

/// Appends the replay-store checks: by outcome, and their latency as a histogram.
pub fn render_replay_checks(out: &mut String, stats: &crate::replay_store::ReplayCheckStats) {
    by_outcome(
        out,
        "api_dpop_replay_checks_total",
        "DPoP replay-store checks by outcome (fresh, replay, key_limit, error).",
        &stats.outcomes,
    );
    out.push_str(
        "# HELP api_dpop_replay_check_seconds How long DPoP replay-store checks took.\n# TYPE api_dpop_replay_check_seconds histogram\n",
    );
    for (bound, count) in &stats.buckets {
        let _ = writeln!(
            out,
            "api_dpop_replay_check_seconds_bucket{{le=\"{bound}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "api_dpop_replay_check_seconds_bucket{{le=\"+Inf\"}} {count}\napi_dpop_replay_check_seconds_sum {sum:.6}\napi_dpop_replay_check_seconds_count {count}",
        count = stats.count,
        sum = stats.latency_sum_secs,
    );
}

/// A counter with one series per outcome.
fn by_outcome(out: &mut String, name: &str, help: &str, counts: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (outcome, count) in counts {
        let _ = writeln!(
            out,
            "{name}{{outcome=\"{}\"}} {count}",
            label_value(outcome)
        );
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// One line per issuer for metric `name`; `value` may skip an issuer (`None`).
fn per_issuer(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    stats: &auth::Stats,
    value: impl Fn(&auth::IssuerStats) -> Option<String>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for issuer in &stats.issuers {
        if let Some(v) = value(issuer) {
            let _ = writeln!(
                out,
                "{name}{{issuer=\"{}\"}} {v}",
                escape_label(&issuer.issuer)
            );
        }
    }
}

/// Escapes a label value as the exposition format requires (backslash, quote, newline).
/// Issuer URLs are validated and cannot hold these, but the format must not depend on it.
fn escape_label(value: &str) -> String {
    // The backslash first, so the ones the other two add are not doubled.
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Keeps a label value inside its quotes whatever `auth` names an outcome.
fn label_value(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn responses_are_counted_by_route_pattern_and_status() {
        let metrics = Metrics::default();
        metrics.record(Some("/api/external"), StatusCode::UNAUTHORIZED);
        metrics.record(Some("/api/external"), StatusCode::UNAUTHORIZED);
        metrics.record(Some("/api/public"), StatusCode::OK);
        let text = metrics.render(&auth::Stats::default(), false);
        assert!(
            text.contains("api_http_requests_total{route=\"/api/external\",status=\"401\"} 2\n")
        );
        assert!(text.contains("api_http_requests_total{route=\"/api/public\",status=\"200\"} 1\n"));
    }

    #[test]
    fn unknown_routes_share_the_other_label() {
        let metrics = Metrics::default();
        metrics.record(None, StatusCode::NOT_FOUND);
        metrics.record(Some("/nope/{x}"), StatusCode::NOT_FOUND);
        let text = metrics.render(&auth::Stats::default(), false);
        assert!(text.contains("api_http_requests_total{route=\"other\",status=\"404\"} 2\n"));
    }

    /// Asserts that `text` has each of `lines`, as a whole line.
    fn assert_has_lines(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                text.lines().any(|l| l == *line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn verifier_statistics_are_exposed() {
        let stats = auth::Stats {
            jwks_fetches: 3,
            jwks_fetch_failures: 1,
            verifications: vec![("ok", 5), ("expired", 2)],
            key_set_age: Some(Duration::from_millis(2500)),
            keys_loaded: 2,
            token_cache_hits: 4,
            issuers: vec![auth::IssuerStats {
                issuer: "https://tenant.example/".into(),
                jwks_fetches: 3,
                jwks_fetch_failures: 1,
                key_set_age: Some(Duration::from_millis(2500)),
                keys_loaded: 2,
                ready: true,
            }],
        };
        let text = Metrics::default().render(&stats, true);
        assert_has_lines(
            &text,
            &[
                "api_token_verifications_total{outcome=\"ok\"} 5",
                "api_token_verifications_total{outcome=\"expired\"} 2",
                "api_jwks_fetches_total{issuer=\"https://tenant.example/\"} 3",
                "api_jwks_fetch_failures_total{issuer=\"https://tenant.example/\"} 1",
                "api_token_cache_hits_total 4",
                "api_jwks_keys_loaded{issuer=\"https://tenant.example/\"} 2",
                "api_jwks_key_set_age_seconds{issuer=\"https://tenant.example/\"} 2.500",
                "api_issuer_ready{issuer=\"https://tenant.example/\"} 1",
                "api_ready 1",
            ],
        );
    }

    #[test]
    fn dpop_statistics_are_exposed() {
        let stats = auth::dpop::DpopStats {
            proofs: vec![("ok", 3), ("replayed", 1)],
            nonces_issued: 2,
            replay_entries: Some(3),
        };
        let mut text = String::new();
        render_dpop(&mut text, &stats);
        assert_has_lines(
            &text,
            &[
                "api_dpop_proofs_total{outcome=\"ok\"} 3",
                "api_dpop_proofs_total{outcome=\"replayed\"} 1",
                "api_dpop_nonces_issued_total 2",
                "api_dpop_replay_entries 3",
            ],
        );
    }

    #[test]
    fn every_issuer_has_its_own_series() {
        let issuer = |name: &str, keys, ready| auth::IssuerStats {
            issuer: name.into(),
            keys_loaded: keys,
            ready,
            ..auth::IssuerStats::default()
        };
        let stats = auth::Stats {
            issuers: vec![
                issuer("http://localhost:3002/", 1, true),
                issuer("https://login.example.com/", 0, false),
            ],
            ..auth::Stats::default()
        };
        let text = Metrics::default().render(&stats, false);
        assert_has_lines(
            &text,
            &[
                "api_jwks_keys_loaded{issuer=\"http://localhost:3002/\"} 1",
                "api_jwks_keys_loaded{issuer=\"https://login.example.com/\"} 0",
                "api_issuer_ready{issuer=\"http://localhost:3002/\"} 1",
                "api_issuer_ready{issuer=\"https://login.example.com/\"} 0",
                "api_ready 0",
            ],
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn key_set_age_is_absent_before_keys_load() {
        let stats = auth::Stats {
            issuers: vec![auth::IssuerStats {
                issuer: "https://tenant.example/".into(),
                ..auth::IssuerStats::default()
            }],
            ..auth::Stats::default()
        };
        let text = Metrics::default().render(&stats, false);
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("api_jwks_key_set_age_seconds{"))
        );
    }
}

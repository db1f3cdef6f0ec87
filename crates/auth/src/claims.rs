//! Registered-claim checks (`iss`, `aud`, `exp`, `nbf`, `iat`) and the typed [`Claims`].
//!
//! Done here rather than with `jsonwebtoken::Validation` so that every rule is explicit and
//! each failure has its own [`VerifyError`] variant (e.g. a wrong-typed `aud` is `Claim("aud")`,
//! not a generic JSON error), and so that the verified-token cache can re-check the time claims
//! without parsing the payload again.

use serde::Deserialize;
use serde_json::Value;

use crate::VerifyError;

/// Verified access-token claims: the ones an API asks for on every request, typed, and the
/// whole claims set as the issuer signed it, for any other claim.
///
/// Compact on purpose: the verified-token cache holds one per token, so the claims set is kept
/// as its JSON text rather than as a parsed map (a `serde_json::Map` costs a B-tree node of
/// about 630 bytes however few members it has); [`Claims::claim`] parses a member on demand.
#[derive(Debug, Clone)]
pub struct Claims {
    /// Subject.
    pub sub: Option<String>,
    /// Issuer.
    pub iss: String,
    /// Expiry, seconds since the epoch (a fractional NumericDate is truncated).
    pub exp: i64,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// Auth0 RBAC permissions.
    pub permissions: Vec<String>,
    /// The `cnf` (confirmation) claim, if any.
    cnf: Option<Confirmation>,
    /// The claims set, exactly as signed.
    json: Box<str>,
}

/// What the claims keep of `cnf`: whether it is there, and its DPoP thumbprint.
#[derive(Debug, Clone)]
struct Confirmation {
    jkt: Option<String>,
}

/// Every member verification reads, in one pass; every other member is skipped by the parser.
/// The registered claims are kept as raw JSON values so that a wrong type is reported as
/// `Claim(name)` by [`check_and_read`]. serde refuses a duplicated member of any of these
/// names, which closes the "two `exp` members, two parsers, two answers" hole.
#[derive(Deserialize)]
struct Members {
    iss: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    sub: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default, deserialize_with = "confirmation")]
    cnf: Option<Confirmation>,
}

/// A `cnf` member of any kind and value (`null` included) binds the token; only a string
/// `jkt` inside an object is a DPoP thumbprint.
fn confirmation<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Confirmation>, D::Error> {
    let jkt = match Value::deserialize(d)? {
        Value::Object(mut members) => match members.remove("jkt") {
            Some(Value::String(jkt)) => Some(jkt),
            _ => None,
        },
        _ => None,
    };
    Ok(Some(Confirmation { jkt }))
}

impl Claims {
    /// Reads the claims from a claims set (a JSON object), as the verifier does once per
    /// verified token (in the same pass as its claim checks); public for tests and tools that
    /// hold a claims set already.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        Self::read(serde_json::from_slice(json)?, json)
    }

    /// The claims from the members of `json` read by the typed pass: `iss` must be a string
    /// and `exp` a NumericDate.
    fn read(members: Members, json: &[u8]) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        let Some(Value::String(iss)) = members.iss else {
            return Err(serde_json::Error::custom("iss is not a string"));
        };
        let exp = match &members.exp {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
            _ => None,
        }
        .ok_or_else(|| serde_json::Error::custom("exp is not a NumericDate"))?;
        // The typed pass checks the syntax of the members it skips but not their depth, which
        // has a limit in serde_json (128) when `claim` and `all` parse them later: a member
        // nested too deeply is refused now, not silently lost then. Fewer brackets than
        // `SHALLOW` cannot nest that deep, so only the rare set with more is parsed in full.
        if opening_brackets(json) >= SHALLOW {
            serde_json::from_slice::<serde_json::Map<String, Value>>(json)?;
        }
        // serde_json has just read every byte as JSON, so the text is UTF-8.
        let json = std::str::from_utf8(json)
            .map_err(|_| serde_json::Error::custom("claims are not UTF-8"))?;
        Ok(Self {
            sub: members.sub,
            iss,
            exp,
            scope: members.scope,
            permissions: members.permissions,
            cnf: members.cnf,
            json: json.into(),
        })
    }

    /// Whether `scope` contains `wanted` as a whole word.
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == wanted))
    }

    /// Whether the Auth0 `permissions` claim contains `wanted`.
    pub fn has_permission(&self, wanted: &str) -> bool {
        self.permissions.iter().any(|p| p == wanted)
    }

    /// Whether the token is sender-constrained: it has a `cnf` (confirmation) claim, of any kind.
    /// Such a token must never be accepted as a plain bearer token.
    pub fn is_bound(&self) -> bool {
        self.cnf.is_some()
    }

    /// The DPoP key thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6.1).
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.cnf.as_ref()?.jkt.as_deref()
    }

    /// Any claim by name, parsed from the claims set on each call (`None` if absent).
    pub fn claim(&self, name: &str) -> Option<Value> {
        self.all().remove(name)
    }

    /// The whole claims set, parsed on each call.
    pub fn all(&self) -> serde_json::Map<String, Value> {
        // `from_json` parsed this very text as a JSON object, so this cannot fail.
        serde_json::from_str(&self.json).unwrap_or_default()
    }

    /// The claims set as JSON text, exactly as the issuer signed it.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// The audiences of the token (`aud` as a string or an array).
    pub fn audiences(&self) -> Vec<String> {
        match self.claim("aud") {
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// An upper estimate of the memory these claims hold (the struct plus everything it owns),
    /// which the verified-token cache charges against its byte budget; the allocator's own
    /// bookkeeping is estimated per allocation.
    pub(crate) fn heap_bytes(&self) -> usize {
        size_of::<Self>()
            + [&self.sub, &self.scope]
                .into_iter()
                .flatten()
                .map(|s| allocation(s.capacity()))
                .sum::<usize>()
            + allocation(self.iss.capacity())
            + allocation(self.permissions.capacity() * size_of::<String>())
            + self
                .permissions
                .iter()
                .map(|p| allocation(p.capacity()))
                .sum::<usize>()
            + self.cnf.as_ref().map_or(0, |c| {
                c.jkt.as_ref().map_or(0, |j| allocation(j.capacity()))
            })
            + allocation(self.json.len())
    }
}

/// Bytes an allocation of `size` takes, with the allocator's bookkeeping (glibc malloc: 8 to
/// 16 bytes, rounded up here); nothing for an empty one, which allocates nothing.
fn allocation(size: usize) -> usize {
    if size == 0 { 0 } else { size + 16 }
}

/// Fewer opening brackets than this and a claims set nests less deeply than serde_json's
/// recursion limit (128), so parsing it in full cannot fail where the typed pass succeeded.
const SHALLOW: usize = 64;

/// The number of `[` and `{` bytes, inside strings too: an upper bound on the nesting depth.
/// A byte count rather than a parse: every verified token goes through it.
fn opening_brackets(json: &[u8]) -> usize {
    json.iter()
        .map(|&b| usize::from(b == b'[' || b == b'{'))
        .sum()
}

/// What the claim checks need from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct ClaimPolicy {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub leeway_secs: i64,
}

/// The time window a verified token is valid in, remembered by the token cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Validity {
    pub exp: f64,
    pub nbf: Option<f64>,
}

impl Validity {
    /// Checks the window against `now` (seconds since the epoch) with the leeway.
    pub fn check(&self, now: f64, leeway: i64) -> Result<(), VerifyError> {
        let leeway = leeway as f64;
        if now >= self.exp + leeway {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = self.nbf
            && now + leeway < nbf
        {
            return Err(VerifyError::NotYetValid);
        }
        Ok(())
    }
}

/// The `iss` of a payload whose signature is NOT verified yet: only to pick which issuer's
/// keys to check it with. Parsed with the same refusal of a duplicated member as
/// [`check_and_read`], so the `iss` that selects the keys is the `iss` that is checked
/// afterwards.
pub(crate) fn unverified_issuer(payload: &[u8]) -> Result<String, VerifyError> {
    #[derive(Deserialize)]
    struct IssuerOnly {
        iss: Option<Value>,
    }
    let only: IssuerOnly =
        serde_json::from_slice(payload).map_err(|_| VerifyError::Malformed("claims"))?;
    match only.iss {
        Some(Value::String(iss)) => Ok(iss),
        _ => Err(VerifyError::Claim("iss")),
    }
}

/// The `iat` of a payload whose signature is not verified yet, if it is a finite number; for
/// the unknown-key verdict only (see `verifier::published_by`), never for a check.
pub(crate) fn unverified_issued_at(payload: &[u8]) -> Option<f64> {
    #[derive(Deserialize)]
    struct IssuedAtOnly {
        iat: Option<Value>,
    }
    let only: IssuedAtOnly = serde_json::from_slice(payload).ok()?;
    only.iat?.as_f64().filter(|t| t.is_finite())
}

/// Checks the registered claims of a payload whose signature is already verified, and reads
/// its [`Claims`], in one pass over the JSON.
pub(crate) fn check_and_read(
    payload: &[u8],
    policy: &ClaimPolicy,
    now: f64,
) -> Result<(Validity, Claims), VerifyError> {
    if !crate::jws::is_json_object(payload) {
        return Err(VerifyError::Malformed("claims"));
    }
    let reg: Members =
        serde_json::from_slice(payload).map_err(|_| VerifyError::Malformed("claims"))?;
    match &reg.iss {
        Some(Value::String(iss)) if *iss == policy.issuer => {}
        Some(Value::String(_)) => return Err(VerifyError::Issuer),
        _ => return Err(VerifyError::Claim("iss")),
    }
    let aud_ok = match &reg.aud {
        Some(Value::String(a)) => policy.audiences.iter().any(|ours| ours == a),
        Some(Value::Array(list)) => {
            if list.is_empty() || list.iter().any(|a| !a.is_string()) {
                return Err(VerifyError::Claim("aud"));
            }
            list.iter()
                .filter_map(Value::as_str)
                .any(|a| policy.audiences.iter().any(|ours| ours == a))
        }
        _ => return Err(VerifyError::Claim("aud")),
    };
    if !aud_ok {
        return Err(VerifyError::Audience);
    }
    let exp = numeric(reg.exp.as_ref(), "exp")?.ok_or(VerifyError::Claim("exp"))?;
    let nbf = numeric(reg.nbf.as_ref(), "nbf")?;
    let iat = numeric(reg.iat.as_ref(), "iat")?;
    let validity = Validity { exp, nbf };
    validity.check(now, policy.leeway_secs)?;
    if let Some(iat) = iat
        && iat > now + policy.leeway_secs as f64
    {
        return Err(VerifyError::IssuedInFuture);
    }
    let claims = Claims::read(reg, payload).map_err(|_| VerifyError::Malformed("claims"))?;
    Ok((validity, claims))
}

/// A NumericDate (RFC 7519 §2): a JSON number, possibly fractional; absent is `None`.
fn numeric(value: Option<&Value>, name: &'static str) -> Result<Option<f64>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or(VerifyError::Claim(name)),
        Some(_) => Err(VerifyError::Claim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_700_000_000.0;

    /// The registered-claim checks alone.
    fn check(payload: &[u8], policy: &ClaimPolicy, now: f64) -> Result<Validity, VerifyError> {
        check_and_read(payload, policy, now).map(|(validity, _)| validity)
    }

    fn policy() -> ClaimPolicy {
        ClaimPolicy {
            issuer: "https://iss/".into(),
            audiences: vec!["api-a".into(), "api-b".into()],
            leeway_secs: 30,
        }
    }

    fn run(v: Value) -> Result<Validity, VerifyError> {
        check(v.to_string().as_bytes(), &policy(), NOW)
    }

    fn base() -> Value {
        json!({"iss":"https://iss/","aud":"api-a","exp":NOW + 60.0})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = base();
        v[key] = value;
        v
    }

    fn without(key: &str) -> Value {
        let mut v = base();
        v.as_object_mut().expect("object").remove(key);
        v
    }

    #[test]
    fn valid_claims_pass() {
        assert!(run(base()).is_ok());
    }

    #[test]
    fn issuer_must_match_exactly() {
        assert_eq!(
            run(with("iss", json!("https://iss"))),
            Err(VerifyError::Issuer)
        );
    }

    #[test]
    fn unverified_issued_at_reads_a_finite_number_or_nothing() {
        assert_eq!(unverified_issued_at(br#"{"iat":1700000000}"#), Some(1.7e9));
        assert_eq!(unverified_issued_at(br#"{"iat":"1700000000"}"#), None);
        assert_eq!(unverified_issued_at(br#"{"iat":1,"iat":2}"#), None);
        assert_eq!(unverified_issued_at(b"{}"), None);
    }

    #[test]
    fn unverified_issuer_reads_iss_only() {
        let payload = br#"{"iss":"https://a/","aud":7,"exp":"soon"}"#;
        assert_eq!(unverified_issuer(payload), Ok("https://a/".to_owned()));
    }

    #[test]
    fn unverified_issuer_refuses_a_duplicated_iss() {
        let payload = br#"{"iss":"https://a/","iss":"https://b/"}"#;
        assert_eq!(
            unverified_issuer(payload),
            Err(VerifyError::Malformed("claims"))
        );
    }

    #[test]
    fn unverified_issuer_missing_or_not_a_string_is_a_claim_error() {
        assert_eq!(unverified_issuer(b"{}"), Err(VerifyError::Claim("iss")));
        assert_eq!(
            unverified_issuer(br#"{"iss":["https://a/"]}"#),
            Err(VerifyError::Claim("iss"))
        );
    }

    #[test]
    fn missing_issuer_is_a_claim_error() {
        assert_eq!(run(without("iss")), Err(VerifyError::Claim("iss")));
    }

    #[test]
    fn missing_audience_is_a_claim_error() {
        assert_eq!(run(without("aud")), Err(VerifyError::Claim("aud")));
    }

    #[test]
    fn audience_array_containing_ours_passes() {
        assert!(run(with("aud", json!(["other", "api-b"]))).is_ok());
    }

    #[test]
    fn audience_array_without_ours_fails() {
        assert_eq!(
            run(with("aud", json!(["other"]))),
            Err(VerifyError::Audience)
        );
    }

    #[test]
    fn audience_of_wrong_type_is_a_claim_error() {
        assert_eq!(run(with("aud", json!(5))), Err(VerifyError::Claim("aud")));
    }

    #[test]
    fn missing_exp_is_a_claim_error() {
        assert_eq!(run(without("exp")), Err(VerifyError::Claim("exp")));
    }

    #[test]
    fn string_exp_is_a_claim_error() {
        assert_eq!(
            run(with("exp", json!("9999999999"))),
            Err(VerifyError::Claim("exp"))
        );
    }

    #[test]
    fn expired_beyond_leeway_fails() {
        assert_eq!(
            run(with("exp", json!(NOW - 31.0))),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn expired_within_leeway_passes() {
        assert!(run(with("exp", json!(NOW - 29.0))).is_ok());
    }

    #[test]
    fn nbf_beyond_leeway_fails() {
        assert_eq!(
            run(with("nbf", json!(NOW + 31.0))),
            Err(VerifyError::NotYetValid)
        );
    }

    #[test]
    fn nbf_within_leeway_passes() {
        assert!(run(with("nbf", json!(NOW + 29.0))).is_ok());
    }

    #[test]
    fn iat_in_the_future_fails() {
        assert_eq!(
            run(with("iat", json!(NOW + 120.0))),
            Err(VerifyError::IssuedInFuture)
        );
    }

    #[test]
    fn duplicate_exp_member_is_malformed() {
        let raw = format!(
            r#"{{"iss":"https://iss/","aud":"api-a","exp":{},"exp":1}}"#,
            NOW + 60.0
        );
        assert_eq!(
            check(raw.as_bytes(), &policy(), NOW),
            Err(VerifyError::Malformed("claims"))
        );
    }

    #[test]
    fn claims_set_that_is_a_json_array_is_malformed() {
        // Positionally these are iss, aud and exp: a derived struct parser would accept them.
        let raw = json!(["https://iss/", "api-a", NOW + 60.0]);
        assert_eq!(
            check(raw.to_string().as_bytes(), &policy(), NOW),
            Err(VerifyError::Malformed("claims"))
        );
    }

    #[test]
    fn fractional_exp_is_accepted_and_truncated() {
        let raw = json!({"iss":"https://iss/","aud":"api-a","exp":NOW + 60.5});
        assert!(check(raw.to_string().as_bytes(), &policy(), NOW).is_ok());
        let c = Claims::from_json(raw.to_string().as_bytes()).expect("claims");
        assert_eq!(c.exp, (NOW + 60.0) as i64);
    }

    #[test]
    fn heap_bytes_count_the_whole_claims_set() {
        let small = Claims::from_json(br#"{"iss":"i","exp":1}"#).expect("claims");
        let large = Claims::from_json(
            json!({"iss":"i","exp":1,"nested":{"list":["x".repeat(10_000)]}})
                .to_string()
                .as_bytes(),
        )
        .expect("claims");
        assert!(small.heap_bytes() >= size_of::<Claims>() + 19);
        assert!(large.heap_bytes() >= small.heap_bytes() + 10_000);
    }

    /// A claims set whose member `deep` is `depth` arrays around the number 1.
    fn nested(depth: usize) -> String {
        let (open, close) = ("[".repeat(depth), "]".repeat(depth));
        format!(r#"{{"iss":"i","exp":1,"deep":{open}1{close}}}"#)
    }

    #[test]
    fn a_member_nested_beyond_the_recursion_limit_is_refused() {
        assert!(Claims::from_json(nested(200).as_bytes()).is_err());
    }

    #[test]
    fn a_member_nested_deeply_but_within_the_recursion_limit_is_read() {
        let claims = Claims::from_json(nested(100).as_bytes()).expect("claims");
        assert!(claims.claim("deep").is_some_and(|v| v.is_array()));
    }

    #[test]
    fn brackets_inside_strings_do_not_refuse_the_claims() {
        let text = json!({"iss": "i", "exp": 1, "note": "[{".repeat(200)}).to_string();
        let claims = Claims::from_json(text.as_bytes()).expect("claims");
        assert_eq!(claims.claim("note"), Some(json!("[{".repeat(200))));
    }

    #[test]
    fn other_claims_are_read_from_the_signed_claims_set() {
        let c = Claims::from_json(
            br#"{"iss":"i","exp":1,"aud":["a","b"],"https://example.com/roles":["admin"]}"#,
        )
        .expect("claims");
        assert_eq!(c.claim("https://example.com/roles"), Some(json!(["admin"])));
        assert_eq!(c.claim("absent"), None);
        assert_eq!(c.audiences(), ["a", "b"]);
        assert_eq!(c.all().len(), 4);
    }

    #[test]
    fn cnf_of_any_kind_binds_and_jkt_is_the_dpop_thumbprint() {
        let jwk_bound =
            Claims::from_json(br#"{"iss":"i","exp":1,"cnf":{"x5t#S256":"t"}}"#).expect("claims");
        assert!(jwk_bound.is_bound());
        assert_eq!(jwk_bound.dpop_jkt(), None);
        let dpop = Claims::from_json(br#"{"iss":"i","exp":1,"cnf":{"jkt":"abc"}}"#).expect("c");
        assert_eq!(dpop.dpop_jkt(), Some("abc"));
        let null = Claims::from_json(br#"{"iss":"i","exp":1,"cnf":null}"#).expect("claims");
        assert!(null.is_bound());
        let plain = Claims::from_json(br#"{"iss":"i","exp":1}"#).expect("claims");
        assert!(!plain.is_bound());
    }

    #[test]
    fn has_scope_matches_whole_words_only() {
        let c = Claims::from_json(br#"{"iss":"i","exp":1,"scope":"read:messages2 openid"}"#)
            .expect("claims");
        assert!(!c.has_scope("read:messages"));
        assert!(c.has_scope("openid"));
    }
}

//! Project Wycheproof JWS vectors run through the signature layer (`auth::jws`).
//!
//! As the vectors' README says: per group, the key is built from the group's public JWK with
//! only that key's algorithm allowed, and every `jws` must verify exactly when `result` is
//! `valid`. Claims are not checked (the payloads are not JWT claim sets).
//!
//! Every row where we differ from Wycheproof is listed in [`DISAGREEMENTS`] with its reason;
//! the test fails if the actual set of disagreements differs from the table in any way, and
//! it fails outright if we ever accept a row Wycheproof says is invalid.

use std::collections::BTreeMap;
use std::str::FromStr;

use auth::Algorithm;
use auth::jws::{Compact, PublicKey, parse_jwk_set, select_key};
use serde_json::Value;

const VECTORS: &str = include_str!("../data/wycheproof/json_web_signature_test.json");
const KEY_VECTORS: &str = include_str!("../data/wycheproof/json_web_key_test.json");

/// `json_web_key_test.json` rows where we differ, by tcId, with the reason. The invalid rows
/// (ROCA key, 1024-bit RSA, e = 1, wrong use, duplicate kid, ...) are all rejected.
/// Result of the last run: 22 of 26 rows agree; these 4 are the rest.
const KEY_DISAGREEMENTS: &[(u64, &str)] = &[(2, HS), (13, HS), (14, HS), (15, HS)];

/// Rows Wycheproof marks `valid` that we reject, by tcId, with the reason. Every invalid row
/// is rejected (JSON-serialization rows are all `invalid` and rejected as unsupported).
/// Result of the last run: 387 of 401 rows agree; these 14 are the rest.
const DISAGREEMENTS: &[(u64, &str)] = &[
    (1, HS),
    (346, PS),
    (347, ES),
    (348, HS),
    (350, PS),
    (351, ES),
    (352, HS),
    (357, HS),
    (358, HS),
    (359, HS),
    (372, HS),
    (373, HS),
    (376, HS),
    (377, HS),
];

const HS: &str = "HS256: symmetric keys are never accepted from a JWKS (alg confusion risk); not supported by design";
const PS: &str = "key alg member says PS256, token says PS384 (RFC 7520 fig. 20): a key's alg pins it, by design";
const ES: &str =
    "ES512/P-521: not in jsonwebtoken's Algorithm enum, which is our public alg type; unsupported";

const ALL_ASYMMETRIC: &[Algorithm] = {
    use Algorithm::*;
    &[
        RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
    ]
};

/// Our verdict on one row: `Ok` = signature verified, `Err` = why not.
fn verdict(public: Option<&Value>, group_alg: Option<&str>, jws: &str) -> Result<(), String> {
    let public = public.ok_or("no public key (symmetric group)")?;
    let allowed: Vec<Algorithm> = match group_alg {
        Some(name) => {
            vec![Algorithm::from_str(name).map_err(|_| format!("alg {name} unknown to us"))?]
        }
        None => ALL_ASYMMETRIC.to_vec(),
    };
    let key = PublicKey::from_jwk(public, &allowed).map_err(|e| format!("key rejected: {e}"))?;
    if jws.trim_start().starts_with('{') {
        return Err("JSON serialization is not supported".into());
    }
    let compact = Compact::parse(jws, &allowed).map_err(|e| format!("header: {e}"))?;
    compact
        .verify_signature(&key)
        .map_err(|e| format!("verify: {e}"))
}

#[test]
fn wycheproof_jws_vectors_agree_except_the_listed_rows() {
    let mut agree = 0;
    let mut differ: BTreeMap<u64, String> = BTreeMap::new();
    let mut accepted_invalid = Vec::new();
    let total = each_row(VECTORS, |group, id, expected_valid, jws| {
        let public = group.get("public");
        let group_alg = public
            .and_then(|p| p.get("alg"))
            .or_else(|| group["private"].get("alg"))
            .and_then(Value::as_str);
        match (expected_valid, verdict(public, group_alg, jws)) {
            (true, Ok(())) | (false, Err(_)) => agree += 1,
            (true, Err(why)) => {
                differ.insert(id, why);
            }
            (false, Ok(())) => accepted_invalid.push(id),
        }
    });
    eprintln!("wycheproof JWS: {agree}/{total} rows agree");
    for (id, why) in &differ {
        eprintln!("  tcId {id}: valid per Wycheproof, rejected by us: {why}");
    }
    assert!(
        accepted_invalid.is_empty(),
        "accepted invalid rows: {accepted_invalid:?}"
    );
    assert_rows_are_listed(&differ, DISAGREEMENTS);
    assert_eq!(agree + DISAGREEMENTS.len(), total);
}

/// Calls `check(group, tcId, valid per Wycheproof, jws)` for every row of a vectors file;
/// returns how many rows there were.
fn each_row(vectors: &str, mut check: impl FnMut(&Value, u64, bool, &str)) -> usize {
    let doc: Value = serde_json::from_str(vectors).unwrap();
    let mut total = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            total += 1;
            let id = test["tcId"].as_u64().unwrap();
            check(
                group,
                id,
                test["result"] == "valid",
                test["jws"].as_str().unwrap(),
            );
        }
    }
    total
}

/// The rows we disagree on are exactly those of the table.
fn assert_rows_are_listed(differ: &BTreeMap<u64, String>, table: &[(u64, &str)]) {
    let listed: Vec<u64> = table.iter().map(|(id, _)| *id).collect();
    let actual: Vec<u64> = differ.keys().copied().collect();
    assert_eq!(actual, listed, "disagreements differ from the table");
}

/// The public half of a JWK: private members removed (the groups carry private keys).
fn public_half(jwk: &Value) -> Value {
    let mut jwk = jwk.clone();
    if let Some(obj) = jwk.as_object_mut()
        && obj.get("kty").and_then(Value::as_str) != Some("oct")
    {
        for m in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            obj.remove(m);
        }
    }
    jwk
}

/// Our verdict on a key-set row: the set parsed as the key cache parses a JWKS, the key
/// selected by the header's kid as the verifier selects it, then the signature.
fn key_set_verdict(group: &Value, jws: &str) -> Result<(), String> {
    let source = group.get("public").unwrap_or(&group["private"]);
    let keys: Vec<Value> = match source.get("keys").and_then(Value::as_array) {
        Some(keys) => keys.iter().map(public_half).collect(),
        None => vec![public_half(source)],
    };
    let set = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap();
    let parsed = parse_jwk_set(&set, ALL_ASYMMETRIC).ok_or("not a JWK set")?;
    if jws.trim_start().starts_with('{') {
        return Err("JSON serialization is not supported".into());
    }
    let compact = Compact::parse(jws, ALL_ASYMMETRIC).map_err(|e| format!("header: {e}"))?;
    let key = select_key(&parsed.keys, compact.kid())
        .ok_or_else(|| format!("no usable key selected ({} skipped)", parsed.skipped))?;
    compact
        .verify_signature(key)
        .map_err(|e| format!("verify: {e}"))
}

#[test]
fn wycheproof_jwk_vectors_agree_except_the_listed_rows() {
    let mut agree = 0;
    let mut differ: BTreeMap<u64, String> = BTreeMap::new();
    let total = each_row(KEY_VECTORS, |group, id, expected_valid, jws| {
        match (expected_valid, key_set_verdict(group, jws)) {
            (true, Ok(())) | (false, Err(_)) => agree += 1,
            (true, Err(why)) => {
                differ.insert(id, format!("valid per Wycheproof, rejected by us: {why}"));
            }
            (false, Ok(())) => {
                differ.insert(id, "INVALID per Wycheproof, accepted by us".into());
            }
        }
    });
    eprintln!("wycheproof JWK: {agree}/{total} rows agree");
    for (id, why) in &differ {
        eprintln!("  tcId {id}: {why}");
    }
    assert_rows_are_listed(&differ, KEY_DISAGREEMENTS);
}

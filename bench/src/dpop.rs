//! The DPoP scenario's client side (RFC 9449): one P-256 key, one access token bound to it
//! (`cnf.jkt`), and a fresh proof for every request.
//!
//! A proof is accepted once and only within 60 s of its `iat`, so the proofs of a wrk run are
//! made right before it starts, as many as the run could send at `--dpop-max-rate` requests/s,
//! and written to a file that `wrk/dpop.lua` splits between its threads (never sending one
//! twice). No JWT library signs with a key it generated itself and lets us reuse the header
//! bytes across hundreds of thousands of proofs, so the compact JWS is put together here:
//! base64url header, base64url claims, aws-lc-rs's fixed-size (r‖s) ES256 signature.
//! The thumbprint and `ath` are the `auth` crate's own functions, the ones the API checks with.
//! This is the one DPoP proof builder outside `test-support`: that one serialises a header and
//! claims object per proof, which is fine for a test and too slow for a few hundred thousand
//! proofs made against the clock; its tests below check this one against `test-support`'s
//! hand-computed thumbprint.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Why proofs could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// aws-lc-rs could not generate the key or sign (no OS randomness).
    #[error("cannot {0} with aws-lc-rs")]
    Crypto(&'static str),
    /// The file system said no.
    #[error("cannot write {0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
    /// Making the proofs plus the run would outlast a proof's 60 s of validity.
    #[error(
        "making the DPoP proofs and running wrk take {0:?}, too close to a proof's 60 s lifetime; use a shorter --warmup-secs/--measure-secs or a lower --dpop-max-rate"
    )]
    TooSlow(std::time::Duration),
}

/// The benchmark's DPoP key and the constant part of its proofs (its `Debug` shows the public
/// key only).
#[derive(Debug)]
pub struct ProofKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    jwk: Value,
    /// base64url of the proof header, the same for every proof.
    header_b64: String,
}

impl ProofKey {
    /// A fresh P-256 key pair.
    pub fn generate() -> Result<Self, ProofError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| ProofError::Crypto("generate a P-256 key"))?;
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: EcdsaKeyPair) -> Self {
        // The public key is the uncompressed point 0x04 ‖ x ‖ y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len() / 2);
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        });
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        Self {
            pair,
            rng: SystemRandom::new(),
            jwk,
            header_b64,
        }
    }

    /// The public key as the calibration server takes it (`CALIBRATION_DPOP_KEY`): the
    /// uncompressed point, base64url.
    pub fn public_point(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// The RFC 7638 thumbprint: the token's `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        // An EC JWK with all of crv, kty, x, y always has one.
        auth::dpop::thumbprint(&self.jwk).unwrap_or_default()
    }

    /// One proof for `GET htu` with the token whose hash is `ath`.
    pub fn proof(&self, htu: &str, ath: &str, jti: &str, iat: u64) -> Result<String, ProofError> {
        let claims = json!({"jti": jti, "htm": "GET", "htu": htu, "iat": iat, "ath": ath});
        let signing_input = format!(
            "{}.{}",
            self.header_b64,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| ProofError::Crypto("sign a proof"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// Writes `count` proofs for `GET htu` with `token`, all with `iat` = now and the `jti`s
    /// `<run>-0`, `<run>-1`, ... (`run` keeps ids distinct between the runs of one benchmark),
    /// one per line, readable by the owner only.
    pub fn write_proofs(
        &self,
        path: &Path,
        htu: &str,
        token: &str,
        run: &str,
        count: u64,
    ) -> Result<(), ProofError> {
        let io = |e| ProofError::Io(path.to_owned(), e);
        let ath = auth::dpop::access_token_hash(token);
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = std::io::BufWriter::new(options.open(path).map_err(io)?);
        for i in 0..count {
            let proof = self.proof(htu, &ath, &format!("{run}-{i}"), iat)?;
            writeln!(out, "{proof}").map_err(io)?;
        }
        out.flush().map_err(io)
    }
}

/// How many proofs a wrk run of `secs` seconds needs at `max_rate` requests/s.
pub fn proofs_for(secs: u64, max_rate: u32) -> u64 {
    secs.max(1) * u64::from(max_rate)
}

/// `API_DPOP_REPLAY_CAPACITY` for `max_rate`: the API remembers a proof id for 91 s (60 s of
/// age plus 30 s of clock leeway, plus one), so `max_rate` × 91 entries hold every proof sent
/// at up to that rate (the sizing rule of docs/dpop.md).
pub fn replay_capacity(max_rate: u32) -> u64 {
    u64::from(max_rate) * 91
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ath_is_the_rfc_9449_example_hash() {
        // RFC 9449 §7.1: the access token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" has
        // ath "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".
        assert_eq!(
            auth::dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn thumbprint_of_the_rfc_9449_example_key() {
        // RFC 9449 §6.1: the example key's thumbprint is the token's cnf.jkt.
        let jwk = json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        });
        assert_eq!(
            auth::dpop::thumbprint(&jwk).as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
    }

    /// A fresh key and one proof made with it.
    fn key_and_proof() -> (ProofKey, String) {
        let key = ProofKey::generate().expect("key");
        let proof = key
            .proof("http://127.0.0.1:1/api/external", "a", "j", 1)
            .expect("proof");
        (key, proof)
    }

    #[test]
    fn header_carries_the_public_key_only_and_the_dpop_type() {
        let (key, proof) = key_and_proof();
        let header = test_support::header_of(&proof);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], key.jwk);
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(key.thumbprint(), test_support::thumbprint(&header["jwk"]));
    }

    #[test]
    fn a_proofs_signature_holds_under_the_public_point_the_calibration_server_takes() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
        let (key, proof) = key_and_proof();
        let (signing_input, signature) = proof.rsplit_once('.').expect("three parts");
        let point = URL_SAFE_NO_PAD
            .decode(key.public_point())
            .expect("base64url");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        assert_eq!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .verify(signing_input.as_bytes(), &signature),
            Ok(())
        );
    }

    #[test]
    fn written_proofs_have_distinct_jtis_and_the_token_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proofs.txt");
        let key = ProofKey::generate().expect("key");
        key.write_proofs(&path, "http://127.0.0.1:1/api/external", "tok", "w", 3)
            .expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        let claims: Vec<Value> = text.lines().map(test_support::claims_of).collect();
        let jtis: Vec<&str> = claims.iter().filter_map(|c| c["jti"].as_str()).collect();
        assert_eq!(jtis, ["w-0", "w-1", "w-2"]);
        for c in &claims {
            assert_eq!(c["htm"], "GET");
            assert_eq!(c["htu"], "http://127.0.0.1:1/api/external");
            assert_eq!(c["ath"], test_support::ath("tok"));
        }
    }

    #[tokio::test]
    async fn generated_proofs_are_accepted_by_the_api_verifier_once() {
        let key = ProofKey::generate().expect("key");
        let verifier =
            auth::dpop::ProofVerifier::new(auth::dpop::DpopConfig::default()).expect("verifier");
        let token = "header.payload.signature";
        let htu = "http://127.0.0.1:8080/api/external";
        let now = u64::try_from(test_support::now()).expect("after 1970");
        let proof = key
            .proof(htu, &test_support::ath(token), "once", now)
            .expect("proof");
        let jkt = key.thumbprint();
        let request = auth::dpop::ProofRequest {
            proofs: &[proof.as_bytes()],
            method: "GET",
            uri: htu,
            access_token: Some(token),
            jkt: Some(&jkt),
        };
        let verified = verifier.verify(&request).await.expect("accepted");
        assert_eq!(verified.jkt, jkt);
        assert_eq!(
            verifier.verify(&request).await,
            Err(auth::dpop::DpopError::Replayed)
        );
    }

    #[test]
    fn replay_store_holds_91_seconds_at_the_rate_bound() {
        assert_eq!(replay_capacity(20_000), 1_820_000);
        assert_eq!(proofs_for(15, 20_000), 300_000);
        assert_eq!(proofs_for(0, 10), 10);
    }
}

//! Property tests: arbitrary input and mutated valid tokens never panic and never verify.

use std::sync::LazyLock;

use auth::Verifier;
use proptest::prelude::*;
use serde_json::json;
use tokio::runtime::Runtime;

use crate::helpers::*;

struct Fixture {
    runtime: Runtime,
    verifier: Verifier,
    token: String,
    _issuer: MockIssuer,
}

/// One issuer, verifier and valid token for every case (a server per case would be slow).
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (issuer, verifier, token) = runtime.block_on(async {
        let key = SigningKey::rsa(0, "k1");
        let issuer = MockIssuer::start(&[&key]).await;
        let verifier = ready_verifier(issuer.config()).await;
        let token = key.sign(&issuer.claims_with("exp", json!(now() + 3600)));
        assert!(verifier.verify(&token).await.is_ok());
        (issuer, verifier, token)
    });
    Fixture {
        runtime,
        verifier,
        token,
        _issuer: issuer,
    }
});

fn verifies(token: &str) -> bool {
    let f = &*FIXTURE;
    f.runtime.block_on(f.verifier.verify(token)).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_strings_never_verify(s in any::<String>()) {
        prop_assert!(!verifies(&s));
    }

    #[test]
    fn arbitrary_jws_shaped_strings_never_verify(s in "[A-Za-z0-9_.-]{0,800}") {
        prop_assert!(!verifies(&s));
    }

    #[test]
    fn a_token_with_one_character_changed_never_verifies(pos in any::<prop::sample::Index>(), c in jws_char()) {
        let mutated = one_character_changed(&FIXTURE.token, pos, c);
        prop_assume!(mutated != FIXTURE.token);
        prop_assert!(!verifies(&mutated));
    }

    #[test]
    fn a_token_with_a_cut_or_insertion_never_verifies(pos in any::<prop::sample::Index>(), insert in "[A-Za-z0-9_.=-]{0,3}", cut in 0usize..4) {
        let mutated = cut_or_insertion(&FIXTURE.token, pos, &insert, cut);
        prop_assume!(mutated != FIXTURE.token);
        prop_assert!(!verifies(&mutated));
    }

    #[test]
    fn a_token_with_a_swapped_segment_never_verifies(which in 0usize..3, junk in "[A-Za-z0-9_-]{1,200}") {
        let token = &FIXTURE.token;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[which] = junk;
        let mutated = parts.join(".");
        prop_assume!(&mutated != token);
        prop_assert!(!verifies(&mutated));
    }
}

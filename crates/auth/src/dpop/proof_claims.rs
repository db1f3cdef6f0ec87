//! A proof's claims as sent, read in one pass and borrowed from the payload: each claim may be
//! of any JSON type, so that a wrong type is refused by name (`DpopError::Claim`) rather than as
//! malformed JSON.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The claims, each of any JSON type so that a wrong type is `Claim(name)`. serde refuses a
/// duplicated member of these names. Each borrows from the payload (`'de: 'a`).
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
pub(super) struct ProofClaims<'a> {
    pub jti: Option<ClaimValue<'a>>,
    pub htm: Option<ClaimValue<'a>>,
    pub htu: Option<ClaimValue<'a>>,
    pub iat: Option<ClaimValue<'a>>,
    pub ath: Option<ClaimValue<'a>>,
    pub nonce: Option<ClaimValue<'a>>,
}

/// One claim as sent: a string (borrowed from the payload unless it holds escapes), a number,
/// or any other JSON value (read past, never kept).
pub(super) enum ClaimValue<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for ClaimValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyJson;
        impl<'de> Visitor<'de> for AnyJson {
            type Value = ClaimValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ClaimValue::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ClaimValue::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(ClaimValue::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ClaimValue::Num(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ClaimValue::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ClaimValue::Num(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ClaimValue::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ClaimValue::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ClaimValue::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ClaimValue::Other)
            }
        }
        deserializer.deserialize_any(AnyJson)
    }
}

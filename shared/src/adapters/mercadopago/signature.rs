//! Mercado Pago webhook signatures: `x-signature: ts=…,v1=…`, the v1 being
//! HMAC-SHA256 over `id:{data.id};request-id:{x-request-id};ts:{ts};`.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use thiserror::Error;

use crate::adapters::secrets::Secret;
use crate::domain::Timestamp;

/// How far `ts` may be from now before a notification counts as a replay.
pub const REPLAY_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// The shared secret, or two while it is rotated: `current,previous`, either
/// accepted. `Debug` shows them redacted, and they are wiped when dropped.
#[derive(Debug, Clone)]
pub struct WebhookSecret(Vec<SecretString>);

impl WebhookSecret {
    /// `None` when no secret is given (empty, or only commas).
    pub fn new(secrets: impl Into<String>) -> Option<Self> {
        let secrets: Vec<SecretString> = secrets
            .into()
            .split(',')
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .map(|secret| SecretString::from(secret.to_owned()))
            .collect();
        (!secrets.is_empty()).then_some(Self(secrets))
    }
}

#[derive(Debug, Clone)]
pub enum SignaturePolicy {
    /// Signed with the secret (`current,previous` while it rotates).
    Required(Secret),
    /// Accept unsigned notifications (accounts MP does not sign for). The outcome
    /// still comes only from reading the order at MP.
    Unsigned,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("x-signature header is missing")]
    Missing,
    #[error("x-signature header is malformed")]
    Malformed,
    /// Signed with the secret, but `ts` is outside the replay window: Mercado
    /// Pago's retries may carry the first attempt's signature, so this is a
    /// late delivery, not a forgery (`SignaturePolicy::verify` lets it in).
    #[error("signature timestamp is outside the replay window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// The parts of a notification the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    pub data_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub signature_header: Option<&'a str>,
}

/// How far a delivery that passed the check can be trusted to be new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Signed with the secret, within the replay window.
    Fresh,
    /// Signed with the secret, older than the window (Mercado Pago retries
    /// every 15 minutes, possibly with the first signature): a replay cannot
    /// be told from a retry, so what it may cause is bounded.
    Late,
    /// Not checked (`MP_WEBHOOK_SIGNATURE=unsigned`): bounded the same way.
    Unsigned,
}

impl SignaturePolicy {
    /// Checks the signature against the secret as it is now.
    pub async fn verify(
        &self,
        parts: SignedParts<'_>,
        now: Timestamp,
    ) -> Result<Verified, SignatureError> {
        match self {
            Self::Unsigned => Ok(Verified::Unsigned),
            Self::Required(secret) => {
                let current = secret.current().await;
                // An empty secret (a parameter that could not be read) matches nothing.
                let verified = WebhookSecret::new(current.expose_secret())
                    .ok_or(SignatureError::Mismatch)?
                    .verify(parts, now);
                match verified {
                    Ok(()) => Ok(Verified::Fresh),
                    Err(SignatureError::Stale) => Ok(Verified::Late),
                    Err(other) => Err(other),
                }
            }
        }
    }
}

impl WebhookSecret {
    pub fn verify(&self, parts: SignedParts<'_>, now: Timestamp) -> Result<(), SignatureError> {
        let secret = self;
        let header = parts.signature_header.ok_or(SignatureError::Missing)?;
        // A `;` inside a signed value would let two different deliveries
        // share one manifest (`id:a;request-id:b;` is also id `a;request-id:b`).
        if [parts.data_id, parts.request_id]
            .iter()
            .flatten()
            .any(|value| value.contains(';'))
        {
            return Err(SignatureError::Malformed);
        }
        let (ts, v1) = parse_header(header)?;
        let ts_millis = timestamp_millis(ts)?;
        let expected = hex::decode(v1).map_err(|_| SignatureError::Malformed)?;
        // MP's docs lowercase an alphanumeric id; its Python SDK signs it as
        // received. Both forms need the secret, so either is accepted.
        let lowered = parts.data_id.map(str::to_ascii_lowercase);
        // verify_slice compares in constant time.
        let signed_with = |data_id: Option<&str>| {
            let manifest = manifest(data_id, parts.request_id, ts);
            secret
                .0
                .iter()
                .any(|key| mac(key, &manifest).is_some_and(|m| m.verify_slice(&expected).is_ok()))
        };
        // The documented (lowercased) form first: one HMAC for MP's own
        // deliveries, a second only for an id signed as received.
        let matched = signed_with(lowered.as_deref())
            || (lowered.as_deref() != parts.data_id && signed_with(parts.data_id));
        if !matched {
            return Err(SignatureError::Mismatch);
        }
        // Only a signature made with the secret can be late: anything else
        // was refused above.
        if (now.unix_millis() - ts_millis).abs() > REPLAY_WINDOW_MILLIS {
            return Err(SignatureError::Stale);
        }
        Ok(())
    }
}

/// A signature header in one spelling: its timestamp in milliseconds and its
/// HMAC in lower-case hex. Headers that verify alike (upper-case hex, spaces,
/// extra parts) have the same canonical form, so a replay cannot pass for a
/// new delivery by respelling the header. `None` when it does not parse.
pub fn canonical_signature(header: &str) -> Option<String> {
    let (ts, v1) = parse_header(header).ok()?;
    let ts_millis = timestamp_millis(ts).ok()?;
    let mac = hex::decode(v1).ok()?;
    Some(format!("{ts_millis}:{}", hex::encode(mac)))
}

/// The manifest MP signs; a pair whose value is absent is left out.
pub fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|s| !s.is_empty()) {
        manifest.push_str(&format!("id:{id};"));
    }
    if let Some(request_id) = request_id.filter(|s| !s.is_empty()) {
        manifest.push_str(&format!("request-id:{request_id};"));
    }
    manifest.push_str(&format!("ts:{ts};"));
    manifest
}

fn mac(key: &SecretString, manifest: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()).ok()?;
    mac.update(manifest.as_bytes());
    Some(mac)
}

fn parse_header(header: &str) -> Result<(&str, &str), SignatureError> {
    let (mut ts, mut v1) = (None, None);
    for part in header.split(',') {
        let (key, value) = part.split_once('=').ok_or(SignatureError::Malformed)?;
        // A key given twice is refused, not one of its values picked.
        let slot = match key.trim() {
            "ts" => &mut ts,
            "v1" => &mut v1,
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(SignatureError::Malformed);
        }
    }
    match (ts, v1) {
        (Some(ts), Some(v1)) if !ts.is_empty() && v1.len() == 64 => Ok((ts, v1)),
        _ => Err(SignatureError::Malformed),
    }
}

/// `ts` in milliseconds (13 digits, MP's docs) or seconds (the SDK's check).
fn timestamp_millis(ts: &str) -> Result<i64, SignatureError> {
    if ts.is_empty() || ts.len() > 13 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    let value: i64 = ts.parse().map_err(|_| SignatureError::Malformed)?;
    Ok(if ts.len() >= 12 { value } else { value * 1000 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "test-secret";
    const NOW_MS: i64 = 1_795_608_000_000;

    fn sign(data_id: &str, request_id: &str, ts: &str) -> String {
        sign_with(SECRET, data_id, request_id, ts)
    }

    fn sign_with(secret: &str, data_id: &str, request_id: &str, ts: &str) -> String {
        let key = SecretString::from(secret.to_owned());
        let m = mac(&key, &manifest(Some(data_id), Some(request_id), ts)).unwrap();
        format!("ts={ts},v1={}", hex::encode(m.finalize().into_bytes()))
    }

    fn verify(data_id: &str, header: Option<&str>, now_ms: i64) -> Result<(), SignatureError> {
        WebhookSecret::new(SECRET).unwrap().verify(
            SignedParts {
                data_id: Some(data_id),
                request_id: Some("req-1"),
                signature_header: header,
            },
            Timestamp::from_unix_millis(now_ms).unwrap(),
        )
    }

    #[test]
    fn accepts_lowercased_and_as_received_ids_in_ms_or_seconds() {
        let ts = NOW_MS.to_string();
        assert_eq!(
            verify("ORD01ABC", Some(&sign("ord01abc", "req-1", &ts)), NOW_MS),
            Ok(())
        );
        assert_eq!(
            verify("ORD01ABC", Some(&sign("ORD01ABC", "req-1", &ts)), NOW_MS),
            Ok(())
        );
        let secs = (NOW_MS / 1000).to_string();
        assert_eq!(
            verify("ord01abc", Some(&sign("ord01abc", "req-1", &secs)), NOW_MS),
            Ok(())
        );
    }

    #[test]
    fn rejects_missing_malformed_wrong_and_stale() {
        let ts = NOW_MS.to_string();
        assert_eq!(verify("ord1", None, NOW_MS), Err(SignatureError::Missing));
        assert_eq!(
            verify("ord1", Some("garbage"), NOW_MS),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("ord1", Some(&format!("ts={ts},v1=zz")), NOW_MS),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("ord2", Some(&sign("ord1", "req-1", &ts)), NOW_MS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("ord1", Some(&sign("ord1", "req-2", &ts)), NOW_MS),
            Err(SignatureError::Mismatch)
        );
        let old = (NOW_MS - REPLAY_WINDOW_MILLIS - 1).to_string();
        assert_eq!(
            verify("ord1", Some(&sign("ord1", "req-1", &old)), NOW_MS),
            Err(SignatureError::Stale)
        );
        // Late only when signed with the secret: a wrong one is a mismatch.
        assert_eq!(
            verify(
                "ord1",
                Some(&sign_with("other", "ord1", "req-1", &old)),
                NOW_MS
            ),
            Err(SignatureError::Mismatch)
        );
        let edge = (NOW_MS - REPLAY_WINDOW_MILLIS).to_string();
        assert_eq!(
            verify("ord1", Some(&sign("ord1", "req-1", &edge)), NOW_MS),
            Ok(())
        );
    }

    #[test]
    fn while_rotating_either_secret_is_accepted_and_no_other() {
        let policy = WebhookSecret::new("new-secret, old-secret").unwrap();
        let ts = NOW_MS.to_string();
        let now = Timestamp::from_unix_millis(NOW_MS).unwrap();
        let check = |header: String| {
            policy.verify(
                SignedParts {
                    data_id: Some("ord1"),
                    request_id: Some("req-1"),
                    signature_header: Some(&header),
                },
                now,
            )
        };
        assert_eq!(check(sign_with("new-secret", "ord1", "req-1", &ts)), Ok(()));
        assert_eq!(check(sign_with("old-secret", "ord1", "req-1", &ts)), Ok(()));
        assert_eq!(
            check(sign_with("other-secret", "ord1", "req-1", &ts)),
            Err(SignatureError::Mismatch)
        );
        assert!(WebhookSecret::new(" , ").is_none());
        let secret = WebhookSecret::new("new-secret,old-secret").unwrap();
        let debug = format!("{secret:?}");
        assert!(!debug.contains("new-secret") && !debug.contains("old-secret"));
    }

    #[test]
    fn a_signature_off_by_its_last_digit_or_wrong_in_upper_case_is_refused() {
        let ts = NOW_MS.to_string();
        let right = sign("ord1", "req-1", &ts);
        let (head, last) = right.split_at(right.len() - 1);
        let flipped = if last == "0" { "1" } else { "0" };
        assert_eq!(
            verify("ord1", Some(&format!("{head}{flipped}")), NOW_MS),
            Err(SignatureError::Mismatch)
        );
        let wrong_upper = sign("ord2", "req-1", &ts)
            .to_uppercase()
            .replace("TS=", "ts=")
            .replace(",V1=", ",v1=");
        assert_eq!(
            verify("ord1", Some(&wrong_upper), NOW_MS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn manifest_leaves_out_absent_pairs() {
        assert_eq!(
            manifest(Some("a"), Some("r"), "1"),
            "id:a;request-id:r;ts:1;"
        );
        assert_eq!(manifest(None, Some("r"), "1"), "request-id:r;ts:1;");
        assert_eq!(manifest(Some("a"), None, "1"), "id:a;ts:1;");
    }

    #[tokio::test]
    async fn unsigned_policy_accepts_anything_and_secret_is_redacted() {
        let parts = SignedParts {
            data_id: None,
            request_id: None,
            signature_header: None,
        };
        let now = Timestamp::from_unix_millis(NOW_MS).unwrap();
        assert_eq!(
            SignaturePolicy::Unsigned.verify(parts, now).await,
            Ok(Verified::Unsigned)
        );
        let secret = WebhookSecret::new(SECRET).unwrap();
        assert!(!format!("{secret:?}").contains(SECRET));
        assert!(WebhookSecret::new("").is_none());
    }

    /// A valid Mercado Pago order id, as its ids are spelt.
    fn provider_id() -> impl Strategy<Value = String> {
        "ORD[0-9A-Z]{10,26}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_signed_parts_are_refused_and_never_panic(
            data_id in proptest::option::of(".{0,40}"),
            request_id in proptest::option::of(".{0,40}"),
            header in proptest::option::of(prop_oneof![
                ".{0,120}",
                "ts=[0-9]{0,14},v1=[0-9a-f]{60,68}",
                "(ts|v1|x)=[ -~]{0,70}(,(ts|v1|x)=[ -~]{0,70}){0,3}",
            ]),
        ) {
            let verified = WebhookSecret::new(SECRET).unwrap().verify(
                SignedParts {
                    data_id: data_id.as_deref(),
                    request_id: request_id.as_deref(),
                    signature_header: header.as_deref(),
                },
                Timestamp::from_unix_millis(NOW_MS).unwrap(),
            );
            prop_assert!(verified.is_err());
        }

        #[test]
        fn a_signed_delivery_verifies_and_any_change_to_a_signed_part_is_refused(
            data_id in provider_id(),
            request_id in "[ -:<-~]{1,40}",
            age_ms in 0..REPLAY_WINDOW_MILLIS,
            other_id in provider_id(),
            other_request_id in "[ -:<-~]{1,40}",
            other_age_ms in 0..REPLAY_WINDOW_MILLIS,
            flipped in 0..64usize,
        ) {
            let ts = (NOW_MS - age_ms).to_string();
            let header = sign(&data_id, &request_id, &ts);
            let check = |data_id: &str, request_id: &str, header: &str| {
                WebhookSecret::new(SECRET).unwrap().verify(
                    SignedParts {
                        data_id: Some(data_id),
                        request_id: Some(request_id),
                        signature_header: Some(header),
                    },
                    Timestamp::from_unix_millis(NOW_MS).unwrap(),
                )
            };
            prop_assert_eq!(check(&data_id, &request_id, &header), Ok(()));
            if !other_id.eq_ignore_ascii_case(&data_id) {
                prop_assert!(check(&other_id, &request_id, &header).is_err());
            }
            if other_request_id != request_id {
                prop_assert!(check(&data_id, &other_request_id, &header).is_err());
            }
            if other_age_ms != age_ms {
                let moved = header.replacen(
                    &format!("ts={ts}"),
                    &format!("ts={}", NOW_MS - other_age_ms),
                    1,
                );
                prop_assert!(check(&data_id, &request_id, &moved).is_err());
            }
            let mut tampered = header.into_bytes();
            let digit = tampered.len() - 64 + flipped;
            tampered[digit] = if tampered[digit] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(tampered).unwrap();
            prop_assert!(check(&data_id, &request_id, &tampered).is_err());
        }
    }

    #[test]
    fn a_separator_inside_a_signed_value_or_a_key_given_twice_is_malformed() {
        let ts = NOW_MS.to_string();
        // Signed for id `ord1` and request `req-1`, sent as one id.
        let header = sign("ord1", "req-1", &ts);
        let verified = WebhookSecret::new(SECRET).unwrap().verify(
            SignedParts {
                data_id: Some("ord1;request-id:req-1"),
                request_id: None,
                signature_header: Some(&header),
            },
            Timestamp::from_unix_millis(NOW_MS).unwrap(),
        );
        assert_eq!(verified, Err(SignatureError::Malformed));
        let twice = format!("{header},ts={ts}");
        assert_eq!(
            verify("ord1", Some(&twice), NOW_MS),
            Err(SignatureError::Malformed)
        );
    }
}

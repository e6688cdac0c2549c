//! Standard Webhooks signatures (symmetric, `v1`).
//!
//! Each request carries three headers:
//!
//! * `webhook-id`: the event id, the same on every attempt (receivers deduplicate on it);
//! * `webhook-timestamp`: the attempt's time in integer unix seconds (it changes on
//!   retries, so a receiver can reject replays of old requests);
//! * `webhook-signature`: `v1,` followed by the base64 HMAC-SHA256 of
//!   `{id}.{timestamp}.{body}` under the shared secret. The header is a space-separated
//!   list so that a secret can be rotated without downtime; we send one signature.
//!
//! The secret is written `whsec_` followed by the base64 of 24 to 64 random bytes; the
//! HMAC key is the decoded bytes, not the text. Generate one with
//! `python3 -c 'import base64,os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())'`.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result, SecretProblem, VerifyError};

/// Header carrying the event id.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the attempt's unix timestamp in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the signature list.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Prefix of a serialised secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Tolerance the reference libraries use when verifying timestamps.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;

/// Standard base64 that accepts the secret with or without `=` padding, as the
/// reference libraries do.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// A webhook signing secret. Its `Debug` output does not reveal it.
#[derive(Clone)]
pub struct SigningKey {
    key: Vec<u8>,
    /// HMAC state after absorbing the key, cloned for each signature.
    keyed: HmacSha256,
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} bytes, redacted)", self.key.len())
    }
}

impl SigningKey {
    /// Parses `whsec_<base64>` (the prefix may be omitted; padding is optional).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecret`] if the text is not base64 or the key is not 24 to 64 bytes.
    pub fn from_whsec(secret: &str) -> Result<Self> {
        Self::parse(secret, None)
    }

    /// Reads the secret from the environment variable `var`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingSecret`] if it is unset; [`Error::InvalidSecret`] as for
    /// [`from_whsec`](Self::from_whsec).
    pub fn from_env(var: &str) -> Result<Self> {
        let value = std::env::var(var).map_err(|_| Error::MissingSecret { var: var.to_owned() })?;
        Self::parse(&value, Some(var))
    }

    pub(crate) fn parse(secret: &str, var: Option<&str>) -> Result<Self> {
        let b64 = secret.trim();
        let b64 = b64.strip_prefix(SECRET_PREFIX).unwrap_or(b64);
        let invalid = |reason| Error::InvalidSecret { var: var.map(str::to_owned), reason };
        let key = LENIENT_BASE64.decode(b64).map_err(|_| invalid(SecretProblem::NotBase64))?;
        Self::from_bytes(key).map_err(|e| match e {
            Error::InvalidSecret { reason, .. } => invalid(reason),
            other => other,
        })
    }

    /// Uses raw key bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecret`] unless there are 24 to 64 bytes.
    pub fn from_bytes(key: Vec<u8>) -> Result<Self> {
        let bad_length =
            || Error::InvalidSecret { var: None, reason: SecretProblem::BadLength(key.len()) };
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(bad_length());
        }
        // HMAC accepts keys of any length; the error arm is unreachable in practice.
        let keyed = HmacSha256::new_from_slice(&key).map_err(|_| bad_length())?;
        Ok(Self { key, keyed })
    }

    /// The secret in `whsec_<base64>` form, to hand to a receiver.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for one attempt: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag))
    }

    /// Verifies a request the way a receiver should: all three headers present, the id
    /// free of `.`, the timestamp within `tolerance` of `now`, and at least one `v1`
    /// signature in the list matching the body (compared in constant time).
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] saying which check failed.
    pub fn verify(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
        tolerance: Duration,
    ) -> Result<()> {
        fn present<'h>(
            v: Option<&'h str>,
            name: &'static str,
        ) -> std::result::Result<&'h str, VerifyError> {
            v.filter(|s| !s.is_empty()).ok_or(VerifyError::MissingHeader(name))
        }
        let id = present(headers.id, HEADER_ID)?;
        let timestamp = present(headers.timestamp, HEADER_TIMESTAMP)?;
        let signatures = present(headers.signature, HEADER_SIGNATURE)?;
        if id.contains('.') {
            return Err(VerifyError::InvalidId.into());
        }
        let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::InvalidTimestamp)?;
        let skew = ts.saturating_sub(now.timestamp());
        let tolerance_secs = tolerance.as_secs();
        if skew.unsigned_abs() > tolerance_secs {
            return Err(
                VerifyError::TimestampOutOfTolerance { skew_secs: skew, tolerance_secs }.into()
            );
        }
        let expected = self.mac(id, ts, body);
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            // `verify_slice` compares in constant time.
            .any(|sig| expected.clone().verify_slice(&sig).is_ok());
        if matched { Ok(()) } else { Err(VerifyError::NoMatchingSignature.into()) }
    }
}

/// The three Standard Webhooks headers of a received request, as found (or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> WebhookHeaders<'a> {
    /// Collects the headers through a case-insensitive lookup function.
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<&'a str>) -> Self {
        Self {
            id: get(HEADER_ID),
            timestamp: get(HEADER_TIMESTAMP),
            signature: get(HEADER_SIGNATURE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    // Published test vector of the Standard Webhooks reference libraries:
    // standard-webhooks/standard-webhooks, libraries/go/webhook_test.go, TestWebhookSign
    // (commit 449485caf9c0303530c19524fbe4096680aafcf1). The same secret, id and payload
    // are used across the other language libraries' tests.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    // A well-formed signature that does not match (from the same file).
    const WRONG_SIGNATURE: &str = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).single().expect("valid timestamp")
    }

    fn headers<'a>(ts: &'a str, sig: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders { id: Some(VECTOR_ID), timestamp: Some(ts), signature: Some(sig) }
    }

    #[test]
    fn matches_the_published_test_vector() {
        let key = SigningKey::from_whsec(VECTOR_SECRET).expect("valid secret");
        assert_eq!(key.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD), VECTOR_SIGNATURE);
        // The prefix is optional, as in the reference libraries.
        let bare =
            SigningKey::from_whsec(&VECTOR_SECRET[SECRET_PREFIX.len()..]).expect("valid secret");
        assert_eq!(bare, key);
        assert_eq!(key.to_whsec(), VECTOR_SECRET);
    }

    #[test]
    fn verifies_the_vector_and_rejects_tampering() {
        let key = SigningKey::from_whsec(VECTOR_SECRET).expect("valid secret");
        let now = at(VECTOR_TIMESTAMP + 10);
        let ts = VECTOR_TIMESTAMP.to_string();
        key.verify(&headers(&ts, VECTOR_SIGNATURE), VECTOR_PAYLOAD, now, DEFAULT_TOLERANCE)
            .expect("verifies");

        let err =
            key.verify(&headers(&ts, WRONG_SIGNATURE), VECTOR_PAYLOAD, now, DEFAULT_TOLERANCE);
        assert!(matches!(err, Err(Error::Verification(VerifyError::NoMatchingSignature))));
        let err = key.verify(
            &headers(&ts, VECTOR_SIGNATURE),
            br#"{"test": 2432232315}"#,
            now,
            DEFAULT_TOLERANCE,
        );
        assert!(matches!(err, Err(Error::Verification(VerifyError::NoMatchingSignature))));
        let later = (VECTOR_TIMESTAMP + 1).to_string();
        let err =
            key.verify(&headers(&later, VECTOR_SIGNATURE), VECTOR_PAYLOAD, now, DEFAULT_TOLERANCE);
        assert!(
            matches!(err, Err(Error::Verification(VerifyError::NoMatchingSignature))),
            "timestamp is signed"
        );
    }

    #[test]
    fn accepts_any_matching_entry_of_a_signature_list() {
        let key = SigningKey::from_whsec(VECTOR_SECRET).expect("valid secret");
        let ts = VECTOR_TIMESTAMP.to_string();
        let list = format!("{WRONG_SIGNATURE} v2,abc v1a,xyz {VECTOR_SIGNATURE}");
        key.verify(&headers(&ts, &list), VECTOR_PAYLOAD, at(VECTOR_TIMESTAMP), DEFAULT_TOLERANCE)
            .expect("verifies");
    }

    #[test]
    fn enforces_the_timestamp_tolerance_both_ways() {
        let key = SigningKey::from_whsec(VECTOR_SECRET).expect("valid secret");
        let ts = VECTOR_TIMESTAMP.to_string();
        let h = headers(&ts, VECTOR_SIGNATURE);
        let tol = DEFAULT_TOLERANCE.as_secs() as i64;
        key.verify(&h, VECTOR_PAYLOAD, at(VECTOR_TIMESTAMP + tol), DEFAULT_TOLERANCE)
            .expect("at the edge");
        let old = key.verify(&h, VECTOR_PAYLOAD, at(VECTOR_TIMESTAMP + tol + 1), DEFAULT_TOLERANCE);
        assert!(matches!(
            old,
            Err(Error::Verification(VerifyError::TimestampOutOfTolerance {
                skew_secs: -301,
                tolerance_secs: 300
            }))
        ));
        let new = key.verify(&h, VECTOR_PAYLOAD, at(VECTOR_TIMESTAMP - tol - 1), DEFAULT_TOLERANCE);
        assert!(matches!(
            new,
            Err(Error::Verification(VerifyError::TimestampOutOfTolerance { skew_secs: 301, .. }))
        ));
    }

    #[test]
    fn rejects_missing_or_malformed_headers() {
        let key = SigningKey::from_whsec(VECTOR_SECRET).expect("valid secret");
        let now = at(VECTOR_TIMESTAMP);
        let ts = VECTOR_TIMESTAMP.to_string();
        let full = headers(&ts, VECTOR_SIGNATURE);
        let cases = [
            (WebhookHeaders { id: None, ..full }, VerifyError::MissingHeader(HEADER_ID)),
            (
                WebhookHeaders { timestamp: Some(""), ..full },
                VerifyError::MissingHeader(HEADER_TIMESTAMP),
            ),
            (
                WebhookHeaders { signature: None, ..full },
                VerifyError::MissingHeader(HEADER_SIGNATURE),
            ),
            (WebhookHeaders { id: Some("a.b"), ..full }, VerifyError::InvalidId),
            (WebhookHeaders { timestamp: Some("12.5"), ..full }, VerifyError::InvalidTimestamp),
        ];
        for (h, want) in cases {
            match key.verify(&h, VECTOR_PAYLOAD, now, DEFAULT_TOLERANCE) {
                Err(Error::Verification(got)) => assert_eq!(got, want),
                other => panic!("{h:?}: expected {want:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn secret_parsing() {
        assert!(matches!(
            SigningKey::from_whsec("whsec_not base64!"),
            Err(Error::InvalidSecret { reason: SecretProblem::NotBase64, .. })
        ));
        // 16 bytes: too short for the spec's 24-byte minimum.
        assert!(matches!(
            SigningKey::from_whsec("whsec_AAAAAAAAAAAAAAAAAAAAAA"),
            Err(Error::InvalidSecret { reason: SecretProblem::BadLength(16), .. })
        ));
        // Padding is optional: 32 bytes with and without `=`.
        let padded = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let key = SigningKey::from_whsec(padded).expect("padded");
        assert_eq!(SigningKey::from_whsec(padded.trim_end_matches('=')).expect("unpadded"), key);
        assert!(!format!("{key:?}").contains("AAEC"), "Debug must not reveal the key");
        let err = SigningKey::parse("whsec_AAAA", Some("MY_SECRET")).expect_err("short");
        assert!(err.to_string().contains("MY_SECRET"), "{err}");
    }
}

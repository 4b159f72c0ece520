//! Signature vectors made or checked by the providers' own official packages (PyPI and
//! npm), for the signing providers whose fixtures have no real signed payload, plus Resend
//! and SendGrid, whose real vectors are in `providers_golden.rs`. The constants come from
//! `bench/vectors/gen_py.py` and `bench/vectors/gen_js.js` (see the README there for the
//! pinned versions); each comment says which package and call produced or confirmed the
//! vector. Where a package can only verify, the generator signs with the standard library
//! and the package's verifier confirms the signature, and refuses the tampered variants
//! (one body byte changed, wrong key, stale timestamp) checked here too.
//!
//! Every vector is signed at TS (2026-01-01T00:00:00Z); the verifiers' clocks were pinned
//! there, and so is `now` here.
//!
//! No official package signs or verifies for Mandrill (checked: `mailchimp-transactional`
//! on PyPI, `@mailchimp/mailchimp_transactional` and `mandrill-api` on npm: API clients
//! only), Postal (`@atech/postal` on npm only sends mail) or ForwardEmail (no package of
//! its own with webhook code on either registry); those keep the vectors of
//! `providers_golden.rs`.

use rebound_core::providers::SourceAuth;
use rebound_core::{Millis, Provider, WebhookRequest};
use serde_json::{json, Value};

/// The signing time of every vector: 2026-01-01T00:00:00Z.
const TS: i64 = 1_767_225_600;
const NOW: Millis = TS * 1000;

/// One byte of the body changed: the first `5` becomes `4`, as the generators do.
fn flip(body: &str) -> String {
    body.replacen('5', "4", 1)
}

fn request(headers: &[(&str, &str)], body: &str) -> WebhookRequest {
    WebhookRequest {
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
        received_at: NOW,
    }
}

fn secret(s: &str) -> SourceAuth<'_> {
    SourceAuth {
        secret: Some(s),
        ..Default::default()
    }
}

/// The same JSON, pretty-printed: the bytes differ, the content does not.
fn reserialized(body: &str) -> String {
    serde_json::to_string_pretty(&serde_json::from_str::<Value>(body).expect("json")).expect("json")
}

/// The attack set for a vector whose signature travels in headers over the raw body:
/// the vector verifies; a changed body byte, a re-serialized body, a wrong key, no key
/// (fail closed), each header missing, empty or truncated are refused, and so is the
/// vector at `stale` (a `now` just outside the provider's tolerance) when it has one.
struct HeaderVector<'a> {
    provider: Provider,
    headers: &'a [(&'a str, &'a str)],
    /// Headers that may be left out (the vector still verifies without them).
    optional: &'a [&'a str],
    body: &'a str,
    auth: SourceAuth<'a>,
    wrong: SourceAuth<'a>,
    /// The last `now` still inside the tolerance and the first outside it.
    window: Option<(Millis, Millis)>,
}

impl HeaderVector<'_> {
    fn check(&self) {
        let p = self.provider;
        let ok = |h: &[(&str, &str)], body: &str, auth: SourceAuth<'_>, now: Millis| {
            p.verify(&request(h, body), auth, now).is_ok()
        };
        assert!(ok(self.headers, self.body, self.auth, NOW), "{p:?}: vector");
        assert!(
            !ok(self.headers, &flip(self.body), self.auth, NOW),
            "{p:?}: body byte changed"
        );
        assert!(
            !ok(self.headers, &reserialized(self.body), self.auth, NOW),
            "{p:?}: re-serialized body"
        );
        assert!(
            !ok(self.headers, self.body, self.wrong, NOW),
            "{p:?}: wrong key"
        );
        assert!(
            !ok(self.headers, self.body, SourceAuth::default(), NOW),
            "{p:?}: no key configured"
        );
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let without: Vec<_> = self
                .headers
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, h)| *h)
                .collect();
            assert_eq!(
                ok(&without, self.body, self.auth, NOW),
                self.optional.contains(name),
                "{p:?}: {name} missing"
            );
            for bad in [String::new(), value[..value.len() - 4].to_string()] {
                let mut h = self.headers.to_vec();
                h[i].1 = &bad;
                assert!(
                    !ok(&h, self.body, self.auth, NOW),
                    "{p:?}: {name} = {bad:?}"
                );
            }
        }
        if let Some((last, stale)) = self.window {
            assert!(
                ok(self.headers, self.body, self.auth, last),
                "{p:?}: last second of the tolerance"
            );
            assert!(
                !ok(self.headers, self.body, self.auth, stale),
                "{p:?}: stale"
            );
            assert!(
                !ok(self.headers, self.body, self.auth, 2 * NOW - stale),
                "{p:?}: from the future"
            );
        }
    }
}

// --- Resend (Svix) --------------------------------------------------------------------

// Signed by PyPI svix 2.9.1: `svix.Webhook(SVIX_SECRET).sign(SVIX_ID, datetime(TS), body)`;
// npm svix 1.99.1 `new Webhook(secret).sign(msgId, new Date(TS * 1000), body)` gives the
// same signature, and both packages' `verify` accept it (and refuse the changed body and
// the stale timestamp) with their clocks at TS.
const SVIX_SECRET: &str = "whsec_cmVib3VuZC1vZmZpY2lhbC12ZWN0b3Ih";
const SVIX_ID: &str = "msg_rebound_vector_01";
const SVIX_BODY: &str = r#"{"type":"email.bounced","created_at":"2026-01-01T00:00:00.000Z","data":{"email_id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c","to":["gone@example.com"],"subject":"Hello","bounce":{"type":"Permanent","subType":"General","message":"550 5.1.1 The email account that you tried to reach does not exist"}}}"#;
const SVIX_SIGNATURE: &str = "v1,x5rRwerUydXoYPR0COkB7Q2bG7pbNYqZ2qjCxbG05Qo=";

#[test]
fn resend_svix_official_vector() {
    let ts = TS.to_string();
    for prefix in ["svix", "webhook"] {
        let (id, t, sig) = (
            format!("{prefix}-id"),
            format!("{prefix}-timestamp"),
            format!("{prefix}-signature"),
        );
        HeaderVector {
            provider: Provider::Resend,
            headers: &[(&id, SVIX_ID), (&t, &ts), (&sig, SVIX_SIGNATURE)],
            body: SVIX_BODY,
            auth: secret(SVIX_SECRET),
            wrong: secret("whsec_b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz"),
            optional: &[],
            window: Some((NOW + 300_000, NOW + 301_000)),
        }
        .check();
    }
    // Several signatures (key rotation): the good one anywhere in the list is enough.
    let rotated = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SVIX_SIGNATURE}");
    let h = [
        ("svix-id", SVIX_ID),
        ("svix-timestamp", &*ts),
        ("svix-signature", &*rotated),
    ];
    assert!(Provider::Resend
        .verify(&request(&h, SVIX_BODY), secret(SVIX_SECRET), NOW)
        .is_ok());
    // The signed id and timestamp are part of the signature.
    let h = [
        ("svix-id", "msg_rebound_vector_02"),
        ("svix-timestamp", &*ts),
        ("svix-signature", SVIX_SIGNATURE),
    ];
    assert!(Provider::Resend
        .verify(&request(&h, SVIX_BODY), secret(SVIX_SECRET), NOW)
        .is_err());
    let next = (TS + 1).to_string();
    let h = [
        ("svix-id", SVIX_ID),
        ("svix-timestamp", &*next),
        ("svix-signature", SVIX_SIGNATURE),
    ];
    assert!(Provider::Resend
        .verify(&request(&h, SVIX_BODY), secret(SVIX_SECRET), NOW)
        .is_err());
    let events = Provider::Resend
        .parse(&request(&[], SVIX_BODY))
        .expect("parse");
    assert_eq!(events.len(), 1);
}

// --- Generic (Standard Webhooks) --------------------------------------------------------

// Signed by PyPI standardwebhooks 1.1.0:
// `standardwebhooks.Webhook(SW_SECRET).sign(SW_ID, datetime(TS), body)`; npm
// standardwebhooks 1.1.1 `new Webhook(secret).sign(msgId, new Date(TS * 1000), body)`
// gives the same. Both packages sign the same with the secret's base64 padding left off
// (SW_SECRET_UNPADDED): to them it is the same key.
const SW_SECRET: &str = "whsec_cmVib3VuZCBzdGFuZGFyZCB3ZWJob29rcyBrZXkgIzE=";
const SW_SECRET_UNPADDED: &str = "whsec_cmVib3VuZCBzdGFuZGFyZCB3ZWJob29rcyBrZXkgIzE";
const SW_ID: &str = "evt_rebound_vector_01";
const SW_BODY: &str = r#"{"id":"evt_rebound_vector_01","type":"bounced.hard","created_at":"2026-01-01T00:00:00Z","data":{"message_id":"msg_01","email":"gone@example.com","bounce_code":"550","bounce_reason":"5.1.1 The email account that you tried to reach does not exist"}}"#;
const SW_SIGNATURE: &str = "v1,YiGcJPkOkHJrXboeGwyLe6N5x7TJDJg4PX+0a11fTS8=";

#[test]
fn generic_standard_webhooks_official_vector() {
    let ts = TS.to_string();
    let headers = [
        ("webhook-id", SW_ID),
        ("webhook-timestamp", &*ts),
        ("webhook-signature", SW_SIGNATURE),
    ];
    for key in [SW_SECRET, SW_SECRET_UNPADDED] {
        assert!(
            Provider::Generic
                .verify(&request(&headers, SW_BODY), secret(key), NOW)
                .is_ok(),
            "{key}"
        );
        HeaderVector {
            provider: Provider::Generic,
            headers: &headers,
            body: SW_BODY,
            auth: secret(key),
            wrong: secret("whsec_cmVib3VuZCBzdGFuZGFyZCB3ZWJob29rcyBrZXkgIzI="),
            optional: &[],
            window: Some((NOW + 300_000, NOW + 301_000)),
        }
        .check();
    }
    let events = Provider::Generic
        .parse(&request(&headers, SW_BODY))
        .expect("parse");
    assert_eq!(events[0].class, Some(rebound_core::BounceClass::Hard));
}

// --- Mailtrap ---------------------------------------------------------------------------

// Signed with Python's hmac (HMAC-SHA256 of the raw body, lowercase hex) and confirmed by
// PyPI mailtrap 2.11.0 `mailtrap.webhooks.verify_signature(body, sig, secret) -> True` and
// npm mailtrap 4.10.0 `verifyWebhookSignature(body, sig, secret) -> true`; both refuse
// the changed body and the wrong secret.
const MAILTRAP_SECRET: &str = "c3f7a0e4b1d24e5f9a8b7c6d5e4f3a2b";
const MAILTRAP_BODY: &str = r#"{"events":[{"event":"bounce","timestamp":1767225600,"sending_stream":"transactional","message_id":"1df37d17-0286-4d8b-8edf-bc4ec5be86e6","email":"gone@example.com","event_id":"bede7236-2284-43d6-a953-1fdcafd0fdbc","response":"bounced (550 5.1.1 The email account that you tried to reach does not exist)","response_code":550,"bounce_category":"hard"}]}"#;
const MAILTRAP_SIGNATURE: &str = "a189c88bdde0ce42aadaef2c47a105a7bf7ac77f576f45ffab95acc7c561d1dc";

#[test]
fn mailtrap_official_vector() {
    HeaderVector {
        provider: Provider::Mailtrap,
        headers: &[("Mailtrap-Signature", MAILTRAP_SIGNATURE)],
        body: MAILTRAP_BODY,
        auth: secret(MAILTRAP_SECRET),
        wrong: secret("other-secret"),
        optional: &[],
        window: None,
    }
    .check();
    // One hex digit of the signature changed.
    let other = format!("b{}", &MAILTRAP_SIGNATURE[1..]);
    assert!(Provider::Mailtrap
        .verify(
            &request(&[("mailtrap-signature", &other)], MAILTRAP_BODY),
            secret(MAILTRAP_SECRET),
            NOW
        )
        .is_err());
    let events = Provider::Mailtrap
        .parse(&request(&[], MAILTRAP_BODY))
        .expect("parse");
    assert_eq!(events.len(), 1);
}

// --- MailerSend -------------------------------------------------------------------------

// Signed with Node's crypto (HMAC-SHA256 of the raw body, hex) and confirmed by npm
// mailersend 3.4.0 `MailerSendUtils.verifyWebHook(body, sig, secret) -> true`, which
// refuses the changed body and the wrong secret. (PyPI mailersend 2.2.0 has no webhook
// signature code.)
const MAILERSEND_SECRET: &str = "Zc8wFUmNVUMcnkkBfSDaSTbUfiN4nQJZ";
const MAILERSEND_BODY: &str = r#"{"type":"activity.hard_bounced","domain_id":"7nxe3yjmeq28vp0k","created_at":"2026-01-01T00:00:00.000000Z","webhook_id":"3vz9dlem1e4kj50y","url":"https://example.com/webhooks/mailersend/k","data":{"id":"63fd251d5c00f8e52001fce6","type":"hard_bounced","created_at":"2026-01-01T00:00:00.000000Z","email":{"status":"rejected","message":{"id":"63fd25194d5edba3da09e044"},"recipient":{"email":"gone@example.com"}},"morph":{"object":"recipient_bounce","reason":"550 5.1.1 User unknown"}}}"#;
const MAILERSEND_SIGNATURE: &str =
    "0f44ee1d52593aeb8cc6ab1f5dfecc004961a6dd082d6a150bebf6829ab2c331";

#[test]
fn mailersend_official_vector() {
    HeaderVector {
        provider: Provider::MailerSend,
        headers: &[("Signature", MAILERSEND_SIGNATURE)],
        body: MAILERSEND_BODY,
        auth: secret(MAILERSEND_SECRET),
        wrong: secret("other-secret"),
        optional: &[],
        window: None,
    }
    .check();
    let events = Provider::MailerSend
        .parse(&request(&[], MAILERSEND_BODY))
        .expect("parse");
    assert_eq!(events[0].class, Some(rebound_core::BounceClass::Hard));
}

// --- Lettermint -------------------------------------------------------------------------

// Signed with Python's hmac (HMAC-SHA256 of "TS.body", hex, header `t=TS,v1=…`) and
// confirmed by PyPI lettermint 3.2.0 `lettermint.Webhook(secret).verify(body, headers)`
// and npm lettermint 2.7.0 `new Webhook(secret).verifyHeaders(headers, body)`, with
// `X-Lettermint-Delivery: TS` and their clocks at TS and TS + 300 s; both refuse the changed
// body, the wrong secret and the clock at TS + 301 s.
const LETTERMINT_SECRET: &str = "whsec_rebound_lettermint_vector_01";
const LETTERMINT_BODY: &str = r#"{"id":"0c1a6b9e-5d0f-4c1e-9b53-7a5f3e2d1c01","event":"message.hard_bounced","timestamp":"2026-01-01T00:00:00Z","data":{"message_id":"m-1","recipient":"gone@example.com","response":{"status_code":550,"enhanced_status_code":"5.1.1","content":"550 5.1.1 User unknown"}}}"#;
const LETTERMINT_SIGNATURE: &str =
    "t=1767225600,v1=8b2a8fb636355da574cf9f7aae52c8b2776a720ff733f5a5a255bf35174daabc";

#[test]
fn lettermint_official_vector() {
    let ts = TS.to_string();
    for headers in [
        &[("X-Lettermint-Signature", LETTERMINT_SIGNATURE)][..],
        &[
            ("X-Lettermint-Signature", LETTERMINT_SIGNATURE),
            ("X-Lettermint-Delivery", &ts),
        ],
    ] {
        HeaderVector {
            provider: Provider::Lettermint,
            headers,
            body: LETTERMINT_BODY,
            auth: secret(LETTERMINT_SECRET),
            wrong: secret("whsec_other"),
            // The SDKs' header-reading `verify` wants X-Lettermint-Delivery; rebound, like
            // the Python SDK's `verify_signature`, takes the signed `t=` without it, and
            // refuses a delivery header that disagrees (below).
            optional: &["X-Lettermint-Delivery"],
            window: Some((NOW + 300_000, NOW + 301_000)),
        }
        .check();
    }
    // A delivery header that is not the signed timestamp is refused, as by both SDKs.
    let next = (TS + 1).to_string();
    let h = [
        ("X-Lettermint-Signature", LETTERMINT_SIGNATURE),
        ("X-Lettermint-Delivery", &*next),
    ];
    assert!(Provider::Lettermint
        .verify(
            &request(&h, LETTERMINT_BODY),
            secret(LETTERMINT_SECRET),
            NOW
        )
        .is_err());
}

// --- Mailgun ----------------------------------------------------------------------------

// Signed with Python's hmac (hex HMAC-SHA256 of timestamp + token) and confirmed by PyPI
// mailgun 1.10.0 `mailgun.security.SecurityGuard.verify_webhook(key, token, ts, sig)`,
// True with its clock at TS and TS + 900 s; False for another key, the token's last digit
// changed, and the clock at TS + 901 s. (npm mailgun.js 14.0.1 has no verifier.)
const MAILGUN_KEY: &str = "key-rebound-mailgun-signing-01";
const MAILGUN_TOKEN: &str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
const MAILGUN_SIGNATURE: &str = "9c336134eeb80b0871b4c10e653e8a7db77b6327c0dae76401fe474348d04062";
const MAILGUN_BODY: &str = r#"{"signature":{"timestamp":"1767225600","token":"a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0","signature":"9c336134eeb80b0871b4c10e653e8a7db77b6327c0dae76401fe474348d04062"},"event-data":{"id":"G9Bn5sl1TC6nu79C8C0bwg","timestamp":1767225600,"event":"failed","severity":"permanent","recipient":"gone@example.com","delivery-status":{"code":550,"message":"5.1.1 User unknown"},"message":{"headers":{"message-id":"20260101000000.1.rebound@example.com"}}}}"#;

#[test]
fn mailgun_official_vector() {
    let p = Provider::Mailgun;
    let ok = |body: &str, key: &str, now: Millis| {
        p.verify(&request(&[], body), secret(key), now).is_ok()
    };
    assert!(ok(MAILGUN_BODY, MAILGUN_KEY, NOW));
    assert!(ok(MAILGUN_BODY, MAILGUN_KEY, NOW + 900_000), "last second");
    assert!(!ok(MAILGUN_BODY, MAILGUN_KEY, NOW + 901_000), "stale");
    assert!(!ok(MAILGUN_BODY, MAILGUN_KEY, NOW - 901_000), "future");
    assert!(!ok(MAILGUN_BODY, "key-other", NOW), "wrong key");
    assert!(
        p.verify(&request(&[], MAILGUN_BODY), SourceAuth::default(), NOW)
            .is_err(),
        "no key configured"
    );
    // The token and the timestamp are what is signed (the event data is not: Mailgun's
    // scheme; the HTTP layer's token cache refuses replays).
    let last = &MAILGUN_TOKEN[MAILGUN_TOKEN.len() - 1..];
    assert_eq!(last, "0");
    let token = format!("{}1", &MAILGUN_TOKEN[..MAILGUN_TOKEN.len() - 1]);
    assert!(!ok(
        &MAILGUN_BODY.replace(MAILGUN_TOKEN, &token),
        MAILGUN_KEY,
        NOW
    ));
    assert!(
        !ok(
            &MAILGUN_BODY.replacen("1767225600", "1767225601", 1),
            MAILGUN_KEY,
            NOW
        ),
        "timestamp changed"
    );
    let mut v: Value = serde_json::from_str(MAILGUN_BODY).expect("json");
    for bad in [
        json!(""),
        json!(&MAILGUN_SIGNATURE[..60]),
        json!(MAILGUN_SIGNATURE.replace('9', "8")),
        Value::Null,
    ] {
        v["signature"]["signature"] = bad.clone();
        assert!(!ok(&v.to_string(), MAILGUN_KEY, NOW), "signature = {bad}");
    }
    v.as_object_mut().expect("object").remove("signature");
    assert!(!ok(&v.to_string(), MAILGUN_KEY, NOW), "unsigned");
    // The timestamp as a JSON number is the same signed string.
    let mut v: Value = serde_json::from_str(MAILGUN_BODY).expect("json");
    v["signature"]["timestamp"] = json!(TS);
    assert!(ok(&v.to_string(), MAILGUN_KEY, NOW));
}

// --- Unisender Go (UniOne) --------------------------------------------------------------

// Signed by PyPI unione-flask 1.2.4 (UniOne's own package; UniOne is Unisender Go's
// international name, the same platform and callback format):
// `unione_wrapper.signature.sign(template, UNISENDER_KEY)`, where the template has
// `"auth":"000…0"` (32 zeros) and the call puts in the MD5 of the body with the key in place
// of the zeros. Its `signature.verify(body, key)` accepts the result and refuses another key
// and the address changed.
const UNISENDER_KEY: &str = "6ykc8xk3b5ndfczr4qwk6ixk8hu3yuyf8f8g6zaa";
const UNISENDER_BODY: &str = r#"{"auth":"bc1fdfd2f929c2d85d445ab483da84c8","events_by_user":[{"user_id":456,"project_id":"6432890213745872","project_name":"rebound","events":[{"event_name":"transactional_email_status","event_data":{"job_id":"1a3Q2V-0000OZ-S0","metadata":{"key1":"val1"},"email":"gone@example.com","status":"hard_bounced","event_time":"2026-01-01 00:00:00","delivery_info":{"delivery_status":"err_user_unknown","destination_response":"550 5.1.1 User unknown","user_agent":null,"ip":"111.111.111.111"}}}]}]}"#;

#[test]
fn unisender_go_official_vector() {
    let p = Provider::UnisenderGo;
    let ok = |body: &str, key: &str| p.verify(&request(&[], body), secret(key), NOW).is_ok();
    assert!(ok(UNISENDER_BODY, UNISENDER_KEY));
    assert!(!ok(UNISENDER_BODY, "other-key"), "wrong key");
    assert!(
        p.verify(&request(&[], UNISENDER_BODY), SourceAuth::default(), NOW)
            .is_err(),
        "no key configured"
    );
    assert!(
        !ok(&UNISENDER_BODY.replace("gone@", "gona@"), UNISENDER_KEY),
        "address changed"
    );
    assert!(
        !ok(&reserialized(UNISENDER_BODY), UNISENDER_KEY),
        "re-serialized"
    );
    let digest = "bc1fdfd2f929c2d85d445ab483da84c8";
    for bad in ["", &digest[..31], "00000000000000000000000000000000"] {
        assert!(
            !ok(&UNISENDER_BODY.replace(digest, bad), UNISENDER_KEY),
            "auth = {bad:?}"
        );
    }
    // The MD5 in upper case is the same digest (the SDK compares it lowercased too).
    assert!(ok(
        &UNISENDER_BODY.replace(digest, &digest.to_ascii_uppercase()),
        UNISENDER_KEY
    ));
    let events = p.parse(&request(&[], UNISENDER_BODY)).expect("parse");
    assert_eq!(events.len(), 1);
}

// --- SendGrid ---------------------------------------------------------------------------

// SendGrid's real vectors are in providers_golden.rs; this one adds the official verifier.
// Signed by npm starkbank-ecdsa 1.2.0 (the ECDSA library @sendgrid/eventwebhook uses):
// `Ecdsa.sign(String(TS) + body, privateKey).toBase64()` with a fixed P-256 key, and
// confirmed by npm @sendgrid/eventwebhook 8.0.0
// `new EventWebhook().verifySignature(pub, body, sig, String(TS)) -> true`, false for the
// changed body and for the timestamp TS + 1. ECDSA signatures are randomized: a rerun gives
// another, equally valid signature.
const SENDGRID_PUBLIC_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+jMRqqCXs9ao0KudIj7GppV1hWhTJoIXUNSsAvcMZJk8+nX1G8C+dP6JqJGCm5pTL7nOghmw2aw8bXYQlVmYiQ==";
const SENDGRID_BODY: &str = concat!(
    r#"[{"email":"gone@example.com","timestamp":1767225600,"event":"bounce","type":"bounce","sg_event_id":"cmVib3VuZC12ZWN0b3ItMDE","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001","reason":"550 5.1.1 The email account that you tried to reach does not exist","status":"5.1.1","smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>"}]"#,
    "\r\n"
);
const SENDGRID_SIGNATURE: &str = "MEQCIFJwc6hUysWb8G6jqec4mQgyATeqJcYnX1WH7iAp/bXWAiAki7mWUCr8M94iq6RGuNxFzsDHE9sQ4yxefmppk8OLlQ==";

#[test]
fn sendgrid_official_verifier_vector() {
    let ts = TS.to_string();
    let config = json!({ "public_key": SENDGRID_PUBLIC_KEY });
    // Another P-256 public key (node's crypto.generateKeyPairSync("ec", prime256v1)).
    let other = json!({ "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhrGSJk7CEf05l+7ErVsaudZXkDdUufHcxMDpBPv+NQLzQlLSzHrDpop5xEX1vFo8JnD9xHlQ7DcAa/STFGguNg==" });
    fn with(c: &Value) -> SourceAuth<'_> {
        SourceAuth {
            config: Some(c),
            ..Default::default()
        }
    }
    HeaderVector {
        provider: Provider::SendGrid,
        headers: &[
            ("X-Twilio-Email-Event-Webhook-Signature", SENDGRID_SIGNATURE),
            ("X-Twilio-Email-Event-Webhook-Timestamp", &ts),
        ],
        body: SENDGRID_BODY,
        auth: with(&config),
        wrong: with(&other),
        optional: &[],
        window: Some((NOW + 600_000, NOW + 601_000)),
    }
    .check();
    assert!(Provider::SendGrid
        .check_public_key(SENDGRID_PUBLIC_KEY)
        .is_ok());
}

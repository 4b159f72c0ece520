//! Signature header parsing on arbitrary headers: no panic, and nothing unsigned verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rebound_core::providers::SourceAuth;
use rebound_core::{Provider, WebhookRequest};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (a, b, c, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let auth = SourceAuth { secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), signature_header: None, ..Default::default() };
    for headers in [
        vec![("x-webhook-signature".to_string(), a.to_string())],
        vec![("webhook-id".to_string(), a.to_string()), ("webhook-timestamp".to_string(), b.to_string()), ("webhook-signature".to_string(), c.to_string())],
    ] {
        let req = WebhookRequest { headers, body: body.as_bytes().to_vec(), received_at: 1_700_000_000_000 };
        assert!(Provider::Generic.verify(&req, auth, req.received_at).is_err());
    }
});

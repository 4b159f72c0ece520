//! Every provider adapter on arbitrary bodies: no panic, same result twice.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rebound_core::{Provider, WebhookRequest};

fuzz_target!(|data: &[u8]| {
    let req = WebhookRequest { headers: vec![], body: data.to_vec(), received_at: 1_700_000_000_000 };
    for p in Provider::ALL {
        let a = p.parse(&req);
        assert_eq!(a, p.parse(&req));
    }
});

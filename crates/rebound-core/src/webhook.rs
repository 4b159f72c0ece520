//! The raw inbound request as a provider adapter sees it.

use crate::Millis;

/// A webhook request: the headers that matter, the exact body bytes, and when it arrived.
/// Signatures are always checked on `body` exactly as received.
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    /// Header names lower-cased; values as received (non-UTF-8 values are dropped).
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When rebound received the request.
    pub received_at: Millis,
}

impl WebhookRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

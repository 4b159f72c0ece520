//! AOL Mail's outbound relay: a DSN marked by `X-AOL-IP`, whose groups have no blank
//! lines between them and whose own failures (DNS) carry an
//! `X-Outbound-Mail-Relay;` diagnostic.

use super::super::mime::{Flat, Headers};
use super::super::Found;
use super::common;
use crate::Reason;

/// AOL's relay wording and the reason it states.
const MESSAGES: &[(&str, Reason)] = &[
    // The MX failure is the more specific: it also says the host was not found.
    (
        "type=MX: Malformed or unexpected name server reply",
        Reason::NotAccept,
    ),
    ("Host or domain name not found", Reason::HostUnknown),
];

/// Parses an AOL bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.headers.has("x-aol-ip") {
        return None;
    }
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        if let Some((_, reason)) = MESSAGES.iter().find(|(m, _)| r.diagnostic.contains(m)) {
            r.reason = Some(*reason);
        }
    }
    Some(Found {
        mta: "aol",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_groups_without_blank_lines() {
        let raw = "From: Postmaster <Postmaster@aol.example>\nX-AOL-IP: 192.0.2.1\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\
Content-Type: message/delivery-status\n\nReporting-MTA: dns; relay.aol.example\n\
Final-Recipient: rfc822; one@example.org\nOriginal-Recipient: rfc822;one@example.org\n\
Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 550 5.2.2 full\n\
Final-Recipient: rfc822; two@example.org\nAction: failed\nStatus: 5.4.4\n\
Diagnostic-Code: X-Outbound-Mail-Relay; Host or domain name not found. Name\n    service error\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records.len(), 2);
        assert_eq!(f.records[0].recipient, "one@example.org");
        assert_eq!(f.records[0].reply_code.as_deref(), Some("550"));
        assert_eq!(f.records[1].status.as_deref(), Some("5.4.4"));
        assert_eq!(f.records[1].reason, Some(Reason::HostUnknown));
    }
}

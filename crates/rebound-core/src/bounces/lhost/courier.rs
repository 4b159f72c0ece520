//! Courier: a DSN (`NOTICE: mail delivery status.`) whose text part quotes the remote
//! server (`<<< …`) or states Courier's own DNS verdict (`No such domain.`), which the
//! delivery-status part does not repeat.

use super::super::mime::{Flat, Headers};
use super::super::{text, Found};
use super::common;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Courier's own messages and the reason each states.
const MESSAGES: &[(&str, Reason)] = &[
    ("No such domain.", Reason::HostUnknown),
    ("This domain's DNS violates RFC 1035.", Reason::SystemError),
    ("DNS lookup failed.", Reason::NetworkError),
];

/// Parses a Courier report.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    let subject = flat.headers.get("subject").unwrap_or("");
    let marked = subject.has("NOTICE: mail delivery status.")
        || subject.has("WARNING: delayed mail.")
        || common::from(flat).has("courier mail server at ");
    if !marked || flat.status.is_empty() {
        return None;
    }
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        if r.diagnostic.trim_fast().is_empty() {
            if let Some(d) = text::diagnostic_for(&flat.text, &r.recipient) {
                r.diagnostic = common::one_line(&d);
            }
        }
        if let Some((_, reason)) = MESSAGES.iter().find(|(m, _)| r.diagnostic.contains(m)) {
            r.reason = Some(*reason);
        }
    }
    Some(Found {
        mta: "courier",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn courier_no_such_domain() {
        let msg = b"From: postmaster@mx.example.org\nSubject: NOTICE: mail delivery status.\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\
Content-Type: text/plain\n\nThis is a delivery status notification from mx.example.org,\n\
running the Courier mail server.\n\n                           UNDELIVERABLE MAIL\n\n\
Your message to the following recipients cannot be delivered:\n\n<who@example.invalid>:\n\
    <<< No such domain.\n\n--b\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; who@example.invalid\n\
Action: failed\nStatus: 5.0.0\n\n--b--\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, Reason::HostUnknown);
        assert_eq!(r[0].mta, "courier");
    }
}

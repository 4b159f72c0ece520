//! Symantec MessageLabs (Email Security.cloud): a DSN sent by `MAILER-DAEMON@messagelabs.com`
//! whose diagnostics are the service's documented replies (`Please turn on SMTP
//! Authentication …`, `542 … Rejected` for an unknown recipient).

use super::super::mime::{Flat, Headers};
use super::super::Found;
use super::{common, rhost};
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses a MessageLabs bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !common::from(flat).has("@messagelabs.com") {
        return None;
    }
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        let lower = r.diagnostic.to_ascii_lowercase();
        r.reason = rhost::messagelabs_words(&lower).or_else(|| {
            (lower.starts_with("542 ") && lower.trim_end().ends_with(" rejected"))
                .then_some(Reason::UserUnknown)
        });
    }
    Some(Found {
        mta: "messagelabs",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_service_replies() {
        let raw = "From: Mail Delivery System <MAILER-DAEMON@messagelabs.com>\n\
Subject: Mail Delivery Failure\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\n\
Delivery failed.\n\n--b\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; server-1.example.messagelabs.com\n\n\
Final-Recipient: rfc822; who@example.org\nAction: failed\nStatus: 5.0.0\n\
Diagnostic-Code: smtp; 542 who@example.org Rejected\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].reason, Some(Reason::UserUnknown));
    }
}

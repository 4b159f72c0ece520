//! Amazon SES inbound (receiving): a DSN from `postmaster@` the receiving domain, sent
//! through SES (`X-SES-Outgoing`), reported by `inbound-smtp.*.amazonaws.com`. Its groups
//! put `Action` before `Final-Recipient`, so it is read group by group.

use super::super::mime::{Flat, Headers};
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// Parses an Amazon SES inbound bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.headers.has("x-ses-outgoing") {
        return None;
    }
    let inbound = flat.status.iter().any(|b| {
        b.lines_fast().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("reporting-mta:") && l.has("inbound-smtp.") && l.has("amazonaws.com")
        })
    });
    if !inbound {
        return None;
    }
    let records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "receivingses",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_groups_in_any_order() {
        let raw = "From: postmaster@example.org\nX-SES-Outgoing: 2020.01.01-192.0.2.1\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\
Content-Type: text/plain\n\nThis message could not be delivered.\n--b\n\
Content-Type: message/delivery-status\n\nReporting-MTA: dns; inbound-smtp.us-east-1.amazonaws.com\n\n\
Action: failed\nFinal-Recipient: rfc822; none@example.org\nDiagnostic-Code: smtp; 550 5.1.1 Mailbox does not exist\n\
Status: 5.1.1\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.recipient, "none@example.org");
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.action.as_deref(), Some("failed"));
    }
}

//! PowerMTA: a `Delivery report` DSN whose recipient groups carry
//! `X-PowerMTA-BounceCategory` (PowerMTA's own verdict) and a `Status` field with a
//! comment that spells out the code's meaning.

use super::super::dsn::{field, unfold};
use super::super::mime::{Flat, Headers};
use super::super::Found;
use super::common;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// PowerMTA's bounce categories and the reason each names.
const CATEGORIES: &[(&str, Reason)] = &[
    ("bad-domain", Reason::HostUnknown),
    ("bad-mailbox", Reason::UserUnknown),
    ("inactive-mailbox", Reason::Suspend),
    ("message-expired", Reason::Expired),
    ("no-answer-from-host", Reason::NetworkError),
    ("policy-related", Reason::PolicyViolation),
    ("quota-issues", Reason::MailboxFull),
    ("routing-errors", Reason::SystemError),
    ("spam-related", Reason::SpamDetected),
];

/// One recipient group's PowerMTA extras: (recipient, category, status comment).
fn extras(flat: &Flat) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for block in &flat.status {
        for line in unfold(block) {
            let Some((name, value)) = field(&line) else {
                continue;
            };
            match name.known() {
                "final-recipient" if out.len() < 1000 => {
                    out.push((value.to_string(), String::new(), String::new()));
                }
                "x-powermta-bouncecategory" => {
                    if let Some(last) = out.last_mut() {
                        last.1 = value.trim_fast().to_ascii_lowercase();
                    }
                }
                "status" => {
                    if let (Some(last), Some((_, c))) = (out.last_mut(), value.split_once('(')) {
                        last.2 = c.trim_end_matches(')').trim_fast().to_string();
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Parses a PowerMTA report.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if flat.status.is_empty() || !common::subject(flat).has("delivery report") {
        return None;
    }
    if !flat
        .status
        .iter()
        .any(|b| b.has("X-PowerMTA-BounceCategory:"))
    {
        return None;
    }
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    let extras = extras(flat);
    for (r, (_, category, comment)) in records.iter_mut().zip(extras.iter()) {
        r.reason = CATEGORIES
            .iter()
            .find(|(c, _)| c == category)
            .map(|(_, reason)| *reason);
        if !comment.is_empty() {
            common::push(&mut r.diagnostic, comment);
        }
    }
    Some(Found {
        mta: "powermta",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn powermta_category() {
        let msg = b"From: postmaster@mta.example.net\nSubject: Delivery report\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\
Content-Type: text/plain\n\nHello, this is the mail server on mta.example.net.\n\n--b\n\
Content-Type: message/delivery-status\n\nReporting-MTA: dns; mta.example.net\n\n\
Final-Recipient: rfc822;who@example.org\nAction: failed\nStatus: 5.0.0 (undefined status)\n\
Diagnostic-Code: smtp;554 delivery error: this user has no account here\n\
X-PowerMTA-BounceCategory: bad-mailbox\n\n--b--\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "powermta");
    }
}

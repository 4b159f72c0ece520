//! Ipswitch IMail Server (`X-Mailer: <SMTP32 v…>`, Subject `Undeliverable Mail`): one line
//! per recipient, `Cause: address` (`Unknown user: a@example.org`) or
//! `undeliverable to address` followed by `Body of message generated response:` and the
//! reply, then `Original message follows.`

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// IMail's causes (line starts) and the reason each states.
const CAUSES: &[(&str, Reason)] = &[
    ("Unknown user", Reason::UserUnknown),
    ("Invalid final delivery userid", Reason::UserUnknown),
    ("User mailbox exceeds allowed size", Reason::MailboxFull),
    (
        "Requested action not taken: virus detected",
        Reason::VirusDetected,
    ),
    ("Delivery failed ", Reason::Expired),
];

/// IMail's session wording and the command it names.
const COMMANDS: &[(&str, &str)] = &[
    ("SMTP connection failed,", "CONN"),
    ("Unexpected connection response from server:", "CONN"),
    ("Unexpected response to EHLO/HELO:", "EHLO"),
    ("Server response to MAIL FROM:", "MAIL"),
    ("Additional RCPT TO generated following response:", "RCPT"),
    ("DATA command generated response:", "DATA"),
];

/// Parses an IMail Server bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    let subject = flat.headers.get("subject").unwrap_or("").trim_fast();
    let mailer = flat.headers.get("x-mailer").unwrap_or("");
    if subject != "Undeliverable Mail" && !mailer.starts_with("<SMTP32 v") {
        return None;
    }
    let report = flat
        .text
        .split_once("\nOriginal message follows.")
        .map_or(flat.text.as_str(), |(a, _)| a);
    let mut records: Vec<Raw> = Vec::new();
    let mut extra = String::new();
    for line in report.lines_fast() {
        let t = line.trim_fast();
        if let Some(rest) = t.strip_prefix("undeliverable to ") {
            if let Some(a) = first_address(rest) {
                records.push(common::record(&a, ""));
            }
            continue;
        }
        if let Some((cause, addr)) = t.rsplit_once(':') {
            let addr = addr.trim_fast();
            if !addr.contains(' ') && cause.contains(' ') && !cause.contains(':') {
                if let Some(a) = first_address(addr) {
                    let mut r = common::record(&a, cause);
                    r.reason = CAUSES
                        .iter()
                        .find(|(c, _)| cause.starts_with(c))
                        .map(|(_, r)| *r);
                    records.push(r);
                    continue;
                }
            }
        }
        if !extra.is_empty() || t.starts_with("Body of message generated response:") {
            common::push(&mut extra, t);
        }
    }
    if records.is_empty() {
        return None;
    }
    let command = COMMANDS
        .iter()
        .find(|(w, _)| extra.contains(w))
        .map(|(_, c)| c.to_string());
    for r in &mut records {
        if !extra.is_empty() {
            let words = extra
                .split_once("response:")
                .map_or(extra.as_str(), |(_, w)| w.trim_fast());
            let joined = format!("{} {}", words, r.diagnostic);
            let fresh = common::record(&r.recipient, &joined);
            r.diagnostic = fresh.diagnostic;
            r.status = fresh.status;
            r.reply_code = fresh.reply_code;
        }
        if r.smtp_command.is_none() {
            r.smtp_command = command.clone();
        }
    }
    Some(Found {
        mta: "imailserver",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_a_cause_line() {
        let raw = "From: postmaster@example.net\nSubject: Undeliverable Mail\n\n\
User mailbox exceeds allowed size: who@example.net\n\n\nOriginal message follows.\n\nTo: who@example.net\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records.len(), 1);
        assert_eq!(f.records[0].recipient, "who@example.net");
        assert_eq!(f.records[0].reason, Some(Reason::MailboxFull));
    }
}

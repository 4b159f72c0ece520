//! 1&1 (kundenserver.de): Exim-like `Mail delivery failed: returning message to sender`
//! reports whose recipients stand alone on a line and whose reasons follow
//! `For the following reason:`, or an SMTP error on the line after the address.

use super::super::mime::{Flat, Headers};
use super::super::text::addresses;
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses a 1&1 bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if common::subject(flat) != "mail delivery failed: returning message to sender"
        || !flat
            .headers
            .get("from")
            .is_some_and(|f| f.trim_start().starts_with("\"Mail Delivery System\""))
        || !flat.status.is_empty()
    {
        return None;
    }
    let report = flat.report();
    let start = report.find("This message was created automatically by mail delivery software")?;
    let mut records: Vec<super::super::Raw> = Vec::new();
    for line in report
        .get(start..)
        .unwrap_or("")
        .lines_fast()
        .skip(1)
        .take(2000)
    {
        let t = line.trim_fast();
        if t.is_empty() {
            continue;
        }
        let bare = t.trim_end_matches(':');
        if !bare.contains(' ') && addresses(bare).len() == 1 {
            if records.len() < 100 {
                records.push(common::record(bare, ""));
            }
            continue;
        }
        if let Some(r) = records.last_mut() {
            let t = t.strip_prefix("For the following reason:").unwrap_or(t);
            common::push(&mut r.diagnostic, t);
        }
    }
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        let d = common::one_line(&r.diagnostic);
        *r = common::record(&r.recipient, &d);
        if d.has("for TEXT command") {
            r.smtp_command = Some("DATA".to_string());
        }
        if d.has("Mail size limit exceeded") {
            r.reason = Some(Reason::MesgTooBig);
        }
    }
    Some(Found {
        mta: "einsundeins",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn einsundeins_size_limit() {
        let msg = b"From: \"Mail Delivery System\" <mailer-daemon@kundenserver.example>\n\
Subject: Mail delivery failed: returning message to sender\nContent-Type: text/plain\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of\n\
its recipients. This is a permanent error.\n\nThe following address failed:\n\n\
who@example.org\n\nFor the following reason:\n\nMail size limit exceeded.\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::MesgTooBig);
        assert_eq!(r[0].mta, "einsundeins");
    }
}

//! MailFoundry: `Message delivery has failed`, relayed by a host that stamps
//! `(MAILFOUNDRY) id` in its `Received` fields. `Unable to deliver message to: <addr>`
//! names the recipient; the lines after `Delivery failed for the following reason:` hold
//! the remote server's reply.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// Parses a MailFoundry bounce.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    if common::subject(flat) != "message delivery has failed" {
        return None;
    }
    let stamped = |h: &Headers| h.all("received").any(|v| v.has("(MAILFOUNDRY) id"));
    if !stamped(&flat.headers) && !stamped(original) {
        return None;
    }
    let mut records = Vec::new();
    let mut reading = false;
    for line in flat.report().lines_fast().take(2000) {
        let t = line.trim_fast();
        if let Some(rest) = t.strip_prefix("Unable to deliver message to:") {
            reading = false;
            if let Some(a) = first_address(rest) {
                if records.len() < 100 {
                    records.push(common::record(&a, ""));
                }
            }
        } else if t.starts_with("Delivery failed for the following reason:") {
            reading = true;
        } else if t.is_empty() {
            reading = false;
        } else if reading {
            if let Some(r) = records.last_mut() {
                let mut d = std::mem::take(&mut r.diagnostic);
                common::push(&mut d, t);
                *r = common::record(&r.recipient, &d);
            }
        }
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "mailfoundry",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn mailfoundry_reason_lines() {
        let msg = b"From: MAILER-DAEMON@gw.example.org\n\
Subject: Message delivery has failed\n\
Received: from a.example.net by gw.example.org (MAILFOUNDRY) id 1234\n\
Content-Type: text/plain\n\n\
Unable to deliver message to: <who@example.org>\n\
Delivery failed for the following reason:\n\
mx.example.org[192.0.2.1] responded with failure: 552 mailbox who@example.org is over quota\n\n\
This has been a permanent failure.\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reply_code.as_deref(), Some("552"));
        assert_eq!(r[0].reason, Reason::MailboxFull);
        assert_eq!(r[0].mta, "mailfoundry");
    }
}

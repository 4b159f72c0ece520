//! An unnamed MTA (Sisimai's "X1"): `"Mail Deliver System"` sends `Returned Mail: …`
//! with one `address [reason]` line per recipient.

use super::super::mime::{Flat, Headers};
use super::super::text::addresses;
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// Parses an X1 bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !common::subject(flat).starts_with("returned mail: ")
        || !common::from(flat).has("mail deliver system")
    {
        return None;
    }
    let mut records = Vec::new();
    for line in flat.report().lines_fast().take(2000) {
        let t = line.trim_fast();
        let Some(words) = t.strip_suffix(']') else {
            continue;
        };
        let Some((addr, reason)) = words.split_once(" [") else {
            continue;
        };
        let addr = addr.trim_fast();
        if addr.contains(' ') || addresses(addr).len() != 1 || records.len() >= 100 {
            continue;
        }
        records.push(common::record(addr, reason));
    }
    if records.is_empty() {
        return None;
    }
    Some(Found { mta: "x1", records })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn x1_bracketed_reason() {
        let msg = b"From: \"Mail Deliver System\" <MAILER-DAEMON@mx.example.org>\n\
Subject: Returned Mail: User unknown\nContent-Type: text/plain\n\n\
The original message was received at Mon, 1 Jan 2024 00:00:00 +0900\n\n\
---The following addresses had delivery errors---\n\n\
who@example.org [User unknown]\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::Filtered);
        assert_eq!(r[0].mta, "x1");
    }
}

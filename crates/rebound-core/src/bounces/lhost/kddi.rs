//! KDDI (au one net, `dion.ne.jp`): a Japanese notice, then the server's English words:
//! `Your mail sent on: <date>`, an indented `Could not be delivered to: <addr>` and an
//! indented cause (`As their mailbox is full.`).

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// KDDI's causes and the reason each states.
const MESSAGES: &[(&str, Reason)] = &[
    ("As their mailbox is full", Reason::MailboxFull),
    ("Due to the following SMTP relay error", Reason::NoRelaying),
    ("As the remote domain doesnt exist", Reason::HostUnknown),
];

/// Parses a KDDI bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    let from = common::from(flat);
    let own = (from.has("no-reply@") && from.has(".dion.ne.jp"))
        || flat.headers.get("reply-to") == Some("no-reply@app.auone-net.jp")
        || flat
            .lower
            .all("received")
            .any(|v| has_literal!(v, "ezweb.ne.jp (") || has_literal!(v, ".au.com ("));
    if !own {
        return None;
    }
    let mut records: Vec<Raw> = Vec::new();
    let mut started = false;
    for line in flat.text.lines_fast() {
        let t = line.trim_fast();
        if !started {
            started = t.starts_with("Your mail sent on")
                || t.starts_with("Your mail attempted to be delivered on");
            continue;
        }
        if let Some(rest) = t.strip_prefix("Could not be delivered to:") {
            if let Some(a) = first_address(rest) {
                records.push(common::record(&a, ""));
            }
        } else if line.starts_with([' ', '\t']) && !t.is_empty() {
            if let Some(r) = records.last_mut() {
                common::push(&mut r.diagnostic, t);
            }
        } else if t.starts_with("--") {
            break;
        }
    }
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        if flat.headers.get("x-spasign") == Some("NG") {
            r.reason = Some(Reason::Filtered);
        } else if let Some((_, reason)) = MESSAGES.iter().find(|(m, _)| r.diagnostic.contains(m)) {
            r.reason = Some(*reason);
        }
    }
    Some(Found {
        mta: "kddi",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_a_full_mailbox() {
        let raw = concat!(
            "From: no-reply@abc.dion.ne.jp\nSubject: Mail\n\n",
            "Your mail sent on: Mon, 1 Jan 2024 00:00:00 +0900\n",
            "     Could not be delivered to: <who@abc.dion.ne.jp>\n",
            "     As their mailbox is full.\n",
        );
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].recipient, "who@abc.dion.ne.jp");
        assert_eq!(f.records[0].reason, Some(Reason::MailboxFull));
        assert_eq!(f.records[0].diagnostic, "As their mailbox is full.");
    }
}

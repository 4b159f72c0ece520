//! fml (a mailing-list manager): notices from `list-admin@` with an `X-MLServer` field,
//! refusing a post from a non-member, reporting a loop or a security alert. The address
//! named `<addr>.` at a line's end is the recipient.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Words of the notice (case-sensitive) and the reason they state.
const WORDS: &[(&str, Reason)] = &[
    ("NOT MEMBER article from ", Reason::Rejected),
    ("reject mail from ", Reason::Rejected),
    ("reject spammers:", Reason::Rejected),
    (
        "You are not a member of this mailing list",
        Reason::Rejected,
    ),
    ("Duplicated Message-ID", Reason::SystemError),
    ("has detected a loop condition so that", Reason::SystemError),
    ("Loop Back Warning:", Reason::SystemError),
    ("Security alert:", Reason::SecurityError),
];

/// Subject wording when the body says nothing the table knows.
const TITLES: &[(&str, Reason)] = &[
    ("NOT MEMBER article from ", Reason::Rejected),
    ("Spam mail from a spammer is rejected", Reason::Rejected),
    (" are not member", Reason::Rejected),
    ("fml system error message", Reason::SystemError),
    ("Loop Alert: ", Reason::SystemError),
    ("Loop Back Warning: ", Reason::SystemError),
    ("WARNING: UNIX FROM Loop", Reason::SystemError),
    ("Security Alert", Reason::SecurityError),
];

/// Parses an fml notice.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.headers.has("x-mlserver") || !common::from(flat).has("-admin@") {
        return None;
    }
    let body = flat
        .text
        .split("Original mail as follows:")
        .next()
        .unwrap_or("");
    let mut recipient = None;
    for line in body.lines_fast().take(500) {
        let t = line.trim_end();
        if let Some(head) = t.strip_suffix(">.") {
            if let Some((_, a)) = head.rsplit_once('<') {
                if let Some(a) = first_address(a) {
                    recipient = Some(a);
                    break;
                }
            }
        }
    }
    let recipient = recipient?;
    let diagnostic = common::one_line(body);
    let subject = flat.headers.get("subject").unwrap_or("");
    let reason = WORDS
        .iter()
        .find(|(w, _)| diagnostic.contains(w))
        .or_else(|| TITLES.iter().find(|(w, _)| subject.contains(w)))
        .map(|(_, r)| *r);
    let mut r = common::record(&recipient, &diagnostic);
    r.reason = reason;
    Some(Found {
        mta: "fml",
        records: vec![r],
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn fml_not_member() {
        let msg = b"From: list-admin@example.org\nX-MLServer: fml [fml 4.0]\n\
Subject: You a@example.net are not member (list ML)\nContent-Type: text/plain\n\n\
You are not a member of this mailing list <list@example.org>.\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("list@example.org"));
        assert_eq!(r[0].reason, Reason::Rejected);
        assert_eq!(r[0].mta, "fml");
    }
}

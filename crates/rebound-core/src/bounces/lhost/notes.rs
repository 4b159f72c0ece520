//! Lotus Notes SMTP MTA: `Undeliverable message`, with the reasons and the recipients
//! between `------- Failure Reasons --------` and `------- Returned Message --------`.

use super::super::mime::{Flat, Headers};
use super::super::text::addresses;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Notes' messages (spaces collapsed) and the reason each states.
const MESSAGES: &[(&str, Reason)] = &[
    (
        "User not listed in public Name & Address Book",
        Reason::UserUnknown,
    ),
    (
        "Message has exceeded maximum hop count",
        Reason::NetworkError,
    ),
];

/// Parses a Lotus Notes report.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    if !flat
        .headers
        .get("subject")
        .is_some_and(|s| s.trim_start().starts_with("Undeliverable message"))
        || !flat.status.is_empty()
    {
        return None;
    }
    let start = flat.text.find("------- Failure Reasons ")?;
    let part = flat.text.get(start..).unwrap_or("");
    let part = part
        .find("------- Returned Message --------")
        .and_then(|end| part.get(..end))
        .unwrap_or(part);
    let mut records: Vec<Raw> = Vec::new();
    let mut words = String::new();
    for line in part.lines_fast().skip(1).take(2000) {
        let t = line.trim_fast();
        if t.is_empty() || t.starts_with('-') {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        if !line.starts_with(' ') && first.contains('@') && addresses(first).len() == 1 {
            if records.len() < 100 {
                let mut r = common::record(first, "");
                r.diagnostic = std::mem::take(&mut words);
                records.push(r);
            }
        } else {
            common::push(&mut words, t);
        }
    }
    if records.is_empty() {
        let to = original
            .get("to")
            .and_then(|v| addresses(v).into_iter().next());
        records.push(common::record(&to?.1, ""));
    }
    if !words.is_empty() {
        if let Some(r) = records.last_mut() {
            common::push(&mut r.diagnostic, &words);
        }
    }
    for r in &mut records {
        let d = common::one_line(&r.diagnostic);
        *r = common::record(&r.recipient, &d);
        r.reason = MESSAGES
            .iter()
            .find(|(m, _)| d.contains(m))
            .map(|(_, reason)| *reason);
    }
    Some(Found {
        mta: "notes",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn notes_name_and_address_book() {
        let msg = b"From: POSTMASTER@gw.example.com\nSubject: Undeliverable message\n\
Content-Type: text/plain\n\n------- Failure Reasons  --------\n\n\
User  not listed in public Name & Address Book\nwho@example.com\n\n\
------- Returned Message --------\nFrom: me@example.net\nTo: who@example.com\n\nhello\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.com"));
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "notes");
    }
}

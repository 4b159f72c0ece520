//! Microsoft Exchange 5.5 / 2000 / 2003 (`Internet Mail Service`): `Your message … did not
//! reach the following recipient(s):`, then `address on date` and an indented
//! `MSEXCH:…(XXXXXXXX)` line whose hexadecimal code names the failure.

use super::super::mime::{Flat, Headers};
use super::super::text::addresses;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Exchange's failure codes and their meaning.
const CODES: &[(&str, Reason)] = &[
    ("000B099C", Reason::OnHold),
    ("000B09AA", Reason::OnHold),
    ("000B09B6", Reason::OnHold),
    ("000C05A6", Reason::UserUnknown),
    ("00010256", Reason::SystemError),
    ("000D06B5", Reason::SystemError),
    ("00120270", Reason::NetworkError),
    ("00050311", Reason::ContentError),
    ("000502CC", Reason::ContentError),
    ("000B0981", Reason::SecurityError),
    ("000C0595", Reason::Filtered),
];

fn is_exchange(flat: &Flat) -> bool {
    let h = &flat.headers;
    h.has("x-ms-embedded-report")
        || h.get("x-mailer").is_some_and(|v| {
            let v = v.trim_start();
            v.starts_with("Internet Mail Service (")
                || v.starts_with("Microsoft Exchange Server Internet Mail Connector")
        })
        || h.get("x-mimeole")
            .is_some_and(|v| v.trim_start().starts_with("Produced By Microsoft Exchange"))
        || h.all("received")
            .any(|v| has_literal!(v, " with Internet Mail Service ("))
}

/// Parses an Exchange 2003 report.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.status.is_empty() || !is_exchange(flat) {
        return None;
    }
    let report = flat.report();
    let at = report.find("did not reach the following recipient")?;
    let mut records: Vec<Raw> = Vec::new();
    for line in report
        .get(at..)
        .unwrap_or("")
        .lines_fast()
        .skip(1)
        .take(2000)
    {
        let t = line.trim_fast();
        if let Some(code_line) = t.strip_prefix("MSEXCH:") {
            let Some(r) = records.last_mut() else {
                continue;
            };
            let reason = code_line.split_once('(').and_then(|(_, rest)| {
                let code = rest.get(..8)?;
                CODES.iter().find(|(c, _)| *c == code).map(|(_, r)| *r)
            });
            common::push(&mut r.diagnostic, t);
            if reason.is_some() {
                r.reason = reason;
            }
            continue;
        }
        let Some((addr, _)) = t.split_once(" on ") else {
            if let Some(r) = records.last_mut() {
                if r.reason.is_none() && !t.is_empty() {
                    common::push(&mut r.diagnostic, t);
                }
            }
            continue;
        };
        // `address on date`, or `Name (SMTP=address) on date`.
        let addr = addr.rsplit("SMTP=").next().unwrap_or(addr);
        let found = addresses(addr);
        match found.first() {
            Some((_, a)) if records.len() < 100 => records.push(common::record(a, "")),
            _ => {}
        }
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "exchange2003",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn exchange2003_code() {
        let msg = b"From: System Administrator <postmaster@example.org>\n\
Subject: Undeliverable: hello\nX-Mailer: Internet Mail Service (5.5.2653.19)\n\
Content-Type: text/plain\n\n\
Your message\n\n  To:      who@example.org\n  Subject: hello\n\n\
did not reach the following recipient(s):\n\n\
who@example.org on Mon, 1 Jan 2024 00:00:00 +0000\n\
    The recipient name is not recognized\n\
    MSEXCH:IMS:ORG:SITE:SERVER 0 (000C05A6) Unknown Recipient\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "exchange2003");
    }
}

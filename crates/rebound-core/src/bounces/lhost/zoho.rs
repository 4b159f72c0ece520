//! Zoho Mail: `X-ZohoMail` reports with one `address  reason` line per recipient (or a
//! `[Status: …<address>, …]` line for a delay) after `This message was created
//! automatically by mail delivery software.`

use super::super::mime::{Flat, Headers};
use super::super::text::{addresses, first_address};
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses a Zoho Mail report.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.headers.has("x-zohomail") || !flat.status.is_empty() {
        return None;
    }
    let report = flat.report();
    let start = report.find("This message was created automatically by mail delivery")?;
    let mut records: Vec<Raw> = Vec::new();
    for line in report
        .get(start..)
        .unwrap_or("")
        .lines_fast()
        .skip(1)
        .take(2000)
    {
        let t = line.trim_fast();
        if t.starts_with("Received:") {
            break;
        }
        let named = if let Some((addr, words)) = t.split_once([' ', '\t']) {
            (addresses(addr).len() == 1 && addr.contains('@') && !addr.starts_with('['))
                .then(|| (addr.to_string(), words.trim_fast()))
        } else {
            None
        };
        let named = named.or_else(|| {
            t.starts_with("[Status: ")
                .then(|| t.split_once('<').and_then(|(_, r)| first_address(r)))
                .flatten()
                .map(|a| (a, t))
        });
        if let Some((addr, words)) = named {
            if records.len() < 100 {
                let mut r = common::record(&addr, words);
                if words.has("Host not reachable") {
                    r.reason = Some(Reason::Expired);
                }
                records.push(r);
            }
        }
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "zoho",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn zoho_two_recipients() {
        let msg = b"From: mailer-daemon@mail.zoho.example\nX-ZohoMail: Si\n\
Subject: Undelivered Mail Returned to Sender\nContent-Type: text/plain\n\n\
This message was created automatically by mail delivery software.\n\
A message that you sent could not be delivered to one or more of its recipients.\n\n\
a@example.org Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <a@example.org>... User Unknown\n\
b@example.org Invalid Address, ERROR_CODE :550, ERROR_CODE :5.2.2 <b@example.org>... Mailbox Full\n";
        let r = parse(msg);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].recipient.as_deref(), Some("b@example.org"));
        assert_eq!(r[1].reason, Reason::MailboxFull);
        assert_eq!(r[0].mta, "zoho");
    }
}

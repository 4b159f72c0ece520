//! Apache James and the Verizon gateways built on it: `Error: …` / `Error message below:`
//! then `Message details:` with an indented `RCPT TO: addr`. Verizon's MMS gateway
//! (`sysadmin@….vzwpix.com`) says `Message could not be delivered to mobile.` and names
//! the recipient in the original's `To:` line.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Which variant a message is.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    James,
    VerizonText,
    VerizonMms,
}

fn kind(flat: &Flat) -> Option<Kind> {
    let from = common::from(flat);
    let from = from.trim_fast();
    if from == "post_master@vtext.com" {
        return Some(Kind::VerizonText);
    }
    if from.has("sysadmin@") && from.trim_end_matches('>').ends_with(".vzwpix.com") {
        return Some(Kind::VerizonMms);
    }
    let h = &flat.headers;
    let james = h
        .get("subject")
        .is_some_and(|s| s.trim_fast() == "[BOUNCE]")
        || h.get("message-id").is_some_and(|m| m.has(".JavaMail."))
        || h.all("received").any(|r| r.has("JAMES SMTP Server"));
    james.then_some(Kind::James)
}

/// Parses an Apache James (or Verizon) bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.status.is_empty() {
        return None;
    }
    let kind = kind(flat)?;
    let mut records: Vec<Raw> = Vec::new();
    let mut words = String::new();
    let mut details = false;
    let text = if kind == Kind::VerizonMms {
        flat.text.as_str()
    } else {
        flat.report()
    };
    for line in text.lines_fast().take(2000) {
        let t = line.trim_fast();
        if t.is_empty() {
            continue;
        }
        let rcpt = match kind {
            Kind::VerizonMms => line.strip_prefix("To:"),
            _ => t.strip_prefix("RCPT TO:"),
        };
        if let Some(a) = rcpt.and_then(first_address) {
            if records.len() < 100 {
                records.push(common::record(&a, ""));
            }
            continue;
        }
        if t == "Message details:" || t == "Original Message:" {
            details = true;
        }
        let keep = match kind {
            Kind::James => !details,
            Kind::VerizonText => t.get(..6).is_some_and(|p| {
                p.as_bytes().iter().take(3).all(u8::is_ascii_digit) && p.get(3..) == Some(" - ")
            }),
            Kind::VerizonMms => t.starts_with("Error:"),
        };
        if keep && words.len() < 2000 {
            common::push(&mut words, t);
        }
    }
    if records.is_empty() {
        return None;
    }
    for r in &mut records {
        *r = common::record(&r.recipient, &words);
        let unknown = match kind {
            Kind::James => false,
            Kind::VerizonText => words.has("Requested action not taken: no such user here"),
            Kind::VerizonMms => words.has("No valid recipients for this MM"),
        };
        if unknown {
            r.reason = Some(Reason::UserUnknown);
        }
    }
    Some(Found {
        mta: match kind {
            Kind::James => "apachejames",
            _ => "verizon",
        },
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn verizon_no_such_user() {
        let msg = b"From: post_master@vtext.com\nSubject: Re: hello\nContent-Type: text/plain\n\n\
Error: Invalid user address\n\nError message below:\n\
550 - Requested action not taken: no such user here\n\nMessage details:\n\
  Subject: hello\n  MAIL FROM: me@example.net\n  RCPT TO: 5550100@vtext.com\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("5550100@vtext.com"));
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "verizon");
    }
}

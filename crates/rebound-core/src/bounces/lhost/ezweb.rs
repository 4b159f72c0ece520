//! au by KDDI (EZweb): `Mail System Error - Returned Mail` from `Postmaster@ezweb.ne.jp`
//! or `Postmaster@au.com`. A fixed sentence states the reason (`The user(s) account is
//! disabled.`), then the recipients follow as `<addr>` lines, or as `Recipient: <addr>`
//! with the SMTP exchange below.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// EZweb's sentences and the reason each states.
const MESSAGES: &[(&str, Reason)] = &[
    ("Your message was not delivered within ", Reason::Expired),
    (
        "The user(s) account is temporarily over quota",
        Reason::MailboxFull,
    ),
    (
        "Each of the following recipients was rejected by a remote mail server",
        Reason::OnHold,
    ),
    ("The user(s) account is disabled.", Reason::Suspend),
    (
        "The user(s) account is temporarily limited.",
        Reason::Suspend,
    ),
];

const STARTS: &[&str] = &[
    "The user(s) ",
    "Your message ",
    "Each of the following",
    "<",
];

fn cues(flat: &Flat) -> usize {
    let h = &flat.headers;
    let from = h.get("from").unwrap_or("");
    let mid = h.get("message-id").unwrap_or("");
    let cheap = usize::from(from.has("Postmaster@ezweb.ne.jp"))
        + usize::from(from.has("Postmaster@au.com"))
        + usize::from(h.get("subject").map(str::trim) == Some("Mail System Error - Returned Mail"))
        + usize::from(mid.has(".ezweb.ne.jp>"))
        + usize::from(mid.has(".au.com>"));
    // The Received fields count once at most: without another cue they cannot make two.
    if cheap == 0 {
        return 0;
    }
    cheap
        + usize::from(
            h.all("received")
                .any(|r| r.has("ezweb.ne.jp (EZweb Mail) with") || r.has(".au.com (")),
        )
}

/// Parses an EZweb bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if cues(flat) < 2 {
        return None;
    }
    let mut records: Vec<Raw> = Vec::new();
    let mut preface = String::new();
    let mut reading = false;
    for line in flat.text.lines_fast().take(2000) {
        if line.starts_with("--------------------------------------------------")
            || line.starts_with("Content-Type: message/rfc822")
        {
            break;
        }
        if !reading {
            reading = STARTS.iter().any(|s| line.starts_with(s));
        }
        let t = line.trim_fast();
        if !reading || t.is_empty() || !t.is_ascii() {
            continue;
        }
        let names = line.starts_with('<') || line.find("Recipient: <").is_some_and(|p| p > 1);
        if names && t.contains('>') {
            if let Some(a) = first_address(t) {
                if records.len() < 100 {
                    let mut r = common::record(&a, "");
                    r.diagnostic = t.to_string();
                    records.push(r);
                }
                continue;
            }
        }
        match records.last_mut() {
            Some(r) => common::push(&mut r.diagnostic, t),
            None => common::push(&mut preface, t),
        }
    }
    if records.is_empty() {
        return None;
    }
    let dsn = common::dsn_records(flat);
    let spam = flat.headers.get("x-spasign").map(str::trim) == Some("NG");
    for r in &mut records {
        let mut d = preface.clone();
        common::push(&mut d, &r.diagnostic);
        let mut rec = common::record(&r.recipient, &d);
        if let Some(s) = dsn
            .iter()
            .find(|x| x.recipient.eq_ignore_ascii_case(&rec.recipient))
        {
            rec.status = rec.status.or_else(|| s.status.clone());
        }
        rec.smtp_command = common::smtp_command(&d).filter(|c| c != "CONN");
        rec.reason = if spam {
            Some(Reason::Filtered)
        } else {
            MESSAGES
                .iter()
                .find(|(m, _)| d.contains(m))
                .map(|(_, r)| *r)
        };
        let own = {
            let l = rec.recipient.to_ascii_lowercase();
            l.ends_with("@ezweb.ne.jp") || l.ends_with("@au.com")
        };
        if rec.reason.is_none() && !own && d.starts_with('<') {
            rec.reason = Some(Reason::UserUnknown);
        }
        *r = rec;
    }
    Some(Found {
        mta: "ezweb",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn ezweb_disabled_account() {
        let msg = b"From: Postmaster@ezweb.ne.jp\nSubject: Mail System Error - Returned Mail\n\
Content-Type: text/plain\n\nThe user(s) account is disabled.\n\n<someone@ezweb.ne.jp>\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("someone@ezweb.ne.jp"));
        assert_eq!(r[0].reason, Reason::Suspend);
        assert_eq!(r[0].mta, "ezweb");
    }
}

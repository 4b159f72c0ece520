//! Google Workspace (G Suite) and Gmail's current bounce: a DSN from
//! `mailer-daemon@googlemail.com` whose text part opens with `** Address not found **`
//! (or another `** … **` title) and quotes the remote reply after `The response was:`.
//! Google's DNS failures (`… responded with code NXDOMAIN`, `Null MX`) are its own words.

use super::super::mime::{Flat, Headers};
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Google's wording and the reason it states.
const MESSAGES: &[(&str, Reason)] = &[
    (
        "because the address couldn't be found. Check for typos or unnecessary spaces",
        Reason::UserUnknown,
    ),
    ("Null MX", Reason::NotAccept),
    (
        "was rejected due to spam classification",
        Reason::SpamDetected,
    ),
    (" had no relevant answers.", Reason::NetworkError),
    (" responded with code NXDOMAIN", Reason::NetworkError),
];

/// Parses a Google Workspace bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !common::from(flat).has("<mailer-daemon@googlemail.com>")
        || !common::subject(flat).has("delivery status notification")
        || !flat.headers.has("x-gm-message-state")
        || flat.status.is_empty()
    {
        return None;
    }
    let text = flat.report();
    let titled = text.lines_fast().any(|l| {
        let t = l.trim_fast();
        t.len() > 6 && t.starts_with("** ") && t.ends_with(" **")
    });
    if !titled {
        return None;
    }
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        return None;
    }
    let response = quoted_response(text);
    let intro = text
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty() && !p.starts_with("**"))
        .map(common::one_line)
        .unwrap_or_default();
    for r in &mut records {
        if r.diagnostic.is_empty() {
            r.diagnostic = response.clone().unwrap_or_else(|| intro.clone());
            r.reply_code = common::reply_code(&r.diagnostic);
        }
        if let Some(m) = r.remote_mta.as_mut() {
            // `mx.example.org. (192.0.2.1, the server for the domain example.org.)`
            let host = m.split_whitespace().next().unwrap_or("");
            *m = host.trim_end_matches('.').to_string();
        }
        let both = format!("{} {}", r.diagnostic, intro);
        if let Some((_, reason)) = MESSAGES.iter().find(|(m, _)| both.has(m)) {
            r.reason = Some(*reason);
        }
    }
    Some(Found {
        mta: "gsuite",
        records,
    })
}

/// The lines after `The response was:` (or `The response from the remote server was:`),
/// up to the next blank line.
fn quoted_response(text: &str) -> Option<String> {
    let mut lines = text.lines_fast();
    lines.find(|l| {
        let t = l.trim_fast();
        t == "The response was:" || t == "The response from the remote server was:"
    })?;
    let mut out = String::new();
    let mut started = false;
    for l in lines.take(40) {
        let t = l.trim_fast();
        if t.is_empty() {
            if started {
                break;
            }
            continue;
        }
        started = true;
        common::push(&mut out, t);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_the_text_response() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification (Failure)\nX-Gm-Message-State: x\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\
Content-Type: text/plain\n\n\n** Address not found **\n\nYour message wasn't delivered to \
who@example.org because the address couldn't be found.\n\nThe response was:\n\n550 5.1.1 no such user\n\n\
--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; googlemail.com\n\n\
Final-Recipient: rfc822; who@example.org\nAction: failed\nStatus: 5.0.0\n\
Remote-MTA: dns; mx.example.org. (192.0.2.1, the server for the domain example.org.)\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.diagnostic, "550 5.1.1 no such user");
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.remote_mta.as_deref(), Some("mx.example.org"));
    }
}

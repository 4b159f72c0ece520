//! Gmail's older plain-text bounce: `Delivery to the following recipient failed
//! permanently:` (or `has been delayed:`), the recipient indented on its own line, then
//! `Technical details of … failure:` with Google's words and, when the remote server
//! refused, `The error that the other server returned was:` and its reply. Google's
//! `(state N)` suffix names the SMTP stage that failed.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// `(state N)`: the SMTP stage and the reason Google's documentation gives for it.
const STATES: &[(&str, &str, Reason)] = &[
    ("6", "MAIL", Reason::SystemError),
    ("8", "AUTH", Reason::SystemError),
    ("9", "AUTH", Reason::SystemError),
    ("12", "AUTH", Reason::NoRelaying),
    ("13", "EHLO", Reason::Blocked),
    ("14", "RCPT", Reason::UserUnknown),
    ("15", "DATA", Reason::Filtered),
    ("17", "DATA", Reason::Filtered),
    ("18", "DATA", Reason::Filtered),
];

/// Google's own words and the reason they state.
const MESSAGES: &[(&str, Reason)] = &[
    ("DNS Error: Could not contact DNS servers", Reason::Expired),
    (
        "The recipient server did not accept our requests to connect",
        Reason::Expired,
    ),
    ("DNS Error: Domain name not found", Reason::HostUnknown),
    (
        "DNS Error: DNS server returned answer with no data",
        Reason::HostUnknown,
    ),
    ("Storage quota exceeded", Reason::MailboxFull),
];

/// Parses a Gmail plain-text bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !common::from(flat).has("<mailer-daemon@googlemail.com>")
        || !common::subject(flat).has("delivery status notification")
    {
        return None;
    }
    let report = flat.report();
    let start = report
        .lines_fast()
        .position(|l| l.starts_with("Delivery to the following recipient"))?;
    let lines: Vec<&str> = report.lines_fast().skip(start).collect();
    let delayed = lines.first().is_some_and(|l| l.has("has been delayed"));
    let mut rcpts: Vec<String> = Vec::new();
    let mut details = String::new();
    let mut in_details = false;
    for l in lines.iter().skip(1) {
        let t = l.trim_fast();
        if t.is_empty() {
            continue;
        }
        if !in_details && (l.starts_with(' ') || l.starts_with('\t')) && !t.contains(' ') {
            if let Some(a) = first_address(t) {
                rcpts.push(a);
                continue;
            }
        }
        if t.starts_with("Technical details of") {
            in_details = true;
            continue;
        }
        if in_details {
            common::push(&mut details, t);
        }
    }
    if rcpts.is_empty() {
        return None;
    }
    let details = common::one_line(&details);
    let returned = "The error that the other server returned was:";
    let diag = match details.split_once(returned) {
        Some((_, r)) => r.trim_fast(),
        // Connection failures end with `[host address: socket error]` lines: addresses,
        // not codes.
        None if details.has("socket error") => details
            .split_once(" [")
            .map_or(details.as_str(), |(d, _)| d),
        None => details.as_str(),
    };
    let remote = remote_host(&details);
    let state = details
        .split_once("(state ")
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(n, _)| n.trim_fast());
    let mut records = Vec::new();
    for a in rcpts {
        let mut r: Raw = common::record(&a, diag);
        r.remote_mta = remote.clone();
        if delayed {
            r.action = Some("delayed".to_string());
            r.reason = Some(Reason::Expired);
        }
        if let Some((_, cmd, reason)) = STATES.iter().find(|(n, _, _)| Some(*n) == state) {
            r.smtp_command = Some(cmd.to_string());
            let specific = r
                .status
                .as_deref()
                .is_some_and(|s| !s.ends_with(".0") && !s.ends_with(".0.0"));
            if !specific {
                r.reason = Some(*reason);
            }
        } else if let Some((_, reason)) = MESSAGES.iter().find(|(m, _)| details.has(m)) {
            r.reason = Some(*reason);
        }
        records.push(r);
    }
    Some(Found {
        mta: "gmail",
        records,
    })
}

/// `… by mx.example.org. [192.0.2.1].` → the host name (or the address).
fn remote_host(details: &str) -> Option<String> {
    details.match_indices(" by ").find_map(|(i, _)| {
        let rest = details.get(i + 4..)?;
        let mut words = rest.split_whitespace();
        let host = words.next()?.trim_end_matches('.');
        let ip = words.next()?;
        (ip.starts_with('[') && host.contains('.')).then(|| host.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_a_refusal() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification (Failure)\n\n\
Delivery to the following recipient failed permanently:\n\n     who@example.org\n\n\
Technical details of permanent failure:\nGoogle tried to deliver your message, but it was \
rejected by the server for the recipient domain example.org by mx.example.org. [192.0.2.7].\n\n\
The error that the other server returned was:\n550 5.1.1 <who@example.org>... No such user\n\n\
----- Original message -----\n\nTo: who@example.org\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.recipient, "who@example.org");
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.remote_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(r.diagnostic, "550 5.1.1 <who@example.org>... No such user");
    }

    #[test]
    fn reads_a_delay() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification (Delay)\n\n\
Delivery to the following recipient has been delayed:\n\n     late@example.org\n\n\
Technical details of temporary failure:\nThe recipient server did not accept our requests to connect.\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].reason, Some(Reason::Expired));
        assert_eq!(f.records[0].action.as_deref(), Some("delayed"));
    }
}

//! DragonFly Mail Agent (dma): a plain-text bounce that names one recipient
//! (`There was an error delivering your mail to <addr>.`), then the remote host's
//! complaint (`host [ip] did not like our RCPT TO:` and the SMTP reply) or dma's own
//! words, then `Message headers follow.`

use super::super::mime::{Flat, Headers};
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses a DragonFly Mail Agent bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    let own = has_literal!(&flat.text, "This is the DragonFly Mail Agent")
        || flat
            .lower
            .all("received")
            .any(|v| has_literal!(v, "(dragonfly mail agent"));
    if !own {
        return None;
    }
    let mut records: Vec<Raw> = Vec::new();
    let mut lines = flat.text.lines_fast();
    while let Some(line) = lines.next() {
        let Some(rest) = line
            .trim_fast()
            .strip_prefix("There was an error delivering your mail to")
        else {
            continue;
        };
        let Some(rcpt) = super::super::text::first_address(rest) else {
            continue;
        };
        let mut block: Vec<&str> = Vec::new();
        for l in lines.by_ref() {
            let t = l.trim_fast();
            if t.starts_with("Message headers follow")
                || t.starts_with("Original message follows")
                || t.starts_with("There was an error delivering")
            {
                break;
            }
            if block.len() < 64 {
                block.push(t);
            }
        }
        records.push(read_block(&rcpt, &block));
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "dragonfly",
        records,
    })
}

fn read_block(rcpt: &str, block: &[&str]) -> Raw {
    let mut remote = None;
    let mut command = None;
    let mut reply: Vec<&str> = Vec::new();
    let mut own_words = String::new();
    for t in block.iter().copied().filter(|t| !t.is_empty()) {
        if let Some((host, what)) = t.split_once(" did not like our ") {
            remote = host.split_whitespace().next().map(str::to_string);
            command = common::smtp_command(what);
        } else if common::reply_code(t.get(..3).unwrap_or("")).is_some() {
            reply.push(t);
        } else {
            common::push(&mut own_words, t);
        }
    }
    let diag = if reply.is_empty() {
        own_words
    } else {
        common::join_reply(&reply)
    };
    let mut r = common::record(rcpt, &diag);
    r.remote_mta = remote;
    r.smtp_command = command;
    if reply.is_empty() {
        let l = r.diagnostic.to_ascii_lowercase();
        if l.starts_with("could not deliver for the last") {
            r.reason = Some(Reason::Expired);
        } else if l.starts_with("dns lookup failure") && l.has("not found") {
            r.reason = Some(Reason::HostUnknown);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_a_refusal() {
        let raw = "From: MAILER-DAEMON <>\nSubject: Mail delivery failed\n\n\
This is the DragonFly Mail Agent v0.1 at host.example.net.\n\n\
There was an error delivering your mail to <who@example.org>.\n\n\
mx.example.org [192.0.2.9] did not like our RCPT TO:\n\
550-5.1.1 No mailbox by\n550 5.1.1 that name here\n\nMessage headers follow.\n\n\
To: <who@example.org>\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records.len(), 1);
        let r = &f.records[0];
        assert_eq!(r.recipient, "who@example.org");
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.smtp_command.as_deref(), Some("RCPT"));
        assert_eq!(r.remote_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(r.diagnostic, "550 5.1.1 No mailbox by that name here");
    }

    #[test]
    fn reads_a_timeout() {
        let raw = "From: MAILER-DAEMON <>\n\nThis is the DragonFly Mail Agent v0.1 at h.\n\n\
There was an error delivering your mail to <late@example.org>.\n\n\
Could not deliver for the last 3600 seconds. Giving up.\n\nMessage headers follow.\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].reason, Some(Reason::Expired));
        assert!(parse(
            &flatten(b"Subject: hi\n\nhello\n", &Limits::default()),
            &Headers::default()
        )
        .is_none());
    }
}

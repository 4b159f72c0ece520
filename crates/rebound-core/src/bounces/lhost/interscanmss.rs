//! Trend Micro InterScan MSS: a text part with the SMTP exchange
//! (`Sent <<< RCPT TO:<addr>` / `Received >>> 550 …`), or `Unable to deliver message to
//! <addr>` when the address was refused outright.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

const SUBJECTS: &[&str] = &[
    "Mail could not be delivered",
    "メッセージを配信できません。",
    "メール配信に失敗しました",
];

/// Parses an InterScan MSS bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    let from = flat.headers.get("from").unwrap_or("");
    let subject = flat.headers.get("subject").unwrap_or("").trim_fast();
    if !(from.has("\"InterScan MSS\"")
        || from.has("\"InterScan Notification\"")
        || SUBJECTS.contains(&subject))
        || !flat.status.is_empty()
    {
        return None;
    }
    let mut records: Vec<Raw> = Vec::new();
    for line in flat.report().lines_fast().take(2000) {
        let t = line.trim_fast();
        let unable = t
            .strip_prefix("Reason:")
            .unwrap_or(t)
            .trim_start()
            .starts_with("Unable to deliver message to <");
        let arrows = t.has("<<<") || t.has(">>>");
        if unable || (arrows && t.contains('<') && t.contains('@')) {
            let candidate = t.rsplit(['<', ' ']).find(|s| s.contains('@'));
            if let Some(a) = candidate.and_then(first_address) {
                let same = records
                    .last()
                    .is_some_and(|r| r.recipient.eq_ignore_ascii_case(&a));
                if !same && records.len() < 100 {
                    records.push(common::record(&a, ""));
                }
                if unable {
                    if let Some(r) = records.last_mut() {
                        r.diagnostic = t.to_string();
                        r.reason = Some(Reason::UserUnknown);
                    }
                }
            }
        }
        let Some(r) = records.last_mut() else {
            continue;
        };
        if let Some(rest) = t.strip_prefix("Sent <<< ") {
            r.smtp_command = common::smtp_command(rest.get(..4).unwrap_or(rest));
        } else if let Some(rest) = t.strip_prefix("Received >>> ") {
            let rec = common::record(&r.recipient, rest);
            r.diagnostic = rec.diagnostic;
            r.status = rec.status;
            r.reply_code = rec.reply_code;
        }
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "interscanmss",
        records,
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn interscan_session() {
        let msg = b"From: \"InterScan MSS\" <postmaster@example.net>\n\
Subject: Mail could not be delivered\nContent-Type: text/plain\n\n\
Sent <<< RCPT TO:<who@example.org>\n\
Received >>> 550 5.1.1 <who@example.org>... user unknown\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(r[0].mta, "interscanmss");
    }
}

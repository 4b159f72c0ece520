//! Active!Hunter (a Japanese mail gateway): a sendmail-like report without a
//! delivery-status part, marked by its `X-AHMAILID` header. Recipients follow `>>> `
//! under the fatal-errors heading; the server's words follow the transcript heading.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// Parses an Active!Hunter bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.headers.has("x-ahmailid") {
        return None;
    }
    let mut recipients: Vec<String> = Vec::new();
    let mut words = String::new();
    let mut in_transcript = false;
    for line in flat.report().lines_fast() {
        let t = line.trim_fast();
        if t.starts_with("-----") {
            in_transcript = t.has("Transcript of session");
            continue;
        }
        if let Some(rest) = t.strip_prefix(">>>") {
            if let Some(a) = first_address(rest) {
                if recipients.len() < 100 && !recipients.contains(&a) {
                    recipients.push(a);
                }
            }
        } else if in_transcript && !t.is_empty() {
            common::push(&mut words, t);
        }
    }
    if recipients.is_empty() {
        return None;
    }
    Some(Found {
        mta: "activehunter",
        records: recipients
            .iter()
            .map(|a| common::record(a, &words))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn active_hunter_transcript() {
        let msg = b"From: MAILER-DAEMON <MAILER-DAEMON@gw.example.org>\n\
Subject: FAILURE NOTICE : hello\nX-AHMAILID: 20200101T000000\n\
Content-Type: text/plain\n\n\
  ----- The following addresses had permanent fatal errors -----\n\n\
>>> who@example.org <who@example.org>\n\n\
  ----- Transcript of session follows -----\n\
550 sorry, no mailbox here by that name (#5.1.1)\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "activehunter");
    }
}

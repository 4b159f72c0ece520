//! Google Groups: a plain notice from `mailer-daemon@googlemail.com` that a post to a
//! group was refused (the group does not exist, or the sender may not post). The failed
//! addresses are in `X-Failed-Recipients`; the notice lists four possible causes as
//! `*` bullets, in the sender's language.

use super::super::mime::{Flat, Headers};
use super::super::text::addresses;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses a Google Groups rejection.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !common::from(flat).has("<mailer-daemon@googlemail.com>")
        || !flat.headers.has("x-failed-recipients")
        || !flat.headers.has("x-google-smtp-source")
    {
        return None;
    }
    let report = flat.report();
    let groups = has_literal!(report, "groups.google.com")
        || has_literal!(report, "Google Groups")
        || has_literal!(report, "Google グループ");
    if !groups {
        return None;
    }
    let bullets = report
        .lines_fast()
        .filter(|l| l.trim_start().starts_with('*'))
        .count();
    // The notice's first paragraphs (greeting, cause, bullets) are the diagnostic.
    let mut diag = String::new();
    for para in report
        .split("\n\n")
        .filter(|p| !p.trim_fast().is_empty())
        .take(3)
    {
        common::push(&mut diag, para);
    }
    let mut records: Vec<Raw> = Vec::new();
    for v in flat.headers.all("x-failed-recipients") {
        for (_, a) in addresses(v) {
            let mut r = common::record(&a, &diag);
            r.status = None;
            r.reply_code = None;
            if bullets >= 4 {
                r.reason = Some(Reason::Rejected);
            }
            records.push(r);
        }
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "googlegroups",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_a_refused_post() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification (Failure)\nX-Failed-Recipients: club@googlegroups.com\n\
X-Google-Smtp-Source: abc\n\nHello,\n\nThe group you wrote to (club) may not exist.\n\n\
 * reason one\n * reason two\n * reason three\n * reason four\n\n\
See https://groups.google.com/support/\n\nGoogle Groups\n\n----- Original message -----\n\nTo: club@googlegroups.com\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records.len(), 1);
        assert_eq!(f.records[0].recipient, "club@googlegroups.com");
        assert_eq!(f.records[0].reason, Some(Reason::Rejected));
    }
}

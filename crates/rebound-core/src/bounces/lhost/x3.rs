//! "X3": an unnamed MTA whose notice (`Mail Delivery System`, Subject
//! `Delivery status notification`) is framed by `====` rules: `This is an automatically
//! generated Delivery Status Notification.`, the recipients as `* addr` bullets, then
//! `Technical details:` with lines such as `SMTP:RCPT host 192.0.2.1: 553 5.3.0 …`.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses an X3 bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !common::from(flat).starts_with("mail delivery system")
        || common::subject(flat) != "delivery status notification"
        || !flat
            .text
            .has("This is an automatically generated Delivery Status Notification.")
    {
        return None;
    }
    let mut records: Vec<Raw> = Vec::new();
    let mut details = String::new();
    let mut in_details = false;
    let mut aborted = false;
    for line in flat.text.lines_fast() {
        let t = line.trim_fast();
        if t.starts_with("====") {
            if in_details && !details.is_empty() {
                break;
            }
            continue;
        }
        if t.has("following recipients was aborted after") {
            aborted = true;
        }
        if t == "Technical details:" {
            in_details = true;
            continue;
        }
        if in_details {
            common::push(&mut details, t);
        } else if let Some(rest) = t.strip_prefix("* ") {
            if let Some(a) = first_address(rest) {
                records.push(common::record(&a, ""));
            }
        }
    }
    if records.is_empty() {
        return None;
    }
    // `SMTP:RCPT host 192.0.2.1: 553 5.3.0 <a@example.org>... No such user here`
    let (command, remote, words) = match details.strip_prefix("SMTP:") {
        Some(rest) => {
            let cmd = rest
                .split_whitespace()
                .next()
                .and_then(common::smtp_command);
            let host = rest
                .split_once(" host ")
                .and_then(|(_, h)| h.split_once(':'))
                .map(|(h, w)| (h.trim_fast().to_string(), w.trim_fast()));
            match host {
                Some((h, w)) => (cmd, Some(h), w.to_string()),
                None => (cmd, None, rest.to_string()),
            }
        }
        None => (None, None, details.clone()),
    };
    let dsn = common::dsn_records(flat);
    for r in &mut records {
        let from_dsn = dsn
            .iter()
            .find(|d| d.recipient.eq_ignore_ascii_case(&r.recipient))
            .filter(|_| words.is_empty());
        if let Some(d) = from_dsn {
            let fresh = common::record(&r.recipient, &d.diagnostic);
            r.status = fresh.status.or_else(|| d.status.clone());
            r.reply_code = fresh.reply_code;
            r.diagnostic = fresh.diagnostic;
            r.remote_mta = d.remote_mta.clone();
            if aborted && r.reply_code.is_none() {
                r.reason = Some(Reason::Expired);
            }
            continue;
        }
        let fresh = common::record(&r.recipient, &words);
        r.diagnostic = fresh.diagnostic;
        r.status = fresh.status;
        r.reply_code = fresh.reply_code;
        r.smtp_command = command.clone();
        r.remote_mta = remote.clone();
        if aborted && r.reply_code.is_none() {
            r.reason = Some(Reason::Expired);
        }
    }
    Some(Found { mta: "x3", records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_the_details() {
        let raw = concat!(
            "From: Mail Delivery System <mds@example.net>\n",
            "Subject: Delivery status notification\n\n",
            "=====\n  This is an automatically generated Delivery Status Notification.\n\n",
            "Delivery to the following recipients failed permanently:\n\n   * who@example.org\n\n",
            "=====\n   Technical details:\n\n",
            "SMTP:RCPT host 192.0.2.8: 553 5.3.0 <who@example.org>... No such user\n\n=====\n",
        );
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.recipient, "who@example.org");
        assert_eq!(r.smtp_command.as_deref(), Some("RCPT"));
        assert_eq!(r.remote_mta.as_deref(), Some("192.0.2.8"));
        assert_eq!(r.status.as_deref(), Some("5.3.0"));
        assert_eq!(r.reply_code.as_deref(), Some("553"));
    }
}

//! Google Workspace (Gmail for a custom domain) reports of failures that happen before any
//! remote server answers: `** Message not delivered **`, a paragraph of explanation and
//! `The response was:` with Google's own words. The delivery-status part is empty, so the
//! recipient comes from `X-Failed-Recipients` or the returned message's `To`.

use super::super::mime::{Flat, Headers};
use super::super::text::addresses;
use super::super::Found;
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Parses a Google Workspace report.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    if !common::from(flat).has("<mailer-daemon@googlemail.com>")
        || !common::subject(flat).has("delivery status notification")
    {
        return None;
    }
    let has_fields = |s: &str| s.has("Final-Recipient:") || s.has("Diagnostic-Code:");
    if flat.status.iter().any(|b| has_fields(b)) || has_fields(&flat.text) {
        return None;
    }
    let report = flat.report();
    let start = report.lines_fast().position(|l| l.starts_with("** "))?;
    let mut words = String::new();
    for line in report.lines_fast().skip(start).take(200) {
        let t = line.trim_fast();
        if !t.is_empty() && !t.starts_with("Content-Type:") {
            common::push(&mut words, t);
        }
    }
    let recipient = flat
        .headers
        .all("x-failed-recipients")
        .chain(original.all("to"))
        .find_map(|v| addresses(v).into_iter().next().map(|(_, a)| a))?;
    let mut r = common::record(&recipient, &words);
    if words.has("because the address couldn't be found. Check for typos") {
        r.reason = Some(Reason::UserUnknown);
    }
    Some(Found {
        mta: "googleworkspace",
        records: vec![r],
    })
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn workspace_send_as() {
        let msg = b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification (Failure)\nX-Failed-Recipients: who@example.org\n\
Content-Type: text/plain\n\n** Message not delivered **\n\n\
You're sending this from a different address or alias using the 'Send mail as' feature.\n\
The response was:\nUnspecified Error (SENT_SECOND_EHLO): Smtp server does not advertise AUTH\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::Rejected);
        assert_eq!(r[0].mta, "googleworkspace");
    }
}

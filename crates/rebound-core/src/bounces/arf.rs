//! RFC 5965 feedback reports (ARF) and the near-ARF formats some mailbox providers send.
//!
//! The complaining recipient is taken, in order, from `Original-Rcpt-To` fields (one record
//! each), `Removal-Recipient`, Microsoft's `X-HmXmrOriginalRecipient`, then the returned
//! message's `To`. A report that names no recipient still yields one record without one:
//! its Message-ID can match it to a send.

use super::dsn::{field, unfold};
use super::mime::{Flat, Headers};
use super::{text, Found, Raw};
use crate::{EventKind, Reason};

fn record(recipient: String, feedback_type: &str) -> Raw {
    Raw {
        recipient,
        kind: Some(EventKind::Complaint),
        reason: Some(Reason::Feedback),
        feedback_type: Some(feedback_type.to_string()),
        ..Raw::default()
    }
}

/// Parses a feedback report, if the message is one.
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    let is_arf =
        !flat.feedback.is_empty() || flat.report_type.as_deref() == Some("feedback-report");
    let hotmail = original.has("x-hmxmroriginalrecipient");
    let apple_unsub = flat
        .headers
        .get("x-apple-unsubscribe")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !is_arf && !hotmail && !apple_unsub {
        return None;
    }
    if apple_unsub {
        // Apple Mail's "unsubscribe" message: the sender of it opts out.
        let from = text::first_address(flat.headers.get("from").unwrap_or(""))?;
        return Some(Found {
            mta: "arf",
            records: vec![record(from, "opt-out")],
        });
    }
    let mut feedback_type = "abuse".to_string();
    let mut recipients: Vec<String> = Vec::new();
    for block in &flat.feedback {
        for line in unfold(block) {
            let Some((name, value)) = field(&line) else {
                continue;
            };
            match name.known() {
                "feedback-type" if !value.is_empty() => feedback_type = value.to_ascii_lowercase(),
                "original-rcpt-to" | "removal-recipient" => {
                    if let Some(a) = text::first_address(value) {
                        recipients.push(a);
                    }
                }
                _ => {}
            }
        }
    }
    if recipients.is_empty() {
        if let Some(a) = original
            .get("x-hmxmroriginalrecipient")
            .and_then(text::first_address)
        {
            recipients.push(a);
        }
    }
    if recipients.is_empty() {
        if let Some(a) = original.get("to").and_then(text::first_address) {
            recipients.push(a);
        }
    }
    if recipients.is_empty() {
        recipients.push(String::new());
    }
    Some(Found {
        mta: "arf",
        records: recipients
            .into_iter()
            .map(|r| record(r, &feedback_type))
            .collect(),
    })
}

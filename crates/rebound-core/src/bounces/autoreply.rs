//! RFC 3834 automatic replies and vacation notices: not bounces. The record names the
//! address that replied (the auto-reply's `From`), with reason `vacation`.

use super::mime::Flat;
use super::{text, Found, Raw};
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::{EventKind, Reason};

const SUBJECTS: &[&str] = &[
    "auto:",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "automatic reply",
    "automatische antwort",
    "réponse automatique",
    "respuesta automática",
    "risposta automatica",
    "out of office",
    "out of the office",
    "away from my mail",
    "on vacation",
    "vacation",
    "abwesenheit",
    "away until",
    "absence",
];

/// Whether the header marks the message as automatic (RFC 3834 and common variants).
pub fn is_auto(flat: &Flat) -> bool {
    let h = &flat.headers;
    let auto_submitted = h
        .get("auto-submitted")
        .map(|v| v.trim_fast().to_ascii_lowercase())
        .is_some_and(|v| v.starts_with("auto-replied") || v.starts_with("auto-generated"));
    auto_submitted
        || h.has("x-autoreply")
        || h.has("x-autorespond")
        || h.get("x-auto-response-suppress")
            .is_some_and(|v| v.has("All"))
        || h.get("precedence")
            .is_some_and(|v| v.eq_ignore_ascii_case("auto_reply"))
}

/// Parses an automatic reply, if the message is one.
pub fn parse(flat: &Flat) -> Option<Found> {
    let subject = flat.headers.get("subject").unwrap_or("").to_lowercase();
    let subject_says = SUBJECTS.iter().any(|s| subject.has(s));
    if !(is_auto(flat) || subject_says) {
        return None;
    }
    let from = text::first_address(flat.headers.get("from").unwrap_or(""))?;
    let diagnostic: String = flat
        .text
        .lines_fast()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(5)
        .collect::<Vec<_>>()
        .join(" ");
    Some(Found {
        mta: "rfc3834",
        records: vec![Raw {
            recipient: from,
            kind: Some(EventKind::AutoReply),
            reason: Some(Reason::Vacation),
            diagnostic: diagnostic.chars().take(400).collect(),
            ..Raw::default()
        }],
    })
}

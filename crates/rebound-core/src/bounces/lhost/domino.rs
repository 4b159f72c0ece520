//! HCL (Lotus) Domino: `DELIVERY FAILURE:` reports. The recipients come from the generic
//! text reader; Domino's fixed wording gives the reason.

use super::super::mime::{Flat, Headers};
use super::super::{text, Found};
use super::common;
use crate::Reason;

/// Domino's messages and what they mean (matched case-insensitively).
const WORDS: &[(&str, Reason)] = &[
    ("not listed in domino directory", Reason::UserUnknown),
    (
        "not listed in public name & address book",
        Reason::UserUnknown,
    ),
    ("non répertorié dans l'annuaire domino", Reason::UserUnknown),
    ("domino ディレクトリには見つかりません", Reason::UserUnknown),
    ("cannot route mail to user", Reason::Filtered),
    (
        "several matches found in domino directory",
        Reason::SystemError,
    ),
];

/// Parses a Domino delivery failure report.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    // A report with delivery-status fields is read by the DSN engine.
    if !flat.status.is_empty() {
        return None;
    }
    let subject = common::subject(flat);
    if !(subject.starts_with("delivery failure:") || subject.starts_with("delivery_failure:")) {
        return None;
    }
    let mut found = text::parse(flat, original)?;
    found.mta = "domino";
    for r in found.records.iter_mut().take(super::super::MAX_RECORDS) {
        let lower = r.diagnostic.to_lowercase();
        if let Some((_, reason)) = WORDS.iter().find(|(w, _)| lower.contains(w)) {
            r.reason = Some(*reason);
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn domino_directory_miss() {
        let msg = b"From: Postmaster <postmaster@mail.example.org>\n\
Subject: DELIVERY FAILURE: User someone not listed\n\
Content-Type: text/plain\n\n\
Your message\n\n  Subject: hello\n\n\
was not delivered to:\n\n  someone@example.org\n\n\
because:\n\n  User someone (someone@example.org) not listed in Domino Directory\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "domino");
    }
}

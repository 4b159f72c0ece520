//! Office 365 / Exchange Online reports that carry no delivery-status part: the text says
//! `Delivery has failed to these recipients or groups:` and Exchange's enhanced status
//! codes (`5.1.10`, `5.7.509`…) are more specific than RFC 3463's, so they name the reason.

use super::super::mime::{Flat, Headers};
use super::super::{text, Found};
use super::common;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Exchange Online's status codes: (class, subject, detail range, reason).
const CODES: &[(u8, u16, u16, u16, Reason)] = &[
    (4, 4, 7, 7, Reason::Expired),
    (4, 4, 312, 312, Reason::NetworkError),
    (4, 4, 316, 316, Reason::Expired),
    (4, 7, 26, 26, Reason::SecurityError),
    (4, 7, 500, 699, Reason::Blocked),
    (4, 7, 850, 899, Reason::Blocked),
    (5, 0, 350, 350, Reason::ContentError),
    (5, 1, 10, 10, Reason::UserUnknown),
    (5, 4, 1, 1, Reason::NoRelaying),
    (5, 4, 6, 6, Reason::NetworkError),
    (5, 4, 312, 312, Reason::NetworkError),
    (5, 4, 316, 316, Reason::Expired),
    (5, 6, 11, 11, Reason::ContentError),
    (5, 7, 1, 1, Reason::Rejected),
    (5, 7, 12, 13, Reason::Rejected),
    (5, 7, 124, 124, Reason::Rejected),
    (5, 7, 133, 136, Reason::Rejected),
    (5, 7, 23, 23, Reason::Blocked),
    (5, 7, 25, 25, Reason::NetworkError),
    (5, 7, 501, 503, Reason::SpamDetected),
    (5, 7, 504, 505, Reason::Filtered),
    (5, 7, 506, 507, Reason::Blocked),
    (5, 7, 508, 508, Reason::TooManyConn),
    (5, 7, 509, 509, Reason::SecurityError),
    (5, 7, 510, 510, Reason::NotAccept),
    (5, 7, 511, 511, Reason::Rejected),
    (5, 7, 512, 512, Reason::SecurityError),
    (5, 7, 57, 57, Reason::SecurityError),
];

fn reason_of(status: &str) -> Option<Reason> {
    let mut p = status.split('.').map(|x| x.parse::<u16>().ok());
    let (c, s, d) = (p.next()??, p.next()??, p.next()??);
    CODES
        .iter()
        .find(|(cc, ss, lo, hi, _)| u16::from(*cc) == c && *ss == s && (*lo..=*hi).contains(&d))
        .map(|x| x.4)
}

fn cues(flat: &Flat) -> usize {
    let h = &flat.headers;
    let outlook = |v: &str| {
        has_literal!(v, ".outbound.protection.outlook.com") || has_literal!(v, ".prod.outlook.com")
    };
    // One pass over the fields for the named ones, each counted once however often it
    // stands.
    let mut named = 0u32;
    for (n, _) in h.iter().filter(|(n, _)| n.starts_with("x-")) {
        if let Some(i) = NAMED.iter().position(|k| *k == n) {
            named |= 1 << i;
        }
    }
    let cheap = named.count_ones() as usize
        + usize::from(common::subject(flat).has("undeliverable:"))
        + usize::from(h.get("message-id").is_some_and(outlook));
    // The Received fields count once at most: without another cue they cannot make two.
    if cheap == 0 {
        return 0;
    }
    cheap + usize::from(h.all("received").any(outlook))
}

/// The header fields that are cues (each counts once, however often it stands; one bit
/// each in `cues`).
const NAMED: &[&str] = &[
    "x-ms-exchange-message-is-ndr",
    "x-microsoft-antispam-prvs",
    "x-exchange-antispam-report-test",
    "x-exchange-antispam-report-cfa-test",
    "x-ms-exchange-crosstenant-originalarrivaltime",
    "x-ms-exchange-crosstenant-fromentityheader",
    "x-ms-exchange-transport-crosstenantheadersstamped",
];
const _: () = assert!(NAMED.len() <= 32, "one bit a name in cues");

/// Parses an Office 365 report without a delivery-status part.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    if !flat.status.is_empty() || cues(flat) < 2 {
        return None;
    }
    let mut found = text::parse(flat, original)?;
    found.mta = "office365";
    for r in found.records.iter_mut().take(super::super::MAX_RECORDS) {
        if let Some(reason) = common::status(&r.diagnostic).as_deref().and_then(reason_of) {
            r.reason = Some(reason);
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn office365_recipient_not_found() {
        let msg = b"From: <postmaster@example.com>\nSubject: Undeliverable: hello\n\
X-MS-Exchange-Message-Is-Ndr:\n\
Received: from a.outbound.protection.outlook.com by mx.example.com\n\
Content-Type: text/plain\n\nDelivery has failed to these recipients or groups:\n\n\
who@example.com\nThe email address wasn't found at the destination domain.\n\n\
Diagnostic information for administrators:\n\nGenerating server: a.prod.outlook.com\n\n\
who@example.com\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; \
Recipient not found by SMTP address lookup'\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "office365");
    }

    /// Two cues make an Office 365 report: a named field counts once however often it
    /// stands, and the Received fields once whatever they hold.
    #[test]
    fn cues_are_counted_once_each() {
        use crate::bounces::mime::{flatten, Limits};
        let cues = |head: &str| {
            super::cues(&flatten(
                format!("{head}\n\nbody\n").as_bytes(),
                &Limits::default(),
            ))
        };
        let outlook = "Received: from a.outbound.protection.outlook.com by mx";
        let ndr = "X-MS-Exchange-Message-Is-Ndr: yes";
        assert_eq!(cues(outlook), 0, "Received alone is no cue");
        assert_eq!(cues(&format!("{outlook}\n{outlook}\n{ndr}")), 2);
        assert_eq!(
            cues(&format!("{ndr}\n{ndr}")),
            1,
            "a field twice counts once"
        );
        assert_eq!(
            cues(&format!(
                "{ndr}\nX-Microsoft-Antispam-PRVS: x\nSubject: Undeliverable: x"
            )),
            3
        );
        assert_eq!(cues("Message-ID: <1@a.prod.outlook.com>\nSubject: hi"), 1);
    }
}

//! Exim: `This message was created automatically by mail delivery software.`, the failed
//! addresses indented under `The following address(es) failed:` and, below each, the
//! remote server's reply (`SMTP error from remote mail server after RCPT TO:<…>:`) or
//! Exim's own words (`retry timeout exceeded`, `all hosts … have been failing`, a local
//! `pipe to |…` that failed). The generic readers find the recipients; this engine adds
//! what Exim's own words mean.

use super::super::mime::{Flat, Headers};
use super::super::text;
use super::super::{dsn, Found};
use super::common;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Exim's own wording and the reason it states, most specific first.
const OWN_WORDS: &[(&str, Reason)] = &[
    ("mailbox is full", Reason::MailboxFull),
    ("malformed address", Reason::SyntaxError),
    ("incorrectly constructed", Reason::SyntaxError),
    ("unrouteable address", Reason::HostUnknown),
    (
        "all relevant mx records point to non-existent hosts",
        Reason::HostUnknown,
    ),
    ("retry timeout exceeded", Reason::Expired),
    ("have been failing for a long time", Reason::Expired),
    ("was frozen on arrival", Reason::Expired),
    ("retry time not reached for any host", Reason::Expired),
    ("pipe to |", Reason::MailerError),
];

/// A searcher per word of [`OWN_WORDS`], in their order (built once).
static OWN_FINDERS: std::sync::LazyLock<common::WordTable<Reason>> =
    std::sync::LazyLock::new(|| common::WordTable::new(OWN_WORDS));

/// Parses an Exim bounce.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    let report = flat.report();
    let head = super::super::mime::head(report, 2000);
    let own = has_literal!(
        head,
        "This message was created automatically by mail delivery software"
    ) || (has_literal!(head, "recipient addresses that were")
        && has_literal!(head, "incorrectly constructed"));
    let from_daemon = common::from(flat).has("mail delivery system");
    if !own || !(from_daemon || flat.headers.has("x-failed-recipients")) {
        return None;
    }
    let mut found = dsn::parse(flat).or_else(|| text::parse(flat, original))?;
    // The whole report's words, lower case: made only for a record that needs them.
    let report_lower = std::cell::OnceCell::new();
    for r in &mut found.records {
        if r.reason.is_some() {
            continue;
        }
        let diag = common::one_line(&r.diagnostic);
        if r.smtp_command.is_none() {
            r.smtp_command = super::super::classify::command_of(&diag).map(str::to_string);
        }
        let lower = diag.to_ascii_lowercase();
        // A remote server's reply speaks for itself.
        if common::reply_code(&diag).is_some() && has_literal!(&lower, "smtp error") {
            continue;
        }
        let words = |s: &str| OWN_FINDERS.first_in(s);
        r.reason = words(&lower).or_else(|| {
            (common::reply_code(&diag).is_none())
                .then(|| {
                    words(
                        report_lower.get_or_init(|| common::one_line(report).to_ascii_lowercase()),
                    )
                })
                .flatten()
        });
    }
    found.mta = "exim";
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn own_words() {
        let raw = "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n\
X-Failed-Recipients: late@example.org\nSubject: Mail delivery failed\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of its\n\
recipients. This is a permanent error. The following address(es) failed:\n\n\
  late@example.org\n    retry timeout exceeded\n\n\
------ This is a copy of the message, including all the headers. ------\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].recipient, "late@example.org");
        assert_eq!(f.records[0].reason, Some(Reason::Expired));
    }
}

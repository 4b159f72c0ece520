//! qmail (`qmail-send`) and its clones: plain-text reports, one `<address>:` paragraph per
//! recipient. The recipients come from the generic text reader; this engine adds what
//! qmail's fixed wording says about the SMTP stage and the reason.

use super::super::mime::{find_short, Flat, Headers};
use super::super::{text, Found};
use crate::Reason;

/// Phrases that open a qmail (or qmail clone) report.
const OPENERS: &[&str] = &[
    "Hi. This is the qmail",
    "He/Her is not ",
    "unable to deliver your message to the following addresses",
    "Su mensaje no pudo ser entregado",
    "Sorry, we were unable to deliver your message to the following address",
    "This is the machine generated message from mail service",
    "This is the mail delivery agent at",
    "Unable to deliver message to the following address",
    "Unfortunately, your mail was not delivered to the following address:",
    "Your mail message to the following address",
    "Your message to the following addresses",
];

/// A searcher for any of [`OPENERS`]. Only whether one occurs is asked, so the match kind
/// is free: leftmost-first lets the crate search with its vectorised (Teddy) searcher, about
/// ten times quicker than the standard kind on a report without any (bench/parse.sh).
static OPENER: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(OPENERS)
            .ok()
    });

/// qmail-remote's words for the stage a session failed at.
const STAGES: &[(&str, &str)] = &[
    (" but greeting failed", "CONN"),
    (" but my name was rejected", "EHLO"),
    (" but sender was rejected", "MAIL"),
    (" does not like recipient", "RCPT"),
    (" failed on DATA command", "DATA"),
    (" failed after I sent the message", "DATA"),
];

/// qmail's own messages (qmail-send, qmail-remote, qmail-local, notqmail).
const WORDS: &[(&str, Reason)] = &[
    ("Sorry, I couldn't find any host ", Reason::HostUnknown),
    ("disk quota exceeded", Reason::MailboxFull),
    (
        "Message size exceeds fixed maximum message size:",
        Reason::MesgTooBig,
    ),
    (
        "Sorry, I wasn't able to establish an SMTP connection",
        Reason::NetworkError,
    ),
    (
        "Sorry. Although I'm listed as a best-preference MX or A for that host",
        Reason::NetworkError,
    ),
    (
        "Sorry, I couldn't find a mail exchanger or IP address",
        Reason::NotAccept,
    ),
    (
        "Requested action not taken: mailbox unavailable (not enough free space)",
        Reason::SystemFull,
    ),
    ("no mailbox here by that name", Reason::UserUnknown),
    (
        "bad interpreter: No such file or directory",
        Reason::SystemError,
    ),
    ("system error", Reason::SystemError),
    ("Unable to", Reason::SystemError),
];

/// qmail-ldap's messages.
const LDAP_WORDS: &[(&str, Reason)] = &[
    (
        "The message exeeded the maximum size the user accepts",
        Reason::ExceedLimit,
    ),
    ("Mailaddress is administrativ", Reason::Suspend),
    ("Automatic homedir creator crashed", Reason::SystemError),
    ("Illegal value in LDAP attribute", Reason::SystemError),
    (
        "LDAP attribute is not given but mandatory",
        Reason::SystemError,
    ),
    (
        "Timeout while performing search on LDAP server",
        Reason::SystemError,
    ),
    (
        "Too many results returned but needs to be unique",
        Reason::SystemError,
    ),
    ("while executing qmail-forward", Reason::SystemError),
    (
        "Temporary error in automatic homedir creation",
        Reason::SystemError,
    ),
    ("Temporary failure in LDAP lookup", Reason::SystemError),
    ("Unable to contact LDAP server", Reason::SystemError),
    ("Unable to login into LDAP server", Reason::SystemError),
];

const EXPIRED: &str = "this message has been in the queue too long";

/// A searcher per word of [`WORDS`] then [`LDAP_WORDS`], in their order (built once).
static WORD_FINDERS: std::sync::LazyLock<super::common::WordTable<Reason>> =
    std::sync::LazyLock::new(|| super::common::WordTable::new(WORDS.iter().chain(LDAP_WORDS)));

/// A searcher per stage of [`STAGES`], in their order (built once).
static STAGE_FINDERS: std::sync::LazyLock<super::common::WordTable<&'static str>> =
    std::sync::LazyLock::new(|| super::common::WordTable::new(STAGES));

fn reason_in(s: &str) -> Option<Reason> {
    if s.is_empty() {
        return None;
    }
    // Most words open with a letter found often in a reply (or a space): searched with a
    // vectorised searcher each, in the listed order (the first listed word found wins).
    WORD_FINDERS
        .first_in(s)
        .or_else(|| has_literal!(s, EXPIRED).then_some(Reason::Expired))
}

/// Parses a qmail report.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    // The opening words stand at the top of the report.
    let report = flat.report();
    OPENER
        .as_ref()?
        .find(super::super::mime::head(report, 4096))?;
    let mut found = text::parse(flat, original)?;
    found.mta = "qmail";
    for r in found.records.iter_mut().take(super::super::MAX_RECORDS) {
        let d = r.diagnostic.as_str();
        let stage = STAGE_FINDERS.first_in(d);
        if let Some(c) = stage {
            r.smtp_command = Some(c.to_string());
        }
        if matches!(stage, Some("EHLO")) {
            r.reason = Some(Reason::Blocked);
            continue;
        }
        // Refused at RCPT and then expired: the words decide.
        if has_literal!(d, " does not like recipient") && has_literal!(d, EXPIRED) {
            continue;
        }
        let said = find_short(d, "Remote host said:")
            .and_then(|i| d.get(i..))
            .unwrap_or("");
        r.reason = reason_in(said).or_else(|| reason_in(d));
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn the_first_listed_word_wins() {
        use super::{reason_in, EXPIRED};
        // Listed first, found second.
        assert_eq!(
            reason_in("disk quota exceeded; Sorry, I couldn't find any host x"),
            Some(Reason::HostUnknown)
        );
        assert_eq!(reason_in("disk quota exceeded"), Some(Reason::MailboxFull));
        assert_eq!(reason_in(EXPIRED), Some(Reason::Expired));
        assert_eq!(reason_in("nothing known"), None);
    }

    fn qmail(words: &str) -> Vec<crate::bounces::BounceRecord> {
        let msg = format!(
            "From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\n\
Hi. This is the qmail-send program at mx.example.org.\n\
I'm afraid I wasn't able to deliver your message to the following addresses.\n\n\
<someone@example.net>:\n{words}\n\n--- Below this line is a copy of the message.\n"
        );
        parse(msg.as_bytes())
    }

    #[test]
    fn stages_and_words() {
        let r = qmail(
            "Connected to 192.0.2.1 but my name was rejected.\nRemote host said: 501 bad name",
        );
        assert_eq!(r[0].reason, Reason::Blocked);
        let r = qmail("Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)");
        assert_eq!(r[0].reason, Reason::NotAccept);
        let r = qmail("Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\nI'm not going to try again; this message has been in the queue too long.");
        assert_eq!(r[0].reason, Reason::NetworkError);
        assert_eq!(r[0].mta, "qmail");
    }
}

//! Remote hosts whose own error codes say more than the generic wording tables: the
//! provider is recognised by the recipient's domain or the remote server's name, and its
//! documented codes and messages give the reason. Applied to records whose reason the
//! engine left open.

use super::super::Raw;
use crate::Reason;

/// A provider: host name suffixes and the reader of its replies.
struct Provider {
    hosts: &'static [&'static str],
    reason: fn(&Raw, &str) -> Option<Reason>,
}

const PROVIDERS: &[Provider] = &[
    Provider {
        hosts: &[".laposte.net", ".orange.fr", ".wanadoo.fr"],
        reason: orange,
    },
    Provider {
        hosts: &[".yahoodns.net"],
        reason: yahoo,
    },
    Provider {
        hosts: &[".qq.com"],
        reason: tencent,
    },
    Provider {
        hosts: &[".messagelabs.com"],
        reason: messagelabs,
    },
    Provider {
        hosts: &["mfsmax.docomo.ne.jp"],
        reason: docomo,
    },
];

/// Sets the reason of a record sent to (or refused by) a known provider, when the
/// provider's codes decide it and the engine stated none.
pub fn apply(r: &mut Raw) {
    if r.reason.is_some() || r.kind.is_some() || r.diagnostic.is_empty() {
        return;
    }
    let domain = r
        .recipient
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
        .unwrap_or_default();
    let remote = r.remote_mta.as_deref().unwrap_or("").to_ascii_lowercase();
    let remote = remote.trim_end_matches('.');
    let provider = PROVIDERS.iter().find(|p| {
        p.hosts.iter().any(|h| {
            (!domain.is_empty() && h.trim_start_matches('.') == domain)
                || (!remote.is_empty()
                    && (remote.ends_with(h) || remote == h.trim_start_matches('.')))
        })
    });
    let Some(p) = provider else {
        return;
    };
    let lower = r.diagnostic.to_ascii_lowercase();
    if let Some(reason) = (p.reason)(r, &lower) {
        r.reason = Some(reason);
    }
}

fn first_of(lower: &str, table: &[(&str, Reason)]) -> Option<Reason> {
    table
        .iter()
        .find(|(w, _)| lower.contains(w))
        .map(|(_, r)| *r)
}

/// Orange and La Poste: `LPN007_416`, `OFR_417`, `OFR004_405 [405]`: the last three digits
/// of the label are the error number.
fn orange(_r: &Raw, lower: &str) -> Option<Reason> {
    const CODES: &[(&str, Reason)] = &[
        ("101", Reason::Blocked),
        ("102", Reason::Blocked),
        ("103", Reason::Blocked),
        ("104", Reason::TooManyConn),
        ("305", Reason::SecurityError),
        ("401", Reason::AuthFailure),
        ("402", Reason::SecurityError),
        ("403", Reason::Rejected),
        ("405", Reason::Rejected),
        ("415", Reason::Rejected),
        ("416", Reason::UserUnknown),
        ("417", Reason::MailboxFull),
        ("420", Reason::Suspend),
        ("421", Reason::Rejected),
        ("426", Reason::Suspend),
        ("505", Reason::SystemError),
        ("506", Reason::SpamDetected),
        ("510", Reason::Blocked),
        ("514", Reason::MesgTooBig),
        ("517", Reason::AuthFailure),
        ("630", Reason::PolicyViolation),
        ("999", Reason::Blocked),
    ];
    let label = ["lpn", "ofr", "ouk"]
        .iter()
        .filter_map(|l| lower.rfind(l))
        .max()?;
    let word = lower.get(label..)?.split_whitespace().next()?;
    let digits: String = word.chars().filter(char::is_ascii_digit).collect();
    let code = digits.get(digits.len().checked_sub(3)?..)?;
    if let Some((_, r)) = CODES.iter().find(|(c, _)| *c == code) {
        return Some(*r);
    }
    lower
        .contains("spf/dns de votre nom de domaine")
        .then_some(Reason::AuthFailure)
}

fn yahoo(_r: &Raw, lower: &str) -> Option<Reason> {
    first_of(
        lower,
        &[
            (
                "yahoo requires all senders to authenticate with either spf or dkim",
                Reason::AuthFailure,
            ),
            (" because the ip is in spamhaus's list;", Reason::Blocked),
            (
                "not accepted from ip addresses on spamhaus xbl",
                Reason::Blocked,
            ),
            ("relaying denied for ", Reason::NoRelaying),
            ("headers are not rfc compliant", Reason::NotCompliantRfc),
            ("not accepted for policy reasons", Reason::PolicyViolation),
            (
                "temporarily deferred due to unexpected volume or user complaints",
                Reason::Rejected,
            ),
            ("due to unresolvable rfc.5321 domain", Reason::Rejected),
            (" will be permanently deferred", Reason::Rejected),
            (" is no longer valid.", Reason::Suspend),
            ("this mailbox is disabled", Reason::Suspend),
            (
                "syntax error in parameters or arguments",
                Reason::SyntaxError,
            ),
            ("max message per connection reached", Reason::TooManyConn),
            ("dd this user doesn't have a ", Reason::UserUnknown),
            ("mailbox not found", Reason::UserUnknown),
        ],
    )
}

fn tencent(_r: &Raw, lower: &str) -> Option<Reason> {
    first_of(
        lower,
        &[
            ("spf check failed", Reason::AuthFailure),
            ("dmarc check failed", Reason::AuthFailure),
            ("suspected bounce attacks", Reason::Blocked),
            ("suspected spam ip", Reason::Blocked),
            ("connection denied", Reason::Blocked),
            ("message too large", Reason::MesgTooBig),
            ("mail is rejected by recipients", Reason::Rejected),
            ("spam is embedded in the email", Reason::SpamDetected),
            ("mail content denied", Reason::SpamDetected),
            ("suspected spam", Reason::Rejected),
            ("is a deactivated mailbox", Reason::Suspend),
            ("bad address syntax", Reason::SyntaxError),
            ("ip frequency limited", Reason::TooManyConn),
            ("domain frequency limited", Reason::TooManyConn),
            ("sender frequency limited", Reason::TooManyConn),
            ("connection frequency limited", Reason::TooManyConn),
            ("mailbox not found", Reason::UserUnknown),
        ],
    )
}

fn messagelabs(_r: &Raw, lower: &str) -> Option<Reason> {
    messagelabs_words(lower)
}

/// Symantec MessageLabs (Email Security.cloud): the reason its documented replies state
/// (`lower`: the lower-cased reply).
pub fn messagelabs_words(lower: &str) -> Option<Reason> {
    first_of(
        lower,
        &[
            ("domain authentication fail", Reason::AuthFailure),
            ("connection rejected by policy", Reason::BadReputation),
            (
                "mail rejected because your ip is in the pbl",
                Reason::Blocked,
            ),
            ("your ip address has been ", Reason::Blocked),
            ("stray linefeeds in message", Reason::ContentError),
            (" as a relay, ", Reason::NoRelaying),
            (
                "has detected that this message is not rfc 5322",
                Reason::NotCompliantRfc,
            ),
            (
                "sender envelope domain not allowed for sender ip address",
                Reason::Rejected,
            ),
            ("your domain has been blocked", Reason::Rejected),
            ("your email address has been blocked", Reason::Rejected),
            (
                "your envelope sender is in my badmailfrom list",
                Reason::Rejected,
            ),
            ("has been blacklisted", Reason::Rejected),
            (
                "please turn on smtp authentication in your mail client",
                Reason::SecurityError,
            ),
            ("message filtered", Reason::SpamDetected),
            ("filtered by outbound scanning", Reason::SpamDetected),
            (
                "too many recipients received this hour",
                Reason::TooManyConn,
            ),
            ("too many messages", Reason::TooManyConn),
            ("no such user", Reason::UserUnknown),
            ("invalid recipient", Reason::UserUnknown),
            ("mailbox is not allowed", Reason::UserUnknown),
        ],
    )
}

/// NTT DOCOMO refuses unknown users at RCPT, and messages its filters reject at DATA with
/// the same words.
fn docomo(r: &Raw, lower: &str) -> Option<Reason> {
    let status = r
        .status
        .clone()
        .or_else(|| super::common::status(lower))
        .unwrap_or_default();
    let command = r
        .smtp_command
        .as_deref()
        .or_else(|| super::super::classify::command_of(lower));
    match status.as_str() {
        "5.1.1" => Some(Reason::UserUnknown),
        "5.2.0" => Some(Reason::Filtered),
        "5.0.0" | "" => match command {
            Some("RCPT") => Some(Reason::UserUnknown),
            Some("DATA") => Some(Reason::Rejected),
            _ => first_of(
                lower,
                &[
                    ("552 too much mail data", Reason::MailboxFull),
                    ("503 bad sequence of commands", Reason::SyntaxError),
                    ("504 command parameter not implemented", Reason::SyntaxError),
                    ("552 too many recipients", Reason::TooManyConn),
                    ("550 unknown user", Reason::UserUnknown),
                ],
            ),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(rcpt: &str, remote: &str, diag: &str) -> Raw {
        Raw {
            recipient: rcpt.into(),
            remote_mta: Some(remote.into()).filter(|s: &String| !s.is_empty()),
            diagnostic: diag.into(),
            ..Raw::default()
        }
    }

    #[test]
    fn provider_codes() {
        let mut r = raw(
            "a@laposte.net",
            "",
            "550 5.5.0 Boite archivee. Archived recipient. LPN007_420",
        );
        apply(&mut r);
        assert_eq!(r.reason, Some(Reason::Suspend));
        let mut r = raw(
            "a@example.org",
            "mx1.qq.com",
            "550 Ip frequency limited [x]",
        );
        apply(&mut r);
        assert_eq!(r.reason, Some(Reason::TooManyConn));
        let mut r = raw(
            "a@example.org",
            "mx.example.org",
            "550 Ip frequency limited",
        );
        apply(&mut r);
        assert_eq!(r.reason, None);
    }
}

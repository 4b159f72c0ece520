//! Reason, status and hard/soft for a bounce record.
//!
//! Order of evidence: a reason the format itself states (an engine's `reason`), a specific
//! enhanced status code (`5.2.2` is a full mailbox whatever the words say), the server's
//! words matched against the phrase tables below, then what the status class, the reply
//! code or the DSN action imply. A status code too general to decide (`5.0.0`, `5.7.1`,
//! `5.1.1` used for everything by some servers) lets the words win.
//!
//! Hard or soft follows the address, not the message: `hard` only when the address itself
//! is bad (unknown user or host, moved, a domain that accepts no mail), so that a blocked
//! IP address or a spam-filtered message never suppresses a good address.

use super::mime::Flat;
use super::Raw;
use crate::reason::{find_reply_code, find_status};
use crate::{BounceClass, EventKind, Reason};

/// The outcome for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Event kind.
    pub kind: EventKind,
    /// Hard or soft, for bounces.
    pub class: Option<BounceClass>,
    /// Reason.
    pub reason: Reason,
    /// Enhanced status code.
    pub status: Option<String>,
    /// SMTP reply code.
    pub reply_code: Option<String>,
}

/// The reason an enhanced status code names, and whether it is specific enough to trust
/// over the words.
pub fn from_status(status: &str) -> Option<(Reason, bool)> {
    use Reason::*;
    let mut p = status.splitn(3, '.');
    let (class, subject, detail) = (p.next()?, p.next()?, p.next()?);
    let temporary = class == "4";
    Some(match (subject, detail) {
        ("1", "0") => (UserUnknown, false),
        ("1", "1") => (UserUnknown, false),
        ("1", "2") => (HostUnknown, false),
        ("1", "3") => (UserUnknown, false),
        ("1", "4") => (Filtered, false),
        ("1", "6") => (HasMoved, true),
        ("1", "7") | ("1", "8") => (Rejected, true),
        ("1", "9") => (SystemError, false),
        ("1", "10") => (NotAccept, true),
        ("2", "0") => (Filtered, false),
        ("2", "1") => (if temporary { Suspend } else { Filtered }, false),
        ("2", "2") => (MailboxFull, true),
        ("2", "3") => (ExceedLimit, true),
        ("2", "4") => (Filtered, false),
        ("3", "0") => (SystemError, false),
        ("3", "1") => (SystemFull, true),
        ("3", "2") => (NotAccept, false),
        ("3", "4") => (MesgTooBig, true),
        ("3", _) => (SystemError, false),
        ("4", "1") => (Expired, false),
        ("4", "2") => (NetworkError, false),
        ("4", "3") => (SystemError, false),
        ("4", "4") => (if temporary { NetworkError } else { HostUnknown }, false),
        ("4", "5") => (SystemFull, false),
        ("4", "6") => (NetworkError, true),
        ("4", "7") => (Expired, false),
        ("4", _) => (NetworkError, false),
        ("5", "3") => (TooManyConn, false),
        ("5", _) => (SystemError, false),
        ("6", _) => (ContentError, false),
        ("7", "1") => (if temporary { Blocked } else { SecurityError }, false),
        ("7", "13") => (Suspend, true),
        ("7", "16") => (MesgTooBig, true),
        ("7", "17") | ("7", "18") => (HasMoved, true),
        ("7", "23") | ("7", "26") => (AuthFailure, false),
        ("7", "25") => (RequirePtr, true),
        ("7", "27") => (NotAccept, true),
        ("7", _) => (SecurityError, false),
        _ => return None,
    })
}

/// Phrase tables, tried in this order. `*` matches anything within the text.
const PHRASES: &[(Reason, &[&str])] = &[
    (
        Reason::MailboxFull,
        &[
            "mailbox full",
            "mailbox is full",
            "mailbox quota",
            "over quota",
            "quota exceeded",
            "exceeded storage",
            "insufficient storage",
            "not enough storage",
            "disk quota",
            "mailbox has exceeded",
            "exceeds the maximum size allowed for mail delivery",
            "mailfolder is full",
            "user's space has been used up",
            "full mailbox",
            "recipient reached disk quota",
            "too much mail data",
            "user has too many messages",
            "exceeding its mailbox quota",
            "does not have enough space",
            "mailbox size limit exceeded",
            "boite du destinataire pleine",
            "quota violation",
            "would exceed",
            "is over quota",
            "over the allowed quota",
            "exceeded the quota",
            "mailbox exceeded",
            "out of storage",
            "inbox is full",
            "storage quota",
            "account is full",
            "quota full",
            "user over quota",
            "exceeded its quota",
            "mail box full",
            "mailbox size exceeded",
        ],
    ),
    (
        Reason::MesgTooBig,
        &[
            "message too large",
            "message too big",
            "message size exceeds",
            "message is too large",
            "message is too big",
            "size limit",
            "exceeds size limit",
            "message length exceeds",
            "mail size limit",
            "exceeds the maximum message size",
            "message exceeded",
            "message size * exceeds",
            "message file too big",
            "too large for this",
            "maximum message size",
            "size of the message",
            "message size limit",
        ],
    ),
    (
        Reason::ExceedLimit,
        &[
            "message header size exceeds",
            "exceeds limit",
            "size exceeds administrative limit",
        ],
    ),
    (
        Reason::Suspend,
        &[
            "account disabled",
            "account has been disabled",
            "account is disabled",
            "disabled account",
            "account is inactive",
            "account inactive",
            "mailbox disabled",
            "mailbox is disabled",
            "mailbox has been disabled",
            "suspended",
            "is deactivated",
            "has been deactivated",
            "not active",
            "inactive user",
            "account has been frozen",
            "account expired",
            "currently inactive",
            "mailbox is inactive",
            "user is inactive",
            "user suspended",
            "account closed",
            "recipient suspended",
            "is not accepting mail",
            "temporarily disabled",
            "mailbox unavailable or disabled",
            "boite du destinataire archivee",
            "archived recipient",
            "this account has been",
            "account is locked",
            "account locked",
        ],
    ),
    (
        Reason::HasMoved,
        &[
            "has been moved",
            "has moved",
            "address has changed",
            "no longer available at this address",
            "mailbox has moved",
        ],
    ),
    (
        Reason::NoRelaying,
        &[
            "relaying denied",
            "relay denied",
            "relay access denied",
            "relaying not permitted",
            "not permitted to relay",
            "relay not permitted",
            "relaying disallowed",
            "unable to relay",
            "we do not relay",
            "relaying mail to * is not allowed",
            "not allowed to relay",
            "relay not allowed",
            "no relaying",
            "is not a gateway",
            "relay prohibited",
            "relaying to * denied",
            "is not permitted to relay",
            "cannot relay",
        ],
    ),
    (
        Reason::RequirePtr,
        &[
            "reverse dns",
            "no ptr",
            "ptr record",
            "reverse lookup",
            "no reverse",
            "ip name lookup failed",
            "cannot find your hostname",
            "can't find your hostname",
            "client host rejected: cannot find your hostname",
            "unresolvable",
            "hostname lookup",
            "does not resolve",
            "reverse-dns",
            "rdns",
            "name service error for",
            "no dns entry",
            "dns name does not match",
            "your host name does not match",
            "host name does not match",
            "please use the smtp server of your isp",
        ],
    ),
    (
        Reason::AuthFailure,
        &[
            "spf check failed",
            "spf fail",
            "spf validation",
            "spf authentication",
            "spf record",
            "sender policy framework",
            "dkim",
            "dmarc",
            "sender authentication",
            "authentication failed",
            "authentication checks failed",
            "failed authentication",
            "unauthenticated",
            "not authenticated",
            "multiple authentication checks failed",
            "is not designated as permitted sender",
            "does not designate",
            "does not pass",
            "spf:",
            "spf=fail",
        ],
    ),
    (
        Reason::UserUnknown,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "no such person",
            "no such address",
            "unknown recipient",
            "recipient unknown",
            "recipient not found",
            "recipient address rejected: user",
            "user not found",
            "invalid recipient",
            "invalid mailbox",
            "invalid address",
            "address invalid",
            "does not exist",
            "doesn't exist",
            "not exist",
            "mailbox not found",
            "mailbox unavailable",
            "mailbox is unavailable",
            "mailbox not available",
            "no mailbox",
            "unknown address",
            "address unknown",
            "unknown or illegal alias",
            "not a valid mailbox",
            "is not a valid user",
            "no account by that name",
            "bad destination mailbox",
            "user doesn't have a",
            "not our customer",
            "recipient rejected",
            "unrouteable address",
            "unroutable address",
            "no valid recipients",
            "non-existent",
            "nonexistent",
            "non existent",
            "not a known user",
            "destination addresses were unknown",
            "addressee unknown",
            "cannot be found",
            "could not be found",
            "not listed in",
            "is not a valid",
            "invalid-recipient",
            "is unknown",
            "no such local user",
            "user not exist",
            "mailbox does not",
            "address not present in directory",
            "recipient is not exist",
            "no user",
            "not known",
            "unknown local part",
            "not a local address",
            "unknown account",
            "bad recipient",
            "bad address",
            "invalid user",
            "user invalid",
            "account does not exist",
            "no longer exists",
            "was not found",
            "is not found",
            "mailbox not exist",
            "mail receiving disabled",
            "address rejected",
            "sorry, no mailbox here",
            "nessun utente",
            "utilisateur inconnu",
            "adresse d au moins un destinataire invalide",
            "not a valid recipient",
            "email address is not",
            "recipient address is not",
            "no mail box",
            "this user doesn't have",
            "no such",
            "rejected: user",
            "access denied. recipient",
            "recipient address rejected: access denied",
            "mailbox name not allowed",
            "unknown mailbox",
            "the email account that you tried to reach does not exist",
            "doesn't have a",
            "not found",
        ],
    ),
    (
        Reason::Filtered,
        &[
            "due to extended inactivity",
            "has restricted",
            "is not accepting",
            "refused by recipient",
            "restricted to",
            "only accepts mail from",
            "sender rejected",
            "filtered",
            "content filter",
            "because the recipient has blocked",
            "blocked by the recipient",
            "not authorized to send",
            "user refuses",
            "rejected by recipient",
            "recipient has rejected",
            "mail filter",
            "has elected not to receive",
            "receiving mail from",
            "may not be delivered to this user",
            "you are not allowed",
            "recipient does not accept",
        ],
    ),
    (
        Reason::HostUnknown,
        &[
            "host unknown",
            "unknown host",
            "host not found",
            "domain not found",
            "no such domain",
            "domain does not exist",
            "unrouteable mail domain",
            "unknown domain",
            "name or service not known",
            "domain name not found",
            "host or domain name not found",
            "recipient domain",
            "mx record",
            "no mx",
            "cannot resolve",
            "could not be resolved",
            "unresolvable host",
            "dns error",
            "nxdomain",
            "no route to host",
            "domain is not",
            "domain isn't",
            "invalid domain",
            "unknown or invalid domain",
            "domain must exist",
            "not a valid domain",
            "host lookup failed",
            "all relevant mx records point to non-existent hosts",
            "unrouteable domain",
            "no valid host",
            "no route for",
            "mail for * loops back to myself",
        ],
    ),
    (
        Reason::SpamDetected,
        &[
            "spam",
            "junk mail",
            "unsolicited",
            "bulk mail",
            "message content rejected",
            "classified as",
            "considered unsolicited",
            "looks like spam",
            "rejected as spam",
            "scored too high",
            "spam score",
            "rbl",
            "uce",
            "message looks suspicious",
            "detected as",
            "suspicious content",
            "high probability of being",
            "content rejected",
            "blacklisted url",
            "phish",
        ],
    ),
    (
        Reason::VirusDetected,
        &[
            "virus",
            "malware",
            "infected",
            "malicious",
            "dangerous attachment",
        ],
    ),
    (
        Reason::TooManyConn,
        &[
            "too many connections",
            "too many simultaneous",
            "connection limit",
            "too many concurrent",
            "too many smtp sessions",
            "too many recipients",
            "too many rcpt",
            "too many hops",
            "too many sessions",
            "too many open connections",
        ],
    ),
    (
        Reason::RateLimited,
        &[
            "rate limit",
            "rate-limit",
            "ratelimit",
            "too many messages",
            "too many emails",
            "throttl",
            "sending rate",
            "try again later",
            "exceeded the rate",
            "frequency limit",
            "too fast",
            "sending limit",
            "unusual rate",
        ],
    ),
    (
        Reason::BadReputation,
        &[
            "reputation",
            "poor reputation",
            "bad reputation",
            "low reputation",
        ],
    ),
    (
        Reason::Blocked,
        &[
            "blacklist",
            "blocklist",
            "block list",
            "black list",
            "blocked",
            "denylist",
            "deny list",
            "listed on",
            "listed at",
            "listed in",
            "spamhaus",
            "spamcop",
            "sorbs",
            "barracuda",
            "client host rejected",
            "connection refused",
            "access denied",
            "not allowed to send",
            "your ip",
            "ip address",
            "refused to talk",
            "connection rejected",
            "rejected because",
            "554 5.7.1 service unavailable",
            "service unavailable; client host",
            "sender ip",
            "poor reputation",
            "dynamic ip",
            "dial-up",
            "dialup",
            "residential",
            "banned",
            "denied by policy",
            "has been temporarily rate limited",
            "mail from * refused",
            "rejected by",
            "not accepted from",
            "refused",
        ],
    ),
    (
        Reason::PolicyViolation,
        &[
            "policy violation",
            "violates policy",
            "violation of",
            "prohibited",
            "not permitted by policy",
            "policy reasons",
            "local policy",
            "message rejected due to policy",
            "administrative prohibition",
            "contrary to policy",
            "content policy",
            "policy rejection",
            "policy",
        ],
    ),
    (
        Reason::Rejected,
        &[
            "sender rejected",
            "sender address rejected",
            "sender unknown",
            "domain of sender address",
            "sender verify failed",
            "sender domain",
            "from address",
            "sender is not",
            "invalid sender",
            "bad sender",
            "envelope sender",
            "return path",
            "mail from",
            "unknown sender",
            "sender denied",
            "address verification failed",
            "sender address",
            "sender invalid",
            "rejected sender",
            "null sender",
            "rejected",
        ],
    ),
    (
        Reason::SecurityError,
        &[
            "authentication required",
            "must issue a starttls",
            "starttls",
            "tls required",
            "encryption required",
            "certificate",
            "must authenticate",
            "not authorized",
            "authentication credentials",
            "security",
            "authentication is required",
            "sender is unauthenticated",
        ],
    ),
    (
        Reason::SyntaxError,
        &[
            "syntax error",
            "command unrecognized",
            "unrecognized command",
            "bad sequence of commands",
            "line too long",
        ],
    ),
    (
        Reason::ContentError,
        &[
            "content error",
            "message header",
            "header error",
            "bad header",
            "invalid header",
            "mime",
            "improper use of 8-bit",
            "8bit",
            "headers are not",
            "content-type",
            "message contains",
            "message body",
            "attachment",
            "file type",
            "encoding",
        ],
    ),
    (
        Reason::NotCompliantRfc,
        &[
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "rfc2822",
            "rfc 822",
            "not rfc",
            "duplicate header",
            "multiple from",
            "multiple to",
        ],
    ),
    (
        Reason::SystemFull,
        &[
            "system full",
            "mail system full",
            "out of disk",
            "disk full",
            "insufficient system storage",
            "system storage",
        ],
    ),
    (
        Reason::NotAccept,
        &[
            "does not accept mail",
            "accepts no mail",
            "null mx",
            "not accepting mail",
            "no mail accepted",
            "domain does not receive",
            "this domain does not accept",
            "not accept any",
            "does not accept any",
        ],
    ),
    (
        Reason::Expired,
        &[
            "retry timeout exceeded",
            "retry time not reached",
            "delivery time expired",
            "message expired",
            "has been delayed",
            "could not be delivered for",
            "timed out",
            "timeout",
            "time out",
            "unable to deliver for",
            "giving up",
            "too long in queue",
            "expired",
            "has not been delivered",
            "no answer from host",
            "delivery attempts will continue",
            "hasn't been delivered",
            "gave up",
            "queue time",
            "message was delayed",
        ],
    ),
    (
        Reason::NetworkError,
        &[
            "network error",
            "connection timed out",
            "connection reset",
            "lost connection",
            "could not connect",
            "connection refused",
            "unable to connect",
            "no route",
            "routing loop",
            "mail loop",
            "loops back",
            "too many hops",
            "hop count exceeded",
            "network is unreachable",
            "host is unreachable",
            "temporary failure",
            "dns lookup",
            "name server",
            "deferred",
        ],
    ),
    (
        Reason::SystemError,
        &[
            "system error",
            "internal error",
            "server error",
            "local error",
            "system config error",
            "temporarily unavailable",
            "service unavailable",
            "server busy",
            "resources temporarily",
            "out of memory",
            "queue file write error",
            "mail system",
            "error in processing",
            "configuration error",
            "i/o error",
            "try again",
            "not available",
        ],
    ),
    (
        Reason::MailerError,
        &[
            "mailer error",
            "command died",
            "command failed",
            "exit status",
            "program failed",
            "procmail",
            "x-unix",
            "pipe to",
            "unknown mailer",
        ],
    ),
];

fn glob(hay: &str, pat: &str) -> bool {
    if !pat.contains('*') {
        return hay.contains(pat);
    }
    let mut rest = hay;
    for piece in pat.split('*') {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The reason the words name, trying the tables in order.
pub fn from_words(diagnostic: &str) -> Option<Reason> {
    let lower = diagnostic.to_lowercase();
    PHRASES
        .iter()
        .find(|(_, ps)| ps.iter().any(|p| glob(&lower, p)))
        .map(|(r, _)| *r)
}

/// Whether a reason, as the status code names it, should yield to the words.
fn retry(r: Reason) -> bool {
    matches!(
        r,
        Reason::UserUnknown
            | Reason::HostUnknown
            | Reason::SystemError
            | Reason::SecurityError
            | Reason::NetworkError
            | Reason::Expired
            | Reason::Filtered
            | Reason::Undefined
            | Reason::OnHold
            | Reason::Blocked
            | Reason::TooManyConn
            | Reason::NotAccept
            | Reason::SystemFull
            | Reason::ContentError
            | Reason::AuthFailure
    )
}

/// Hard or soft, from the reason and the codes.
pub fn class_of(reason: Reason, status: Option<&str>, reply: Option<&str>) -> BounceClass {
    let permanent = status
        .map(|s| s.starts_with('5'))
        .or(reply.map(|r| r.starts_with('5')));
    match reason {
        Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved => BounceClass::Hard,
        Reason::NotAccept if permanent != Some(false) => BounceClass::Hard,
        _ => BounceClass::Soft,
    }
}

/// Classifies one record.
pub fn classify(raw: &Raw, _flat: &Flat) -> Classified {
    let diag = raw.diagnostic.as_str();
    let status = raw
        .status
        .clone()
        .filter(|s| s != "5.0.0" && s != "4.0.0" || find_status(diag).is_none())
        .or_else(|| find_status(diag));
    let reply_code = raw
        .reply_code
        .clone()
        .or_else(|| find_reply_code(diag).map(|c| c.to_string()));
    if let Some(kind @ (EventKind::Complaint | EventKind::AutoReply)) = raw.kind {
        return Classified {
            kind,
            class: None,
            reason: raw.reason.unwrap_or(Reason::Feedback),
            status: None,
            reply_code: None,
        };
    }
    let delivered = status.as_deref().is_some_and(|s| s.starts_with("2."))
        || matches!(raw.action.as_deref(), Some("delivered"));
    if delivered {
        return Classified {
            kind: EventKind::Delivery,
            class: None,
            reason: Reason::Delivered,
            status,
            reply_code,
        };
    }
    let by_status = status.as_deref().and_then(from_status);
    let words = from_words(diag);
    let reason = match (raw.reason, by_status, words) {
        (Some(r), _, _) if !retry(r) => r,
        (_, Some((r, true)), _) => r,
        (_, Some((r, false)), Some(w)) if retry(r) => w,
        (_, Some((r, _)), _) => r,
        (Some(r), None, _) => r,
        (None, None, Some(w)) => w,
        (None, None, None) => match reply_code.as_deref() {
            Some("552") => Reason::MailboxFull,
            Some("550" | "551" | "553") => Reason::UserUnknown,
            Some("554") => Reason::Rejected,
            Some("421") => Reason::TooManyConn,
            _ if raw.action.as_deref() == Some("delayed") => Reason::Expired,
            _ if !diag.trim().is_empty() => Reason::OnHold,
            _ => Reason::Undefined,
        },
    };
    let kind = if raw.action.as_deref() == Some("delayed") {
        EventKind::Deferred
    } else {
        EventKind::Bounce
    };
    Classified {
        kind,
        class: Some(class_of(reason, status.as_deref(), reply_code.as_deref())),
        reason,
        status,
        reply_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(status: Option<&str>, diag: &str) -> Reason {
        let raw = Raw {
            recipient: "a@example.org".into(),
            status: status.map(str::to_string),
            diagnostic: diag.into(),
            ..Raw::default()
        };
        classify(&raw, &Flat::default()).reason
    }

    #[test]
    fn codes_and_words() {
        assert_eq!(r(Some("5.2.2"), "user unknown"), Reason::MailboxFull);
        assert_eq!(
            r(Some("5.1.1"), "550 5.1.1 user unknown"),
            Reason::UserUnknown
        );
        assert_eq!(r(Some("5.0.0"), "mailbox full"), Reason::MailboxFull);
        assert_eq!(r(None, "550 relay access denied"), Reason::NoRelaying);
        assert_eq!(
            r(Some("5.7.1"), "rejected: listed on spamhaus"),
            Reason::Blocked
        );
        assert_eq!(r(None, ""), Reason::Undefined);
        assert_eq!(r(None, "something odd"), Reason::OnHold);
    }

    #[test]
    fn hard_only_when_the_address_is_bad() {
        assert_eq!(
            class_of(Reason::UserUnknown, Some("5.1.1"), None),
            BounceClass::Hard
        );
        assert_eq!(
            class_of(Reason::Blocked, Some("5.7.1"), None),
            BounceClass::Soft
        );
        assert_eq!(
            class_of(Reason::NotAccept, Some("5.1.10"), None),
            BounceClass::Hard
        );
        assert_eq!(
            class_of(Reason::NotAccept, Some("4.3.2"), None),
            BounceClass::Soft
        );
    }

    #[test]
    fn globs() {
        assert!(glob(
            "relaying mail to x is not allowed",
            "relaying mail to * is not allowed"
        ));
        assert!(!glob(
            "is not allowed relaying mail to",
            "relaying mail to * is not allowed"
        ));
    }
}

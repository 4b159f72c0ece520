//! The bounce-reason taxonomy (Sisimai's reason names) and a classifier.
//!
//! The classifier looks at the enhanced status code first (most specific), then the
//! diagnostic text, then the SMTP reply code. It is deliberately table-driven so that the
//! bounce-email parser and every provider adapter agree on what a code means.

use serde::{Deserialize, Serialize};

use crate::BounceClass;

macro_rules! reasons {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// Why a message bounced, using Sisimai's reason names so that results compare one
        /// to one with the best-known bounce parser.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub enum Reason { $(#[serde(rename = $name)] $variant),+ }

        impl Reason {
            /// Every reason.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),+];
            /// The reason's name (`userunknown`, …).
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $name),+ }
            }
        }
    };
}

reasons! {
    UserUnknown => "userunknown", HostUnknown => "hostunknown", MailboxFull => "mailboxfull",
    Filtered => "filtered", Rejected => "rejected", Blocked => "blocked",
    SpamDetected => "spamdetected", Expired => "expired", Suspend => "suspend",
    HasMoved => "hasmoved", MesgTooBig => "mesgtoobig", ExceedLimit => "exceedlimit",
    NoRelaying => "norelaying", NetworkError => "networkerror", SystemError => "systemerror",
    SystemFull => "systemfull", TooManyConn => "toomanyconn",
    PolicyViolation => "policyviolation", SecurityError => "securityerror",
    SyntaxError => "syntaxerror", ContentError => "contenterror", NotAccept => "notaccept",
    MailerError => "mailererror", AuthFailure => "authfailure", BadReputation => "badreputation",
    RateLimited => "ratelimited", RequirePtr => "requireptr",
    NotCompliantRfc => "notcompliantrfc", VirusDetected => "virusdetected",
    Feedback => "feedback", Vacation => "vacation", Delivered => "delivered", OnHold => "onhold",
    Undefined => "undefined",
}

impl Reason {
    /// Parses a reason name.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// Whether a bounce for this reason is permanent when nothing else says so.
    pub fn default_class(self) -> BounceClass {
        use Reason::*;
        match self {
            UserUnknown | HostUnknown | HasMoved | NotAccept | Suspend | Rejected | Filtered
            | NoRelaying | SyntaxError | PolicyViolation | SecurityError | VirusDetected
            | ContentError | MesgTooBig | NotCompliantRfc | RequirePtr | AuthFailure => {
                BounceClass::Hard
            }
            _ => BounceClass::Soft,
        }
    }
}

/// Finds the first enhanced status code (`X.Y.Z`, X in 2/4/5) in a text.
pub fn find_status(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // Only a 2, 4 or 5 can start a code: jump from one to the next.
    for i in memchr::memchr3_iter(b'2', b'4', b'5', b) {
        if (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'))
            && b.get(i + 1) == Some(&b'.')
        {
            let mut j = i + 2;
            let d1 = j;
            while j < b.len() && b[j].is_ascii_digit() && j - d1 < 3 {
                j += 1;
            }
            if j > d1 && b.get(j) == Some(&b'.') {
                let d2 = j + 1;
                let mut k = d2;
                while k < b.len() && b[k].is_ascii_digit() && k - d2 < 3 {
                    k += 1;
                }
                let ends_clean = k >= b.len() || !(b[k].is_ascii_digit() || b[k] == b'.');
                if k > d2 && ends_clean {
                    return Some(text[i..k].to_string());
                }
            }
        }
    }
    None
}

/// Finds the first SMTP reply code (a 3-digit number starting 2, 4 or 5, standing alone).
pub fn find_reply_code(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    // Only a 2, 4 or 5 can start a code: jump from one to the next.
    let end = b.len().saturating_sub(2);
    memchr::memchr3_iter(b'2', b'4', b'5', &b[..end]).find_map(|i| {
        let alone_before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        let alone_after = b
            .get(i + 3)
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'.'));
        if alone_before
            && alone_after
            && matches!(b[i], b'2' | b'4' | b'5')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
        {
            text[i..i + 3].parse().ok()
        } else {
            None
        }
    })
}

fn from_status(status: &str) -> Option<Reason> {
    use Reason::*;
    let mut parts = status.splitn(3, '.');
    let (_class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    Some(match (subject, detail) {
        ("1", "1") | ("1", "0") => UserUnknown,
        ("1", "2") => HostUnknown,
        ("1", "3") => SyntaxError,
        ("1", "6") => HasMoved,
        ("1", "8") => Rejected,
        ("1", "10") => NotAccept,
        ("2", "1") => Suspend,
        ("2", "2") => MailboxFull,
        ("2", "3") => MesgTooBig,
        ("2", "4") => SystemError,
        ("3", "1") => SystemFull,
        ("3", "4") => MesgTooBig,
        ("3", _) => SystemError,
        ("4", "1") | ("4", "4") => NetworkError,
        ("4", "3") => SystemError,
        ("4", "6") => NetworkError,
        ("4", "7") => Expired,
        ("4", _) => NetworkError,
        ("5", _) => SystemError,
        ("6", _) => ContentError,
        ("7", "1") => Blocked,
        ("7", "7") | ("7", "9") => SecurityError,
        ("7", "8") => AuthFailure,
        ("7", "25") => RequirePtr,
        ("7", "26") => AuthFailure,
        ("7", _) => SecurityError,
        _ => return None,
    })
}

/// Diagnostic phrases, most specific first. Matched case-insensitively.
const PHRASES: &[(&str, Reason)] = &[
    ("mailbox full", Reason::MailboxFull),
    ("mailbox is full", Reason::MailboxFull),
    ("over quota", Reason::MailboxFull),
    ("quota exceeded", Reason::MailboxFull),
    ("exceeded storage", Reason::MailboxFull),
    ("insufficient storage", Reason::MailboxFull),
    ("does not exist", Reason::UserUnknown),
    ("user unknown", Reason::UserUnknown),
    ("unknown user", Reason::UserUnknown),
    ("no such user", Reason::UserUnknown),
    ("unknown recipient", Reason::UserUnknown),
    ("recipient not found", Reason::UserUnknown),
    ("invalid recipient", Reason::UserUnknown),
    ("mailbox unavailable", Reason::UserUnknown),
    ("address rejected", Reason::UserUnknown),
    ("host not found", Reason::HostUnknown),
    ("domain not found", Reason::HostUnknown),
    ("domain name not found", Reason::HostUnknown),
    ("no mx", Reason::HostUnknown),
    ("account disabled", Reason::Suspend),
    ("account has been disabled", Reason::Suspend),
    ("suspended", Reason::Suspend),
    ("spam", Reason::SpamDetected),
    ("blacklist", Reason::Blocked),
    ("blocklist", Reason::Blocked),
    ("blocked", Reason::Blocked),
    ("too many connections", Reason::TooManyConn),
    ("rate limit", Reason::RateLimited),
    ("too many messages", Reason::RateLimited),
    ("message too large", Reason::MesgTooBig),
    ("message size exceeds", Reason::MesgTooBig),
    ("relay", Reason::NoRelaying),
    ("virus", Reason::VirusDetected),
    ("timed out", Reason::Expired),
    ("expired", Reason::Expired),
];

/// Classifies a bounce from what the provider tells about it. `status` is an enhanced
/// status code if known; the diagnostic text is searched for one otherwise.
pub fn classify(status: Option<&str>, diagnostic: Option<&str>) -> Reason {
    let diag = diagnostic.unwrap_or_default();
    let found = status
        .map(str::to_string)
        .or_else(|| find_status(diag))
        .and_then(|s| from_status(&s));
    // A generic status code ("5.0.0", or a 5.7.1 that may be spam) is refined by the text.
    let lower = diag.to_ascii_lowercase();
    let phrase = PHRASES
        .iter()
        .find(|(p, _)| lower.contains(p))
        .map(|(_, r)| *r);
    match (found, phrase) {
        (Some(Reason::Blocked), Some(p)) if p == Reason::SpamDetected => p,
        (Some(Reason::SystemError), Some(p)) => p,
        (Some(r), _) => r,
        (None, Some(p)) => p,
        (None, None) => match find_reply_code(diag) {
            Some(552) => Reason::MailboxFull,
            Some(550 | 551 | 553) => Reason::UserUnknown,
            Some(554) => Reason::Rejected,
            Some(421) => Reason::TooManyConn,
            Some(450..=452) => Reason::SystemError,
            _ => Reason::Undefined,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_in_diagnostics() {
        let d = "smtp; 550 5.1.1 The email account does not exist";
        assert_eq!(find_status(d).as_deref(), Some("5.1.1"));
        assert_eq!(find_reply_code(d), Some(550));
        assert_eq!(find_status("version 10.5.1.2 here"), None);
        assert_eq!(find_status("4.2.2"), Some("4.2.2".into()));
        assert_eq!(find_reply_code("no code"), None);
        // Edges: a code at either end, next to letters or dots, cut short.
        assert_eq!(find_reply_code("550"), Some(550));
        assert_eq!(find_reply_code("55"), None);
        assert_eq!(find_reply_code("x550 a5500 1.550 421"), Some(421));
        assert_eq!(find_reply_code("250-ok 4 5"), Some(250));
        assert_eq!(find_status("25.1.1 then 4.4.7."), None);
        assert_eq!(find_status("x5.2.2 then (2.0.0)"), Some("5.2.2".into()));
        assert_eq!(find_status("5.1.1234 5.1.12"), Some("5.1.12".into()));
    }

    #[test]
    fn classifies_common_bounces() {
        let cases = [
            (
                None,
                "smtp; 550 5.1.1 The email account does not exist",
                Reason::UserUnknown,
            ),
            (None, "smtp; 452 4.2.2 Mailbox full", Reason::MailboxFull),
            (Some("5.1.2"), "", Reason::HostUnknown),
            (
                None,
                "550 5.7.1 Message rejected as spam",
                Reason::SpamDetected,
            ),
            (None, "5.0.0 user unknown", Reason::UserUnknown),
            (None, "something odd happened", Reason::Undefined),
            (None, "550 no such mailbox here", Reason::UserUnknown),
        ];
        for (status, diag, want) in cases {
            assert_eq!(classify(status, Some(diag)), want, "{diag}");
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Reason::ALL.len(), 34);
    }
}

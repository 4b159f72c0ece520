//! Email addresses as rebound keys them.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit).
const MAX_LEN: usize = 254;

/// Why a string is not an address rebound can key a contact by.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing left after trimming.
    #[error("email address is empty")]
    Empty,
    /// Longer than 254 bytes.
    #[error("email address is longer than {MAX_LEN} bytes")]
    TooLong,
    /// No `@`, or an empty local or domain part.
    #[error("'{0}' is not an email address (expected local@domain)")]
    Malformed(String),
}

/// An email address: trimmed, optional `<…>` removed; two addresses are equal when their
/// local parts are equal and their domains are equal ignoring ASCII case.
///
/// The original spelling is kept for display ([`Address::as_str`]); [`Address::key`] is the
/// normalized form used for lookups and uniqueness.
#[derive(Debug, Clone)]
pub struct Address {
    original: String,
    key: String,
}

impl Address {
    /// Parses and normalizes an address. Never panics.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        let mut s = input.trim();
        if let (Some(open), true) = (s.rfind('<'), s.ends_with('>')) {
            s = s[open + 1..s.len() - 1].trim();
        }
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(AddressError::TooLong);
        }
        let at = s
            .rfind('@')
            .ok_or_else(|| AddressError::Malformed(s.to_string()))?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>';
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || s.chars().any(bad_char)
        {
            return Err(AddressError::Malformed(s.to_string()));
        }
        Ok(Address {
            original: s.to_string(),
            key: format!("{local}@{}", domain.to_ascii_lowercase()),
        })
    }

    /// The address as it was first spelled.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The normalized form: local part as given, domain lower-cased.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The domain part, lower-cased.
    pub fn domain(&self) -> &str {
        self.key.rsplit('@').next().unwrap_or_default()
    }
}

/// The domain, lower-cased, of one address as a payload or header names it (`a@b.com`,
/// `Name <a@b.com>`); `None` when the text is not exactly one address. Used for the sending
/// domain of events: taken only from what the payload says, never guessed.
pub fn domain_of(raw: &str) -> Option<String> {
    Address::parse(raw).ok().map(|a| a.domain().to_string())
}

/// The domain of the first of `candidates` that names an address (see [`domain_of`]).
pub fn first_domain<'a>(candidates: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    candidates.into_iter().flatten().find_map(domain_of)
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Address {}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_case_insensitive_and_spelling_is_kept() {
        let a = Address::parse("  John.Doe@Example.COM ").unwrap();
        let b = Address::parse("John.Doe@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "John.Doe@Example.COM");
        assert_eq!(a.key(), "John.Doe@example.com");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn local_part_case_is_significant() {
        let a = Address::parse("john@example.com").unwrap();
        let b = Address::parse("JOHN@example.com").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn angle_brackets_and_display_names_are_removed() {
        let a = Address::parse("John <john@example.com>").unwrap();
        assert_eq!(a.as_str(), "john@example.com");
    }

    #[test]
    fn domain_of_takes_one_address_in_any_usual_form() {
        assert_eq!(domain_of("a@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(
            domain_of("\"Doe, John\" <john@Mail.Example.org>").as_deref(),
            Some("mail.example.org")
        );
        assert_eq!(
            domain_of(" Sender <s@xn--bcher-kva.de> ").as_deref(),
            Some("xn--bcher-kva.de")
        );
        for none in ["", "Sender", "Test Sender <>", "a@x.com, b@y.com", "@x.com"] {
            assert_eq!(domain_of(none), None, "{none:?}");
        }
        assert_eq!(
            first_domain([None, Some("nobody"), Some("b <b@B.io>"), Some("c@c.io")]).as_deref(),
            Some("b.io")
        );
        assert_eq!(first_domain([None, Some("")]), None);
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "   ",
            "nobody",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@b@",
            "a@.com",
            "a@com.",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            Address::parse(&format!("{}@example.com", "a".repeat(250))),
            Err(AddressError::TooLong)
        );
    }
}

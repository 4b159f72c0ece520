//! `MailboxUrl`: one URL describes a bounce mailbox, the same in config, API and CLI.
//!
//! ```text
//! imaps://USER:PASSWORD@HOST[:PORT]/FOLDER?after=delete
//! pop3s://USER:PASSWORD@HOST[:PORT]?after=keep
//! imap://USER:PASSWORD@HOST/INBOX?tls=starttls        (imap:// and pop3:// mean STARTTLS)
//! pop3://USER:PASSWORD@HOST?tls=none&insecure=true    (plaintext only when asked twice)
//! ```
//!
//! Parameters: `after=delete|keep|move:FOLDER` (default `keep`; `move:` is IMAP only),
//! `tls=implicit|starttls|none`, `insecure=true`, `ca=PATH` (an extra trusted CA, PEM),
//! `interval=300|45s|5m|1h` (periodic scans) and `max_size=25M` (the largest message
//! fetched; default 25 MiB). Anything else is an error naming the parameter. The parser
//! never panics, whatever the input.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// The largest message fetched unless `max_size=` says otherwise: 25 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 25 * 1024 * 1024;

/// The mail access protocol of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IMAP4rev1 (RFC 3501).
    Imap,
    /// POP3 (RFC 1939).
    Pop3,
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (`imaps://`, `pop3s://`, ports 993/995).
    Implicit,
    /// Plaintext greeting, then STARTTLS/STLS, required: no plaintext fallback.
    StartTls,
    /// No TLS at all. Only accepted together with `insecure=true`.
    None,
}

/// What happens to a message on the server once it is durably stored by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Leave every message on the server; the caller remembers the ids it has seen.
    Keep,
    /// Delete bounces; keep everything else (human replies are never deleted).
    Delete,
    /// Move every processed message to this folder (IMAP only).
    Move(String),
}

/// Why a mailbox URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not of the form `scheme://…`.
    #[error("not a mailbox URL (expected imaps://, imap://, pop3s:// or pop3://)")]
    NotAUrl,
    /// The scheme is none of `imaps`, `imap`, `pop3s`, `pop3`.
    #[error("unsupported scheme {0:?} (expected imaps, imap, pop3s or pop3)")]
    Scheme(String),
    /// No `USER:PASSWORD@` part.
    #[error("the URL has no USER:PASSWORD@ part")]
    MissingCredentials,
    /// No password after the user name.
    #[error("the URL has no password (USER:PASSWORD@)")]
    MissingPassword,
    /// A percent-encoded part is not valid UTF-8 or has a control character.
    #[error("invalid {0}: it must be valid UTF-8 without control characters")]
    Encoding(&'static str),
    /// The host is empty or malformed.
    #[error("invalid host {0:?}")]
    Host(String),
    /// The port is not a number in 1..=65535.
    #[error("invalid port {0:?}")]
    Port(String),
    /// A folder name that cannot be used.
    #[error("invalid folder {0:?}: use printable ASCII, without '\"', '\\\\', '*' or '%'")]
    Folder(String),
    /// POP3 has a single mailbox: no folder in the path.
    #[error("POP3 has no folders: remove the path {0:?}")]
    Pop3Folder(String),
    /// A query parameter this crate does not know.
    #[error("unknown parameter {0:?}")]
    UnknownParam(String),
    /// The same parameter twice.
    #[error("parameter {0:?} given twice")]
    DuplicateParam(String),
    /// A known parameter with a value that is not allowed.
    #[error("invalid value {value:?} for parameter {param:?}: {expected}")]
    InvalidValue {
        /// The parameter name.
        param: &'static str,
        /// The value as given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `after=move:` with POP3.
    #[error("after=move: needs IMAP (POP3 has no folders)")]
    MoveNeedsImap,
    /// `tls=none` without `insecure=true`.
    #[error("tls=none sends the password in plaintext: add insecure=true to allow it")]
    PlaintextNeedsInsecure,
    /// A TLS mode that contradicts the scheme (e.g. `imaps://…?tls=starttls`).
    #[error("tls={tls} contradicts the scheme {scheme}:// (use {hint})")]
    TlsConflict {
        /// The scheme as given.
        scheme: String,
        /// The tls= value as given.
        tls: String,
        /// What to write instead.
        hint: &'static str,
    },
}

/// A parsed mailbox URL. `Display` prints it back with the password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxUrl {
    /// IMAP or POP3.
    pub protocol: Protocol,
    /// How the connection is protected.
    pub tls: Tls,
    /// The user name, percent-decoded.
    pub user: String,
    /// The password, percent-decoded. Never printed by `Display` or `Debug`.
    pub password: String,
    /// Host name or IP address (without brackets for IPv6).
    pub host: String,
    /// The port (default 993, 143, 995 or 110).
    pub port: u16,
    /// The IMAP folder to scan (default `INBOX`; always `INBOX` for POP3).
    pub folder: String,
    /// What to do with a message once it is stored.
    pub after: After,
    /// An extra CA certificate (PEM) to trust besides the system's roots.
    pub ca: Option<PathBuf>,
    /// How often to scan, for periodic scans.
    pub interval: Option<Duration>,
    /// Messages larger than this are refused (never downloaded).
    pub max_message_size: u64,
}

const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'@')
    .add(b':')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'&')
    .add(b'=');

impl MailboxUrl {
    /// Parses a mailbox URL. Never panics; every refusal is a [`UrlError`].
    pub fn parse(input: &str) -> Result<MailboxUrl, UrlError> {
        let input = input.trim();
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::NotAUrl)?;
        let scheme_lc = scheme.to_ascii_lowercase();
        let (protocol, scheme_tls) = match scheme_lc.as_str() {
            "imaps" => (Protocol::Imap, Tls::Implicit),
            "imap" => (Protocol::Imap, Tls::StartTls),
            "pop3s" => (Protocol::Pop3, Tls::Implicit),
            "pop3" => (Protocol::Pop3, Tls::StartTls),
            _ => return Err(UrlError::Scheme(scheme.to_string())),
        };
        if rest.contains('#') {
            return Err(UrlError::InvalidValue {
                param: "url",
                value: "#…".into(),
                expected: "no fragment (percent-encode '#' in a password as %23)",
            });
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i + 1..]),
            None => (before_query, ""),
        };
        // The password may contain '@' only percent-encoded, but be lenient: the last '@'
        // separates the credentials from the host.
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or(UrlError::MissingCredentials)?;
        let (user, password) = userinfo.split_once(':').ok_or(UrlError::MissingPassword)?;
        let user = decode(user, "user name")?;
        let password = decode(password, "password")?;
        if user.is_empty() {
            return Err(UrlError::MissingCredentials);
        }
        if password.is_empty() {
            return Err(UrlError::MissingPassword);
        }
        let (host, port) = split_host_port(hostport)?;

        let folder = decode(path.trim_end_matches('/'), "folder")?;
        let folder = match protocol {
            Protocol::Pop3 if !folder.is_empty() => return Err(UrlError::Pop3Folder(folder)),
            _ if folder.is_empty() => "INBOX".to_string(),
            _ => check_folder(folder)?,
        };

        let mut after = None;
        let mut tls = None;
        let mut insecure = None;
        let mut ca = None;
        let mut interval = None;
        let mut max_size = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key, "parameter name")?;
            let value = decode(raw, "parameter value")?;
            match key.as_str() {
                "after" => set_once(&mut after, "after", parse_after(&value)?)?,
                "tls" => set_once(&mut tls, "tls", parse_tls(&value)?)?,
                "insecure" => set_once(&mut insecure, "insecure", parse_bool(&value)?)?,
                "ca" if !value.is_empty() => set_once(&mut ca, "ca", PathBuf::from(value))?,
                "ca" => {
                    return Err(UrlError::InvalidValue {
                        param: "ca",
                        value,
                        expected: "a path to a PEM file",
                    })
                }
                "interval" => set_once(&mut interval, "interval", parse_duration(&value)?)?,
                "max_size" => set_once(&mut max_size, "max_size", parse_size(&value)?)?,
                _ => return Err(UrlError::UnknownParam(key)),
            }
        }
        let tls = match (scheme_tls, tls) {
            (s, None) => s,
            (Tls::Implicit, Some(Tls::Implicit)) => Tls::Implicit,
            (Tls::Implicit, Some(t)) => {
                return Err(UrlError::TlsConflict {
                    scheme: scheme_lc,
                    tls: tls_name(t).into(),
                    hint: "imap:// or pop3:// for STARTTLS or no TLS",
                })
            }
            (_, Some(Tls::Implicit)) => {
                return Err(UrlError::TlsConflict {
                    scheme: scheme_lc,
                    tls: "implicit".into(),
                    hint: "imaps:// or pop3s:// for implicit TLS",
                })
            }
            (_, Some(t)) => t,
        };
        if tls == Tls::None && insecure != Some(true) {
            return Err(UrlError::PlaintextNeedsInsecure);
        }
        let after = after.unwrap_or(After::Keep);
        if protocol == Protocol::Pop3 && matches!(after, After::Move(_)) {
            return Err(UrlError::MoveNeedsImap);
        }
        let port = port.unwrap_or(match (protocol, tls) {
            (Protocol::Imap, Tls::Implicit) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, Tls::Implicit) => 995,
            (Protocol::Pop3, _) => 110,
        });
        Ok(MailboxUrl {
            protocol,
            tls,
            user,
            password,
            host,
            port,
            folder,
            after,
            ca,
            interval,
            max_message_size: max_size.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE),
        })
    }
}

impl std::str::FromStr for MailboxUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MailboxUrl::parse(s)
    }
}

impl fmt::Display for MailboxUrl {
    /// The URL in canonical form with the password shown as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.protocol, self.tls) {
            (Protocol::Imap, Tls::Implicit) => "imaps",
            (Protocol::Imap, _) => "imap",
            (Protocol::Pop3, Tls::Implicit) => "pop3s",
            (Protocol::Pop3, _) => "pop3",
        };
        let user = utf8_percent_encode(&self.user, USERINFO);
        write!(f, "{scheme}://{user}:***@")?;
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if self.protocol == Protocol::Imap {
            write!(f, "/{}", utf8_percent_encode(&self.folder, USERINFO))?;
        }
        let after = match &self.after {
            After::Keep => "keep".to_string(),
            After::Delete => "delete".to_string(),
            After::Move(folder) => format!("move:{}", utf8_percent_encode(folder, USERINFO)),
        };
        write!(f, "?after={after}")?;
        match self.tls {
            Tls::Implicit => {}
            Tls::StartTls => write!(f, "&tls=starttls")?,
            Tls::None => write!(f, "&tls=none&insecure=true")?,
        }
        if let Some(ca) = &self.ca {
            let ca = ca.to_string_lossy();
            write!(f, "&ca={}", utf8_percent_encode(&ca, USERINFO))?;
        }
        if let Some(interval) = self.interval {
            write!(f, "&interval={}", interval.as_secs())?;
        }
        if self.max_message_size != DEFAULT_MAX_MESSAGE_SIZE {
            write!(f, "&max_size={}", self.max_message_size)?;
        }
        Ok(())
    }
}

impl fmt::Debug for MailboxUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxUrl({self})")
    }
}

fn tls_name(t: Tls) -> &'static str {
    match t {
        Tls::Implicit => "implicit",
        Tls::StartTls => "starttls",
        Tls::None => "none",
    }
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), UrlError> {
    if slot.is_some() {
        return Err(UrlError::DuplicateParam(name.to_string()));
    }
    *slot = Some(value);
    Ok(())
}

fn decode(s: &str, what: &'static str) -> Result<String, UrlError> {
    let decoded = percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| UrlError::Encoding(what))?;
    if decoded.chars().any(char::is_control) {
        return Err(UrlError::Encoding(what));
    }
    Ok(decoded.into_owned())
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), UrlError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| UrlError::Host(hostport.to_string()))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UrlError::Host(hostport.to_string()));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| UrlError::Host(hostport.to_string()))?,
            ),
        };
        (host.to_string(), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let valid_host = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !valid_host {
        return Err(UrlError::Host(host));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(UrlError::Port(p.to_string())),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Folder names are sent as IMAP quoted strings: printable ASCII only, and no list wildcards.
/// (Non-ASCII names would need modified UTF-7; not supported yet.)
fn check_folder(folder: String) -> Result<String, UrlError> {
    let ok = !folder.is_empty()
        && folder.len() <= 255
        && folder
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b'\\' | b'*' | b'%'));
    if ok {
        Ok(folder)
    } else {
        Err(UrlError::Folder(folder))
    }
}

fn parse_after(value: &str) -> Result<After, UrlError> {
    match value {
        "keep" => Ok(After::Keep),
        "delete" => Ok(After::Delete),
        v => match v.strip_prefix("move:") {
            Some(folder) => Ok(After::Move(check_folder(folder.to_string())?)),
            None => Err(UrlError::InvalidValue {
                param: "after",
                value: value.to_string(),
                expected: "delete, keep or move:FOLDER",
            }),
        },
    }
}

fn parse_tls(value: &str) -> Result<Tls, UrlError> {
    match value {
        "implicit" => Ok(Tls::Implicit),
        "starttls" => Ok(Tls::StartTls),
        "none" => Ok(Tls::None),
        _ => Err(UrlError::InvalidValue {
            param: "tls",
            value: value.to_string(),
            expected: "implicit, starttls or none",
        }),
    }
}

fn parse_bool(value: &str) -> Result<bool, UrlError> {
    match value {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(UrlError::InvalidValue {
            param: "insecure",
            value: value.to_string(),
            expected: "true or false",
        }),
    }
}

/// `300` (seconds), `45s`, `5m`, `1h`; at least one second, at most a week.
fn parse_duration(value: &str) -> Result<Duration, UrlError> {
    let invalid = || UrlError::InvalidValue {
        param: "interval",
        value: value.to_string(),
        expected: "seconds, or a number with s, m or h (1s to 168h)",
    };
    let (digits, unit) = match value.char_indices().last() {
        Some((i, c @ ('s' | 'm' | 'h'))) => (&value[..i], c),
        _ => (value, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    let secs = match unit {
        'h' => n.checked_mul(3600),
        'm' => n.checked_mul(60),
        _ => Some(n),
    }
    .ok_or_else(invalid)?;
    if !(1..=7 * 24 * 3600).contains(&secs) {
        return Err(invalid());
    }
    Ok(Duration::from_secs(secs))
}

/// `1000000`, `500K`, `25M`, `1G` (binary multiples); at least 1 KiB.
fn parse_size(value: &str) -> Result<u64, UrlError> {
    let invalid = || UrlError::InvalidValue {
        param: "max_size",
        value: value.to_string(),
        expected: "bytes, or a number with K, M or G (at least 1K)",
    };
    let (digits, mult) = match value.char_indices().last() {
        Some((i, 'K' | 'k')) => (&value[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&value[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&value[..i], 1 << 30),
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    let size = n.checked_mul(mult).ok_or_else(invalid)?;
    if size < 1024 {
        return Err(invalid());
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<MailboxUrl, UrlError> {
        MailboxUrl::parse(s)
    }

    #[test]
    fn imaps_url_with_folder_and_delete() {
        let u = parse("imaps://bounces:s3cret@mail.example.com/Bounces?after=delete").unwrap();
        assert_eq!(u.protocol, Protocol::Imap);
        assert_eq!(u.tls, Tls::Implicit);
        assert_eq!(u.user, "bounces");
        assert_eq!(u.password, "s3cret");
        assert_eq!(u.host, "mail.example.com");
        assert_eq!(u.port, 993);
        assert_eq!(u.folder, "Bounces");
        assert_eq!(u.after, After::Delete);
        assert_eq!(u.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
    }

    #[test]
    fn defaults_per_scheme() {
        let cases = [
            ("imaps://u:p@h", Protocol::Imap, Tls::Implicit, 993),
            ("imap://u:p@h", Protocol::Imap, Tls::StartTls, 143),
            ("pop3s://u:p@h", Protocol::Pop3, Tls::Implicit, 995),
            ("pop3://u:p@h", Protocol::Pop3, Tls::StartTls, 110),
            (
                "imap://u:p@h?tls=none&insecure=true",
                Protocol::Imap,
                Tls::None,
                143,
            ),
            (
                "pop3://u:p@h?tls=starttls",
                Protocol::Pop3,
                Tls::StartTls,
                110,
            ),
        ];
        for (url, protocol, tls, port) in cases {
            let u = parse(url).unwrap();
            assert_eq!((u.protocol, u.tls, u.port), (protocol, tls, port), "{url}");
            assert_eq!(u.folder, "INBOX", "{url}");
            assert_eq!(u.after, After::Keep, "{url}");
            assert_eq!(u.interval, None, "{url}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded_and_the_password_never_displayed() {
        let u = parse("pop3s://b%40x.org:p%3Aw%40rd%2F%25@[::1]:1995?after=keep").unwrap();
        assert_eq!(u.user, "b@x.org");
        assert_eq!(u.password, "p:w@rd/%");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 1995);
        let shown = u.to_string();
        assert_eq!(shown, "pop3s://b%40x.org:***@[::1]:1995?after=keep");
        assert!(!format!("{u:?}").contains("w@rd"));
        // The displayed form parses back (with a password put in) to the same URL.
        let again = parse(&shown.replace("***", "p%3Aw%40rd%2F%25")).unwrap();
        assert_eq!(again, u);
    }

    #[test]
    fn parameters() {
        let u = parse(
            "imap://u:p@h:1143/INBOX?after=move:Bounces%20Done&ca=%2Fetc%2Fca.pem&interval=5m&max_size=1M",
        )
        .unwrap();
        assert_eq!(u.after, After::Move("Bounces Done".into()));
        assert_eq!(u.ca, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(u.interval, Some(Duration::from_secs(300)));
        assert_eq!(u.max_message_size, 1 << 20);
        assert_eq!(u.port, 1143);
        for (v, secs) in [("300", 300), ("45s", 45), ("1h", 3600), ("2m", 120)] {
            let u = parse(&format!("imaps://u:p@h?interval={v}")).unwrap();
            assert_eq!(u.interval, Some(Duration::from_secs(secs)), "{v}");
        }
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let cases: &[(&str, UrlError)] = &[
            ("imap://u:p@h?tls=none", UrlError::PlaintextNeedsInsecure),
            (
                "pop3://u:p@h?tls=none&insecure=false",
                UrlError::PlaintextNeedsInsecure,
            ),
            ("pop3s://u:p@h?after=move:X", UrlError::MoveNeedsImap),
            (
                "imaps://u:p@h?folder=x",
                UrlError::UnknownParam("folder".into()),
            ),
            (
                "imaps://u:p@h?after=keep&after=delete",
                UrlError::DuplicateParam("after".into()),
            ),
            ("http://u:p@h", UrlError::Scheme("http".into())),
            ("imaps://h/INBOX", UrlError::MissingCredentials),
            ("imaps://u@h", UrlError::MissingPassword),
            ("imaps://u:@h", UrlError::MissingPassword),
            ("imaps://u:p@h:0", UrlError::Port("0".into())),
            ("imaps://u:p@h:99999", UrlError::Port("99999".into())),
            ("imaps://u:p@h:+1", UrlError::Port("+1".into())),
            ("imaps://u:p@", UrlError::Host("".into())),
            ("pop3s://u:p@h/INBOX", UrlError::Pop3Folder("INBOX".into())),
            ("imaps://u:p@h/a%22b", UrlError::Folder("a\"b".into())),
            ("imaps://u:p%0Ax@h", UrlError::Encoding("password")),
            ("imaps://u:p%FF@h", UrlError::Encoding("password")),
            ("no url", UrlError::NotAUrl),
        ];
        for (url, want) in cases {
            assert_eq!(parse(url).as_ref().err(), Some(want), "{url}");
        }
        assert!(matches!(
            parse("imaps://u:p@h?tls=starttls"),
            Err(UrlError::TlsConflict { .. })
        ));
        assert!(matches!(
            parse("imap://u:p@h?tls=implicit"),
            Err(UrlError::TlsConflict { .. })
        ));
        for bad in [
            "interval=0",
            "interval=5d",
            "interval=m",
            "interval=-1",
            "max_size=10",
        ] {
            assert!(
                matches!(
                    parse(&format!("imaps://u:p@h?{bad}")),
                    Err(UrlError::InvalidValue { .. })
                ),
                "{bad}"
            );
        }
    }

    /// Mutation test: random edits of valid URLs never panic, and whatever parses displays
    /// without the password and parses back from its display (password restored).
    #[test]
    fn random_mutations_never_panic() {
        use rand::{Rng, SeedableRng};
        let seeds = [
            "imaps://bounces:s3cret@mail.example.com:993/Bounces?after=move:Done&interval=5m",
            "pop3://u%40x:p%25w@[::1]:110?tls=none&insecure=true&ca=/x.pem&max_size=2M",
            "imap://user:pw@127.0.0.1/INBOX?tls=starttls&after=delete",
        ];
        let alphabet = b"%:/@?&=[]#.-_ azAZ09\x00\xff\n";
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let mut bytes = seeds[rng.gen_range(0..seeds.len())].as_bytes().to_vec();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..=bytes.len());
                match rng.gen_range(0..3) {
                    0 => bytes.insert(at, alphabet[rng.gen_range(0..alphabet.len())]),
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ if at < bytes.len() => bytes[at] = alphabet[rng.gen_range(0..alphabet.len())],
                    _ => {}
                }
            }
            let s = String::from_utf8_lossy(&bytes);
            if let Ok(u) = MailboxUrl::parse(&s) {
                let shown = u.to_string();
                assert!(shown.contains(":***@"), "{shown}");
                let back = MailboxUrl::parse(&shown.replace(
                    ":***@",
                    &format!(":{}@", utf8_percent_encode(&u.password, USERINFO)),
                ));
                assert_eq!(back.as_ref().ok(), Some(&u), "{s} -> {shown}");
            }
        }
    }
}

//! # rebound-mailbox
//!
//! The network shell for bounce mailboxes: POP3 and IMAP clients over TLS (implicit or
//! STARTTLS), and [`scan`], one pass over a mailbox that hands every new message to the
//! caller and deletes or moves it on the server only after the caller says it is stored.
//!
//! A mailbox is described by one URL ([`MailboxUrl`]), e.g.
//! `imaps://bounces:PASSWORD@mail.example.com/INBOX?after=delete`. Certificates and host
//! names are always verified (`ca=PATH` adds a CA); STARTTLS, once asked for, is required:
//! a server that does not offer it or refuses it is never sent the password, and bytes the
//! server sent between its STARTTLS answer and the handshake abort the connection.
//!
//! What happens to a message after the caller stored it ([`decide`]):
//!
//! | `after=` | bounce | not a bounce (a human reply, an auto-reply…) |
//! |---|---|---|
//! | `keep` (default) | kept | kept |
//! | `delete` | deleted | kept: never deleted |
//! | `move:FOLDER` | moved | moved |
//!
//! With `keep` the caller remembers the ids it processed ([`ScanOutcome::processed`]) and
//! passes them back as `seen`, so nothing is read twice (POP3: UIDL; IMAP:
//! `UIDVALIDITY:UID`).
//!
//! # Layout
//! - [`url`]: `MailboxUrl`, its parameters and `UrlError`; `Display` redacts the password.
//! - `conn` (private): TCP/TLS stream, bounded line reads, timeouts, the rustls client
//!   configuration (system roots + `ca=`), and the STARTTLS upgrade that refuses buffered
//!   plaintext.
//! - [`pop3`]: the POP3 client (RFC 1939, CAPA, STLS); deletions commit at QUIT.
//! - [`imap`]: a minimal IMAP4rev1 client (LOGIN, SELECT/EXAMINE, UID FETCH/STORE/EXPUNGE,
//!   UID MOVE or COPY, STARTTLS) with `Imap::idle` (RFC 2177) to wait for new mail.
//! - this file: the protocol-neutral [`Mailbox`] trait, [`connect`], [`scan`] and the
//!   [`Error`] type.
#![deny(missing_docs)]

mod conn;
pub mod imap;
pub mod pop3;
pub mod url;

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;

use async_trait::async_trait;

pub use url::{After, MailboxUrl, Protocol, Tls, UrlError, DEFAULT_MAX_MESSAGE_SIZE};

/// The TLS library whose errors [`Error::Tls`] carries, to match on them (e.g.
/// `rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)`).
pub use rustls;

/// Everything that can go wrong talking to a mailbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mailbox URL was refused.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A network error (connection refused, reset, closed…).
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// A network step took longer than its timeout.
    #[error("timed out during {0}")]
    Timeout(&'static str),
    /// The TLS handshake failed, e.g. an untrusted certificate or a wrong host name.
    #[error("TLS error: {0}")]
    Tls(rustls::Error),
    /// The `ca=` file could not be used.
    #[error("cannot use the CA file {path}: {reason}")]
    Ca {
        /// The path as given.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// STARTTLS was required but the server does not advertise it; nothing was sent.
    #[error("the server does not offer STARTTLS: refusing to log in without TLS")]
    StartTlsNotOffered,
    /// The server answered STARTTLS/STLS with an error; nothing was sent.
    #[error("the server refused STARTTLS ({0}): refusing to log in without TLS")]
    StartTlsRefused(String),
    /// The server sent bytes after accepting STARTTLS and before the TLS handshake (the
    /// STARTTLS injection attack); the connection was aborted.
    #[error("the server sent data between its STARTTLS answer and the TLS handshake: aborted")]
    StartTlsInjection,
    /// The server refused the user name or password.
    #[error("login refused: {0}")]
    Auth(String),
    /// The server answered a command with an error (IMAP NO/BAD, POP3 -ERR) or said BYE.
    #[error("the server answered {0}")]
    Server(String),
    /// The server said something this client does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A protocol line longer than the limit.
    #[error("the server sent a line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// An IMAP literal larger than allowed where it occurred.
    #[error("the server sent a {size}-byte literal, more than the {limit} allowed")]
    LiteralTooLarge {
        /// Its announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A message larger than `max_size`, refused before downloading it.
    #[error("message {id} has {size} bytes, more than the limit of {limit}")]
    MessageTooLarge {
        /// Its id.
        id: String,
        /// Its size as the server announced it.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The message is no longer on the server (or the id is not one of this mailbox).
    #[error("message {0} is not in the mailbox")]
    NotFound(String),
    /// An IMAP id from another UIDVALIDITY: the folder was recreated since it was listed.
    #[error("message id {0} belongs to an earlier UIDVALIDITY of the folder")]
    StaleId(String),
    /// An action this protocol or session cannot do.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
}

impl Error {
    /// Errors about one message, after which the session can go on with the next one.
    /// Everything else means the connection cannot be trusted any more.
    pub fn is_per_message(&self) -> bool {
        matches!(
            self,
            Error::NotFound(_) | Error::StaleId(_) | Error::MessageTooLarge { .. }
        )
    }

    fn from_tls_io(e: std::io::Error) -> Error {
        let is_rustls = e
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        if is_rustls {
            if let Some(inner) = e.into_inner() {
                if let Ok(tls) = inner.downcast::<rustls::Error>() {
                    return Error::Tls(*tls);
                }
            }
            return Error::Protocol("TLS handshake failed".into());
        }
        Error::Io(e)
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A message in a mailbox, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageRef {
    /// Stable across sessions: POP3 UIDL, or IMAP `UIDVALIDITY:UID`.
    pub id: String,
    /// Its size in bytes as the server reports it, if it does.
    pub size: Option<u64>,
}

/// What to do with a message on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete it (POP3: committed at QUIT, i.e. in [`Mailbox::finish`]).
    Delete,
    /// Leave it where it is.
    Keep,
    /// Move it to this folder, created if missing (IMAP only).
    Move(String),
}

/// A logged-in mailbox session, POP3 or IMAP.
#[async_trait]
pub trait Mailbox: Send {
    /// The messages currently in the mailbox (folder), oldest first.
    async fn list(&mut self) -> Result<Vec<MessageRef>>;
    /// The raw message, byte for byte as the server sends it (CRLF line ends). Refuses a
    /// message larger than the URL's `max_size`.
    async fn fetch(&mut self, m: &MessageRef) -> Result<Vec<u8>>;
    /// Deletes, keeps or moves a message listed by [`Mailbox::list`].
    async fn apply(&mut self, m: &MessageRef, action: &Action) -> Result<()>;
    /// Commits (POP3 QUIT; IMAP EXPUNGE when needed) and logs out.
    async fn finish(self: Box<Self>) -> Result<()>;
}

/// Connects and logs in as the URL says.
pub async fn connect(url: &MailboxUrl) -> Result<Box<dyn Mailbox + Send>> {
    Ok(match url.protocol {
        Protocol::Imap => Box::new(imap::Imap::connect(url).await?),
        Protocol::Pop3 => Box::new(pop3::Pop3::connect(url).await?),
    })
}

/// The caller's answer for a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the message is a bounce (delivery status notification or similar). Only
    /// bounces are ever deleted.
    pub is_bounce: bool,
}

/// What to do with a message once stored, given `after=` and the verdict.
pub fn decide(after: &After, verdict: Verdict) -> Action {
    match (after, verdict.is_bounce) {
        (After::Move(folder), _) => Action::Move(folder.clone()),
        (After::Delete, true) => Action::Delete,
        (After::Delete, false) | (After::Keep, _) => Action::Keep,
    }
}

/// Counts of one scan pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Messages downloaded.
    pub fetched: usize,
    /// Of those, stored and judged bounces.
    pub bounces: usize,
    /// Of those, stored and judged not bounces.
    pub non_bounces: usize,
    /// Left on the server after being stored.
    pub kept: usize,
    /// Deleted from the server.
    pub deleted: usize,
    /// Moved to the `move:` folder.
    pub moved: usize,
    /// Messages left untouched because of an error (see [`ScanOutcome::errors`]).
    pub errors: usize,
}

/// A message that could not be processed; it was left on the server as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageError {
    /// The message id.
    pub id: String,
    /// What went wrong.
    pub error: String,
}

/// The result of [`scan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    /// The counts.
    pub summary: ScanSummary,
    /// The ids whose `handle` succeeded, in order: add them to `seen` for the next pass.
    pub processed: Vec<String>,
    /// Messages that failed (fetch refused, `handle` failed, the action failed).
    pub errors: Vec<MessageError>,
}

impl fmt::Display for ScanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fetched {}, bounces {}, non-bounces {}, kept {}, deleted {}, moved {}, errors {}",
            self.fetched,
            self.bounces,
            self.non_bounces,
            self.kept,
            self.deleted,
            self.moved,
            self.errors
        )
    }
}

/// One pass over a mailbox.
///
/// Lists the messages, skips those whose id is in `seen`, fetches each other one and calls
/// `handle(id, bytes)`. `handle` must return only once the message is durably stored; its
/// [`Verdict`] then decides the server-side action ([`decide`]). If `handle` fails, or the
/// message is refused (too large, gone), the message is left untouched and the pass goes on.
///
/// A connection-level failure (network, protocol, TLS) ends the pass with `Err`: what was
/// stored stays stored, and POP3 deletions not yet committed are rolled back by the server,
/// so the next pass fetches those messages again; storing must therefore be idempotent
/// (the inbox deduplicates).
pub async fn scan<F, Fut, E>(
    url: &MailboxUrl,
    seen: &HashSet<String>,
    handle: F,
) -> Result<ScanOutcome>
where
    F: FnMut(String, Vec<u8>) -> Fut,
    Fut: Future<Output = std::result::Result<Verdict, E>>,
    E: fmt::Display,
{
    let mailbox = connect(url).await?;
    scan_session(mailbox, &url.after, seen, handle).await
}

/// [`scan`] over a session already connected (for callers that keep their own).
pub async fn scan_session<F, Fut, E>(
    mailbox: Box<dyn Mailbox + Send>,
    after: &After,
    seen: &HashSet<String>,
    mut handle: F,
) -> Result<ScanOutcome>
where
    F: FnMut(String, Vec<u8>) -> Fut,
    Fut: Future<Output = std::result::Result<Verdict, E>>,
    E: fmt::Display,
{
    scan_session_batched(mailbox, after, seen, Batch::ONE, |mut items| {
        let one = items.pop().map(|(id, bytes)| handle(id, bytes));
        async move {
            match one {
                Some(f) => f.await.map(|v| vec![v]),
                None => Ok(Vec::new()),
            }
        }
    })
    .await
}

/// How many fetched messages (and bytes) a batch handler receives at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Messages per batch (at least 1).
    pub messages: usize,
    /// Bytes per batch: a batch closes once it holds this much (a larger message still
    /// makes a batch of one).
    pub bytes: usize,
}

impl Batch {
    /// One message at a time.
    pub const ONE: Batch = Batch {
        messages: 1,
        bytes: 0,
    };
}

/// [`scan`], handing messages to `handle` in batches: the handler stores a whole batch at
/// once (one durable write) and returns one verdict per message, in order; only then is
/// anything deleted or moved. A handler error leaves the whole batch untouched.
pub async fn scan_batched<F, Fut, E>(
    url: &MailboxUrl,
    seen: &HashSet<String>,
    batch: Batch,
    handle: F,
) -> Result<ScanOutcome>
where
    F: FnMut(Vec<(String, Vec<u8>)>) -> Fut,
    Fut: Future<Output = std::result::Result<Vec<Verdict>, E>>,
    E: fmt::Display,
{
    let mailbox = connect(url).await?;
    scan_session_batched(mailbox, &url.after, seen, batch, handle).await
}

/// [`scan_batched`] over a session already connected.
pub async fn scan_session_batched<F, Fut, E>(
    mut mailbox: Box<dyn Mailbox + Send>,
    after: &After,
    seen: &HashSet<String>,
    batch: Batch,
    mut handle: F,
) -> Result<ScanOutcome>
where
    F: FnMut(Vec<(String, Vec<u8>)>) -> Fut,
    Fut: Future<Output = std::result::Result<Vec<Verdict>, E>>,
    E: fmt::Display,
{
    let mut out = ScanOutcome::default();
    let todo: Vec<MessageRef> = mailbox
        .list()
        .await?
        .into_iter()
        .filter(|m| !seen.contains(&m.id))
        .collect();
    let mut next = 0;
    while next < todo.len() {
        // Fetch a batch.
        let mut refs: Vec<&MessageRef> = Vec::new();
        let mut items: Vec<(String, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        while next < todo.len()
            && items.len() < batch.messages.max(1)
            && (items.is_empty() || bytes < batch.bytes)
        {
            let m = &todo[next];
            next += 1;
            match mailbox.fetch(m).await {
                Ok(b) => {
                    out.summary.fetched += 1;
                    bytes += b.len();
                    refs.push(m);
                    items.push((m.id.clone(), b));
                }
                Err(e) if e.is_per_message() => fail(&mut out, &m.id, e.to_string()),
                Err(e) => return Err(e),
            }
        }
        if items.is_empty() {
            continue;
        }
        let count = items.len();
        let verdicts = match handle(items).await {
            Ok(v) if v.len() == count => v,
            Ok(v) => {
                let error = format!("not stored: {} verdicts for {count} messages", v.len());
                for m in &refs {
                    fail(&mut out, &m.id, error.clone());
                }
                continue;
            }
            Err(e) => {
                let error = format!("not stored: {e}");
                for m in &refs {
                    fail(&mut out, &m.id, error.clone());
                }
                continue;
            }
        };
        for (m, verdict) in refs.into_iter().zip(verdicts) {
            if verdict.is_bounce {
                out.summary.bounces += 1;
            } else {
                out.summary.non_bounces += 1;
            }
            out.processed.push(m.id.clone());
            let action = decide(after, verdict);
            match mailbox.apply(m, &action).await {
                Ok(()) => match action {
                    Action::Keep => out.summary.kept += 1,
                    Action::Delete => out.summary.deleted += 1,
                    Action::Move(_) => out.summary.moved += 1,
                },
                Err(e) if e.is_per_message() => fail(&mut out, &m.id, e.to_string()),
                Err(e) => return Err(e),
            }
        }
    }
    mailbox.finish().await?;
    Ok(out)
}

fn fail(out: &mut ScanOutcome, id: &str, error: String) {
    tracing::warn!(id, %error, "mailbox message left untouched");
    out.summary.errors += 1;
    out.errors.push(MessageError {
        id: id.to_string(),
        error,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounces_are_deleted() {
        let bounce = Verdict { is_bounce: true };
        let reply = Verdict { is_bounce: false };
        assert_eq!(decide(&After::Delete, bounce), Action::Delete);
        assert_eq!(decide(&After::Delete, reply), Action::Keep);
        assert_eq!(decide(&After::Keep, bounce), Action::Keep);
        assert_eq!(decide(&After::Keep, reply), Action::Keep);
        let to = After::Move("Done".into());
        assert_eq!(decide(&to, bounce), Action::Move("Done".into()));
        assert_eq!(decide(&to, reply), Action::Move("Done".into()));
    }
}

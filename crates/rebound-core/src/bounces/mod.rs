//! Bounce emails: raw message bytes → one [`BounceRecord`] per failed recipient.
//!
//! Pure: no IO, no clock. The pipeline:
//! 1. [`mime::flatten`] reads the message (bounded by [`Limits`]) into its text, its
//!    delivery-status and feedback-report blocks and the returned original message.
//! 2. [`arf`] (RFC 5965 feedback reports) → complaints; [`autoreply`] (RFC 3834 and vacation
//!    notices) → auto-replies; [`dsn`] (RFC 3464 delivery-status fields); [`text`] (the
//!    non-standard formats real MTAs send, recognised by their wording).
//! 3. [`classify`] gives every record its reason (Sisimai's taxonomy), status and class.
//!
//! # Layout
//! - [`mime`]: line endings, headers, multipart, transfer and charset decoding, limits.
//! - [`dsn`]: RFC 3464 fields, per message and per recipient.
//! - [`arf`]: RFC 5965 feedback reports and the provider formats close to it.
//! - [`autoreply`]: RFC 3834 auto-replies and vacation notices.
//! - [`lhost`]: vendor formats (one module each), tried before the generic engines.
//! - [`events`]: records → events, with the mailbox trust rules (VERP, known contact).
//! - [`text`]: recipients and diagnostics found in the human-readable part.
//! - [`phrases`]: what servers say, per reason.
//! - [`classify`]: reason, status and hard/soft from codes and text.

/// A `memmem` searcher for a constant needle, built once per call site (`&'static`).
macro_rules! finder {
    ($needle:expr) => {{
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new($needle));
        &*FINDER
    }};
}

/// `memchr::memchr(needle, hay)` with its searcher built once per call site: the crate's
/// function picks its implementation through a pointer and builds a searcher on every call,
/// a quarter of its cost on the short lines of mail (callgrind: about 16 of 62 instructions
/// a call). The vectorised searcher where the CPU has AVX2, `memchr::memchr` elsewhere.
macro_rules! find_byte {
    ($needle:expr, $hay:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            static ONE: std::sync::LazyLock<Option<memchr::arch::x86_64::avx2::memchr::One>> =
                std::sync::LazyLock::new(|| memchr::arch::x86_64::avx2::memchr::One::new($needle));
            match &*ONE {
                Some(one) => one.find($hay),
                None => memchr::memchr($needle, $hay),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            memchr::memchr($needle, $hay)
        }
    }};
}

/// Whether the literal `needle` occurs in `hay` (a `&str`): a vectorised search whose
/// searcher is built once per call site, quicker than `str::contains` on a whole report.
macro_rules! has_literal {
    ($hay:expr, $needle:expr) => {
        finder!($needle).find(AsRef::<[u8]>::as_ref($hay)).is_some()
    };
}

pub mod arf;
pub mod autoreply;
pub mod classify;
pub mod dsn;
pub mod events;
pub mod lhost;
pub mod mime;
pub mod phrases;
pub mod text;

use crate::bounces::mime::StrExt;
use serde::Serialize;

use crate::{BounceClass, EventKind, Reason};
pub use mime::Limits;

/// One failed (or reported) recipient of a bounce email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BounceRecord {
    /// The address the report is about (a feedback report may name none).
    pub recipient: Option<String>,
    /// `bounce`, `deferred` (the MTA still retries), `complaint`, `auto-reply` or `delivery`.
    pub kind: EventKind,
    /// Hard or soft, for bounces.
    pub class: Option<BounceClass>,
    /// Why, in Sisimai's taxonomy.
    pub reason: Reason,
    /// Enhanced status code (`5.1.1`).
    pub status: Option<String>,
    /// SMTP reply code (`550`).
    pub reply_code: Option<String>,
    /// The remote server's words.
    pub diagnostic: Option<String>,
    /// The server that refused the message.
    pub remote_mta: Option<String>,
    /// The SMTP command the error answered (`RCPT`, `DATA`…), where known.
    pub smtp_command: Option<String>,
    /// The returned message's Message-ID, for matching to a send.
    pub message_id: Option<String>,
    /// Headers of the returned message that help match it to a send.
    pub original_headers: Vec<(String, String)>,
    /// ARF feedback type (`abuse`, `opt-out`…), for complaints.
    pub feedback_type: Option<String>,
    /// Which format was recognised (`rfc3464`, `arf`, `rfc3834`, `exim`, `qmail`…).
    pub mta: &'static str,
}

/// What an engine found for one recipient, before classification.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    /// The recipient address.
    pub recipient: String,
    /// Enhanced status code, if the report states one.
    pub status: Option<String>,
    /// SMTP reply code, if the report states one.
    pub reply_code: Option<String>,
    /// Diagnostic text.
    pub diagnostic: String,
    /// Diagnostic type (`smtp`, `x-unix`, `x-postfix`…), lower case.
    pub diagnostic_type: Option<String>,
    /// DSN action (`failed`, `delayed`, `delivered`, `relayed`, `expanded`).
    pub action: Option<String>,
    /// The remote server.
    pub remote_mta: Option<String>,
    /// The SMTP command that failed.
    pub smtp_command: Option<String>,
    /// A reason the engine is sure of (format-specific wording).
    pub reason: Option<Reason>,
    /// Kind when it is not a bounce.
    pub kind: Option<EventKind>,
    /// ARF feedback type.
    pub feedback_type: Option<String>,
}

/// What an engine returns: its name and its records.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Format name.
    pub mta: &'static str,
    /// Records in order of appearance.
    pub records: Vec<Raw>,
}

/// Records kept per message: a bounce names a handful of recipients; a message naming
/// thousands is hostile or a mailing-list digest, and the rest are dropped.
pub const MAX_RECORDS: usize = 500;

/// Parses a bounce email with default [`Limits`].
pub fn parse(raw: &[u8]) -> Vec<BounceRecord> {
    parse_with(raw, &Limits::default())
}

/// Parses a bounce email. Never panics; time and memory are bounded by `limits`.
pub fn parse_with(raw: &[u8], limits: &Limits) -> Vec<BounceRecord> {
    let mut flat = mime::flatten(raw, limits);
    let original = if flat.original_part.is_some() {
        std::mem::take(&mut flat.original_headers)
    } else {
        text::embedded_original(&flat, limits).unwrap_or_default()
    };
    let out = records(&flat, &original);
    // The message's buffers serve the next one on this thread.
    flat.original_headers = original;
    mime::recycle(flat);
    out
}

/// The records of a flattened message (`original`: the returned message's header).
fn records(flat: &mime::Flat, original: &mime::Headers) -> Vec<BounceRecord> {
    let found = detect(flat, original);
    let Some(found) = found else {
        return Vec::new();
    };
    // The text's command cue is looked for only when a record's own fields and words name
    // none, once per message. The report, not the returned message; its first 64 KiB say
    // all there is to say.
    let text_command = std::cell::OnceCell::new();
    let text_command =
        || *text_command.get_or_init(|| classify::command_of(mime::head(flat.report(), 64 << 10)));
    let mut out: Vec<BounceRecord> = Vec::new();
    for r in found.records.into_iter().take(MAX_RECORDS) {
        let recipient = text::clean_address(&r.recipient);
        match &recipient {
            None if r.kind != Some(EventKind::Complaint) => continue,
            Some(a)
                if out.iter().any(|o| {
                    o.recipient
                        .as_deref()
                        .is_some_and(|b| b.eq_ignore_ascii_case(a))
                }) =>
            {
                continue
            }
            _ => {}
        }
        let c = classify::classify(&r, text_command);
        out.push(BounceRecord {
            recipient,
            kind: c.kind,
            class: c.class,
            reason: c.reason,
            status: c.status,
            reply_code: c.reply_code,
            diagnostic: Some(r.diagnostic.trim_fast().to_string()).filter(|d| !d.is_empty()),
            remote_mta: r.remote_mta.filter(|m| !m.is_empty()),
            smtp_command: r.smtp_command,
            // The same for every record: given below, once the records are known.
            message_id: None,
            original_headers: Vec::new(),
            feedback_type: r.feedback_type,
            mta: found.mta,
        });
    }
    // The returned message's Message-ID and headers, read only when a record is kept,
    // copied to every record but the last, which takes them.
    if let Some((last, rest)) = out.split_last_mut() {
        let message_id = original
            .get("message-id")
            .map(|m| m.trim_fast().to_string())
            .filter(|m| !m.is_empty());
        let original_headers = kept_headers(original);
        for o in rest {
            o.message_id.clone_from(&message_id);
            o.original_headers.clone_from(&original_headers);
        }
        last.message_id = message_id;
        last.original_headers = original_headers;
    }
    out
}

/// The headers of the returned message a record keeps, in order.
fn kept_headers(original: &mime::Headers) -> Vec<(String, String)> {
    // Room for as many as may be kept, taken at once.
    let mut kept = Vec::with_capacity(original.len().min(32));
    kept.extend(
        original
            .iter()
            .filter(|(n, _)| is_kept(n) || n.starts_with("x-"))
            .filter(|(n, _)| !n.starts_with("x-ms-") && !n.starts_with("x-spam"))
            .take(32)
            .map(|(n, v)| (n.to_string(), first_chars(v, 512).to_string())),
    );
    kept
}

/// The first `n` characters of `s`.
fn first_chars(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    // Where the first `n` bytes are ASCII, they are the first `n` characters.
    if s.as_bytes()[..n].is_ascii() {
        return &s[..n];
    }
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Whether a returned message's field is one a record keeps (besides the `x-` fields):
/// `message-id`, `from`, `to`, `subject`, `date`, `return-path`, `list-id`,
/// `list-unsubscribe` (a `match`: the length picks the one to compare).
fn is_kept(name: &str) -> bool {
    matches!(
        name,
        "message-id"
            | "from"
            | "to"
            | "subject"
            | "date"
            | "return-path"
            | "list-id"
            | "list-unsubscribe"
    )
}

fn detect(flat: &mime::Flat, original: &mime::Headers) -> Option<Found> {
    if let Some(f) = arf::parse(flat, original) {
        return Some(f);
    }
    if let Some(f) = lhost::parse(flat, original) {
        return Some(f);
    }
    // `dsn::parse` already ran as the last vendor engine (`lhost::rfc3464`), on the same
    // message, and found nothing.
    debug_assert!(dsn::parse(flat).is_none());
    if let Some(f) = text::parse(flat, original) {
        return Some(f);
    }
    autoreply::parse(flat)
}

/// A xorshift64 generator for the tests' generated inputs: the same numbers for the same
/// seed (not zero), run after run.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `first_chars` as counting characters one by one, on ASCII and on text with
    /// multi-byte characters before, at and after the cut.
    #[test]
    fn first_chars_counts_characters() {
        let reference = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        for s in [
            "plain ascii text".repeat(40),
            "é".repeat(600),
            format!("{}é{}", "a".repeat(511), "b".repeat(100)),
            format!("{}é{}", "a".repeat(512), "b".repeat(100)),
            format!("é{}", "a".repeat(600)),
            "short".to_string(),
        ] {
            for n in [0, 1, 511, 512, 513] {
                assert_eq!(first_chars(&s, n), reference(&s, n), "{n} of {s:?}");
            }
        }
    }

    /// The fields a record keeps: the named ones and `x-` ones but `x-ms-` and `x-spam`.
    #[test]
    fn kept_headers_are_the_named_ones() {
        let mut h = mime::Headers::default();
        for n in [
            "received",
            "message-id",
            "from",
            "to",
            "cc",
            "subject",
            "date",
            "return-path",
            "list-id",
            "list-unsubscribe",
            "list-help",
            "x-mailer",
            "x-ms-exchange",
            "x-spam-flag",
            "tos",
            "fro",
        ] {
            h.push(n, "v");
        }
        let names: Vec<String> = kept_headers(&h).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "message-id",
                "from",
                "to",
                "subject",
                "date",
                "return-path",
                "list-id",
                "list-unsubscribe",
                "x-mailer"
            ]
        );
    }
}

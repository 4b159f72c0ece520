//! The non-standard bounces: plain-text reports from Exim, qmail, Postfix (without DSN),
//! Sendmail, Exchange, Domino, webmail providers and many more. They share a shape: an
//! introduction, then each failed recipient followed (or preceded) by the server's words,
//! then a copy of the original message after a marker line. This module finds those pieces
//! by their wording; the format-specific quirks are in the tables at the top.

use super::mime::{self, Flat, Headers, Limits};
use super::{Found, Raw};
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// Lines (lower case, trimmed, prefix match) after which the returned message begins.
const ORIGINAL_MARKERS: &[&str] = &[
    "------ this is a copy of the message",
    "------ this is a copy of your message",
    "--- below this line is a copy of the message",
    "----- original message -----",
    "-----original message-----",
    "------ original message ------",
    "--- original message ---",
    "------ the body of the message",
    "----- unsent message follows -----",
    "------- unsent message follows -------",
    "----- message header follows -----",
    "--- the header of the original message is following. ---",
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
    "original message headers:",
    "------ original message headers ------",
    "your message reads (in part):",
    "included is a copy of the message header:",
    "------ a copy of the message, including all the headers, follows ------",
    "the header of the original message follows",
    "--- original message follows ---",
    "----- the header of the original message is following. -----",
    "--------original message--------",
    "----- message text follows -----",
    "------ returned message ------",
    "original message follows",
    "message headers follow",
    "------ failed message headers",
    "---------- forwarded message ----------",
    "--- headers of the original message",
    "---original message---",
];

/// Subjects (lower case, contains) of bounce messages.
const SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered",
    "delivery fail",
    "delivery status",
    "delivery notification",
    "delivery problem",
    "delivery report",
    "delivery has failed",
    "failure notice",
    "failed delivery",
    "mail delivery",
    "returned mail",
    "return mail",
    "returned to sender",
    "mail system error",
    "nondeliverable",
    "non-deliverable",
    "non delivery",
    "nicht zustellbar",
    "could not be delivered",
    "not delivered",
    "message not delivered",
    "delivery failure",
    "warning: could not send",
    "message delayed",
    "delayed mail",
    "rejected",
    "bounce",
    "error sending",
    "failed",
    "user unknown",
    "mail could not",
    "permanent error",
    "notificación",
    "non recapitabile",
    "no se puede entregar",
    "unzustellbar",
    "non remis",
    "onbestelbaar",
];

/// Local parts of senders that send bounces.
const SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "mail delivery",
    "maildelivery",
    "mdaemon",
    "mail administrator",
    "mail-daemon",
    "mailer daemon",
    "system administrator",
    "internet mail delivery",
    "mail delivery subsystem",
    "noreply-dmarc",
    "bounce",
    "mail_delivery",
    "nobody@",
    "root@",
    "daemon@",
    "mail@",
    "microsoftexchange",
    "mailerdaemon",
];

/// Phrases that open the list of failed recipients (lower case, contains).
const INTROS: &[&str] = &[
    "could not be delivered",
    "couldn't be delivered",
    "wasn't delivered",
    "was not delivered",
    "delivery to the following recipient",
    "delivery has failed",
    "following address",
    "following recipient",
    "permanent fatal error",
    "the following addresses had",
    "i'm afraid i wasn't able to deliver",
    "unable to deliver",
    "did not reach the following",
    "failed to deliver",
    "undeliverable",
    "failed permanently",
    "could not deliver",
    "delivery failed",
    "not be delivered",
    "returned to you",
    "message could not be sent",
    "message was not delivered",
    "message has not been delivered",
    "non remis",
    "nicht zugestellt",
];

/// Bytes an address's local part may hold (ASCII letters, digits and `.!#$%&'*+/=?^_`{|}~-`).
const LOCAL_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric();
        c += 1;
    }
    let extra = b".!#$%&'*+/=?^_`{|}~-";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

/// Bytes an address's domain may hold (ASCII letters, digits, `.`, `-`, `_`).
const DOMAIN_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_';
        c += 1;
    }
    t
};

fn is_local_char(c: u8) -> bool {
    LOCAL_CHARS[usize::from(c)]
}

fn is_domain_char(c: u8) -> bool {
    DOMAIN_CHARS[usize::from(c)]
}

/// The plausible addresses of a text, in order, as byte ranges (no copies made).
struct AddressSpans<'a> {
    s: &'a str,
    i: usize,
}

impl Iterator for AddressSpans<'_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<std::ops::Range<usize>> {
        let s = self.s;
        let b = s.as_bytes();
        while self.i < b.len() {
            // Jump to the next `@`.
            let i = match find_byte!(b'@', b.get(self.i..)?) {
                Some(p) => self.i + p,
                None => {
                    self.i = b.len();
                    return None;
                }
            };
            let mut l = i;
            while l > 0 && is_local_char(b[l - 1]) {
                l -= 1;
            }
            let mut r = i + 1;
            while r < b.len() && is_domain_char(b[r]) {
                r += 1;
            }
            while l < i && b[l] == b'.' {
                l += 1;
            }
            let mut dr = r;
            while dr > i + 1 && (b[dr - 1] == b'.' || b[dr - 1] == b'-') {
                dr -= 1;
            }
            self.i = r.max(i + 1);
            if l < i && dr > i + 1 {
                let domain = &b[i + 1..dr];
                if domain.contains(&b'.') || domain.eq_ignore_ascii_case(b"localhost") || dr - i > 3
                {
                    return Some(l..dr);
                }
            }
        }
        None
    }
}

fn address_spans(s: &str) -> AddressSpans<'_> {
    AddressSpans { s, i: 0 }
}

/// Every plausible address in a text, in order, with its byte offset.
pub fn addresses(s: &str) -> Vec<(usize, String)> {
    address_spans(s)
        .filter_map(|r| Some((r.start, s.get(r)?.to_string())))
        .collect()
}

/// The first address in a text.
pub fn first_address(s: &str) -> Option<String> {
    let r = address_spans(s).next()?;
    s.get(r).map(str::to_string)
}

/// A recipient field cleaned to a bare address, if it holds one.
pub fn clean_address(s: &str) -> Option<String> {
    clean_address_str(s).map(str::to_string)
}

/// [`clean_address`] without the copy: the address as it stands in the field.
pub fn clean_address_str(s: &str) -> Option<&str> {
    let s = s.trim_fast();
    let s = s
        .split_once(';')
        .filter(|(t, _)| t.eq_ignore_ascii_case("rfc822") || t.eq_ignore_ascii_case("utf-8"))
        .map_or(s, |(_, a)| a.trim_fast());
    let a = s.get(address_spans(s).next()?)?;
    let daemon = a
        .as_bytes()
        .get(..14)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"mailer-daemon@"));
    if daemon {
        return None;
    }
    Some(a)
}

/// The report part of a plain-text bounce: the text before the returned message.
pub fn report_part(text: &str) -> &str {
    let Some(m) = MARKERS.as_ref() else {
        return text;
    };
    // A marker opens its line, after blanks, quote marks and dashes (no marker's wording
    // starts with one of those): each line is tried once, anchored where its words begin,
    // and the first line with a marker of the right kind ends the report.
    let bytes = text.as_bytes();
    let mut line_start = 0;
    while line_start < bytes.len() {
        let line_end =
            find_byte!(b'\n', &bytes[line_start..]).map_or(bytes.len(), |e| line_start + e);
        let line = &text[line_start..line_end];
        // Most lines start with a letter no marker starts with: passed over at once.
        let lead = bytes.get(line_start).copied().unwrap_or(b'\n');
        let plain =
            lead.is_ascii_alphanumeric() && !m.first[usize::from(lead.to_ascii_lowercase())];
        let words = if plain { line.len() } else { lead_len(line) };
        if words < line.len() && m.opens(bytes.get(line_start + words..).unwrap_or_default()) {
            let prefix = &line[..words];
            let dashed = prefix.has("--");
            if !prefix.contains('-') || dashed {
                let input = aho_corasick::Input::new(text)
                    .span(line_start + words..text.len())
                    .anchored(aho_corasick::Anchored::Yes);
                let mut state = aho_corasick::automaton::OverlappingState::start();
                loop {
                    if m.automaton
                        .try_find_overlapping(input.clone(), &mut state)
                        .is_err()
                    {
                        break;
                    }
                    let Some(found) = state.get_match() else {
                        break;
                    };
                    let (bare_ok, dashed_ok) = m
                        .kinds
                        .get(found.pattern().as_usize())
                        .copied()
                        .unwrap_or_default();
                    if (dashed && dashed_ok) || (!dashed && bare_ok) {
                        return &text[..line_start];
                    }
                }
            }
        }
        line_start = line_end + 1;
    }
    text
}

/// Where the words of a line begin: after its blanks, quote marks and dashes.
/// `line.find(|c: char| !(c.is_whitespace() || c == '>' || c == '-'))`, on bytes while
/// they are ASCII.
fn lead_len(line: &str) -> usize {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b'>' | b'-' => i += 1,
            0x80.. => {
                // Non-ASCII (perhaps a Unicode blank): read as characters from here.
                let rest = line.get(i..).unwrap_or("");
                return i + rest
                    .find(|c: char| !(c.is_whitespace() || c == '>' || c == '-'))
                    .unwrap_or(rest.len());
            }
            _ => return i,
        }
    }
    i
}

/// The marker lines' wording without their dashes, searched in one pass.
struct Markers {
    automaton: aho_corasick::AhoCorasick,
    /// Per pattern: (may stand alone on its line, may stand between dashes).
    kinds: Vec<(bool, bool)>,
    /// Whether a pattern starts with the byte (lower case).
    first: [bool; 256],
    /// Every pattern's first eight bytes (lower case, as a little-endian number), sorted;
    /// empty when a pattern is shorter (the search then decides alone).
    heads: Vec<u64>,
}

impl Markers {
    /// Whether a pattern may start `rest` (ASCII case ignored): its first byte, then its
    /// first eight bytes. Most lines that pass the first test ("The", "Content-Type",
    /// "Reporting-MTA") fail the second, and the search is not started.
    fn opens(&self, rest: &[u8]) -> bool {
        let Some(&a) = rest.first() else {
            return false;
        };
        if !self.first[usize::from(a.to_ascii_lowercase())] {
            return false;
        }
        if self.heads.is_empty() {
            return true;
        }
        // Every pattern is eight bytes or longer.
        let Some(head) = rest.get(..8) else {
            return false;
        };
        self.heads.binary_search(&head_key(head)).is_ok()
    }
}

/// Eight bytes lower-cased (ASCII), as a little-endian number.
fn head_key(b: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    if let Some(b) = b.get(..8) {
        k.copy_from_slice(b);
    }
    k.make_ascii_lowercase();
    u64::from_le_bytes(k)
}

static MARKERS: std::sync::LazyLock<Option<Markers>> = std::sync::LazyLock::new(|| {
    let mut cores: Vec<&'static str> = Vec::new();
    let mut kinds: Vec<(bool, bool)> = Vec::new();
    for m in ORIGINAL_MARKERS {
        let core = m.trim_matches(['-', ' ']);
        if core.is_empty() {
            continue;
        }
        let bare = !m.starts_with('-');
        // A listed marker with its own dashes; any marker long enough between other dashes.
        let dashed = m.starts_with("--") || core.len() > 8;
        match cores.iter().position(|c| *c == core) {
            Some(i) => {
                kinds[i].0 |= bare;
                kinds[i].1 |= dashed;
            }
            None => {
                cores.push(core);
                kinds.push((bare, dashed));
            }
        }
    }
    let automaton = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::Standard)
        .start_kind(aho_corasick::StartKind::Anchored)
        .build(&cores)
        .ok()?;
    let mut first = [false; 256];
    for c in &cores {
        if let Some(&x) = c.as_bytes().first() {
            first[usize::from(x.to_ascii_lowercase())] = true;
        }
    }
    let mut heads: Vec<u64> = cores.iter().map(|c| head_key(c.as_bytes())).collect();
    if cores.iter().any(|c| c.len() < 8) {
        heads.clear();
    }
    heads.sort_unstable();
    heads.dedup();
    Some(Markers {
        automaton,
        kinds,
        first,
        heads,
    })
});

/// The returned message's header when it is pasted into the text (no message/rfc822 part).
pub fn embedded_original(flat: &Flat, limits: &Limits) -> Option<Headers> {
    let report = flat.report();
    let rest = &flat.text[report.len()..];
    let after = rest.split_once('\n').map(|x| x.1).unwrap_or("");
    // Skip blank lines, then read header lines.
    let start = after.trim_start_matches(['\n', ' ', '\t']);
    let h = mime::parse_headers(mime::split_entity(start.as_bytes()).0, limits);
    (!h.is_empty()).then_some(h)
}

/// Words with a prebuilt searcher each (for a `LazyLock`: built once).
struct Words(Vec<memchr::memmem::Finder<'static>>);

impl Words {
    fn new(words: &[&'static str]) -> Self {
        Words(
            words
                .iter()
                .map(|w| memchr::memmem::Finder::new(*w))
                .collect(),
        )
    }

    /// Whether `text` holds one of the words.
    fn any_in(&self, text: &str) -> bool {
        self.0.iter().any(|f| f.find(text.as_bytes()).is_some())
    }
}

/// [`SENDERS`] and [`SUBJECTS`], searched.
static SENDER_CUES: std::sync::LazyLock<Words> = std::sync::LazyLock::new(|| Words::new(SENDERS));
static SUBJECT_CUES: std::sync::LazyLock<Words> = std::sync::LazyLock::new(|| Words::new(SUBJECTS));

/// Whether the message looks like a bounce from its header.
pub fn looks_like_bounce(flat: &Flat) -> bool {
    let h = &flat.headers;
    if h.has("x-failed-recipients") {
        return true;
    }
    let from = h.get("from").unwrap_or("").to_ascii_lowercase();
    let subject = h.get("subject").unwrap_or("").to_lowercase();
    if SENDER_CUES.any_in(&from) || SUBJECT_CUES.any_in(&subject) {
        return true;
    }
    // A null return path or an automatic message that says what bounces say.
    let null_sender = h.get("return-path").is_some_and(|v| v.trim_fast() == "<>");
    let automatic = h.has("auto-submitted");
    if !(null_sender || automatic) {
        return false;
    }
    let head: String = flat
        .text
        .chars()
        .take(4000)
        .collect::<String>()
        .to_lowercase();
    INTROS.iter().any(|i| head.has(i))
}

/// The server's words about one recipient, found in a text by its address.
pub fn diagnostic_for(text: &str, recipient: &str) -> Option<String> {
    let report = report_part(text);
    diagnostic_in(report, &report.to_ascii_lowercase(), recipient)
}

/// [`diagnostic_for`] on a report already cut and lower-cased (ASCII) by the caller.
pub fn diagnostic_in(report: &str, lower: &str, recipient: &str) -> Option<String> {
    let needle = recipient.to_ascii_lowercase();
    if needle.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(p) = lower.get(from..).and_then(|l| mime::find_fast(l, &needle)) {
        let at = from + p;
        from = at + needle.len();
        let start = lower[..at].rfind('\n').map_or(0, |i| i + 1);
        let mut diag = String::new();
        let mut lines = report.get(start..).unwrap_or("").lines_fast();
        let own = lines.next().unwrap_or("").trim_fast();
        if own.len() > recipient.len() + 8 {
            diag.push_str(own);
        }
        for next in lines.take(8) {
            let t = next.trim_fast();
            if t.is_empty()
                || address_spans(t).any(|a| !t.get(a).unwrap_or("").eq_ignore_ascii_case(recipient))
                    && !diag.is_empty()
            {
                break;
            }
            push_sp(&mut diag, t);
        }
        if has_error_words(&diag) {
            return Some(diag);
        }
    }
    None
}

/// Appends `t` to `s`, a space between when `s` holds something already.
pub fn push_sp(s: &mut String, t: &str) {
    if !s.is_empty() {
        s.push(' ');
    } else if s.capacity() == 0 {
        // Room for a few words at once: a diagnostic grows a word or a line at a time.
        s.reserve(t.len().max(DIAGNOSTIC_ROOM));
    }
    s.push_str(t);
}

/// Bytes a diagnostic built word by word has room for from its first word on.
const DIAGNOSTIC_ROOM: usize = 96;

/// Words (lower case) that say something about an error.
const ERROR_WORDS: &[&str] = &[
    "error",
    "unknown",
    "fail",
    "reject",
    "denied",
    "not ",
    "no such",
    "no mx ",
    "invalid",
    "full",
    "quota",
    "refused",
    "blocked",
    "timeout",
    "timed out",
    "expired",
    "unavailable",
    "exceeded",
    "disabled",
    "too ",
    "cannot",
    "can't",
    "unable",
    "problem",
    "spam",
];

/// A searcher per word of [`ERROR_WORDS`] (built once).
static ERROR_FINDERS: std::sync::LazyLock<Words> =
    std::sync::LazyLock::new(|| Words::new(ERROR_WORDS));

/// Whether a text says something about an error.
pub fn has_error_words(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    crate::reason::find_reply_code(&l).is_some()
        || crate::reason::find_status(&l).is_some()
        || ERROR_FINDERS.any_in(&l)
}

/// The generic plain-text engine.
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    if !looks_like_bounce(flat) {
        return None;
    }
    let report = flat.report();
    let own_addrs: Vec<String> = [
        "from",
        "to",
        "reply-to",
        "return-path",
        "delivered-to",
        "sender",
    ]
    .iter()
    .flat_map(|h| {
        flat.headers
            .all(h)
            .flat_map(|v| {
                address_spans(v)
                    .filter_map(|a| v.get(a))
                    .map(str::to_ascii_lowercase)
            })
            .collect::<Vec<_>>()
    })
    .collect();
    let original_from: Vec<String> = original
        .all("from")
        .chain(original.all("return-path"))
        .flat_map(|v| {
            address_spans(v)
                .filter_map(|a| v.get(a))
                .map(str::to_ascii_lowercase)
        })
        .collect();

    // Room for a line every 32 bytes or so, taken at once.
    let mut lines: Vec<&str> = Vec::with_capacity(8 + report.len() / 32);
    lines.extend(report.lines_fast());
    let mut records = collect(&lines, &own_addrs, &original_from, true);
    if records.is_empty() {
        // A report about the sender's own address (a bounce of a message sent to oneself,
        // or a forward): read again without setting those addresses aside.
        records = collect(&lines, &own_addrs, &original_from, false);
    }
    if records.is_empty() {
        for v in flat.headers.all("x-failed-recipients") {
            for (_, a) in addresses(v) {
                if !records.iter().any(|r| r.recipient.eq_ignore_ascii_case(&a)) {
                    records.push(Raw {
                        recipient: a,
                        ..Raw::default()
                    });
                }
            }
        }
    }
    if records.is_empty() {
        return None;
    }
    // Records without words of their own get the report's error lines.
    // Made once, and only when a record needs them.
    let general = std::cell::OnceCell::new();
    let lower = std::cell::OnceCell::new();
    for r in records.iter_mut().take(100) {
        if !has_error_words(&r.diagnostic) {
            let lower = lower.get_or_init(|| report.to_ascii_lowercase());
            if let Some(d) = diagnostic_in(report, lower, &r.recipient) {
                r.diagnostic = d;
            } else {
                let general: &String = general.get_or_init(|| error_lines(report));
                if !general.is_empty() {
                    r.diagnostic = general.clone();
                }
            }
        }
    }
    Some(Found {
        mta: "text",
        records,
    })
}

/// The records named by the report's lines; with `skip_own`, the addresses of this
/// message's own fields and of the original's sender are not recipients.
fn collect(
    lines: &[&str],
    own_addrs: &[String],
    original_from: &[String],
    skip_own: bool,
) -> Vec<Raw> {
    let mut records: Vec<Raw> = Vec::new();
    let mut current: Option<usize> = None;
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for raw_line in lines {
        let line = raw_line.trim_fast();
        if line.is_empty() {
            if let Some(c) = current {
                if !records[c].diagnostic.is_empty() {
                    current = None;
                }
            }
            continue;
        }
        if let Some((addr, rest)) = recipient_line(line, raw_line) {
            let lower = addr.to_ascii_lowercase();
            let is_sender =
                skip_own && (own_addrs.contains(&lower) || original_from.contains(&lower));
            if !is_sender {
                match index.get(&lower).copied() {
                    Some(p) => {
                        current = Some(p);
                        if !rest.is_empty() {
                            push_sp(&mut records[p].diagnostic, rest);
                        }
                    }
                    None if records.len() >= super::MAX_RECORDS => {}
                    None => {
                        index.insert(lower, records.len());
                        records.push(Raw {
                            recipient: addr,
                            diagnostic: rest.to_string(),
                            ..Raw::default()
                        });
                        current = Some(records.len() - 1);
                    }
                }
                continue;
            }
        }
        if let Some(c) = current {
            if records[c].diagnostic.len() < 2000 {
                push_sp(&mut records[c].diagnostic, line);
            }
        }
    }
    records
}

/// `s.trim_start_matches("...")`, without a substring searcher to build.
fn trim_dots(mut s: &str) -> &str {
    while let Some(r) = s.strip_prefix("...") {
        s = r;
    }
    s
}

/// A line that names a failed recipient: `<addr>:`, `<addr>... words`, `  addr`,
/// `addr: words`, `Recipient: addr`. Returns the address and the words on the line.
fn recipient_line<'a>(line: &'a str, raw_line: &str) -> Option<(String, &'a str)> {
    let span = address_spans(line).next()?;
    let off = span.start;
    let addr = line.get(span)?;
    let before = line[..off].trim_fast();
    let after_addr = &line[off + addr.len()..];
    let after = after_addr.trim_start_matches(['>', '"', '\'']).trim_start();
    let before_clean = before.trim_end_matches(['<', '"', '\'', ' ', '(']);
    // Header-like lines of a pasted original or this message's own fields.
    let opens = |p: &str| {
        line.as_bytes()
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
    };
    if opens("from:")
        || opens("return-path:")
        || opens("sender:")
        || opens("message-id:")
        || opens("reply-to:")
    {
        return None;
    }
    let labels = [
        "recipient:",
        "recipients:",
        "failed recipient:",
        "original-recipient:",
        "final-recipient:",
        "to:",
        "rcpt to:",
        "address:",
        "recipient address:",
        "invalid recipient:",
        "unknown recipient:",
        "destinataire :",
        "destinataire:",
        "empfänger:",
        "recipient",
        "failed address:",
        "email address:",
        "your message to",
        "the following recipient",
        "delivery to",
        "original recipient:",
    ];
    let label_ok = before_clean.is_empty() || {
        let before_lower = before_clean.to_ascii_lowercase();
        labels
            .iter()
            .any(|l| before_lower.ends_with(l.trim_end_matches(':')) || before_lower == *l)
    };
    if !label_ok {
        return None;
    }
    let rest = after.trim_start_matches(':');
    let rest = trim_dots(rest)
        .trim_start_matches(['>', ':', ',', ' '])
        .trim_fast();
    // An indented bare address (Exim) or an address ending the line with a colon (qmail).
    let indented = raw_line.starts_with(' ') || raw_line.starts_with('\t');
    let standalone = after.is_empty()
        || after == ":"
        || after.starts_with("...")
        || after.starts_with(':')
        || after.starts_with("(");
    if before_clean.is_empty() && !(indented || standalone || line.starts_with('<')) {
        return None;
    }
    Some((addr.to_string(), rest))
}

fn error_lines(report: &str) -> String {
    let mut out = String::new();
    for line in report.lines_fast() {
        let t = line.trim_fast();
        if t.is_empty() || t.len() < 8 {
            continue;
        }
        let l = t.to_ascii_lowercase();
        if crate::reason::find_reply_code(&l).is_some() || crate::reason::find_status(&l).is_some()
        {
            push_sp(&mut out, t);
            if out.len() > 1000 {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses() {
        let a = addresses("<a.b@example.org>: host mx.example.org[192.0.2.1] said: 550 c@d");
        assert_eq!(a[0].1, "a.b@example.org");
        assert_eq!(
            clean_address("rfc822; X@Example.ORG").as_deref(),
            Some("X@Example.ORG")
        );
        assert_eq!(clean_address("no address"), None);
        assert_eq!(
            first_address("x <y@example.com>."),
            Some("y@example.com".into())
        );
    }

    /// The address reader as it was (a copy kept to compare the quicker one with).
    fn addresses_before(s: &str) -> Vec<(usize, String)> {
        fn local(c: u8) -> bool {
            c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&c)
        }
        fn domain_char(c: u8) -> bool {
            c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_'
        }
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match memchr::memchr(b'@', &b[i..]) {
                Some(p) => i += p,
                None => break,
            }
            let mut l = i;
            while l > 0 && local(b[l - 1]) {
                l -= 1;
            }
            let mut r = i + 1;
            while r < b.len() && domain_char(b[r]) {
                r += 1;
            }
            while l < i && b[l] == b'.' {
                l += 1;
            }
            let mut dr = r;
            while dr > i + 1 && (b[dr - 1] == b'.' || b[dr - 1] == b'-') {
                dr -= 1;
            }
            if l < i && dr > i + 1 {
                let addr = &s[l..dr];
                let domain = &s[i + 1..dr];
                if domain.contains('.') || domain.eq_ignore_ascii_case("localhost") || dr - i > 3 {
                    out.push((l, addr.to_string()));
                }
            }
            i = r.max(i + 1);
        }
        out
    }

    fn clean_address_before(s: &str) -> Option<String> {
        let s = s.trim_fast();
        let s = s
            .split_once(';')
            .filter(|(t, _)| t.eq_ignore_ascii_case("rfc822") || t.eq_ignore_ascii_case("utf-8"))
            .map_or(s, |(_, a)| a.trim_fast());
        let a = addresses_before(s).into_iter().next().map(|(_, a)| a)?;
        if a.to_ascii_lowercase().starts_with("mailer-daemon@") {
            return None;
        }
        Some(a)
    }

    fn address_samples() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "@",
            "@@",
            "a@",
            "@b",
            "a@b",
            "a@bc",
            "a@b.c",
            "a@localhost",
            "a@LocalHost.",
            "x@LOCALHOST-",
            ".a@b.c.",
            "...@b.c",
            "a@.b",
            "a@-.",
            "a@b-c-",
            "a@b..",
            "é@b.c",
            "aé@b.c",
            "a@bé.c",
            "a@ü.example",
            "ü@ü",
            "<MAILER-DAEMON@example.org>",
            "Mailer-Daemon@x",
            "mailer-daemon@",
            "rfc822; Mailer-Daemon@example.org",
            "rfc822;mailer-daemonx@example.org",
            "utf-8; jöe@example.org",
            "mailer-daemoné@example.org",
            "a@b@c.d@e.f",
            "x <y@example.com>. z@w.org",
            "a!#$%&'*+/=?^_`{|}~-b@c_d.e",
            "\"quoted\"@example.org",
            "<a.b@example.org>: host mx.example.org[192.0.2.1] said: 550 c@d",
            "日本@日本.jp user@日本.jp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Pseudo-random strings over the bytes that matter.
        let alphabet = [
            "a", "Z", "0", ".", "-", "_", "@", " ", "<", ">", "é", "!", "l",
        ];
        let mut x: u32 = 12345;
        for _ in 0..3000 {
            let mut s = String::new();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = (x >> 16) % 14;
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                s.push_str(alphabet[((x >> 16) as usize) % alphabet.len()]);
            }
            v.push(s);
        }
        v
    }

    #[test]
    fn addresses_as_before() {
        for s in address_samples() {
            assert_eq!(addresses(&s), addresses_before(&s), "{s:?}");
            assert_eq!(
                first_address(&s),
                addresses_before(&s).into_iter().next().map(|(_, a)| a),
                "{s:?}"
            );
            assert_eq!(clean_address(&s), clean_address_before(&s), "{s:?}");
            assert_eq!(
                clean_address_str(&s).map(str::to_string),
                clean_address_before(&s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn trims_and_finds_as_str_does() {
        let samples = [
            "", ".", "..", "...", "....", "......x", "... ...", "..é", "é...", "x...",
        ];
        for s in samples {
            assert_eq!(trim_dots(s), s.trim_start_matches("..."), "{s:?}");
        }
        let long = "ab".repeat(3000) + "needle é";
        for (hay, needle) in [
            ("", ""),
            ("", "a"),
            ("a", ""),
            ("abc", "c"),
            ("abcabc", "ca"),
            ("éa@b", "a@b"),
            ("x@y.z", "x@y.zz"),
            (long.as_str(), "needle é"),
            (long.as_str(), "ba"),
            (long.as_str(), "absent"),
        ] {
            assert_eq!(mime::find_fast(hay, needle), hay.find(needle), "{needle:?}");
        }
    }

    #[test]
    fn error_words_as_before() {
        let before = |s: &str| {
            let l = s.to_ascii_lowercase();
            crate::reason::find_reply_code(&l).is_some()
                || crate::reason::find_status(&l).is_some()
                || ERROR_WORDS.iter().any(|w| l.contains(w))
        };
        for s in [
            "",
            "ok",
            "ERROR",
            "Not found",
            "not",
            "no such user",
            "Ünknown",
            "mailbox FULL",
            "550 whatever",
            "5.1.1",
            "can\u{2019}t",
            "can't",
            "delivered",
        ] {
            assert_eq!(has_error_words(s), before(s), "{s:?}");
        }
    }

    /// [`report_part`] as it was: each line's words found as characters and every line
    /// whose first byte opens a pattern searched.
    fn report_part_before(text: &str) -> &str {
        let Some(m) = MARKERS.as_ref() else {
            return text;
        };
        let bytes = text.as_bytes();
        let mut line_start = 0;
        while line_start < bytes.len() {
            let line_end =
                memchr::memchr(b'\n', &bytes[line_start..]).map_or(bytes.len(), |e| line_start + e);
            let line = &text[line_start..line_end];
            let words = line
                .find(|c: char| !(c.is_whitespace() || c == '>' || c == '-'))
                .unwrap_or(line.len());
            if words < line.len()
                && m.first[usize::from(bytes[line_start + words].to_ascii_lowercase())]
            {
                let prefix = &line[..words];
                let dashed = prefix.has("--");
                if !prefix.contains('-') || dashed {
                    let input = aho_corasick::Input::new(text)
                        .span(line_start + words..text.len())
                        .anchored(aho_corasick::Anchored::Yes);
                    let mut state = aho_corasick::automaton::OverlappingState::start();
                    loop {
                        if m.automaton
                            .try_find_overlapping(input.clone(), &mut state)
                            .is_err()
                        {
                            break;
                        }
                        let Some(found) = state.get_match() else {
                            break;
                        };
                        let (bare_ok, dashed_ok) = m
                            .kinds
                            .get(found.pattern().as_usize())
                            .copied()
                            .unwrap_or_default();
                        if (dashed && dashed_ok) || (!dashed && bare_ok) {
                            return &text[..line_start];
                        }
                    }
                }
            }
            line_start = line_end + 1;
        }
        text
    }

    #[test]
    fn lead_is_found_as_before() {
        let before = |l: &str| {
            l.find(|c: char| !(c.is_whitespace() || c == '>' || c == '-'))
                .unwrap_or(l.len())
        };
        for l in [
            "",
            " ",
            "\r",
            "\t\x0b\x0c> - >x",
            "---",
            "-- \u{a0}original",
            "\u{3000}\u{2028}a",
            "\u{85}-",
            "é",
            " é",
            "> \u{a0}",
            "\x1c\x1d x",
            "a b",
        ] {
            assert_eq!(lead_len(l), before(l), "{l:?}");
        }
    }

    #[test]
    fn report_part_as_before() {
        let mut texts: Vec<String> = [
            "",
            "\n",
            "o",
            "or",
            "Or",
            "O\n",
            "x\nOriginal message follows\nrest",
            "x\n  ORIGINAL MESSAGE FOLLOWS",
            "x\n-- original message follows\n",
            "x\n- original message follows\n",
            "x\n------ This is a copy of the message\r\nTo: a\n",
            "x\n> > --- Below this line is a copy of the message.\n",
            "x\n\u{a0}original message headers:\n",
            "x\n\u{3000}-- returned message --\n",
            "x\nContent-Type: message/rfc822\n",
            "x\ncontent-type: text/plain\nthe body follows\n",
            "x\n---------- Forwarded message ----------\n",
            "x\n--------original message--------\n",
            "x\nórigínal message\nt\nth\nthe\n",
            "x\n-----Original Message-----",
            "x\n  oRiGiNaL mEsSaGe HeAdErS:",
            "x\nyour message reads (in part):\n",
            "x\nyou\nyo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every marker as listed, shouting, indented, cut short, at the very end.
        for m in ORIGINAL_MARKERS {
            let core = m.trim_matches(['-', ' ']);
            texts.push(format!("x\n{m}\nTo: a\n"));
            texts.push(format!("x\n{}", m.to_uppercase()));
            texts.push(format!("x\n  {core}"));
            texts.push(format!("x\n{}", &core[..7]));
            texts.push(format!("x\n{}\n{core}", &core[..8]));
            texts.push(format!(
                "The mail system\nThis is\nContent-Type: text/plain\n{core}"
            ));
        }
        // Pseudo-random lines over the bytes that matter.
        let alphabet = [
            "o",
            "O",
            "r",
            "i",
            "g",
            "-",
            ">",
            " ",
            "\n",
            "\r",
            "\u{a0}",
            "é",
            "original message follows",
            "Original Message",
            "--- ",
            "t",
            "h",
            "e",
            "header of the original message follows",
            "\t",
        ];
        let mut x: u32 = 777;
        for _ in 0..4000 {
            let mut s = String::new();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let n = (x >> 16) % 12;
            for _ in 0..n {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                s.push_str(alphabet[((x >> 16) as usize) % alphabet.len()]);
            }
            texts.push(s);
        }
        for t in &texts {
            assert_eq!(report_part(t), report_part_before(t), "{t:?}");
        }
    }

    #[test]
    fn report_stops_at_the_copy() {
        let t = "Failed:\n  a@example.org\n    550 no\n\n------ This is a copy of the message, including all the headers. ------\nTo: a@example.org\n";
        assert!(!report_part(t).has("To: a@example.org"));
    }
}

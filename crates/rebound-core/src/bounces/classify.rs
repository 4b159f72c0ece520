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

use super::{phrases, Raw};
use crate::bounces::mime::StrExt;
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

/// The SMTP command an error answered, from the words around it.
///
/// The first cue in reading order wins (of two starting together, the one listed first);
/// a cue's spaces match any run of white space, so cues split over wrapped lines ("in
/// reply to\n    RCPT TO command") are found too. Every cue holds one of a few anchor
/// words: a quick search finds those (most texts hold none), and the automaton is only
/// tried, anchored, where the cue of each would start.
pub fn command_of(text: &str) -> Option<&'static str> {
    let cues = COMMAND_CUES.as_ref()?;
    thread_local! {
        static CACHE: std::cell::RefCell<Option<regex_automata::hybrid::dfa::Cache>> =
            const { std::cell::RefCell::new(None) };
    }
    let found = CACHE.with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        let cache = c.get_or_insert_with(|| cues.create_cache());
        let input = regex_automata::Input::new(text);
        match ANCHORS.as_ref() {
            Some(anchors) => anchors.first(text.as_bytes(), |start| {
                let at = input
                    .clone()
                    .range(start..)
                    .anchored(regex_automata::Anchored::Yes);
                cues.try_search_fwd(cache, &at).ok().flatten()
            }),
            None => cues.try_search_fwd(cache, &input).ok().flatten(),
        }
    })?;
    CUES.get(found.pattern().as_usize()).map(|(_, c)| *c)
}

/// One word of every cue, rarer in a bounce than its others: a cue is found only where one
/// of these stands (ASCII case aside), its words before the anchor (fixed bytes, white
/// space between) read back from there. None is a part of another, and none can start
/// within the words a cue puts before its anchor, nor can a cue (the tests check all
/// three): so anchor words found in order give the places a cue can start in order.
const ANCHOR_WORDS: &[&str] = &[
    "reply",
    "after",
    ">>>",
    "to:<",
    "from:<",
    "progress",
    "like",
    "sender",
    "name",
    "[rcpt_to]",
    "[mail_from]",
    "[helo]",
    "[ehlo]",
    "[data]",
    "[end_of_data]",
    "[conn]",
];

/// The anchor words' searcher and, per anchor word, the lengths of the words its cues put
/// before it.
struct Anchors {
    searcher: aho_corasick::AhoCorasick,
    before: Vec<Vec<usize>>,
    longest: usize,
}

/// The white space a cue's space stands for (a run of it): the automaton's patterns and
/// [`Anchors::first`]'s reading back both take it from here.
const CUE_SPACE: &[u8] = b"\t\n\x0C\r ";

impl Anchors {
    /// Built from [`CUES`]: None (and the automaton reads every text whole) if a cue has no
    /// anchor word or two cues put different words before the same one.
    fn new() -> Option<Anchors> {
        let mut before: Vec<Option<Vec<usize>>> = vec![None; ANCHOR_WORDS.len()];
        for (cue, _) in CUES {
            let words: Vec<&str> = cue.split(' ').collect();
            let (at, a) = words
                .iter()
                .enumerate()
                .find_map(|(i, w)| ANCHOR_WORDS.iter().position(|a| a == w).map(|a| (i, a)))?;
            let lens: Vec<usize> = words.get(..at)?.iter().map(|w| w.len()).collect();
            match before.get_mut(a)? {
                Some(known) if *known != lens => return None,
                slot => *slot = Some(lens),
            }
        }
        Some(Anchors {
            searcher: aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(ANCHOR_WORDS)
                .ok()?,
            before: before.into_iter().map(Option::unwrap_or_default).collect(),
            longest: ANCHOR_WORDS.iter().map(|w| w.len()).max()?,
        })
    }

    /// Tries `cue_at` where a cue could start, in order, for each anchor word in `text`
    /// (ASCII case ignored): its place less the words and white space its cues put before
    /// it. The first answer found.
    fn first<T>(&self, text: &[u8], mut cue_at: impl FnMut(usize) -> Option<T>) -> Option<T> {
        // The text is lower-cased a slice at a time into a buffer on the stack; slices
        // overlap by an anchor word's length less one, so every word stands whole in one
        // (one standing in both is tried twice: the same answer).
        const SLICE: usize = 1024;
        let mut buf = [0u8; SLICE];
        let overlap = self.longest - 1;
        let mut from = 0;
        loop {
            let end = (from + SLICE).min(text.len());
            let slice = text.get(from..end)?;
            let lower = buf.get_mut(..slice.len())?;
            lower.copy_from_slice(slice);
            lower.make_ascii_lowercase();
            // Every place, overlapping ones too (">>>>"): each search starts a byte after
            // the last word found (no word being a part of another, one word at most
            // starts at a place).
            let mut next = 0;
            while let Some(m) = self
                .searcher
                .try_find(aho_corasick::Input::new(&*lower).range(next..))
                .ok()
                .flatten()
            {
                next = m.start() + 1;
                let mut start = from + m.start();
                for &len in self.before.get(m.pattern().as_usize())?.iter().rev() {
                    while start > 0 && text.get(start - 1).is_some_and(|b| CUE_SPACE.contains(b)) {
                        start -= 1;
                    }
                    start = start.saturating_sub(len);
                }
                if let Some(found) = cue_at(start) {
                    return Some(found);
                }
            }
            if end == text.len() {
                return None;
            }
            from = end - overlap;
        }
    }
}

static ANCHORS: std::sync::LazyLock<Option<Anchors>> = std::sync::LazyLock::new(Anchors::new);

/// Words that tell which SMTP command an error answered, and the command.
const CUES: &[(&str, &str)] = &[
    ("in reply to rcpt to", "RCPT"),
    ("in reply to mail from", "MAIL"),
    ("in reply to end of data", "DATA"),
    ("in reply to data", "DATA"),
    ("in reply to ehlo", "EHLO"),
    ("in reply to helo", "HELO"),
    ("in reply to starttls", "STARTTLS"),
    ("after rcpt to", "RCPT"),
    ("after rcpt command", "RCPT"),
    ("after mail command", "MAIL"),
    ("after data command", "DATA"),
    ("after mail from", "MAIL"),
    ("after end of data", "DATA"),
    ("after data", "DATA"),
    ("after pipelined data", "DATA"),
    ("after initial connection", "CONN"),
    ("after ehlo", "EHLO"),
    ("after helo", "HELO"),
    ("after starttls", "STARTTLS"),
    (">>> rcpt to", "RCPT"),
    (">>> mail from", "MAIL"),
    (">>> data", "DATA"),
    (">>> ehlo", "EHLO"),
    (">>> helo", "HELO"),
    ("rcpt to:<", "RCPT"),
    ("most progress was rcpt to", "RCPT"),
    ("does not like recipient", "RCPT"),
    ("but sender was rejected", "MAIL"),
    ("my name was rejected", "HELO"),
    ("[rcpt_to]", "RCPT"),
    ("[mail_from]", "MAIL"),
    ("[helo]", "HELO"),
    ("[ehlo]", "EHLO"),
    ("[data]", "DATA"),
    ("[end_of_data]", "DATA"),
    ("[conn]", "CONN"),
    ("mail from:<", "MAIL"),
];

/// [`CUES`] as one lazily built DFA (states made as texts need them, kept per thread):
/// ASCII case ignored, each space a run of ASCII white space.
static COMMAND_CUES: std::sync::LazyLock<Option<regex_automata::hybrid::dfa::DFA>> =
    std::sync::LazyLock::new(|| {
        let space: String = CUE_SPACE.iter().map(|b| format!("\\x{b:02X}")).collect();
        let space = format!("[{space}]+");
        let patterns: Vec<String> = CUES
            .iter()
            .map(|(cue, _)| {
                cue.split(' ')
                    .map(|word| {
                        word.chars().fold(String::new(), |mut out, c| {
                            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                                out.push('\\');
                            }
                            out.push(c);
                            out
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(&space)
            })
            .collect();
        regex_automata::hybrid::dfa::DFA::builder()
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false)
                    .case_insensitive(true),
            )
            .build_many(&patterns)
            .ok()
    });

/// The reason an enhanced status code names (RFC 3463 meanings).
pub fn status_name(status: &str) -> Option<Reason> {
    use Reason::*;
    let mut p = status.splitn(3, '.');
    let (class, subject, detail) = (p.next()?, p.next()?, p.next()?);
    let temporary = class == "4";
    Some(match (subject, detail) {
        ("1", "0" | "1" | "3") if !temporary => UserUnknown,
        ("1", "2") if !temporary => HostUnknown,
        ("1", "4") => Filtered,
        ("1", "6") => HasMoved,
        ("1", "7" | "8") => Rejected,
        ("1", "9") => SystemError,
        ("1", "10") => NotAccept,
        ("2", "0") if !temporary => Filtered,
        ("2", "1") => {
            if temporary {
                Blocked
            } else {
                Filtered
            }
        }
        ("2", "2") => MailboxFull,
        ("2", "3") => ExceedLimit,
        ("2", "4") => Filtered,
        ("3", "0") if !temporary => SystemError,
        ("3", "3" | "5") => SystemError,
        ("3", "1") => SystemFull,
        ("3", "2") => NotAccept,
        ("3", "4") => MesgTooBig,
        ("4", "0") if !temporary => NetworkError,
        ("4", "1") if temporary => Expired,
        ("4", "2" | "4" | "6") if temporary => NetworkError,
        ("4", "3") => SystemError,
        ("4", "4") => {
            if temporary {
                NetworkError
            } else {
                HostUnknown
            }
        }
        ("4", "8") if temporary => NetworkError,
        ("4", "5") => SystemFull,
        ("4", "7") => Expired,
        ("5", "2" | "6") if !temporary => SyntaxError,
        ("5", "3") => TooManyConn,
        ("5", "4" | "5") => SystemError,
        ("5", "6") => SecurityError,
        ("6", "0" | "1" | "2" | "3" | "5" | "6" | "7" | "8" | "9") => ContentError,
        ("7", "1" | "2") if temporary => Blocked,
        ("7", "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10" | "11") => {
            SecurityError
        }
        ("7", "12" | "14" | "15" | "19") => SecurityError,
        ("7", "13") => Suspend,
        ("7", "16") => MesgTooBig,
        ("7", "17" | "18") => HasMoved,
        ("7", "20" | "21" | "22" | "23" | "24" | "26" | "29") => AuthFailure,
        ("7", "25") => RequirePtr,
        ("7", "27") => NotAccept,
        ("7", "28") => SpamDetected,
        _ => return None,
    })
}

/// What the classifier looks at.
struct Facts<'a> {
    /// What the status code names.
    temp: Option<Reason>,
    /// A reason the engine stated that the probes may still overrule.
    engine: Option<Reason>,
    /// Whether the diagnostic is blank.
    blank: bool,
    hits: phrases::Hits,
    command: Option<&'a str>,
    smtp: bool,
}

fn m(r: Reason, f: &Facts) -> bool {
    f.hits.has(r)
}

/// Reasons the status code names that the words may overrule.
fn retry(r: Option<Reason>) -> bool {
    matches!(
        r,
        Some(
            Reason::Undefined
                | Reason::OnHold
                | Reason::SystemError
                | Reason::SecurityError
                | Reason::Expired
                | Reason::NetworkError
                | Reason::HostUnknown
                | Reason::UserUnknown
        )
    )
}

const BEFORE_DATA: &[&str] = &["CONN", "EHLO", "HELO", "MAIL", "RCPT", "STARTTLS"];

fn probe(r: Reason, f: &Facts) -> bool {
    use Reason::*;
    match r {
        UserUnknown => {
            if f.temp == Some(Suspend) {
                false
            } else if f.temp == Some(UserUnknown) {
                ![
                    NoRelaying,
                    Blocked,
                    MailboxFull,
                    HasMoved,
                    Rejected,
                    NotAccept,
                ]
                .iter()
                .any(|o| m(*o, f))
            } else {
                f.command == Some("RCPT") && m(UserUnknown, f)
            }
        }
        Filtered => {
            if f.temp == Some(Suspend) {
                false
            } else if f.temp == Some(Filtered) {
                m(UserUnknown, f) || m(Filtered, f)
            } else if f.command.is_some_and(|c| BEFORE_DATA.contains(&c)) {
                false
            } else {
                m(Filtered, f) || m(UserUnknown, f)
            }
        }
        Rejected => {
            let at_mail = f.command == Some("MAIL");
            let at_data = f.command == Some("DATA") && f.temp != Some(UserUnknown);
            let vague = matches!(
                f.temp,
                None | Some(Undefined | OnHold | SecurityError | SystemError)
            );
            f.temp == Some(Rejected) || ((at_mail || at_data || vague) && m(Rejected, f))
        }
        HostUnknown => {
            if f.temp == Some(HostUnknown) {
                !m(NetworkError, f)
            } else {
                m(HostUnknown, f)
            }
        }
        MesgTooBig => {
            f.temp == Some(MesgTooBig) || (f.temp != Some(ExceedLimit) && m(MesgTooBig, f))
        }
        // Content errors are told by words: a 5.6.x status alone may be a spam verdict.
        ContentError => m(ContentError, f),
        _ => f.temp == Some(r) || m(r, f),
    }
}

const FIRST: &[Reason] = &[
    Reason::MailboxFull,
    Reason::MesgTooBig,
    Reason::ExceedLimit,
    Reason::Suspend,
    Reason::HasMoved,
    Reason::NoRelaying,
    Reason::AuthFailure,
    Reason::UserUnknown,
    Reason::Filtered,
    Reason::RequirePtr,
    Reason::NotCompliantRfc,
    Reason::BadReputation,
    Reason::ContentError,
    Reason::Rejected,
    Reason::HostUnknown,
    Reason::SpamDetected,
    Reason::RateLimited,
    Reason::TooManyConn,
    Reason::Blocked,
];

const SECOND: &[Reason] = &[
    Reason::MailboxFull,
    Reason::AuthFailure,
    Reason::BadReputation,
    Reason::RateLimited,
    Reason::SpamDetected,
    Reason::VirusDetected,
    Reason::PolicyViolation,
    Reason::NoRelaying,
    Reason::SystemError,
    Reason::NetworkError,
    Reason::Suspend,
    Reason::ContentError,
    Reason::SystemFull,
    Reason::NotAccept,
    Reason::Expired,
    Reason::SecurityError,
    Reason::MailerError,
];

fn decide(f: &Facts, action: Option<&str>) -> Reason {
    if f.smtp {
        if let Some(r) = FIRST
            .iter()
            .find(|r| f.engine == Some(**r) || probe(**r, f))
        {
            return *r;
        }
    }
    if let Some(r) = f.engine {
        return r;
    }
    let mut reason = f.temp;
    if f.temp.is_none() || retry(f.temp) || !f.smtp {
        if let Some(r) = SECOND.iter().find(|r| m(**r, f)) {
            return *r;
        }
        if reason.is_none() {
            reason = if matches!(action, Some("delayed" | "expired")) {
                Some(Reason::Expired)
            } else if f.command.is_some_and(|c| c == "EHLO" || c == "HELO") {
                Some(Reason::Blocked)
            } else if m(Reason::SyntaxError, f) {
                Some(Reason::SyntaxError)
            } else {
                None
            };
        }
    }
    match reason {
        Some(Reason::Undefined) | None => {
            if matches!(action, Some("delayed")) {
                Reason::Expired
            } else if f.blank {
                Reason::Undefined
            } else {
                Reason::OnHold
            }
        }
        Some(r) => r,
    }
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
///
/// `text_command` gives the SMTP command the message's text names, asked for only when the
/// record's own fields and words name none.
pub fn classify(raw: &Raw, text_command: impl FnOnce() -> Option<&'static str>) -> Classified {
    classify_as(raw, raw.action.as_deref(), raw.reason, text_command)
}

/// [`classify`] of `raw` as if its `action` and `reason` were the ones given (the engines'
/// settling probes), without copying the record.
pub fn classify_as(
    raw: &Raw,
    action: Option<&str>,
    stated_reason: Option<Reason>,
    text_command: impl FnOnce() -> Option<&'static str>,
) -> Classified {
    let diag = raw.diagnostic.as_str();
    let (stated, found_reply) = with_facts(diag, |f| {
        (
            f.status(diag),
            raw.reply_code
                .is_none()
                .then(|| f.reply_code(diag))
                .flatten(),
        )
    });
    // A generic code in the status field gives way to the server's own: `5.0.0`, and the
    // queue's `4.4.7` (gave up) when the server's last word was another temporary code.
    let generic = |s: &str| {
        s == "5.0.0"
            || s == "4.0.0"
            || (s == "4.4.7" && stated.as_deref().is_some_and(|d| d.starts_with("4.")))
    };
    let status = raw
        .status
        .clone()
        .filter(|s| !generic(s) || stated.is_none())
        .or(stated);
    let reply_code = raw
        .reply_code
        .clone()
        .or_else(|| found_reply.map(|c| c.to_string()));
    if let Some(kind @ (EventKind::Complaint | EventKind::AutoReply)) = raw.kind {
        return Classified {
            kind,
            class: None,
            reason: stated_reason.unwrap_or(Reason::Feedback),
            status: None,
            reply_code: None,
        };
    }
    let delivered = status.as_deref().is_some_and(|s| s.starts_with("2."))
        || matches!(action, Some("delivered"));
    if delivered {
        return Classified {
            kind: EventKind::Delivery,
            class: None,
            reason: Reason::Delivered,
            status,
            reply_code,
        };
    }
    let explicit = stated_reason
        .filter(|r| !matches!(r, Reason::Undefined | Reason::OnHold) && !retry(Some(*r)));
    let reason = match explicit {
        Some(r) => r,
        None => {
            // The command and the wording matter only here: a reason the engine states
            // spares looking for them (the text's command cue is a search of the report).
            let own_command = match raw.smtp_command.as_deref() {
                Some(c) => Some(c),
                None => with_facts(diag, |f| f.command(diag)),
            };
            let command = match own_command {
                Some(own) => Some(own),
                None => text_command(),
            };
            let smtp = match raw.diagnostic_type.as_deref() {
                Some(t) => t == "smtp",
                None => true,
            };
            let (hits, blank) = with_facts(diag, |f| f.words(diag));
            let facts = Facts {
                temp: status.as_deref().and_then(status_name),
                engine: stated_reason.filter(|r| !matches!(r, Reason::Undefined | Reason::OnHold)),
                blank,
                hits,
                command,
                smtp,
            };
            decide(&facts, action)
        }
    };
    let kind = if action == Some("delayed") {
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

/// [`command_of`] a record's diagnostic, remembered with the classifier's other facts.
pub fn diagnostic_command(diag: &str) -> Option<&'static str> {
    with_facts(diag, |f| f.command(diag))
}

/// [`find_reply_code`] of a record's diagnostic, remembered with the classifier's other
/// facts.
pub fn diagnostic_reply_code(diag: &str) -> Option<u16> {
    with_facts(diag, |f| f.reply_code(diag))
}

/// The lower case of a text: `str::to_lowercase`, by bytes when the text is ASCII (the
/// same result).
pub fn lower_case(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// What the classifier reads from a diagnostic's text alone, each worked out when first
/// asked for.
#[derive(Debug, Default, Clone)]
struct DiagFacts {
    status: Option<Option<String>>,
    reply_code: Option<Option<u16>>,
    command: Option<Option<&'static str>>,
    /// The wording found in the lower-cased text, and whether the text is blank.
    words: Option<(phrases::Hits, bool)>,
}

impl DiagFacts {
    fn status(&mut self, diag: &str) -> Option<String> {
        self.status.get_or_insert_with(|| find_status(diag)).clone()
    }

    fn reply_code(&mut self, diag: &str) -> Option<u16> {
        *self.reply_code.get_or_insert_with(|| find_reply_code(diag))
    }

    fn command(&mut self, diag: &str) -> Option<&'static str> {
        *self.command.get_or_insert_with(|| command_of(diag))
    }

    fn words(&mut self, diag: &str) -> (phrases::Hits, bool) {
        *self.words.get_or_insert_with(|| {
            let lower = lower_case(diag);
            (phrases::scan(&lower), lower.trim_fast().is_empty())
        })
    }
}

/// Diagnostics remembered per thread: a record is classified up to three times (the
/// engines' settling probes, then the final round) and the records of one message often
/// share their words.
const MEMO_ENTRIES: usize = 8;
/// Longer texts are worked out afresh each time.
const MEMO_MAX_LEN: usize = 4096;

#[derive(Default)]
struct Memo {
    entries: Vec<(String, DiagFacts)>,
    /// The entry to replace next.
    next: usize,
}

/// Runs `f` on the facts of `diag`, remembered from an earlier call when there was one.
fn with_facts<R>(diag: &str, f: impl FnOnce(&mut DiagFacts) -> R) -> R {
    thread_local! {
        static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo::default());
    }
    if diag.len() > MEMO_MAX_LEN {
        return f(&mut DiagFacts::default());
    }
    MEMO.with(|m| match m.try_borrow_mut() {
        Ok(mut m) => m.run(diag, f),
        Err(_) => f(&mut DiagFacts::default()),
    })
}

impl Memo {
    fn run<R>(&mut self, diag: &str, f: impl FnOnce(&mut DiagFacts) -> R) -> R {
        if let Some((_, facts)) = self.entries.iter_mut().find(|(d, _)| d == diag) {
            return f(facts);
        }
        // The oldest entry gives way.
        let at = if self.entries.len() < MEMO_ENTRIES {
            self.entries.push((String::new(), DiagFacts::default()));
            self.entries.len() - 1
        } else {
            let at = self.next % MEMO_ENTRIES;
            self.next = (at + 1) % MEMO_ENTRIES;
            at
        };
        match self.entries.get_mut(at) {
            Some((d, facts)) => {
                d.clear();
                d.push_str(diag);
                *facts = DiagFacts::default();
                f(facts)
            }
            None => f(&mut DiagFacts::default()),
        }
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
        classify(&raw, || None).reason
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
            r(Some("5.7.1"), "blocked using zen.spamhaus.org"),
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
    fn commands() {
        assert_eq!(
            command_of("said: 550 x (in reply to RCPT TO command)"),
            Some("RCPT")
        );
        assert_eq!(
            command_of("SMTP error from remote mail server after end of data:"),
            Some("DATA")
        );
        assert_eq!(command_of("nothing"), None);
        // Wrapped cues are found; the first in reading order wins.
        assert_eq!(
            command_of("x (in reply to\n    MAIL FROM command)\ny"),
            Some("MAIL")
        );
        assert_eq!(
            command_of("in reply to\n MAIL FROM\nthen in reply to RCPT TO"),
            Some("MAIL")
        );
        assert_eq!(command_of("in  reply\tto\n\nend of data"), Some("DATA"));
        assert_eq!(command_of("mail\n\nnothing  here"), None);
        // ASCII case only, every listed cue, regex characters taken literally.
        assert_eq!(command_of("[RCPT_TO] x"), Some("RCPT"));
        assert_eq!(command_of("rcpt to:<a@b>"), Some("RCPT"));
        assert_eq!(command_of("rcpt to:a"), None);
        for (cue, cmd) in CUES {
            assert_eq!(
                command_of(&format!("x {} y", cue.to_uppercase())),
                Some(*cmd),
                "{cue}"
            );
        }
    }

    #[test]
    fn lower_case_is_to_lowercase() {
        for t in [
            "",
            "550 5.1.1 User UNKNOWN",
            "MIXED ascii 123 [X]",
            "Boîte PLEINE",
            "İSTANBUL ΣΑΣ ß",
            "\u{212a}elvin \u{0130}",
            "tab\tNEW\nline",
        ] {
            assert_eq!(lower_case(t), t.to_lowercase(), "{t:?}");
        }
    }

    /// What the tests compare: status, reply code, command, wording hits, blank.
    type AllFacts = (
        Option<String>,
        Option<u16>,
        Option<&'static str>,
        phrases::Hits,
        bool,
    );

    /// The facts as a fresh computation has them.
    fn fresh(diag: &str) -> AllFacts {
        let lower = diag.to_lowercase();
        (
            find_status(diag),
            find_reply_code(diag),
            command_of(diag),
            phrases::scan(&lower),
            lower.trim_fast().is_empty(),
        )
    }

    fn remembered(diag: &str) -> AllFacts {
        let (hits, blank) = with_facts(diag, |f| f.words(diag));
        (
            with_facts(diag, |f| f.status(diag)),
            diagnostic_reply_code(diag),
            diagnostic_command(diag),
            hits,
            blank,
        )
    }

    #[test]
    fn remembered_facts_are_fresh_facts() {
        let long = format!("550 5.2.2 {} mailbox full", "x".repeat(MEMO_MAX_LEN));
        let mut texts: Vec<String> = vec![
            "550 5.1.1 user unknown (in reply to RCPT TO command)".into(),
            "452 4.2.2 Mailbox FULL after end of data".into(),
            "".into(),
            "   ".into(),
            "Relay access denied".into(),
            "Boîte PLEINE 552".into(),
            long,
        ];
        // More texts than entries, so that entries give way.
        for i in 0..(MEMO_ENTRIES + 3) {
            texts.push(format!("55{} 5.7.{i} blocked using list {i}", i % 10));
        }
        // Alternating, repeated, and each fact asked for first in turn.
        for round in 0..3 {
            for (i, t) in texts.iter().enumerate() {
                let t = t.as_str();
                let want = fresh(t);
                let got = match (round + i) % 3 {
                    0 => remembered(t),
                    1 => {
                        let c = diagnostic_command(t);
                        let r = remembered(t);
                        assert_eq!(r.2, c);
                        r
                    }
                    _ => {
                        let c = diagnostic_reply_code(t);
                        let r = remembered(t);
                        assert_eq!(r.1, c);
                        r
                    }
                };
                assert_eq!(got, want, "{t:?}");
                let other = texts
                    .get((i * 7 + round) % texts.len())
                    .map_or("", String::as_str);
                assert_eq!(remembered(other), fresh(other), "{other:?}");
            }
        }
    }

    #[test]
    fn classify_as_is_classify_of_a_changed_copy() {
        let base = Raw {
            recipient: "a@example.org".into(),
            diagnostic: "550 5.0.0 something odd happened".into(),
            action: Some("delayed".into()),
            ..Raw::default()
        };
        for action in [None, Some("delayed"), Some("failed"), Some("delivered")] {
            for reason in [None, Some(Reason::Undefined), Some(Reason::Blocked)] {
                let mut copy = base.clone();
                copy.action = action.map(str::to_string);
                copy.reason = reason;
                assert_eq!(
                    classify_as(&base, action, reason, || Some("EHLO")),
                    classify(&copy, || Some("EHLO"))
                );
            }
        }
    }

    #[test]
    fn cues_have_single_inner_spaces() {
        // `command_of` relies on it: each space of a cue stands for a run of white space.
        for (cue, _) in CUES {
            assert_eq!(cue.trim_fast(), *cue, "{cue:?}");
            assert!(!cue.has("  "), "{cue:?}");
            assert!(
                !cue.contains(|c: char| c.is_whitespace() && c != ' '),
                "{cue:?}"
            );
        }
    }

    /// [`command_of`] as it was: the automaton run over the whole text, unanchored.
    fn command_of_whole_text(text: &str) -> Option<&'static str> {
        let cues = COMMAND_CUES.as_ref()?;
        let mut cache = cues.create_cache();
        let m = cues
            .try_search_fwd(&mut cache, &regex_automata::Input::new(text))
            .ok()
            .flatten()?;
        CUES.get(m.pattern().as_usize()).map(|(_, c)| *c)
    }

    #[test]
    fn anchor_words_hold_what_command_of_relies_on() {
        let anchors = ANCHORS.as_ref().expect("every cue has an anchor word");
        assert_eq!(anchors.before.len(), ANCHOR_WORDS.len());
        for a in ANCHOR_WORDS {
            assert_eq!(a.to_ascii_lowercase(), *a);
            assert!(!a.contains(|c: char| c.is_whitespace()), "{a:?}");
            // No anchor word is a part of another: found in order, one at most at a place.
            for b in ANCHOR_WORDS {
                assert!(a == b || !b.contains(a), "{a:?} in {b:?}");
            }
        }
        let firsts: Vec<&str> = CUES
            .iter()
            .filter_map(|(c, _)| c.split(' ').next())
            .collect();
        for (cue, _) in CUES {
            let words: Vec<&str> = cue.split(' ').collect();
            let at = words
                .iter()
                .position(|w| ANCHOR_WORDS.contains(w))
                .expect("an anchor word");
            // Within the words before the anchor, no anchor word can start, and no cue
            // (but at the first word, where this cue starts).
            for (i, w) in words[..at].iter().enumerate() {
                for k in 0..w.len() {
                    if i == 0 && k == 0 {
                        continue;
                    }
                    let rest = &w[k..];
                    for a in ANCHOR_WORDS {
                        assert!(!rest.starts_with(a), "{a:?} within {cue:?}");
                    }
                    for f in &firsts {
                        assert!(
                            !rest.starts_with(f) && !f.starts_with(rest),
                            "a cue ({f:?}) could start within {cue:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn command_of_is_the_whole_text_search() {
        // Cues as written, shouted, mixed; anchor words with no cue; runs of '>'; cues cut
        // by white space of every kind; all of it at the edges of the searcher's slices.
        let (mut pieces, mut misses): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for (cue, _) in CUES {
            pieces.push(cue.to_string());
            pieces.push(cue.to_uppercase());
            pieces.push(cue.replace(' ', "\n   "));
            pieces.push(cue.replace(' ', "\r\n\t \x0c"));
            let mixed: String = cue
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            pieces.push(mixed);
            // The cue without its last byte: no match, but its anchor word stands.
            misses.push(cue[..cue.len() - 1].to_string());
        }
        for p in [
            "after 5 days",
            "host name",
            "Sender",
            ">>>>",
            ">>>>> rcpt to",
            ">> >>> data",
            "in",
            "in  ",
            "reply",
            "in\n\n  reply",
            "mail",
            "does not",
            "my",
            "xin reply to data",
            "afterafter ehlo",
            "[rcpt_to",
            "rcpt to:",
            "é",
            "  ",
            "\n",
            "x",
        ] {
            misses.push(p.to_string());
        }
        let mut next = crate::bounces::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut matched = 0;
        for n in 0..6000 {
            let mut text = String::new();
            // Some texts pad their start so that what follows crosses a slice's edge.
            if n % 3 == 0 {
                let pad = 990 + (next() % 60) as usize;
                text.push_str(&"z".repeat(pad));
            }
            // Every other text is made of near misses alone.
            let from = if n % 2 == 0 { &pieces } else { &misses };
            for _ in 0..1 + next() % 5 {
                let p = if next().is_multiple_of(2) {
                    &from[(next() % from.len() as u64) as usize]
                } else {
                    &misses[(next() % misses.len() as u64) as usize]
                };
                text.push_str(p);
                match next() % 4 {
                    0 => {}
                    1 => text.push(' '),
                    2 => text.push('\n'),
                    _ => text.push_str(" y "),
                }
            }
            let want = command_of_whole_text(&text);
            matched += usize::from(want.is_some());
            assert_eq!(command_of(&text), want, "{text:?}");
        }
        // The texts hold cues and near misses alike.
        assert!((1500..4500).contains(&matched), "{matched}");
        for text in [
            ">>>> rcpt to",
            "x >>>>>\tmail from",
            "in \n\n \t reply to helo",
            "after after data",
            "afterafter ehlo",
            "name my name was rejected",
            "my  name  was  rejected, after data",
            "mail from:<x> in reply to rcpt to",
            "rcpt to:<a> [data]",
        ] {
            assert!(command_of_whole_text(text).is_some(), "{text:?}");
            assert_eq!(command_of(text), command_of_whole_text(text), "{text:?}");
        }
    }
}

//! What servers say, per reason: the wording tables the classifier matches against the
//! lower-cased diagnostic. `index` entries match as substrings; `pairs` entries match when
//! all their pieces occur in order; `not` entries veto the reason.
//!
//! The wording is collected from public bounce samples and MTA documentation; much of it
//! was first gathered by the Sisimai project (BSD 2-Clause License, Copyright (C) 2014,
//! azumakuniyuki), see THIRD-PARTY.md.

use crate::Reason;

/// The wording of one reason.
pub struct Patterns {
    /// Substrings.
    pub index: &'static [&'static str],
    /// Pieces that must all occur, in order.
    pub pairs: &'static [&'static [&'static str]],
    /// Substrings that rule the reason out.
    pub not: &'static [&'static str],
}

const NONE: Patterns = Patterns {
    index: &[],
    pairs: &[],
    not: &[],
};

/// Which reasons' wording a text holds: every table is searched in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    found: u64,
    vetoed: u64,
}

impl Hits {
    /// Whether the text holds the wording of `reason` (and none of its vetoes).
    pub fn has(self, reason: Reason) -> bool {
        let bit = bit(reason);
        self.found & bit != 0 && self.vetoed & bit == 0
    }
}

fn bit(reason: Reason) -> u64 {
    let i = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(63);
    1u64 << i.min(63)
}

enum Entry {
    Index(u64),
    Not(u64),
    /// The first piece of pair number `.0` of [`Matcher::pairs`].
    PairStart(usize),
}

struct Matcher {
    /// Every distinct word (table entries and every piece of every pair) once; its value
    /// indexes `entries`.
    automaton: aho_corasick::nfa::contiguous::NFA,
    /// Per distinct word: what it means (a word may stand in several tables).
    entries: Vec<Vec<Entry>>,
    /// Per distinct word: whether it is a piece of some pair (its places are noted).
    piece: Vec<bool>,
    /// Pairs: the reason's bit and the pieces (word number, length in bytes).
    pairs: Vec<(u64, Vec<(u32, usize)>)>,
    /// Per byte: its class for [`Lazy`], 0 for every byte no word holds (they all lead
    /// the automaton back to its start, from any state), else one class per byte.
    classes: [u16; 256],
    /// The number of classes.
    class_count: usize,
}

static MATCHER: std::sync::LazyLock<Option<Matcher>> = std::sync::LazyLock::new(|| {
    let mut words: Vec<&'static str> = Vec::new();
    let word = |w: &'static str, words: &mut Vec<&'static str>| -> usize {
        match words.iter().position(|x| *x == w) {
            Some(i) => i,
            None => {
                words.push(w);
                words.len() - 1
            }
        }
    };
    let mut meaning: Vec<(usize, Entry)> = Vec::new();
    let mut pairs: Vec<(u64, Vec<(u32, usize)>)> = Vec::new();
    for r in Reason::ALL {
        let p = patterns(*r);
        let b = bit(*r);
        for i in p.index.iter().filter(|w| !w.is_empty()) {
            meaning.push((word(i, &mut words), Entry::Index(b)));
        }
        for n in p.not.iter().filter(|w| !w.is_empty()) {
            meaning.push((word(n, &mut words), Entry::Not(b)));
        }
        for pair in p.pairs {
            // An empty piece is found anywhere: it is left out.
            let pieces: Vec<(u32, usize)> = pair
                .iter()
                .filter(|w| !w.is_empty())
                .map(|w| (word(w, &mut words) as u32, w.len()))
                .collect();
            if let Some(&(first, _)) = pieces.first() {
                meaning.push((first as usize, Entry::PairStart(pairs.len())));
                pairs.push((b, pieces));
            }
        }
    }
    let mut entries: Vec<Vec<Entry>> = (0..words.len()).map(|_| Vec::new()).collect();
    for (w, e) in meaning {
        entries[w].push(e);
    }
    let mut piece = vec![false; words.len()];
    for (_, pieces) in &pairs {
        for &(w, _) in pieces {
            piece[w as usize] = true;
        }
    }
    let automaton = aho_corasick::nfa::contiguous::NFA::builder()
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(&words)
        .ok()?;
    let mut classes = [0u16; 256];
    let mut class_count = 1usize;
    for w in &words {
        for &b in w.as_bytes() {
            if let Some(c) = classes.get_mut(usize::from(b)).filter(|c| **c == 0) {
                *c = u16::try_from(class_count).ok()?;
                class_count += 1;
            }
        }
    }
    Some(Matcher {
        automaton,
        entries,
        piece,
        pairs,
        classes,
        class_count,
    })
});

/// Searches every reason's wording in a lower-cased text at once.
///
/// Not remembered here: the classifier keeps each diagnostic's hits (with its other facts)
/// per thread.
pub fn scan(lower: &str) -> Hits {
    scan_uncached(lower)
}

fn scan_uncached(lower: &str) -> Hits {
    if lower.is_empty() {
        return Hits::default();
    }
    let Some(m) = MATCHER.as_ref() else {
        return Hits::default();
    };
    // One pass notes the table words and where each pair piece stands; a pair then holds
    // when its pieces follow one another, each the first of its kind after the one before
    // (what searching the text piece after piece would find). The two lists' buffers are
    // kept per thread from scan to scan.
    thread_local! {
        static SCRATCH: std::cell::Cell<Scratch> =
            const { std::cell::Cell::new((Vec::new(), Vec::new())) };
    }
    let (places, started) = SCRATCH.take();
    let mut acc = Acc {
        hits: Hits::default(),
        places,
        started,
    };
    acc.places.clear();
    acc.started.clear();
    thread_local! {
        static LAZY: std::cell::RefCell<Lazy> = std::cell::RefCell::new(Lazy::default());
    }
    let text = lower.as_bytes();
    LAZY.with(|l| match l.try_borrow_mut() {
        Ok(mut l) => {
            if let Err(at) = walk_lazy(m, &mut l, text, LAZY_STATES, &mut |said, at| {
                acc.state(said, at);
            }) {
                walk_from(m, text, at, &mut |w, start| acc.word(m, w, start));
            }
        }
        Err(_) => walk(m, text, &mut |w, start| acc.word(m, w, start)),
    });
    let Acc {
        mut hits,
        places,
        started,
    } = acc;
    for &(p, start) in &started {
        let Some((b, pieces)) = m.pairs.get(p) else {
            continue;
        };
        if hits.found & b != 0 {
            continue;
        }
        let mut cursor = start + pieces.first().map_or(0, |x| x.1);
        let aligned = pieces.iter().skip(1).all(|&(w, len)| {
            match places.iter().find(|&&(x, at)| x == w && at >= cursor) {
                Some(&(_, at)) => {
                    cursor = at + len;
                    true
                }
                None => false,
            }
        });
        if aligned {
            hits.found |= b;
        }
    }
    // A long text's lists are let go rather than kept.
    if places.capacity() + started.capacity() <= 1 << 12 {
        SCRATCH.set((places, started));
    }
    hits
}

/// What one pass of [`scan_uncached`] notes: the tables' bits, the places of pair pieces
/// (word, start) and the pairs started (pair, start of its first piece).
struct Acc {
    hits: Hits,
    places: Vec<(u32, usize)>,
    started: Vec<(usize, usize)>,
}

impl Acc {
    /// Word `w` found, starting at `start`.
    fn word(&mut self, m: &Matcher, w: u32, start: usize) {
        for meaning in meanings(m, w) {
            match meaning {
                Meaning::Found(b) => self.hits.found |= b,
                Meaning::Vetoed(b) => self.hits.vetoed |= b,
                Meaning::Event(event) => self.event(event, start),
            }
        }
    }

    /// A matching state reached with the text read up to `at` (inclusive): its words, as
    /// [`Acc::word`] one after another would take them.
    fn state(&mut self, said: Said<'_>, at: usize) {
        self.hits.found |= said.found;
        self.hits.vetoed |= said.vetoed;
        for &(event, len) in said.events {
            self.event(event, (at + 1).saturating_sub(len as usize));
        }
    }

    /// A pair piece found at `start`, or a pair's first piece: from a later start the
    /// pieces are found only if from the first.
    fn event(&mut self, event: Event, start: usize) {
        match event {
            Event::Piece(w) => self.places.push((w, start)),
            Event::Start(p) => {
                if !self.started.iter().any(|(q, _)| *q == p) {
                    self.started.push((p, start));
                }
            }
        }
    }
}

/// What a word found means to a scan.
enum Meaning {
    /// The reasons (bits) it is wording of.
    Found(u64),
    /// The reasons (bits) it rules out.
    Vetoed(u64),
    /// Its part in a pair.
    Event(Event),
}

/// What word `w` means, in the order a scan takes it: its place as a pair piece first
/// (when it is one), then its table entries in order. One list for [`Acc::word`] (word by
/// word) and [`Lazy::summarise`] (a matching state's words at once), so the two agree.
fn meanings(m: &Matcher, w: u32) -> impl Iterator<Item = Meaning> + '_ {
    let piece = m.piece.get(w as usize).copied().unwrap_or(false);
    let entries = m.entries.get(w as usize).map_or(&[][..], Vec::as_slice);
    piece
        .then_some(Meaning::Event(Event::Piece(w)))
        .into_iter()
        .chain(entries.iter().map(|e| match e {
            Entry::Index(b) => Meaning::Found(*b),
            Entry::Not(b) => Meaning::Vetoed(*b),
            Entry::PairStart(p) => Meaning::Event(Event::Start(*p)),
        }))
}

/// [`scan`]'s lists: the places of pair pieces (word, start), the pairs started (pair,
/// start of its first piece).
type Scratch = (Vec<(u32, usize)>, Vec<(usize, usize)>);

/// Every occurrence of every word (overlapping), in order of where it ends, and of the
/// words ending at one place in the automaton's order (what the library's overlapping
/// iterator gives): `found(word, start)`. Stepped through the NFA byte by byte.
fn walk(m: &Matcher, text: &[u8], found: &mut impl FnMut(u32, usize)) {
    walk_from(m, text, 0, found);
}

/// [`walk`], reporting only the words that end at `from` or later (the automaton still
/// reads the text from its start, so that the states are the same).
fn walk_from(m: &Matcher, text: &[u8], from: usize, found: &mut impl FnMut(u32, usize)) {
    use aho_corasick::automaton::Automaton;
    let a = &m.automaton;
    let Ok(mut sid) = a.start_state(aho_corasick::Anchored::No) else {
        return;
    };
    for (at, &byte) in text.iter().enumerate() {
        sid = a.next_state(aho_corasick::Anchored::No, sid, byte);
        if a.is_special(sid) {
            if a.is_dead(sid) {
                break;
            }
            if at >= from {
                report(m, sid, at, found);
            }
        }
    }
}

/// The words the automaton's state `sid` matches, the text read up to `at` (inclusive).
fn report(
    m: &Matcher,
    sid: aho_corasick::automaton::StateID,
    at: usize,
    found: &mut impl FnMut(u32, usize),
) {
    use aho_corasick::automaton::Automaton;
    let a = &m.automaton;
    if !a.is_match(sid) {
        return;
    }
    for i in 0..a.match_len(sid) {
        let pid = a.match_pattern(sid, i);
        found(pid.as_u32(), (at + 1).saturating_sub(a.pattern_len(pid)));
    }
}

/// States a thread's [`Lazy`] holds before it starts afresh (with the 57 or so byte
/// classes of the tables, a row of 64 two-byte entries, 128 bytes, a state). A kept state
/// is an NFA state, so the tables' own size bounds it too; the cap is a second bound,
/// whatever the tables become. At most [`PLACE`] + 1: a place fits in an entry's low bits.
const LAZY_STATES: usize = 1 << 14;

/// The NFA's transitions as they are taken, kept per thread: a table look-up per byte
/// instead of the NFA's search through sparse states and failure links. The same states
/// in the same order as [`walk`]: a transition depends only on the state and the byte's
/// class.
#[derive(Default)]
struct Lazy {
    /// The NFA state of each state kept (the start first).
    sids: Vec<aho_corasick::automaton::StateID>,
    /// Where each NFA state kept stands in `sids` (by the NFA state's number), or
    /// [`UNKNOWN`].
    index: Vec<u32>,
    /// Per state kept, a row of `1 << shift` entries, one per byte class (the rest unused):
    /// the next state's place in `sids`, with [`SPECIAL`] set when that state is special,
    /// or [`UNKNOWN_NEXT`]. Small rows at a power-of-two stride: a step is a shift, an or
    /// and one look-up in a table that mostly stays in the cache.
    next: Vec<u16>,
    /// log2 of the row length.
    shift: u32,
    /// Per state kept: where its summary stands in `summaries`, or [`UNKNOWN`] (a state
    /// that matches no word).
    summary_of: Vec<u32>,
    /// Per matching state kept: the tables' bits of its words and where its events and
    /// words stand in `events` and `words`.
    summaries: Vec<Summary>,
    /// The pair pieces and pair starts of the matching states' words, in report order,
    /// with the word's length.
    events: Vec<(Event, u32)>,
    /// The matching states' words (word, length), in report order: for the tests that
    /// compare the walk with the NFA's.
    #[cfg(test)]
    words: Vec<(u32, u32)>,
}

/// What a matching state means, worked out once, when the state is kept.
#[derive(Clone, Copy)]
struct Summary {
    found: u64,
    vetoed: u64,
    events: (u32, u32),
    #[cfg(test)]
    words: (u32, u32),
}

/// A word's part in a pair: a piece (the word) or the start of a pair (its number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Piece(u32),
    Start(usize),
}

/// A matching state's summary, lent to [`walk_lazy`]'s caller: the words' table bits
/// (found, vetoed) and their pair events in the order the NFA reports the words (and, for
/// the tests, the words themselves: word, length).
#[derive(Clone, Copy)]
struct Said<'a> {
    found: u64,
    vetoed: u64,
    events: &'a [(Event, u32)],
    #[cfg(test)]
    words: &'a [(u32, u32)],
}

const UNKNOWN: u32 = u32::MAX;
/// An entry of [`Lazy::next`] not taken yet.
const UNKNOWN_NEXT: u16 = u16::MAX;
/// The bit of an entry of [`Lazy::next`] saying the state it leads to is special.
const SPECIAL: u16 = 1 << 14;
/// The bits of an entry of [`Lazy::next`] holding the place.
const PLACE: u16 = SPECIAL - 1;

impl Lazy {
    /// Starts afresh from the NFA's start state; false when it has none.
    fn reset(&mut self, m: &Matcher) -> bool {
        use aho_corasick::automaton::Automaton;
        self.sids.clear();
        self.index.iter_mut().for_each(|d| *d = UNKNOWN);
        self.next.clear();
        self.summary_of.clear();
        self.summaries.clear();
        self.events.clear();
        #[cfg(test)]
        self.words.clear();
        self.shift = m.class_count.next_power_of_two().trailing_zeros();
        match m.automaton.start_state(aho_corasick::Anchored::No) {
            Ok(start) => {
                self.add(m, start);
                true
            }
            Err(_) => false,
        }
    }

    /// The entry for NFA state `sid` (its place, with [`SPECIAL`] when special), the
    /// state added if new.
    fn add(&mut self, m: &Matcher, sid: aho_corasick::automaton::StateID) -> u16 {
        use aho_corasick::automaton::Automaton;
        let a = &m.automaton;
        // A state is special when it matches words or is the dead state.
        let flag = if a.is_match(sid) || a.is_dead(sid) {
            SPECIAL
        } else {
            0
        };
        let entry = |d: u32| (u16::try_from(d).unwrap_or(PLACE) & PLACE) | flag;
        if let Some(&d) = self.index.get(sid.as_usize()).filter(|d| **d != UNKNOWN) {
            return entry(d);
        }
        let d = u32::try_from(self.sids.len()).unwrap_or(UNKNOWN);
        self.sids.push(sid);
        let summary = if a.is_match(sid) {
            self.summarise(m, sid)
        } else {
            UNKNOWN
        };
        self.summary_of.push(summary);
        if self.index.len() <= sid.as_usize() {
            self.index.resize(sid.as_usize() + 1, UNKNOWN);
        }
        if let Some(slot) = self.index.get_mut(sid.as_usize()) {
            *slot = d;
        }
        self.next
            .extend(std::iter::repeat_n(UNKNOWN_NEXT, 1 << self.shift));
        entry(d)
    }

    /// Works out what matching NFA state `sid` means (its words as [`report`] gives them,
    /// each as [`Acc::word`] would take it) and keeps it: its place in `summaries`.
    fn summarise(&mut self, m: &Matcher, sid: aho_corasick::automaton::StateID) -> u32 {
        use aho_corasick::automaton::Automaton;
        let a = &m.automaton;
        let events_from = self.events.len();
        #[cfg(test)]
        let words_from = self.words.len();
        let (mut found, mut vetoed) = (0u64, 0u64);
        for i in 0..a.match_len(sid) {
            let pid = a.match_pattern(sid, i);
            let w = pid.as_u32();
            let len = u32::try_from(a.pattern_len(pid)).unwrap_or(u32::MAX);
            #[cfg(test)]
            self.words.push((w, len));
            for meaning in meanings(m, w) {
                match meaning {
                    Meaning::Found(b) => found |= b,
                    Meaning::Vetoed(b) => vetoed |= b,
                    Meaning::Event(event) => self.events.push((event, len)),
                }
            }
        }
        let span = |from: usize, to: usize| {
            (
                u32::try_from(from).unwrap_or(u32::MAX),
                u32::try_from(to).unwrap_or(u32::MAX),
            )
        };
        self.summaries.push(Summary {
            found,
            vetoed,
            events: span(events_from, self.events.len()),
            #[cfg(test)]
            words: span(words_from, self.words.len()),
        });
        u32::try_from(self.summaries.len() - 1).unwrap_or(UNKNOWN)
    }

    /// The summary of the state at place `d`, if it matches words.
    fn said(&self, d: usize) -> Option<Said<'_>> {
        let &i = self.summary_of.get(d)?;
        let s = self.summaries.get(i as usize)?;
        Some(Said {
            found: s.found,
            vetoed: s.vetoed,
            events: self
                .events
                .get(s.events.0 as usize..s.events.1 as usize)
                .unwrap_or(&[]),
            #[cfg(test)]
            words: self
                .words
                .get(s.words.0 as usize..s.words.1 as usize)
                .unwrap_or(&[]),
        })
    }
}

/// [`walk`], with the transitions kept in `lazy` (at most `cap` states, and no more than
/// [`LAZY_STATES`]), and each matching state reported whole, as the summary worked out
/// when it was kept (`found(said, at)`): the NFA's match lists and the words' meanings are
/// not looked up again, text after text (they missed the cache more often than not). The
/// same states, words and order as [`walk`]; `Err(at)` (not reached) when the NFA is to
/// finish the text from `at` on.
fn walk_lazy(
    m: &Matcher,
    lazy: &mut Lazy,
    text: &[u8],
    cap: usize,
    found: &mut impl FnMut(Said<'_>, usize),
) -> Result<(), usize> {
    use aho_corasick::automaton::Automaton;
    let cap = cap.min(LAZY_STATES);
    if lazy.sids.is_empty() && !lazy.reset(m) {
        return Ok(());
    }
    let a = &m.automaton;
    let shift = lazy.shift;
    // The start state stands first.
    let mut d: usize = 0;
    for (at, &byte) in text.iter().enumerate() {
        let class = usize::from(m.classes[usize::from(byte)]);
        let slot = (d << shift) | class;
        // The look-up below depends on the one before and misses the cache more often
        // than not: the next step's is started now, on a guess. A word's states are
        // handed places one after the other as it is first walked, so along a word the
        // next state is most often the next place.
        if let Some(&ahead) = text.get(at + 1) {
            let guess = ((d + 1) << shift) | usize::from(m.classes[usize::from(ahead)]);
            std::hint::black_box(lazy.next.get(guess).copied());
        }
        let e = match lazy.next.get(slot) {
            Some(&e) if e != UNKNOWN_NEXT => e,
            _ => {
                let Some(&sid) = lazy.sids.get(d) else {
                    // Not reached (every place stands in `sids`); were it, the NFA
                    // would finish the text from here (`walk_from`) without reporting a
                    // word twice.
                    return Err(at);
                };
                let next = a.next_state(aho_corasick::Anchored::No, sid, byte);
                if lazy.sids.len() >= cap {
                    if !lazy.reset(m) {
                        return Ok(());
                    }
                    lazy.add(m, next)
                } else {
                    let e = lazy.add(m, next);
                    if let Some(s) = lazy.next.get_mut(slot) {
                        *s = e;
                    }
                    e
                }
            }
        };
        d = usize::from(e & PLACE);
        if e & SPECIAL != 0 {
            // Special: a matching state (summarised when kept) or the dead one.
            match lazy.said(d) {
                Some(said) => found(said, at),
                None => break,
            }
        }
    }
    Ok(())
}

/// The wording table of a reason (empty for reasons known only from codes).
pub fn patterns(reason: Reason) -> &'static Patterns {
    match reason {
        Reason::MailboxFull => &MAILBOX_FULL,
        Reason::MesgTooBig => &MESG_TOO_BIG,
        Reason::ExceedLimit => &EXCEED_LIMIT,
        Reason::Suspend => &SUSPEND,
        Reason::HasMoved => &HAS_MOVED,
        Reason::NoRelaying => &NO_RELAYING,
        Reason::RequirePtr => &REQUIRE_PTR,
        Reason::AuthFailure => &AUTH_FAILURE,
        Reason::UserUnknown => &USER_UNKNOWN,
        Reason::Filtered => &FILTERED,
        Reason::HostUnknown => &HOST_UNKNOWN,
        Reason::SpamDetected => &SPAM_DETECTED,
        Reason::VirusDetected => &VIRUS_DETECTED,
        Reason::TooManyConn => &TOO_MANY_CONN,
        Reason::RateLimited => &RATE_LIMITED,
        Reason::BadReputation => &BAD_REPUTATION,
        Reason::Blocked => &BLOCKED,
        Reason::PolicyViolation => &POLICY_VIOLATION,
        Reason::Rejected => &REJECTED,
        Reason::SecurityError => &SECURITY_ERROR,
        Reason::SyntaxError => &SYNTAX_ERROR,
        Reason::ContentError => &CONTENT_ERROR,
        Reason::NotCompliantRfc => &NOT_COMPLIANT_RFC,
        Reason::SystemFull => &SYSTEM_FULL,
        Reason::NotAccept => &NOT_ACCEPT,
        Reason::Expired => &EXPIRED,
        Reason::NetworkError => &NETWORK_ERROR,
        Reason::SystemError => &SYSTEM_ERROR,
        Reason::MailerError => &MAILER_ERROR,
        Reason::Vacation => &VACATION,
        _ => &NONE,
    }
}

const MAILBOX_FULL: Patterns = Patterns {
    index: &[
        "452 insufficient disk space",
        "account disabled temporarly for exceeding receiving limits",
        "boite du destinataire pleine",
        "exceeded storage allocation",
        "full mailbox",
        "mailbox exceeds allowed size",
        "mailbox size limit exceeded",
        "mailbox would exceed maximum allowed storage",
        "mailfolder is full",
        "no space left on device",
        "not sufficient disk space",
        "quota violation for",
        "too much mail data",
        "user has exceeded quota, bouncing mail",
        "user has too many messages on the server",
        "user's space has been used up",
    ],
    pairs: &[
        &["account is ", " quota"],
        &["disk", "quota"],
        &["enough ", " space"],
        &["mailbox ", "exceeded", " limit"],
        &["mailbox ", "full"],
        &["mailbox ", "quota"],
        &["maildir ", "quota"],
        &["over ", "quota"],
        &["quota ", "exceeded"],
    ],
    not: &[],
};

const MESG_TOO_BIG: Patterns = Patterns {
    index: &[
        "exceeded maximum inbound message size",
        "exceeded the maximum incoming message size",
        "line limit exceeded",
        "max message size exceeded",
        "message file too big",
        "message length exceeds administrative limit",
        "message size exceeds fixed limit",
        "message size exceeds fixed maximum message size",
        "message size exceeds maximum value",
        "message too big",
        "message too large for this ",
        "size limit",
        "taille limite du message atteinte",
    ],
    pairs: &[],
    not: &[],
};

const EXCEED_LIMIT: Patterns = Patterns {
    index: &["message header size exceeds limit", "message too large"],
    pairs: &[],
    not: &[],
};

const SUSPEND: Patterns = Patterns {
    index: &[
        " is currently suspended",
        " temporary locked",
        "archived recipient",
        "boite du destinataire archivee",
        "email account that you tried to reach is disabled",
        "has been suspended",
        "inactive account",
        "invalid/inactive user",
        "is a deactivated mailbox",
        "is unavailable: user is terminated",
        "mailbox currently suspended",
        "mailbox disabled",
        "mailbox is frozen",
        "mailbox unavailable or access denied",
        "recipient rejected: temporarily inactive",
        "recipient suspend the service",
        "the email account that you tried to reach is inactive",
        "this account has been disabled or discontinued",
        "this account has been temporarily suspended",
        "this address no longer accepts mail",
        "this mailbox is disabled",
        "user or domain is disabled",
        "user suspended",
        "vdelivermail: account is locked email bounced",
    ],
    pairs: &[],
    not: &[],
};

const HAS_MOVED: Patterns = Patterns {
    index: &[" has been replaced by "],
    pairs: &[],
    not: &[],
};

const NO_RELAYING: Patterns = Patterns {
    index: &[
        "as a relay",
        "email address is not verified.",
        "insecure mail relay",
        "is not permitted to relay through this server without authentication",
        "mail server requires authentication when attempting to send to a non-local e-mail address",
        "no relaying",
        "not a gateway",
        "not allowed to relay through this machine",
        "not an open relay, so get lost",
        "not local host",
        "relay access denied",
        "relay denied",
        "relay not permitted",
        "relaying denied",
        "relaying mail to ",
        "specified domain is not allowed",
        "that domain isn't in my list of allowed rcpthost",
        "this system is not configured to relay mail",
        "unable to relay ",
        "we don't handle mail for",
    ],
    pairs: &[],
    not: &[],
};

const REQUIRE_PTR: Patterns = Patterns {
    index: &[
        "access denied. ip name lookup failed",
        "all mail servers must have a ptr record with a valid reverse dns entry",
        "bad dns ptr resource record",
        "cannot find your hostname",
        "cannot resolve your address.",
        "client host rejected: cannot find your hostname",
        "fix reverse dns for ",
        "ips with missing ptr records",
        "no ptr record found.",
        "please get a custom reverse dns name from your isp for your host",
        "ptr record setup",
        "reverse dns failed",
        "reverse dns required",
        "sender ip reverse lookup rejected",
        "the ip address sending this message does not have a ptr record setup",
        "the corresponding forward dns entry does not point to the sending ip",
        "this system will not accept messages from servers/devices with no reverse dns",
        "unresolvable relay host name",
        "we do not accept mail from hosts with dynamic ip or generic dns ptr-records",
    ],
    pairs: &[
        &["domain ", " mismatches client ip"],
        &["dns lookup failure: ", " try again later"],
        &["reverse dns lookup for host ", " failed permanently"],
        &[
            "server access ",
            " forbidden by invalid rdns record of your mail server",
        ],
        &["service permits ", " unverifyable sending ips"],
    ],
    not: &[],
};

const AUTH_FAILURE: Patterns = Patterns {
    index: &[
        "//spf.pobox.com",
        "bad spf records for",
        "dmarc policy",
        "does not have authentication information",
        "doesn't meet the required authentication level",
        "please inspect your spf settings",
        "sender policy framework (spf) fail",
        "sender policy framework violation",
        "spf (sender policy framework) domain authentication fail",
        "spf check: fail",
        "the 5322.from address doesn't meet the authentication requirements defined for the sender",
    ],
    pairs: &[
        &[" is not allowed to send mail.", "_401"],
        &["is not allowed to send from <", " per it's spf record"],
    ],
    not: &[],
};

const USER_UNKNOWN: Patterns = Patterns {
    index: &[
        "#5.1.1 bad address",
        "550 address invalid",
        "5.1.0 address rejected.",
        "address does not exist",
        "address not present in directory",
        "address unknown",
        "can't accept user",
        "does not exist.",
        "destination addresses were unknown",
        "destination server rejected recipients",
        "email address does not exist",
        "email address could not be found",
        "invalid address",
        "invalid mailbox",
        "invalid mailbox path",
        "invalid recipient",
        "is not a known user",
        "is not a valid mailbox",
        "is not an active address at this host",
        "mailbox does not exist",
        "mailbox invalid",
        "mailbox is inactive",
        "mailbox is unavailable",
        "mailbox not present",
        "mailbox not found",
        "mailbox unavaiable",
        "nessun utente simile in questo indirizzo",
        "no account by that name here",
        "no existe dicha persona",
        "no existe ese usuario ",
        "no mail box available for this user",
        "no mailbox by that name is currently available",
        "no mailbox found",
        "no such address here",
        "no such mailbox",
        "no such person at this address",
        "no such recipient",
        "no such user",
        "no thank you rejected: account unavailable",
        "no valid recipients, bye",
        "not a valid recipient",
        "not a valid user here",
        "not a local address",
        "not email addresses",
        "recipient address rejected. (in reply to rcpt to command)",
        "recipient address rejected: access denied",
        "recipient address rejected: invalid user",
        "recipient address rejected: invalid-recipient",
        "recipient address rejected: unknown user",
        "recipient address rejected: userunknown",
        "recipient does not exist",
        "recipient is not accepted",
        "recipient is not local",
        "recipient not exist",
        "recipient not found",
        "recipient not ok",
        "recipient refuses to accept your mail",
        "recipient unknown",
        "requested action not taken: mailbox unavailable",
        "resolver.adr.recipient notfound",
        "sorry, user unknown",
        "sorry, badrcptto",
        "sorry, no mailbox here by that name",
        "sorry, your envelope recipient has been denied",
        "that domain or user isn't in my list of allowed rcpthosts",
        "the email account that you tried to reach does not exist",
        "the following recipients was undeliverable",
        "the user's email name is not found",
        "there is no one at this address",
        "this address no longer accepts mail",
        "this email address is wrong or no longer valid",
        "this recipient is in my badrecipientto list",
        "this recipient is not in my validrcptto list",
        "this spectator does not exist",
        "unknown mailbox",
        "unknown recipient",
        "unknown user",
        "user does not exist",
        "user missing home directory",
        "user not active",
        "user not exist",
        "user not found",
        "user not known",
        "user unknown",
        "utilisateur inconnu !",
        "vdeliver: invalid or unknown virtual user",
        "weil die adresse nicht gefunden wurde oder keine e-mails empfangen kann",
        "your envelope recipient is in my badrcptto list",
    ],
    pairs: &[
        &["<", "> not found"],
        &["<", ">... blocked by "],
        &["account ", " does not exist at the organization"],
        &[
            "adresse d au moins un destinataire invalide. invalid recipient.",
            "416",
        ],
        &[
            "adresse d au moins un destinataire invalide. invalid recipient.",
            "418",
        ],
        &["bad", "recipient"],
        &["mailbox ", "does not exist"],
        &["mailbox ", "unavailable or access denied"],
        &["no ", " in name directory"],
        &["non", "existent user"],
        &["rcpt <", " does not exist"],
        &["rcpt (", "t exist "],
        &["recipient ", " was not found in"],
        &["recipient address rejected: user ", "  does not exist"],
        &["recipient address rejected: user unknown in ", "  table"],
        &["said: 550", "5.1.1 ", " user unknown "],
        &["this user doesn't have a ", " account"],
        &["unknown e", "mail address"],
        &["unknown local", "part"],
        &["user ", " was not found"],
        &["user ", " does not exist"],
        &["user (", ") unknown"],
    ],
    not: &[],
};

const FILTERED: Patterns = Patterns {
    index: &[
        "account is protected by",
        "bounced address",
        "has restricted sms e-mail",
        "is not accepting any mail",
        "message filtered",
        "message rejected due to user rules",
        "not found recipient account",
        "recipient id refuse to receive mail",
        "recipient is only accepting mail from specific email addresses",
        "refused due to recipient preferences",
        "user not found",
        "user refuses to receive this mail",
        "user reject",
        "you have been blocked by the recipient",
    ],
    pairs: &[],
    not: &[],
};

const HOST_UNKNOWN: Patterns = Patterns {
    index: &[
        "domain does not exist",
        "domain is not reachable",
        "domain must exist",
        "host or domain name not found",
        "host unknown",
        "host unreachable",
        "mail domain mentioned in email address is unknown",
        "name or service not known",
        "no such domain",
        "recipient address rejected: unknown domain name",
        "recipient domain must exist",
        "the account or domain may not exist",
        "unknown host",
        "unroutable address",
        "unrouteable address",
    ],
    pairs: &[&["553 ", " does not exist"]],
    not: &[],
};

const SPAM_DETECTED: Patterns = Patterns {
    index: &[
        " - spam",
        "//www.spamhaus.org/help/help_spam_16.htm",
        "//dsbl.org/help/help_spam_16.htm",
        "//mail.163.com/help/help_spam_16.htm",
        "554 5.7.0 reject, id=",
        "appears to be unsolicited",
        "blacklisted url in message",
        "block for spam",
        "blocked by policy: no spam please",
        "blocked by spamassassin",
        "blocked for abuse. see http://att.net/blocks",
        "cannot be forwarded because it was detected as spam",
        "considered unsolicited bulk e-mail (spam) by our mail filters",
        "content filter rejection",
        "cyberoam anti spam engine has identified this email as a bulk email",
        "denied due to spam list",
        "high probability of spam",
        "is classified as spam and is rejected",
        "listed in work.drbl.imedia.ru",
        "the mail server detected your message as spam and has prevented delivery.",
        "mail appears to be unsolicited",
        "mail content denied",
        "may consider spam",
        "message considered as spam or virus",
        "message contains spam or virus",
        "message content rejected",
        "message detected as spam",
        "message filtered",
        "message filtered. please see the faqs section on spam",
        "message filtered. refer to the troubleshooting page at ",
        "message looks like spam",
        "message is being rejected as it seems to be a spam",
        "message refused by mailmarshal spamprofiler",
        "message refused by trustwave seg spamprofiler",
        "message rejected as spam",
        "message rejected because of unacceptable content",
        "message rejected due to suspected spam content",
        "message rejected for policy reasons",
        "message was rejected for possible spam/virus content",
        "our email server thinks this email is spam",
        "our system has detected that this message is ",
        "probable spam",
        "reject bulk.advertising",
        "rejected: spamassassin score ",
        "rejected - bulk email",
        "rejecting banned content",
        "rejecting mail content",
        "related to content with spam-like characteristics",
        "sender domain listed at ",
        "sending address not accepted due to spam filter",
        "spam blocked",
        "spam check",
        "spam content matched",
        "spam detected",
        "spam email",
        "spam email not accepted",
        "spam message rejected.",
        "spam not accepted",
        "spam refused",
        "spam rejection",
        "spam score ",
        "spambouncer identified spam",
        "spamming not allowed",
        "too many spam complaints",
        "too much spam.",
        "the email message was detected as spam",
        "the message has been rejected by spam filtering engine",
        "the message was rejected due to classification as bulk mail",
        "the content of this message looked like spam",
        "this message appears to be spam",
        "this message has been identified as spam",
        "this message has been scored as spam with a probability",
        "this message was classified as spam",
        "this message was rejected by recurrent pattern detection system",
        "transaction failed spam message not queued",
        "we dont accept spam",
        "your email appears similar to spam we have received before",
        "your email breaches local uribl policy",
        "your email had spam-like ",
        "your email is considered spam",
        "your email is probably spam",
        "your email was detected as spam",
        "your message as spam and has prevented delivery",
        "your message has been temporarily blocked by our filter",
        "your message has been rejected because it appears to be spam",
        "your message has triggered a spam block",
        "your message may contain the spam contents",
        "your message failed several antispam checks",
    ],
    pairs: &[
        &["greylisted", " please try again in"],
        &["mail score (", " over "],
        &["mail rejete. mail rejected. ", "506"],
        &[
            "our filters rate at and above ",
            " percent probability of being spam",
        ],
        &["rejected by ", " (spam)"],
        &["rejected due to spam ", "classification"],
        &["rejected due to spam ", "content"],
        &["rule imposed as ", " is blacklisted on"],
        &["spam ", " exceeded"],
        &["this message scored ", " spam points"],
    ],
    not: &[],
};

const VIRUS_DETECTED: Patterns = Patterns {
    index: &[
        "it has a potentially executable attachment",
        "the message was rejected because it contains prohibited virus or spam content",
        "this form of attachment has been used by recent viruses or other malware",
        "virus detected",
        "virus phishing/malicious_url detected",
        "your message was infected with a virus",
    ],
    pairs: &[],
    not: &[],
};

const TOO_MANY_CONN: Patterns = Patterns {
    index: &[
        "all available ips are at maximum connection limit",
        "connection rate limit exceeded",
        "exceeds per-domain connection limit for",
        "has exceeded the max emails per hour ",
        "throttling failure: ",
        "too many connections",
        "too many concurrent smtp connections",
        "too many errors from your ip",
        "too many recipients",
        "too many smtp sessions for this host",
        "trop de connexions, ",
        "we have already made numerous attempts to deliver this message",
    ],
    pairs: &[
        &["connection ", "limit"],
        &["too many ", "session"],
        &["too many ", "recipients"],
        &["too many con", "s"],
    ],
    not: &[],
};

const RATE_LIMITED: Patterns = Patterns {
    index: &[
        "mail sent from your ip address has been temporarily rate limited",
        "please try again slower",
        "receiving mail at a rate that prevents additional messages from being delivered",
        "temporarily deferred due to unexpected volume or user complaints",
    ],
    pairs: &[
        &[
            "exceeded ",
            "allowable number of posts without solving a captcha",
        ],
        &["temporarily", "rate limited"],
        &["throttled ", "postmaster.comcast.net"],
    ],
    not: &[],
};

const BAD_REPUTATION: Patterns = Patterns {
    index: &[
        "a poor email reputation score",
        "has been temporarily rate limited due to ip reputation",
        "ip/domain reputation problems",
        "likely suspicious due to the very low reputation",
        "none/bad reputation",
        "temporarily deferred due to unexpected volume or user complaints",
        "the sending mta's poor reputation",
    ],
    pairs: &[],
    not: &[],
};

const BLOCKED: Patterns = Patterns {
    index: &[
        " said: 550 blocked",
        "//www.spamcop.net/bl.",
        "bad sender ip address",
        "banned sending ip",
        "blacklisted by",
        "blocked using ",
        "blocked - see http",
        "dnsbl:attrbl",
        "client host rejected: abus detecte gu_eib_02",
        "client host rejected: abus detecte gu_eib_04",
        "client host rejected: may not be mail exchanger",
        "client host rejected: was not authenticated",
        "confirm this mail server",
        "connection dropped",
        "connection refused by",
        "connection reset by peer",
        "connection was dropped by remote host",
        "connections not accepted from ip addresses on spamhaus xbl",
        "currently sending spam see: ",
        "domain does not exist:",
        "dynamic/zombied/spam ips blocked",
        "error: no valid recipients from ",
        "esmtp not accepting connections",
        "extreme bad ip profile",
        "go away",
        "helo command rejected:",
        "host network not allowed",
        "hosts with dynamic ip",
        "invalid ip for sending mail of domain",
        "is in a black list",
        "is not allowed to send mail from",
        "mailfrom domain is listed in spamhaus",
        "no access from mail server",
        "no matches to nameserver query",
        "not currently accepting mail from your ip",
        "part of their network is on our block list",
        "please use the smtp server of your isp",
        "refused - see http",
        "rejected - multi-blacklist",
        "rejected because the sending mta or the sender has not passed validation",
        "rejecting open proxy",
        "sender ip address rejected",
        "server access forbidden by your ip ",
        "service not available, closing transmission channel",
        "smtp error from remote mail server after initial connection:",
        "sorry, that domain isn't in my list of allowed rcpthosts",
        "sorry, your remotehost looks suspiciously like spammer",
        "temporarily deferred due to unexpected volume or user complaints",
        "to submit messages to this e-mail system has been rejected",
        "too many spams from your ip",
        "too many unwanted messages have been sent from the following ip address above",
        "was blocked by ",
        "we do not accept mail from dynamic ips",
        "you are not allowed to connect",
        "you are sending spam",
        "your ip address is listed in the rbl",
        "your network is temporary blacklisted",
        "your server requires confirmation",
    ],
    pairs: &[
        &["(", "@", ":blocked)"],
        &["access from ip address ", " blocked"],
        &["client host ", " blocked using"],
        &[
            "connections will not be accepted from ",
            " because the ip is in spamhaus's list",
        ],
        &["dnsbl:rbl ", ">_is_blocked"],
        &["email blocked by ", ".barracudacentral.org"],
        &["email blocked by ", "spamhaus"],
        &["host ", " refused to talk to me: ", " blocked"],
        &["ip ", " is blocked by earthlink"],
        &["is in an ", "rbl on "],
        &["mail server at ", " is blocked"],
        &["mail from ", " refused:"],
        &["mail from ", " refused, see ", "orbs"],
        &["message from ", " rejected based on blacklist"],
        &[
            "messages from ",
            " temporarily deferred due to user complaints",
        ],
        &["server ip ", " listed as abusive"],
        &["sorry! your ip address", " is blocked by rbl"],
        &["the domain ", " is blacklisted"],
        &["the email ", " is blacklisted"],
        &["the ip", " is blacklisted"],
        &[
            "veuillez essayer plus tard. service refused, please try later. ",
            "103",
        ],
        &[
            "veuillez essayer plus tard. service refused, please try later. ",
            "510",
        ],
        &["your access ip", " has been rejected"],
        &["your sender's ip address is listed at ", ".abuseat.org"],
    ],
    not: &[],
};

const POLICY_VIOLATION: Patterns = Patterns {
    index: &[
        "an illegal attachment on your message",
        "because the recipient is not accepting mail with ",
        "by non-member to a members-only list",
        "closed mailing list",
        "denied by policy",
        "email not accepted for policy reasons",
        "email rejected due to security policies",
        "header are not accepted",
        "header error",
        "local policy violation",
        "message bounced due to organizational settings",
        "message given low priority",
        "message not accepted for policy reasons",
        "message rejected due to local policy",
        "messages with multiple addresses",
        "rejected for policy reasons",
        "protocol violation",
        "the email address used to send your message is not subscribed to this group",
        "the message was rejected by organization policy",
        "this message was blocked because its content presents a potential",
        "we do not accept messages containing images or other attachments",
        "you're using a mass mailer",
    ],
    pairs: &[&[
        "you have exceeded the",
        "allowable number of posts without solving a captcha",
    ]],
    not: &[],
};

const REJECTED: Patterns = Patterns {
    index: &[
        "access denied (in reply to mail from command)",
        "access denied (sender blacklisted)",
        "address rejected",
        "administrative prohibition",
        "batv failed to verify",
        "batv validation failure",
        "backscatter protection detected an invalid or expired email address",
        "because the sender isn't on the recipient's list of senders to accept mail from",
        "bogus mail from",
        "can't determine purported responsible address",
        "connections not accepted from servers without a valid sender domain",
        "denied [bouncedeny]",
        "denied by secumail valid-address-filter",
        "delivery not authorized, message refused",
        "does not exist e2110",
        "domain of sender address ",
        "email address is on senderfilterconfig list",
        "emetteur invalide",
        "empty envelope senders not allowed",
        "envelope blocked - ",
        "error: no third-party dsns",
        "from: domain is invalid. please provide a valid from:",
        "fully qualified email address required",
        "invalid domain, see <url:",
        "invalid sender",
        "is not a registered gateway user",
        "mail from not owned by user",
        "message rejected: email address is not verified",
        "mx records for ",
        "null sender is not allowed",
        "recipient addresses rejected : access denied",
        "recipient not accepted. (batv: no tag",
        "returned mail not accepted here",
        "rfc 1035 violation: recursive cname records for",
        "rule imposed mailbox access for",
        "sending this from a different address or alias using the ",
        "sender address has been blacklisted",
        "sender email address rejected",
        "sender is in my black list",
        "sender is spammer",
        "sender not pre-approved",
        "sender rejected",
        "sender domain is empty",
        "sender verify failed",
        "sender was rejected",
        "spam reporting address",
        "syntax error: empty email address",
        "the message has been rejected by batv defense",
        "this server does not accept mail from",
        "transaction failed unsigned dsn for",
        "unroutable sender address",
        "you are not allowed to post to this mailing list",
        "you are sending to/from an address that has been blacklisted",
        "your access to submit messages to this e-mail system has been rejected",
        "your email address has been blacklisted",
    ],
    pairs: &[],
    not: &[
        "5.1.0 address rejected",
        "recipient address rejected",
        "sender ip address rejected",
    ],
};

const SECURITY_ERROR: Patterns = Patterns {
    index: &[
        "account not subscribed to ses",
        "authentication credentials invalid",
        "authentication failure",
        "authentication required",
        "authentication turned on in your email client",
        "executable files are not allowed in compressed files",
        "insecure mail relay",
        "recipient address rejected: access denied",
        "sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts",
        "unauthenticated senders not allowed",
        "verification failure",
        "you are not authorized to send mail, authentication is required",
        "starttls is required to send mail",
        "tls required but not supported",
    ],
    pairs: &[
        &["authentication failed; server ", " said: "],
        &["authentification invalide", "305"],
        &["authentification requise", "402"],
        &["domain ", " is a dead domain"],
        &[
            "user ",
            " is not authorized to perform ses:sendrawemail on resource",
        ],
    ],
    not: &[],
};

const SYNTAX_ERROR: Patterns = Patterns {
    index: &[
        "syntax error, command unrecognized",
        "syntax error in parameters or arguments",
        "command not recognized",
        "command unrecognized",
        "unrecognized command",
        "bad sequence of commands",
    ],
    pairs: &[],
    not: &[],
};

const CONTENT_ERROR: Patterns = Patterns {
    index: &[
        "duplicate header",
        "header size exceeds maximum permitted",
        "improper use of 8-bit data in message header",
        "message header size, or recipient list, exceeds policy limit",
        "message mime complexity exceeds the policy maximum",
        "routing loop detected -- too many received: headers",
        "this message contain invalid mime headers",
        "this message contain improperly-formatted binary content",
        "this message contain text that uses unnecessary base64 encoding",
    ],
    pairs: &[],
    not: &[],
};

const NOT_COMPLIANT_RFC: Patterns = Patterns {
    index: &[
        "duplicate header",
        "this message is not rfc 5322 compliant",
        "https://support.google.com/mail/?p=rfcmessagenoncompliant",
    ],
    pairs: &[&[" multiple ", " header"]],
    not: &[],
};

const SYSTEM_FULL: Patterns = Patterns {
    index: &[
        "mail system full",
        "requested mail action aborted: exceeded storage allocation",
    ],
    pairs: &[],
    not: &[],
};

const NOT_ACCEPT: Patterns = Patterns {
    index: &[
        "does not accept mail (nullmx)",
        "host/domain does not accept mail",
        "host does not accept mail",
        "indicated no smtp service",
        "mail receiving disabled",
        "name server: .: host not found",
        "no mx found for domain",
        "no mx record found for domain=",
        "no route for current request",
        "smtp protocol returned a permanent error",
    ],
    pairs: &[],
    not: &[],
};

const EXPIRED: Patterns = Patterns {
    index: &[
        "connection timed out",
        "could not find a gateway for",
        "delivery attempts will continue to be",
        "delivery expired",
        "delivery retry timeout exceeded",
        "envelope expired",
        "host not reachable",
        "delivery time expired",
        "failed to deliver to domain ",
        "giving up on",
        "have been failing for a long time",
        "has been delayed",
        "it has not been collected after",
        "message expired after sitting in queue for",
        "message expired, cannot connect to remote server",
        "message expired, connection refulsed",
        "message timed out",
        "retry time not reached for any host after a long failure period",
        "server did not respond",
        "this message has been in the queue too long",
        "unable to deliver message after multiple retries",
        "was not reachable within the allowed queue period",
        "your message could not be delivered for more than",
    ],
    pairs: &[&["could not be delivered for", " days"]],
    not: &[],
};

const NETWORK_ERROR: Patterns = Patterns {
    index: &[
        "could not connect and send the mail to",
        "dns records for the destination computer could not be found",
        "hop count exceeded - possible mail loop",
        "host is unreachable",
        "host name lookup failure",
        "host not found, try again",
        "mail forwarding loop for ",
        "malformed name server reply",
        "malformed or unexpected name server reply",
        "network error on destination mx",
        "maximum forwarding loop count exceeded",
        "message looping",
        "message probably in a routing loop",
        "no route to host",
        "too many hops",
        "unable to resolve route ",
        "unrouteable mail domain",
    ],
    pairs: &[],
    not: &[],
};

const SYSTEM_ERROR: Patterns = Patterns {
    index: &[
        "aliasing/forwarding loop broken",
        "can't create user output file",
        "could not load drd for domain",
        "internal error reading data",
        "internal server error: operation now in progress",
        "interrupted system call",
        "it encountered an error while being processed",
        "it would create a mail loop",
        "local configuration error",
        "local error in processing",
        "loop was found in the mail exchanger",
        "loops back to myself",
        "mail system configuration error",
        "queue file write error",
        "recipient deferred because there is no mdb",
        "remote server is misconfigured",
        "server configuration error",
        "service currently unavailable",
        "system config error",
        "temporary local problem",
        "timeout waiting for input",
        "transaction failed ",
    ],
    pairs: &[&["unable to connect ", "daemon"]],
    not: &[],
};

const MAILER_ERROR: Patterns = Patterns {
    index: &[
        " || exit ",
        "procmail: ",
        "bin/procmail",
        "bin/maidrop",
        "command failed: ",
        "command died with status ",
        "command output:",
        "mailer error",
        "pipe to |/",
        "x-unix; ",
    ],
    pairs: &[],
    not: &[],
};

const VACATION: Patterns = Patterns {
    index: &[
        "i am away on vacation",
        "i am away until",
        "i am out of the office",
        "i will be traveling for work on",
    ],
    pairs: &[],
    not: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_owes_nothing_to_the_one_before() {
        // The lists kept per thread from scan to scan: texts with and without pairs' pieces,
        // one after the other on one thread, give what each gives on a fresh thread.
        let texts = [
            "the mailbox has exceeded the storage limit",
            "exceeded limit",
            "mailbox exceeded",
            "user unknown",
            "",
            "mailbox exceeded limit, user unknown, mailbox exceeded limit",
            "limit exceeded mailbox",
        ];
        let alone: Vec<Hits> = texts
            .iter()
            .map(|t| {
                let t = t.to_string();
                std::thread::spawn(move || scan(&t)).join().expect("thread")
            })
            .collect();
        for _ in 0..2 {
            for (t, want) in texts.iter().zip(&alone) {
                assert_eq!(scan(t), *want, "{t:?}");
            }
        }
        assert!(alone[0].has(Reason::MailboxFull));
        assert!(!alone[1].has(Reason::MailboxFull));
    }

    #[test]
    fn pairs_need_their_pieces_in_order() {
        // `&["mailbox ", "exceeded", " limit"]` (mailbox full).
        assert!(scan("your mailbox has exceeded its limit").has(Reason::MailboxFull));
        assert!(!scan("limit exceeded for mailbox x").has(Reason::MailboxFull));
        // A first piece that fails where it first stands, then a later one that succeeds:
        // the pieces after the later one also follow the first.
        assert!(scan("mailbox a; mailbox b exceeded the limit").has(Reason::MailboxFull));
        assert!(scan("disk quota").has(Reason::MailboxFull));
    }

    /// The tables searched one word at a time, as the scan's definition says.
    fn reference(text: &str, reason: Reason) -> bool {
        let p = patterns(reason);
        let aligned = |pieces: &[&str]| {
            let mut rest = text;
            pieces.iter().all(|piece| match rest.find(piece) {
                Some(i) => {
                    rest = &rest[i + piece.len()..];
                    true
                }
                None => false,
            })
        };
        let found = p.index.iter().any(|w| text.contains(w)) || p.pairs.iter().any(|x| aligned(x));
        found && !p.not.iter().any(|w| text.contains(w))
    }

    /// The words found, as `walk` or `walk_lazy` (with room for `cap` states, its states'
    /// word lists unrolled) give them.
    fn walked(text: &str, cap: Option<usize>, lazy: &mut Lazy) -> Vec<(u32, usize)> {
        let Some(m) = MATCHER.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match cap {
            Some(cap) => {
                let mut said = |said: Said<'_>, at: usize| {
                    for &(w, len) in said.words {
                        out.push((w, (at + 1).saturating_sub(len as usize)));
                    }
                };
                if let Err(at) = walk_lazy(m, lazy, text.as_bytes(), cap, &mut said) {
                    walk_from(m, text.as_bytes(), at, &mut |w, start| out.push((w, start)));
                }
            }
            None => walk(m, text.as_bytes(), &mut |w, start| out.push((w, start))),
        }
        out
    }

    #[test]
    fn kept_transitions_walk_as_the_nfa() {
        let m = MATCHER.as_ref().expect("tables build");
        assert!(m.class_count <= 257);
        let mut texts: Vec<String> = vec![
            String::new(),
            "550 5.1.1 <a@example.org>: recipient address rejected: user unknown".into(),
            "mailbox full; quota exceeded (in reply to rcpt to command) \u{0}\u{7f}\t".into(),
            "boîte pleine — ユーザー不明 \u{fffd} über quota".into(),
            "zzzz qqqq ~~~~ ```` |||| \\\\ xyzzy".into(),
        ];
        for r in Reason::ALL {
            let p = patterns(*r);
            texts.push(p.index.join(" "));
            texts.push(p.index.concat());
            texts.push(p.not.join("!"));
            for pair in p.pairs {
                texts.push(pair.join(""));
            }
        }
        let want: Vec<Vec<(u32, usize)>> = texts
            .iter()
            .map(|t| walked(t, None, &mut Lazy::default()))
            .collect();
        assert!(want.iter().map(Vec::len).sum::<usize>() > 1000);
        // Room for all, and for so few states that the table starts afresh mid-text; the
        // texts twice over, so that kept transitions are taken.
        for cap in [LAZY_STATES, 64, 2, 1] {
            let mut lazy = Lazy::default();
            for _ in 0..2 {
                for (t, w) in texts.iter().zip(&want) {
                    assert_eq!(&walked(t, Some(cap), &mut lazy), w, "{cap} {t:?}");
                }
            }
            assert!(lazy.sids.len() <= cap.max(2));
        }
    }

    /// Pseudo-random texts: pieces of the tables' words, stray bytes, non-ASCII, runs.
    fn random_texts(n: usize) -> Vec<String> {
        let mut words: Vec<&str> = Vec::new();
        for r in Reason::ALL {
            let p = patterns(*r);
            words.extend(p.index.iter().chain(p.not).copied());
            for pair in p.pairs {
                words.extend(pair.iter().copied());
            }
        }
        let mut next = crate::bounces::xorshift(0x9e37_79b9_7f4a_7c15);
        let odd = [
            "é", "ユ", "\u{0}", "\u{7f}", "\u{fffd}", "\t", "\n", " ", "<", ":", ";", "5",
        ];
        (0..n)
            .map(|_| {
                let mut t = String::new();
                for _ in 0..(next() % 24) {
                    let k = next();
                    let w = words[(k as usize / 7) % words.len().max(1)];
                    match k % 6 {
                        0 | 1 => t.push_str(w),
                        2 => {
                            // A word cut short or started late.
                            let cut = (k as usize / 3) % (w.len() + 1);
                            let piece = if k.is_multiple_of(2) {
                                w.get(..cut)
                            } else {
                                w.get(cut..)
                            };
                            t.push_str(piece.unwrap_or(w));
                        }
                        3 => t.push_str(odd[(k as usize / 5) % odd.len()]),
                        4 => t.push(char::from(b'a' + (k / 11 % 26) as u8)),
                        _ => t.push_str(&w.repeat(2)),
                    }
                }
                t
            })
            .collect()
    }

    #[test]
    fn kept_transitions_walk_as_the_nfa_on_random_texts() {
        let texts = random_texts(400);
        let want: Vec<Vec<(u32, usize)>> = texts
            .iter()
            .map(|t| walked(t, None, &mut Lazy::default()))
            .collect();
        for cap in [LAZY_STATES, 300, 3] {
            let mut lazy = Lazy::default();
            for (t, w) in texts.iter().zip(&want) {
                assert_eq!(&walked(t, Some(cap), &mut lazy), w, "{cap} {t:?}");
            }
            assert!(lazy.sids.len() <= cap.max(2));
        }
    }

    #[test]
    fn one_pass_agrees_with_the_tables_on_random_texts() {
        for t in random_texts(400) {
            for r in Reason::ALL {
                assert_eq!(scan(&t).has(*r), reference(&t, *r), "{r:?} in {t:?}");
            }
        }
    }

    #[test]
    fn one_pass_agrees_with_the_tables_word_by_word() {
        // Texts made of the tables' own words, whole and in pieces, in both orders.
        let mut texts: Vec<String> = Vec::new();
        for r in Reason::ALL {
            let p = patterns(*r);
            for pair in p.pairs {
                texts.push(pair.join(""));
                // Pieces sharing a space: one cannot start before the other ends.
                texts.push(pair.join("").replace("  ", " "));
                texts.push(pair.join(" x "));
                texts.push(pair.iter().rev().copied().collect::<Vec<_>>().join(" "));
                texts.push(format!("{} {}", pair[0], pair.join("")));
            }
            for (i, w) in p.index.iter().enumerate() {
                texts.push(format!(
                    "550 {w} {}",
                    p.not.get(i % p.not.len().max(1)).unwrap_or(&"")
                ));
            }
        }
        let mut checked = 0;
        for t in &texts {
            for r in Reason::ALL {
                assert_eq!(scan(t).has(*r), reference(t, *r), "{r:?} in {t:?}");
                checked += 1;
            }
        }
        assert!(checked > 1000);
    }
}

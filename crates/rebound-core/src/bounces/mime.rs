//! A small, bounded MIME reader made for bounce messages.
//!
//! It does what the bounce parser needs and nothing more: line endings normalised (LF, CRLF
//! and CR-only alike), headers unfolded and RFC 2047-decoded, multipart bodies split,
//! base64 / quoted-printable undone, charsets converted to UTF-8, and the message flattened
//! into the pieces a bounce is made of: the human-readable text, the delivery-status and
//! feedback-report blocks, and the returned original message. Every loop is bounded by
//! [`Limits`]; nothing recurses deeper than `max_depth`.

use base64::Engine;

/// Bounds that keep parsing time and memory proportional to the input, whatever it holds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of input looked at; the rest is ignored.
    pub max_input: usize,
    /// Nesting of multipart and message/rfc822 parts.
    pub max_depth: usize,
    /// Parts looked at in the whole message.
    pub max_parts: usize,
    /// Header fields kept per entity.
    pub max_headers: usize,
    /// Bytes kept of one header field's value.
    pub max_header_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 16 << 20,
            max_depth: 12,
            max_parts: 512,
            max_headers: 1000,
            max_header_value: 16 << 10,
        }
    }
}

/// The top-level fields [`Flat::lower`] holds.
pub const LOWERED: &[&str] = &["from", "subject", "to", "received"];

/// Bytes of the returned message's body that are decoded and kept.
const ORIGINAL_BODY_KEPT: usize = 64 << 10;

/// An ordered list of header fields: lower-cased names, unfolded values (RFC 2047
/// decoded, trimmed). Names and values live in one buffer (two allocations per header
/// block, not two per field).
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// A parsed block is copied here whole, its field names lower-cased in place; what
    /// follows it is values that could not be pointed to in place (unfolded, decoded) and
    /// the fields added with [`Headers::push`].
    buf: String,
    /// Per field: where its name and its value stand in `buf` (a value folded over several
    /// lines is unfolded at the end of `buf`; one with encoded words is decoded after the
    /// parse and added at the end too).
    fields: Vec<Field>,
    /// Where the first field of each [`KNOWN`] name stands ([`NO_FIELD`]: none), once
    /// [`Headers::index_known`] has been called: the engines ask the top-level header for
    /// these names message after message, mostly for fields it does not have, and each
    /// look-up was a walk over every field (about 35 ns).
    known: Option<[u16; KNOWN.len()]>,
}

/// The field names [`Headers::index_known`] indexes: those the engines look up in the
/// top-level header ([`known_slot`] gives each one's place).
const KNOWN: [&str; 26] = [
    "subject",
    "from",
    "to",
    "received",
    "content-type",
    "content-transfer-encoding",
    "message-id",
    "reply-to",
    "return-path",
    "precedence",
    "auto-submitted",
    "x-failed-recipients",
    "x-mailer",
    "x-spasign",
    "x-ses-outgoing",
    "x-aws-outgoing",
    "x-aol-ip",
    "x-zohomail",
    "x-mlserver",
    "x-mimeole",
    "x-google-smtp-source",
    "x-gm-message-state",
    "x-ahmailid",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
];

/// The place of `name` in [`KNOWN`]: a hash of its length and three of its bytes picks the
/// one name to compare (a `match` on the names cost more than the walk it spared, its
/// compares mispredicted). Inlined: a look-up's name is nearly always a literal, and its
/// place is then worked out as the program is compiled.
#[inline(always)]
fn known_slot(name: &[u8]) -> Option<usize> {
    if name.len() < 2 {
        return None;
    }
    let k = usize::from(*KNOWN_TABLE.get(known_hash(name))?);
    (KNOWN.get(k)?.as_bytes() == name).then_some(k)
}

/// [`known_hash`]'s multiplier and the bits it keeps: chosen so that no two [`KNOWN`] names
/// share a place ([`KNOWN_TABLE`] does not compile otherwise).
const KNOWN_MUL: u32 = 30305;
const KNOWN_BITS: u32 = 7;

/// The place in [`KNOWN_TABLE`] of a name of two bytes or more.
#[inline(always)]
const fn known_hash(b: &[u8]) -> usize {
    let l = b.len();
    let third = if l > 2 { b[2] } else { b[0] };
    let x =
        (l as u32 & 0xff) | (b[l - 1] as u32) << 8 | (b[l - 2] as u32) << 16 | (third as u32) << 24;
    (x.wrapping_mul(KNOWN_MUL) >> (32 - KNOWN_BITS)) as usize
}

/// Per [`known_hash`] place, the [`KNOWN`] name hashed there (`u8::MAX`: none).
const KNOWN_TABLE: [u8; 1 << KNOWN_BITS] = {
    let mut t = [u8::MAX; 1 << KNOWN_BITS];
    let mut i = 0;
    while i < KNOWN.len() {
        let h = known_hash(KNOWN[i].as_bytes());
        assert!(
            t[h] == u8::MAX,
            "two KNOWN names share a place: change KNOWN_MUL"
        );
        t[h] = i as u8;
        i += 1;
    }
    t
};

/// No field of the name, in [`Headers::known`].
const NO_FIELD: u16 = u16::MAX;

/// Notes field `i`, named `name`, in an index of [`KNOWN`] names, unless an earlier field of
/// the name is noted there.
fn note_first(known: &mut [u16; KNOWN.len()], name: &[u8], i: u16) {
    if let Some(slot) = known_slot(name).and_then(|k| known.get_mut(k)) {
        if *slot == NO_FIELD {
            *slot = i;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: (usize, usize),
    value: (usize, usize),
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl Headers {
    /// Removes every field, keeping the buffers.
    fn clear(&mut self) {
        self.buf.clear();
        self.fields.clear();
        self.known = None;
    }

    /// Notes where the first field of each [`KNOWN`] name stands, so that looking one up
    /// is a step, not a walk over the fields (for a header looked up many times; kept up to
    /// date by [`Headers::push`]). A header of more fields than a `u16` counts stays
    /// unindexed.
    pub fn index_known(&mut self) {
        if self.fields.len() >= usize::from(NO_FIELD) {
            self.known = None;
            return;
        }
        let mut known = [NO_FIELD; KNOWN.len()];
        let buf = self.buf.as_bytes();
        for (i, f) in self.fields.iter().enumerate() {
            let name = buf.get(f.name.0..f.name.1).unwrap_or_default();
            // Fewer fields than `NO_FIELD`: every place fits.
            note_first(&mut known, name, i as u16);
        }
        self.known = Some(known);
    }

    /// Adds field `f` (named `name`) at the end, and to the index if there is one.
    fn add(&mut self, name: &str, f: Field) {
        let i = self.fields.len();
        self.fields.push(f);
        if let Some(known) = self.known.as_mut() {
            match u16::try_from(i).ok().filter(|&i| i != NO_FIELD) {
                Some(i) => note_first(known, name.as_bytes(), i),
                // Past what the index can say: look-ups walk the fields again.
                None => self.known = None,
            }
        }
    }

    fn name_of(&self, f: &Field) -> &str {
        self.buf.get(f.name.0..f.name.1).unwrap_or("")
    }

    fn value_of(&self, f: &Field) -> &str {
        self.buf.get(f.value.0..f.value.1).unwrap_or("")
    }

    /// Adds a field (`name` given in lower case).
    pub fn push(&mut self, name: &str, value: &str) {
        let n = self.buf.len();
        self.buf.push_str(name);
        let v = self.buf.len();
        self.buf.push_str(value);
        let f = Field {
            name: (n, v),
            value: (v, self.buf.len()),
        };
        self.add(name, f);
    }

    /// Adds a field (`name` given in lower case) with its value in lower case (as
    /// `str::to_lowercase`; ASCII lower-cased in place).
    pub fn push_lowercase(&mut self, name: &str, value: &str) {
        if !value.is_ascii() {
            return self.push(name, &value.to_lowercase());
        }
        let n = self.buf.len();
        self.buf.push_str(name);
        let v = self.buf.len();
        self.buf.push_str(value);
        self.buf[v..].make_ascii_lowercase();
        let f = Field {
            name: (n, v),
            value: (v, self.buf.len()),
        };
        self.add(name, f);
    }

    /// The fields, in order: (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields
            .iter()
            .map(|f| (self.name_of(f), self.value_of(f)))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields named `name` (lower case): lengths compared first, then bytes; from the
    /// first of them on, when the index knows where that is ([`Headers::index_known`]).
    #[inline]
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        let (buf, want) = (self.buf.as_bytes(), name.as_bytes());
        let first = self.indexed(name).map_or(0, |i| i.min(self.fields.len()));
        self.fields
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .filter(move |f| {
                f.name.1 - f.name.0 == want.len() && buf.get(f.name.0..f.name.1) == Some(want)
            })
    }

    /// The first value of a field (name in lower case).
    #[inline(always)]
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.indexed(name) {
            Some(i) => self.fields.get(i).map(|f| self.value_of(f)),
            None => self.named(name).next().map(|f| self.value_of(f)),
        }
    }

    /// Where the first field named `name` stands, when the index knows (a place past the
    /// fields: there is none).
    #[inline(always)]
    fn indexed(&self, name: &str) -> Option<usize> {
        let known = self.known.as_ref()?;
        known
            .get(known_slot(name.as_bytes())?)
            .map(|&i| usize::from(i))
    }

    /// Every value of a field.
    #[inline]
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.named(name).map(|f| self.value_of(f))
    }

    /// Whether the field is present.
    #[inline(always)]
    pub fn has(&self, name: &str) -> bool {
        match self.indexed(name) {
            Some(i) => i < self.fields.len(),
            None => self.named(name).next().is_some(),
        }
    }
}

/// A message flattened into what a bounce is made of.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    /// The top-level header.
    pub headers: Headers,
    /// The fields of the top-level header the engines look for cues in ([`LOWERED`]), with
    /// their values lower-cased.
    pub lower: Headers,
    /// The top-level content type (`type/subtype`, lower case).
    pub content_type: String,
    /// The top-level `report-type` parameter, if any.
    pub report_type: Option<String>,
    /// Human-readable text parts, decoded, in order (HTML reduced to text).
    pub text: String,
    /// `message/delivery-status` (and global) blocks.
    pub status: Vec<String>,
    /// `message/feedback-report` blocks.
    pub feedback: Vec<String>,
    /// The returned message (`message/rfc822`, `text/rfc822-headers`) as it came, its
    /// transfer encoding undone and its body cut to the part ever looked at; read it as
    /// text with [`Flat::original`].
    pub original_part: Option<Vec<u8>>,
    /// [`Flat::original`], made once, when first asked for.
    original_text: std::cell::OnceCell<Option<String>>,
    /// The limits the message was read with.
    limits: Limits,
    /// The returned message's header, parsed (empty without `original`).
    pub original_headers: Headers,
    /// Whether a limit cut the parse short.
    pub truncated: bool,
    /// Length of [`Flat::report`], found once.
    report_len: std::cell::OnceCell<usize>,
    /// Buffers of an earlier message, kept for the parts of this one (see [`recycle`]): the
    /// line-ending-normalised message, the returned message's bytes, MIME part headers.
    spare: Spare,
}

/// Buffers a [`Flat`] keeps from message to message (empty in a new one).
#[derive(Debug, Clone, Default)]
struct Spare {
    normalised: Vec<u8>,
    original_part: Vec<u8>,
    part_headers: Vec<Headers>,
}

/// Part headers a recycled [`Flat`] keeps for the next message, at most.
const SPARE_PART_HEADERS: usize = 16;
/// Bytes of buffers a recycled [`Flat`] may hold for the next message: one grown by a large
/// message is let go.
const SPARE_BYTES: usize = 1 << 20;

thread_local! {
    /// The last message's [`Flat`], given back by [`recycle`] for [`flatten`] to fill
    /// again: its buffers already have room, nothing else of it is kept.
    static SPARE_FLAT: std::cell::Cell<Option<Flat>> = const { std::cell::Cell::new(None) };
}

/// Gives a [`Flat`] back once its reader is done with it: the next [`flatten`] on this
/// thread fills its buffers instead of allocating new ones (the allocator otherwise hands
/// the same sizes out afresh, message after message). Nothing of its content is read again.
pub fn recycle(flat: Flat) {
    let held = flat.headers.buf.capacity()
        + flat.lower.buf.capacity()
        + flat.text.capacity()
        + flat.original_headers.buf.capacity()
        + flat.spare.normalised.capacity()
        + flat.spare.original_part.capacity()
        + flat.original_part.as_ref().map_or(0, Vec::capacity)
        + flat
            .spare
            .part_headers
            .iter()
            .map(|h| h.buf.capacity())
            .sum::<usize>();
    if held <= SPARE_BYTES {
        // Its returned message's bytes join the spares when `flatten` resets it.
        SPARE_FLAT.set(Some(flat));
    }
}

impl Flat {
    /// Empties every field for a new message (`limits`), keeping the buffers.
    fn reset(&mut self, limits: &Limits) {
        self.headers.clear();
        self.lower.clear();
        self.content_type.clear();
        self.report_type = None;
        self.text.clear();
        self.status.clear();
        self.feedback.clear();
        if let Some(p) = self.original_part.take() {
            self.spare.original_part = p;
        }
        self.original_text = std::cell::OnceCell::new();
        self.limits = *limits;
        self.original_headers.clear();
        self.truncated = false;
        self.report_len = std::cell::OnceCell::new();
    }
}

impl Flat {
    /// The returned message as text (header, blank line, start of the body decoded), if the
    /// message holds one.
    pub fn original(&self) -> Option<&str> {
        self.original_text
            .get_or_init(|| {
                self.original_part
                    .as_deref()
                    .map(|p| original_text(p, &self.limits))
            })
            .as_deref()
    }

    /// The report part of the text: what precedes the returned message pasted into it
    /// ([`super::text::report_part`]), found once per message.
    pub fn report(&self) -> &str {
        let n = *self
            .report_len
            .get_or_init(|| super::text::report_part(&self.text).len());
        self.text.get(..n).unwrap_or(&self.text)
    }
}

/// `str::trim` and `str::contains(&str)`, quicker on the texts a bounce holds.
pub trait StrExt {
    /// [`trim`]: `str::trim`, quicker on the usual ASCII ends.
    fn trim_fast(&self) -> &str;
    /// Whether `needle` occurs: a text of up to 4 KiB is searched where the needle's first
    /// byte stands (no searcher to build), a longer one with `memmem`.
    fn has(&self, needle: &str) -> bool;
}

impl StrExt for str {
    fn trim_fast(&self) -> &str {
        trim(self)
    }

    fn has(&self, needle: &str) -> bool {
        find_fast(self, needle).is_some()
    }
}

/// `hay.find(needle)` (the first place, as `str::find`), quicker on the texts a bounce
/// holds: up to 4 KiB with [`find_short`], longer with `memmem` (building its searcher
/// costs as much as comparing a few kilobytes).
pub fn find_fast(hay: &str, needle: &str) -> Option<usize> {
    if hay.len() > 4096 {
        memchr::memmem::find(hay.as_bytes(), needle.as_bytes())
    } else {
        find_short(hay, needle)
    }
}

/// Where `needle` first occurs in `hay` (as `str::find`), for a short `hay`: each place its
/// first byte stands is compared, with no searcher to build (`str::find` and `memmem` spend
/// more setting up than searching a few hundred bytes).
pub fn find_short(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return Some(0);
    };
    if h.len() < n.len() {
        return None;
    }
    memchr::memchr_iter(first, &h[..h.len() - rest.len()]).find(|&i| h[i + 1..].starts_with(rest))
}

/// `str::lines` with the `memchr` crate's search for the line ends (the same lines: split
/// at `\n`, a `\r` before it dropped, no empty last line).
pub trait LinesExt {
    /// The lines, as `str::lines` gives them.
    fn lines_fast(&self) -> LinesFast<'_>;
}

impl LinesExt for str {
    fn lines_fast(&self) -> LinesFast<'_> {
        LinesFast(self)
    }
}

/// The iterator of [`LinesExt::lines_fast`].
#[derive(Debug, Clone)]
pub struct LinesFast<'a>(&'a str);

impl<'a> Iterator for LinesFast<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0;
        if rest.is_empty() {
            return None;
        }
        match find_byte!(b'\n', rest.as_bytes()) {
            Some(i) => {
                self.0 = &rest[i + 1..];
                let line = &rest[..i];
                Some(line.strip_suffix('\r').unwrap_or(line))
            }
            None => {
                self.0 = "";
                Some(rest)
            }
        }
    }
}

/// Normalises line endings to LF: CRLF → LF, then any lone CR → LF. Input without a CR is
/// borrowed as it is.
pub fn normalise(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut out = Vec::new();
    if normalise_into(raw, &mut out) {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// [`normalise`] into `out` (emptied first): false, and `out` left empty, when `raw` holds
/// no `\r` and is its own normal form.
fn normalise_into(raw: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let Some(first) = find_byte!(b'\r', raw) else {
        return false;
    };
    out.reserve(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        match find_byte!(b'\r', &raw[i..]) {
            Some(p) => {
                out.extend_from_slice(&raw[i..i + p]);
                out.push(b'\n');
                i += p + 1;
                if raw.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            None => {
                out.extend_from_slice(&raw[i..]);
                break;
            }
        }
    }
    true
}

/// Splits an entity into its header block and body (after the first empty line).
pub fn split_entity(buf: &[u8]) -> (&[u8], &[u8]) {
    if buf.first() == Some(&b'\n') {
        return (&[], &buf[1..]);
    }
    // The searcher for the blank line is built once, not per entity.
    match finder!(b"\n\n").find(buf) {
        Some(i) => (&buf[..i + 1], &buf[i + 2..]),
        None => (buf, &[]),
    }
}

/// Parses a header block (LF line endings). Lines that are neither a field nor a
/// continuation end the block's useful part but are skipped, not fatal.
pub fn parse_headers(block: &[u8], limits: &Limits) -> Headers {
    parse_headers_keeping(block, limits, None)
}

/// [`parse_headers`] keeping only the fields named in `keep` (lower case), when given.
///
/// The block is copied into the buffer once, as a whole: a field on one line is its name
/// (lower-cased in place) and its trimmed value where they stand; only a value folded over
/// several lines is copied again, unfolded, to the end of the buffer.
pub fn parse_headers_keeping(block: &[u8], limits: &Limits, keep: Option<&[&str]>) -> Headers {
    let mut out = Headers::default();
    parse_headers_into(block, limits, keep, &mut out);
    out
}

/// [`parse_headers_keeping`] into `out`, whose fields are replaced and whose buffers are
/// reused (a message's headers parsed into the last message's buffers: see [`flatten`]).
fn parse_headers_into(block: &[u8], limits: &Limits, keep: Option<&[&str]>, out: &mut Headers) {
    // Valid UTF-8 (nearly always: headers are ASCII) is read in place; anything else once,
    // lossily, as a whole.
    let text = match utf8(block) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(block),
    };
    let src: &str = &text;
    let bytes = src.as_bytes();
    let max = limits.max_header_value;
    // Room for the unfolded values as well, so that the buffer seldom grows.
    out.buf.clear();
    out.buf.reserve(src.len() + src.len() / 2);
    out.buf.push_str(src);
    // About one field per 40 bytes of header, a few when only a few are kept: the list seldom
    // grows.
    let fields = if keep.is_some() {
        2
    } else {
        4 + src.len() / 40
    };
    out.fields.clear();
    out.known = None;
    out.fields.reserve(fields.min(limits.max_headers));
    let mut skipping = false;
    // Whether the last field's value has been moved to the end of `buf` (it is unfolded
    // there: it stays the end of the buffer until another field is added).
    let mut moved = false;
    let mut start = 0;
    while let Some(&first) = bytes.get(start) {
        if first == b'\n' {
            start += 1;
            continue;
        }
        if first == b' ' || first == b'\t' {
            let end = line_end(bytes, start);
            let line = &src[start..end];
            start = end + 1;
            if skipping {
                continue;
            }
            let Some(last) = out.fields.last_mut() else {
                continue;
            };
            if last.value.1 - last.value.0 >= max {
                continue;
            }
            if !moved {
                // Up to the parse's first append, `buf` is `src` (names aside).
                let from = out.buf.len();
                out.buf
                    .push_str(src.get(last.value.0..last.value.1).unwrap_or(""));
                last.value = (from, out.buf.len());
                moved = true;
            }
            let from = last.value.0;
            out.buf.push(' ');
            out.buf.push_str(trim(line));
            let cut = floor_char(&out.buf[from..], max);
            out.buf.truncate(from + cut);
            last.value.1 = out.buf.len();
            continue;
        }
        if out.fields.len() >= limits.max_headers {
            start = line_end(bytes, start) + 1;
            continue;
        }
        // The name runs to the first `:`; a line without one, or with a blank or control
        // character before it, is no field. (One pass: `:` is itself graphic.)
        let colon = name_end(bytes, start);
        if colon == start || bytes.get(colon) != Some(&b':') {
            start = line_end(bytes, start) + 1;
            continue;
        }
        let name = &src[start..colon];
        skipping = keep.is_some_and(|k| !k.iter().any(|n| name.eq_ignore_ascii_case(n)));
        let end = line_end(bytes, colon + 1);
        if !skipping {
            out.buf[start..colon].make_ascii_lowercase();
            let raw = &src[colon + 1..end];
            let value = head(trim_value(raw), max);
            // Where the trimmed value starts within the line's value.
            let v = colon + 1 + (value.as_ptr() as usize - raw.as_ptr() as usize);
            out.fields.push(Field {
                name: (start, colon),
                value: (v, v + value.len()),
            });
            moved = false;
        }
        start = end + 1;
    }
    // Encoded words: the decoded value is added after the rest (nothing to do, the usual
    // case, when no `=?` stands anywhere in the block: unfolding never makes one).
    let any_encoded = has_encoded_word(src);
    for i in 0..out.fields.len() * usize::from(any_encoded) {
        let f = out.fields[i];
        let value = out.value_of(&f);
        if has_encoded_word(value) {
            let decoded = decode_words(value);
            let from = out.buf.len();
            out.buf.push_str(&decoded);
            out.fields[i].value = (from, out.buf.len());
        }
    }
}

/// The bytes a field name is made of: graphic ASCII but the `:` that ends it.
const NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x21;
    while c < 0x7f {
        t[c] = c != b':' as usize;
        c += 1;
    }
    t
};

/// [`trim`] for what follows a field's `:`, quicker on the usual `: value` (one space, then
/// a value with no blank at either end).
fn trim_value(raw: &str) -> &str {
    match raw.as_bytes() {
        [b' ', a, .., z] if a.is_ascii_graphic() && z.is_ascii_graphic() => &raw[1..],
        _ => trim(raw),
    }
}

/// Where the name that starts at `from` ends: the first byte from there that is no
/// [`NAME_BYTE`], or the end of `bytes`. Eight bytes are looked at a time: a byte below
/// `!`, above `~` or equal to `:` is flagged in one word (a flag can be wrong only above a
/// right one, so the lowest is right).
fn name_end(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let rest = bytes.get(from..).unwrap_or(&[]);
    let mut words = rest.chunks_exact(8);
    let mut at = from;
    for w in &mut words {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let below = x.wrapping_sub(ONES * 0x21) & !x;
        let above = x.wrapping_add(ONES) | x;
        let c = x ^ (ONES * u64::from(b':'));
        let colon = c.wrapping_sub(ONES) & !c;
        let flags = (below | above | colon) & HIGH;
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = words.remainder();
    at + tail
        .iter()
        .position(|&c| !NAME_BYTE[usize::from(c)])
        .unwrap_or(tail.len())
}

/// Where the line holding `from` ends: its `\n`, or the end of `bytes`.
fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| find_byte!(b'\n', rest))
        .map_or(bytes.len(), |e| from + e)
}

/// Whether `s` holds `=?`, the start of an RFC 2047 encoded word (found by its `?`, the
/// rarer of the two in a header).
fn has_encoded_word(s: &str) -> bool {
    let b = s.as_bytes();
    memchr::memchr_iter(b'?', b).any(|p| p > 0 && b[p - 1] == b'=')
}

/// `str::trim`, quicker on the usual ASCII ends.
pub fn trim(s: &str) -> &str {
    let t = s.trim_ascii();
    match (t.as_bytes().first(), t.as_bytes().last()) {
        // Non-ASCII white space, or the vertical tab `trim_ascii` keeps.
        (Some(&a), Some(&z)) if !a.is_ascii() || !z.is_ascii() || a == 0x0b || z == 0x0b => {
            t.trim()
        }
        _ => t,
    }
}

/// The largest char boundary of `s` not past `max`.
fn floor_char(s: &str, max: usize) -> usize {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// The first `max` bytes of `s`, or fewer so as not to cut a character.
pub fn head(s: &str, max: usize) -> &str {
    &s[..floor_char(s, max)]
}

/// Finds a needle in a haystack.
pub fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// A content type: `type/subtype` in lower case and its parameters (names lower case).
///
/// The usual types are not copied (`mime` borrows a constant), and the parameters are read
/// from the field's value, borrowed, when asked for: no allocation for them.
#[derive(Debug, Clone, Default)]
pub struct ContentType<'a> {
    /// `type/subtype`, lower case.
    pub mime: std::borrow::Cow<'static, str>,
    /// What follows the `;` that ends the type (outside quotes): the parameters.
    rest: &'a str,
}

/// The types [`ContentType::mime`] borrows rather than copies.
const KNOWN_TYPES: &[&str] = &[
    "text/plain",
    "text/html",
    "multipart/report",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "message/delivery-status",
    "message/rfc822",
    "text/rfc822-headers",
    "message/feedback-report",
    "message/global-delivery-status",
    "message/disposition-notification",
    "application/octet-stream",
];

impl PartialEq for ContentType<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.mime == other.mime && self.params().eq(other.params())
    }
}

impl Eq for ContentType<'_> {}

impl<'a> ContentType<'a> {
    /// Parses a Content-Type value; an empty value gives `text/plain`.
    pub fn parse(v: &'a str) -> ContentType<'a> {
        // The type runs to the first `;` outside quotes; the parameters are split from a
        // fresh (unquoted) state after it, as they would be in one pass.
        let (first, rest) = match split_params(v).next() {
            Some(f) if f.len() < v.len() => (f, &v[f.len() + 1..]),
            _ => (v, ""),
        };
        let m = trim(first);
        let mime = if m.is_empty() {
            std::borrow::Cow::Borrowed("text/plain")
        } else {
            match KNOWN_TYPES.iter().find(|k| k.eq_ignore_ascii_case(m)) {
                Some(k) => std::borrow::Cow::Borrowed(*k),
                None => std::borrow::Cow::Owned(m.to_ascii_lowercase()),
            }
        };
        ContentType { mime, rest }
    }

    /// The parameters, in order: (name as it came, value unquoted), each split from the
    /// rest of the value as it is asked for.
    fn raw_params(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        split_params(self.rest).filter_map(|p| {
            let eq = find_byte!(b'=', p.as_bytes())?;
            let (k, v) = (trim(&p[..eq]), trim(&p[eq + 1..]));
            let v = v
                .strip_prefix('"')
                .map(|x| x.strip_suffix('"').unwrap_or(x))
                .unwrap_or(v);
            Some((k, v))
        })
    }

    /// The parameters, in order: (name in lower case, value unquoted).
    pub fn params(&self) -> impl Iterator<Item = (String, &'a str)> {
        self.raw_params().map(|(k, v)| (k.to_ascii_lowercase(), v))
    }

    /// A parameter's value: the first whose name, lower-cased, is `name`.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        let want = name.as_bytes();
        self.raw_params()
            .find(|(k, _)| {
                k.len() == want.len()
                    && k.bytes()
                        .zip(want)
                        .all(|(a, &b)| a.to_ascii_lowercase() == b)
            })
            .map(|(_, v)| v)
    }
}

/// Splits on `;` outside double quotes (on bytes: both are ASCII).
fn split_params(v: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut quoted = false;
    let mut done = false;
    let mut i = 0;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let b = v.as_bytes();
        while i < b.len() {
            let c = b[i];
            i += 1;
            match c {
                b'"' => quoted = !quoted,
                b';' if !quoted => {
                    let part = &v[start..i - 1];
                    start = i;
                    return Some(part);
                }
                _ => {}
            }
        }
        done = true;
        Some(&v[start..])
    })
}

/// Undoes a Content-Transfer-Encoding.
pub fn decode_transfer<'a>(body: &'a [u8], encoding: &str) -> std::borrow::Cow<'a, [u8]> {
    let e = encoding.trim();
    if e.eq_ignore_ascii_case("base64") {
        std::borrow::Cow::Owned(decode_base64(body))
    } else if e.eq_ignore_ascii_case("quoted-printable") {
        std::borrow::Cow::Owned(decode_qp(body))
    } else {
        std::borrow::Cow::Borrowed(body)
    }
}

fn decode_base64(body: &[u8]) -> Vec<u8> {
    // Room for the whole body at once (it grew a doubling at a time).
    let mut clean: Vec<u8> = Vec::with_capacity(body.len());
    clean.extend(
        body.iter()
            .copied()
            .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/'),
    );
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    // A trailing lone sextet cannot be decoded: drop it rather than fail.
    let usable = clean.len() - clean.len() % 4
        + if clean.len() % 4 >= 2 {
            clean.len() % 4
        } else {
            0
        };
    engine.decode(&clean[..usable]).unwrap_or_default()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn decode_qp(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        // Copy up to the next '=' in one go.
        let Some(p) = find_byte!(b'=', &body[i..]) else {
            out.extend_from_slice(&body[i..]);
            break;
        };
        out.extend_from_slice(&body[i..i + p]);
        i += p;
        if body.get(i + 1) == Some(&b'\n') {
            i += 2;
            continue;
        }
        if let (Some(h), Some(l)) = (
            body.get(i + 1).copied().and_then(hex_val),
            body.get(i + 2).copied().and_then(hex_val),
        ) {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        // Soft line break with trailing blanks before the newline.
        let mut j = i + 1;
        while j < body.len() && (body[j] == b' ' || body[j] == b'\t') {
            j += 1;
        }
        if body.get(j) == Some(&b'\n') {
            i = j + 1;
            continue;
        }
        out.push(b'=');
        i += 1;
    }
    out
}

/// Converts bytes in a charset to a string (unknown charsets and invalid bytes are lossy).
pub fn to_utf8(bytes: &[u8], charset: Option<&str>) -> String {
    to_utf8_cow(bytes, charset).into_owned()
}

/// [`to_utf8`], borrowing text that is already UTF-8.
pub fn to_utf8_cow<'a>(bytes: &'a [u8], charset: Option<&str>) -> std::borrow::Cow<'a, str> {
    // ISO-2022-JP is 7-bit: it passes as UTF-8 unless its escapes are looked for.
    let escapes = memchr::memchr(0x1b, bytes).is_some();
    if escapes && (memfind(bytes, b"\x1b$B").is_some() || memfind(bytes, b"\x1b$@").is_some()) {
        let (s, _, _) = encoding_rs::ISO_2022_JP.decode(bytes);
        return std::borrow::Cow::Owned(s.into_owned());
    }
    if let Ok(s) = utf8(bytes) {
        return std::borrow::Cow::Borrowed(s);
    }
    let label = charset.unwrap_or("").trim();
    let enc =
        encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252);
    let (s, _, _) = enc.decode(bytes);
    std::borrow::Cow::Owned(s.into_owned())
}

/// `std::str::from_utf8`, validated with SIMD (`simdutf8`: several times quicker on the
/// kilobytes of a header block or a text part, the same answer).
pub fn utf8(bytes: &[u8]) -> Result<&str, simdutf8::basic::Utf8Error> {
    simdutf8::basic::from_utf8(bytes)
}

/// Decodes RFC 2047 encoded words in a header value.
pub fn decode_words(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        let decoded = parse_word(after);
        match decoded {
            Some((text, used)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &after[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &after[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses one `=?charset?B|Q?text?=` word at the start of `s`: (decoded, bytes used).
fn parse_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    let rest = &body[q1 + 1..];
    let mut it = rest.char_indices();
    let (_, enc) = it.next()?;
    if rest.get(1..2) != Some("?") {
        return None;
    }
    let text_start = 2;
    let end = rest[text_start..].find("?=")? + text_start;
    let text = &rest[text_start..end];
    if text.contains(' ') {
        return None;
    }
    let bytes = match enc.to_ascii_uppercase() {
        'B' => decode_base64(text.as_bytes()),
        'Q' => {
            let t = text.replace('_', " ");
            decode_qp(t.as_bytes())
        }
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset);
    let used = 2 + q1 + 1 + end + 2;
    Some((to_utf8(&bytes, Some(charset)), used))
}

/// Reduces HTML to text: tags dropped (block tags become line breaks), entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = find_byte!(b'<', rest.as_bytes()) {
        push_decoded(&mut out, &rest[..lt]);
        let after = &rest[lt..];
        // `after` starts with the one-byte '<'; without a '>' the tag runs to the end.
        let gt = find_byte!(b'>', after.as_bytes()).unwrap_or(after.len());
        let tag = after
            .get(1..gt.max(1))
            .unwrap_or("")
            .trim_start_matches('/');
        let name = &tag[..tag.bytes().take_while(u8::is_ascii_alphanumeric).count()];
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if (is("style") || is("script")) && !after[1..].starts_with('/') {
            // Skip to the closing tag (any case), or drop the rest when there is none.
            let close = memchr::memchr_iter(b'<', after.as_bytes()).find(|&p| {
                after.as_bytes().get(p + 1) == Some(&b'/')
                    && after
                        .as_bytes()
                        .get(p + 2..p + 2 + name.len())
                        .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            });
            match close {
                Some(c) => {
                    rest = &after[c..];
                    continue;
                }
                None => {
                    rest = "";
                    break;
                }
            }
        }
        const BLOCK: &[&str] = &[
            "br", "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "pre",
        ];
        if BLOCK.iter().any(|b| is(b)) {
            out.push('\n');
        } else if is("td") || is("th") {
            out.push(' ');
        }
        rest = &after[(gt + 1).min(after.len())..];
    }
    push_decoded(&mut out, rest);
    out
}

fn push_decoded(out: &mut String, s: &str) {
    if s.contains('&') {
        out.push_str(&decode_entities(s));
    } else {
        out.push_str(s);
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Flattens a raw message. Never panics; bounded by `limits`.
///
/// The buffers of the last [`Flat`] given to [`recycle`] on this thread are filled again
/// when there is one.
pub fn flatten(raw: &[u8], limits: &Limits) -> Flat {
    let mut flat = SPARE_FLAT.take().unwrap_or_default();
    flat.reset(limits);
    let cut = raw.len().min(limits.max_input);
    flat.truncated = cut < raw.len();
    let mut normalised = std::mem::take(&mut flat.spare.normalised);
    let buf: &[u8] = if normalise_into(&raw[..cut], &mut normalised) {
        &normalised
    } else {
        &raw[..cut]
    };
    let (head, body) = split_entity(buf);
    parse_headers_into(head, limits, None, &mut flat.headers);
    // The engines look fields up by name in these two, again and again.
    flat.headers.index_known();
    flat.lower.index_known();
    flat.text.reserve(body.len().min(1 << 20));
    // The lowered fields are a part of the header: room for them taken at once.
    flat.lower.buf.reserve(head.len());
    flat.lower.fields.reserve(LOWERED.len());
    for (name, value) in flat.headers.iter() {
        if LOWERED.contains(&name) {
            flat.lower.push_lowercase(name, value);
        }
    }
    // The header is taken out while the body is walked: the content type and transfer
    // encoding borrow it, the walk fills the rest of `flat`.
    let headers = std::mem::take(&mut flat.headers);
    let ct = ContentType::parse(headers.get("content-type").unwrap_or(""));
    flat.content_type.push_str(&ct.mime);
    flat.report_type = ct.param("report-type").map(|s| s.to_ascii_lowercase());
    let cte = headers.get("content-transfer-encoding").unwrap_or("");
    let mut parts = 0usize;
    walk(&ct, cte, body, 0, limits, &mut parts, &mut flat);
    flat.headers = headers;
    flat.spare.normalised = normalised;
    flat
}

/// A part's content type, from its header (`parent`: the multipart type it stands in).
fn part_type<'h>(headers: &'h Headers, parent: &str) -> ContentType<'h> {
    match headers.get("content-type") {
        Some(v) => ContentType::parse(v),
        None if parent == "multipart/digest" => ContentType::parse("message/rfc822"),
        None => ContentType::parse("text/plain"),
    }
}

fn walk(
    ct: &ContentType,
    cte: &str,
    body: &[u8],
    depth: usize,
    limits: &Limits,
    parts: &mut usize,
    flat: &mut Flat,
) {
    *parts += 1;
    if *parts > limits.max_parts || depth > limits.max_depth {
        flat.truncated = true;
        return;
    }
    let mime: &str = &ct.mime;
    if mime.starts_with("multipart/") {
        let Some(boundary) = ct.param("boundary").filter(|b| !b.is_empty()) else {
            push_text(flat, &to_utf8_cow(body, None));
            return;
        };
        let mut found = split_multipart(body, boundary, limits.max_parts);
        if found.is_empty() {
            // The declared boundary is not in the body: some MTAs rewrite one of the two.
            // Use the first delimiter-looking line that recurs, else read it all as text.
            if let Some(other) = guess_boundary(body) {
                found = split_multipart(body, &other, limits.max_parts);
            }
        }
        if found.is_empty() {
            push_text(flat, &to_utf8_cow(body, None));
            return;
        }
        let mut children = Vec::new();
        for part in found {
            if *parts + children.len() > limits.max_parts {
                flat.truncated = true;
                break;
            }
            let (h, b) = split_entity(part);
            let mut headers = flat.spare.part_headers.pop().unwrap_or_default();
            parse_headers_into(
                h,
                limits,
                Some(&["content-type", "content-transfer-encoding"]),
                &mut headers,
            );
            // The header is kept for its content type and transfer encoding, which
            // borrow it.
            children.push((headers, b));
        }
        // Alternatives say the same thing twice: read the plain text when there is one.
        let has_plain = mime == "multipart/alternative"
            && children
                .iter()
                .any(|(h, _)| part_type(h, mime).mime == "text/plain");
        for (headers, b) in &children {
            let pct = part_type(headers, mime);
            if has_plain && pct.mime == "text/html" {
                continue;
            }
            let pcte = headers.get("content-transfer-encoding").unwrap_or("");
            walk(&pct, pcte, b, depth + 1, limits, parts, flat);
        }
        let room = SPARE_PART_HEADERS.saturating_sub(flat.spare.part_headers.len());
        flat.spare
            .part_headers
            .extend(children.into_iter().take(room).map(|(h, _)| h));
        return;
    }
    // Attachments (images, application/*) are never decoded: nothing in them is read.
    let wanted =
        mime.starts_with("text/") || mime.starts_with("message/") || mime == "text/rfc822-headers";
    if !wanted {
        return;
    }
    let decoded = decode_transfer(body, cte);
    let charset = ct.param("charset");
    match mime {
        "message/delivery-status" | "message/global-delivery-status" => {
            flat.status.push(to_utf8(&decoded, charset));
        }
        "message/feedback-report" => flat.feedback.push(to_utf8(&decoded, charset)),
        "message/rfc822"
        | "message/global"
        | "text/rfc822-headers"
        | "message/rfc822-headers"
        | "message/global-headers"
        | "message/partial"
            if flat.original_part.is_none() =>
        {
            let (h, b) = split_entity(&decoded);
            parse_headers_into(h, limits, None, &mut flat.original_headers);
            // Only the start of the returned body is ever looked at; it is decoded when
            // asked for (`Flat::original`).
            let kept = decoded.len() - b.len() + b.len().min(ORIGINAL_BODY_KEPT);
            let mut part = std::mem::take(&mut flat.spare.original_part);
            part.clear();
            part.extend_from_slice(&decoded[..kept]);
            flat.original_part = Some(part);
        }
        m if m.starts_with("text/html") => {
            push_text(flat, &html_to_text(&to_utf8_cow(&decoded, charset)));
        }
        m if m.starts_with("text/") => push_text(flat, &to_utf8_cow(&decoded, charset)),
        _ => {}
    }
}

/// A returned message as text: its header, a line break, the start of its body decoded.
fn original_text(part: &[u8], limits: &Limits) -> String {
    let (h, b) = split_entity(part);
    let inner = parse_headers(h, limits);
    let mut text = to_utf8(h, None);
    // A returned message that is itself a bounce may hold the status block.
    let ict = ContentType::parse(inner.get("content-type").unwrap_or(""));
    text.push('\n');
    let icte = inner.get("content-transfer-encoding").unwrap_or("");
    let ib = decode_transfer(b, icte);
    text.push_str(&to_utf8_cow(&ib, ict.param("charset")));
    text
}

fn push_text(flat: &mut Flat, s: &str) {
    if !flat.text.is_empty() && !flat.text.ends_with('\n') {
        flat.text.push('\n');
    }
    flat.text.push_str(s);
}

/// A boundary the body actually uses: the first `--token` line whose token recurs as a
/// delimiter later on (looked for among the first few such lines only).
fn guess_boundary(body: &[u8]) -> Option<String> {
    let mut tried = 0;
    let mut pos = 0;
    while pos < body.len() && tried < 20 {
        let end = find_byte!(b'\n', &body[pos..]).map_or(body.len(), |e| pos + e);
        let line = &body[pos..end];
        if line.len() > 3 && line.len() < 200 && line.starts_with(b"--") {
            let token = line[2..].strip_suffix(b"--").unwrap_or(&line[2..]);
            if !token.is_empty() && !token.iter().any(|c| c.is_ascii_whitespace()) {
                tried += 1;
                let mut needle = b"\n--".to_vec();
                needle.extend_from_slice(token);
                if memfind(body.get(end..).unwrap_or(&[]), &needle).is_some() {
                    return std::str::from_utf8(token).ok().map(str::to_string);
                }
            }
        }
        pos = end + 1;
    }
    None
}

/// Splits a multipart body into its parts (between `--boundary` lines, up to the closing one).
fn split_multipart<'a>(body: &'a [u8], boundary: &str, max: usize) -> Vec<&'a [u8]> {
    let boundary = boundary.as_bytes();
    // The delimiter, `--boundary`, is `dl` bytes long.
    let dl = 2 + boundary.len();
    let is_delim = |pos: usize| {
        body.get(pos..pos + 2) == Some(b"--") && body.get(pos + 2..pos + dl) == Some(boundary)
    };
    let mut out = Vec::new();
    let mut starts: Vec<(usize, usize, bool)> = Vec::new(); // (line start, line end, closing)
                                                            // Delimiters stand at the start of a line: the line starts (found with one prebuilt
                                                            // searcher for `\n--`) are checked for the delimiter, rather than building a searcher
                                                            // for each boundary.
    let first = is_delim(0).then_some(0);
    let later = finder!(b"\n--").find_iter(body).map(|p| p + 1);
    for pos in first.into_iter().chain(later) {
        if !is_delim(pos) {
            continue;
        }
        // The line ends at the first `\n` after the delimiter (a boundary holding one, from
        // a decoded header, ends it there too): looked for in the next few bytes first,
        // where it nearly always is.
        let from = pos + dl;
        let after = &body[from..];
        let end = match after.iter().take(8).position(|&c| c == b'\n') {
            Some(e) => from + e,
            None => find_byte!(b'\n', after).map_or(body.len(), |e| from + e),
        };
        let tail = &body[from..end];
        let closing = tail.starts_with(b"--");
        if closing || tail.iter().all(|c| c.is_ascii_whitespace()) {
            starts.push((pos, end, closing));
            if closing || starts.len() > max {
                break;
            }
        }
    }
    for w in starts.windows(2) {
        let (_, end, closing) = w[0];
        if closing {
            break;
        }
        let from = (end + 1).min(body.len());
        let to = w[1].0.saturating_sub(1).max(from);
        out.push(&body[from..to]);
    }
    if let Some(&(_, end, false)) = starts.last() {
        // No closing delimiter: the last part runs to the end.
        out.push(&body[(end + 1).min(body.len())..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters() {
        let ct = ContentType::parse(
            " Multipart/Report ; Report-Type=delivery-status;boundary=\"a;b=c\" ; x",
        );
        assert_eq!(ct.mime, "multipart/report");
        assert_eq!(ct.param("report-type"), Some("delivery-status"));
        assert_eq!(ct.param("boundary"), Some("a;b=c"));
        assert_eq!(ct.params().count(), 2);
        assert_eq!(ContentType::parse("").mime, "text/plain");
        assert_eq!(ContentType::parse(";charset=x").param("charset"), Some("x"));
        assert_eq!(ContentType::parse("text/plain;").params().count(), 0);
    }

    /// The content type parser as it was first written: what [`ContentType`] must agree with.
    fn reference_content_type(v: &str) -> (String, Vec<(String, String)>) {
        let mut parts = split_params(v);
        let mime = parts
            .next()
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "text/plain".into());
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .map(|x| x.strip_suffix('"').unwrap_or(x))
                    .unwrap_or(v);
                Some((k.trim().to_ascii_lowercase(), v.to_string()))
            })
            .collect();
        (mime, params)
    }

    #[test]
    fn content_type_as_the_reference_parser() {
        let cases = [
            "",
            ";",
            " ; ",
            "text/plain",
            "TEXT/PLAIN",
            " Text/Plain ; charset=\"us-ascii\"",
            "text/plain; charset=\"us-ascii\"; format=flowed",
            "multipart/report; report-type=delivery-status;\tboundary=\"a;b=c\"",
            "text/plain; CHARSET=UTF-8; Charset=latin1",
            "text/plain; charset",
            "text/plain; =x; a==b; b= \"\" ; c=\"unterminated",
            "text/\"pla;in\"; x=1",
            "text/plain;;;x=1;",
            "Application/X-Weird\u{e9}; n\u{e9}=v\u{e9}",
            "\u{3000}text/html\u{3000}; charset=\u{a0}x\u{a0}",
            "message/RFC822",
            "text/plain; charset=\"a\"b\"",
            "text/plain; x=\"\"",
            "text/plain; x=\"",
            "\x0btext/plain\x0b; k\x0b=\x0bv\x0b",
        ];
        for v in cases {
            let ct = ContentType::parse(v);
            let (mime, params) = reference_content_type(v);
            assert_eq!(ct.mime, mime, "{v:?}");
            let got: Vec<(String, String)> = ct.params().map(|(k, v)| (k, v.to_string())).collect();
            assert_eq!(got, params, "{v:?}");
            for name in [
                "charset",
                "boundary",
                "report-type",
                "x",
                "",
                "CHARSET",
                "a",
                "n\u{e9}",
            ] {
                let want = params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str());
                assert_eq!(ct.param(name), want, "{v:?} {name:?}");
            }
            assert_eq!(ct, ct.clone());
        }
    }

    /// The multipart splitter as it was first written (its delimiter looked for with a
    /// `format!`ted needle): what [`split_multipart`] must agree with.
    fn reference_split(body: &[u8], boundary: &str, max: usize) -> Vec<Vec<u8>> {
        let delim = format!("--{boundary}");
        let delim = delim.as_bytes();
        let mut starts: Vec<(usize, usize, bool)> = Vec::new();
        for pos in 0..body.len() {
            if (pos > 0 && body[pos - 1] != b'\n') || !body[pos..].starts_with(delim) {
                continue;
            }
            let end = memchr::memchr(b'\n', &body[pos..]).map_or(body.len(), |e| pos + e);
            let tail = &body[pos + delim.len()..end];
            let closing = tail.starts_with(b"--");
            if closing || tail.iter().all(|c| c.is_ascii_whitespace()) {
                starts.push((pos, end, closing));
                if closing || starts.len() > max {
                    break;
                }
            }
        }
        let mut out = Vec::new();
        for w in starts.windows(2) {
            let (_, end, closing) = w[0];
            if closing {
                break;
            }
            let from = (end + 1).min(body.len());
            let to = w[1].0.saturating_sub(1).max(from);
            out.push(body[from..to].to_vec());
        }
        if let Some(&(_, end, false)) = starts.last() {
            out.push(body[(end + 1).min(body.len())..].to_vec());
        }
        out
    }

    #[test]
    fn split_multipart_as_the_reference() {
        let bodies: &[&[u8]] = &[
            b"",
            b"--b",
            b"--b\n",
            b"--b--",
            b"--b\na\n--b\nc\n--b--\nepilogue",
            b"pre\n--b \t\na\n--bx\nno\n--b\n\n--b",
            b"--b\n--b\n--b\n--b\n--b\n",
            b"--b\na\n--b-- trailing\n--b\nafter",
            b"--b\r\na\r\n--b--\r\n",
            b"\n--\n--b\n-\n--",
            b"--bb\n--b\nx\n--b--",
        ];
        for &body in bodies {
            for boundary in ["b", "bb", ""] {
                for max in [0, 1, 2, 512] {
                    let got: Vec<Vec<u8>> = split_multipart(body, boundary, max)
                        .into_iter()
                        .map(<[u8]>::to_vec)
                        .collect();
                    assert_eq!(
                        got,
                        reference_split(body, boundary, max),
                        "{:?} {boundary:?} {max}",
                        String::from_utf8_lossy(body)
                    );
                }
            }
        }
        // A boundary holding a line break (from a decoded header) must not panic.
        let _ = split_multipart(b"--a\nb\nx\n--a\nb--\n", "a\nb", 512);
        let raw = b"Content-Type: multipart/mixed; boundary=\"=?utf-8?q?a=0Ab?=\"\n\n--a\nb\nx\n--a\nb--\n";
        let _ = flatten(raw, &Limits::default());
    }

    #[test]
    fn has_is_str_contains() {
        let long = "x".repeat(5000) + "needle";
        for (h, n) in [
            ("abc", ""),
            ("abc", "c"),
            ("abc", "abcd"),
            ("aab", "ab"),
            ("", "a"),
            ("ééx", "éx"),
            (long.as_str(), "needle"),
            (long.as_str(), "needles"),
        ] {
            assert_eq!(h.has(n), h.contains(n), "{h:?} {n:?}");
            assert_eq!(find_short(h, n), h.find(n), "{h:?} {n:?}");
            assert_eq!(find_fast(h, n), h.find(n), "{h:?} {n:?}");
        }
    }

    #[test]
    fn lines_fast_is_str_lines() {
        for t in [
            "",
            "\n",
            "a",
            "a\n",
            "a\r\nb",
            "a\r",
            "a\n\n",
            "\r\n\r\n",
            "é\nü\r\n\rx",
        ] {
            assert_eq!(
                t.lines_fast().collect::<Vec<_>>(),
                t.lines().collect::<Vec<_>>(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " a ",
            "\u{3000}a\u{a0}",
            "\x0ba\x0b",
            " \x0b a",
            "\té",
            "é\t",
            "\u{85}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn trim_value_is_str_trim() {
        for s in [
            "",
            " ",
            "  ",
            " a",
            " ab",
            " a ",
            "  ab",
            " \u{3000}a",
            " a\u{a0}",
            " é",
            " aé",
            "ab",
            " \x0ba",
            " a\x0b",
            "\ta",
        ] {
            assert_eq!(trim_value(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn utf8_agrees_with_std() {
        let long_ascii = "Received: from a.example.org by b.example.net\n".repeat(40);
        let mut long_bad = long_ascii.clone().into_bytes();
        long_bad.insert(1000, 0xff);
        let cases: Vec<&[u8]> = vec![
            b"",
            b"plain ascii",
            "caf\u{e9} \u{30e6}\u{30fc}\u{30b6} \u{1f600}".as_bytes(),
            long_ascii.as_bytes(),
            &long_bad,
            b"\xc3",             // cut short
            b"\xc0\xaf",         // overlong
            b"\xed\xa0\x80",     // a surrogate
            b"\xf4\x90\x80\x80", // above U+10FFFF
            b"ok then \x80 stray",
        ];
        for c in cases {
            assert_eq!(utf8(c).ok(), std::str::from_utf8(c).ok(), "{c:?}");
        }
    }

    #[test]
    fn find_byte_agrees_with_memchr() {
        // Every length around the 16- and 32-byte vector widths, the needle at every place
        // and nowhere.
        for len in 0..100 {
            for at in (0..len).chain([len]) {
                let mut hay = vec![b'x'; len];
                if let Some(b) = hay.get_mut(at) {
                    *b = b'\n';
                }
                assert_eq!(
                    find_byte!(b'\n', &hay),
                    memchr::memchr(b'\n', &hay),
                    "{len} {at}"
                );
                assert_eq!(find_byte!(b'=', &hay), None);
            }
        }
    }

    #[test]
    fn line_endings_are_normalised() {
        assert_eq!(&*normalise(b"a\r\nb\rc\n"), b"a\nb\nc\n");
        assert_eq!(&*normalise(b"a\nb"), b"a\nb");
        assert_eq!(&*normalise(b"\r\r\n\r"), b"\n\n\n");
    }

    #[test]
    fn headers_unfold_and_decode() {
        let h = parse_headers(
            b"Subject: =?UTF-8?B?w6k=?= and\n =?ISO-8859-1?Q?caf=E9?=\nX-Bad line\nFrom: a@b\n",
            &Limits::default(),
        );
        assert_eq!(h.get("subject"), Some("é and café"));
        assert_eq!(h.get("from"), Some("a@b"));
        assert!(!h.has("x-bad line"));
    }

    /// The header parser as it was first written, line by line and value by value: what
    /// [`parse_headers_keeping`] must agree with.
    fn reference_headers(
        block: &[u8],
        limits: &Limits,
        keep: Option<&[&str]>,
    ) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(block);
        let mut out: Vec<(String, String)> = Vec::new();
        let mut skipping = false;
        for line in text.split('\n') {
            let Some(first) = line.chars().next() else {
                continue;
            };
            if first == ' ' || first == '\t' {
                if skipping {
                    continue;
                }
                if let Some((_, value)) = out.last_mut() {
                    if value.len() < limits.max_header_value {
                        value.push(' ');
                        value.push_str(line.trim());
                        let cut = floor_char(value, limits.max_header_value);
                        value.truncate(cut);
                    }
                }
                continue;
            }
            if out.len() >= limits.max_headers {
                continue;
            }
            let Some(colon) = line.find(':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if name.is_empty() || !name.bytes().all(|c| c.is_ascii_graphic()) {
                continue;
            }
            skipping = keep.is_some_and(|k| !k.iter().any(|n| name.eq_ignore_ascii_case(n)));
            if skipping {
                continue;
            }
            let value = value.trim();
            let value = &value[..floor_char(value, limits.max_header_value)];
            out.push((name.to_ascii_lowercase(), value.to_string()));
        }
        for (_, value) in &mut out {
            if value.contains("=?") {
                *value = decode_words(value);
            }
        }
        out
    }

    fn assert_headers_as_reference(block: &[u8]) {
        let tight = Limits {
            max_headers: 3,
            max_header_value: 7,
            ..Limits::default()
        };
        let none = Limits {
            max_headers: 0,
            max_header_value: 0,
            ..Limits::default()
        };
        for limits in [Limits::default(), tight, none] {
            for keep in [
                None,
                Some(&["content-type", "content-transfer-encoding"][..]),
                Some(&["subject"][..]),
                Some(&[][..]),
            ] {
                let got: Vec<(String, String)> = parse_headers_keeping(block, &limits, keep)
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                let want = reference_headers(block, &limits, keep);
                assert_eq!(
                    got,
                    want,
                    "{:?} {keep:?} {:?}",
                    String::from_utf8_lossy(block),
                    (limits.max_headers, limits.max_header_value)
                );
            }
        }
    }

    #[test]
    fn headers_as_the_reference_parser() {
        let cases: &[&[u8]] = &[
            b"",
            b"\n",
            b"\n\n\n",
            b"Subject: hi",
            b"Subject: hi\n",
            b"Subject:\n",
            b"Subject:",
            b":\n",
            b": value\n",
            b"SUBJECT:   Hello World   \nFrom: a@b\n",
            b"Received: from a\n\tby b\n  with c  \n\nX: y\n",
            b"Received: from a\n \n \t \nX: y\n",
            b"Received:\n continued\n",
            b" leading continuation\nA: b\n",
            b"A: 1\nno colon here\n continued after a non-field\n",
            b"A: 1\n\n continued after an empty line\n",
            b"A: 1\n: empty name\n continued\n",
            b"A b: not a field\n x\n",
            b"A\tb: not a field\n",
            b"A\x7fb: not a field\nC\x01: no\n",
            b"Content-Type: text/plain\nSubject: skipped\n folded\nContent-Transfer-Encoding: 7bit\n",
            b"Subject: kept\n folded once\n and twice\nOther: x\n folded other\nSubject: two\n",
            b"A: 1\nB: 2\nC: 3\nD: 4\n more\nE: 5\n",
            b"A: 1\nB: 2\nC: 3\n more for c\nD: 4\n more after the limit\n",
            b"Subject: =?UTF-8?B?w6k=?= and\n =?ISO-8859-1?Q?caf=E9?=\nX-Bad line\nFrom: a@b\n",
            b"Subject: =?\nA=?b: x\nB: =\n ?q\n",
            b"Subject: \xc3\xa9t\xc3\xa9 \xe2\x80\x83\n \xe2\x80\x83caf\xc3\xa9\xe2\x80\x83\n",
            b"Subject: \xe2\x80\x83\xe2\x80\x83\nA: \x0bx\x0b\n \x0b\n",
            b"Subject: 123456\xc3\xa9789\nB: \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\n \xe2\x82\xac\n",
            b"Subject: bad \xff\xfe bytes\n \xc3( more\nFrom: \xe9t\xe9\n",
            b"\xff: x\nA\xc3\xa9: y\n",
            b"Long: 0123456789abcdef\n more\nL2: 012345\n 6789\nL3: 0123456\n 7\n",
            b"A: x\r\nB: y\r\n",
            b"a: 1\nA: 2\nContent-TYPE: Text/Plain\n",
        ];
        for &case in cases {
            assert_headers_as_reference(case);
        }
        // Pieces of headers strung together at random (a fixed seed: repeatable).
        let pieces: &[&[u8]] = &[
            b"Subject:",
            b"Content-Type: ",
            b"content-transfer-encoding:",
            b"X-A:",
            b":",
            b" ",
            b"\t",
            b"\n",
            b"\n ",
            b"\n\t",
            b"\n\n",
            b"a",
            b"Bcd",
            b"=?",
            b"=?UTF-8?Q?a=C3=A9?=",
            b"=?utf-8?b?w6k=?=",
            b"\xc3\xa9",
            b"\xe2\x80\x83",
            b"\x0b",
            b"\xff",
            b"\xc3",
            b"0123456789",
            b"no colon",
        ];
        let mut next = crate::bounces::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut block = Vec::new();
            for _ in 0..next() % 24 {
                block.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            assert_headers_as_reference(&block);
        }
    }

    #[test]
    fn name_end_is_the_first_non_name_byte() {
        let mut next = crate::bounces::xorshift(0x2545_f491_4f6c_dd1d);
        for len in 0..40 {
            for _ in 0..200 {
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        let seed = next();
                        // Mostly name bytes, now and then any byte.
                        match seed % 8 {
                            0 => (seed >> 8) as u8,
                            1 => [b':', b' ', 0x7f, 0x80, 0x20, 0x21, 0x7e, 0xff]
                                [(seed >> 8) as usize % 8],
                            _ => 0x21 + (seed >> 8) as u8 % 0x5e,
                        }
                    })
                    .collect();
                for from in 0..=len {
                    let want = b[from..]
                        .iter()
                        .position(|&c| c == b':' || !c.is_ascii_graphic())
                        .map_or(len, |p| from + p);
                    assert_eq!(name_end(&b, from), want, "{b:?} {from}");
                }
            }
        }
        assert_eq!(name_end(b"abc", 7), 7);
    }

    #[test]
    fn lowercase_values_as_to_lowercase() {
        let mut h = Headers::default();
        for v in ["", "MiXeD ASCII 123", "ÉTÉ", "ΣΑΣ Σ", "İ", "a\u{212a}"] {
            h.push_lowercase("subject", v);
            assert_eq!(h.all("subject").last(), Some(v.to_lowercase().as_str()));
        }
        assert_eq!(h.len(), 6);
    }

    #[test]
    fn multipart_report_is_flattened() {
        let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\n\n\
preamble\n--XX\nContent-Type: text/plain\n\nHello text\n--XX\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; a\n\nFinal-Recipient: rfc822; u@example.org\nStatus: 5.1.1\n\n--XX\n\
Content-Type: message/rfc822\n\nMessage-ID: <m@x>\nSubject: hi\n\nbody\n--XX--\nepilogue\n";
        let f = flatten(raw, &Limits::default());
        assert_eq!(f.content_type, "multipart/report");
        assert_eq!(f.report_type.as_deref(), Some("delivery-status"));
        assert!(f.text.contains("Hello text"));
        assert!(!f.text.contains("epilogue"));
        assert_eq!(f.status.len(), 1);
        assert!(f.status[0].contains("Final-Recipient: rfc822; u@example.org"));
        assert!(f.original().unwrap_or("").contains("Message-ID: <m@x>"));
        assert!(f.original().unwrap_or("").ends_with("\nbody"));
        assert_eq!(f.original_headers.get("subject"), Some("hi"));
    }

    #[test]
    fn transfer_encodings() {
        assert_eq!(decode_qp(b"a=3Db=\nc"), b"a=bc");
        assert_eq!(decode_qp(b"x= \t\ny=zz=4"), b"xy=zz=4");
        assert_eq!(decode_qp(b"=E9t=C3=A9"), b"\xe9t\xc3\xa9");
        assert_eq!(decode_base64(b"aGVs\nbG8="), b"hello");
        assert_eq!(decode_base64(b"aGVsbG8"), b"hello");
        assert_eq!(decode_base64(b"!!"), b"");
        let text = to_utf8(b"\x1b$B$3$s$K$A$O\x1b(B", None);
        assert_eq!(text, "こんにちは");
    }

    #[test]
    fn a_boundary_the_body_does_not_use() {
        let raw = b"Content-Type: multipart/report; boundary=\"declared\"\n\n\
--used\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; u@example.org\n\n--used--\n";
        let f = flatten(raw, &Limits::default());
        assert_eq!(f.status.len(), 1, "{f:?}");
        let none = b"Content-Type: multipart/report; boundary=\"declared\"\n\nFinal-Recipient: rfc822; u@example.org\n";
        let f = flatten(none, &Limits::default());
        assert!(f.text.contains("Final-Recipient"), "{f:?}");
    }

    #[test]
    fn html_reduced() {
        let t = html_to_text("<p>User&nbsp;unknown</p><style>x{}</style><b>5.1.1</b>");
        assert!(t.contains("User unknown"));
        assert!(t.contains("5.1.1"));
        assert!(!t.contains("x{}"));
        assert_eq!(
            html_to_text("a<BR>b<Td>c<STYLE>p{}</style>d<script>x</SCRIPT >e&amp;lt;"),
            "a\nb cde&lt;"
        );
        assert_eq!(html_to_text("x<style>never closed"), "x");
        assert_eq!(html_to_text("x</style>y<p"), "xy\n");
    }

    /// Everything a reader of a [`Flat`] can see, as text.
    fn seen(f: &Flat) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            f.headers.iter().collect::<Vec<_>>(),
            f.lower.iter().collect::<Vec<_>>(),
            f.content_type,
            f.report_type,
            f.text,
            f.status,
            f.feedback,
            f.original_part,
            f.original(),
            f.original_headers.iter().collect::<Vec<_>>(),
            f.truncated,
            f.report(),
        )
    }

    /// A message flattened into the recycled buffers of others (in any order, with other
    /// limits) reads exactly as one flattened on a thread that never flattened anything.
    #[test]
    fn a_recycled_flat_keeps_nothing_of_the_last_message() {
        let big = format!(
            "Subject: =?UTF-8?B?w6k=?= big\r\nX-Long: {}\r\n folded\r\n\r\n{}",
            "v".repeat(3000),
            "line\r\n".repeat(2000)
        );
        let messages: Vec<Vec<u8>> = vec![
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\r\n\r\n\
--XX\r\nContent-Type: text/plain\r\n\r\nHello text\r\n--XX\r\nContent-Type: message/delivery-status\r\n\r\n\
Final-Recipient: rfc822; u@example.org\r\nStatus: 5.1.1\r\n\r\n--XX\r\n\
Content-Type: message/rfc822\r\n\r\nMessage-ID: <m@x>\r\nSubject: hi\r\n\r\nbody\r\n--XX--\r\n"
                .to_vec(),
            b"From: MAILER-DAEMON\nSubject: Undelivered\n\nplain text only\n".to_vec(),
            b"Content-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/html\n\n\
<p>html&amp;</p>\n--a\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: \
quoted-printable\n\ncaf=E9\n--a--\n"
                .to_vec(),
            b"Content-Type: multipart/report; report-type=feedback-report; boundary=f\r\r--f\r\
Content-Type: message/feedback-report\r\rFeedback-Type: abuse\r\r--f\r\
Content-Type: text/rfc822-headers\r\rTo: x@example.org\r\r--f--\r"
                .to_vec(),
            big.into_bytes(),
            Vec::new(),
            b"no header at all".to_vec(),
        ];
        let tight = Limits {
            max_input: 300,
            max_headers: 2,
            ..Limits::default()
        };
        let limits = [Limits::default(), tight];
        // What each message reads as, flattened first thing on a thread of its own.
        let fresh: Vec<Vec<String>> = limits
            .iter()
            .map(|l| {
                messages
                    .iter()
                    .map(|m| {
                        let (m, l) = (m.clone(), *l);
                        std::thread::spawn(move || seen(&flatten(&m, &l)))
                            .join()
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        // On this thread: every message after every other, each one recycled.
        for (i, a) in messages.iter().enumerate() {
            for (j, b) in messages.iter().enumerate() {
                for (la, fa) in limits.iter().zip(&fresh) {
                    for (lb, fb) in limits.iter().zip(&fresh) {
                        let first = flatten(a, la);
                        assert_eq!(seen(&first), fa[i]);
                        recycle(first);
                        let second = flatten(b, lb);
                        assert_eq!(seen(&second), fb[j], "message {j} after message {i}");
                        recycle(second);
                    }
                }
            }
        }
    }

    /// [`known_slot`] is the place in [`KNOWN`] of every name there, and of no other.
    #[test]
    fn known_slot_is_the_place_in_known() {
        for (i, n) in KNOWN.iter().enumerate() {
            assert_eq!(known_slot(n.as_bytes()), Some(i), "{n}");
            assert_eq!(known_slot(n.to_uppercase().as_bytes()), None);
            assert_eq!(known_slot(&n.as_bytes()[1..]), None);
            assert_eq!(known_slot(format!("{n}x").as_bytes()), None);
        }
        assert_eq!(known_slot(b""), None);
        assert_eq!(known_slot(b"x-"), None);
    }

    /// An indexed header answers every look-up as an unindexed one does: names known and
    /// not, present once, many times or not at all, fields added after the index.
    #[test]
    fn indexed_look_ups_are_the_walk() {
        let mut next = crate::bounces::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut names: Vec<&str> = KNOWN.to_vec();
        names.extend(["x-other", "subjec", "receivedd", "date", "x-mailers"]);
        for _ in 0..500 {
            let mut plain = Headers::default();
            let mut indexed = Headers::default();
            let before = (next() % 12) as usize;
            let after = (next() % 4) as usize;
            for i in 0..before + after {
                if i == before {
                    indexed.index_known();
                }
                let name = names[(next() % names.len() as u64) as usize];
                let value = format!("v{i}");
                if next().is_multiple_of(2) {
                    plain.push(name, &value);
                    indexed.push(name, &value);
                } else {
                    plain.push_lowercase(name, &value);
                    indexed.push_lowercase(name, &value);
                }
            }
            if after == 0 {
                indexed.index_known();
            }
            assert!(indexed.known.is_some());
            for n in &names {
                assert_eq!(indexed.get(n), plain.get(n), "{n}");
                assert_eq!(indexed.has(n), plain.has(n), "{n}");
                assert_eq!(
                    indexed.all(n).collect::<Vec<_>>(),
                    plain.all(n).collect::<Vec<_>>(),
                    "{n}"
                );
            }
            assert_eq!(indexed, plain);
        }
        // The index of a header parsed again is gone, not stale.
        let mut h = parse_headers(b"Subject: a\nFrom: b\n", &Limits::default());
        h.index_known();
        parse_headers_into(b"From: c\nSubject: d\n", &Limits::default(), None, &mut h);
        assert_eq!(h.get("subject"), Some("d"));
        assert_eq!(h.get("from"), Some("c"));
    }

    #[test]
    fn limits_bound_nesting() {
        let mut raw = String::new();
        for i in 0..200 {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
            ));
        }
        let f = flatten(raw.as_bytes(), &Limits::default());
        assert!(f.truncated);
    }
}

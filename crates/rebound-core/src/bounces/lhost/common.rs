//! Small helpers shared by the vendor engines: header tests, SMTP reply reading and
//! record building.

use super::super::classify::{classify_as, diagnostic_command, diagnostic_reply_code, status_name};
use super::super::dsn::{field, typed_str, unfold};
use super::super::mime::Flat;
use super::super::Raw;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::{find_short, StrExt};
use crate::reason::{find_reply_code, find_status};
use crate::Reason;

/// The top-level `From` field, lower case.
pub fn from(flat: &Flat) -> &str {
    flat.lower.get("from").unwrap_or("")
}

/// The top-level `Subject` field, lower case.
pub fn subject(flat: &Flat) -> &str {
    flat.lower.get("subject").unwrap_or("")
}

/// A (word, value) table with a prebuilt searcher per word (for a `LazyLock`: built once).
pub struct WordTable<T>(Vec<(memchr::memmem::Finder<'static>, T)>);

impl<T: Copy> WordTable<T> {
    /// The table's words, in its order.
    pub fn new<'w>(words: impl IntoIterator<Item = &'w (&'static str, T)>) -> Self
    where
        T: 'w,
    {
        WordTable(
            words
                .into_iter()
                .map(|(w, v)| (memchr::memmem::Finder::new(*w), *v))
                .collect(),
        )
    }

    /// The value of the first word (in the table's order) that `text` holds.
    pub fn first_in(&self, text: &str) -> Option<T> {
        self.0
            .iter()
            .find(|(f, _)| f.find(text.as_bytes()).is_some())
            .map(|(_, v)| *v)
    }
}

/// Collapses runs of whitespace to one space and trims.
pub fn one_line(s: &str) -> String {
    // Most texts are one line already but for blanks at their ends: the rest is copied
    // whole.
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !blank(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !blank(c)).map_or(start, |e| e + 1);
    if let (Some(inner), Some(t)) = (b.get(start..end), s.get(start..end)) {
        if is_one_line(inner) {
            return t.to_string();
        }
    }
    if s.is_ascii() {
        // The same on bytes ([`blank`]), byte by byte from the first word to the last: a
        // run of blanks becomes one space. (Words copied one call each cost more: they are
        // short.)
        let mut out: Vec<u8> = Vec::with_capacity(end - start);
        let mut gap = false;
        for &c in b.get(start..end).unwrap_or_default() {
            if blank(c) {
                gap = true;
            } else {
                if gap {
                    out.push(b' ');
                    gap = false;
                }
                out.push(c);
            }
        }
        // ASCII throughout: always valid.
        return String::from_utf8(out).unwrap_or_default();
    }
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Whether `one_line` would give `b` back as it is: ASCII, no control byte, no blank at
/// either end, no white space but single spaces. Eight bytes at a time (bit tricks: once
/// every byte is below 0x80, one below `n` leaves its high bit set in `b - n`; a byte is
/// 0 when adding 0x7f to its low seven bits leaves its high bit clear).
fn is_one_line(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if b.first().copied().is_some_and(blank) || b.last().copied().is_some_and(blank) {
        return false;
    }
    // Whether the byte before the current word was a space.
    let mut space_before = false;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let w = u64::from_le_bytes(a);
        // Non-ASCII (Unicode white space is for the slow path to judge) or a control byte.
        if w & HIGH != 0 || w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0 {
            return false;
        }
        // Spaces: the high bit of each byte equal to 0x20 (exact: no carry crosses bytes).
        let x = w ^ (ONES * 0x20);
        let spaces = !(((x & !HIGH) + ONES * 0x7f) | x) & HIGH;
        // Two in a row, within the chunk or across its start.
        if spaces & (spaces << 8) != 0 || (space_before && spaces & 0x80 != 0) {
            return false;
        }
        space_before = spaces >> 63 != 0;
    }
    for &c in chunks.remainder() {
        if !(0x20..0x80).contains(&c) || (c == b' ' && space_before) {
            return false;
        }
        space_before = c == b' ';
    }
    true
}

/// ASCII white space as `char::is_whitespace` has it (with the vertical tab).
fn blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Appends `t` to `s` with one space between.
pub fn push(s: &mut String, t: &str) {
    let t = t.trim_fast();
    if t.is_empty() || s.len() > 4000 {
        return;
    }
    super::super::text::push_sp(s, t);
}

/// The SMTP command a text says failed (`RCPT`, `DATA`, `MAIL`, `EHLO`, `HELO`), if any.
pub fn smtp_command(s: &str) -> Option<String> {
    let l = s.to_ascii_uppercase();
    let table: &[(&str, &str)] = &[
        ("RCPT TO", "RCPT"),
        ("RCPT", "RCPT"),
        ("MAIL FROM", "MAIL"),
        ("END OF DATA", "DATA"),
        ("FINAL DATA", "DATA"),
        ("DATA", "DATA"),
        ("EHLO", "EHLO"),
        ("HELO", "HELO"),
        ("CONNECT", "CONN"),
    ];
    table
        .iter()
        .filter_map(|(k, v)| find_short(&l, k).map(|p| (p, *v)))
        .min_by_key(|(p, _)| *p)
        .map(|(_, v)| v.to_string())
}

/// The enhanced status code stated in a text, if any (`X.Y.Z`, X in 2, 4 or 5).
pub fn status(s: &str) -> Option<String> {
    find_status(s)
}

/// The SMTP reply code stated in a text, if any.
pub fn reply_code(s: &str) -> Option<String> {
    find_reply_code(s).map(|c| c.to_string())
}

/// A record for `recipient` with `diagnostic` (made one line) and the codes it states.
pub fn record(recipient: &str, diagnostic: &str) -> Raw {
    let diagnostic = one_line(diagnostic);
    Raw {
        recipient: recipient.trim_fast().to_string(),
        status: status(&diagnostic),
        reply_code: reply_code(&diagnostic),
        diagnostic,
        action: Some("failed".to_string()),
        ..Raw::default()
    }
}

/// Strips the `550-` / `550 ` / `550-5.1.1 ` prefix of a multi-line SMTP reply line,
/// keeping the words.
pub fn strip_reply_prefix(line: &str) -> &str {
    let t = line.trim_fast();
    let b = t.as_bytes();
    if b.len() >= 4
        && b.first().is_some_and(|c| matches!(c, b'2' | b'4' | b'5'))
        && b.get(1).is_some_and(u8::is_ascii_digit)
        && b.get(2).is_some_and(u8::is_ascii_digit)
        && matches!(b.get(3), Some(b'-') | Some(b' '))
    {
        let rest = t.get(4..).unwrap_or("");
        if let Some(st) = find_status(rest) {
            if let Some(after) = rest.trim_start().strip_prefix(st.as_str()) {
                return after.trim_fast();
            }
        }
        return rest.trim_fast();
    }
    t
}

/// Joins the lines of a multi-line SMTP reply (`550-5.7.1 a` / `550 5.7.1 b`) into
/// `550 5.7.1 a b`: the code and status once, then the words.
pub fn join_reply(lines: &[&str]) -> String {
    let mut head = String::new();
    let mut words = String::new();
    for l in lines {
        let t = l.trim_fast();
        if t.is_empty() {
            continue;
        }
        let stripped = strip_reply_prefix(t);
        if head.is_empty() && stripped.len() < t.len() {
            let prefix = t.get(..t.len() - stripped.len()).unwrap_or("");
            head = one_line(&prefix.replace('-', " "));
            // Keep the status's own dots: only the separator after the code was a dash.
            if let (Some(c), Some(s)) = (reply_code(prefix), status(prefix)) {
                head = format!("{c} {s}");
            } else if let Some(c) = reply_code(prefix) {
                head = c;
            }
        }
        push(&mut words, stripped);
    }
    if head.is_empty() {
        words
    } else if words.is_empty() {
        head
    } else {
        format!("{head} {words}")
    }
}

/// The per-recipient records of the delivery-status blocks. A record ends at a blank line
/// or where the next `Final-Recipient` begins (some MTAs put no blank line between
/// groups); fields may come in any order within a group (`Action` before
/// `Final-Recipient`), and `Original-Recipient` is only the fallback address. Groups that
/// name no recipient (the per-message fields) give nothing.
pub fn dsn_records(flat: &Flat) -> Vec<Raw> {
    let mut out = Vec::new();
    for block in &flat.status {
        let mut r = Raw::default();
        let mut original = String::new();
        for line in unfold(block) {
            if line.trim_fast().is_empty() {
                finish(&mut r, &mut original, &mut out);
                continue;
            }
            let Some((name, value)) = field(&line) else {
                continue;
            };
            match name.known() {
                // `X-Actual-Recipient` is where the address led (an alias, a program);
                // the record stays the Final-Recipient's.
                "final-recipient" => {
                    if !r.recipient.is_empty() {
                        finish(&mut r, &mut original, &mut out);
                    }
                    if r.recipient.is_empty() {
                        r.recipient = typed_str(value).1.to_string();
                    }
                }
                "original-recipient" if original.is_empty() => {
                    original = typed_str(value).1.to_string();
                }
                "action" => r.action = Some(value.trim_fast().to_ascii_lowercase()),
                "status" => r.status = find_status(value),
                "remote-mta" => r.remote_mta = Some(typed_str(value).1.to_string()),
                "diagnostic-code" => {
                    let (t, d) = typed_str(value);
                    r.diagnostic_type = t.map(str::to_ascii_lowercase);
                    r.diagnostic = one_line(d);
                }
                _ => {}
            }
        }
        finish(&mut r, &mut original, &mut out);
    }
    out
}

fn finish(r: &mut Raw, original: &mut String, out: &mut Vec<Raw>) {
    let mut done = std::mem::take(r);
    let fallback = std::mem::take(original);
    if done.recipient.is_empty() {
        done.recipient = fallback;
    }
    if out.len() < 1000 && super::super::text::clean_address_str(&done.recipient).is_some() {
        done.reply_code = reply_code(&done.diagnostic);
        out.push(done);
    }
}

/// One exchange of an SMTP session transcript: the client's command and the server's reply.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The command verb, upper case (`RCPT`, `DATA`…); `CONN` for the greeting.
    pub command: String,
    /// The rest of the command line (`TO:<a@example.org>`).
    pub argument: String,
    /// The server's reply lines, joined (`550 5.1.1 words`).
    pub reply: String,
}

impl Step {
    /// Whether the reply is a failure (4xx or 5xx).
    pub fn failed(&self) -> bool {
        matches!(self.reply.as_bytes().first(), Some(b'4' | b'5'))
    }
}

/// The steps of a session transcript whose client lines start with `client` (`In:`,
/// `>>>`) and server lines with `server` (`Out:`, `<<<`). Indented lines without a prefix
/// continue the line before; other lines end the transcript's current step.
pub fn transcript(text: &str, client: &str, server: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut replies: Vec<Vec<String>> = Vec::new();
    // Where a continuation line goes: 1 = the command, 2 = the reply, 0 = nowhere.
    let mut open = 0u8;
    for line in text.lines_fast() {
        let t = line.trim_fast();
        if let Some(c) = t.strip_prefix(client) {
            if steps.len() >= 1000 {
                break;
            }
            let c = c.trim_fast();
            let (verb, arg) = c.split_once(' ').unwrap_or((c, ""));
            steps.push(Step {
                command: verb.to_ascii_uppercase(),
                argument: arg.trim_fast().to_string(),
                reply: String::new(),
            });
            replies.push(Vec::new());
            open = 1;
        } else if let Some(r) = t.strip_prefix(server) {
            if steps.is_empty() {
                steps.push(Step {
                    command: "CONN".to_string(),
                    ..Step::default()
                });
                replies.push(Vec::new());
            }
            if let Some(v) = replies.last_mut() {
                if v.len() < 64 {
                    v.push(r.trim_fast().to_string());
                }
            }
            open = 2;
        } else if !t.is_empty() && (line.starts_with(' ') || line.starts_with('\t')) {
            match open {
                1 => {
                    if let Some(s) = steps.last_mut() {
                        push(&mut s.argument, t);
                    }
                }
                2 => {
                    if let Some(l) = replies.last_mut().and_then(|v| v.last_mut()) {
                        push(l, t);
                    }
                }
                _ => {}
            }
        } else {
            open = 0;
        }
    }
    for (s, r) in steps.iter_mut().zip(replies) {
        // A command may get several replies (`354` then `451` after DATA): the last
        // failure, else the last reply.
        let mut groups: Vec<Vec<&str>> = Vec::new();
        let mut code = "";
        for l in &r {
            let c = l.get(..3).unwrap_or("");
            if groups.is_empty() || c != code {
                groups.push(Vec::new());
                code = c;
            }
            if let Some(g) = groups.last_mut() {
                g.push(l.as_str());
            }
        }
        let pick = groups
            .iter()
            .rev()
            .find(|g| g.first().is_some_and(|l| l.starts_with(['4', '5'])))
            .or(groups.last());
        if let Some(g) = pick {
            s.reply = join_reply(g);
        }
    }
    steps
}

/// Decides the reason of a record whose status code names none (`5.0.0`, `4.0.0`, or no
/// code) when the classifier's first round of probes found nothing either. Sisimai then
/// tries its second wording round, then the diagnostic type (`x-unix` → mailer error), the
/// reply code (`501`–`507`, `401`–`407` → syntax error) and the command (`EHLO`/`HELO` →
/// blocked); the classifier only runs that round for codes that name a retryable reason,
/// so the engines settle such records here. A reason the engine set is left alone.
pub fn settle(r: &mut Raw) {
    if r.reason.is_some() || r.kind.is_some() {
        return;
    }
    if r.status.as_deref().and_then(status_name).is_some() {
        return;
    }
    let undecided = |x: Reason| matches!(x, Reason::OnHold | Reason::Undefined);
    // Without the action: a delayed record is `expired` only when nothing else fits.
    if !undecided(classify_as(r, None, r.reason, || None).reason) {
        return;
    }
    // An engine-stated `Undefined` makes the classifier run its second round.
    let second = classify_as(r, None, Some(Reason::Undefined), || None).reason;
    if !undecided(second) {
        r.reason = Some(second);
        return;
    }
    let code: u16 = match r.reply_code.as_deref() {
        Some(c) => c.parse().ok(),
        None => diagnostic_reply_code(&r.diagnostic),
    }
    .unwrap_or(0);
    let command = r
        .smtp_command
        .as_deref()
        .or_else(|| diagnostic_command(&r.diagnostic));
    if r.diagnostic_type
        .as_deref()
        .is_some_and(|t| t.starts_with("x-unix"))
    {
        r.reason = Some(Reason::MailerError);
    } else if (401..=407).contains(&code) || (501..=507).contains(&code) {
        r.reason = Some(Reason::SyntaxError);
    } else if matches!(command, Some("EHLO" | "HELO")) {
        r.reason = Some(Reason::Blocked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_split_whitespace_joined() {
        for t in [
            "",
            "  a  b\t\nc ",
            "\x0ba\x0bb\x0c",
            "é  ü\u{a0}x",
            "a\u{3000}b  c",
            "x\r\ny",
            "already one line, as most are",
            "two  spaces in the first eight",
            "across  a chunk's edge: 1234567  8",
            "1234567 x",
            "12345678 9",
            "1234567  x",
            "12345678  9",
            "1234567  0abcdefgh",
            "1234567 90abcdefgh 1234567\t",
            "tab\tinside a long enough line",
            "a\x01control byte past the first chunk",
            "ends with a space ",
            " starts with one",
            " host mx.example.org[192.0.2.4] said: 550 5.1.1 <a@example.org>: unknown ",
            "550 5.7.1 ",
            "\t\r\n  surrounded \x0b",
            "  ",
            " é ",
            "\u{a0}no-break at an end ",
            "non-ascii é within",
            "no-break\u{a0}space in a long line",
        ] {
            let want = t.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(one_line(t), want, "{t:?}");
        }
        // Every short text over a few bytes, against the reference, and the fast check
        // against its definition.
        let alphabet = [b'a', b' ', b'!', b'\t', b'\n', 0x01, b'\r'];
        for len in 0..=18u32 {
            for n in 0..alphabet.len().pow(len.min(5)) {
                let mut t = Vec::new();
                let mut k = n;
                for i in 0..len {
                    t.push(if i < 5 {
                        alphabet[k % alphabet.len()]
                    } else {
                        b'x'
                    });
                    k /= alphabet.len();
                }
                let turn = (n % 13) % t.len().max(1);
                t.rotate_left(turn);
                let t = String::from_utf8(t).unwrap();
                let want = t.split_whitespace().collect::<Vec<_>>().join(" ");
                assert_eq!(one_line(&t), want, "{t:?}");
                let plain = t.bytes().all(|c| c >= 0x20) && t == want;
                assert_eq!(is_one_line(t.as_bytes()), plain, "{t:?}");
            }
        }
        assert!(has_literal!("a long report text", "report"));
        assert!(!has_literal!("short", "shorter"));
    }

    #[test]
    fn joins_multiline_replies() {
        let j = join_reply(&["550-5.7.1 Message refused", "550 5.7.1 by policy"]);
        assert_eq!(j, "550 5.7.1 Message refused by policy");
        assert_eq!(join_reply(&["550-No such", "550 user"]), "550 No such user");
        assert_eq!(
            smtp_command("did not like our RCPT TO:").as_deref(),
            Some("RCPT")
        );
        assert_eq!(smtp_command("nothing"), None);
        let r = record("a@example.org", "  552 5.2.2  full \n box");
        assert_eq!(r.status.as_deref(), Some("5.2.2"));
        assert_eq!(r.reply_code.as_deref(), Some("552"));
        assert_eq!(r.diagnostic, "552 5.2.2 full box");
    }
}

//! RFC 3464 delivery status notifications.
//!
//! A `message/delivery-status` block is one group of per-message fields followed by one
//! group per recipient, groups separated by blank lines. Some MTAs omit the blank lines or
//! put the fields in the text part; both are handled by starting a new recipient at every
//! `Final-Recipient` (or `Original-Recipient` without one).

use super::mime::Flat;
use super::{text, Found, Raw};
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// Fields of one DSN block, split into per-recipient records.
#[derive(Debug, Default)]
struct Fields {
    reporting_mta: Option<String>,
    records: Vec<Raw>,
}

/// Unfolds continuation lines of a field block.
pub fn unfold(block: &str) -> Vec<std::borrow::Cow<'_, str>> {
    // A line is borrowed as it stands; only one continued by the next is copied. Room for
    // a field every 32 bytes or so, taken at once.
    let mut out: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(4 + block.len() / 32);
    for line in block.lines_fast() {
        if (line.starts_with(' ') || line.starts_with('\t')) && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                if !last.is_empty() {
                    let more = line.trim_fast();
                    if let std::borrow::Cow::Borrowed(first) = *last {
                        // Copied with room for this line and a few more words.
                        let mut owned = String::with_capacity(first.len() + more.len() + 64);
                        owned.push_str(first);
                        *last = std::borrow::Cow::Owned(owned);
                    }
                    let last = last.to_mut();
                    last.push(' ');
                    last.push_str(more);
                    continue;
                }
            }
        }
        out.push(std::borrow::Cow::Borrowed(line.trim_end()));
    }
    out
}

/// Splits `Name: value` (both trimmed): the name to be told by [`FieldName::known`].
pub fn field(line: &str) -> Option<(FieldName<'_>, &str)> {
    // A name is at most 40 bytes: the colon is looked for no further.
    let b = line.as_bytes();
    let colon = find_byte!(b':', b.get(..41).unwrap_or(b))?;
    let (k, v) = (line.get(..colon)?, line.get(colon + 1..)?);
    if k.is_empty() || k.len() > 40 || k.contains(' ') {
        return None;
    }
    Some((FieldName(k.trim_fast()), v.trim_fast()))
}

/// The field names the delivery-status and feedback-report readers act on, lower case.
/// A reader matching on a name must find it here (`every_name_a_reader_matches_is_known`
/// checks the readers' match arms against it).
const KNOWN: &[&str] = &[
    "action",
    "diagnostic-code",
    "feedback-type",
    "final-recipient",
    "original-rcpt-to",
    "original-recipient",
    "remote-mta",
    "removal-recipient",
    "reporting-mta",
    "status",
    "x-powermta-bouncecategory",
];

/// A field's name as it stands (trimmed), told apart from the [`KNOWN`] ones without a
/// lower-cased copy (the lengths first, then the bytes, case ignored).
#[derive(Debug, Clone, Copy)]
pub struct FieldName<'a>(&'a str);

impl FieldName<'_> {
    /// The name, lower case, when it is one of [`KNOWN`]; `""` for any other.
    pub fn known(&self) -> &'static str {
        let n = self.0;
        KNOWN
            .iter()
            .copied()
            .find(|k| k.len() == n.len() && k.eq_ignore_ascii_case(n))
            .unwrap_or("")
    }
}

/// `rfc822; user@example.org` → `user@example.org`; `smtp; 550 …` → (`smtp`, `550 …`).
pub fn typed(v: &str) -> (Option<String>, String) {
    let (t, rest) = typed_str(v);
    (t.map(str::to_ascii_lowercase), rest.to_string())
}

/// [`typed`] without the copies: the type as it stands (not lower-cased) and the rest.
pub fn typed_str(v: &str) -> (Option<&str>, &str) {
    match v.split_once(';') {
        Some((t, rest)) if !t.trim_fast().is_empty() && !t.contains(' ') && t.len() < 20 => {
            (Some(t.trim_fast()), rest.trim_fast())
        }
        _ => (None, v.trim_fast()),
    }
}

fn parse_block(block: &str, fields: &mut Fields) {
    // Groups are separated by blank lines; a group holding several Final-Recipient fields
    // (an MTA that omits the blank lines) is split at each of them.
    let mut groups: Vec<Vec<std::borrow::Cow<'_, str>>> = vec![Vec::with_capacity(8)];
    // Whether the last group holds a Final-Recipient line.
    let mut has_final = false;
    for line in unfold(block) {
        if line.trim_fast().is_empty() {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::with_capacity(8));
                has_final = false;
            }
            continue;
        }
        let starts_recipient = line
            .as_bytes()
            .get(..16)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"final-recipient:"));
        if starts_recipient && has_final {
            groups.push(Vec::new());
            has_final = false;
        }
        has_final |= starts_recipient;
        if let Some(g) = groups.last_mut() {
            g.push(line);
        }
    }
    for group in groups {
        let mut r = Raw::default();
        let mut original = String::new();
        let mut is_recipient = false;
        for line in &group {
            let Some((name, value)) = field(line) else {
                continue;
            };
            match name.known() {
                "reporting-mta" => fields.reporting_mta = Some(typed(value).1),
                "final-recipient" => {
                    r.recipient = typed(value).1;
                    is_recipient = true;
                }
                "original-recipient" => {
                    original = typed(value).1;
                    is_recipient = true;
                }
                "action" => r.action = Some(value.to_ascii_lowercase()),
                "status" => {
                    if let Some(s) = crate::reason::find_status(value) {
                        r.status = Some(s);
                    }
                }
                "remote-mta" => r.remote_mta = Some(typed(value).1),
                "diagnostic-code" => {
                    let (t, d) = typed(value);
                    r.diagnostic_type = t;
                    r.diagnostic = d;
                }
                _ => {}
            }
        }
        if !is_recipient {
            continue;
        }
        if text::clean_address_str(&r.recipient).is_none() {
            r.recipient = original;
        }
        fields.records.push(r);
    }
}

/// The text with one level of `>` quoting removed from each line.
fn unquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines_fast() {
        let l = line
            .strip_prefix('>')
            .map_or(line, |l| l.strip_prefix(' ').unwrap_or(l));
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Where `needle` (a `\n` and lower-case words) first occurs in `hay`, ignoring ASCII case:
/// `hay.to_ascii_lowercase().find(needle)` without the copy.
fn find_line(hay: &str, needle: &[u8]) -> Option<usize> {
    let b = hay.as_bytes();
    memchr::memchr_iter(b'\n', b).find(|&i| {
        b.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Parses the delivery-status blocks of a message, if it has any.
pub fn parse(flat: &Flat) -> Option<Found> {
    let mut fields = Fields::default();
    for block in &flat.status {
        parse_block(block, &mut fields);
    }
    if fields.records.is_empty() {
        // Status fields pasted into the text (a report whose MIME structure is broken, or an
        // MTA that writes them inline).
        let report = flat.report();
        if let Some(at) = find_line(report, b"\nfinal-recipient:") {
            let from = report
                .get(..at)
                .and_then(|r| r.rfind("\n\n"))
                .map_or(at, |p| p + 1);
            parse_block(report.get(from..).unwrap_or(""), &mut fields);
        } else if find_line(report, b"\n> final-recipient:").is_some() {
            // A forwarded report, quoted with `> `.
            let unquoted = unquote(report);
            let lower = unquoted.to_ascii_lowercase();
            if let Some(at) = lower.find("\nfinal-recipient:") {
                let from = lower[..at].rfind("\n\n").map_or(at, |p| p + 1);
                parse_block(unquoted.get(from..).unwrap_or(""), &mut fields);
            }
        }
    }
    if fields.records.is_empty() {
        return None;
    }
    let mut records = Vec::new();
    let report = flat.report();
    // The report lower-cased, made only for a record that needs it.
    let lower = std::cell::OnceCell::new();
    for mut r in fields.records.into_iter().take(super::MAX_RECORDS) {
        if text::clean_address_str(&r.recipient).is_none() {
            continue;
        }
        if matches!(r.action.as_deref(), Some("relayed" | "expanded")) && r.status.is_none() {
            continue;
        }
        if r.diagnostic.trim_fast().is_empty() {
            // The DSN states no diagnostic: the text part often has the server's words.
            let lower = lower.get_or_init(|| report.to_ascii_lowercase());
            if let Some(d) = text::diagnostic_in(report, lower, &r.recipient) {
                r.diagnostic = d;
            }
        }
        records.push(r);
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "rfc3464",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_as_before() {
        fn before(line: &str) -> Option<(String, &str)> {
            let (k, v) = line.split_once(':')?;
            if k.is_empty() || k.len() > 40 || k.contains(' ') {
                return None;
            }
            Some((k.trim_fast().to_ascii_lowercase(), v.trim_fast()))
        }
        let long = "x".repeat(40);
        let samples = [
            String::new(),
            ":".to_string(),
            "a:".to_string(),
            ":b".to_string(),
            "Status: 5.1.1".to_string(),
            "Final-Recipient: rfc822; a@b.c: d".to_string(),
            "two words: x".to_string(),
            format!("{long}: v"),
            format!("{long}x: v"),
            format!("{long}:"),
            format!("{}é: v", "x".repeat(38)),
            format!("{}é: v", "x".repeat(39)),
            "Ünïcode-Name: välue".to_string(),
            "no colon at all in this line, which is quite a bit longer than forty bytes"
                .to_string(),
        ];
        let mut samples = samples.to_vec();
        for k in KNOWN {
            samples.push(format!("{k}: v"));
            samples.push(format!(" {}\t: v ", k.to_ascii_uppercase()));
            samples.push(format!("{}x: v", k));
            samples.push(format!("{}: v", &k[1..]));
        }
        samples.push("Final-Recipient : rfc822; a@b.c".to_string());
        samples.push("Reporting-MTA: dns; mx.example.org".to_string());
        for s in &samples {
            // A known name comes back lower case, any other as "".
            let want = before(s).map(|(n, v)| {
                let known = KNOWN.contains(&n.as_str());
                (if known { n } else { String::new() }, v)
            });
            let got = field(s).map(|(n, v)| (n.known().to_string(), v));
            assert_eq!(got, want, "{s:?}");
        }
        assert_eq!(
            field("FINAL-RECIPIENT: x").map(|(n, _)| n.known()),
            Some("final-recipient")
        );
    }

    /// Every name the readers of fields match on (`match name.known()` in this file,
    /// `arf.rs`, `lhost/powermta.rs`, `lhost/common.rs`) is in [`KNOWN`]: a name missing
    /// there would never match. Read from the sources, each arm's literals before `=>`.
    #[test]
    fn every_name_a_reader_matches_is_known() {
        let needle = concat!("match name.", "known() {");
        for (file, src) in [
            ("dsn.rs", include_str!("dsn.rs")),
            ("arf.rs", include_str!("arf.rs")),
            ("lhost/powermta.rs", include_str!("lhost/powermta.rs")),
            ("lhost/common.rs", include_str!("lhost/common.rs")),
        ] {
            let mut names = 0;
            for block in src.split(needle).skip(1) {
                let arms = &block[..block.find("_ => {}").unwrap_or(block.len())];
                for line in arms.lines().map(str::trim_start) {
                    let Some((pattern, _)) = line.split_once("=>") else {
                        continue;
                    };
                    if !pattern.starts_with('"') {
                        continue;
                    }
                    for name in pattern.split('"').skip(1).step_by(2) {
                        assert!(KNOWN.contains(&name), "{file}: {name:?} is not in KNOWN");
                        names += 1;
                    }
                }
            }
            assert!(names > 0, "{file}: no reader found");
        }
    }

    #[test]
    fn typed_as_before() {
        fn before(v: &str) -> (Option<String>, String) {
            match v.split_once(';') {
                Some((t, rest))
                    if !t.trim_fast().is_empty() && !t.contains(' ') && t.len() < 20 =>
                {
                    (
                        Some(t.trim_fast().to_ascii_lowercase()),
                        rest.trim_fast().to_string(),
                    )
                }
                _ => (None, v.trim_fast().to_string()),
            }
        }
        for v in [
            "",
            ";",
            " ; ",
            "rfc822; A@B.C",
            "RFC822;a@b",
            "\tSMTP\t; 550 x ",
            "x y; z",
            "ÉTÉ; a",
            "abcdefghijklmnopqrs; x",
            "abcdefghijklmnopqrst; x",
            "a;b;c",
            "no type here",
            "\r\n;\r",
        ] {
            let (t, r) = typed_str(v);
            assert_eq!(
                (t.map(str::to_ascii_lowercase), r.to_string()),
                before(v),
                "{v:?}"
            );
            assert_eq!(typed(v), before(v), "{v:?}");
        }
    }

    #[test]
    fn finds_lines_as_a_lower_cased_copy_does() {
        let samples = [
            "",
            "\n",
            "final-recipient: a",
            "\nFinal-Recipient: a",
            "x\nFINAL-RECIPIENT:",
            "x\nfinal-recipient",
            "é\nFinal-Recipiént: a\nfinal-recipient: b",
            "a\n\n> Final-Recipient: x\n",
            "a\r\nFinal-Recipient: x",
            "\n\nfinal-recipient:\nfinal-recipient:",
        ];
        for s in samples {
            for n in ["\nfinal-recipient:", "\n> final-recipient:"] {
                assert_eq!(
                    find_line(s, n.as_bytes()),
                    s.to_ascii_lowercase().find(n),
                    "{s:?} {n:?}"
                );
            }
        }
    }

    #[test]
    fn groups_are_split_per_recipient() {
        let mut f = Fields::default();
        parse_block(
            "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; a@example.org\n\
Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <a@example.org>:\n \
Recipient address rejected\nFinal-Recipient: rfc822; b@example.org\nAction: delayed\nStatus: 4.4.1\n",
            &mut f,
        );
        assert_eq!(f.reporting_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(f.records.len(), 2);
        assert_eq!(f.records[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(f.records[0].diagnostic_type.as_deref(), Some("smtp"));
        assert!(f.records[0]
            .diagnostic
            .ends_with("Recipient address rejected"));
        assert_eq!(f.records[1].action.as_deref(), Some("delayed"));
    }
}

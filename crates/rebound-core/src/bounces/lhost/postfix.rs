//! Postfix: a DSN (or, in older versions, plain text) whose human-readable part says, per
//! recipient, `<addr>: host mx[ip] said: 550 … (in reply to RCPT TO command)` or Postfix's
//! own words (`Host or domain name not found`, `connect to …: Connection timed out`). The
//! delivery-status part often cuts the server's reply short and never names the SMTP
//! command, so the text is read too. `Postfix SMTP server: errors from …` notices carry a
//! session transcript (`In:` / `Out:` lines) instead.

use super::super::classify::classify;
use super::super::mime::{find_short, Flat, Headers};
use super::super::text::{addresses, first_address};
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

/// Postfix's own wording (not a remote server's) and the reason it states.
const OWN_WORDS: &[(&str, Reason)] = &[
    ("host or domain name not found", Reason::HostUnknown),
    ("name service error for", Reason::NetworkError),
    ("connection timed out", Reason::Expired),
    ("connection refused", Reason::Expired),
    ("no route to host", Reason::NetworkError),
    ("network is unreachable", Reason::NetworkError),
    ("mail for ", Reason::SystemError),
    ("mail forwarding loop for", Reason::SystemError),
    ("delivery temporarily suspended", Reason::Expired),
];

/// A searcher per wording of [`OWN_WORDS`], in their order (built once).
static OWN_FINDERS: std::sync::LazyLock<common::WordTable<Reason>> =
    std::sync::LazyLock::new(|| common::WordTable::new(OWN_WORDS));

/// Parses a Postfix bounce.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    if flat.headers.has("x-aol-ip") {
        return None;
    }
    let subject = common::subject(flat);
    if subject.has("smtp server: errors from") {
        return transcript(flat);
    }
    let report = flat.report();
    let marked = subject.trim_fast() == "undelivered mail returned to sender"
        || report.lines_fast().take(40).any(|l| {
            let t = l.trim_fast();
            t.starts_with("This is the mail system at host")
                || t.starts_with("This is the Postfix program")
                || t.starts_with("The Postfix program")
        });
    if !marked {
        return None;
    }
    let entries = text_entries(report);
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        records = entries.iter().map(|e| e.raw()).collect();
    } else {
        let single = entries.len() == 1 && records.len() == 1;
        for r in &mut records {
            let entry = entries
                .iter()
                .find(|e| e.recipient.eq_ignore_ascii_case(&r.recipient))
                .or_else(|| entries.first().filter(|_| single));
            if let Some(e) = entry {
                e.merge(r);
            }
            match r.diagnostic_type.as_deref() {
                Some("x-postfix") => r.diagnostic_type = Some("smtp".to_string()),
                // A local delivery agent (pipe, maildrop) failed.
                Some(t) if t.starts_with("x-unix") && r.reason.is_none() => {
                    let vague = classify(r, || None).reason;
                    if matches!(
                        vague,
                        Reason::SystemError | Reason::OnHold | Reason::Undefined
                    ) {
                        r.reason = Some(Reason::MailerError);
                    }
                }
                _ => {}
            }
        }
    }
    if records.is_empty() && report.has("--- Delivery report unavailable ---") {
        if let Some(a) = original.get("to").and_then(first_address) {
            records.push(Raw {
                recipient: a,
                action: Some("failed".to_string()),
                ..Raw::default()
            });
        }
    }
    if records.is_empty() {
        return None;
    }
    Some(Found {
        mta: "postfix",
        records,
    })
}

/// One `<addr>: words` paragraph of the text part.
struct Entry {
    recipient: String,
    /// The words after the address, one line, with the `(in reply to …)` note (the
    /// wording tables know some replies by it).
    words: String,
    remote: Option<String>,
    command: Option<String>,
}

impl Entry {
    fn server_words(&self) -> &str {
        // `host mx.example.org[192.0.2.1] said: 550 …` → `550 …`.
        let w = self.words.as_str();
        match find_short(w, " said: ") {
            Some(at) if w.get(..at).is_some_and(|h| h.starts_with("host ")) => {
                w.get(at + 7..).unwrap_or("").trim_fast()
            }
            _ => w.trim_fast(),
        }
    }

    fn own_reason(&self) -> Option<Reason> {
        if self.words.has(" said: ") {
            return None;
        }
        let l = self.words.to_ascii_lowercase();
        if has_literal!(&l, "refused to talk to me") {
            return None;
        }
        OWN_FINDERS.first_in(&l)
    }

    fn raw(&self) -> Raw {
        let mut r = common::record(&self.recipient, self.server_words());
        r.remote_mta = self.remote.clone();
        r.smtp_command = self.command.clone();
        r.reason = self.own_reason();
        r
    }

    /// Completes a DSN record with what the text says.
    fn merge(&self, r: &mut Raw) {
        let words = self.server_words();
        let dsn = common::one_line(&r.diagnostic);
        if dsn.is_empty() || (words.len() >= dsn.len() && words.has(&dsn)) {
            r.diagnostic = words.to_string();
        }
        let general = |s: &str| s.ends_with(".0.0");
        if r.status.as_deref().is_none_or(general) {
            if let Some(s) = common::status(words).filter(|s| !general(s)) {
                r.status = Some(s);
            }
        }
        if r.smtp_command.is_none() {
            r.smtp_command = self.command.clone();
        }
        if r.remote_mta.is_none() {
            r.remote_mta = self.remote.clone();
        }
        if r.reason.is_none() {
            r.reason = self.own_reason();
        }
    }
}

/// The `<addr>: …` paragraphs: a line starting `<addr>` and its indented continuation.
fn text_entries(report: &str) -> Vec<Entry> {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut open = false;
    for line in report.lines_fast() {
        let t = line.trim_fast();
        if t.is_empty() {
            open = false;
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if line.starts_with('<') && t.contains('@') && t.contains('>') {
            if paragraphs.len() >= 200 {
                break;
            }
            paragraphs.push(t.to_string());
            open = true;
        } else if open && indented {
            if let Some(p) = paragraphs.last_mut() {
                common::push(p, t);
            }
        } else {
            open = false;
        }
    }
    paragraphs.iter().filter_map(|p| entry(p)).collect()
}

fn entry(p: &str) -> Option<Entry> {
    let close = p.find('>')?;
    let recipient = first_address(p.get(..close)?)?;
    let mut rest = p.get(close + 1..)?.trim_start();
    if rest.starts_with("(expanded from") {
        rest = rest.split_once("):").map_or("", |(_, w)| w);
    } else {
        rest = rest.strip_prefix(':')?;
    }
    let words = common::one_line(rest);
    let mut command = None;
    if let Some(at) = find_short(&words, "(in reply to ") {
        command = words.get(at..).and_then(common::smtp_command);
    }
    if command.is_none() && words.has("refused to talk to me") {
        command = Some("HELO".to_string());
    }
    let remote = words.strip_prefix("host ").and_then(|h| {
        let name = h.split(['[', ' ']).next()?;
        name.contains('.').then(|| name.to_string())
    });
    // A paragraph that only names an address (a list of recipients) is no entry.
    if words.is_empty() && addresses(p).len() < 2 {
        return None;
    }
    Some(Entry {
        recipient,
        words,
        remote,
        command,
    })
}

/// `Postfix SMTP server: errors from …`: the transcript's failing replies.
fn transcript(flat: &Flat) -> Option<Found> {
    let steps = common::transcript(&flat.text, "In:", "Out:");
    let mut records: Vec<Raw> = Vec::new();
    let mut recipient: Option<String> = None;
    let mut pending: Option<Raw> = None;
    for s in &steps {
        if s.command == "RCPT" {
            if let Some(a) = first_address(&s.argument) {
                recipient = Some(a);
            }
        }
        if !s.failed() {
            continue;
        }
        let Some(a) = recipient.clone() else {
            if pending.is_none() {
                let mut r = common::record("", &s.reply);
                r.smtp_command = Some(s.command.clone());
                pending = Some(r);
            }
            continue;
        };
        if records.iter().any(|r| r.recipient == a) {
            continue;
        }
        let mut r = common::record(&a, &s.reply);
        r.smtp_command = Some(s.command.clone());
        records.push(r);
    }
    if records.is_empty() {
        let mut r = pending?;
        r.recipient = recipient?;
        records.push(r);
    }
    Some(Found {
        mta: "postfix",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn server_words_as_before() {
        fn before(words: &str) -> &str {
            match words.split_once(" said: ") {
                Some((h, w)) if h.starts_with("host ") => w.trim_fast(),
                _ => words.trim_fast(),
            }
        }
        for w in [
            "",
            " said: ",
            "host said: 550 x",
            "host  said: 550 x",
            "host a said: 550 x said: y",
            "host a[192.0.2.1] said:  550 é ",
            "Host a said: 550",
            "no host said: x",
            "host é said: ",
            "host é said:",
        ] {
            let e = Entry {
                recipient: String::new(),
                words: w.to_string(),
                remote: None,
                command: None,
            };
            assert_eq!(e.server_words(), before(w), "{w:?}");
        }
    }

    #[test]
    fn text_completes_the_dsn() {
        let raw = "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n\
Subject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\
Content-Type: text/plain\n\nThis is the mail system at host mx.example.net.\n\n\
<who@example.org>: host in.example.org[192.0.2.5] said: 550\n    <who@example.org>: \
No such person here (in reply to\n    RCPT TO command)\n\n\
--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
Final-Recipient: rfc822; who@example.org\nAction: failed\nStatus: 5.0.0\n\
Diagnostic-Code: smtp; 550 <who@example.org>:\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.smtp_command.as_deref(), Some("RCPT"));
        assert_eq!(r.remote_mta.as_deref(), Some("in.example.org"));
        assert_eq!(
            r.diagnostic,
            "550 <who@example.org>: No such person here (in reply to RCPT TO command)"
        );
    }

    #[test]
    fn reads_plain_text_and_transcripts() {
        let raw = "From: MAILER-DAEMON (Mail Delivery System)\n\
Subject: Undelivered Mail Returned to Sender\n\n\
This is the Postfix program at host mx.example.net.\n\n\
<gone@example.org>: Host or domain name not found. Name service error for\n    \
name=example.org type=A: Host not found\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].reason, Some(Reason::HostUnknown));

        let raw = "From: MAILER-DAEMON\nSubject: Postfix SMTP server: errors from h[192.0.2.1]\n\n\
Transcript of session follows.\n\n Out: 220 mx ESMTP\n In:  MAIL FROM:<s@example.net>\n \
Out: 250 2.1.0 Ok\n In:  RCPT TO:<r@example.org>\n Out: 250 2.1.5 Ok\n In:  DATA\n \
Out: 451 4.3.0 Error: queue file write error\n In:  QUIT\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records[0].recipient, "r@example.org");
        assert_eq!(f.records[0].smtp_command.as_deref(), Some("DATA"));
        assert_eq!(f.records[0].status.as_deref(), Some("4.3.0"));
    }
}

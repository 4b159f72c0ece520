//! Sendmail: a DSN whose text part has `----- Transcript of session follows -----` with the
//! SMTP session (`... while talking to mx.example.org.:`, `>>> RCPT To:<…>`, `<<< 550 …`)
//! or sendmail's own complaint (`<addr>... Deferred: …`, `554 5.3.0 unknown mailer error`).
//! The DSN's `Diagnostic-Code` is often missing or only a number (`X-Unix; 255`); the
//! transcript gives the command and the remote server's own words.

use super::super::mime::{Flat, Headers};
use super::super::text::first_address;
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

const TRANSCRIPT: &str = "----- Transcript of session follows -----";
const FATAL: &str = "----- The following addresses had permanent fatal errors -----";

/// What the text part says beside the DSN.
#[derive(Default)]
struct Notes {
    /// The first client command of the transcript.
    command: Option<String>,
    /// The server's replies (`<<<` lines), each once.
    replies: Vec<String>,
    /// The remote host of `... while talking to`.
    remote: Option<String>,
    /// Sendmail's own words about the failure.
    words: String,
    /// A status code in sendmail's own words.
    status: Option<String>,
    /// Addresses listed under the fatal-errors heading.
    listed: Vec<String>,
}

/// Parses a Sendmail bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    // Not `report_part`: sendmail's text opens with `The original message was received at`,
    // which other formats use to introduce the returned message.
    let report = flat.text.as_str();
    if !has_literal!(report, TRANSCRIPT) && !has_literal!(report, FATAL) {
        return None;
    }
    let notes = read_notes(report);
    let mut records = common::dsn_records(flat);
    if records.is_empty() {
        if flat.status.is_empty() {
            return None;
        }
        // A Final-Recipient without a local part (`@mx.example.org`): the listed address.
        records = notes
            .listed
            .iter()
            .take(1)
            .map(|a| Raw {
                recipient: a.clone(),
                action: Some("failed".to_string()),
                status: flat.status.iter().find_map(|b| status_field(b)),
                ..Raw::default()
            })
            .collect();
    }
    if records.is_empty() {
        return None;
    }
    let single = records.len() == 1;
    for r in &mut records {
        let diag = common::one_line(&r.diagnostic);
        let numeric = !diag.is_empty() && diag.bytes().all(|b| b.is_ascii_digit());
        if (diag.is_empty() || numeric) && !notes.words.is_empty() {
            r.diagnostic = notes.words.clone();
            if r.reply_code.is_none() || numeric {
                r.reply_code = common::reply_code(&r.diagnostic);
            }
        }
        if single && !notes.replies.is_empty() {
            let mut d = notes.replies.join(" ");
            common::push(&mut d, &r.diagnostic);
            r.diagnostic = d;
            r.reply_code = common::reply_code(&r.diagnostic);
        }
        if r.status.is_none() {
            r.status = notes.status.clone();
        }
        if r.smtp_command.is_none() {
            r.smtp_command = notes
                .command
                .clone()
                .or_else(|| common::smtp_command(&r.diagnostic))
                .or_else(|| (!notes.replies.is_empty()).then(|| "EHLO".to_string()));
        }
        if r.remote_mta.is_none() {
            r.remote_mta = notes.remote.clone();
        }
    }
    Some(Found {
        mta: "sendmail",
        records,
    })
}

fn status_field(block: &str) -> Option<String> {
    block.lines_fast().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim_fast()
            .eq_ignore_ascii_case("status")
            .then(|| common::status(v))?
    })
}

fn read_notes(report: &str) -> Notes {
    let mut n = Notes::default();
    let mut in_fatal = false;
    let mut in_transcript = false;
    let mut session = false;
    for line in report.lines_fast() {
        let t = line.trim_fast();
        if t.starts_with(FATAL) {
            in_fatal = true;
            in_transcript = false;
            continue;
        }
        if t.starts_with(TRANSCRIPT) {
            in_fatal = false;
            in_transcript = true;
            continue;
        }
        if t.starts_with("-----") {
            in_fatal = false;
            in_transcript = false;
            continue;
        }
        if in_fatal && line.starts_with('<') && n.listed.len() < 100 {
            if let Some(a) = first_address(t) {
                n.listed.push(a);
            }
            continue;
        }
        if !in_transcript || line.starts_with(' ') || t.is_empty() {
            continue;
        }
        if let Some(c) = t.strip_prefix(">>> ") {
            if n.command.is_none() {
                n.command = common::smtp_command(c.split(':').next().unwrap_or(c));
            }
        } else if let Some(r) = t.strip_prefix("<<< ") {
            if !n.replies.iter().any(|x| x == r) && n.replies.len() < 16 {
                n.replies.push(r.to_string());
            }
        } else if session {
            continue;
        } else if let Some(host) = t.strip_prefix("... while talking to ") {
            session = true;
            let host = host.trim_end_matches(':').trim_end_matches('.');
            n.remote = Some(host.to_string()).filter(|h| !h.is_empty());
        } else if t.starts_with('<') && t.has("@") && t.has(">...") {
            // `<addr>... Deferred: Name server: example.org.: host name lookup failure`
            if let Some((_, w)) = t.split_once(' ') {
                n.words = w.trim_fast().to_string();
            }
        } else if common::reply_code(t).is_some() && common::status(t).is_some() {
            n.status = common::status(t);
            common::push(&mut n.words, t);
        } else if t.starts_with("Message ") || t.starts_with("Warning: ") {
            common::push(&mut n.words, t);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn transcript_gives_command_and_words() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n\
Subject: Returned mail: see transcript for details\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\n\
   ----- The following addresses had permanent fatal errors -----\n<who@example.org>\n\
    (reason: 550 5.1.1 No such mailbox)\n\n   ----- Transcript of session follows -----\n\
... while talking to in.example.org.:\n>>> RCPT To:<who@example.org>\n\
<<< 550 5.1.1 No such mailbox\n550 5.1.1 <who@example.org>... User unknown\n\n--b\n\
Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
Final-Recipient: RFC822; who@example.org\nAction: failed\nStatus: 5.1.1\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        let r = &f.records[0];
        assert_eq!(r.smtp_command.as_deref(), Some("RCPT"));
        assert_eq!(r.remote_mta.as_deref(), Some("in.example.org"));
        assert!(r.diagnostic.starts_with("550 5.1.1 No such mailbox"));
    }

    #[test]
    fn own_words_replace_a_numeric_code() {
        let raw = "From: MAILER-DAEMON\nSubject: Returned mail: see transcript for details\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\n\n\
   ----- Transcript of session follows -----\n554 5.3.0 unknown mailer error 255\n\n--b\n\
Content-Type: message/delivery-status\n\nFinal-Recipient: RFC822; p@example.org\n\
Action: failed\nStatus: 5.0.0\nDiagnostic-Code: X-Unix; 255\n\n--b--\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(
            f.records[0].diagnostic,
            "554 5.3.0 unknown mailer error 255"
        );
    }
}

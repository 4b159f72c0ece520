//! Sendmail version 5 (and appliances built on it): no DSN part, a
//! `----- Transcript of session follows -----` section with `While talking to host:`,
//! `>>> COMMAND`, `<<< reply` lines and one `NNN <addr>... words` line per failed
//! recipient, then `----- Unsent message follows -----`.

use super::super::mime::{Flat, Headers};
use super::super::text::{first_address, report_part};
use super::super::{Found, Raw};
use super::common;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;
use crate::Reason;

const TRANSCRIPT: &str = "----- Transcript of session follows -----";

/// Parses a Sendmail V5 bounce.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    let subject = flat.headers.get("subject").unwrap_or("");
    let starts_upper = subject
        .strip_prefix("Returned mail: ")
        .and_then(|s| s.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase());
    if !starts_upper || !flat.status.is_empty() {
        return None;
    }
    let (_, transcript) = flat.text.split_once(TRANSCRIPT)?;
    let lower = transcript.to_ascii_lowercase();
    if !(lower.has("----- unsent message follows -----")
        || lower.has("----- no message was collected -----"))
    {
        return None;
    }
    if lower.has("following addresses had permanent fatal errors") {
        return None;
    }
    let transcript = report_part(transcript);
    let transcript = transcript
        .split_once("----- No message was collected -----")
        .map_or(transcript, |(a, _)| a);

    let mut records: Vec<Raw> = Vec::new();
    let mut host: Option<String> = None;
    let mut command: Option<String> = None;
    let mut response: Option<String> = None;
    let mut general = String::new();
    for line in transcript.lines_fast() {
        let t = line.trim_fast();
        if t.is_empty() {
            continue;
        }
        if let Some(h) = t
            .strip_prefix("While talking to ")
            .or_else(|| t.strip_prefix("... while talking to "))
        {
            host = Some(h.trim_end_matches(':').trim_fast().to_string());
            command = None;
            response = None;
        } else if let Some(c) = t.strip_prefix(">>>") {
            command = c
                .split_whitespace()
                .next()
                .map(|w| w.to_ascii_uppercase())
                .and_then(|w| common::smtp_command(&w).or(Some(w)));
        } else if let Some(r) = t.strip_prefix("<<<") {
            response = Some(r.trim_fast().to_string());
        } else if let Some((head, words)) = t.split_once("... ") {
            let code = common::reply_code(head.get(..3).unwrap_or(""));
            let addr = head
                .get(3..)
                .map(str::trim)
                .filter(|a| a.starts_with('<'))
                .and_then(first_address);
            match addr {
                Some(a) if code.is_some() => {
                    let mut diag = words.trim_fast().to_string();
                    if let Some(resp) = response.take() {
                        diag.push_str(": ");
                        diag.push_str(&resp);
                    }
                    let mut r = common::record(&a, &diag);
                    if r.reply_code.is_none() {
                        r.reply_code = code;
                    }
                    r.remote_mta = host.clone();
                    r.smtp_command = command.take();
                    records.push(r);
                }
                _ if code.is_some() && general.is_empty() => {
                    general = format!("{} {}", head.get(..3).unwrap_or(""), words.trim_fast());
                }
                _ => {}
            }
        }
    }
    if records.is_empty() {
        let to = original.get("to").and_then(first_address)?;
        let mut r = common::record(&to, &general);
        r.remote_mta = host;
        r.smtp_command = command;
        records.push(r);
    }
    if subject.starts_with("Returned mail: Cannot send message for") {
        for r in &mut records {
            r.reason = Some(Reason::Expired);
        }
    }
    Some(Found {
        mta: "v5sendmail",
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounces::mime::{flatten, Limits};

    #[test]
    fn reads_the_transcript() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@example.net>\n\
Subject: Returned mail: User unknown\n\n   ----- Transcript of session follows -----\n\
While talking to mx.example.org:\n>>> RCPT To:<nobody@example.org>\n<<< 550 No such user\n\
550 <nobody@example.org>... User unknown\n\n   ----- Unsent message follows -----\n\
To: nobody@example.org\nSubject: hi\n\nhello\n";
        let flat = flatten(raw.as_bytes(), &Limits::default());
        let f = parse(&flat, &Headers::default()).expect("recognised");
        assert_eq!(f.records.len(), 1);
        let r = &f.records[0];
        assert_eq!(r.recipient, "nobody@example.org");
        assert_eq!(r.diagnostic, "User unknown: 550 No such user");
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.smtp_command.as_deref(), Some("RCPT"));
        assert_eq!(r.remote_mta.as_deref(), Some("mx.example.org"));
    }
}

//! Hostile bounce messages: MIME bombs and oversized fields parse to a bounded result,
//! without a panic or unbounded recursion (RELIABILITY.md items 29–30).

use rebound_core::bounces::{self, mime, Limits};

fn dsn_for(rcpt: &str) -> String {
    format!(
        "From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nfailed\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; {rcpt}\nAction: failed\n\
Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown (in reply to RCPT TO command)\n\n--B--\n"
    )
}

#[test]
fn a_plain_dsn_still_parses() {
    let recs = bounces::parse(dsn_for("u@example.org").as_bytes());
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].recipient.as_deref(), Some("u@example.org"));
    assert_eq!(recs[0].reason.as_str(), "userunknown");
}

#[test]
fn ten_thousand_nested_multiparts() {
    let mut raw = String::from("From: MAILER-DAEMON@example.org\n");
    for i in 0..10_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
        ));
    }
    let flat = mime::flatten(raw.as_bytes(), &Limits::default());
    assert!(flat.truncated, "nesting beyond the limit must be cut");
    assert!(bounces::parse(raw.as_bytes()).is_empty());
}

#[test]
fn a_million_tiny_parts() {
    let mut raw = String::from(
        "From: MAILER-DAEMON@example.org\nContent-Type: multipart/mixed; boundary=\"x\"\n\n",
    );
    for _ in 0..1_000_000 {
        raw.push_str("--x\n\na\n");
    }
    raw.push_str("--x--\n");
    let flat = mime::flatten(raw.as_bytes(), &Limits::default());
    assert!(flat.truncated);
    assert!(flat.text.len() < 10_000, "text kept: {}", flat.text.len());
}

#[test]
fn a_ten_megabyte_header_line() {
    let mut raw = String::from("Subject: ");
    raw.push_str(&"A".repeat(10 << 20));
    raw.push('\n');
    raw.push_str(&dsn_for("u@example.org"));
    let flat = mime::flatten(raw.as_bytes(), &Limits::default());
    let subject = flat.headers.get("subject").unwrap_or("");
    assert!(subject.len() <= Limits::default().max_header_value);
    let recs = bounces::parse(raw.as_bytes());
    assert_eq!(
        recs.len(),
        1,
        "the report after the long header is still read"
    );
}

#[test]
fn a_hundred_thousand_headers() {
    let mut raw = String::new();
    for i in 0..100_000 {
        raw.push_str(&format!("X-H{i}: v\n"));
    }
    raw.push_str(&dsn_for("u@example.org"));
    let flat = mime::flatten(raw.as_bytes(), &Limits::default());
    assert!(flat.headers.len() <= Limits::default().max_headers);
    // The Content-Type came after the cap: the message is read as text, without a panic.
    let _ = bounces::parse(raw.as_bytes());
}

#[test]
fn nested_comments_in_addresses() {
    let mut raw = String::from("From: ");
    raw.push_str(&"(".repeat(200_000));
    raw.push_str("MAILER-DAEMON@example.org");
    raw.push_str(&")".repeat(200_000));
    raw.push_str("\nSubject: Undeliverable\n\n<u@example.org>:\n550 5.1.1 user unknown\n");
    let recs = bounces::parse(raw.as_bytes());
    assert!(recs.len() <= 1);
}

#[test]
fn input_beyond_the_limit_is_ignored() {
    let limits = Limits {
        max_input: 1024,
        ..Limits::default()
    };
    let mut raw = dsn_for("u@example.org");
    raw.push_str(&"x".repeat(4096));
    let flat = mime::flatten(raw.as_bytes(), &limits);
    assert!(flat.truncated);
}

#[test]
fn binary_garbage() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut raw = Vec::with_capacity(1 << 20);
    for _ in 0..(1 << 20) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        raw.push((state >> 24) as u8);
    }
    let a = bounces::parse(&raw);
    let b = bounces::parse(&raw);
    assert_eq!(a, b);
}

#[test]
fn a_hundred_thousand_recipients() {
    let mut raw = String::from("From: MAILER-DAEMON@example.org\nSubject: failure notice\n\n");
    for i in 0..100_000 {
        raw.push_str(&format!("<u{i}@example.org>:\nno\n\n"));
    }
    let started = std::time::Instant::now();
    let recs = bounces::parse(raw.as_bytes());
    assert!(recs.len() <= bounces::MAX_RECORDS, "{} records", recs.len());
    assert!(!recs.is_empty());
    // Not a speed claim: a guard against quadratic behaviour (minutes, not seconds).
    assert!(started.elapsed().as_secs() < 60);
}

/// Fuzzer finding (cargo fuzz, target `bounces`, 2026-11-22): an HTML part whose last tag
/// has no `>` and ends in a multi-byte character made `html_to_text` slice inside it.
#[test]
fn fuzz_html_tag_without_end_at_a_multibyte_character() {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode("RnJvbUZyb206IE1BSUxFUi1EZGVlcgpYLUZhaWxlZC1SZWNpcGllVHlwZjogdGWLi4uLi4uLi4sKZXR1cm5pbmcgbWVzc2FnZXRvIHNlbmRlcgpYLUZhaWxlZC1SZWNpcGllbnRzYWlsZWQtUmVjaXBpZW50czogLkBleGFtcGwtLS3c0iBvcmlncgpYLUZhaWxlZC1SZXBsLS0tLS0gb3JpZXNzYWdldG8gc2VuZGVyClgtRmFpbGVkLVJlAQAAAAAAAABmOiB0ZYuLi4uLi4uLiwpldHVybmluZyBtZXNzYWdldG8gc2VuZGVyClgtRmFpbGVkLVJlY2lwaWVudHNhaWxlZC1SZWNpcCNlbnRzOiAuQGUqeGFtcGwtLS0tLUZyb206IE1BSUxFnVItREFFTU9OQGV4YW1wbGUub3JnClN1YmplY3Q6IFVuZGVsaXZlcmVkIE1haV0gUmV0dXJuZWQgc210cCBzZXJ2ZXI6IGVycm9yIHNmcm9tdG8gUyBvcmlnPGluYWwgbWVzc2FnZSAtLS0tLWUuSQBhbSBhd2GLi4uLi4uLi4tzZW5kZXIKQ29udGVudC1UeXBlOiBtdWx0aXBhcnQvcmVwb3J0OyByZXBvcrN0LXR5cGU9ZGVsaXZmcnktc3RhdHVzOyBib3VuZGFyeT0iQiIKCi0tQgpDb250ZW50LVR5cGU6IHRleHQvaHRtbHRleHQvcGxhaW4KCjx1QGV4YcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHB")
        .expect("base64");
    let _ = bounces::parse(&raw);
    assert!(bounces::mime::html_to_text("<u@exa\u{c1}\u{c1}").is_empty());
    assert_eq!(bounces::mime::html_to_text("a<b>c<d"), "ac");
}

/// Found in review (2026-12-02): a multipart boundary holding a line break (an encoded word
/// in the Content-Type value decodes to one) made the delimiter search slice backwards and
/// panic. The part now ends at the line break; nothing panics and the text is still read.
#[test]
fn a_boundary_with_a_line_break() {
    let raw = "From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail\n\
Content-Type: multipart/mixed; boundary=\"=?utf-8?q?a=0Ab?=\"\n\n\
--a\nb\nContent-Type: text/plain\n\n<nobody@example.net>: 550 5.1.1 User unknown\n--a\nb--\n";
    let _ = bounces::parse(raw.as_bytes());
    let flat = bounces::mime::flatten(raw.as_bytes(), &bounces::Limits::default());
    assert!(flat.text.contains("nobody@example.net"), "{flat:?}");
}

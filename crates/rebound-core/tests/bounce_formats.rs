//! One small hand-written message per format family, through the public `parse`: what a
//! user of the parser sees (recipient, kind, class, reason, codes, original Message-ID).

use rebound_core::bounces::{self, BounceRecord};
use rebound_core::{BounceClass, EventKind};

fn one(raw: &str) -> BounceRecord {
    let recs = bounces::parse(raw.as_bytes());
    assert_eq!(recs.len(), 1, "{recs:#?}");
    recs.into_iter().next().expect("one record")
}

const DSN: &str = "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"

--R
Content-Type: text/plain

<gone@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 <gone@example.org>:
    Recipient address rejected: User unknown in local recipient table (in reply to RCPT
    TO command)

--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; gone@example.org
Original-Recipient: rfc822;gone@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected:
    User unknown in local recipient table

--R
Content-Type: text/rfc822-headers

Message-ID: <send-42@example.com>
From: sender@example.com
To: gone@example.org
Subject: Newsletter

--R--
";

#[test]
fn rfc3464_dsn() {
    let r = one(DSN);
    assert_eq!(r.recipient.as_deref(), Some("gone@example.org"));
    assert_eq!(r.kind, EventKind::Bounce);
    assert_eq!(r.class, Some(BounceClass::Hard));
    assert_eq!(r.reason.as_str(), "userunknown");
    assert_eq!(r.status.as_deref(), Some("5.1.1"));
    assert_eq!(r.reply_code.as_deref(), Some("550"));
    assert_eq!(r.remote_mta.as_deref(), Some("mx.example.org"));
    assert_eq!(r.message_id.as_deref(), Some("<send-42@example.com>"));
    assert!(r
        .original_headers
        .iter()
        .any(|(k, v)| k == "subject" && v == "Newsletter"));
}

#[test]
fn line_endings_do_not_matter() {
    let crlf = DSN.replace('\n', "\r\n");
    let cr = DSN.replace('\n', "\r");
    let lf = bounces::parse(DSN.as_bytes());
    assert_eq!(bounces::parse(crlf.as_bytes()), lf);
    assert_eq!(bounces::parse(cr.as_bytes()), lf);
}

#[test]
fn delayed_dsn_is_deferred_not_a_bounce() {
    let raw = DSN
        .replace("Action: failed", "Action: delayed")
        .replace("Status: 5.1.1", "Status: 4.4.1")
        .replace(
            "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected:\n    User unknown in local recipient table",
            "Diagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.1]:25: Connection timed out",
        );
    let r = one(&raw);
    assert_eq!(r.kind, EventKind::Deferred);
    assert_eq!(r.class, Some(BounceClass::Soft));
}

#[test]
fn arf_feedback_report() {
    let r = one("From: feedback@fbl.example.net
To: abuse@example.com
Subject: Complaint
Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"

--F
Content-Type: text/plain

This is an email abuse report.
--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Rcpt-To: reader@example.org

--F
Content-Type: message/rfc822

Message-ID: <send-7@example.com>
From: sender@example.com
To: reader@example.org
Subject: Offer

Hello
--F--
");
    assert_eq!(r.kind, EventKind::Complaint);
    assert_eq!(r.reason.as_str(), "feedback");
    assert_eq!(r.feedback_type.as_deref(), Some("abuse"));
    assert_eq!(r.recipient.as_deref(), Some("reader@example.org"));
    assert_eq!(r.class, None);
    assert_eq!(r.message_id.as_deref(), Some("<send-7@example.com>"));
}

#[test]
fn rfc3834_auto_reply_is_not_a_bounce() {
    let r = one("From: Jane <jane@example.org>
To: sender@example.com
Subject: Out of office: Newsletter
Auto-Submitted: auto-replied

I am away until Monday.
");
    assert_eq!(r.kind, EventKind::AutoReply);
    assert_eq!(r.reason.as_str(), "vacation");
    assert_eq!(r.recipient.as_deref(), Some("jane@example.org"));
    assert_eq!(r.class, None);
}

#[test]
fn exim_plain_text() {
    let r = one("From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: sender@example.com
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: full@example.org
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  full@example.org
    host mx.example.org [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<full@example.org>:
    552 5.2.2 Mailbox full

------ This is a copy of the message, including all the headers. ------

Message-ID: <send-9@example.com>
From: sender@example.com
To: full@example.org

Hi
");
    assert_eq!(r.recipient.as_deref(), Some("full@example.org"));
    assert_eq!(r.reason.as_str(), "mailboxfull");
    assert_eq!(r.class, Some(BounceClass::Soft));
    assert_eq!(r.status.as_deref(), Some("5.2.2"));
    assert_eq!(r.message_id.as_deref(), Some("<send-9@example.com>"));
}

#[test]
fn qmail_plain_text() {
    let r = one("From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@example.org>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <nobody@example.org>... User unknown
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

Message-ID: <send-10@example.com>
");
    assert_eq!(r.recipient.as_deref(), Some("nobody@example.org"));
    assert_eq!(r.reason.as_str(), "userunknown");
    assert_eq!(r.class, Some(BounceClass::Hard));
}

#[test]
fn blocked_ip_is_soft() {
    let raw = DSN
        .replace("Status: 5.1.1", "Status: 5.7.1")
        .replace(
            "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected:\n    User unknown in local recipient table",
            "Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org",
        )
        .replace("User unknown in local recipient table (in reply to RCPT\n    TO command)", "blocked (in reply to RCPT TO command)");
    let r = one(&raw);
    assert_eq!(r.reason.as_str(), "blocked");
    assert_eq!(
        r.class,
        Some(BounceClass::Soft),
        "a blocked IP must not suppress the address"
    );
}

#[test]
fn ordinary_mail_is_not_a_bounce() {
    let recs = bounces::parse(
        b"From: Alice <alice@example.org>\nTo: sender@example.com\nSubject: Re: hello\n\n\
Thanks! Write to bob@example.org too.\n",
    );
    assert!(recs.is_empty(), "{recs:#?}");
}

//! An unnamed gateway (Sisimai's "X5") that forwards the DSN it received to
//! `NotificationRecipients`, wrapped as a `message/rfc822` part: the records come from the
//! delivery-status part of the wrapped report.

use super::super::mime::{self, Flat, Headers, Limits};
use super::super::{dsn, Found};
use super::common;
use crate::bounces::mime::StrExt;

/// Parses an X5 bounce.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    if !flat.status.is_empty()
        || !flat
            .lower
            .all("to")
            .any(|v| has_literal!(v, "notificationrecipients"))
        || !common::from(flat).has("mail delivery subsystem")
    {
        return None;
    }
    let inner = flat.original()?;
    let nested = mime::flatten(inner.as_bytes(), &Limits::default());
    let mut found = dsn::parse(&nested)?;
    found.mta = "x5";
    Some(found)
}

#[cfg(test)]
mod tests {
    use crate::bounces::parse;
    use crate::Reason;

    #[test]
    fn x5_wrapped_dsn() {
        let msg = b"From: Mail Delivery Subsystem <MAILER-DAEMON@gw.example.net>\n\
To: \"NotificationRecipients\" <NotificationRecipients@gw.example.net>\n\
Subject: Returned mail: User unknown\n\
Content-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: text/plain\n\n\
See the attached report.\n\n--o\nContent-Type: message/rfc822\n\n\
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n\
Subject: Returned mail: User unknown\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"i\"\n\n\
--i\n\nThe original message was received.\n\n--i\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: RFC822; who@example.org\n\
Action: failed\nStatus: 5.1.1\nDiagnostic-Code: SMTP; 550 5.1.1 <who@example.org>... User unknown\n\n\
--i--\n\n--o--\n";
        let r = parse(msg);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].recipient.as_deref(), Some("who@example.org"));
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].mta, "x5");
    }
}

//! The POP3 and IMAP clients against a real Dovecot (one instance per test, see
//! `common/mod.rs`): byte-identical fetches, the after= actions, seen ids, failing
//! handlers, STARTTLS, certificate checks and size limits.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{as_served, corpus, is_reply, reply, Dovecot, CORPUS_BOUNCES};
use rebound_mailbox::{connect, scan, Error, Mailbox, MailboxUrl, ScanOutcome, Verdict};

/// Delivers the corpus bounces and `replies` human replies; returns the originals.
fn fill(d: &Dovecot, replies: usize) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for name in CORPUS_BOUNCES {
        let bytes = corpus(name);
        d.deliver(&bytes);
        all.push(bytes);
    }
    for n in 0..replies {
        let bytes = reply(n);
        d.deliver(&bytes);
        all.push(bytes);
    }
    all
}

/// A scan whose handler "stores" every message (in memory) and judges replies not bounces.
async fn scan_all(url: &MailboxUrl, seen: &HashSet<String>) -> (ScanOutcome, Vec<Vec<u8>>) {
    let stored = Arc::new(Mutex::new(Vec::new()));
    let s = stored.clone();
    let outcome = scan(url, seen, move |_id, bytes| {
        let s = s.clone();
        async move {
            let is_bounce = !is_reply(&bytes);
            s.lock().unwrap().push(bytes);
            Ok::<_, String>(Verdict { is_bounce })
        }
    })
    .await
    .unwrap_or_else(|e| panic!("scan of {url} failed: {e}"));
    let stored = stored.lock().unwrap().clone();
    (outcome, stored)
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

async fn fetch_all(url: &MailboxUrl) -> Vec<Vec<u8>> {
    let mut mb = connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let list = mb.list().await.unwrap();
    let mut out = Vec::new();
    for m in &list {
        assert!(m.size.is_some_and(|s| s > 0), "{m:?} has no size");
        out.push(mb.fetch(m).await.unwrap());
    }
    mb.finish().await.unwrap();
    out
}

#[tokio::test]
async fn pop3_and_imap_fetch_byte_identical_messages() {
    let Some(d) = Dovecot::start() else { return };
    let originals = fill(&d, 2);
    let expected = sorted(originals.iter().map(|m| as_served(m)).collect());

    let via_imap = sorted(fetch_all(&d.imaps_url("/INBOX")).await);
    let via_pop3 = sorted(fetch_all(&d.pop3s_url("")).await);

    assert_eq!(via_imap.len(), originals.len());
    assert!(via_imap == via_pop3, "IMAP and POP3 gave different bytes");
    assert!(
        via_imap == expected,
        "fetched bytes differ from the delivered messages"
    );
    // Dot-stuffed lines came back unstuffed.
    assert!(via_pop3
        .iter()
        .any(|m| m.windows(5).any(|w| w == b"\r\n..t")));
}

async fn delete_keeps_replies(url: MailboxUrl, d: &Dovecot) {
    let originals = fill(d, 3);
    let (outcome, stored) = scan_all(&url, &HashSet::new()).await;
    let s = outcome.summary;
    assert_eq!(s.fetched, originals.len(), "{s}");
    assert_eq!(s.bounces, CORPUS_BOUNCES.len(), "{s}");
    assert_eq!(s.non_bounces, 3, "{s}");
    assert_eq!(s.deleted, CORPUS_BOUNCES.len(), "{s}");
    assert_eq!(s.kept, 3, "{s}");
    assert_eq!(s.errors, 0, "{s}");
    assert_eq!(stored.len(), originals.len());
    assert_eq!(outcome.processed.len(), originals.len());
    let left = d.messages("INBOX");
    assert_eq!(left.len(), 3, "only the replies stay on the server");
    assert!(left
        .iter()
        .all(|m| m.windows(18).any(|w| w == b"X-Test-Kind: reply")));
}

#[tokio::test]
async fn imap_after_delete_removes_bounces_and_keeps_replies() {
    let Some(d) = Dovecot::start() else { return };
    delete_keeps_replies(d.imaps_url("/INBOX?after=delete"), &d).await;
}

#[tokio::test]
async fn pop3_after_delete_removes_bounces_and_keeps_replies() {
    let Some(d) = Dovecot::start() else { return };
    delete_keeps_replies(d.pop3s_url("?after=delete"), &d).await;
}

#[tokio::test]
async fn imap_after_move_puts_every_processed_message_in_the_folder() {
    let Some(d) = Dovecot::start() else { return };
    let originals = fill(&d, 2);
    // The folder does not exist yet: the server's TRYCREATE makes the client create it.
    let url = d.imaps_url("/INBOX?after=move:Processed");
    let (outcome, _) = scan_all(&url, &HashSet::new()).await;
    assert_eq!(
        outcome.summary.moved,
        originals.len(),
        "{}",
        outcome.summary
    );
    assert_eq!(d.messages("INBOX").len(), 0);
    let moved = sorted(
        d.messages("Processed")
            .iter()
            .map(|m| as_served(m))
            .collect(),
    );
    let expected = sorted(originals.iter().map(|m| as_served(m)).collect());
    assert!(
        moved == expected,
        "the folder holds other messages than delivered"
    );

    // A second pass over INBOX finds nothing; one over the folder finds them all.
    let (again, _) = scan_all(&url, &HashSet::new()).await;
    assert_eq!(again.summary.fetched, 0);
    let (there, _) = scan_all(&d.imaps_url("/Processed"), &HashSet::new()).await;
    assert_eq!(there.summary.fetched, originals.len());
}

async fn keep_reads_nothing_twice(url: MailboxUrl, d: &Dovecot) {
    let originals = fill(d, 1);
    let (first, _) = scan_all(&url, &HashSet::new()).await;
    assert_eq!(first.summary.fetched, originals.len());
    assert_eq!(first.summary.kept, originals.len());
    let seen: HashSet<String> = first.processed.iter().cloned().collect();
    assert_eq!(seen.len(), originals.len(), "ids are unique");

    let (second, _) = scan_all(&url, &seen).await;
    assert_eq!(second.summary.fetched, 0, "{}", second.summary);
    assert_eq!(
        d.messages("INBOX").len(),
        originals.len(),
        "keep deletes nothing"
    );

    // A new arrival is the only thing the next pass reads.
    d.deliver(&reply(99));
    let (third, stored) = scan_all(&url, &seen).await;
    assert_eq!(third.summary.fetched, 1);
    assert_eq!(stored, vec![as_served(&reply(99))]);
}

#[tokio::test]
async fn imap_keep_with_seen_ids_fetches_nothing_twice() {
    let Some(d) = Dovecot::start() else { return };
    keep_reads_nothing_twice(d.imaps_url("/INBOX?after=keep"), &d).await;
}

#[tokio::test]
async fn pop3_keep_with_seen_ids_fetches_nothing_twice() {
    let Some(d) = Dovecot::start() else { return };
    keep_reads_nothing_twice(d.pop3s_url("?after=keep"), &d).await;
}

async fn failing_handle_leaves_message(url: MailboxUrl, d: &Dovecot) {
    let originals = fill(d, 0);
    let victim = as_served(&originals[0]);
    let v = victim.clone();
    let outcome = scan(&url, &HashSet::new(), move |_id, bytes| {
        let fail = bytes == v;
        async move {
            if fail {
                Err("disk full".to_string())
            } else {
                Ok(Verdict { is_bounce: true })
            }
        }
    })
    .await
    .unwrap();
    let s = outcome.summary;
    assert_eq!(s.errors, 1, "{s}");
    assert_eq!(s.deleted, originals.len() - 1, "{s}");
    assert_eq!(outcome.processed.len(), originals.len() - 1);
    assert!(outcome.errors[0].error.contains("disk full"));
    assert!(!outcome.processed.contains(&outcome.errors[0].id));
    let left = d.messages("INBOX");
    assert_eq!(left.len(), 1);
    assert_eq!(
        as_served(&left[0]),
        victim,
        "the unstored message is still there"
    );
}

#[tokio::test]
async fn imap_failing_handle_leaves_the_message_on_the_server() {
    let Some(d) = Dovecot::start() else { return };
    failing_handle_leaves_message(d.imaps_url("/INBOX?after=delete"), &d).await;
}

#[tokio::test]
async fn pop3_failing_handle_leaves_the_message_on_the_server() {
    let Some(d) = Dovecot::start() else { return };
    failing_handle_leaves_message(d.pop3s_url("?after=delete"), &d).await;
}

#[tokio::test]
async fn starttls_and_explicit_plaintext_reach_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver(&reply(1));
    let want = vec![as_served(&reply(1))];
    for url in [
        d.url("imap", d.imap, "/INBOX"),
        d.url("pop3", d.pop3, ""),
        d.url("imap", d.imap, "/INBOX?tls=none&insecure=true"),
        d.url("pop3", d.pop3, "?tls=none&insecure=true"),
    ] {
        assert_eq!(fetch_all(&url).await, want, "{url}");
    }
    let log = d.log();
    let logins: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Login: user=<bounces>"))
        .collect();
    assert_eq!(logins.len(), 4, "{log}");
    let over_tls = logins.iter().filter(|l| l.contains(", TLS")).count();
    assert_eq!(
        over_tls, 2,
        "the two STARTTLS logins were encrypted:\n{log}"
    );
}

#[tokio::test]
async fn a_non_ascii_password_logs_in_over_imap_and_pop3() {
    // IMAP sends it as a literal ({N} and a continuation), POP3 as UTF-8 after PASS.
    let Some(d) = Dovecot::start_with("DNS:localhost,IP:127.0.0.1", "pässwörd€") else {
        return;
    };
    d.deliver(&reply(7));
    for url in [d.imaps_url("/INBOX"), d.pop3s_url("")] {
        assert_eq!(url.password, "pässwörd€");
        assert_eq!(fetch_all(&url).await, vec![as_served(&reply(7))], "{url}");
    }
}

#[tokio::test]
async fn imap_idle_reports_a_new_message_and_times_out_without_one() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver(&reply(1));
    let url = d.imaps_url("/INBOX?after=delete");
    let mut imap = rebound_mailbox::imap::Imap::connect(&url).await.unwrap();
    assert!(imap.supports_idle());
    let quiet = imap.idle(Duration::from_millis(700)).await.unwrap();
    assert!(!quiet, "nothing arrived, yet IDLE reported new mail");

    let started = std::time::Instant::now();
    let (grew, ()) = tokio::join!(imap.idle(Duration::from_secs(20)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        d.deliver(&reply(2));
    });
    assert!(grew.unwrap(), "IDLE did not report the delivery");
    assert!(started.elapsed() < Duration::from_secs(15));
    let list = imap.list().await.unwrap();
    assert_eq!(list.len(), 2);
    // The session is still in step: fetch and delete work after IDLE.
    let last = imap.fetch(&list[1]).await.unwrap();
    assert_eq!(last, as_served(&reply(2)));
    imap.apply(&list[1], &rebound_mailbox::Action::Delete)
        .await
        .unwrap();
    Box::new(imap).finish().await.unwrap();
    assert_eq!(d.messages("INBOX").len(), 1);
}

fn tls_error(e: &Error) -> &rustls::Error {
    match e {
        Error::Tls(t) => t,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let Some(d) = Dovecot::start() else { return };
    let pw = common::percent(common::PASSWORD);
    for s in [
        format!("imaps://bounces:{pw}@127.0.0.1:{}/INBOX", d.imaps),
        format!("pop3s://bounces:{pw}@127.0.0.1:{}", d.pop3s),
        format!("imap://bounces:{pw}@localhost:{}/INBOX", d.imap),
        format!("pop3://bounces:{pw}@localhost:{}", d.pop3),
    ] {
        let url = MailboxUrl::parse(&s).unwrap();
        let e = connect(&url)
            .await
            .err()
            .expect("connected without a trusted CA");
        assert!(
            matches!(
                tls_error(&e),
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            ),
            "{s}: {e}"
        );
    }
    assert!(!d.log().contains("Login: user=<bounces>"), "{}", d.log());
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused() {
    let Some(d) = Dovecot::start_with_sans("DNS:mail.example.org") else {
        return;
    };
    for url in [d.imaps_url("/INBOX"), d.pop3s_url("")] {
        let e = connect(&url)
            .await
            .err()
            .expect("connected to the wrong host");
        let t = tls_error(&e);
        assert!(
            matches!(t, rustls::Error::InvalidCertificate(_))
                && format!("{t:?}").contains("NotValidForName"),
            "{url}: {t:?}"
        );
    }
    assert!(!d.log().contains("Login: user=<bounces>"));
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_error() {
    let Some(d) = Dovecot::start() else { return };
    let ca = common::percent(&d.ca().display().to_string());
    for s in [
        format!("imaps://bounces:nope@127.0.0.1:{}/INBOX?ca={ca}", d.imaps),
        format!("pop3s://bounces:nope@127.0.0.1:{}?ca={ca}", d.pop3s),
    ] {
        let url = MailboxUrl::parse(&s).unwrap();
        let e = connect(&url)
            .await
            .err()
            .expect("logged in with a wrong password");
        assert!(matches!(e, Error::Auth(_)), "{s}: {e}");
    }
}

async fn oversized_is_refused(url: MailboxUrl, d: &Dovecot) {
    let mut big = b"From: a@example.org\nSubject: big\n\n".to_vec();
    for _ in 0..200 {
        big.extend_from_slice(
            b"0123456789012345678901234567890123456789012345678901234567890123456789\n",
        );
    }
    d.deliver(&big);
    d.deliver(&corpus(CORPUS_BOUNCES[0]));

    // Directly: a clear error, and the session goes on.
    let mut mb = connect(&url).await.unwrap();
    let list = mb.list().await.unwrap();
    let mut refused = 0;
    for m in &list {
        match mb.fetch(m).await {
            Err(Error::MessageTooLarge { size, limit, .. }) => {
                assert!(size > limit);
                refused += 1;
            }
            Ok(bytes) => assert_eq!(bytes, as_served(&corpus(CORPUS_BOUNCES[0]))),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(refused, 1);
    mb.finish().await.unwrap();

    // In a scan with after=delete, it is counted as an error and stays on the server.
    let (outcome, stored) = scan_all(&url, &HashSet::new()).await;
    assert_eq!(outcome.summary.errors, 1, "{}", outcome.summary);
    assert_eq!(outcome.summary.deleted, 1, "{}", outcome.summary);
    assert_eq!(stored.len(), 1);
    assert!(outcome.errors[0].error.contains("limit"));
    assert_eq!(d.messages("INBOX"), vec![big]);
}

#[tokio::test]
async fn imap_refuses_an_oversized_message() {
    let Some(d) = Dovecot::start() else { return };
    oversized_is_refused(d.imaps_url("/INBOX?after=delete&max_size=4K"), &d).await;
}

#[tokio::test]
async fn pop3_refuses_an_oversized_message() {
    let Some(d) = Dovecot::start() else { return };
    oversized_is_refused(d.pop3s_url("?after=delete&max_size=4K"), &d).await;
}

#[test]
fn plaintext_without_insecure_is_refused_at_parse_time() {
    for s in [
        "imap://u:p@127.0.0.1/INBOX?tls=none",
        "pop3://u:p@127.0.0.1?tls=none",
        "pop3://u:p@127.0.0.1?tls=none&insecure=false",
    ] {
        assert_eq!(
            MailboxUrl::parse(s).err(),
            Some(rebound_mailbox::UrlError::PlaintextNeedsInsecure),
            "{s}"
        );
    }
}

/// Batches: a handler error leaves the whole batch on the server, a wrong number of
/// verdicts too; a good batch is acted on message by message (bounces deleted, the reply
/// kept), and batches close at the byte limit.
#[tokio::test]
async fn batched_scans_act_only_on_batches_the_handler_stored() {
    use rebound_mailbox::{scan_batched, Batch};
    let Some(d) = Dovecot::start() else { return };
    for f in CORPUS_BOUNCES.iter().take(4) {
        d.deliver(&corpus(f));
    }
    d.deliver(&reply(9));
    let url = d.imaps_url("/INBOX?after=delete");
    let batch = Batch {
        messages: 3,
        bytes: 1 << 20,
    };
    let failed = scan_batched(&url, &HashSet::new(), batch, |_items| async {
        Err::<Vec<Verdict>, _>("disk full")
    })
    .await
    .unwrap();
    assert_eq!(failed.summary.errors, 5);
    assert_eq!(d.messages("INBOX").len(), 5);
    let short = scan_batched(&url, &HashSet::new(), batch, |_items| async {
        Ok::<_, String>(vec![Verdict { is_bounce: true }])
    })
    .await
    .unwrap();
    assert_eq!(short.summary.deleted, 0, "{:?}", short.errors);
    assert_eq!(d.messages("INBOX").len(), 5);
    let mut sizes = Vec::new();
    let good = scan_batched(
        &url,
        &HashSet::new(),
        Batch {
            messages: 3,
            bytes: 1,
        },
        |items: Vec<(String, Vec<u8>)>| {
            sizes.push(items.len());
            let verdicts = items
                .iter()
                .map(|(_, m)| Verdict {
                    is_bounce: !is_reply(m),
                })
                .collect();
            async move { Ok::<_, String>(verdicts) }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sizes,
        vec![1; 5],
        "a 1-byte limit closes every batch at one message"
    );
    assert_eq!(good.summary.deleted, 4);
    assert_eq!(good.summary.kept, 1);
    let left = d.messages("INBOX");
    assert_eq!(left.len(), 1);
    assert!(
        is_reply(&as_served(&left[0]))
            || String::from_utf8_lossy(&left[0]).contains("X-Test-Kind: reply")
    );
}

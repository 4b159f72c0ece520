//! Benchmark (ignored by default; run by `bench/mailbox.sh`): messages/s of a full scan pass
//! over a 10,000-message mailbox in a real Dovecot on loopback, over IMAPS and POP3S.
//!
//! The mailbox is filled with the corpus bounces repeated (read in place). Each pass is a
//! `scan` with `after=keep` whose handler only counts bytes: what is measured is the
//! client, TLS and Dovecot, not storage. The first IMAP pass is reported separately: it is
//! where Dovecot indexes the new maildir files.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use common::{shared_dir, Dovecot};
use rebound_mailbox::{scan, MailboxUrl, Verdict};

async fn pass(url: &MailboxUrl) -> (usize, u64, f64) {
    let bytes = Arc::new(AtomicU64::new(0));
    let b = bytes.clone();
    let start = Instant::now();
    let outcome = scan(url, &HashSet::new(), move |_id, m| {
        b.fetch_add(m.len() as u64, Ordering::Relaxed);
        async { Ok::<_, String>(Verdict { is_bounce: true }) }
    })
    .await
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.errors);
    (outcome.summary.fetched, bytes.load(Ordering::Relaxed), secs)
}

fn report(what: &str, (n, bytes, secs): (usize, u64, f64)) {
    println!(
        "{what:<28} {n:>6} messages {:>7.1} MB in {secs:>6.2} s: {:>7.0} messages/s, {:>6.1} MB/s",
        bytes as f64 / 1e6,
        n as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}

#[tokio::test]
#[ignore = "benchmark: run bench/mailbox.sh"]
async fn bench_scan_10k_messages() {
    let count: usize = std::env::var("MAILBOX_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let Some(d) = Dovecot::start() else { return };
    let dir = shared_dir().join("corpus/bounces/maildir/bsd");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let corpus: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!corpus.is_empty());
    let mut total = 0;
    for i in 0..count {
        let m = &corpus[i % corpus.len()];
        total += m.len();
        d.deliver(m);
    }
    println!(
        "mailbox: {count} messages, {:.1} MB (the {} corpus bounces repeated), Dovecot on loopback, TLS",
        total as f64 / 1e6,
        corpus.len()
    );
    let imap = d.imaps_url("/INBOX?after=keep");
    let pop3 = d.pop3s_url("?after=keep");
    let first = pass(&imap).await;
    assert_eq!(first.0, count);
    report("IMAPS first pass (indexing)", first);
    for round in 1..=3 {
        let r = pass(&imap).await;
        assert_eq!(r.0, count);
        report(&format!("IMAPS pass {round}"), r);
        let r = pass(&pop3).await;
        assert_eq!(r.0, count);
        report(&format!("POP3S pass {round}"), r);
    }
}

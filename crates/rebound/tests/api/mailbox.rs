//! Bounce mailboxes end to end against a real Dovecot (one per test, see the harness in
//! `crates/rebound-mailbox/tests/common`): sources through the API, scans over IMAP and
//! POP3, events equal to `rebound parse`, delete / move / keep, a scan killed between
//! storing and deleting, and the trust rules (forged DSN, signed VERP).

#[path = "../../../rebound-mailbox/tests/common/mod.rs"]
#[allow(dead_code, clippy::all)]
mod dovecot;

use std::collections::BTreeSet;
use std::process::Command;

use dovecot::{corpus, percent, Dovecot, CORPUS_BOUNCES, USER};
use rebound_core::bounces;
use serde_json::{json, Value};

use crate::helpers::*;

fn url(d: &Dovecot, scheme: &str, port: u16, rest: &str) -> String {
    let sep = if rest.contains('?') { '&' } else { '?' };
    format!(
        "{scheme}://{USER}:{}@127.0.0.1:{port}{rest}{sep}ca={}",
        percent(&d.password),
        percent(&d.ca().display().to_string())
    )
}

/// (recipient, reason) of every record `rebound parse` finds in the corpus bounces.
fn parsed(files: &[&str]) -> BTreeSet<(String, String)> {
    files
        .iter()
        .flat_map(|f| bounces::parse(&corpus(f)))
        .filter_map(|r| Some((r.recipient?.to_lowercase(), r.reason.as_str().to_string())))
        .collect()
}

async fn events(app: &TestApp) -> BTreeSet<(String, String)> {
    let (_, v) = app.get("/api/v1/events?limit=1000").await;
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["email"]
                    .as_str()
                    .or(e["recipient"].as_str())
                    .unwrap_or_default()
                    .to_lowercase(),
                e["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn scan(app: &TestApp, id: &Value) -> (u16, Value) {
    app.api(
        reqwest::Method::POST,
        &format!("/api/v1/sources/{id}/scan"),
        None,
    )
    .await
}

/// Source `id` as `GET /api/v1/sources` lists it.
async fn listed(app: &TestApp, id: &Value) -> Value {
    let (_, list) = app.get("/api/v1/sources").await;
    list["items"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == *id).cloned())
        .expect("source")
}

async fn mailbox_source(app: &TestApp, url: &str, trust: &str) -> Value {
    app.create_source(json!({"provider": "mailbox", "name": "bounces", "url": url, "trust": trust}))
        .await
}

async fn scan_gives_the_events_of_parse(scheme: &str) {
    let Some(d) = Dovecot::start() else { return };
    for f in CORPUS_BOUNCES {
        d.deliver(&corpus(f));
    }
    d.deliver(&dovecot::reply(1));
    let app = spawn_app().await;
    let port = if scheme == "imaps" { d.imaps } else { d.pop3s };
    let rest = if scheme == "imaps" {
        "/INBOX?after=delete"
    } else {
        "?after=delete"
    };
    let src = mailbox_source(&app, &url(&d, scheme, port, rest), "any").await;
    let (status, report) = scan(&app, &src["id"]).await;
    assert_eq!(status, 200, "{report}");
    let n = CORPUS_BOUNCES.len() as u64;
    assert_eq!(report["fetched"], n + 1, "{report}");
    assert_eq!(report["deleted"], n, "{report}");
    assert_eq!(report["kept"], 1, "{report}");
    // The source keeps the pass's result, for the Sources page.
    let found = ["bounces", "complaints", "auto_replies"]
        .iter()
        .filter_map(|k| report[*k].as_u64())
        .sum::<u64>();
    let s = listed(&app, &src["id"]).await;
    let msg = s["status_message"].as_str().unwrap_or_default();
    assert!(
        s["status"] == "active"
            && msg.starts_with("last scan ")
            && msg.ends_with(&format!(
                ": {} message(s) read, {found} event(s) found",
                n + 1
            )),
        "{s}"
    );
    app.drain().await;
    let want = parsed(CORPUS_BOUNCES);
    assert!(want.len() >= CORPUS_BOUNCES.len(), "{want:?}");
    assert_eq!(events(&app).await, want);
    // Only the human reply is left on the server.
    let left = d.messages("INBOX");
    assert_eq!(left.len(), 1);
    assert!(String::from_utf8_lossy(&left[0]).contains("X-Test-Kind: reply"));
}

#[tokio::test]
async fn imap_scan_gives_the_events_of_parse_and_deletes_only_bounces() {
    scan_gives_the_events_of_parse("imaps").await;
}

#[tokio::test]
async fn pop3_scan_gives_the_events_of_parse_and_deletes_only_bounces() {
    scan_gives_the_events_of_parse("pop3s").await;
}

#[tokio::test]
async fn keep_scans_each_message_once_and_move_files_them() {
    let Some(d) = Dovecot::start() else { return };
    d.deliver(&corpus("lhost-postfix-01.eml"));
    d.deliver(&dovecot::reply(2));
    let app = spawn_app().await;
    let keep = mailbox_source(&app, &url(&d, "imaps", d.imaps, "/INBOX?after=keep"), "any").await;
    let (_, first) = scan(&app, &keep["id"]).await;
    assert_eq!(first["fetched"], 2, "{first}");
    assert_eq!(first["kept"], 2, "{first}");
    let (_, second) = scan(&app, &keep["id"]).await;
    assert_eq!(second["fetched"], 0, "{second}");
    app.drain().await;
    let once = app.event_count().await;
    assert!(once > 0);
    assert_eq!(d.messages("INBOX").len(), 2);

    let moving = mailbox_source(
        &app,
        &url(&d, "imaps", d.imaps, "/INBOX?after=move:Processed"),
        "any",
    )
    .await;
    let (status, r) = scan(&app, &moving["id"]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["moved"], 2, "{r}");
    assert_eq!(
        r["already_stored"], 0,
        "another source has its own ids: {r}"
    );
    assert!(d.messages("INBOX").is_empty());
    assert_eq!(d.messages("Processed").len(), 2);
    app.drain().await;
    // The same bytes through another source: the events are not counted twice.
    assert_eq!(app.event_count().await, once);
}

#[tokio::test]
async fn the_password_is_never_shown_and_a_bad_one_is_a_clear_error() {
    let Some(d) = Dovecot::start() else { return };
    let app = spawn_app().await;
    let good = url(&d, "imaps", d.imaps, "/INBOX?after=keep");
    let src = mailbox_source(&app, &good, "known-contact").await;
    let (_, list) = app.get("/api/v1/sources").await;
    let text = list.to_string();
    assert!(!text.contains(&percent(&d.password)) && !text.contains(&d.password));
    assert!(
        src["url"].as_str().unwrap_or_default().contains("***"),
        "{src}"
    );
    assert!(src.get("secret").is_none());

    let bad = good.replace(&percent(&d.password), "wrong-password");
    let bad_src = mailbox_source(&app, &bad, "any").await;
    let (status, v) = scan(&app, &bad_src["id"]).await;
    assert_eq!(status, 502, "{v}");
    assert!(v.to_string().to_lowercase().contains("auth"), "{v}");
    let s = listed(&app, &bad_src["id"]).await;
    assert_eq!(s["status"], "error");
    assert!(
        s["status_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("last scan ") && m.contains(" failed: ")),
        "{s}"
    );

    let (status, v) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/sources",
            Some(json!({"provider": "mailbox", "name": "x", "url": "imap://u:p@host/INBOX?tls=none"})),
        )
        .await;
    assert_eq!(status, 400, "plaintext without insecure=true: {v}");
}

fn dsn(to: &str, rcpt: &str, n: u32) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.net\nTo: {to}\nSubject: Undelivered Mail Returned to Sender\n\
Message-ID: <dsn-{n}@mx.example.net>\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B{n}\"\n\n\
--B{n}\nContent-Type: text/plain\n\n<{rcpt}>: host mx.example.net[192.0.2.1] said: 550 5.1.1 user unknown (in reply to RCPT TO command)\n\
--B{n}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: user unknown (in reply to RCPT TO command)\n\n--B{n}--\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_forged_dsn_changes_nothing_and_a_signed_verp_suppresses_the_right_contact() {
    let Some(d) = Dovecot::start() else { return };
    let app = spawn_app().await;
    for email in ["known@example.org", "other@example.org"] {
        let (s, v) = app
            .api(
                reqwest::Method::POST,
                "/api/v1/contacts",
                Some(json!({"email": email})),
            )
            .await;
        assert!(s == 201 || s == 200, "{v}");
    }
    let (s, v) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/verp",
            Some(json!({"address": "other@example.org", "return_path": "bounces@example.com"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let verp = v["return_path"].as_str().expect("return path").to_string();
    assert!(
        verp.starts_with("bounces+") && verp.ends_with("@example.com"),
        "{verp}"
    );
    // A forged signature: the same token with another tag.
    let forged = format!(
        "{}-0000000000000000@example.com",
        verp.rsplit_once('-').map_or("", |x| x.0)
    );

    d.deliver(&dsn("bounces@example.com", "stranger@example.org", 1));
    d.deliver(&dsn("bounces@example.com", "known@example.org", 2));
    // Sent to the VERP address of other@: the report itself names an alias.
    d.deliver(&dsn(&verp, "alias@elsewhere.example", 3));
    d.deliver(&dsn(&forged, "alias2@elsewhere.example", 4));
    let src = mailbox_source(
        &app,
        &url(&d, "imaps", d.imaps, "/INBOX?after=delete"),
        "known-contact",
    )
    .await;
    let (status, r) = scan(&app, &src["id"]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["fetched"], 4, "{r}");
    assert_eq!(
        r["unmatched"], 2,
        "stranger and alias2 are not contacts: {r}"
    );
    let report = app.drain().await;
    assert_eq!(report.unmatched, 2, "{report:?}");

    let (status, _) = app.contact("stranger@example.org").await;
    assert_eq!(
        status, 404,
        "a forged DSN must not create or change a contact"
    );
    let (status, _) = app.contact("alias2@elsewhere.example").await;
    assert_eq!(status, 404);
    let (_, known) = app.contact("known@example.org").await;
    assert_eq!(known["status"], "bounced", "{known}");
    let (_, other) = app.contact("other@example.org").await;
    assert_eq!(
        other["status"], "bounced",
        "the VERP address names other@: {other}"
    );
    // The unmatched recipients are visible in the log.
    let log = app.log().await;
    assert!(
        log.iter().any(|l| l.to_string().contains("unmatched")
            && l.to_string().contains("stranger@example.org")),
        "{log:?}"
    );
}

#[tokio::test]
async fn verp_only_trust_ignores_the_reports_own_recipients() {
    let Some(d) = Dovecot::start() else { return };
    let app = spawn_app().await;
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "known@example.org"})),
        )
        .await;
    assert!(s == 201 || s == 200);
    d.deliver(&dsn("bounces@example.com", "known@example.org", 5));
    let src = mailbox_source(
        &app,
        &url(&d, "imaps", d.imaps, "/INBOX?after=keep"),
        "verp",
    )
    .await;
    let (_, r) = scan(&app, &src["id"]).await;
    assert_eq!(r["unmatched"], 1, "{r}");
    app.drain().await;
    let (_, known) = app.contact("known@example.org").await;
    assert_eq!(known["status"], "subscribed", "{known}");
    let log = app.log().await;
    assert!(
        log.iter().any(|l| {
            let t = l.to_string();
            t.contains("unmatched") && t.contains("verp") && t.contains("known@example.org")
        }),
        "{log:?}"
    );
}

fn rebound(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rebound"));
    c.arg("--data-dir").arg(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run rebound")
}

#[test]
fn a_scan_killed_between_storing_and_deleting_loses_nothing_and_counts_once() {
    let Some(d) = Dovecot::start() else { return };
    for f in CORPUS_BOUNCES {
        d.deliver(&corpus(f));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let u = url(&d, "imaps", d.imaps, "/INBOX?after=delete");
    let args = [
        "mailbox",
        "scan",
        "--url",
        u.as_str(),
        "--trust",
        "any",
        "--json",
    ];
    // The first batch is stored (fsync'd), then the process dies before deleting anything.
    let killed = rebound(
        dir.path(),
        &args,
        &[("REBOUND_TEST_ABORT_AFTER_STORE", "1")],
    );
    assert!(!killed.status.success(), "the hook must kill the scan");
    assert_eq!(
        d.messages("INBOX").len(),
        CORPUS_BOUNCES.len(),
        "nothing deleted yet"
    );

    // The killed pass still holds its mailbox's lock: the rerun (default --wait 35) says so
    // and waits for the lock's 30 s lease to run out.
    let out = rebound(dir.path(), &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("another pass over this mailbox holds its lock")
            && stderr.contains("waiting up to 35 s"),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    let n = CORPUS_BOUNCES.len() as u64;
    assert_eq!(v["fetched"], n, "{v}");
    // The first batch was stored (fsync'd) before the kill: recognised, not stored again.
    let again = v["already_stored"].as_u64().unwrap_or(0);
    assert!(
        again >= 1 && again <= n,
        "the batch stored before the kill: {v}"
    );
    assert_eq!(v["deleted"], n, "{v}");
    assert!(d.messages("INBOX").is_empty());

    // Every message is in the inbox exactly once, and its events were counted once.
    let db = rusqlite::Connection::open(dir.path().join("rebound.db")).expect("db");
    let rows: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM inbox WHERE provider = 'mailbox'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(rows, n as i64);
    let events: i64 = db
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .expect("count");
    assert_eq!(events as usize, parsed(CORPUS_BOUNCES).len());
}

/// Waits (without blocking the runtime) for the INBOX to be emptied by a scan.
async fn inbox_empties(d: &Dovecot) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !d.messages("INBOX").is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    d.messages("INBOX").is_empty()
}

/// `serve`'s scheduler: a source with an interval is scanned at once, and a message that
/// arrives later is picked up through IMAP IDLE long before the (one-hour) interval.
#[tokio::test]
async fn the_scheduler_scans_at_start_and_idle_brings_new_mail_at_once() {
    let Some(d) = Dovecot::start() else { return };
    let app = spawn_app().await;
    d.deliver(&dsn("bounces@example.com", "first@example.org", 11));
    mailbox_source(
        &app,
        &url(&d, "imaps", d.imaps, "/INBOX?after=delete&interval=1h"),
        "any",
    )
    .await;
    tokio::spawn(rebound_server::mailbox::scheduler(
        app.store.clone(),
        app.state.wake.clone(),
        std::time::Duration::from_millis(200),
    ));
    let first = inbox_empties(&d).await;
    let (_, sources) = app.get("/api/v1/sources").await;
    assert!(first, "the first pass did not run: {sources}");
    // Give the IDLE watcher time to connect, then deliver.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    d.deliver(&dsn("bounces@example.com", "second@example.org", 12));
    assert!(
        inbox_empties(&d).await,
        "the new message was not scanned (IDLE)"
    );
    app.drain().await;
    for who in ["first@example.org", "second@example.org"] {
        let (_, c) = app.contact(who).await;
        assert_eq!(c["status"], "bounced", "{who}: {c}");
    }
}

/// Benchmark (ignored; run by `bench/mailbox.sh`): messages/s of the whole pass rebound
/// makes — fetch, parse, durable inbox row + message id (fsync'd group commits) — over a
/// 10,000-message mailbox, IMAPS and POP3S, `after=keep`. A new source per pass, so every
/// message is stored again.
#[tokio::test]
#[ignore = "benchmark: run bench/mailbox.sh"]
async fn bench_full_scan_10k_messages() {
    let count: usize = std::env::var("MAILBOX_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let Some(d) = Dovecot::start() else { return };
    let dir = dovecot::shared_dir().join("corpus/bounces/maildir/bsd");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let corpus: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    for i in 0..count {
        d.deliver(&corpus[i % corpus.len()]);
    }
    let app = spawn_app().await;
    for round in 1..=2 {
        for (scheme, port, rest) in [
            ("imaps", d.imaps, "/INBOX?after=keep"),
            ("pop3s", d.pop3s, "?after=keep"),
        ] {
            let src = mailbox_source(&app, &url(&d, scheme, port, rest), "any").await;
            let started = std::time::Instant::now();
            let (status, r) = scan(&app, &src["id"]).await;
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(status, 200, "{r}");
            assert_eq!(r["fetched"], count as u64, "{r}");
            println!(
                "{scheme} pass {round}: {count} messages fetched, parsed and stored in {secs:.2} s: {:.0} messages/s (bounces {}, other {})",
                count as f64 / secs,
                r["bounces"],
                r["other"]
            );
        }
    }
}

/// The returned message's Message-ID is a send rebound has seen through a webhook source:
/// the bounce is about that send's contact, even when the report names another address.
#[tokio::test]
async fn a_bounce_is_matched_to_the_send_by_its_message_id() {
    let Some(d) = Dovecot::start() else { return };
    let app = spawn_app().await;
    let generic = app
        .create_source(json!({"provider": "generic", "name": "app events"}))
        .await;
    let (status, v) = post_generic(
        &app,
        &generic,
        generic_event(
            "e1",
            "delivered",
            "sent-to@example.org",
            "2026-11-22T10:00:00Z",
        ),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    app.drain().await;
    // The report names the forwarding target, the returned header the send's Message-ID.
    let mut raw = String::from_utf8(dsn(
        "bounces@example.com",
        "forwarded@elsewhere.example",
        21,
    ))
    .expect("utf-8");
    raw = raw.replace(
        "--B21--\n",
        "--B21\nContent-Type: text/rfc822-headers\n\nMessage-ID: <msg-e1>\nTo: sent-to@example.org\n\n--B21--\n",
    );
    d.deliver(raw.as_bytes());
    let src = mailbox_source(
        &app,
        &url(&d, "imaps", d.imaps, "/INBOX?after=delete"),
        "known-contact",
    )
    .await;
    let (status, r) = scan(&app, &src["id"]).await;
    assert_eq!(status, 200, "{r}");
    let report = app.drain().await;
    assert_eq!(report.unmatched, 0, "{report:?}");
    let (_, c) = app.contact("sent-to@example.org").await;
    assert_eq!(c["status"], "bounced", "{c}");
    let (status, _) = app.contact("forwarded@elsewhere.example").await;
    assert_eq!(status, 404, "the forwarding target is not made a contact");
}

/// Two passes over one mailbox at once would fight over it: the second is refused (409).
#[tokio::test]
async fn a_second_concurrent_scan_of_a_mailbox_is_refused() {
    let Some(d) = Dovecot::start() else { return };
    // Enough messages that the first pass is still running when the second asks.
    for i in 0..1500 {
        d.deliver(&dsn(
            "bounces@example.com",
            &format!("u{i}@example.org"),
            100 + i,
        ));
    }
    let app = spawn_app().await;
    let src = mailbox_source(&app, &url(&d, "imaps", d.imaps, "/INBOX?after=keep"), "any").await;
    let (a, b) = tokio::join!(scan(&app, &src["id"]), async {
        // Let the first pass start.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        scan(&app, &src["id"]).await
    });
    let codes = [a.0, b.0];
    assert!(codes.contains(&200), "{a:?} {b:?}");
    assert!(codes.contains(&409), "{a:?} {b:?}");
    // Once the first is over, a new pass runs (and finds everything already stored).
    let (status, r) = scan(&app, &src["id"]).await;
    assert_eq!(status, 200, "{r}");
}

/// `rebound --database-url <the app's database> ARGS…`: another process on the app's
/// database (SQLite file or PostgreSQL database).
fn rebound_on(app: &TestApp, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rebound"));
    c.current_dir(app._dir.path())
        .arg("--database-url")
        .arg(app.database_url())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

/// Another node on the same database holds the mailbox's lock: the API answers 409 and the
/// CLI (another process) reports busy at once with `--wait 0` or waits for the lock; nothing
/// is fetched or deleted meanwhile. Once it is given up, the waiting pass runs, and gives its
/// own lock up at its end. Runs on SQLite and on PostgreSQL (REBOUND_TEST_BACKEND).
#[tokio::test]
async fn a_mailbox_locked_by_another_node_is_not_scanned_until_the_lock_is_given_up() {
    let Some(d) = Dovecot::start() else { return };
    for f in CORPUS_BOUNCES {
        d.deliver(&corpus(f));
    }
    let n = CORPUS_BOUNCES.len();
    let app = spawn_app().await;
    let u = url(&d, "imaps", d.imaps, "/INBOX?after=delete");
    let src = mailbox_source(&app, &u, "any").await;
    let id = src["id"].to_string();
    let name = rebound_server::mailbox::lock_name(
        &rebound_mailbox::MailboxUrl::parse(&u).expect("mailbox url"),
    );
    let node2 = app.other_store();
    let now = rebound_server::state::now_ms();
    assert!(node2
        .try_lock(&name, "node-2", now + 120_000, now)
        .await
        .expect("lock"));

    let (status, v) = scan(&app, &src["id"]).await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("another pass"),
        "{v}"
    );

    let out = rebound_on(
        &app,
        &["mailbox", "scan", "--source", &id, "--wait", "0", "--json"],
    )
    .output()
    .expect("run rebound");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "busy must fail: {stderr}");
    assert!(
        stderr.contains("another pass") && stderr.contains("--wait"),
        "{stderr}"
    );
    assert_eq!(d.messages("INBOX").len(), n, "nothing deleted while locked");
    let (_, list) = app.get("/api/v1/sources").await;
    let s = list["items"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == src["id"]).cloned())
        .expect("source");
    assert_ne!(s["status"], "error", "busy is not the mailbox's fault: {s}");

    // The CLI waits for the lock; it runs once node 2 gives it up.
    let child = rebound_on(
        &app,
        &["mailbox", "scan", "--source", &id, "--wait", "30", "--json"],
    )
    .spawn()
    .expect("spawn rebound");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        d.messages("INBOX").len(),
        n,
        "nothing deleted while node 2 holds the lock"
    );
    node2.unlock(&name, "node-2").await.expect("unlock");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("rebound output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("waiting up to 30 s"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(v["deleted"], n as u64, "{v}");
    assert!(d.messages("INBOX").is_empty());

    // The pass gave its lock up at its end: free at once, not after its lease.
    let now = rebound_server::state::now_ms();
    assert!(
        node2
            .try_lock(&name, "node-2", now + 120_000, now)
            .await
            .expect("lock"),
        "the pass gave its lock up"
    );
    let (status, v) = scan(&app, &src["id"]).await;
    assert_eq!(status, 409, "held again by node 2: {v}");
    node2.unlock(&name, "node-2").await.expect("unlock");
    let (status, v) = scan(&app, &src["id"]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fetched"], 0, "{v}");
}

/// Two processes on one database: while a `rebound mailbox scan` process passes over a
/// mailbox, the server (another process) answers 409 and a second CLI process reports busy;
/// the first pass ends normally. Runs on SQLite and on PostgreSQL (REBOUND_TEST_BACKEND).
#[tokio::test]
async fn two_processes_on_one_database_never_pass_over_one_mailbox_at_once() {
    let Some(d) = Dovecot::start() else { return };
    // Enough messages that the first pass is still running when the others ask.
    let n = 1500u32;
    for i in 0..n {
        d.deliver(&dsn(
            "bounces@example.com",
            &format!("p{i}@example.org"),
            5000 + i,
        ));
    }
    let app = spawn_app().await;
    let src = mailbox_source(&app, &url(&d, "imaps", d.imaps, "/INBOX?after=keep"), "any").await;
    let id = src["id"].to_string();
    let args = [
        "mailbox",
        "scan",
        "--source",
        &id,
        "--wait",
        "0",
        "--no-process",
        "--json",
    ];
    let first = rebound_on(&app, &args).spawn().expect("spawn rebound");
    // Its first batch is stored: its pass holds the lock and has most of the mailbox to go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let c = app.store.inbox_counts().await.expect("counts");
        if c.pending > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first pass stores nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, v) = scan(&app, &src["id"]).await;
    let second = rebound_on(&app, &args).output().expect("run rebound");
    let first = tokio::task::spawn_blocking(move || first.wait_with_output())
        .await
        .expect("join")
        .expect("rebound output");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: Value = serde_json::from_slice(&first.stdout).expect("json summary");
    assert_eq!(report["fetched"], n, "{report}");
    assert_eq!(status, 409, "the server's pass meanwhile: {v}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success() && stderr.contains("another pass"),
        "the second process meanwhile: {stderr}"
    );
    // Once the first is over, a new pass runs (and finds everything already stored).
    let (status, r) = scan(&app, &src["id"]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["fetched"], 0, "{r}");
}

/// A pass whose lock is taken from it (here by a node whose clock says the lease ran out)
/// stops at its next renewal: no step of it runs afterwards, and the new holder keeps the
/// lock. Before that, the renewals kept the lock past its first lease.
#[tokio::test]
async fn a_pass_that_loses_its_mailbox_lock_stops_at_its_next_renewal() {
    use rebound_server::mailbox::{exclusive, Lease, ScanError};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    let app = spawn_app().await;
    let name = "mailbox:test@lost.example:993/INBOX";
    let lease = Lease {
        length: Duration::from_millis(2000),
        renew_every: Duration::from_millis(400),
    };
    let steps = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = steps.clone();
    // Stands for deleting one message after another, for 20 s at most.
    let pass = async move {
        for _ in 0..1000 {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<_, ScanError>(())
    };
    let node2 = app.other_store();
    let thief = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(3000)).await;
        let now = rebound_server::state::now_ms();
        let renewed = !node2
            .try_lock(name, "node-2", now + 60_000, now)
            .await
            .expect("lock");
        // A clock an hour ahead sees the lease run out.
        let later = now + 3_600_000;
        let stolen = node2
            .try_lock(name, "node-2", later + 60_000, later)
            .await
            .expect("lock");
        (renewed, stolen, std::time::Instant::now(), node2)
    });
    let r = exclusive(&app.store, "lost-test", name, lease, pass).await;
    let ended = std::time::Instant::now();
    let (renewed, stolen, at, node2) = thief.await.expect("join");
    assert!(renewed, "renewals keep the lock past its first 2 s lease");
    assert!(stolen);
    assert!(
        matches!(&r, Err(ScanError::LockLost(why)) if why.contains("another pass")),
        "{r:?}"
    );
    assert!(
        ended.duration_since(at) < Duration::from_millis(1500),
        "stops at the next renewal (every 400 ms): {:?}",
        ended.duration_since(at)
    );
    let done = steps.load(Ordering::SeqCst);
    assert!(done > 50 && done < 1000, "{done}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        steps.load(Ordering::SeqCst),
        done,
        "no step after it stopped"
    );
    // The loser's unlock leaves the new holder's lock alone.
    let now = rebound_server::state::now_ms();
    assert!(!node2
        .try_lock(name, "node-3", now + 60_000, now)
        .await
        .expect("lock"));
}

/// A store that does not answer (here the SQLite file held by another connection's
/// exclusive transaction) stops the pass before its lease can run out on another node.
#[tokio::test]
async fn a_pass_whose_store_does_not_answer_stops_before_its_lease_runs_out() {
    use rebound_server::mailbox::{exclusive, Lease, ScanError};
    use std::time::Duration;

    if on_postgres() {
        return; // The SQLite file is held below; the other test runs on both backends.
    }
    let app = spawn_app().await;
    let lease = Lease {
        length: Duration::from_millis(3000),
        renew_every: Duration::from_millis(1000),
    };
    let db = app.db.clone();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let c = rusqlite::Connection::open(&db).expect("open");
        c.execute_batch("BEGIN EXCLUSIVE").expect("begin exclusive");
        let _ = held_tx.send(std::time::Instant::now());
        let _ = release_rx.recv_timeout(Duration::from_secs(30));
        c.execute_batch("ROLLBACK").expect("rollback");
    });
    let pass = async {
        tokio::time::sleep(Duration::from_secs(20)).await;
        Ok::<_, ScanError>(())
    };
    let started = std::time::Instant::now();
    let r = exclusive(&app.store, "stuck-test", "mailbox:stuck", lease, pass).await;
    let ended = std::time::Instant::now();
    let _ = release_tx.send(());
    let held_at = held_rx.await.expect("held");
    blocker.join().expect("blocker");
    assert!(held_at < started + Duration::from_secs(2), "held mid-pass");
    assert!(
        matches!(&r, Err(ScanError::LockLost(why)) if why.contains("did not answer")),
        "{r:?}"
    );
    // Every lease the pass had ends within 3 s of the file being held; the pass stops 2 s
    // after its last renewal (made before the file was held), 1 s before that renewal's
    // lease runs out.
    let after = ended.duration_since(held_at);
    assert!(
        after < lease.length,
        "stopped before its lease ran out: {after:?} after the file was held"
    );
}

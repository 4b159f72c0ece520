//! Durability and failure handling: kill -9 between acknowledgement and processing, and
//! rows that keep failing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rebound_core::Policy;
use rebound_server::worker::{self, WorkerConfig};
use rebound_store::{NewInbox, NewLogEntry, Store};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn api(client: &reqwest::Client, port: u16, path: &str) -> Value {
    client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// A generic source added with the CLI in `dir`: its URL key and secret.
fn add_generic_source(dir: &std::path::Path) -> (String, String) {
    let out = Command::new(bin())
        .args([
            "--data-dir",
            dir.to_str().expect("utf-8"),
            "source",
            "add",
            "--provider",
            "generic",
            "--name",
            "G",
            "--json",
        ])
        .output()
        .expect("source add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let src: Value = serde_json::from_slice(&out.stdout).expect("json");
    (
        src["key"].as_str().expect("key").to_string(),
        src["secret"].as_str().expect("secret").to_string(),
    )
}

/// Posts one signed generic-provider webhook; its HTTP status.
async fn post_event(
    client: &reqwest::Client,
    port: u16,
    (key, secret): (&str, &str),
    body: Vec<u8>,
) -> u16 {
    client
        .post(format!("http://127.0.0.1:{port}/webhooks/generic/{key}"))
        .header("x-webhook-signature", hex_hmac(secret, &body))
        .body(body)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

/// Acknowledged but unprocessed (workers paused) → kill -9 → restart → processed exactly once.
#[tokio::test]
async fn acknowledged_events_survive_kill_9_and_are_processed_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let (key, secret) = add_generic_source(dir.path());

    let port = free_port();
    let mut child = start(dir.path(), port, 0);
    wait_ready(&client, port).await;
    const N: usize = 60;
    let mut acked = 0;
    for i in 0..N {
        // 20 addresses, 3 soft bounces each (days apart) → all 20 bounced once processed.
        let body = generic_event(
            &format!("e{i}"),
            "bounced.soft",
            &format!("k{}@example.com", i % 20),
            &format!("2026-04-{:02}T00:00:00Z", 1 + i / 20),
        );
        assert_eq!(post_event(&client, port, (&key, &secret), body).await, 200);
        acked += 1;
    }
    let v = api(&client, port, "/readyz").await;
    assert_eq!(
        v["inbox"]["pending"], N,
        "workers are paused: nothing processed yet"
    );
    child.kill().expect("kill -9");
    child.wait().expect("reap");

    let port = free_port();
    let mut child = start(dir.path(), port, 2);
    wait_ready(&client, port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = api(&client, port, "/readyz").await;
        if v["inbox"]["pending"] == 0 {
            assert_eq!(v["inbox"]["done"], acked);
            break;
        }
        assert!(Instant::now() < deadline, "not drained: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = api(&client, port, "/api/v1/events?limit=1000").await;
    assert_eq!(
        events["items"].as_array().map(Vec::len),
        Some(N),
        "each event exactly once"
    );
    let bounced = api(&client, port, "/api/v1/contacts?status=bounced&limit=1000").await;
    assert_eq!(bounced["items"].as_array().map(Vec::len), Some(20));
    assert!(bounced["items"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|c| c["soft_bounce_count"] == 3));
    let _ = child.kill();
    let _ = child.wait();
}

fn bad_row(n: i64) -> (NewInbox, NewLogEntry) {
    (
        NewInbox {
            source_id: 1,
            provider: "tosend".into(),
            received_at: n,
            headers: vec![],
            body: b"not json".to_vec(),
        },
        NewLogEntry {
            received_at: n,
            method: "POST".into(),
            path: "/test".into(),
            http_status: 200,
            outcome: "accepted".into(),
            ..Default::default()
        },
    )
}

/// A row that keeps failing is retried with backoff, then marked failed with its error; the
/// rows behind it are processed meanwhile; a replay re-runs a row idempotently.
#[tokio::test]
async fn failing_rows_are_retried_then_failed_without_blocking_others() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let (item, log) = bad_row(1);
    let bad_id = app.store.ingest(item, log).await.expect("ingest");
    let (code, _) = app
        .post_shown(&src, &[], fixture("tosend", "bounce-hard.json"))
        .await;
    assert_eq!(code, 200);

    // A backoff long beside one worker step even on a loaded machine (the "not due yet"
    // step below must come before it ends), short beside the test.
    let cfg = WorkerConfig {
        max_attempts: 3,
        backoff_base_ms: 400,
        ..Default::default()
    };
    let first = worker::run_once(&app.store, Policy::default(), &cfg)
        .await
        .expect("step");
    assert_eq!(
        (first.report.done, first.report.retried),
        (1, 1),
        "the good row is not blocked"
    );
    let (_, c) = app.contact("recipient@example.com").await;
    assert_eq!(c["status"], "bounced");

    // Not due yet: the backoff holds it.
    let early = worker::run_once(&app.store, Policy::default(), &cfg)
        .await
        .expect("step");
    assert_eq!(early.claimed, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut failed = 0;
    while failed == 0 {
        assert!(Instant::now() < deadline, "row never failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
        failed = worker::run_once(&app.store, Policy::default(), &cfg)
            .await
            .expect("step")
            .report
            .failed;
    }
    let log = app.log().await;
    let entry = log.iter().find(|e| e["id"] == bad_id).expect("log entry");
    assert_eq!(entry["processing"], "failed");
    assert_eq!(entry["attempts"], 3);
    assert!(
        entry["processing_error"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid JSON"),
        "{entry}"
    );
    let (_, failed_only) = app.get("/api/v1/log?processing=failed").await;
    assert_eq!(failed_only["items"].as_array().map(Vec::len), Some(1));

    // Replay: the failed row is queued again (and fails again: its body is still bad);
    // the good one is re-run without counting twice.
    let good_id = log
        .iter()
        .find(|e| e["processing"] == "done")
        .expect("done entry")["id"]
        .clone();
    for id in [bad_id.to_string(), good_id.to_string()] {
        let (code, v) = app
            .api(Method::POST, &format!("/api/v1/log/{id}/replay"), None)
            .await;
        assert_eq!(code, 202, "{v}");
    }
    let r = app.drain().await;
    assert_eq!((r.done, r.events, r.duplicates), (1, 0, 1));
    assert_eq!(app.event_count().await, 1);
    let rejected = app.log().await.len() as i64 + 100;
    let (code, _) = app
        .api(
            Method::POST,
            &format!("/api/v1/log/{rejected}/replay"),
            None,
        )
        .await;
    assert_eq!(code, 404);
}

/// A storage failure answers 503 (retryable), never 2xx and never a code that makes a
/// provider give up; once storage recovers, requests are accepted again.
#[tokio::test]
async fn a_storage_failure_answers_503_and_nothing_is_acknowledged() {
    if on_postgres() {
        return; // The failure is an SQLite trigger.
    }
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let db = app.db.clone();
    // A real SQLite error on every inbox insert, from a second connection.
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch("CREATE TRIGGER fail_inbox BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;")
        .expect("trigger");
    let (code, v) = app
        .post_shown(&src, &[], fixture("tosend", "bounce-hard.json"))
        .await;
    assert_eq!(code, 503, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("retry"),
        "{v}"
    );
    assert_eq!(app.store.inbox_counts().await.expect("counts").pending, 0);
    conn.execute_batch("DROP TRIGGER fail_inbox").expect("drop");
    let (code, v) = app
        .post_shown(&src, &[], fixture("tosend", "bounce-hard.json"))
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(app.drain().await.events, 1);
}

/// Rows leased by a process that died are taken again once the lease expires, by another
/// store instance on the same database (here: a second open of the file, as another process
/// or node would); nothing releases them earlier. A worker's default lease is short.
#[tokio::test]
async fn rows_leased_by_a_crashed_worker_are_taken_again_when_the_lease_expires() {
    if on_postgres() {
        return; // Reads the lease columns with SQL; PostgreSQL's are in the store suite.
    }
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let (code, _) = app
        .post_shown(&src, &[], fixture("tosend", "complaint.json"))
        .await;
    assert_eq!(code, 200);
    // Another process claims the row, then "crashes" before applying it.
    const LEASE_MS: i64 = 1_500;
    {
        let other = rebound_store::sqlite::SqliteStore::open(&app.db).expect("open");
        let now = rebound_server::state::now_ms();
        let claimed = other.claim(10, now, now + LEASE_MS).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        let leased_by: String = other
            .read(|c| {
                Ok(c.query_row(
                    "SELECT locked_by FROM inbox WHERE locked_by IS NOT NULL",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .expect("read");
        assert_eq!(leased_by, other.node_id());
    }
    let taken = Instant::now();
    assert_eq!(app.drain().await.done, 0, "leased rows are not taken twice");
    assert_eq!(app.store.inbox_counts().await.expect("counts").pending, 1);
    let r = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = app.drain().await;
        if r.done > 0 {
            break r;
        }
        assert!(
            taken.elapsed() < Duration::from_secs(10),
            "never taken again"
        );
    };
    assert!(
        taken.elapsed() >= Duration::from_millis(LEASE_MS as u64 - 200),
        "taken before the lease expired"
    );
    assert_eq!((r.done, r.events, r.status_changes), (1, 1, 1));
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].email, "recipient@example.com");
    assert_eq!(
        (r.changes[0].old_status, r.changes[0].new_status),
        (
            rebound_core::Status::Subscribed,
            rebound_core::Status::Complained
        )
    );
    let (_, c) = app.contact("recipient@example.com").await;
    assert_eq!(c["status"], "complained");
    assert!(WorkerConfig::default().lease_ms <= 30_000);
}

/// `rebound replay --failed` requeues and processes failed rows; an unknown id is an error.
#[tokio::test]
async fn cli_replay_requeues_failed_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store: rebound_store::DynStore = std::sync::Arc::new(
            rebound_store::sqlite::SqliteStore::open(dir.path().join("rebound.db")).expect("open"),
        );
        let (item, log) = bad_row(1);
        store.ingest(item, log).await.expect("ingest");
        let cfg = WorkerConfig {
            max_attempts: 1,
            ..Default::default()
        };
        let r = worker::drain(&store, Policy::default(), &cfg)
            .await
            .expect("drain");
        assert_eq!(r.failed, 1);
    }
    let out = Command::new(bin())
        .args([
            "--data-dir",
            dir.path().to_str().expect("utf-8"),
            "replay",
            "--failed",
        ])
        .output()
        .expect("replay");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 failed request(s) queued again"), "{err}");
    assert!(err.contains("1 failed again"), "{err}");
    let out = Command::new(bin())
        .args([
            "--data-dir",
            dir.path().to_str().expect("utf-8"),
            "replay",
            "999",
        ])
        .output()
        .expect("replay");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request log entry 999"));
}

/// Without REBOUND_ADMIN_TOKEN the first start generates a token and prints it once; it
/// works for the API; the next start prints nothing and the token still works.
#[tokio::test]
async fn the_first_start_prints_a_generated_admin_token_once() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let run = |port: u16| {
        Command::new(bin())
            .args([
                "--data-dir",
                dir.path().to_str().expect("utf-8"),
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env_remove("REBOUND_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve")
    };
    let port = free_port();
    let mut first = run(port);
    let mut out = BufReader::new(first.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read");
    let token = line.trim().rsplit(' ').next().expect("token").to_string();
    assert!(
        line.contains("Admin API token") && token.starts_with("rbt_"),
        "{line}"
    );
    // The first UI admin, with a generated password, also shown once.
    let mut ui = String::new();
    out.read_line(&mut ui).expect("read");
    assert!(
        ui.starts_with("Web UI login (shown once; keep it safe): admin@localhost / "),
        "{ui}"
    );
    // The reader stops reading: the service must not mind a closed standard output.
    drop(out);
    wait_ready(&client, port).await;
    let ok = client
        .get(format!("http://127.0.0.1:{port}/api/v1/sources"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    first.kill().expect("kill");
    first.wait().expect("wait");

    let port = free_port();
    let mut second = run(port);
    wait_ready(&client, port).await;
    let ok = client
        .get(format!("http://127.0.0.1:{port}/api/v1/sources"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    second.kill().expect("kill");
    let out = second.wait_with_output().expect("output");
    assert!(out.stdout.is_empty(), "the token is printed only once");

    // A first start whose standard output is already closed still serves (the secrets are
    // lost, not the service: `rebound token rotate` and `rebound user add` make new ones).
    let other = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut closed = Command::new(bin())
        .args([
            "--data-dir",
            other.path().to_str().expect("utf-8"),
            "serve",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("REBOUND_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    drop(closed.stdout.take());
    wait_ready(&client, port).await;
    closed.kill().expect("kill");
    closed.wait().expect("wait");
}

/// Outbound webhooks: status changes committed with their outbox rows while the receiver is
/// down → kill -9 → receiver up, restart on the same data → every message delivered, each
/// once per `webhook-id`, signed (verified with the `standardwebhooks` package).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_messages_committed_before_kill_9_are_delivered_once_after_restart() {
    const N: usize = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let source = add_generic_source(dir.path());
    let allow = [("REBOUND_OUTBOUND_ALLOW", "127.0.0.0/8")];
    // Nothing listens on the receiver's port yet: every attempt is refused.
    let receiver_port = free_port();
    let port = free_port();
    let mut child = start_env(dir.path(), port, 2, &allow);
    wait_ready(&client, port).await;
    let url = format!("http://127.0.0.1:{receiver_port}/hook");
    let sub = client
        .post(format!("http://127.0.0.1:{port}/api/v1/subscriptions"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": url, "kind": "webhook", "events": ["contact.status_changed"]}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(sub.status().as_u16(), 201);
    let sub: Value = sub.json().await.expect("json");
    let (id, secret) = (
        sub["id"].as_i64().expect("id"),
        sub["secret"].as_str().expect("secret").to_string(),
    );
    for i in 0..N {
        let body = generic_event(
            &format!("o{i}"),
            "bounced.hard",
            &format!("gone{i}@example.com"),
            "2026-04-01T00:00:00Z",
        );
        assert_eq!(
            post_event(&client, port, (&source.0, &source.1), body).await,
            200
        );
    }
    // Committed: every change has its message, each attempted once and refused (the next
    // attempt is 5 s later); rebound is killed before any is delivered.
    let log = format!("/api/v1/subscriptions/{id}/deliveries?limit=1000");
    let deadline = Instant::now() + Duration::from_secs(30);
    let messages: std::collections::BTreeSet<String> = loop {
        let v = api(&client, port, &log).await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        assert!(items.iter().all(|d| d["ok"] == false), "{v}");
        let ids: std::collections::BTreeSet<String> = items
            .iter()
            .filter_map(|d| d["message_id"].as_str().map(str::to_string))
            .collect();
        if ids.len() == N {
            break ids;
        }
        assert!(Instant::now() < deadline, "not every change attempted: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().expect("kill -9");
    child.wait().expect("reap");

    let (receiver, _) = crate::receiver::start_receiver(receiver_port).await;
    let port = free_port();
    let mut child = start_env(dir.path(), port, 2, &allow);
    wait_ready(&client, port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.per_id().len() < N {
        assert!(
            Instant::now() < deadline,
            "delivered {} of {N}",
            receiver.per_id().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing more comes: each message once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let per_id = receiver.per_id();
    assert_eq!(
        per_id
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        messages
    );
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
    let got = receiver.got();
    let emails: std::collections::BTreeSet<String> = got
        .iter()
        .map(|g| {
            let b: Value = serde_json::from_str(&g.body).expect("JSON body");
            b["data"]["email"].as_str().expect("email").to_string()
        })
        .collect();
    assert_eq!(emails.len(), N);
    crate::receiver::verify_with_python(&got, &[&secret]);
    let v = api(&client, port, &log).await;
    let delivered = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["ok"] == true && d["state"] == "delivered")
        .count();
    assert_eq!(delivered, N, "{v}");
    let _ = child.kill();
    let _ = child.wait();
}

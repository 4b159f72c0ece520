//! `GET /metrics` on the real binary, as Prometheus scrapes it: `rebound serve` in a
//! process of its own (the recorder is process-wide: the apps other tests start in this
//! process would add to the counters), on SQLite or, with `REBOUND_TEST_BACKEND=postgres`,
//! on a PostgreSQL database of its own.
//!
//! The scraped text must pass `promtool check metrics` with nothing to say (it prints lint
//! warnings too). promtool comes with Debian's `prometheus` package (`.ci/run` installs it):
//! without it the test fails under `CI=true` and is skipped elsewhere (with a note).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

/// Kills the server when dropped, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the server keeps its data.
enum Db {
    Dir(std::path::PathBuf),
    Url(String),
}

/// `rebound serve` on `port` with `workers` worker tasks (0: requests are stored, not
/// processed) and a small body limit.
async fn serve(db: &Db, port: u16, workers: usize) -> Server {
    let mut cmd = Command::new(bin());
    match db {
        Db::Dir(d) => cmd.args(["--data-dir", d.to_str().expect("utf-8 path")]),
        Db::Url(u) => cmd.args(["--database-url", u]),
    };
    let server = Server(
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--workers", &workers.to_string()])
            .args(["--body-limit", "4096"])
            .env("REBOUND_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rebound serve"),
    );
    wait_ready(&reqwest::Client::new(), port).await;
    server
}

/// One sample of the text format: name, labels (sorted), value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the sample lines (label values here never hold `"`, `,` or `}`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => {
                    let inner = rest.strip_suffix('}').expect("closing brace");
                    let labels = inner
                        .split(',')
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').expect("label=value");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (n.to_string(), labels)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {l:?}")),
            };
            Sample {
                name,
                labels,
                value,
            }
        })
        .collect()
}

/// The value of the series with exactly these labels (`None` when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

async fn scrape(http: &reqwest::Client, port: u16) -> String {
    let resp = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    resp.text().await.expect("text")
}

/// `promtool check metrics` on `text`: `None` when promtool is missing (and `CI` is not
/// `true`), else its exit status and everything it printed.
fn promtool(text: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("promtool is required under CI=true (Debian package `prometheus`): {e}");
            }
            eprintln!("note: promtool not found ({e}): the scraped text was not checked with it");
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), printed))
}

/// Accepted and rejected webhooks counted by provider and outcome, with the inbox gauges
/// while the workers are paused; then the events by kind, the rows processed and their
/// latency once a server with workers has applied them; 401 without the token; labels from
/// fixed lists only; promtool has nothing to say about the text.
#[tokio::test]
async fn metrics_count_webhooks_events_and_the_inbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = on_postgres()
        .then(crate::postgres::TestDatabase::create)
        .flatten();
    if on_postgres() && pg.is_none() {
        return;
    }
    let (db, backend) = match &pg {
        Some(pg) => (Db::Url(pg.url.clone()), "postgres"),
        None => (Db::Dir(dir.path().to_path_buf()), "sqlite"),
    };
    let http = reqwest::Client::new();
    let port = free_port();
    let server = serve(&db, port, 0).await;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    // The admin token is required.
    let resp = http.get(url("/metrics")).send().await.expect("get");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = http
        .get(url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 401);

    let resp = http
        .post(url("/api/v1/sources"))
        .bearer_auth(TOKEN)
        .json(&json!({"provider": "generic", "name": "Metrics"}))
        .send()
        .await
        .expect("create source");
    assert_eq!(resp.status().as_u16(), 201);
    let source: Value = resp.json().await.expect("json");
    let secret = source["secret"].as_str().expect("secret").to_string();
    let post = |target: String, sig: Option<String>, body: Vec<u8>| {
        let mut req = http.post(target).body(body);
        if let Some(sig) = sig {
            req = req.header("x-webhook-signature", sig);
        }
        async move { req.send().await.expect("post").status().as_u16() }
    };
    let signed = |body: &[u8]| Some(hex_hmac(&secret, body));
    let ts = "2026-01-01T00:00:00Z";

    // Accepted: two hard bounces, a complaint, and the first bounce again (a duplicate,
    // stored in the inbox and skipped when applied).
    let events = [
        generic_event("m-1", "bounced.hard", "metrics-a@example.com", ts),
        generic_event("m-2", "bounced.hard", "metrics-b@example.com", ts),
        generic_event("m-3", "complained", "metrics-c@example.com", ts),
        generic_event("m-1", "bounced.hard", "metrics-a@example.com", ts),
    ];
    for body in events {
        let sig = signed(&body);
        assert_eq!(post(shown_url(&source), sig, body).await, 200);
    }
    // Rejected: a wrong signature (401), an unknown key (403), a body of the wrong shape
    // (400), a body over the limit (413), a provider that is none (404; its name, an
    // address, must not become a label).
    let body = generic_event("m-4", "bounced.hard", "metrics-d@example.com", ts);
    let wrong = Some(hex_hmac("not-the-secret", &body));
    assert_eq!(post(shown_url(&source), wrong, body.clone()).await, 401);
    let sig = signed(&body);
    let unknown = with_key(&shown_url(&source), "0123456789abcdef0123456789abcdef");
    assert_eq!(post(unknown, sig, body).await, 403);
    let shapeless = b"[1, 2, 3]".to_vec();
    let sig = signed(&shapeless);
    assert_eq!(post(shown_url(&source), sig, shapeless).await, 400);
    let large = vec![b' '; 10_000];
    let sig = signed(&large);
    assert_eq!(post(shown_url(&source), sig, large).await, 413);
    let stranger = url("/webhooks/attacker@evil.example/some-key");
    assert_eq!(post(stranger, None, b"{}".to_vec()).await, 404);

    // Workers paused: four rows pending, the oldest over a second old.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = scrape(&http, port).await;
    let s = parse(&text);
    let webhooks = |provider: &str, outcome: &str| {
        value(
            &s,
            "rebound_webhooks_total",
            &[("provider", provider), ("outcome", outcome)],
        )
    };
    assert_eq!(webhooks("generic", "accepted"), Some(4.0), "{text}");
    assert_eq!(webhooks("generic", "unauthorized"), Some(1.0), "{text}");
    assert_eq!(webhooks("generic", "forbidden"), Some(1.0), "{text}");
    assert_eq!(webhooks("generic", "bad_request"), Some(1.0), "{text}");
    assert_eq!(webhooks("generic", "too_large"), Some(1.0), "{text}");
    assert_eq!(webhooks("unknown", "not_found"), Some(1.0), "{text}");
    assert_eq!(
        s.iter()
            .filter(|x| x.name == "rebound_webhooks_total")
            .count(),
        6,
        "{text}"
    );
    let rows = |state: &str| value(&s, "rebound_inbox_rows", &[("state", state)]);
    assert_eq!(
        (rows("pending"), rows("done"), rows("failed")),
        (Some(4.0), Some(0.0), Some(0.0)),
        "{text}"
    );
    let age = value(&s, "rebound_inbox_oldest_pending_age_seconds", &[]).expect("age");
    assert!((1.0..60.0).contains(&age), "{text}");
    assert_eq!(
        value(&s, "rebound_events_total", &[("kind", "bounce")]),
        None
    );
    check_labels_and_text(&s, &text);
    drop(server);

    // The same database with a worker: the rows applied.
    let port = free_port();
    let _server = serve(&db, port, 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (text, s) = loop {
        let text = scrape(&http, port).await;
        let s = parse(&text);
        // The counters follow the commit that marks the rows done: wait for both.
        let counted = value(&s, "rebound_inbox_processed_total", &[("outcome", "done")]);
        let timed = value(&s, "rebound_processing_latency_seconds_count", &[]);
        if value(&s, "rebound_inbox_rows", &[("state", "done")]) == Some(4.0)
            && counted == Some(4.0)
            && timed == Some(4.0)
        {
            break (text, s);
        }
        assert!(Instant::now() < deadline, "never processed:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let events = |kind: &str| value(&s, "rebound_events_total", &[("kind", kind)]);
    assert_eq!(
        (events("bounce"), events("complaint"), events("delivery")),
        (Some(2.0), Some(1.0), None),
        "{text}"
    );
    assert_eq!(
        value(
            &s,
            "rebound_events_skipped_total",
            &[("reason", "duplicate")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&s, "rebound_inbox_processed_total", &[("outcome", "done")]),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        value(&s, "rebound_processing_latency_seconds_count", &[]),
        Some(4.0),
        "{text}"
    );
    // Received over a second before the worker started.
    let sum = value(&s, "rebound_processing_latency_seconds_sum", &[]).expect("sum");
    assert!(sum >= 4.0, "{text}");
    assert_eq!(
        value(&s, "rebound_inbox_rows", &[("state", "pending")]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&s, "rebound_inbox_oldest_pending_age_seconds", &[]),
        Some(0.0),
        "{text}"
    );
    let commits = value(
        &s,
        "rebound_store_commit_duration_seconds_count",
        &[("backend", backend)],
    )
    .expect("commits counted");
    assert!(commits >= 1.0, "{text}");
    assert!(
        text.contains("rebound_store_commit_duration_seconds_bucket{backend=\"")
            && text.contains("le=\"0.0005\""),
        "histogram buckets in seconds: {text}"
    );
    // This server took no webhook: none counted.
    assert!(!text.contains("rebound_webhooks_total{"), "{text}");
    check_labels_and_text(&s, &text);
}

/// No label value names an address (or anything else from a request), and promtool finds
/// nothing to say about the text.
fn check_labels_and_text(samples: &[Sample], text: &str) {
    for s in samples {
        assert!(s.name.starts_with("rebound_"), "{}", s.name);
        for (k, v) in &s.labels {
            assert!(
                !v.contains('@') && !v.contains("example") && !v.contains("key"),
                "label {k}={v:?} of {} holds request data",
                s.name
            );
        }
    }
    if let Some((ok, printed)) = promtool(text) {
        assert!(ok, "promtool check metrics failed: {printed}\n{text}");
        assert_eq!(printed, "", "promtool had something to say:\n{text}");
    }
}

/// Many apps in one process (as here) share one recorder: each serves `/metrics`, and what
/// any of them does is counted. A pass over a mailbox nobody listens on fails: counted as
/// `mailbox_error`, its duration recorded. (Other tests of this process add to the same
/// counters: at least, not exactly.)
#[tokio::test]
async fn every_app_of_a_process_serves_the_same_counters() {
    let first = spawn_app().await;
    let second = spawn_app().await;
    let port = free_port();
    let url = format!("imap://u:p@127.0.0.1:{port}/INBOX?tls=none&insecure=true");
    let src = second
        .create_source(json!({"provider": "mailbox", "name": "nobody listens", "url": url}))
        .await;
    let id = &src["id"];
    let (code, v) = second
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/sources/{id}/scan"),
            None,
        )
        .await;
    assert_eq!(code, 502, "{v}");
    for app in [&first, &second] {
        let text = scrape(&app.client, app.addr.port()).await;
        let s = parse(&text);
        let scans = value(
            &s,
            "rebound_mailbox_scans_total",
            &[("outcome", "mailbox_error")],
        );
        assert!(scans.is_some_and(|n| n >= 1.0), "{text}");
        let timed = value(&s, "rebound_mailbox_scan_duration_seconds_count", &[]);
        assert!(timed.is_some_and(|n| n >= 1.0), "{text}");
        assert!(
            text.contains("rebound_mailbox_scan_duration_seconds_bucket{le=\"3600\"}"),
            "mailbox passes go on to an hour: {text}"
        );
        // The gauges are the app's own: an empty inbox.
        assert_eq!(
            value(&s, "rebound_inbox_rows", &[("state", "pending")]),
            Some(0.0)
        );
    }
}

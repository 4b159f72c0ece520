//! `rebound store copy`, as a user moving an installation runs it: a SQLite installation
//! filled through the URLs its sources show, copied to PostgreSQL (twice: a rerun changes
//! nothing), served from there with every listing equal and the same webhook URLs working,
//! then copied back to a new SQLite file (outbound subscriptions and pending messages too).
//! A copy into a database that holds other rows fails and says why.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::crash_loop::{
    all_pages, api, drained, server_binary, stable_port, Db, Planned, Rng, Server, Sources, Stream,
};
use crate::helpers::*;

/// Events posted before the first copy, and after it.
const BEFORE: usize = 300;
const AFTER: usize = 40;

/// Everything the API shows of an installation.
async fn snapshot(http: &reqwest::Client, port: u16) -> Value {
    json!({
        "sources": api(http, port, "/api/v1/sources").await,
        "settings": api(http, port, "/api/v1/settings").await,
        "contacts": all_pages(http, port, "/api/v1/contacts?limit=1000").await,
        "events": all_pages(http, port, "/api/v1/events?limit=1000").await,
        "log": all_pages(http, port, "/api/v1/log?limit=1000").await,
        "rejections": api(http, port, "/api/v1/log/rejections?since=1970-01-01T00:00:00Z").await,
        "subscriptions": api(http, port, "/api/v1/subscriptions").await,
    })
}

/// `rebound store copy --from … --to …`: its exit status, standard output and error.
fn store_copy(from: &str, to: &str) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(["store", "copy", "--from", from, "--to", to])
        .output()
        .expect("run rebound store copy");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `N in both` count of `table` in the copy's summary.
fn in_both(summary: &str, table: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.split_whitespace().next() == Some(table))
        .unwrap_or_else(|| panic!("no line for {table} in:\n{summary}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "in")
        .expect("'in both' in the line");
    words[at - 1].parse().expect("count")
}

/// Checks that the SQLite file at `path` holds `n` outbox rows, all still pending, with
/// their payloads and the subscription they belong to.
async fn pending_outbox_rows(path: &Path, n: u64) {
    use rebound_store::copy::{Cell, TABLES};
    use rebound_store::Store;
    let store = rebound_store::sqlite::SqliteStore::open(path).expect("open the copy");
    let table = TABLES.iter().find(|t| t.name == "outbox").expect("outbox");
    let rows = store
        .copy_rows(table, None, 100_000)
        .await
        .expect("outbox rows");
    assert_eq!(rows.len() as u64, n);
    let column = |name: &str| {
        table
            .columns
            .iter()
            .position(|(c, _)| *c == name)
            .expect("column")
    };
    let (state, payload) = (column("state"), column("payload"));
    for row in &rows {
        assert_eq!(row[state], Cell::Text("pending".into()), "{row:?}");
        assert!(
            matches!(&row[payload], Cell::Text(p) if p.contains("contact.status_changed")),
            "{row:?}"
        );
    }
    let subs = TABLES.iter().find(|t| t.name == "subscriptions");
    let subs = store
        .copy_rows(subs.expect("subscriptions"), None, 10)
        .await
        .expect("subscriptions");
    assert_eq!(subs.len(), 1);
    assert!(subs[0].contains(&Cell::Text("http://localhost:9/hook".into())));
}

async fn post_all(http: &reqwest::Client, sources: &Sources, events: &[Planned]) {
    for e in events {
        let status = sources.post(http, e).await.expect("post");
        assert!(
            (200..300).contains(&status),
            "{} answered {status}",
            e.message_id
        );
    }
}

async fn serve(binary: &Path, db: &Db, port: u16, log: &Path, http: &reqwest::Client) -> Server {
    let mut s = Server::start(binary, db, port, 2, log);
    s.ready(http).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_postgresql_and_back_with_every_listing_equal() {
    // Both backends in one test: the second pass of `.ci/run` would only repeat it.
    if on_postgres() {
        return;
    }
    let Some(pg) = crate::postgres::TestDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = server_binary();
    let http = reqwest::Client::new();
    let seed = 0x636f_7079;
    let port = stable_port(&mut Rng(seed ^ u64::from(std::process::id())));
    let mut stream = Stream::new(seed);
    let log = dir.path().join("serve.log");

    // A SQLite installation, filled as users fill it.
    let first = dir.path().join("first");
    let mut server = serve(&binary, &Db::Dir(first.clone()), port, &log, &http).await;
    let sources = Sources::create(&http, port).await;
    // An outbound subscription whose target is refused when connecting (a name for a
    // loopback address, without the allow list): its messages stay pending.
    let sub = http
        .post(format!("http://127.0.0.1:{port}/api/v1/subscriptions"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": "http://localhost:9/hook", "kind": "webhook"}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(sub.status().as_u16(), 201);
    let before: Vec<Planned> = (0..BEFORE).map(|_| stream.next()).collect();
    post_all(&http, &sources, &before).await;
    let forged = http
        .post(&sources.generic_url)
        .header("x-webhook-signature", "0".repeat(64))
        .body("{}")
        .send()
        .await
        .expect("forged post");
    assert_eq!(forged.status().as_u16(), 401);
    let put = http
        .put(format!("http://127.0.0.1:{port}/api/v1/settings"))
        .bearer_auth(TOKEN)
        .json(&json!({"verp_return_path": "bounces@example.com", "retention_days": 90}))
        .send()
        .await
        .expect("put settings");
    assert!(put.status().is_success(), "{}", put.status());
    drained(&http, port).await;
    // Rejections are counted in memory and written every 5 s: wait for one write.
    tokio::time::sleep(Duration::from_millis(6_000)).await;
    let on_sqlite = snapshot(&http, port).await;
    let events = on_sqlite["events"].as_array().expect("events").len();
    assert!(events >= BEFORE, "{events} events stored of {BEFORE} sent");
    server.kill();

    // Copied to PostgreSQL; a rerun copies the same rows and leaves the counts as they are.
    let sqlite_url = format!("sqlite://{}", first.join("rebound.db").display());
    let (ok, summary, err) = store_copy(&sqlite_url, &pg.url);
    assert!(ok, "store copy failed:\n{err}");
    assert_eq!(in_both(&summary, "events"), events as u64, "{summary}");
    assert_eq!(in_both(&summary, "sources"), 2, "{summary}");
    assert!(in_both(&summary, "rejection_counts") >= 1, "{summary}");
    assert_eq!(in_both(&summary, "subscriptions"), 1, "{summary}");
    let outbox = in_both(&summary, "outbox");
    assert!(outbox >= 1, "no status change announced: {summary}");
    let (ok, again, err) = store_copy(&sqlite_url, &pg.url);
    assert!(ok, "the rerun failed:\n{err}");
    assert_eq!(again, summary, "a rerun must find the same counts");

    // Served from PostgreSQL: the same listings, the same webhook URLs and secrets.
    let on_pg = Db::Url(pg.url.clone());
    let mut server = serve(&binary, &on_pg, port, &log, &http).await;
    assert_eq!(snapshot(&http, port).await, on_sqlite);
    let after: Vec<Planned> = (0..AFTER).map(|_| stream.next()).collect();
    post_all(&http, &sources, &after).await;
    drained(&http, port).await;
    let grown = snapshot(&http, port).await;
    let ids = |s: &Value| -> Vec<i64> {
        s["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["id"].as_i64().expect("event id"))
            .collect()
    };
    let (old, new) = (ids(&on_sqlite), ids(&grown));
    assert!(new.len() > old.len(), "no new events stored on PostgreSQL");
    let newest_copied = old.iter().max().copied().unwrap_or(0);
    // New rows get ids after the copied ones (the sequences were moved on).
    assert!(new
        .iter()
        .filter(|i| !old.contains(i))
        .all(|i| *i > newest_copied));
    server.kill();

    // And back to a new SQLite file.
    let second = format!("sqlite://{}", dir.path().join("second.db").display());
    let (ok, back, err) = store_copy(&pg.url, &second);
    assert!(ok, "copy back failed:\n{err}");
    assert_eq!(in_both(&back, "events"), new.len() as u64, "{back}");
    assert_eq!(in_both(&back, "subscriptions"), 1, "{back}");
    assert!(in_both(&back, "outbox") >= outbox, "{back}");
    pending_outbox_rows(&dir.path().join("second.db"), in_both(&back, "outbox")).await;
    let mut server = serve(&binary, &Db::Url(second.clone()), port, &log, &http).await;
    assert_eq!(snapshot(&http, port).await, grown);
    server.kill();

    // The first file into the second, which holds more: refused, saying which table.
    let (ok, _, err) = store_copy(&sqlite_url, &second);
    assert!(!ok, "a copy into a database with other rows must fail");
    assert!(
        err.contains(&format!(
            "events: {} in the source, {} in the destination",
            old.len(),
            new.len()
        )),
        "{err}"
    );
    let (ok, _, err) = store_copy(&second, &second);
    assert!(!ok && err.contains("the same database"), "{err}");
    let missing = format!("sqlite://{}", dir.path().join("nothing.db").display());
    let (ok, _, err) = store_copy(&missing, &second);
    assert!(!ok && err.contains("does not exist"), "{err}");
    assert!(!dir.path().join("nothing.db").exists());
}

//! `rebound serve --database-url postgres://…`: the real binary on a PostgreSQL database of
//! its own (on the server of `REBOUND_TEST_DATABASE_URL`, default the local one). Without a
//! server the test fails under `CI=true` and is not run elsewhere (with a note).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rebound_store::postgres::{self as pg, Config};
use serde_json::{json, Value};

use crate::helpers::*;

const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of its own, dropped (best effort) at the end.
pub struct TestDatabase {
    admin: Config,
    name: String,
    /// Its URL, for `--database-url`.
    pub url: String,
}

impl TestDatabase {
    /// A new database `rebound_test_<random>`; `None` (after a note) when there is no
    /// server and `CI` is not `true`.
    pub fn create() -> Option<TestDatabase> {
        let base = std::env::var("REBOUND_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_string());
        let admin: Config = base.parse().expect("REBOUND_TEST_DATABASE_URL");
        let name = format!("rebound_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        if let Err(e) = pg::create_database(&admin, &name) {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL at {base} is required under CI=true: {e}");
            }
            eprintln!("note: PostgreSQL at {base} not reachable ({e}): PostgreSQL test not run");
            return None;
        }
        // The same URL with the new database as its path (query kept).
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h, format!("?{q}")),
            None => (base.as_str(), String::new()),
        };
        let (scheme, rest) = head.split_once("://").expect("a postgres:// URL");
        let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
        let url = format!("{scheme}://{authority}/{name}{query}");
        Some(TestDatabase { admin, name, url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = pg::drop_database(&self.admin, &self.name) {
            eprintln!("note: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Kills the server when the test ends, passed or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README's one command: `rebound serve --database-url postgres://…`. A source created
/// through the API, a signed event posted to the URL it shows, the contact read back once
/// the workers have applied it.
#[tokio::test]
async fn serve_runs_on_postgresql() {
    let Some(db) = TestDatabase::create() else {
        return;
    };
    let port = free_port();
    let server = Server(
        Command::new(bin())
            .args(["--database-url", &db.url, "serve"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--workers", "1"])
            .env("REBOUND_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rebound serve"),
    );
    let http = reqwest::Client::new();
    wait_ready(&http, port).await;
    let api = |path: &str| format!("http://127.0.0.1:{port}{path}");

    let resp = http
        .post(api("/api/v1/sources"))
        .bearer_auth(TOKEN)
        .json(&json!({"provider": "generic", "name": "G"}))
        .send()
        .await
        .expect("create source");
    assert_eq!(resp.status().as_u16(), 201);
    let source: Value = resp.json().await.expect("json");

    let body = generic_event(
        "pg-1",
        "bounced.hard",
        "someone@example.com",
        "2026-01-01T00:00:00Z",
    );
    let sig = hex_hmac(source["secret"].as_str().expect("secret"), &body);
    let resp = http
        .post(shown_url(&source))
        .header("x-webhook-signature", sig)
        .body(body)
        .send()
        .await
        .expect("post event");
    assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);

    let deadline = Instant::now() + Duration::from_secs(20);
    let contact = loop {
        let resp = http
            .get(api("/api/v1/contacts/someone@example.com"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("get contact");
        if resp.status().as_u16() == 200 {
            let c: Value = resp.json().await.expect("json");
            if c["status"] == "bounced" {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "the event was never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(contact["email"], "someone@example.com");
    drop(server);
}

//! A webhook receiver on 127.0.0.1 for the outbound tests (it records every request and
//! answers what it is told), and the check of what it got with the official
//! `standardwebhooks` Python package.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
}

/// An answer: a status and an optional `Retry-After` (seconds).
pub type Answer = (u16, Option<u64>);

/// What the receiver got, and what it answers next.
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    answers: Arc<Mutex<Vec<Answer>>>,
}

impl Receiver {
    pub fn got(&self) -> Vec<Got> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
    /// How many requests came with each `webhook-id`.
    pub fn per_id(&self) -> std::collections::BTreeMap<String, usize> {
        let mut n = std::collections::BTreeMap::new();
        for g in self.got() {
            let id = g.headers.get("webhook-id").cloned().unwrap_or_default();
            *n.entry(id).or_insert(0) += 1;
        }
        n
    }
    /// Answers these, in turn, then 200.
    pub fn answer(&self, answers: &[Answer]) {
        if let Ok(mut a) = self.answers.lock() {
            *a = answers.to_vec();
        }
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    if let Ok(mut g) = r.got.lock() {
        g.push(Got {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
    }
    let next = r
        .answers
        .lock()
        .ok()
        .and_then(|mut a| (!a.is_empty()).then(|| a.remove(0)));
    let (status, after) = next.unwrap_or((200, None));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    match after {
        Some(s) => (status, [("retry-after", s.to_string())], "later").into_response(),
        None => (status, "thanks").into_response(),
    }
}

/// Starts a receiver on `port` (0: any).
pub async fn start_receiver(port: u16) -> (Receiver, SocketAddr) {
    let r = Receiver::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (r, addr)
}

/// Verifies every request with `standardwebhooks.Webhook(secret).verify(body, headers)`
/// for each secret given; fails the test on any that does not verify.
pub fn verify_with_python(got: &[Got], secrets: &[&str]) {
    if std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .status()
        .map_or(true, |s| !s.success())
    {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "python3 with standardwebhooks is required under CI=true"
        );
        eprintln!("note: python3 -m pip install standardwebhooks to verify signatures");
        return;
    }
    let items: Vec<Value> = got
        .iter()
        .map(|g| json!({"headers": g.headers, "body": g.body}))
        .collect();
    let input = json!({"secrets": secrets, "items": items}).to_string();
    let script = r#"
import json, sys
from standardwebhooks import Webhook
data = json.load(sys.stdin)
n = 0
for secret in data["secrets"]:
    wh = Webhook(secret)
    for item in data["items"]:
        payload = wh.verify(item["body"], item["headers"])
        assert payload["id"] == item["headers"]["webhook-id"], payload
        n += 1
print(n)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "standardwebhooks refused a delivery: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        (got.len() * secrets.len()).to_string()
    );
}

//! Test helpers: `spawn_app()` starts the real router on 127.0.0.1 with a fresh SQLite file
//! (or, with `REBOUND_TEST_BACKEND=postgres`, a fresh PostgreSQL database: see
//! [`on_postgres`]); workers are driven explicitly with `drain()` so tests never sleep for
//! them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use rebound_core::Policy;
use rebound_server::state::digest;
use rebound_server::worker::{self, WorkerConfig};
use rebound_server::{AppState, ServerConfig};
use rebound_store::sqlite::SqliteStore;
use rebound_store::{ApplyReport, DynStore};
use serde_json::{json, Value};
use sha2::Sha256;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// `../shared` beside the repository, or `REBOUND_SHARED_DIR`. Missing fixtures fail the
/// test: they are part of what is being tested.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("REBOUND_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(
        dir.join("fixtures/providers").is_dir(),
        "shared fixtures not found at {} (set REBOUND_SHARED_DIR)",
        dir.display()
    );
    dir
}

pub fn fixture(provider: &str, name: &str) -> Vec<u8> {
    let path = shared_dir()
        .join("fixtures/providers")
        .join(provider)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: DynStore,
    pub state: AppState,
    pub client: reqwest::Client,
    pub _dir: tempfile::TempDir,
    /// The SQLite file (absent when the app runs on PostgreSQL).
    pub db: PathBuf,
    /// The PostgreSQL database, when the app runs on one.
    pub pg: Option<crate::postgres::TestDatabase>,
    pub aws: Arc<LocalAws>,
}

/// Whether `spawn_app` puts apps on PostgreSQL (`REBOUND_TEST_BACKEND=postgres`): the API
/// suite runs once per backend. Tests of what only SQLite has check this and return.
pub fn on_postgres() -> bool {
    std::env::var("REBOUND_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig::default()).await
}

/// A stand-in for AWS in tests: validated SNS URLs (`https://sns.<region>.amazonaws.com/…`)
/// are served by a local HTTP server at `base` instead of the network, and every URL asked
/// for is recorded. With no `base`, every request fails (as with no network).
#[derive(Default)]
pub struct LocalAws {
    pub base: Option<String>,
    pub requests: std::sync::Mutex<Vec<String>>,
}

impl LocalAws {
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl rebound_server::sns::SnsHttp for LocalAws {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(url.to_string());
        }
        let base = self.base.as_ref().ok_or("no network in this test")?;
        let rest = url.strip_prefix("https://").ok_or("not https")?;
        let path = &rest[rest.find('/').unwrap_or(rest.len())..];
        let resp = reqwest::get(format!("{base}{path}"))
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > max_bytes {
            return Err("too large".into());
        }
        Ok(body.to_vec())
    }
}

pub async fn spawn_app_with(config: ServerConfig) -> TestApp {
    spawn_app_full(config, Arc::new(LocalAws::default())).await
}

pub async fn spawn_app_full(mut config: ServerConfig, aws: Arc<LocalAws>) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("rebound.db");
    let pg = on_postgres().then(|| {
        crate::postgres::TestDatabase::create()
            .expect("REBOUND_TEST_BACKEND=postgres needs a PostgreSQL server")
    });
    let store: DynStore = match &pg {
        Some(pg) => Arc::new(
            rebound_store::postgres::PgStore::open(&pg.url).expect("open PostgreSQL store"),
        ),
        None => Arc::new(SqliteStore::open(&db).expect("open store")),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    config.public_url = format!("http://{addr}");
    let state = AppState::new(
        store.clone(),
        config,
        digest(TOKEN),
        Policy::default(),
        aws.clone(),
    )
    .await
    .expect("state");
    let app =
        rebound_server::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestApp {
        addr,
        store,
        state,
        client: reqwest::Client::new(),
        _dir: dir,
        db,
        pg,
        aws,
    }
}

impl TestApp {
    /// The `--database-url` of the app's database.
    pub fn database_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", self.db.display()),
        }
    }

    /// A second store on the app's database (SQLite file or PostgreSQL database), as
    /// another process or node has.
    pub fn other_store(&self) -> DynStore {
        match &self.pg {
            Some(pg) => Arc::new(
                rebound_store::postgres::PgStore::open(&pg.url).expect("open PostgreSQL store"),
            ),
            None => Arc::new(SqliteStore::open(&self.db).expect("open store")),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.api(reqwest::Method::GET, path, None).await
    }

    pub async fn create_source(&self, body: Value) -> Value {
        let (status, v) = self
            .api(reqwest::Method::POST, "/api/v1/sources", Some(body))
            .await;
        assert_eq!(status, 201, "create source: {v}");
        v
    }

    /// Posts raw bytes with headers to an absolute URL, as a provider's HTTP client does:
    /// credentials in the URL (`http://user:pass@host/…`) become basic auth.
    pub async fn post_url(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self.client.post(url).body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(json!({ "raw": text })),
        )
    }

    /// Posts to exactly the URL the source shows (`webhook_url` of the create response),
    /// the one a user pastes into the provider's dashboard.
    pub async fn post_shown(
        &self,
        source: &Value,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        self.post_url(&shown_url(source), headers, body).await
    }

    pub async fn drain(&self) -> ApplyReport {
        worker::drain(&self.store, self.state.policy(), &WorkerConfig::default())
            .await
            .expect("drain")
    }

    pub async fn contact(&self, email: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/contacts/{email}")).await
    }

    pub async fn event_count(&self) -> usize {
        let (_, v) = self.get("/api/v1/events?limit=1000").await;
        v["items"].as_array().map_or(0, Vec::len)
    }

    pub async fn log(&self) -> Vec<Value> {
        let (_, v) = self.get("/api/v1/log?limit=1000").await;
        v["items"].as_array().cloned().unwrap_or_default()
    }
}

pub fn hex_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Standard Webhooks headers for `body`, signed at `ts` (Unix seconds).
pub fn standard_webhooks_headers(
    secret: &str,
    id: &str,
    ts: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let key = rebound_core::signature::standard_webhooks_key(secret);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", format!("v1,{sig}")),
    ]
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A generic event body.
pub fn generic_event(id: &str, typ: &str, email: &str, timestamp: &str) -> Vec<u8> {
    json!({
        "id": id, "type": typ, "created_at": timestamp,
        "data": {"message_id": format!("msg-{id}"), "email": email, "timestamp": timestamp,
                 "bounce_code": "452", "bounce_reason": "4.2.2 Mailbox full"}
    })
    .to_string()
    .into_bytes()
}

/// Posts a generic event signed with the source's secret (hex HMAC header).
pub async fn post_generic(app: &TestApp, source: &Value, body: Vec<u8>) -> (u16, Value) {
    let secret = source["secret"].as_str().expect("secret");
    let sig = hex_hmac(secret, &body);
    app.post_shown(source, &[("x-webhook-signature", sig)], body)
        .await
}

/// The webhook URL a source shows: what the user pastes into the provider's dashboard.
pub fn shown_url(source: &Value) -> String {
    source["webhook_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no webhook_url in {source}"))
        .to_string()
}

/// `url` with its basic-auth credentials replaced (`Some`) or removed (`None`): the shown
/// URL as someone without the right password would use it.
pub fn with_credentials(url: &str, credentials: Option<(&str, &str)>) -> String {
    let mut u = reqwest::Url::parse(url).expect("url");
    let (user, pass) = credentials.unwrap_or(("", ""));
    u.set_username(user).expect("username");
    u.set_password((!pass.is_empty()).then_some(pass))
        .expect("password");
    u.to_string()
}

/// `url` with the last path segment (the URL key) replaced.
pub fn with_key(url: &str, key: &str) -> String {
    let mut u = reqwest::Url::parse(url).expect("url");
    u.path_segments_mut().expect("path").pop().push(key);
    u.to_string()
}

/// A SendGrid-style ECDSA P-256 key pair and its public key as SendGrid shows it (base64 DER).
pub fn sendgrid_keys() -> (aws_lc_rs::signature::EcdsaKeyPair, String) {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let der = kp.public_key().as_der().expect("der");
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    (kp, b64)
}

/// SendGrid's signature headers: ECDSA over timestamp + body.
pub fn sendgrid_headers(
    kp: &aws_lc_rs::signature::EcdsaKeyPair,
    ts: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut msg = ts.to_string().into_bytes();
    msg.extend_from_slice(body);
    let sig = kp.sign(&rng, &msg).expect("sign");
    vec![
        ("x-twilio-email-event-webhook-timestamp", ts.to_string()),
        (
            "x-twilio-email-event-webhook-signature",
            base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        ),
    ]
}

/// A Mailgun body with its `signature` object (HMAC of timestamp + token with the key).
pub fn mailgun_body(key: &str, ts: i64, token: &str, fixture_body: &[u8]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(fixture_body).expect("json");
    let sig = hex_hmac(key, format!("{ts}{token}").as_bytes());
    v["signature"] = json!({"timestamp": ts.to_string(), "token": token, "signature": sig});
    serde_json::to_vec(&v).expect("json")
}

/// Resend's Svix headers: Standard Webhooks signing under Svix's header names.
pub fn svix_headers(secret: &str, id: &str, ts: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    standard_webhooks_headers(secret, id, ts, body)
        .into_iter()
        .map(|(k, v)| {
            let svix = match k {
                "webhook-id" => "svix-id",
                "webhook-timestamp" => "svix-timestamp",
                _ => "svix-signature",
            };
            (svix, v)
        })
        .collect()
}

/// A Postal-style RSA-2048 key pair and its public key as Postal shows it (base64 DER).
pub fn postal_keys() -> (aws_lc_rs::rsa::KeyPair, String) {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let der = kp.public_key().as_der().expect("der");
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    (kp, b64)
}

/// Postal's `X-Postal-Signature-256`: RSA PKCS#1 v1.5 SHA-256 over the body, base64.
pub fn postal_sign(kp: &aws_lc_rs::rsa::KeyPair, body: &[u8]) -> String {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut sig = vec![0; kp.public_modulus_len()];
    kp.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &rng,
        body,
        &mut sig,
    )
    .expect("sign");
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// The built `rebound` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rebound")
}

/// Runs the CLI with `args`, feeding it `stdin`; waits for it.
pub fn run_rebound(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rebound");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

/// A port free on 127.0.0.1 at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `rebound serve` on `port` with its data in `dir` (admin token [`TOKEN`]).
pub fn start(dir: &std::path::Path, port: u16, workers: usize) -> Child {
    start_env(dir, port, workers, &[])
}

/// [`start`] with these environment variables too.
pub fn start_env(dir: &std::path::Path, port: u16, workers: usize, env: &[(&str, &str)]) -> Child {
    Command::new(bin())
        .args([
            "--data-dir",
            dir.to_str().expect("utf-8 path"),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--workers", &workers.to_string()])
        .env("REBOUND_ADMIN_TOKEN", TOKEN)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rebound serve")
}

/// Waits until the server on `port` answers `/readyz`.
pub async fn wait_ready(client: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("rebound serve did not become ready");
}

//! Crash loop: `rebound serve` (the real binary) is killed with SIGKILL at random moments,
//! cycle after cycle, while a client posts a stream of distinct signed events to the webhook
//! URLs the sources show and retries each one until it is acknowledged (2xx). Afterwards
//! every acknowledged event is stored exactly once, and every contact's status, reason and
//! soft-bounce count equal those of a serial replay of the same stream to a fresh server.
//!
//! CI runs a short loop; `bench/crash_loop.sh` runs the long one (200 cycles against the
//! release binary) and prints the same summary line. Environment: `CRASH_CYCLES` (default 6),
//! `CRASH_SEED` (the event stream and the kill moments; printed, so a run can be repeated),
//! `REBOUND_CRASH_BIN` (the `rebound` binary to run and kill; default: this build's).
//!
//! The loop runs on SQLite (a data directory) and on PostgreSQL (a database of its own per
//! server lineage on the server of `REBOUND_TEST_DATABASE_URL`, see `postgres.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{bin, generic_event, hex_hmac, shown_url, TOKEN};

const DEFAULT_CYCLES: usize = 6;
/// Contacts the stream is spread over.
const ADDRESSES: u64 = 300;
/// Every `PAUSE_EVERY`-th server runs with `--workers 0`: acknowledged requests pile up
/// unprocessed, and the next server is killed soon after it starts, while its workers are
/// draining them.
const PAUSE_EVERY: usize = 5;
/// The workers' lease (`[workers] lease_ms`): how long after a claim the rows of a server
/// killed before applying them are claimable again.
pub(crate) const LEASE_MS: u64 = 2_000;
/// A client's pause before it retries an unacknowledged request.
const RETRY_DELAY: Duration = Duration::from_millis(5);
/// The SMTP code and text of every bounce, hard or soft, from either provider: one reason
/// (`mailboxfull`) whichever bounce raises a contact to `bounced` first.
const BOUNCE: (&str, &str) = ("452", "4.2.2 Mailbox full");

/// SplitMix64: the whole run (stream and kill moments) follows from one seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Soft,
    Hard,
    ToSendHard,
    ToSendComplaint,
    Complained,
    Delivered,
    Unsubscribed,
    Opened,
    Clicked,
}

use Kind::*;

/// What each contact receives, by contact number modulo 5: a prefix, then a cycle repeated.
/// Every prefix of every script has a final state that depends neither on the order the events
/// are applied in nor on ToSend's dates (ToSend events are dated when received, which differs
/// between the two runs): a contact is only ever `bounced` by three soft bounces with no
/// delivery after them, or by a hard bounce; one that gets a delivery has at most two soft
/// bounces before its complaint or hard bounce; bounces all read [`BOUNCE`]; complaints and
/// unsubscribes have one reason each; ToSend only sends hard bounces and complaints. So the
/// serial replay is a fixed reference, and a mismatch means that an acknowledged event was lost
/// or applied wrongly.
#[rustfmt::skip]
const SCRIPTS: [(&[Kind], &[Kind]); 5] = [
    // soft bounces to `bounced`, never a delivery
    (&[Soft, Opened, Soft, Clicked, Soft], &[Opened, Soft, ToSendHard, Clicked]),
    // deliveries reset the count: never three soft bounces, never `bounced`
    (&[Soft, Delivered, Soft], &[Opened, Clicked, Delivered]),
    // a complaint, then anything
    (&[Soft, Delivered, Soft, ToSendComplaint],
     &[Soft, Unsubscribed, Hard, Delivered, Soft, Soft, Complained, Opened]),
    // unsubscribed, at most two soft bounces
    (&[Delivered, Opened, Unsubscribed, Soft, Clicked, Soft],
     &[Opened, Delivered, Clicked, Unsubscribed]),
    // a hard bounce, then anything but a complaint
    (&[Soft, ToSendHard], &[Soft, Delivered, Soft, Soft, Hard, Unsubscribed, Opened, Clicked]),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Generic,
    ToSend,
}

/// One event of the stream: one request, one event, a unique Message-ID.
pub(crate) struct Planned {
    via: Via,
    body: Vec<u8>,
    pub(crate) message_id: String,
}

/// The event stream: event `i` goes to a random contact and is that contact's next script step,
/// dated `i` seconds after the start of November 2026.
pub(crate) struct Stream {
    rng: Rng,
    steps: Vec<usize>,
    n: u64,
}

impl Stream {
    pub(crate) fn new(seed: u64) -> Stream {
        Stream {
            rng: Rng(seed),
            steps: vec![0; ADDRESSES as usize],
            n: 0,
        }
    }

    pub(crate) fn next(&mut self) -> Planned {
        let i = self.n;
        self.n += 1;
        let a = self.rng.below(ADDRESSES) as usize;
        let (prefix, cycle) = SCRIPTS[a % SCRIPTS.len()];
        let step = self.steps[a];
        self.steps[a] += 1;
        let kind = prefix
            .get(step)
            .copied()
            .unwrap_or_else(|| cycle[(step - prefix.len()) % cycle.len()]);
        let email = format!("crash{a}@example.com");
        assert!(i < 29 * 86_400, "the dates stay in November");
        let at = format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}Z",
            1 + i / 86_400,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        );
        let generic = |typ: &str| {
            let id = format!("e{i}");
            let mut v: Value = serde_json::from_slice(&generic_event(&id, typ, &email, &at))
                .expect("generic event");
            v["data"]["bounce_code"] = json!(BOUNCE.0);
            v["data"]["bounce_reason"] = json!(BOUNCE.1);
            Planned {
                via: Via::Generic,
                body: v.to_string().into_bytes(),
                message_id: format!("msg-{id}"),
            }
        };
        let tosend = |v: Value| Planned {
            via: Via::ToSend,
            body: v.to_string().into_bytes(),
            message_id: format!("ts-{i}"),
        };
        match kind {
            Soft => generic("bounced.soft"),
            Hard => generic("bounced.hard"),
            Complained => generic("complained"),
            Delivered => generic("delivered"),
            Unsubscribed => generic("unsubscribed"),
            Opened => generic("opened"),
            Clicked => generic("clicked"),
            ToSendHard => tosend(json!({
                "type": "bounce", "email": email, "reason": format!("{} {}", BOUNCE.0, BOUNCE.1),
                "is_hard_bounce": true, "message_id": format!("ts-{i}")
            })),
            ToSendComplaint => tosend(json!({
                "type": "complaint", "email": email, "message_id": format!("ts-{i}")
            })),
        }
    }
}

/// The two sources, as their create responses show them.
pub(crate) struct Sources {
    pub(crate) generic_url: String,
    pub(crate) secret: String,
    pub(crate) tosend_url: String,
}

impl Sources {
    pub(crate) async fn create(http: &reqwest::Client, port: u16) -> Sources {
        let generic = create_source(http, port, json!({"provider": "generic", "name": "G"})).await;
        let tosend = create_source(http, port, json!({"provider": "tosend", "name": "T"})).await;
        Sources {
            generic_url: shown_url(&generic),
            secret: generic["secret"].as_str().expect("secret").to_string(),
            tosend_url: shown_url(&tosend),
        }
    }

    /// Posts one event as its provider would; the status, or the transport error.
    pub(crate) async fn post(&self, http: &reqwest::Client, e: &Planned) -> reqwest::Result<u16> {
        let req = match e.via {
            Via::Generic => http
                .post(&self.generic_url)
                .header("x-webhook-signature", hex_hmac(&self.secret, &e.body)),
            Via::ToSend => http.post(&self.tosend_url),
        };
        let resp = req
            .header("content-type", "application/json")
            .body(e.body.clone())
            .send()
            .await?;
        Ok(resp.status().as_u16())
    }
}

async fn create_source(http: &reqwest::Client, port: u16, body: Value) -> Value {
    let resp = http
        .post(format!("http://127.0.0.1:{port}/api/v1/sources"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("create source");
    assert_eq!(resp.status().as_u16(), 201, "create source {body}");
    resp.json().await.expect("source json")
}

/// A port below the ephemeral range: the server keeps it across restarts (the webhook URLs
/// name it), and no outgoing connection can take it while the server is down.
pub(crate) fn stable_port(rng: &mut Rng) -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(32768)
        .clamp(12_000, 65_535);
    for _ in 0..1000 {
        let port = (10_000 + rng.below(low - 10_000)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {low}");
}

/// Where a server lineage keeps its data.
pub(crate) enum Db {
    /// `--data-dir`.
    Dir(PathBuf),
    /// `--database-url postgres://…`.
    Url(String),
}

impl Db {
    fn args(&self) -> [&str; 2] {
        match self {
            Db::Dir(d) => ["--data-dir", d.to_str().expect("utf-8 path")],
            Db::Url(u) => ["--database-url", u],
        }
    }
}

/// A running `rebound serve`; killed (SIGKILL) and reaped when dropped.
pub(crate) struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    pub(crate) fn start(binary: &Path, db: &Db, port: u16, workers: usize, log: &Path) -> Server {
        // A short lease: rows a killed server held are taken again by a later one while
        // the loop runs, and the last drain does not wait out the default 30 s.
        let config = log.with_extension("toml");
        std::fs::write(&config, format!("[workers]\nlease_ms = {LEASE_MS}\n")).expect("config");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let child = Command::new(binary)
            .args(["--config", config.to_str().expect("utf-8 path")])
            .args(db.args())
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--workers", &workers.to_string()])
            .env("REBOUND_ADMIN_TOKEN", TOKEN)
            .env("REBOUND_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start rebound serve");
        Server {
            child,
            port,
            log: log.to_path_buf(),
        }
    }

    /// kill -9 (`Child::kill` is SIGKILL on Unix), then reap it. A server that has died on
    /// its own fails the test, with its log.
    pub(crate) fn kill(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "rebound serve exited on its own ({status}); its log:\n{}",
                self.log_tail()
            );
        }
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }

    /// Polls `/readyz` until it answers 2xx; fails at once, with the server's log, if the
    /// process has exited.
    pub(crate) async fn ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "rebound serve exited ({status}) before it was ready; its log:\n{}",
                    self.log_tail()
                );
            }
            let url = format!("http://127.0.0.1:{}/readyz", self.port);
            if let Ok(r) = http.get(url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "rebound serve not ready after 30 s; its log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already reaped after `kill`: then this signals nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn api(http: &reqwest::Client, port: u16, path: &str) -> Value {
    let resp = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    resp.json().await.expect("json")
}

/// Every item of a paginated list (`path` has a query string already).
pub(crate) async fn all_pages(http: &reqwest::Client, port: u16, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = match &cursor {
            Some(c) => api(http, port, &format!("{path}&cursor={c}")).await,
            None => api(http, port, path).await,
        };
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

/// Inbox rows waiting to be applied (0 when the server does not answer).
pub(crate) async fn pending(http: &reqwest::Client, port: u16) -> u64 {
    let Ok(resp) = http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
    else {
        return 0;
    };
    let body: Value = resp.json().await.unwrap_or_default();
    body["inbox"]["pending"].as_u64().unwrap_or(0)
}

/// Polls `/readyz` until nothing is pending; the inbox counts then.
pub(crate) async fn drained(http: &reqwest::Client, port: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let inbox = api(http, port, "/readyz").await["inbox"].clone();
        if inbox["pending"] == 0 {
            return inbox;
        }
        assert!(Instant::now() < deadline, "inbox not drained: {inbox}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every contact's `[status, reason, soft_bounce_count]`, by address.
pub(crate) async fn contact_states(http: &reqwest::Client, port: u16) -> BTreeMap<String, Value> {
    all_pages(http, port, "/api/v1/contacts?limit=1000")
        .await
        .into_iter()
        .map(|c| {
            let email = c["email"].as_str().expect("email").to_string();
            (
                email,
                json!([c["status"], c["reason"], c["soft_bounce_count"]]),
            )
        })
        .collect()
}

#[derive(Default)]
struct ClientRun {
    sent: Vec<Planned>,
    attempts: usize,
    connection_errors: usize,
    unavailable: usize,
}

/// Sends the stream one event at a time, each until it is acknowledged, until `stop`.
async fn client(
    http: reqwest::Client,
    sources: Sources,
    mut stream: Stream,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
) -> ClientRun {
    let mut run = ClientRun::default();
    while !stop.load(Ordering::SeqCst) {
        let e = stream.next();
        loop {
            run.attempts += 1;
            match sources.post(&http, &e).await {
                Ok(s) if (200..300).contains(&s) => break,
                Ok(503) => run.unavailable += 1,
                Ok(s) => panic!(
                    "{} answered {s}: only 2xx, 503 or no answer are expected",
                    e.message_id
                ),
                Err(_) => run.connection_errors += 1,
            }
            tokio::time::sleep(RETRY_DELAY).await;
        }
        run.sent.push(e);
        acked.fetch_add(1, Ordering::SeqCst);
    }
    run
}

/// The same stream, in the same order, to a fresh server that is never killed.
pub(crate) async fn serial_replay(
    binary: &Path,
    sent: &[Planned],
    rng: &mut Rng,
    db: &Db,
) -> (BTreeMap<String, Value>, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let port = stable_port(rng);
    let mut server = Server::start(binary, db, port, 2, &dir.path().join("server.log"));
    server.ready(&http).await;
    let sources = Sources::create(&http, port).await;
    for e in sent {
        let status = sources.post(&http, e).await.expect("serial replay post");
        assert_eq!(status, 200, "serial replay of {}", e.message_id);
    }
    drained(&http, port).await;
    let events = all_pages(&http, port, "/api/v1/events?limit=1000").await;
    (contact_states(&http, port).await, events.len())
}

/// N kill -9 cycles at random moments under a retrying client; then: every acknowledged
/// event stored exactly once, no other event, no failed row, and contact states equal to
/// those of a serial replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_loops_exactly_once_and_states_match_a_serial_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    crash_loop(
        Db::Dir(dir.path().join("data")),
        Db::Dir(dir.path().join("serial")),
    )
    .await;
}

/// The same loop with `--database-url postgres://…`: what a node acknowledged survives its
/// kill -9 on PostgreSQL too, and the rows it held are taken again once their lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_acknowledged_events_survive_kill_9_loops_exactly_once() {
    let Some(main) = crate::postgres::TestDatabase::create() else {
        return;
    };
    let Some(serial) = crate::postgres::TestDatabase::create() else {
        return;
    };
    crash_loop(Db::Url(main.url.clone()), Db::Url(serial.url.clone())).await;
}

/// How the stored events compare with the events sent, by Message-ID.
pub(crate) struct Tally<'a> {
    /// Sent and not stored.
    pub lost: Vec<&'a str>,
    /// Sent and stored more than once (how many times).
    pub duplicated: Vec<(&'a str, usize)>,
    /// Stored and never sent.
    pub unknown: Vec<&'a str>,
}

pub(crate) fn tally<'a>(sent: &'a [Planned], stored: &'a [Value]) -> Tally<'a> {
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for e in stored {
        *copies
            .entry(e["message_id"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let ids: HashSet<&str> = sent.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids.len(), sent.len(), "Message-IDs are unique");
    Tally {
        lost: sent
            .iter()
            .map(|e| e.message_id.as_str())
            .filter(|m| !copies.contains_key(m))
            .collect(),
        duplicated: copies
            .iter()
            .filter(|(m, n)| **n > 1 && ids.contains(**m))
            .map(|(m, n)| (*m, *n))
            .collect(),
        unknown: copies
            .keys()
            .copied()
            .filter(|m| !ids.contains(m))
            .collect(),
    }
}

/// The contacts whose state differs between a run (`label`) and the serial replay.
pub(crate) fn state_mismatches(
    label: &str,
    run: &BTreeMap<String, Value>,
    serial: &BTreeMap<String, Value>,
) -> Vec<String> {
    let emails: std::collections::BTreeSet<&String> = run.keys().chain(serial.keys()).collect();
    emails
        .into_iter()
        .filter_map(|email| {
            let (a, b) = (run.get(email), serial.get(email));
            (a != b).then(|| format!("{email}: {label} {a:?}, serial {b:?}"))
        })
        .collect()
}

/// The number in environment variable `name`, or `default`.
pub(crate) fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("{name}: a number, not '{s}'"))
        })
        .unwrap_or(default)
}

/// The seed in environment variable `name`, or one from the clock (printed by the runs, so
/// a run can be repeated).
pub(crate) fn env_seed(name: &str) -> u64 {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    env_number(name, clock)
}

/// The `rebound` binary the servers run: `REBOUND_CRASH_BIN` (a release build), else the
/// test build's.
pub(crate) fn server_binary() -> PathBuf {
    std::env::var_os("REBOUND_CRASH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(bin()))
}

/// Runs the loop with its servers on `db`, and the serial replay on `serial_db`.
async fn crash_loop(db: Db, serial_db: Db) {
    let cycles: usize = env_number("CRASH_CYCLES", DEFAULT_CYCLES);
    let seed = env_seed("CRASH_SEED");
    let binary = server_binary();
    eprintln!(
        "crash loop: {cycles} cycles, seed {seed}, binary {}",
        binary.display()
    );
    let started = Instant::now();
    let mut rng = Rng(seed ^ 0x6b69_6c6c);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let http = reqwest::Client::new();
    let port = stable_port(&mut rng);
    // Server k runs between kill k and kill k + 1; the last one (k = cycles) is not killed.
    let workers = |k: usize| {
        if k < cycles && k % PAUSE_EVERY == PAUSE_EVERY - 2 {
            0
        } else {
            2
        }
    };
    let mut server = Server::start(&binary, &db, port, workers(0), &log);
    server.ready(&http).await;
    let sources = Sources::create(&http, port).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let poster = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let client_task = tokio::spawn(client(
        poster,
        sources,
        Stream::new(seed),
        stop.clone(),
        acked.clone(),
    ));

    let (mut paused, mut killed_while_processing, mut cycles_with_acks) = (0, 0, 0);
    // Kill to ready again, per cycle: how long the client is refused.
    let mut downtimes: Vec<Duration> = Vec::with_capacity(cycles);
    for k in 0..cycles {
        let after_pause = k > 0 && workers(k - 1) == 0;
        // Soon after a paused server, to land while the backlog is being applied.
        let delay = if after_pause {
            rng.below(30)
        } else {
            20 + rng.below(381)
        };
        let acked_before = acked.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let pending = pending(&http, port).await;
        if workers(k) == 0 {
            paused += 1;
        } else if pending > 0 {
            killed_while_processing += 1;
        }
        let down = Instant::now();
        server.kill();
        if acked.load(Ordering::SeqCst) > acked_before {
            cycles_with_acks += 1;
        }
        assert!(
            !client_task.is_finished(),
            "the client stopped during cycle {} (seed {seed})",
            k + 1
        );
        server = Server::start(&binary, &db, port, workers(k + 1), &log);
        server.ready(&http).await;
        downtimes.push(down.elapsed());
        if cycles >= 50 && (k + 1) % 25 == 0 {
            let mut recent = downtimes[downtimes.len() - 25..].to_vec();
            recent.sort();
            eprintln!(
                "  {} cycles, {} events acknowledged, {:.1} s; kill to ready (last 25): \
                 median {} ms",
                k + 1,
                acked.load(Ordering::SeqCst),
                started.elapsed().as_secs_f64(),
                recent[12].as_millis()
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    let run = client_task.await.expect("client task");
    let crash_phase = started.elapsed();
    let inbox = drained(&http, port).await;

    // (a) Every acknowledged event exactly once, and no event that was not sent.
    let events = all_pages(&http, port, "/api/v1/events?limit=1000").await;
    let Tally {
        lost,
        duplicated,
        unknown,
    } = tally(&run.sent, &events);
    let stored = inbox["done"].as_u64().unwrap_or(0) + inbox["failed"].as_u64().unwrap_or(0);
    let main_states = contact_states(&http, port).await;
    drop(server);

    // (b) Contact states equal a serial replay of the same stream.
    let replay_started = Instant::now();
    let (serial_states, serial_events) =
        serial_replay(&binary, &run.sent, &mut rng, &serial_db).await;
    let replay_time = replay_started.elapsed();
    let mismatches = state_mismatches("after the crashes", &main_states, &serial_states);

    downtimes.sort();
    let ms = |d: Option<&Duration>| d.map_or(0, Duration::as_millis);
    let n = run.sent.len();
    let summary = format!(
        "crash loop: {cycles} cycles (kill -9 at random moments; {paused} with workers \
         paused, {killed_while_processing} while rows were waiting to be applied, \
         {cycles_with_acks} with acknowledgements before the kill; kill to ready: median {} \
         ms, max {} ms), {n} events sent, {} attempts ({} retries: {} connection errors, {} \
         answered 503), {n} acknowledged, {} requests stored (the extra {} stored but \
         unacknowledged, retried, deduplicated), lost {}, duplicated {}, unknown {}, failed \
         rows {}, state mismatches {} over {} contacts; {:.1} s (crash phase {:.1} s, serial \
         replay {:.1} s); seed {seed}",
        ms(downtimes.get(downtimes.len() / 2)),
        ms(downtimes.last()),
        run.attempts,
        run.attempts - n,
        run.connection_errors,
        run.unavailable,
        stored,
        stored.saturating_sub(n as u64),
        lost.len(),
        duplicated.len(),
        unknown.len(),
        inbox["failed"],
        mismatches.len(),
        main_states.len(),
        started.elapsed().as_secs_f64(),
        crash_phase.as_secs_f64(),
        replay_time.as_secs_f64(),
    );
    println!("{summary}");
    assert!(
        lost.is_empty(),
        "lost {:?}; {summary}",
        &lost[..lost.len().min(20)]
    );
    assert!(
        duplicated.is_empty(),
        "duplicated {:?}; {summary}",
        &duplicated[..duplicated.len().min(20)]
    );
    assert!(unknown.is_empty(), "unknown {unknown:?}; {summary}");
    assert_eq!(inbox["failed"], 0, "{summary}");
    assert_eq!(events.len(), n, "{summary}");
    assert_eq!(serial_events, n, "the serial replay stores every event");
    assert!(
        mismatches.is_empty(),
        "{}; {summary}",
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    // The harness really crashed the server under the client: every kill cost the client
    // at least one attempt, and the states cover every script.
    assert!(run.attempts - n >= cycles, "{summary}");
    assert!(main_states.len() >= SCRIPTS.len(), "{summary}");
}

//! Connection limits of `rebound serve` (issue #23): the real binary, started with small
//! limits, attacked over raw TCP. Each test asserts both that the attack is cut off at the
//! configured time (not earlier, not much later) and that normal requests still succeed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{bin, free_port, generic_event, hex_hmac, wait_ready, TOKEN};

/// A `rebound serve` process with its log (stderr) in a file; killed on drop.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// `rebound serve` with `flags` and `env`; with `nofile`, under `ulimit -n nofile` (soft
    /// and hard).
    async fn start(flags: &[&str], env: &[(&str, &str)], nofile: Option<u32>) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let log = dir.path().join("serve.log");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("bash");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), bin()]);
                c
            }
            None => Command::new(bin()),
        };
        let child = cmd
            .args([
                "--data-dir",
                dir.path().to_str().expect("utf-8 path"),
                "serve",
            ])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "0"])
            .args(flags)
            .env("REBOUND_ADMIN_TOKEN", TOKEN)
            .env("REBOUND_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start rebound serve");
        let s = Serve {
            child,
            port,
            log,
            _dir: dir,
        };
        wait_ready(&client(), port).await;
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET /healthz` on a new connection: whether it answered 200 within a second.
    async fn healthy(&self) -> bool {
        let req = "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let attempt = async {
            let mut s = TcpStream::connect(self.addr()).await.ok()?;
            s.write_all(req.as_bytes()).await.ok()?;
            read_response(&mut s).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), attempt).await,
            Ok(Some(r)) if r.starts_with("HTTP/1.1 200")
        )
    }
}

/// A client that keeps no idle connection (it would hold one of the server's slots).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// One HTTP/1.1 response (head and `content-length` body), or `None` if the connection
/// ended before a whole one.
async fn read_response(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned());
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads until the server closes the connection; what it sent before.
async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Slowloris: headers one byte every 500 ms. With a 1 s header timeout (and a 5 s idle
/// timeout, so that only the header timeout can explain it) every such connection is closed
/// after about 1 s, while `/healthz` keeps answering.
#[tokio::test]
async fn slowloris_connections_are_closed_at_the_header_timeout() {
    let serve = Serve::start(
        &["--header-read-timeout", "1", "--idle-timeout", "5"],
        &[],
        None,
    )
    .await;
    let mut attackers = Vec::new();
    for _ in 0..20 {
        let addr = serve.addr();
        attackers.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            let start = Instant::now();
            let _ = s
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
                .await;
            let mut buf = [0u8; 256];
            while start.elapsed() < Duration::from_secs(10) {
                tokio::select! {
                    r = s.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return Some(start.elapsed()),
                        Ok(_) => {}
                    },
                    () = tokio::time::sleep(Duration::from_millis(500)) => {
                        if s.write_all(b"a").await.is_err() {
                            return Some(start.elapsed());
                        }
                    }
                }
            }
            None
        }));
    }
    // Normal requests during the attack.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(serve.healthy().await, "/healthz failed during the attack");
    }
    for a in attackers {
        let closed = a
            .await
            .expect("join")
            .expect("a slowloris connection was never closed");
        assert!(
            (0.9..2.5).contains(&secs(closed)),
            "closed after {closed:?}, header timeout 1 s"
        );
    }
    assert!(serve.healthy().await);
}

/// A body sent one byte every 200 ms to a webhook: cut off (408, or the connection closed)
/// about 1 s after the head with a 1 s body timeout; normal webhooks still go through.
#[tokio::test]
async fn slow_uploads_are_cut_off_at_the_body_timeout() {
    let serve = Serve::start(
        &[
            "--body-read-timeout",
            "1",
            "--header-read-timeout",
            "5",
            "--idle-timeout",
            "5",
        ],
        &[],
        None,
    )
    .await;
    let http = client();
    let source: Value = http
        .post(serve.url("/api/v1/sources"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"provider": "generic", "name": "Slow"}))
        .send()
        .await
        .expect("create source")
        .json()
        .await
        .expect("source json");
    let url = source["webhook_url"]
        .as_str()
        .expect("webhook_url")
        .to_string();
    let secret = source["secret"].as_str().expect("secret").to_string();
    let path = url
        .find("/webhooks/")
        .map(|i| url[i..].to_string())
        .expect("webhook path");

    let mut s = TcpStream::connect(serve.addr()).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         x-webhook-signature: 00\r\ncontent-length: 1000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.expect("head");
    let start = Instant::now();
    let (mut rd, mut wr) = s.into_split();
    let dripping = tokio::spawn(async move {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if wr.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    // Meanwhile a normal, signed webhook is accepted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = generic_event(
        "e1",
        "bounced.soft",
        "k@example.com",
        "2026-04-01T00:00:00Z",
    );
    let ok = http
        .post(&url)
        .header("x-webhook-signature", hex_hmac(&secret, &body))
        .body(body)
        .send()
        .await
        .expect("normal webhook");
    let status = ok.status();
    assert!(
        status.is_success(),
        "normal webhook: {status} {:?}",
        ok.text().await
    );

    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let took = start.elapsed();
    dripping.abort();
    assert!(ended.is_ok(), "the slow upload was never cut off");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "expected 408 or a closed connection: {text}"
    );
    assert!(
        (0.9..2.5).contains(&secs(took)),
        "cut off after {took:?}, body timeout 1 s"
    );
    assert!(serve.healthy().await);
}

/// A keep-alive connection is kept past the header timeout (1 s) while idle, serves a
/// second request, then is closed about 2 s (the idle timeout) after its last response.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed_at_the_idle_timeout() {
    // Through the environment, as a container would set them.
    let env = [
        ("REBOUND_HEADER_READ_TIMEOUT", "1"),
        ("REBOUND_IDLE_TIMEOUT", "2"),
    ];
    let serve = Serve::start(&[], &env, None).await;
    let req = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut s = TcpStream::connect(serve.addr()).await.expect("connect");
    s.write_all(req).await.expect("request 1");
    let r = read_response(&mut s).await.expect("response 1");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    let mut one = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(1500), s.read(&mut one)).await;
    assert!(early.is_err(), "closed before the idle timeout: {early:?}");

    s.write_all(req).await.expect("request 2");
    let r = read_response(&mut s)
        .await
        .expect("response 2 on the same connection");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let start = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(10), until_closed(&mut s))
        .await
        .expect("the idle connection was never closed");
    let took = start.elapsed();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(
        (1.8..3.5).contains(&secs(took)),
        "closed after {took:?} idle, idle timeout 2 s"
    );
}

/// With max 20 connections, 70 idle ones: 20 are held (until the 2 s header timeout), 50
/// are answered 503 and closed at once, the log says so (once, not per connection), and a
/// new client gets `/healthz` as soon as the held ones are closed.
#[tokio::test]
async fn connections_past_the_cap_are_refused_and_logged() {
    const CAP: usize = 20;
    let serve = Serve::start(
        &[
            "--max-connections",
            "20",
            "--header-read-timeout",
            "2",
            "--idle-timeout",
            "2",
        ],
        &[],
        None,
    )
    .await;
    let mut conns = Vec::new();
    for _ in 0..CAP + 50 {
        conns.push(TcpStream::connect(serve.addr()).await.expect("connect"));
    }
    let flood = Instant::now();
    let classify = conns.into_iter().map(|mut s| {
        tokio::spawn(async move {
            let quick =
                tokio::time::timeout(Duration::from_millis(1000), until_closed(&mut s)).await;
            match quick {
                Ok(sent) => (false, Some(String::from_utf8_lossy(&sent).into_owned())),
                Err(_) => {
                    // Held: the server must close it at the header timeout.
                    let closed =
                        tokio::time::timeout(Duration::from_secs(5), until_closed(&mut s)).await;
                    assert!(closed.is_ok(), "a held idle connection was never closed");
                    (true, None)
                }
            }
        })
    });
    let classify: Vec<_> = classify.collect();
    let mut answered_at = None;
    while flood.elapsed() < Duration::from_secs(6) {
        if serve.healthy().await {
            answered_at = Some(flood.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut held, mut refused, mut told_503) = (0, 0, 0);
    for c in classify {
        match c.await.expect("join") {
            (true, _) => held += 1,
            (false, sent) => {
                refused += 1;
                if sent.is_some_and(|t| t.starts_with("HTTP/1.1 503")) {
                    told_503 += 1;
                }
            }
        }
    }
    assert!(
        (CAP - 5..=CAP).contains(&held),
        "held {held}, refused {refused}"
    );
    assert!(
        told_503 >= 40,
        "503 answers: {told_503} of {refused} refused"
    );
    let answered_at = answered_at.expect("/healthz never answered after the flood");
    assert!(
        secs(answered_at) < 3.5,
        "/healthz answered {answered_at:?} after the flood (header timeout 2 s)"
    );
    let log = serve.log();
    let lines = log.matches("connection limit reached").count();
    assert!(
        (1..=2).contains(&lines),
        "{lines} 'connection limit reached' lines for {refused} refused:\n{log}"
    );
}

/// Under `ulimit -n 64` with a cap the limit cannot hold, accepts fail with `Too many open
/// files`: the listener logs it (rate-limited), backs off, and answers again once the idle
/// connections are gone; the start-up warning named the problem.
#[tokio::test]
async fn the_listener_survives_running_out_of_file_descriptors() {
    let mut serve = Serve::start(
        &["--max-connections", "1000", "--header-read-timeout", "1"],
        &[],
        Some(64),
    )
    .await;
    assert!(
        serve
            .log()
            .contains("max_connections is more than the open-file limit leaves room for"),
        "{}",
        serve.log()
    );
    let mut conns = Vec::new();
    for _ in 0..100 {
        if let Ok(s) = TcpStream::connect(serve.addr()).await {
            conns.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let log = serve.log();
    let errors = log.matches("accept error").count();
    assert!(
        log.contains("Too many open files") && (1..=2).contains(&errors),
        "{errors} accept error lines:\n{log}"
    );
    assert!(
        serve.child.try_wait().expect("wait").is_none(),
        "serve died"
    );
    drop(conns);
    let dropped = Instant::now();
    let mut ok = false;
    while dropped.elapsed() < Duration::from_secs(3) {
        if serve.healthy().await {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ok,
        "/healthz did not answer after the connections were dropped"
    );
    assert!(
        serve.child.try_wait().expect("wait").is_none(),
        "serve died"
    );
}

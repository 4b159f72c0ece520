//! What the browser tests share: a headless Chromium driven through chromedriver (one per
//! test, on a free port, its process group killed when dropped, also on panic), the steps
//! a person takes (open, fill, click, log in, screenshot), and plain-HTTP helpers (a login,
//! a forged form post). Screenshots go to `<target>/ui-screenshots/`.
//!
//! Without chromedriver a test gets `None` and passes with a note, except under `CI=true`,
//! where it fails (`.ci/run` installs it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process in a process group of its own; dropping it kills the group
/// (chromedriver and the browsers it started).
struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group chromedriver leads (spawned with `process_group(0)`): its browsers too.
        let _ = rustix::process::kill_process_group(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::KILL,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session and where its screenshots go.
pub(crate) struct Browser {
    pub(crate) c: Client,
    pub(crate) base: String,
    pub(crate) shots: PathBuf,
    // Dropped after the client.
    _driver: Driver,
}

/// A headless Chromium on `app`, or `None` (with a note) when chromedriver is not
/// installed and this is not CI.
pub(crate) async fn browser(app: &TestApp) -> Option<Browser> {
    if !std::path::Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{CHROMEDRIVER} is missing: apt-get install chromium chromium-driver"
        );
        eprintln!("note: {CHROMEDRIVER} not found, browser test skipped (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = free_port();
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver")
    };
    let driver = Driver { child };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"],
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("ui-screenshots"))
        .expect("target dir");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    Some(Browser {
        c,
        base: app.url(""),
        shots,
        _driver: driver,
    })
}

impl Browser {
    pub(crate) async fn go(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub(crate) async fn text(&self) -> String {
        self.c
            .find(Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }

    pub(crate) async fn path(&self) -> String {
        let u = self.c.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    pub(crate) async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let e = self.c.find(Locator::Css(css)).await.expect(css);
        e.clear().await.expect("clear");
        e.send_keys(value).await.expect("type");
    }

    /// Clicks a link or submit button and waits for the next page (the clicked element
    /// gone stale).
    pub(crate) async fn click(&self, css: &str) {
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.click().await.expect("click");
        let deadline = Instant::now() + Duration::from_secs(15);
        while e.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "{css}: no new page");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub(crate) async fn login(&self, email: &str, password: &str) {
        self.go("/login").await;
        self.fill("input[name=email]", email).await;
        self.fill("input[name=password]", password).await;
        self.click("form button[type=submit]").await;
    }

    /// The session cookie, as a `Cookie` header value.
    pub(crate) async fn cookie(&self) -> String {
        let c = self
            .c
            .get_named_cookie("rebound_session")
            .await
            .expect("session cookie");
        format!("rebound_session={}", c.value())
    }

    /// The CSRF token of the page's forms.
    pub(crate) async fn csrf(&self) -> String {
        self.c
            .find(Locator::Css("input[name=csrf]"))
            .await
            .expect("a form")
            .attr("value")
            .await
            .expect("value")
            .expect("a token")
    }

    pub(crate) async fn close(self) {
        let _ = self.c.close().await;
    }
}

/// A UI user made through the API; returns its password.
pub(crate) async fn user(app: &TestApp, email: &str, role: &str) -> String {
    let password = format!("pw-{role}-0123456789abcdef");
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": email, "role": role, "password": password})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    password
}

/// A POST form sent with a copied session cookie, as a forging page (or script) would.
pub(crate) async fn forged(
    app: &TestApp,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> u16 {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut req = client
        .post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.expect("request").status().as_u16()
}

pub(crate) fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Logs in over plain HTTP; returns the `Cookie` header value.
pub(crate) async fn http_login(app: &TestApp, email: &str, password: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email={}&password={}&next=%2F%2Fevil.example%2F",
            url_encode(email),
            url_encode(password)
        ))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/",
        "next must stay on this site"
    );
    let cookie = resp.headers()["set-cookie"].to_str().expect("ascii");
    cookie.split(';').next().expect("cookie").to_string()
}

//! Every rejection: the right status, a JSON error, no event, and an entry in the log.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

type Headers = Vec<(&'static str, String)>;

async fn assert_nothing_stored(app: &TestApp) {
    let r = app.drain().await;
    assert_eq!(r.done, 0, "no rejected request reaches the inbox");
    assert_eq!(app.event_count().await, 0);
    let counts = app.store.inbox_counts().await.expect("counts");
    assert_eq!(counts.pending + counts.done + counts.failed, 0);
}

#[tokio::test]
async fn wrong_keys_are_403_without_a_hint() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let key = src["key"].as_str().expect("key").to_string();
    let body = fixture("tosend", "bounce-hard.json");
    let mut wrong = key.clone();
    wrong.replace_range(key.len() - 1.., if key.ends_with('A') { "B" } else { "A" });
    let url = shown_url(&src);
    assert!(url.ends_with(&format!("/webhooks/tosend/{key}")), "{url}");
    let long_key = "k".repeat(60_000);
    for forged in [
        with_key(&url, &wrong),
        with_key(&url, &key[..key.len() - 1]),
        with_key(&url, &long_key),
        url.replace("/webhooks/tosend/", "/webhooks/generic/"),
    ] {
        let (code, v) = app.post_url(&forged, &[], body.clone()).await;
        assert_eq!(
            (code, v),
            (403, json!({"error": "forbidden"})),
            "{}",
            &forged[..80]
        );
    }
    // Not a provider: 404, and nothing of the path is echoed or kept.
    let unknown = format!("/webhooks/{}/{key}", "x".repeat(60_000));
    for path in ["/webhooks/nosuchprovider/abc".to_string(), unknown] {
        let (code, v) = app.post_url(&app.url(&path), &[], body.clone()).await;
        assert_eq!((code, v), (404, json!({"error": "no such endpoint"})));
    }
    assert_nothing_stored(&app).await;
    // One sample of each kind of rejection is in the log; all of them are counted.
    let log = app.log().await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().all(|e| e["outcome"] == "rejected"));
    for e in &log {
        let path = e["path"].as_str().unwrap_or_default();
        assert!(path.len() < 40, "bounded path: {path}");
        assert!(!path.contains(&key[..10]), "keys are not logged");
        assert!(
            !path.contains("nosuchprovider"),
            "unknown names are not kept"
        );
    }
    let (_, counts) = app.get("/api/v1/log/rejections").await;
    assert_eq!(counts["total"], 6, "{counts}");
    let by_status = |status: u64| {
        counts["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["http_status"] == status)
                    .map(|c| c["count"].as_u64().unwrap_or(0))
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    assert_eq!((by_status(403), by_status(404)), (4, 2), "{counts}");
}

#[tokio::test]
async fn bad_missing_empty_and_stale_signatures_are_401() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let secret = src["secret"].as_str().expect("secret").to_string();
    let url = shown_url(&src);
    let body = fixture("generic", "bounced-hard.json");
    let good_hex = hex_hmac(&secret, &body);
    let now = now_secs();
    let sw = |id: &str, ts: i64| standard_webhooks_headers(&secret, id, ts, &body);
    let with_sig = |sig: String| {
        let mut h = sw("evt_x", now);
        h[2].1 = sig;
        h
    };
    let mut reserialized: Value = serde_json::from_slice(&body).expect("json");
    reserialized["id"] = json!("evt_01hx8b1c2d3e4f5g6h7j8k9m0n");
    let reserialized = serde_json::to_vec(&reserialized).expect("json");
    let cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        ("no signature", vec![], body.clone()),
        (
            "empty hex",
            vec![("x-webhook-signature", String::new())],
            body.clone(),
        ),
        (
            "sha256= only",
            vec![("x-webhook-signature", "sha256=".into())],
            body.clone(),
        ),
        (
            "wrong hex",
            vec![("x-webhook-signature", hex_hmac("other-secret-1234", &body))],
            body.clone(),
        ),
        (
            "truncated hex",
            vec![("x-webhook-signature", good_hex[..62].to_string())],
            body.clone(),
        ),
        (
            "not hex",
            vec![("x-webhook-signature", "zz".repeat(32))],
            body.clone(),
        ),
        (
            "re-serialized body",
            vec![("x-webhook-signature", good_hex.clone())],
            reserialized,
        ),
        ("v1, empty", with_sig("v1,".into()), body.clone()),
        (
            "v1 garbage",
            with_sig("v1,AAAA v1,notbase64!".into()),
            body.clone(),
        ),
        ("stale", sw("evt_x", now - 330), body.clone()),
        ("future", sw("evt_x", now + 330), body.clone()),
        ("dot in id", sw("evt.x", now), body.clone()),
    ];
    let n = cases.len();
    for (what, headers, b) in cases {
        let (code, v) = app.post_url(&url, &headers, b).await;
        assert_eq!(code, 401, "{what}: {v}");
        assert!(v["error"].is_string(), "{what}: JSON error");
    }
    assert_nothing_stored(&app).await;
    // Every one counted; one sample of each distinct error in the log.
    let (_, counts) = app.get("/api/v1/log/rejections").await;
    assert_eq!(counts["total"], n as u64, "{counts}");
    let log = app.log().await;
    let errors: std::collections::HashSet<&str> =
        log.iter().filter_map(|e| e["error"].as_str()).collect();
    assert_eq!(log.len(), errors.len(), "one sample per kind");
    assert!(log.len() >= 3, "{log:?}");
    assert!(log.iter().all(|e| e["http_status"] == 401));
    // Within the tolerance both ways is fine.
    for ts in [now - 290, now + 290] {
        let (code, v) = app.post_url(&url, &sw("evt_y", ts), body.clone()).await;
        assert_eq!(code, 200, "{v}");
    }
}

#[tokio::test]
async fn a_source_without_a_secret_fails_closed() {
    let app = spawn_app().await;
    let s = app
        .store
        .create_source(rebound_store::NewSource {
            provider: "generic".into(),
            name: "no secret".into(),
            key: "k".repeat(32),
            secret: None,
            config: json!({}),
            created_at: 0,
        })
        .await
        .expect("source");
    app.state.sources.reload(&app.store).await.expect("sources");
    let body = fixture("generic", "bounced-hard.json");
    let (code, v) = app
        .post_url(
            &rebound_server::sources::webhook_url(&app.state.config.public_url, &s),
            &[("x-webhook-signature", hex_hmac("", &body))],
            body,
        )
        .await;
    assert_eq!(code, 503, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap_or_default()
        .contains("no signing secret"));
    let (_, sources) = app.get("/api/v1/sources").await;
    assert_eq!(sources["items"][0]["status"], "error");
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_problem() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let url = shown_url(&src);
    let cases: [(&[u8], &str); 5] = [
        (b"{\"type\": ", "invalid JSON"),
        (b"\"just a string\"", "expected a JSON object"),
        (b"{\"type\":\"bounce\"}", "missing field 'email'"),
        (
            b"{\"type\":\"bounce\",\"email\":\"not-an-address\"}",
            "not an email address",
        ),
        (
            b"[{\"type\":\"bounce\",\"email\":\"a@example.com\"}, 3]",
            "item 1",
        ),
    ];
    for (body, needle) in cases {
        let (code, v) = app.post_url(&url, &[], body.to_vec()).await;
        assert_eq!(code, 400, "{needle}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(needle),
            "{needle}: {v}"
        );
    }
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let (code, _) = app.post_url(&url, &[], deep.into_bytes()).await;
    assert_eq!(code, 400, "deep nesting is refused, not a stack overflow");
    assert_nothing_stored(&app).await;
    assert_eq!(app.log().await.len(), 6);
}

/// Over the limit → 413, both when the length is declared and when the body is streamed
/// in chunks with no declared length (the server stops reading at the limit).
#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let cfg = rebound_server::ServerConfig {
        body_limit: 1000,
        ..Default::default()
    };
    let app = spawn_app_with(cfg).await;
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let url = shown_url(&src);
    let pad = |n: usize| {
        let base = r#"{"type":"bounce","email":"a@example.com","reason":""}"#;
        let mut s = base.replace(
            "\"reason\":\"\"",
            &format!("\"reason\":\"{}\"", "x".repeat(n - base.len())),
        );
        s.truncate(n);
        s.into_bytes()
    };
    let (code, v) = app.post_url(&url, &[], pad(1000)).await;
    assert_eq!(code, 200, "exactly at the limit: {v}");
    let (code, v) = app.post_url(&url, &[], pad(1001)).await;
    assert_eq!(code, 413, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap_or_default()
        .contains("limit of 1000 bytes"));

    // Chunked, 10 MB announced by nothing: answered 413 after ~1000 bytes.
    let mut sock = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let path = reqwest::Url::parse(&url).expect("url").path().to_string();
    let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    sock.write_all(head.as_bytes()).await.expect("write");
    let chunk = format!("{:x}\r\n{}\r\n", 512, "y".repeat(512));
    let mut sent = 0;
    for _ in 0..20_000 {
        if sock.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        sent += 512;
        if sent > 64 * 1024 {
            break;
        }
    }
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut resp),
    )
    .await;
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    let r = app.drain().await;
    assert_eq!(r.done, 1, "only the request at the limit was stored");
    let statuses: Vec<u64> = app
        .log()
        .await
        .iter()
        .filter_map(|e| e["http_status"].as_u64())
        .collect();
    // The two 413s are one kind: one sample in the log, both counted.
    assert_eq!(statuses, vec![413, 200]);
    let (_, counts) = app.get("/api/v1/log/rejections").await;
    assert_eq!(counts["total"], 2, "{counts}");
}

#[tokio::test]
async fn the_admin_api_needs_the_token() {
    let app = spawn_app().await;
    for (auth, want) in [
        (None, "missing API key"),
        (Some("Bearer wrong-token"), "invalid API key"),
    ] {
        let mut req = app.client.get(app.url("/api/v1/contacts"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status().as_u16(), 401);
        let v: Value = resp.json().await.expect("json");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(want),
            "{v}"
        );
    }
    let (code, _) = app.api(Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(code, 200);
    let (code, v) = app
        .api(
            Method::POST,
            "/api/v1/sources",
            Some(json!({"provider": "nope", "name": "x"})),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown provider 'nope'"),
        "{v}"
    );
    let (code, v) = app
        .api(
            Method::POST,
            "/api/v1/sources",
            Some(json!({"provider": "tosend"})),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        v["error"].as_str().unwrap_or_default().contains("name"),
        "{v}"
    );
    let resp = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let (code, v) = app.get("/readyz").await;
    assert_eq!((code, v["status"].as_str()), (200, Some("ready")));
    // Guessing is slowed down: after 10 wrong tokens in a minute (one above, nine here),
    // the next wrong one is 429 — but the right token still works.
    for _ in 0..9 {
        assert_eq!(admin_get(&app, "guess-guess-guess", None).await.0, 401);
    }
    let (code, retry) = admin_get(&app, "guess-guess-guess", None).await;
    assert_eq!(code, 429);
    let retry: u64 = retry.and_then(|r| r.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        admin_get(&app, TOKEN, None).await.0,
        200,
        "the right token is never refused by the limiter"
    );
}

/// GET /api/v1/contacts with a token (and an X-Forwarded-For); status and Retry-After.
async fn admin_get(app: &TestApp, token: &str, xff: Option<&str>) -> (u16, Option<String>) {
    let mut req = app
        .client
        .get(app.url("/api/v1/contacts"))
        .bearer_auth(token);
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let r = req.send().await.expect("send");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (r.status().as_u16(), retry)
}

/// Behind a trusted proxy the limiter counts per forwarded client: one client's wrong
/// tokens neither block another client nor the right token; from an untrusted peer the
/// forwarding header is ignored (it cannot be used to dodge the limit).
#[tokio::test]
async fn the_token_limiter_cannot_lock_anyone_out() {
    let cfg = rebound_server::ServerConfig {
        trusted_proxies: rebound_server::auth::TrustedProxies::parse("127.0.0.1").expect("cidr"),
        ..Default::default()
    };
    let app = spawn_app_with(cfg).await;
    let attacker = Some("203.0.113.66");
    for _ in 0..10 {
        assert_eq!(admin_get(&app, "wrong-token-wrong", attacker).await.0, 401);
    }
    assert_eq!(admin_get(&app, "wrong-token-wrong", attacker).await.0, 429);
    assert_eq!(
        admin_get(&app, TOKEN, attacker).await.0,
        200,
        "right token, same client"
    );
    assert_eq!(admin_get(&app, TOKEN, Some("198.51.100.1")).await.0, 200);
    assert_eq!(
        admin_get(&app, TOKEN, None).await.0,
        200,
        "the proxy itself"
    );
    assert_eq!(
        admin_get(&app, "wrong-token-wrong", Some("198.51.100.1"))
            .await
            .0,
        401,
        "another client is not blocked"
    );

    // Without trusted proxies the header is the client's own claim: ignored.
    let app = spawn_app().await;
    for i in 0..10 {
        let xff = format!("192.0.2.{i}");
        assert_eq!(
            admin_get(&app, "wrong-token-wrong", Some(&xff)).await.0,
            401
        );
    }
    assert_eq!(
        admin_get(&app, "wrong-token-wrong", Some("192.0.2.200"))
            .await
            .0,
        429,
        "a fresh X-Forwarded-For does not reset the count"
    );
}

/// Admin inputs are bounded: a body over the admin limit is 413 before it is parsed,
/// attributes over their size 413 and over their depth 400, each naming the limit, also
/// when a patch would grow the stored attributes past it; axum's own rejections are JSON.
#[tokio::test]
async fn admin_inputs_are_bounded_and_named() {
    let app = spawn_app().await;
    let million = format!(
        "{{\"email\":\"big@example.com\",\"attributes\":{{\"x\":[{}0]}}}}",
        "0,".repeat(1_000_000)
    );
    let r = app
        .client
        .post(app.url("/api/v1/contacts"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(million)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.expect("a JSON error");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("1048576"),
        "{v}"
    );

    let post = |attrs: Value| {
        app.api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "a@example.com", "attributes": attrs})),
        )
    };
    let (code, v) = post(json!({"x": "y".repeat(20_000)})).await;
    assert_eq!(code, 413, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("16384"),
        "{v}"
    );
    let (code, v) = post(json!({"x": [[[[[[[[[1]]]]]]]]]})).await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("deeper than 8"),
        "{v}"
    );
    let (code, v) = post(json!({"plan": "pro", "half": "y".repeat(9_000)})).await;
    assert_eq!(code, 201, "{v}");
    let (code, v) = app
        .api(
            Method::PATCH,
            "/api/v1/contacts/a@example.com",
            Some(json!({"attributes": {"other": "z".repeat(9_000)}})),
        )
        .await;
    assert_eq!(code, 413, "the merge would be over the limit: {v}");
    let (code, v) = app
        .api(
            Method::PATCH,
            "/api/v1/contacts/a@example.com",
            Some(json!({"attributes": {"half": null, "other": "z".repeat(9_000)}})),
        )
        .await;
    assert_eq!(code, 200, "replacing stays under it: {v}");

    let (code, v) = app
        .api(Method::POST, "/api/v1/sources/not-a-number/reveal", None)
        .await;
    assert_eq!(code, 400);
    assert!(v["error"].is_string(), "axum's rejection as JSON: {v}");
}

/// The lock-out the issue found, against the real binary behind a (simulated) reverse
/// proxy: ten bad tokens from one client neither lock out that client's right token nor
/// any other client, and the limit follows the forwarded client, not the proxy.
#[tokio::test]
async fn ten_bad_tokens_lock_nobody_out_of_the_real_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = std::process::Command::new(bin())
        .args(["--data-dir", dir.path().to_str().expect("utf-8")])
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("REBOUND_ADMIN_TOKEN", TOKEN)
        .env("REBOUND_TRUSTED_PROXIES", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rebound serve");
    let client = reqwest::Client::new();
    wait_ready(&client, port).await;
    let check = |token: &'static str, xff: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!(
                    "http://127.0.0.1:{port}/api/v1/suppressions/a@example.com"
                ))
                .bearer_auth(token)
                .header("x-forwarded-for", xff)
                .send()
                .await
                .expect("send");
            (r.status().as_u16(), r.headers().contains_key("retry-after"))
        }
    };
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(check("wrong-token-wrong", "203.0.113.5").await);
    }
    let right_same = check(TOKEN, "203.0.113.5").await;
    let other = check("wrong-token-wrong", "198.51.100.9").await;
    let right_other = check(TOKEN, "198.51.100.9").await;
    let _ = server.kill();
    let _ = server.wait();
    assert!(codes[..10].iter().all(|c| *c == (401, false)), "{codes:?}");
    assert!(codes[10..].iter().all(|c| *c == (429, true)), "{codes:?}");
    assert_eq!(right_same.0, 200, "the right token is never refused");
    assert_eq!(other.0, 401, "another client is not limited");
    assert_eq!(right_other.0, 200);
}

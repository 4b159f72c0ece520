//! RFC 8058 one-click unsubscribe, as a sender and a mailbox provider use it: a `check` key
//! mints the headers, the POST to exactly the URL they name unsubscribes (once, however
//! often repeated); link scanners' GETs and HEADs change nothing; forged, altered and
//! expired tokens get the same answer as a valid one and change nothing; the CLI prints
//! headers whose URL works.

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::*;

const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

async fn check_key(app: &TestApp) -> String {
    crate::keys::new_key(app, "sending app", "check").await.1
}

/// Mints a link with `key` through the API: (status, body).
async fn mint(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/api/v1/unsubscribe-links"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The URL inside `<…>` of a `List-Unsubscribe` value.
fn url_of(header: &str) -> String {
    header
        .strip_prefix('<')
        .and_then(|h| h.strip_suffix('>'))
        .unwrap_or_else(|| panic!("not <URL>: {header}"))
        .to_string()
}

/// POSTs a one-click body as a mailbox provider does: (status, body text).
async fn one_click(app: &TestApp, url: &str, body: &str) -> (u16, String) {
    let resp = app
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

async fn unsubscribe_events(app: &TestApp, email: &str) -> Vec<Value> {
    let (_, v) = app
        .get(&format!("/api/v1/events?email={email}&kind=unsubscribe"))
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_one_click_post_to_the_minted_url_unsubscribes_once() {
    let app = spawn_app().await;
    let key = check_key(&app).await;
    let (status, link) = mint(
        &app,
        &key,
        json!({"email": "reader@Example.COM", "list": "weekly news"}),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    let headers = &link["headers"];
    assert_eq!(headers["List-Unsubscribe-Post"], ONE_CLICK);
    let url = url_of(headers["List-Unsubscribe"].as_str().expect("header"));
    assert_eq!(url, link["url"].as_str().expect("url"));
    assert!(
        url.starts_with(&format!("{}/unsubscribe/", app.url(""))),
        "{url}"
    );

    let started = Instant::now();
    let (status, first) = one_click(&app, &url, ONE_CLICK).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{first}");
    eprintln!("one-click POST answered in {took:?}");
    app.drain().await;
    let (status, contact) = app.contact("reader@example.com").await;
    assert_eq!(status, 200, "{contact}");
    assert_eq!(contact["status"], "unsubscribed", "{contact}");
    let events = unsubscribe_events(&app, "reader@example.com").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["list"], "weekly news", "{events:?}");

    // Repeated (a provider retrying, a second click): the same answer, still one event.
    let (status, again) = one_click(&app, &url, ONE_CLICK).await;
    assert_eq!((status, &again), (200, &first));
    app.drain().await;
    assert_eq!(
        unsubscribe_events(&app, "reader@example.com").await.len(),
        1
    );

    // The request log names the route, never the token.
    let log = app.log().await;
    let token = url.rsplit('/').next().expect("token");
    assert!(!Value::Array(log.clone()).to_string().contains(token));
    assert!(log.iter().any(|e| e["path"] == "/unsubscribe/<token>"));
}

#[tokio::test]
async fn bodies_providers_send_are_accepted_and_others_refused() {
    let app = spawn_app().await;
    let (_, link) = mint(&app, TOKEN, json!({"email": "a@example.com"})).await;
    let url = link["url"].as_str().expect("url").to_string();
    // Not the one-click body: refused, nothing stored.
    let (status, _) = one_click(&app, &url, "").await;
    assert_eq!(status, 400);
    let (status, _) = one_click(&app, &url, &"x".repeat(10_000)).await;
    assert_eq!(status, 413);
    app.drain().await;
    assert_eq!(app.contact("a@example.com").await.0, 404);
    // Multipart (RFC 8058 § 3.1), and a form with spaces and another field.
    let resp = app
        .client
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body("--b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0undary--\r\n")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = one_click(&app, &url, " List-Unsubscribe=One-Click &x=1\r\n").await;
    assert_eq!(status, 200);
    app.drain().await;
    assert_eq!(
        app.contact("a@example.com").await.1["status"],
        "unsubscribed"
    );
    assert_eq!(unsubscribe_events(&app, "a@example.com").await.len(), 1);
}

#[tokio::test]
async fn link_scanners_change_nothing() {
    let app = spawn_app().await;
    let (_, link) = mint(&app, TOKEN, json!({"email": "scanned@example.com"})).await;
    let url = link["url"].as_str().expect("url").to_string();
    for ua in [
        None,
        Some("Mozilla/5.0 (compatible; Barracuda Sentinel; +https://barracuda.com)"),
        Some("Mimecast URL Protect"),
        Some("Microsoft Office/16.0 (SafeLinks)"),
    ] {
        let mut req = app.client.get(&url);
        if let Some(ua) = ua {
            req = req.header("user-agent", ua);
        }
        let resp = req.send().await.expect("GET");
        assert_eq!(resp.status().as_u16(), 200);
        let csp = resp
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(resp.headers().get("set-cookie").is_none());
        let page = resp.text().await.expect("page");
        assert!(page.contains("<form method=\"post\">"), "{page}");
        assert!(page.contains("name=\"List-Unsubscribe\" value=\"One-Click\""));
    }
    let resp = app.client.head(&url).send().await.expect("HEAD");
    assert_eq!(resp.status().as_u16(), 200);
    app.drain().await;
    assert_eq!(app.contact("scanned@example.com").await.0, 404);
    assert_eq!(app.event_count().await, 0);
    // The inbox holds nothing to process either.
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(
        ready["inbox"]["pending"].as_u64().unwrap_or(0),
        0,
        "{ready}"
    );
}

/// A token with `payload` and the signature part `sig`.
fn token_url(app: &TestApp, payload: &[u8], sig: &str) -> String {
    app.url(&format!(
        "/unsubscribe/{}.{sig}",
        URL_SAFE_NO_PAD.encode(payload)
    ))
}

#[tokio::test]
async fn forged_altered_and_expired_tokens_get_the_same_answer_and_change_nothing() {
    let app = spawn_app().await;
    let (_, link) = mint(&app, TOKEN, json!({"email": "victim@example.com"})).await;
    let url = link["url"].as_str().expect("url").to_string();
    let token = url.rsplit('/').next().expect("token").to_string();
    let (payload, sig) = token.split_once('.').expect("payload.sig");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
    assert_eq!(claims["e"], "victim@example.com");

    // What a valid token answers (on another address, so that nothing is unsubscribed
    // that the checks below look at).
    let (_, other) = mint(&app, TOKEN, json!({"email": "someone@example.com"})).await;
    let valid = one_click(&app, other["url"].as_str().expect("url"), ONE_CLICK).await;
    assert_eq!(valid.0, 200);

    let key = rebound_server::unsubscribe::load_key(&app.store)
        .await
        .expect("key");
    let victim = rebound_core::Address::parse("victim@example.com").expect("address");
    let mut tampered = claims.clone();
    tampered["e"] = json!("other@example.com");
    let bad = [
        // Forged: another key.
        format!(
            "{}/unsubscribe/{}",
            app.url(""),
            rebound_server::unsubscribe::token(&[9; 32], &victim, None, i64::MAX / 2)
        ),
        // The address changed, the signature kept.
        token_url(&app, tampered.to_string().as_bytes(), sig),
        // Expired (an hour ago), signed with the right key.
        format!(
            "{}/unsubscribe/{}",
            app.url(""),
            rebound_server::unsubscribe::token(&key, &victim, None, now_secs() - 3600)
        ),
        // A broken signature, garbage, nothing.
        format!("{url}x"),
        app.url("/unsubscribe/not-a-token"),
        app.url(&format!("/unsubscribe/{}", "A".repeat(3000))),
    ];
    for u in &bad {
        assert_eq!(&one_click(&app, u, ONE_CLICK).await, &valid, "{u}");
    }
    app.drain().await;
    assert_eq!(app.contact("victim@example.com").await.0, 404);
    assert_eq!(app.contact("other@example.com").await.0, 404);
    assert_eq!(
        unsubscribe_events(&app, "victim@example.com").await.len(),
        0
    );
    assert_eq!(app.event_count().await, 1, "only the valid one");
}

#[tokio::test]
async fn a_check_key_mints_links_and_still_reads_nothing() {
    let app = spawn_app().await;
    let key = check_key(&app).await;
    let (status, _) = mint(&app, &key, json!({"email": "a@example.com"})).await;
    assert_eq!(status, 200);
    for (body, why) in [
        (json!({"email": "not an address"}), "address"),
        (json!({"email": "a@example.com", "list": "x\ny"}), "list"),
        (
            json!({"email": "a@example.com", "other": 1}),
            "unknown field",
        ),
    ] {
        let (status, v) = mint(&app, &key, body).await;
        assert_eq!(status, 400, "{why}: {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    let resp = app
        .client
        .get(app.url("/api/v1/contacts"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 403);
    let resp = app
        .client
        .post(app.url("/api/v1/unsubscribe-links"))
        .json(&json!({"email": "a@example.com"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401, "a key is needed");
}

#[tokio::test]
async fn the_cli_prints_the_headers_and_their_url_works() {
    let app = spawn_app().await;
    let out = run_rebound(
        &[
            "--database-url",
            &app.database_url(),
            "unsubscribe-link",
            "--email",
            "cli@example.com",
            "--list",
            "digest",
            "--public-url",
            &app.url(""),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let url = url_of(
        lines[0]
            .strip_prefix("List-Unsubscribe: ")
            .expect("List-Unsubscribe line"),
    );
    assert_eq!(lines[1], format!("List-Unsubscribe-Post: {ONE_CLICK}"));
    let (status, _) = one_click(&app, &url, ONE_CLICK).await;
    assert_eq!(status, 200);
    app.drain().await;
    assert_eq!(
        app.contact("cli@example.com").await.1["status"],
        "unsubscribed"
    );
    let events = unsubscribe_events(&app, "cli@example.com").await;
    assert_eq!(events[0]["details"]["list"], "digest", "{events:?}");

    let out = run_rebound(
        &[
            "--database-url",
            &app.database_url(),
            "unsubscribe-link",
            "--email",
            "nope",
        ],
        None,
    );
    assert!(!out.status.success());
}

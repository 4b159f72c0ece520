//! Outbound webhooks end to end: a real HTTP receiver on 127.0.0.1, every delivery verified
//! with the official `standardwebhooks` Python package (also during a secret rotation);
//! a receiver down for a while gets each message later, once, in order per contact; `410`
//! disables; `Retry-After` is waited for; private targets are refused without the allow list
//! (also a name that resolves to one, when connecting).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{free_port, spawn_app_with, TestApp};
use crate::receiver::{start_receiver, verify_with_python, Got};
use rebound_server::outbound::{self, OutboundConfig};
use rebound_server::ServerConfig;

fn fast(allow: &str) -> OutboundConfig {
    OutboundConfig {
        allow: outbound::parse_allow(allow).expect("allow"),
        timeout: Duration::from_secs(5),
        schedule: vec![Duration::from_millis(300); 8],
        jitter: 0.0,
        idle_poll: Duration::from_millis(100),
        ..OutboundConfig::default()
    }
}

/// An app whose delivery loop runs with `cfg`.
async fn app_with(cfg: OutboundConfig) -> TestApp {
    let app = spawn_app_with(ServerConfig {
        outbound: cfg.clone(),
        ..ServerConfig::default()
    })
    .await;
    tokio::spawn(outbound::run(app.store.clone(), cfg));
    app
}

async fn subscribe(app: &TestApp, url: &str) -> Value {
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": url, "kind": "webhook", "events": ["contact.status_changed"]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert!(v["secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));
    v
}

/// Sets a contact's status through the API (creating it first if needed).
async fn set_status(app: &TestApp, email: &str, status: &str) {
    let _ = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({ "email": email })),
        )
        .await;
    let (code, v) = app
        .api(
            Method::PATCH,
            &format!("/api/v1/contacts/{email}"),
            Some(json!({ "status": status })),
        )
        .await;
    assert_eq!(code, 200, "{v}");
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, v) = app
        .get(&format!("/api/v1/subscriptions/{id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn body(g: &Got) -> Value {
    serde_json::from_str(&g.body).expect("JSON body")
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_change_later_once_in_order_and_signed() {
    let port = free_port();
    let app = app_with(fast("127.0.0.0/8")).await;
    let sub = subscribe(&app, &format!("http://127.0.0.1:{port}/hook")).await;
    let (id, secret) = (
        sub["id"].as_i64().expect("id"),
        sub["secret"].as_str().expect("secret").to_string(),
    );
    set_status(&app, "a@example.org", "unsubscribed").await;
    set_status(&app, "b@example.org", "complained").await;
    set_status(&app, "a@example.org", "subscribed").await;
    // Nobody listens: attempts fail (connection refused) and are logged.
    let mut failed = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while failed.len() < 2 {
        assert!(Instant::now() < end, "no failed attempts logged");
        failed = deliveries(&app, id).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failed
            .iter()
            .all(|d| d["ok"] == false && d["error"].is_string()),
        "{failed:?}"
    );
    let (receiver, _) = start_receiver(port).await;
    wait_for("three deliveries", 30, || receiver.got().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 3, "each message once: {got:?}");
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|g| g.headers["webhook-id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3);
    let of_a: Vec<Value> = got
        .iter()
        .map(body)
        .filter(|b| b["data"]["email"] == "a@example.org")
        .collect();
    assert_eq!(of_a.len(), 2);
    assert_eq!(
        (
            &of_a[0]["data"]["new_status"],
            &of_a[1]["data"]["new_status"]
        ),
        (&json!("unsubscribed"), &json!("subscribed")),
        "in order per contact"
    );
    let first = &of_a[0];
    assert_eq!(first["type"], "contact.status_changed");
    for k in [
        "email",
        "old_status",
        "new_status",
        "reason",
        "source",
        "event_id",
    ] {
        assert!(first["data"].get(k).is_some(), "data.{k} missing: {first}");
    }
    assert_eq!(first["data"]["old_status"], "subscribed");
    assert_eq!(first["data"]["source"], "api");
    verify_with_python(&got, &[&secret]);

    // The secret in listings? Never.
    let (_, list) = app.get("/api/v1/subscriptions").await;
    assert!(!list.to_string().contains(&secret));
    assert_eq!(list["items"][0]["failing_since"], Value::Null);

    // Rotation: both secrets sign during the overlap; each verifies on its own.
    let (status, rotated) = app
        .api(
            Method::POST,
            &format!("/api/v1/subscriptions/{id}/rotate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().expect("new secret").to_string();
    set_status(&app, "b@example.org", "subscribed").await;
    wait_for("the delivery after the rotation", 20, || {
        receiver.got().len() >= 4
    })
    .await;
    let last = receiver.got()[3].clone();
    assert_eq!(last.headers["webhook-signature"].split(' ').count(), 2);
    verify_with_python(&[last], &[&secret, &new_secret]);

    // Redelivering one message sends it again with the same id.
    let log = deliveries(&app, id).await;
    let ok = log
        .iter()
        .find(|d| d["ok"] == true)
        .expect("a delivered attempt");
    let (status, v) = app
        .api(
            Method::POST,
            &format!("/api/v1/subscriptions/{id}/redeliver"),
            Some(json!({"delivery": ok["id"]})),
        )
        .await;
    assert_eq!((status, &v["requeued"]), (200, &json!(1)), "{v}");
    wait_for("the redelivery", 20, || receiver.got().len() >= 5).await;
    assert_eq!(
        receiver.got()[4].headers["webhook-id"],
        ok["message_id"].as_str().expect("message id")
    );
}

#[tokio::test]
async fn retry_after_is_waited_for_and_410_disables_the_subscription() {
    let (receiver, addr) = start_receiver(0).await;
    let app = app_with(fast("127.0.0.0/8")).await;
    let sub = subscribe(&app, &format!("http://{addr}/hook")).await;
    let id = sub["id"].as_i64().expect("id");
    receiver.answer(&[(429, Some(2))]);
    set_status(&app, "r@example.org", "unsubscribed").await;
    wait_for("the retry", 20, || receiver.got().len() >= 2).await;
    let got = receiver.got();
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "Retry-After: 2 waited only {waited:?}"
    );
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    let log = deliveries(&app, id).await;
    assert_eq!(log[1]["http_status"], 429);
    assert_eq!(log[0]["ok"], true);

    receiver.answer(&[(410, None)]);
    set_status(&app, "r@example.org", "subscribed").await;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = app.get("/api/v1/subscriptions").await;
        if list["items"][0]["enabled"] == false {
            assert!(list["items"][0]["disabled_reason"]
                .as_str()
                .is_some_and(|r| r.contains("410")));
            break;
        }
        assert!(Instant::now() < end, "410 did not disable: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Disabled: later changes are not sent.
    set_status(&app, "r@example.org", "unsubscribed").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.got().len(), 3);
}

#[tokio::test]
async fn private_targets_are_refused_without_the_allow_list() {
    let (receiver, addr) = start_receiver(0).await;
    let app = app_with(fast("")).await;
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": format!("http://{addr}/hook"), "kind": "webhook"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("REBOUND_OUTBOUND_ALLOW")),
        "{v}"
    );
    for url in [
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
    ] {
        let (status, _) = app
            .api(
                Method::POST,
                "/api/v1/subscriptions",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 400, "{url}");
    }
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": "https://example.org/hook", "kind": "listmonk"})),
        )
        .await;
    assert_eq!(status, 400, "not yet a kind: {v}");
    // A name is checked where it resolves, when connecting: `localhost` is refused then.
    let sub = subscribe(&app, &format!("http://localhost:{}/hook", addr.port())).await;
    let id = sub["id"].as_i64().expect("id");
    set_status(&app, "p@example.org", "unsubscribed").await;
    let end = Instant::now() + Duration::from_secs(20);
    let log = loop {
        let log = deliveries(&app, id).await;
        if !log.is_empty() {
            break log;
        }
        assert!(Instant::now() < end, "no attempt logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log[0]["ok"], false);
    assert!(
        log[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not public")),
        "{log:?}"
    );
    assert!(receiver.got().is_empty());
}

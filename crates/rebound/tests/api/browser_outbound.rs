//! The Outbound pages in a real browser: an admin adds a webhook subscription (its secret
//! shown once), whose target refuses connections: it shows as failing, its attempts show
//! the error, "Redeliver" sends the messages given up again, it can be disabled, enabled
//! and its secret rotated; a viewer sees the pages without the buttons, and no secret is
//! ever listed.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use reqwest::Method;
use serde_json::{json, Value};

use crate::browser_support::{browser, user};
use crate::helpers::{free_port, spawn_app_with, TestApp};
use rebound_server::outbound::{self, OutboundConfig};
use rebound_server::ServerConfig;

async fn attempts(app: &TestApp, id: i64) -> Vec<Value> {
    let (_, d) = app
        .get(&format!("/api/v1/subscriptions/{id}/deliveries"))
        .await;
    d["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the subscription has at least `n` attempts and its message is given up.
async fn given_up_after(app: &TestApp, id: i64, n: usize) -> usize {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let a = attempts(app, id).await;
        if a.len() >= n && a.iter().all(|d| d["state"] == "failed") {
            return a.len();
        }
        assert!(
            Instant::now() < end,
            "not given up after {n} attempts: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_admin_adds_watches_redelivers_disables_and_rotates_a_subscription() {
    let cfg = OutboundConfig {
        allow: outbound::parse_allow("127.0.0.0/8").expect("allow"),
        timeout: Duration::from_secs(2),
        schedule: vec![Duration::from_millis(200); 3],
        jitter: 0.0,
        idle_poll: Duration::from_millis(100),
        ..OutboundConfig::default()
    };
    let app = spawn_app_with(ServerConfig {
        outbound: cfg.clone(),
        ..ServerConfig::default()
    })
    .await;
    tokio::spawn(outbound::run(app.store.clone(), cfg));
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "ops@example.com", "admin").await;
    b.login("ops@example.com", &password).await;

    // Added on the page: the secret, once.
    let target = format!("http://127.0.0.1:{}/hook", free_port());
    b.click("nav a[href='/outbound']").await;
    b.fill("#subscribe-form input[name=url]", &target).await;
    b.fill("#subscribe-form input[name=description]", "CRM sync")
        .await;
    b.fill(
        "#subscribe-form input[name=events]",
        "contact.status_changed, event.bounce",
    )
    .await;
    b.click("#subscribe-form button[type=submit]").await;
    let secret =
        b.c.find(Locator::Css("#shown-once"))
            .await
            .expect("the secret is shown")
            .text()
            .await
            .expect("text");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let (_, listed) = app.get("/api/v1/subscriptions").await;
    let id = listed["items"][0]["id"].as_i64().expect("id");
    assert_eq!(listed["items"][0]["url"], target, "{listed}");
    assert_eq!(
        listed["items"][0]["events"],
        json!(["contact.status_changed", "event.bounce"]),
        "{listed}"
    );

    // A status change; nothing listens at the target: attempts fail, then it gives up.
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "gone@example.com"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = app
        .api(
            Method::PATCH,
            "/api/v1/contacts/gone@example.com",
            Some(json!({"status": "bounced"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let first = given_up_after(&app, id, 2).await;

    b.go("/outbound").await;
    let text = b.text().await;
    assert!(
        text.contains(&target) && text.contains("CRM sync"),
        "{text}"
    );
    assert!(text.contains("failing"), "{text}");
    assert!(!text.contains(&secret), "the secret is listed");
    b.shot("outbound").await;
    b.click(&format!("a[href='/outbound/{id}']")).await;
    let rows =
        b.c.find_all(Locator::Css("#deliveries tbody tr"))
            .await
            .expect("rows");
    assert_eq!(rows.len(), first, "{}", b.text().await);
    assert!(b.text().await.contains("Connection refused"));
    b.shot("outbound-deliveries").await;

    // Redeliver: the message given up goes out again (and fails again).
    b.click("#redeliver-form button").await;
    assert!(
        b.text().await.contains("queued again"),
        "{}",
        b.text().await
    );
    let again = given_up_after(&app, id, first + 1).await;
    assert!(
        again > first,
        "{again} attempts after redelivering, {first} before"
    );

    // Disabled, then enabled again.
    b.go("/outbound").await;
    b.click(&format!("form[action='/outbound/{id}/disable'] button"))
        .await;
    let (_, listed) = app.get("/api/v1/subscriptions").await;
    assert_eq!(listed["items"][0]["enabled"], false, "{listed}");
    assert!(b.text().await.contains("disabled"));
    b.click(&format!("form[action='/outbound/{id}/enable'] button"))
        .await;
    let (_, listed) = app.get("/api/v1/subscriptions").await;
    assert_eq!(listed["items"][0]["enabled"], true, "{listed}");

    // A new secret, shown once; the old one still signs for a while.
    b.click(&format!("form[action='/outbound/{id}/rotate'] button"))
        .await;
    let rotated =
        b.c.find(Locator::Css("#shown-once"))
            .await
            .expect("the new secret is shown")
            .text()
            .await
            .expect("text");
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    let (_, listed) = app.get("/api/v1/subscriptions").await;
    assert!(
        listed["items"][0]["previous_secret_until"].is_string(),
        "{listed}"
    );

    // A viewer sees the pages, not the buttons.
    b.c.delete_all_cookies().await.expect("cookies");
    let viewer = user(&app, "viewer@example.com", "viewer").await;
    b.login("viewer@example.com", &viewer).await;
    b.go("/outbound").await;
    assert!(b.text().await.contains(&target));
    assert!(b.c.find(Locator::Css("#subscribe-form")).await.is_err());
    assert!(b
        .c
        .find(Locator::Css("form[action$='/disable']"))
        .await
        .is_err());
    b.close().await;
}

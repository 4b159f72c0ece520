//! The Outbound pages in a real browser: a subscription whose target refuses connections
//! shows as failing, and its delivery attempts show the error; a viewer sees them too and
//! no secret is ever on the page.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;

use crate::browser_support::{browser, user};
use crate::helpers::{free_port, spawn_app_with};
use rebound_server::outbound::{self, OutboundConfig};
use rebound_server::ServerConfig;

#[tokio::test]
async fn a_failing_subscription_shows_its_attempts() {
    let cfg = OutboundConfig {
        allow: outbound::parse_allow("127.0.0.0/8").expect("allow"),
        timeout: Duration::from_secs(2),
        schedule: vec![Duration::from_millis(200); 4],
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
    // Nothing listens there: every attempt fails to connect.
    let target = format!("http://127.0.0.1:{}/hook", free_port());
    let (status, sub) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": target, "kind": "webhook", "description": "CRM sync"})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let id = sub["id"].as_i64().expect("id");
    let secret = sub["secret"].as_str().expect("secret").to_string();
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
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, d) = app
            .get(&format!("/api/v1/subscriptions/{id}/deliveries"))
            .await;
        if d["items"].as_array().is_some_and(|a| a.len() >= 2) {
            break;
        }
        assert!(Instant::now() < end, "no failed attempts recorded: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "viewer@example.com", "viewer").await;
    b.login("viewer@example.com", &password).await;
    b.click("nav a[href='/outbound']").await;
    let text = b.text().await;
    assert!(
        text.contains(&target) && text.contains("CRM sync"),
        "{text}"
    );
    assert!(text.contains("failing"), "{text}");
    assert!(!text.contains(&secret), "the secret is on the page");
    b.shot("outbound").await;
    b.click(&format!("a[href='/outbound/{id}']")).await;
    let rows =
        b.c.find_all(Locator::Css("#deliveries tbody tr"))
            .await
            .expect("rows");
    assert!(rows.len() >= 2, "{}", b.text().await);
    let text = b.text().await;
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains(&secret));
    b.shot("outbound-deliveries").await;
    b.close().await;
}

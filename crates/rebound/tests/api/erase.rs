//! Erasure (a privacy request): the contact, its events, the raw bodies behind them and its
//! outbound messages with their delivery attempts go;
//! the address stays suppressed (a keyed hash only), also after a later event about it.

use rebound_store::copy::{Cell, TABLES};
use rebound_store::outbound::{AttemptRecord, OutboxNext};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Whether any stored row of `table` holds `needle` (as text or in a body).
async fn stored_anywhere(app: &TestApp, table: &str, needle: &str) -> bool {
    let table = TABLES.iter().find(|t| t.name == table).expect("table");
    let rows = app
        .store
        .copy_rows(table, None, 10_000)
        .await
        .expect("rows");
    rows.iter().flatten().any(|cell| match cell {
        Cell::Text(s) => s.contains(needle),
        Cell::Bytes(b) => String::from_utf8_lossy(b).contains(needle),
        _ => false,
    })
}

/// How many rows `table` holds.
async fn rows(app: &TestApp, table: &str) -> u64 {
    let table = TABLES.iter().find(|t| t.name == table).expect("table");
    app.store.count_rows(table).await.expect("count")
}

async fn check(app: &TestApp, email: &str) -> serde_json::Value {
    let (status, one) = app.get(&format!("/api/v1/suppressions/{email}")).await;
    assert_eq!(status, 200);
    let (_, batch) = app
        .api(
            Method::POST,
            "/api/v1/suppressions/check",
            Some(json!({"emails": [email]})),
        )
        .await;
    assert_eq!(batch["results"][0], one, "both checks agree");
    one
}

#[tokio::test]
async fn an_erased_address_leaves_only_a_hash_and_stays_suppressed() {
    let app = spawn_app().await;
    let source = app
        .create_source(json!({"provider": "generic", "name": "app"}))
        .await;
    // An outbound subscription: the changes below write outbox rows naming the addresses.
    let (status, sub) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": "https://example.org/hook", "kind": "webhook"})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let ts = "2026-12-01T10:00:00Z";
    for (id, typ, email) in [
        ("e1", "bounced.soft", "gone@example.com"),
        ("e2", "bounced.hard", "gone@example.com"),
        ("e3", "bounced.hard", "kept@example.com"),
    ] {
        let (status, _) = post_generic(&app, &source, generic_event(id, typ, email, ts)).await;
        assert_eq!(status, 200);
    }
    app.drain().await;
    assert!(stored_anywhere(&app, "inbox", "gone@example.com").await);
    // One attempt each, failed: the delivery log has a row per message.
    let now = rebound_server::state::now_ms();
    let pending = app
        .store
        .claim_outbox(100, now, now + 60_000)
        .await
        .expect("claim");
    assert_eq!(pending.len(), 2, "one message per bounced contact");
    let attempts = pending
        .iter()
        .map(|o| AttemptRecord {
            outbox_id: o.id,
            subscription_id: o.subscription.id,
            attempt: o.attempt,
            at: now,
            http_status: Some(503),
            latency_ms: 1,
            response: None,
            error: Some("unavailable".into()),
            next: OutboxNext::Retry(now + 60_000),
            disable: None,
        })
        .collect();
    app.store.record_attempts(attempts).await.expect("record");
    assert!(stored_anywhere(&app, "outbox", "gone@example.com").await);
    assert_eq!(rows(&app, "deliveries").await, 2);
    assert_eq!(
        check(&app, "gone@example.com").await["reason"],
        "mailboxfull"
    );

    let (status, resp) = app
        .api(
            Method::POST,
            "/api/v1/contacts/gone@example.com/erase",
            None,
        )
        .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp, json!({"erased": true, "contact_deleted": true}));

    // Gone: the contact, its events, the bodies that named it; the others are untouched.
    assert_eq!(app.contact("gone@example.com").await.0, 404);
    let (_, events) = app.get("/api/v1/events?email=gone@example.com").await;
    assert_eq!(
        events["items"].as_array().map(Vec::len),
        Some(0),
        "{events}"
    );
    // Its outbound message and that message's attempts too; the other contact's stay.
    assert_eq!(
        (rows(&app, "outbox").await, rows(&app, "deliveries").await),
        (1, 1)
    );
    for table in [
        "contacts",
        "events",
        "inbox",
        "erased",
        "outbox",
        "deliveries",
    ] {
        assert!(
            !stored_anywhere(&app, table, "gone@example.com").await,
            "{table} still names it"
        );
    }
    assert_eq!(app.contact("kept@example.com").await.0, 200);
    assert!(stored_anywhere(&app, "inbox", "kept@example.com").await);

    // Suppressed for good: also after a delivery about it arrives and makes a contact again.
    let erased = check(&app, "gone@example.com").await;
    assert_eq!(
        (erased["suppressed"].as_bool(), erased["reason"].as_str()),
        (Some(true), Some("erased"))
    );
    let (status, _) = post_generic(
        &app,
        &source,
        generic_event("e4", "delivered", "gone@example.com", ts),
    )
    .await;
    assert_eq!(status, 200);
    app.drain().await;
    assert_eq!(
        app.contact("gone@example.com").await.1["status"],
        "subscribed"
    );
    assert_eq!(check(&app, "gone@example.com").await["suppressed"], true);
    // An address never seen can be erased too (asked before any mail): suppressed from then on.
    assert_eq!(check(&app, "never@example.com").await["suppressed"], false);
    let (status, resp) = app
        .api(
            Method::POST,
            "/api/v1/contacts/never@example.com/erase",
            None,
        )
        .await;
    assert_eq!(
        (status, resp["contact_deleted"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(check(&app, "never@example.com").await["suppressed"], true);
    // Not an address: 400.
    let (status, _) = app
        .api(Method::POST, "/api/v1/contacts/nope/erase", None)
        .await;
    assert_eq!(status, 400);
}

//! The policy through the whole pipeline, and the suppression check agreeing with it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn send_all(app: &TestApp, src: &Value, events: &[(&str, &str, &str)]) {
    for (id, typ, ts) in events {
        let (code, v) = post_generic(app, src, generic_event(id, typ, "p@example.com", ts)).await;
        assert_eq!(code, 200, "{v}");
    }
    app.drain().await;
}

async fn suppression(app: &TestApp, email: &str) -> Value {
    let (code, v) = app.get(&format!("/api/v1/suppressions/{email}")).await;
    assert_eq!(code, 200);
    v
}

#[tokio::test]
async fn three_soft_bounces_bounce_the_contact() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    send_all(
        &app,
        &src,
        &[
            ("s1", "bounced.soft", "2026-03-01T00:00:00Z"),
            ("s2", "bounced.soft", "2026-03-02T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(
        suppression(&app, "p@example.com").await["suppressed"],
        false
    );
    send_all(
        &app,
        &src,
        &[("s3", "bounced.soft", "2026-03-03T00:00:00Z")],
    )
    .await;
    let s = suppression(&app, "p@example.com").await;
    assert_eq!(
        s,
        json!({"email": "p@example.com", "suppressed": true, "status": "bounced", "reason": "mailboxfull"})
    );
}

#[tokio::test]
async fn a_delivery_between_soft_bounces_keeps_the_contact_subscribed() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    send_all(
        &app,
        &src,
        &[
            ("a", "bounced.soft", "2026-03-01T00:00:00Z"),
            ("b", "delivered", "2026-03-02T00:00:00Z"),
            ("c", "bounced.soft", "2026-03-03T00:00:00Z"),
            ("d", "bounced.soft", "2026-03-04T00:00:00Z"),
        ],
    )
    .await;
    let (_, c) = app.contact("p@example.com").await;
    assert_eq!(c["status"], "subscribed");
    assert_eq!(c["soft_bounce_count"], 2);
    assert_eq!(c["last_delivered_at"], "2026-03-02T00:00:00.000Z");
    assert_eq!(
        suppression(&app, "p@example.com").await["suppressed"],
        false
    );
}

#[tokio::test]
async fn complaint_suppresses_and_the_batch_check_agrees() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    send_all(&app, &src, &[("c1", "complained", "2026-03-01T00:00:00Z")]).await;
    let (code, v) = app
        .api(
            Method::POST,
            "/api/v1/suppressions/check",
            Some(json!({"emails": ["P@EXAMPLE.com", "p@Example.COM", "new@example.com", "bad"]})),
        )
        .await;
    assert_eq!(code, 200);
    let r = &v["results"];
    // The domain is case-insensitive, the local part is not.
    assert_eq!(r[0]["suppressed"], false);
    assert_eq!(r[1]["suppressed"], true);
    assert_eq!(r[1]["status"], "complained");
    assert_eq!(
        r[2],
        json!({"email": "new@example.com", "suppressed": false, "status": null, "reason": null})
    );
    assert!(r[3]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("not an email address"));
    assert_eq!(
        suppression(&app, "p@example.com").await["status"],
        "complained"
    );
    // Opens and clicks only record engagement.
    send_all(
        &app,
        &src,
        &[
            ("o1", "opened", "2026-03-05T00:00:00Z"),
            ("k1", "clicked", "2026-03-06T00:00:00Z"),
        ],
    )
    .await;
    let (_, c) = app.contact("p@example.com").await;
    assert_eq!(c["status"], "complained");
    assert_eq!(c["last_engaged_at"], "2026-03-06T00:00:00.000Z");
    assert_eq!(c["events"][0]["kind"], "click", "newest first");
}

#[tokio::test]
async fn the_soft_bounce_threshold_is_a_setting() {
    let app = spawn_app().await;
    let (code, v) = app
        .api(
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"policy": {"soft_bounce_threshold": 2}})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["policy"],
        json!({"soft_bounce_threshold": 2, "soft_bounce_window_days": 30})
    );
    let (code, v) = app
        .api(
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"policy": {"soft_bounce_threshold": 0}})),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("soft_bounce_threshold"),
        "{v}"
    );
    let (code, v) = app
        .api(
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"policy": {"nope": 1}})),
        )
        .await;
    assert_eq!(code, 400, "{v}");
    let (_, v) = app.get("/api/v1/settings").await;
    assert_eq!(v["policy"]["soft_bounce_threshold"], 2);
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    send_all(
        &app,
        &src,
        &[
            ("x1", "bounced.soft", "2026-03-01T00:00:00Z"),
            ("x2", "bounced.soft", "2026-03-02T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(
        suppression(&app, "p@example.com").await["status"],
        "bounced"
    );
    // Persisted: the store holds the new policy.
    let stored = app.store.get_setting("policy").await.expect("setting");
    assert_eq!(stored.expect("stored")["soft_bounce_threshold"], 2);
}

#[tokio::test]
async fn contacts_are_created_listed_paged_patched_and_deleted() {
    let app = spawn_app().await;
    for i in 0..5 {
        let (code, v) = app
            .api(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"email": format!("c{i}@example.com"), "attributes": {"plan": "pro"}})),
            )
            .await;
        assert_eq!(code, 201, "{v}");
    }
    let (code, v) = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "c0@example.com"})),
        )
        .await;
    assert_eq!(code, 409, "{v}");
    let (code, v) = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "x@example.com", "status": "gone"})),
        )
        .await;
    assert_eq!(code, 400);
    assert!(v["error"]
        .as_str()
        .unwrap_or_default()
        .contains("unknown status 'gone'"));
    let (code, v) = app
        .api(
            Method::PATCH,
            "/api/v1/contacts/c1@example.com",
            Some(json!({"status": "unsubscribed"})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["reason"], "manual");
    let (_, page1) = app.get("/api/v1/contacts?limit=2").await;
    assert_eq!(page1["items"].as_array().map(Vec::len), Some(2));
    let cursor = page1["next_cursor"].as_str().expect("cursor").to_string();
    let (_, page2) = app
        .get(&format!("/api/v1/contacts?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page2["items"][0]["email"], "c2@example.com");
    let (_, unsub) = app.get("/api/v1/contacts?status=unsubscribed").await;
    assert_eq!(unsub["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(unsub["items"][0]["email"], "c1@example.com");
    let (_, c) = app.contact("c1@example.com").await;
    assert_eq!(
        c["events"][0]["status_after"], "unsubscribed",
        "manual change is in the timeline"
    );
    let (code, _) = app
        .api(Method::DELETE, "/api/v1/contacts/c1@example.com", None)
        .await;
    assert_eq!(code, 204);
    let (code, v) = app.contact("c1@example.com").await;
    assert_eq!(code, 404, "{v}");
}

/// Posts one generic event for `email` and lets the worker apply it before the next one:
/// the arrival order is the order of the calls.
async fn arrive(app: &TestApp, src: &Value, email: &str, (id, typ, ts): (&str, &str, &str)) {
    let (code, v) = post_generic(app, src, generic_event(id, typ, email, ts)).await;
    assert_eq!(code, 200, "{v}");
    let report = app.drain().await;
    assert_eq!(report.events, 1, "{id}: {report:?}");
}

/// Issue #23, item 6: three soft bounces and a delivery dated after them end in one state
/// whichever arrives first. In time order the third bounce reached the threshold
/// (`bounced`), and the delivery after it resets the count without undoing the bounce.
#[tokio::test]
async fn soft_bounces_and_a_later_delivery_end_alike_in_either_arrival_order() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let bounces = [
        ("bounced.soft", "2026-03-01T00:00:00Z"),
        ("bounced.soft", "2026-03-02T00:00:00Z"),
        ("bounced.soft", "2026-03-03T00:00:00Z"),
    ];
    let delivery = ("delivered", "2026-03-04T00:00:00Z");
    for (email, delivery_first) in [("last@example.com", false), ("first@example.com", true)] {
        let mut order: Vec<(&str, &str)> = bounces.to_vec();
        if delivery_first {
            order.insert(0, delivery);
        } else {
            order.push(delivery);
        }
        for (i, (typ, ts)) in order.into_iter().enumerate() {
            let id = format!("{email}-{i}");
            arrive(&app, &src, email, (&id, typ, ts)).await;
        }
    }
    let (_, last) = app.contact("last@example.com").await;
    let (_, first) = app.contact("first@example.com").await;
    for c in [&last, &first] {
        assert_eq!(c["status"], "bounced", "{c}");
        assert_eq!(c["reason"], "mailboxfull");
        assert_eq!(c["soft_bounce_count"], 0);
        assert_eq!(c["last_delivered_at"], "2026-03-04T00:00:00.000Z");
        assert_eq!(c["last_event_at"], "2026-03-04T00:00:00.000Z");
    }
    assert_eq!(
        suppression(&app, "first@example.com").await,
        json!({"email": "first@example.com", "suppressed": true, "status": "bounced", "reason": "mailboxfull"})
    );
    // The bounces that arrived after the delivery were re-folded in time order; the
    // timeline (newest first) says so, and records the change on the third.
    let notes: Vec<&str> = first["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["note"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(notes[0].contains("re-folded"), "{notes:?}");
    assert!(notes[0].ends_with("subscribed → bounced"), "{notes:?}");
    assert_eq!(first["events"][0]["status_after"], "bounced");
}

/// A delivery dated between soft bounces that arrives after them: in time order the
/// threshold was never reached, so the contact is subscribed again, and the suppression
/// check agrees.
#[tokio::test]
async fn a_late_delivery_between_soft_bounces_lifts_a_bounce_that_never_happened() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let email = "p@example.com";
    arrive(
        &app,
        &src,
        email,
        ("a", "bounced.soft", "2026-03-01T00:00:00Z"),
    )
    .await;
    arrive(
        &app,
        &src,
        email,
        ("b", "bounced.soft", "2026-03-02T00:00:00Z"),
    )
    .await;
    arrive(
        &app,
        &src,
        email,
        ("c", "bounced.soft", "2026-03-04T00:00:00Z"),
    )
    .await;
    assert_eq!(suppression(&app, email).await["status"], "bounced");
    arrive(
        &app,
        &src,
        email,
        ("d", "delivered", "2026-03-03T00:00:00Z"),
    )
    .await;
    let (_, c) = app.contact(email).await;
    assert_eq!(c["status"], "subscribed", "{c}");
    assert_eq!(c["soft_bounce_count"], 1);
    assert_eq!(c["events"][0]["status_before"], "bounced");
    assert_eq!(c["events"][0]["status_after"], "subscribed");
    assert_eq!(suppression(&app, email).await["suppressed"], false);
}

/// A status set by hand (PATCH) is not overridden by events dated before it, even when they
/// arrive after it; events dated after it count.
#[tokio::test]
async fn events_dated_before_a_manual_change_do_not_override_it() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let email = "m@example.com";
    arrive(
        &app,
        &src,
        email,
        ("h", "bounced.hard", "2020-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(suppression(&app, email).await["status"], "bounced");
    let (code, v) = app
        .api(
            Method::PATCH,
            &format!("/api/v1/contacts/{email}"),
            Some(json!({"status": "subscribed"})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    // Dated before the change, arriving after it.
    arrive(
        &app,
        &src,
        email,
        ("c", "complained", "2020-01-02T00:00:00Z"),
    )
    .await;
    arrive(
        &app,
        &src,
        email,
        ("s", "bounced.soft", "2020-01-03T00:00:00Z"),
    )
    .await;
    let (_, c) = app.contact(email).await;
    assert_eq!(c["status"], "subscribed", "{c}");
    assert_eq!(c["soft_bounce_count"], 0);
    assert!(
        c["events"][0]["note"]
            .as_str()
            .unwrap_or_default()
            .contains("before the status set by hand"),
        "{c}"
    );
    // Dated after it: folds on top.
    arrive(
        &app,
        &src,
        email,
        ("u", "unsubscribed", "2099-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(suppression(&app, email).await["status"], "unsubscribed");
}

/// Two nodes on one database: a policy changed through one is taken by the other (the
/// serve loop calls `refresh_policy` every second).
#[tokio::test]
async fn a_policy_changed_on_one_node_is_taken_by_another() {
    let app = spawn_app().await;
    let other = rebound_server::AppState::new(
        app.store.clone(),
        rebound_server::ServerConfig::default(),
        rebound_server::state::digest(TOKEN),
        rebound_core::Policy::default(),
        std::sync::Arc::new(LocalAws::default()),
    )
    .await
    .expect("second node");
    assert!(!other.refresh_policy().await, "nothing changed yet");
    let (code, v) = app
        .api(
            reqwest::Method::PUT,
            "/api/v1/settings",
            Some(serde_json::json!({"policy": {"soft_bounce_threshold": 5}})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert!(other.refresh_policy().await);
    assert_eq!(other.policy().soft_bounce_threshold, 5);
    assert!(!other.refresh_policy().await, "taken once");
}

//! The policy's dry run: what a candidate policy would have made of recent contacts,
//! consistent with what the store actually did, and nothing written.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_dry_run_predicts_the_changes_of_a_candidate_policy_and_writes_nothing() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "app"}))
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let at = |mins: i64| rebound_core::timestamp::format(now - mins * 60_000);
    let events = [
        ("a1", "bounced.soft", "soft@example.com", at(30)),
        ("a2", "bounced.soft", "soft@example.com", at(20)),
        ("b1", "bounced.hard", "hard@example.com", at(20)),
        ("c1", "bounced.soft", "manual@example.com", at(30)),
        ("c2", "bounced.soft", "manual@example.com", at(25)),
        ("d1", "delivered", "fine@example.com", at(10)),
    ];
    for (id, typ, email, ts) in &events {
        let (status, _) = post_generic(&app, &src, generic_event(id, typ, email, ts)).await;
        assert_eq!(status, 200);
    }
    app.drain().await;
    // A status set by hand after the soft bounces is the base they no longer count against.
    let (status, _) = app
        .api(
            Method::PATCH,
            "/api/v1/contacts/manual@example.com",
            Some(json!({"status": "unsubscribed", "reason": "asked"})),
        )
        .await;
    assert_eq!(status, 200);

    let dry =
        |body: serde_json::Value| app.api(Method::POST, "/api/v1/settings/dry-run", Some(body));
    // The policy in force predicts exactly what the store did.
    let (status, same) = dry(json!({"days": 7})).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(
        (
            same["contacts_examined"].as_u64(),
            same["would_change"].as_u64()
        ),
        (Some(4), Some(0)),
        "{same}"
    );

    // Two soft bounces would bounce a contact: only the one without a manual change moves.
    let (_, run) = dry(json!({"days": 7, "policy": {"soft_bounce_threshold": 2}})).await;
    assert_eq!(run["would_change"], 1, "{run}");
    assert_eq!(
        run["changes"],
        json!([{"from": "subscribed", "to": "bounced", "count": 1}])
    );
    assert_eq!(run["examples"][0][0], "soft@example.com");
    assert_eq!(run["truncated"], false);
    // Nothing written: not the contact, not the policy.
    assert_eq!(
        app.contact("soft@example.com").await.1["status"],
        "subscribed"
    );
    let (_, settings) = app.get("/api/v1/settings").await;
    assert_eq!(settings["policy"]["soft_bounce_threshold"], 3);

    for (body, needle) in [
        (
            json!({"policy": {"soft_bounce_threshold": 0}}),
            "soft_bounce_threshold",
        ),
        (json!({"policy": {"nope": 1}}), "invalid policy"),
        (json!({"days": 0}), "days"),
        (json!({"days": 400}), "days"),
    ] {
        let (status, resp) = dry(body).await;
        assert_eq!(status, 400, "{resp}");
        assert!(
            resp["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{needle}: {resp}"
        );
    }
}

//! "Send a test event": a hard bounce signed the provider's way goes through the source's
//! webhook, the inbox, the workers and the policy, and says where it ended up.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_test_event_goes_through_the_real_pipeline_for_each_provider_rebound_can_sign() {
    let app = spawn_app().await;
    for provider in ["tosend", "generic", "listmonk", "postmark"] {
        let src = app
            .create_source(json!({"provider": provider, "name": provider}))
            .await;
        let id = src["id"].as_i64().expect("id");
        let (status, sent) = app
            .api(Method::POST, &format!("/api/v1/sources/{id}/test"), None)
            .await;
        assert_eq!(status, 200, "{provider}: {sent}");
        assert_eq!(sent["http_status"], 200, "{provider}: {sent}");
        assert_eq!(sent["provider"], provider);
        let email = sent["email"].as_str().expect("email").to_string();
        assert!(
            email.starts_with("rebound-test-") && email.ends_with("@example.com"),
            "{email}"
        );
        let log_id = sent["log_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{provider}: no log id in {sent}"));
        app.drain().await;
        let (_, check) = app.get(&format!("/api/v1/suppressions/{email}")).await;
        assert_eq!(
            (check["suppressed"].as_bool(), check["status"].as_str()),
            (Some(true), Some("bounced")),
            "{provider}: {check}"
        );
        let (_, logged) = app.get(&format!("/api/v1/log/{log_id}")).await;
        assert_eq!(
            (logged["outcome"].as_str(), logged["processing"].as_str()),
            (Some("accepted"), Some("done")),
            "{provider}: {logged}"
        );
        assert_eq!(logged["source_id"], id);
        assert!(logged["body"].as_str().is_some_and(|b| b.contains(&email)));
    }
    // A rotated key: the test follows the source's new URL.
    let src = app
        .create_source(json!({"provider": "tosend", "name": "rotated"}))
        .await;
    let id = src["id"].as_i64().expect("id");
    let (status, _) = app
        .api(Method::POST, &format!("/api/v1/sources/{id}/rotate"), None)
        .await;
    assert_eq!(status, 200);
    let (_, sent) = app
        .api(Method::POST, &format!("/api/v1/sources/{id}/test"), None)
        .await;
    assert_eq!(sent["http_status"], 200, "{sent}");

    // What rebound cannot sign is said, not faked.
    let sg = app
        .create_source(json!({"provider": "sendgrid", "name": "sg"}))
        .await;
    let (status, body) = app
        .api(
            Method::POST,
            &format!("/api/v1/sources/{}/test", sg["id"]),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("dashboard")),
        "{body}"
    );
    let (status, _) = app
        .api(Method::POST, "/api/v1/sources/999999/test", None)
        .await;
    assert_eq!(status, 404);
}

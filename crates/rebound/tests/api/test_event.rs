//! "Send a test event": a hard bounce signed the provider's way goes through the source's
//! webhook, the inbox, the workers and the policy, and says where it ended up.

use reqwest::Method;
use serde_json::{json, Value};

use rebound_core::providers::{sample, Auth};
use rebound_core::Provider;

use crate::helpers::*;

/// `POST /api/v1/sources/{id}/test` for a source as created.
async fn send_test(app: &TestApp, src: &Value) -> (u16, Value) {
    app.api(
        Method::POST,
        &format!("/api/v1/sources/{}/test", src["id"]),
        None,
    )
    .await
}

#[tokio::test]
async fn a_test_event_goes_through_the_real_pipeline_for_every_provider_rebound_can_sign() {
    let app = spawn_app().await;
    let mut tested = Vec::new();
    for p in Provider::ALL {
        let provider = p.name();
        if sample::unavailable(p).is_some() {
            continue;
        }
        let mut req = json!({"provider": provider, "name": provider});
        // The secret the provider would issue (Resend's is a Standard Webhooks `whsec_`).
        if matches!(p.auth(), Auth::ProviderSecret) {
            req["secret"] = json!(if p == Provider::Resend {
                "whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ=="
            } else {
                "provider-issued-secret-0123456789"
            });
        }
        let src = app.create_source(req).await;
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
        assert!(
            logged["body"]
                .as_str()
                .is_some_and(|b| b.contains(&email) || b.contains(&email.replace('@', "%40"))),
            "{provider}: {logged}"
        );
        tested.push(provider);
    }
    assert_eq!(tested.len(), 16, "{tested:?}");
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
    for (provider, says) in [
        ("sendgrid", "dashboard"),
        ("postal", "private key"),
        ("ses", "bounce@simulator.amazonses.com"),
    ] {
        let mut req = json!({"provider": provider, "name": provider});
        if provider == "ses" {
            req["trust_first_topic"] = json!(true);
        }
        let src = app.create_source(req).await;
        let (status, body) = send_test(&app, &src).await;
        assert_eq!(status, 400, "{provider}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(says)),
            "{provider}: {body}"
        );
    }
    // A source still waiting for its provider's secret says what to do.
    let waiting = app
        .create_source(json!({"provider": "mailgun", "name": "no key yet"}))
        .await;
    let (status, body) = send_test(&app, &waiting).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no signing secret yet")),
        "{body}"
    );
    let (status, _) = app
        .api(Method::POST, "/api/v1/sources/999999/test", None)
        .await;
    assert_eq!(status, 404);
}

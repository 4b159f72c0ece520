//! Each source's requests over the last 24 hours, as the dashboard shows them.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn each_source_reports_its_accepted_and_rejected_requests_and_the_last_one() {
    let app = spawn_app().await;
    let busy = app
        .create_source(json!({"provider": "generic", "name": "busy"}))
        .await;
    let idle = app
        .create_source(json!({"provider": "generic", "name": "idle"}))
        .await;
    let now = rebound_core::timestamp::format(rebound_server::state::now_ms());
    for i in 0..3 {
        let body = generic_event(&format!("e{i}"), "delivered", "a@example.com", &now);
        let (status, v) = post_generic(&app, &busy, body).await;
        assert_eq!(status, 200, "{v}");
    }
    // Two requests with a wrong signature, to the busy source's URL.
    let body = generic_event("forged", "bounced.hard", "a@example.com", &now);
    for _ in 0..2 {
        let (status, _) = app
            .post_url(
                &shown_url(&busy),
                &[("x-webhook-signature", hex_hmac("not the secret", &body))],
                body.clone(),
            )
            .await;
        assert_eq!(status, 401);
    }
    app.state.rejections.flush(&app.store).await;

    let (status, body) = app.get("/api/v1/stats/sources").await;
    assert_eq!(status, 200, "{body}");
    let row = |id: &Value| -> Value {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| &r["source_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {id} in {body}"))
    };
    let b = row(&busy["id"]);
    assert_eq!(
        (b["accepted_24h"].as_u64(), b["rejected_24h"].as_u64()),
        (Some(3), Some(2)),
        "{b}"
    );
    assert!(
        b["last_request_at"]
            .as_str()
            .is_some_and(|t| t.starts_with(&now[..10])),
        "{b}"
    );
    assert_eq!(b["name"], "busy");
    let i = row(&idle["id"]);
    assert_eq!(
        (i["accepted_24h"].as_u64(), i["rejected_24h"].as_u64()),
        (Some(0), Some(0)),
        "{i}"
    );
    assert!(i["last_request_at"].is_null(), "{i}");
}

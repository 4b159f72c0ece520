//! One logged request as stored (`GET /api/v1/log/{id}`): the body as received, the headers
//! without credentials; erased bodies stay erased.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_logged_request_shows_its_body_and_no_credentials() {
    let app = spawn_app().await;
    // listmonk sends its credentials in `Authorization`: checked, never stored.
    let src = app
        .create_source(json!({"provider": "listmonk", "name": "listmonk"}))
        .await;
    let (user, pass) = (
        src["basic_auth"]["username"]
            .as_str()
            .expect("username")
            .to_string(),
        src["basic_auth"]["password"]
            .as_str()
            .expect("password")
            .to_string(),
    );
    let basic = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    };
    let body = fixture("listmonk", "generic-bounce-api-hard.json");
    let (code, _) = app
        .post_shown(&src, &[("authorization", basic)], body.clone())
        .await;
    assert_eq!(code, 200);
    app.drain().await;
    let log = app.log().await;
    let id = log[0]["id"].as_i64().expect("id");
    let (status, req) = app.get(&format!("/api/v1/log/{id}")).await;
    assert_eq!(status, 200, "{req}");
    assert_eq!(req["id"], id);
    assert_eq!(req["outcome"], "accepted");
    assert_eq!(req["body"].as_str().map(str::as_bytes), Some(&body[..]));
    assert_eq!(req["body_bytes"].as_u64(), Some(body.len() as u64));
    let names: Vec<String> = req["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter_map(|h| h[0].as_str().map(str::to_lowercase))
        .collect();
    assert!(names.iter().any(|n| n == "content-length"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "authorization"),
        "credentials stored: {names:?}"
    );
    assert!(!req.to_string().contains(&pass));

    // Nothing failed: replaying every failed request queues none.
    let (status, queued) = app
        .api(Method::POST, "/api/v1/log/replay-failed", None)
        .await;
    assert_eq!(
        (status, queued["count"].as_u64()),
        (202, Some(0)),
        "{queued}"
    );
    let (_, failed) = app.get("/api/v1/log?processing=failed").await;
    assert_eq!(
        failed["items"].as_array().map(Vec::len),
        Some(0),
        "{failed}"
    );

    // An unknown id is a 404.
    let (status, _) = app.get(&format!("/api/v1/log/{}", id + 1_000)).await;
    assert_eq!(status, 404);

    // After an erasure, the body that named the contact is gone.
    let (_, contacts) = app.get("/api/v1/contacts").await;
    let email = contacts["items"][0]["email"]
        .as_str()
        .expect("a contact")
        .to_string();
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/api/v1/contacts/{email}/erase"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, req) = app.get(&format!("/api/v1/log/{id}")).await;
    assert_eq!(
        (req["body"].as_str(), req["body_bytes"].as_u64()),
        (Some(""), Some(0))
    );
}

/// The log's filters by HTTP status (a code or a class) and by time, and the 400 that names
/// a filter that does not parse.
#[tokio::test]
async fn the_log_filters_by_status_and_time() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "app"}))
        .await;
    let now = rebound_core::timestamp::format(rebound_server::state::now_ms());
    let body = generic_event("e1", "bounced.hard", "a@example.com", &now);
    let (code, _) = post_generic(&app, &src, body.clone()).await;
    assert_eq!(code, 200);
    let (code, _) = app
        .post_url(
            &shown_url(&src),
            &[("x-webhook-signature", hex_hmac("wrong", &body))],
            body,
        )
        .await;
    assert_eq!(code, 401);
    let statuses = |v: &serde_json::Value| -> Vec<u64> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|e| e["http_status"].as_u64())
            .collect()
    };
    let (_, v) = app.get("/api/v1/log?status=4xx").await;
    assert_eq!(statuses(&v), [401], "{v}");
    let (_, v) = app.get("/api/v1/log?status=200").await;
    assert_eq!(statuses(&v), [200], "{v}");
    let today = &now[..10];
    let (_, v) = app.get(&format!("/api/v1/log?since={today}")).await;
    assert_eq!(statuses(&v), [401, 200], "{v}");
    let (_, v) = app.get(&format!("/api/v1/log?until={today}")).await;
    assert_eq!(statuses(&v), Vec::<u64>::new(), "{v}");
    for (query, names) in [("status=4x", "status"), ("since=yesterday", "since")] {
        let (code, v) = app.get(&format!("/api/v1/log?{query}")).await;
        assert_eq!(code, 400, "{query}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(names)),
            "{v}"
        );
    }
}

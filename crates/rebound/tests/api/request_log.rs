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

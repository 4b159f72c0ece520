//! Each provider's fixtures, end to end: POST → inbox → worker → contact status.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Each ToSend fixture gives the documented event and status.
#[tokio::test]
async fn tosend_fixtures_yield_the_expected_events_and_statuses() {
    let cases = [
        (
            "bounce-hard.json",
            "bounce",
            Some("hard"),
            "bounced",
            Some("userunknown"),
        ),
        (
            "bounce-hard-with-mail.json",
            "bounce",
            Some("hard"),
            "bounced",
            Some("userunknown"),
        ),
        (
            "bounce-soft.json",
            "bounce",
            Some("soft"),
            "subscribed",
            Some("mailboxfull"),
        ),
        (
            "complaint.json",
            "complaint",
            None,
            "complained",
            Some("feedback"),
        ),
    ];
    for (file, kind, class, status, reason) in cases {
        let app = spawn_app().await;
        let src = app
            .create_source(json!({"provider": "tosend", "name": "ToSend"}))
            .await;
        let (code, body) = app.post_shown(&src, &[], fixture("tosend", file)).await;
        assert_eq!(code, 200, "{file}: {body}");
        let r = app.drain().await;
        assert_eq!((r.done, r.events), (1, 1), "{file}");
        let (code, c) = app.contact("recipient@example.com").await;
        assert_eq!(code, 200, "{file}");
        assert_eq!(c["status"], status, "{file}");
        let ev = &c["events"][0];
        assert_eq!(ev["kind"], kind, "{file}");
        assert_eq!(ev["class"].as_str(), class, "{file}");
        assert_eq!(ev["reason"].as_str(), reason, "{file}");
        assert_eq!(ev["source_id"], src["id"], "{file}");
        if class == Some("soft") {
            assert_eq!(c["soft_bounce_count"], 1, "{file}");
        }
    }
}

/// The generic fixture, signed both ways, bounces the recipient once.
#[tokio::test]
async fn generic_fixture_is_accepted_with_either_signature_scheme() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "Sender"}))
        .await;
    let secret = src["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("whsec_"));
    let body = fixture("generic", "bounced-hard.json");
    let (code, v) = post_generic(&app, &src, body.clone()).await;
    assert_eq!(code, 200, "{v}");
    // The same event signed with Standard Webhooks: accepted, but a duplicate.
    let headers =
        standard_webhooks_headers(&secret, "evt_01hx8b1c2d3e4f5g6h7j8k9m0n", now_secs(), &body);
    let (code, v) = app.post_shown(&src, &headers, body).await;
    assert_eq!(code, 200, "{v}");
    let r = app.drain().await;
    assert_eq!((r.done, r.events, r.duplicates), (2, 1, 1));
    let (_, c) = app.contact("recipient@example.com").await;
    assert_eq!(c["status"], "bounced");
    assert_eq!(c["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        c["events"][0]["provider_event_id"],
        "evt_01hx8b1c2d3e4f5g6h7j8k9m0n"
    );
    assert_eq!(c["events"][0]["occurred_at"], "2026-05-13T10:24:28.000Z");
    assert_eq!(c["events"][0]["reason"], "userunknown");
}

/// A signature header name chosen per source, with the `sha256=` prefix.
#[tokio::test]
async fn generic_signature_header_is_configurable() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "S", "secret": "a-secret-of-my-own", "signature_header": "X-Sig"}))
        .await;
    assert_eq!(src["secret"], "a-secret-of-my-own");
    let body = generic_event(
        "e1",
        "unsubscribed",
        "u@example.com",
        "2026-01-01T00:00:00Z",
    );
    let sig = format!("sha256={}", hex_hmac("a-secret-of-my-own", &body));
    let (code, v) = app
        .post_shown(&src, &[("x-sig", sig.clone())], body.clone())
        .await;
    assert_eq!(code, 200, "{v}");
    // The default header is not consulted on this source.
    let (code, _) = app
        .post_shown(&src, &[("x-webhook-signature", sig)], body)
        .await;
    assert_eq!(code, 401);
    app.drain().await;
    let (_, c) = app.contact("u@example.com").await;
    assert_eq!(c["status"], "unsubscribed");
}

/// listmonk's bounce API with basic auth, by email and by subscriber UUID.
#[tokio::test]
async fn listmonk_bounce_api_with_basic_auth() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "listmonk", "name": "listmonk"}))
        .await;
    assert_eq!(src["webhook_url"], app.url("/webhooks/bounce"));
    let user = src["basic_auth"]["username"]
        .as_str()
        .expect("username")
        .to_string();
    let pass = src["basic_auth"]["password"]
        .as_str()
        .expect("password")
        .to_string();
    let basic = |u: &str, p: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let body = fixture("listmonk", "generic-bounce-api-hard.json");
    let (code, v) = app
        .post_shown(
            &src,
            &[("authorization", basic(&user, &pass))],
            body.clone(),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = app
        .post_shown(
            &src,
            &[("authorization", basic(&user, "wrong"))],
            body.clone(),
        )
        .await;
    assert_eq!(code, 403);
    let (code, _) = app
        .post_shown(
            &src,
            &[("authorization", basic("other", &pass))],
            body.clone(),
        )
        .await;
    assert_eq!(code, 403);
    let (code, _) = app.post_shown(&src, &[], body).await;
    assert_eq!(code, 401);
    app.drain().await;
    let (_, c) = app.contact("user1@mail.com").await;
    assert_eq!(c["status"], "bounced");
    assert_eq!(
        c["events"][0]["details"]["campaign_uuid"],
        "9f86b50d-5711-41c8-ab03-bc91c43d711b"
    );

    // By subscriber UUID: known → applied; unknown → 400 at once.
    let (code, _) = app
        .api(Method::POST, "/api/v1/contacts", Some(json!({"email": "byuuid@example.com", "uuid": "0b5b9a52-0000-4000-8000-000000000001"})))
        .await;
    assert_eq!(code, 201);
    let auth = [("authorization", basic(&user, &pass))];
    let known = json!({"subscriber_uuid": "0b5b9a52-0000-4000-8000-000000000001", "type": "complaint", "source": "api"});
    let (code, v) = app
        .post_shown(&src, &auth, known.to_string().into_bytes())
        .await;
    assert_eq!(code, 200, "{v}");
    let unknown = json!({"subscriber_uuid": "nope", "type": "hard", "source": "api"});
    let (code, v) = app
        .post_shown(&src, &auth, unknown.to_string().into_bytes())
        .await;
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown subscriber_uuid"),
        "{v}"
    );
    app.drain().await;
    let (_, c) = app.contact("byuuid@example.com").await;
    assert_eq!(c["status"], "complained");
}

/// The same event delivered 20 times at once is stored once and counted once.
#[tokio::test]
async fn the_same_event_delivered_20_times_concurrently_counts_once() {
    let app = spawn_app().await;
    let generic = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let tosend = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    let soft = generic_event(
        "evt-dup",
        "bounced.soft",
        "dup@example.com",
        "2026-03-01T00:00:00Z",
    );
    let tosend_body = fixture("tosend", "bounce-soft.json");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app_client, body) = (app.client.clone(), soft.clone());
        let sig = hex_hmac(generic["secret"].as_str().unwrap_or_default(), &body);
        let url = shown_url(&generic);
        tasks.push(tokio::spawn(async move {
            app_client
                .post(url)
                .header("x-webhook-signature", sig)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
        let (c, body, url) = (app.client.clone(), tosend_body.clone(), shown_url(&tosend));
        tasks.push(tokio::spawn(async move {
            c.post(url)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("send"), 200);
    }
    // Half the deliveries processed while the rest are still being claimed by another task.
    let (a, b) = tokio::join!(app.drain(), app.drain());
    assert_eq!(a.done + b.done, 40);
    assert_eq!(a.events + b.events, 2);
    assert_eq!(a.duplicates + b.duplicates, 38);
    for email in ["dup@example.com", "recipient@example.com"] {
        let (_, c) = app.contact(email).await;
        assert_eq!(c["soft_bounce_count"], 1, "{email}");
        assert_eq!(c["events"].as_array().map(Vec::len), Some(1), "{email}");
        assert_eq!(c["status"], "subscribed");
    }
}

//! SendGrid, Postmark, Mailgun and Resend end to end: each with its own authentication,
//! its fixtures through the pipeline, and the usual attacks refused.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn sendgrid_signed_batches_apply_every_event_once() {
    let app = spawn_app().await;
    let (kp, public) = sendgrid_keys();
    let src = app
        .create_source(json!({"provider": "sendgrid", "name": "SG", "public_key": public}))
        .await;
    let url = shown_url(&src);
    // One batch: a bounce, a spam report and a delivery, as SendGrid joins them.
    let batch = format!(
        "[{},\r\n{},\r\n{}]\r\n",
        String::from_utf8(fixture("sendgrid", "docs-bounce.json"))
            .expect("utf-8")
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']'),
        String::from_utf8(fixture("sendgrid", "docs-spamreport.json"))
            .expect("utf-8")
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .replace("example@test.com", "spam@test.com"),
        String::from_utf8(fixture("sendgrid", "docs-delivered.json"))
            .expect("utf-8")
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .replace("example@test.com", "ok@test.com"),
    )
    .into_bytes();
    let now = now_secs();
    for _ in 0..2 {
        let (code, v) = app
            .post_url(&url, &sendgrid_headers(&kp, now, &batch), batch.clone())
            .await;
        assert_eq!(code, 200, "{v}");
    }
    let r = app.drain().await;
    assert_eq!(
        (r.done, r.events, r.duplicates),
        (2, 3, 3),
        "the batch delivered twice counts once"
    );
    assert_eq!(app.contact("example@test.com").await.1["status"], "bounced");
    assert_eq!(app.contact("spam@test.com").await.1["status"], "complained");
    assert_eq!(app.contact("ok@test.com").await.1["status"], "subscribed");

    let (other, _) = sendgrid_keys();
    let bad = [
        ("no headers", vec![]),
        ("wrong key", sendgrid_headers(&other, now, &batch)),
        ("stale", sendgrid_headers(&kp, now - 3600, &batch)),
        (
            "empty signature",
            vec![
                ("x-twilio-email-event-webhook-timestamp", now.to_string()),
                ("x-twilio-email-event-webhook-signature", String::new()),
            ],
        ),
    ];
    for (what, headers) in bad {
        let (code, v) = app.post_url(&url, &headers, batch.clone()).await;
        assert_eq!(code, 401, "{what}: {v}");
    }
    let mut reserialized =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&batch).expect("json")).expect("json");
    reserialized.push(b'\n');
    let (code, _) = app
        .post_url(&url, &sendgrid_headers(&kp, now, &batch), reserialized)
        .await;
    assert_eq!(code, 401, "signature over other bytes");
}

/// Postmark posts to the shown URL with the generated credentials in it; the same URL
/// without them, or with others, is refused and the password never echoed nor logged.
#[tokio::test]
async fn postmark_basic_auth_in_the_url() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "postmark", "name": "PM"}))
        .await;
    let url = shown_url(&src);
    let pass = src["basic_auth"]["password"]
        .as_str()
        .expect("p")
        .to_string();
    assert!(url.contains(&format!("://postmark:{pass}@")), "{url}");
    for (file, email, status) in [
        ("anymail-bounce-event.json", "bounce@example.com", "bounced"),
        ("anymail-spam-event.json", "spam@example.com", "complained"),
        (
            "anymail-unsubscribe.json",
            "john@example.com",
            "unsubscribed",
        ),
    ] {
        let (code, v) = app.post_url(&url, &[], fixture("postmark", file)).await;
        assert_eq!(code, 200, "{file}: {v}");
        app.drain().await;
        assert_eq!(app.contact(email).await.1["status"], status, "{file}");
    }
    let body = fixture("postmark", "anymail-bounce-event.json");
    for (what, forged) in [
        ("none", with_credentials(&url, None)),
        (
            "wrong password",
            with_credentials(&url, Some(("postmark", "nope"))),
        ),
        ("wrong user", with_credentials(&url, Some(("x", &pass)))),
    ] {
        let (code, v) = app.post_url(&forged, &[], body.clone()).await;
        assert_eq!(code, 401, "{what}: {v}");
        assert!(!v.to_string().contains(&pass), "credentials never echoed");
    }
    let log = app.log().await;
    assert!(
        log.iter().all(|e| !e.to_string().contains(&pass)),
        "credentials never logged"
    );
}

#[tokio::test]
async fn mailgun_signatures_and_replayed_tokens() {
    let app = spawn_app().await;
    let key = "key-0123456789abcdef0123456789abcdef";
    let src = app
        .create_source(json!({"provider": "mailgun", "name": "MG", "secret": key}))
        .await;
    let url = shown_url(&src);
    let now = now_secs();
    let perm = fixture("mailgun", "anymail-failed-permanent-event.unsigned.json");
    let body = mailgun_body(
        key,
        now,
        "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6ab",
        &perm,
    );
    let (code, v) = app.post_url(&url, &[], body.clone()).await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = app.post_url(&url, &[], body).await;
    assert_eq!(code, 401, "replayed token: {v}");
    assert!(v["error"].as_str().unwrap_or_default().contains("replayed"));
    for (what, b) in [
        ("unsigned", perm.clone()),
        ("wrong key", mailgun_body("key-other", now, "t1", &perm)),
        ("stale", mailgun_body(key, now - 3600, "t2", &perm)),
    ] {
        let (code, v) = app.post_url(&url, &[], b).await;
        assert_eq!(code, 401, "{what}: {v}");
    }
    let temp = mailgun_body(
        key,
        now,
        "t3",
        &fixture("mailgun", "anymail-failed-temporary-event.unsigned.json"),
    );
    assert_eq!(app.post_url(&url, &[], temp).await.0, 200);
    let r = app.drain().await;
    assert_eq!(r.events, 2);
    assert_eq!(
        app.contact("invalid@example.com").await.1["status"],
        "bounced"
    );
    let (_, c) = app.contact("undeliverable@nomx.example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["soft_bounce_count"].as_u64()),
        (Some("subscribed"), Some(0)),
        "temporary failures are deferrals"
    );
}

#[tokio::test]
async fn resend_svix_signatures() {
    let app = spawn_app().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let src = app
        .create_source(json!({"provider": "resend", "name": "Resend", "secret": secret}))
        .await;
    let url = shown_url(&src);
    let body = fixture("resend", "anymail-hard-bounced-event.json");
    let svix = |id: &str, ts: i64| svix_headers(secret, id, ts, &body);
    let (code, v) = app
        .post_url(&url, &svix("msg_1", now_secs()), body.clone())
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = app
        .post_url(
            &url,
            &standard_webhooks_headers(secret, "msg_1", now_secs(), &body),
            body.clone(),
        )
        .await;
    assert_eq!(code, 200, "unbranded headers too");
    for (what, headers) in [("stale", svix("msg_2", now_secs() - 600)), ("none", vec![])] {
        assert_eq!(
            app.post_url(&url, &headers, body.clone()).await.0,
            401,
            "{what}"
        );
    }
    let mut empty = svix("msg_3", now_secs());
    empty[2].1 = "v1,".into();
    assert_eq!(
        app.post_url(&url, &empty, body.clone()).await.0,
        401,
        "v1, empty"
    );
    let r = app.drain().await;
    assert_eq!((r.events, r.duplicates), (1, 1), "same svix id counts once");
    assert_eq!(
        app.contact("bounced@resend.dev").await.1["status"],
        "bounced"
    );
}

/// SparkPost, Mailjet and Brevo document no signature: generated basic-auth credentials in
/// the URL, checked in constant time; their bounce fixtures bounce the recipient.
#[tokio::test]
async fn basic_auth_providers_accept_only_their_credentials() {
    let cases = [
        (
            "sparkpost",
            "anymail-bounce-event.json",
            "bounce@example.com",
        ),
        ("mailjet", "anymail-bounce-event.json", "invalid@invalid"),
        (
            "brevo",
            "anymail-hard-bounce.json",
            "not-a-user@example.com",
        ),
    ];
    for (provider, file, email) in cases {
        let app = spawn_app().await;
        let src = app
            .create_source(json!({"provider": provider, "name": provider}))
            .await;
        let url = shown_url(&src);
        let pass = src["basic_auth"]["password"]
            .as_str()
            .expect("p")
            .to_string();
        assert_eq!(src["basic_auth"]["username"], provider);
        assert!(
            url.contains(&format!("://{provider}:{pass}@"))
                && url.contains(&format!("/webhooks/{provider}/")),
            "{url}"
        );
        let body = fixture(provider, file);
        for (what, forged) in [
            ("none", with_credentials(&url, None)),
            (
                "wrong password",
                with_credentials(&url, Some((provider, &pass[1..]))),
            ),
            ("wrong user", with_credentials(&url, Some(("x", &pass)))),
        ] {
            let (code, v) = app.post_url(&forged, &[], body.clone()).await;
            assert_eq!(code, 401, "{provider} {what}: {v}");
        }
        let (code, v) = app.post_url(&url, &[], body.clone()).await;
        assert_eq!(code, 200, "{provider}: {v}");
        let (code, _) = app.post_url(&url, &[], body).await;
        assert_eq!(code, 200, "{provider}: retry");
        let r = app.drain().await;
        assert_eq!(
            (r.events, r.duplicates),
            (1, 1),
            "{provider}: a retry counts once"
        );
        assert_eq!(
            app.contact(email).await.1["status"],
            "bounced",
            "{provider}"
        );
    }
}

/// Mandrill: the URL answers HEAD, and a form body signed over the public URL is applied.
#[tokio::test]
async fn mandrill_form_bodies_signed_over_the_url() {
    let app = spawn_app().await;
    let src = app
        .create_source(
            json!({"provider": "mandrill", "name": "M", "secret": "mandrill-webhook-key"}),
        )
        .await;
    let url = src["webhook_url"].as_str().expect("url").to_string();
    let head = app.client.head(&url).send().await.expect("head");
    assert_eq!(
        head.status().as_u16(),
        200,
        "Mandrill checks the URL with HEAD"
    );
    let events =
        String::from_utf8(fixture("mandrill", "anymail-hard-bounce-event.json")).expect("utf-8");
    let body = format!(
        "mandrill_events={}",
        events
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    )
    .into_bytes();
    let sig = rebound_core::providers::mandrill::sign("mandrill-webhook-key", &url, &body);
    let url = shown_url(&src);
    let form = (
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    );
    assert_eq!(
        app.post_url(&url, std::slice::from_ref(&form), body.clone())
            .await
            .0,
        401,
        "unsigned"
    );
    let wrong = rebound_core::providers::mandrill::sign(
        "mandrill-webhook-key",
        "https://elsewhere/webhooks/mandrill/x",
        &body,
    );
    assert_eq!(
        app.post_url(
            &url,
            &[form.clone(), ("x-mandrill-signature", wrong)],
            body.clone()
        )
        .await
        .0,
        401,
        "signed for another URL"
    );
    let (code, v) = app
        .post_url(&url, &[form, ("x-mandrill-signature", sig)], body)
        .await;
    assert_eq!(code, 200, "{v}");
    app.drain().await;
    assert_eq!(
        app.contact("bounce@example.com").await.1["status"],
        "bounced"
    );
}

/// Postal: RSA-SHA256 signatures with the server's public key.
#[tokio::test]
async fn postal_rsa_signed_events() {
    let (kp, public) = postal_keys();
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "postal", "name": "Postal", "public_key": public}))
        .await;
    let body = fixture("postal", "anymail-failed-event.json");
    let sig = postal_sign(&kp, &body);
    let url = shown_url(&src);
    assert_eq!(app.post_url(&url, &[], body.clone()).await.0, 401);
    let (code, v) = app
        .post_url(&url, &[("x-postal-signature-256", sig)], body)
        .await;
    assert_eq!(code, 200, "{v}");
    app.drain().await;
    assert_eq!(
        app.contact("failed@example.com").await.1["status"],
        "bounced"
    );
}

/// MailerSend signs with hex HMAC-SHA256 of the body in `Signature`.
#[tokio::test]
async fn mailersend_hmac_signatures() {
    let app = spawn_app().await;
    let src = app
        .create_source(
            json!({"provider": "mailersend", "name": "MS", "secret": "ms-signing-secret"}),
        )
        .await;
    let url = shown_url(&src);
    let body = fixture("mailersend", "anymail-hard-bounced-event.json");
    let good = hex_hmac("ms-signing-secret", &body);
    for (what, headers) in [
        ("none", vec![]),
        ("wrong key", vec![("signature", hex_hmac("other", &body))]),
        ("truncated", vec![("signature", good[..40].to_string())]),
    ] {
        assert_eq!(
            app.post_url(&url, &headers, body.clone()).await.0,
            401,
            "{what}"
        );
    }
    let (code, v) = app.post_url(&url, &[("signature", good)], body).await;
    assert_eq!(code, 200, "{v}");
    app.drain().await;
    let (_, c) = app.contact("invalid@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("bounced"), Some("hostunknown"))
    );
}

#[tokio::test]
async fn unisender_go_md5_auth_field() {
    let app = spawn_app().await;
    let src = app
        .create_source(
            json!({"provider": "unisender-go", "name": "UG", "secret": "unisender-api-key"}),
        )
        .await;
    let url = shown_url(&src);
    // Unisender Go checks the URL with GET when the webhook is set up.
    let get = app.client.get(&url).send().await.expect("get");
    assert_eq!(
        get.status().as_u16(),
        200,
        "the set-up GET must be answered"
    );
    // Elsewhere events come by POST only: a GET is not acknowledged as if stored.
    let generic = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let other = app
        .client
        .get(shown_url(&generic))
        .send()
        .await
        .expect("get");
    assert_eq!(other.status().as_u16(), 405);
    // Two events in one delivery; `auth` = MD5 of this body with the API key in place
    // of the hash (computed outside rebound, with Python's hashlib).
    let template = r#"{"auth":"__AUTH__","events_by_user":[{"user_id":1,"events":[{"event_name":"transactional_email_status","event_data":{"job_id":"J1","email":"gone@example.com","status":"hard_bounced","event_time":"2024-09-06 23:22:40","delivery_info":{"delivery_status":"err_user_unknown","destination_response":"550 5.1.1 no such user"}}},{"event_name":"transactional_email_status","event_data":{"job_id":"J1","email":"spam@example.com","status":"spam","event_time":"2024-09-06 23:22:41"}}]}]}"#;
    let body = template.replace("__AUTH__", "8ad4706e635c0dad647eb7d2a620d533");
    for (what, forged) in [
        ("unsigned", template.replace("\"auth\":\"__AUTH__\",", "")),
        (
            "wrong key",
            template.replace("__AUTH__", "0123456789abcdef0123456789abcdef"),
        ),
        ("body changed", body.replace("gone@", "gona@")),
    ] {
        let (code, v) = app.post_url(&url, &[], forged.into_bytes()).await;
        assert_eq!(code, 401, "{what}: {v}");
    }
    let (code, v) = app.post_url(&url, &[], body.clone().into_bytes()).await;
    assert_eq!(code, 200, "{v}");
    app.drain().await;
    let (_, c) = app.contact("gone@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("bounced"), Some("userunknown"))
    );
    assert_eq!(
        app.contact("spam@example.com").await.1["status"],
        "complained"
    );
    let count = app.event_count().await;
    let (code, _) = app.post_url(&url, &[], body.into_bytes()).await;
    assert_eq!(code, 200);
    app.drain().await;
    assert_eq!(
        app.event_count().await,
        count,
        "a batch delivered twice counts once"
    );
}

#[tokio::test]
async fn smtp2go_form_events_with_basic_auth() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "smtp2go", "name": "S2G"}))
        .await;
    let url = shown_url(&src);
    assert!(url.contains("/webhooks/smtp2go/"), "{url}");
    let form = [(
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    )];
    let body = b"event=bounce&bounce=hard&rcpt=gone%40example.com&email_id=1u0SwL-B9zBpi9ffUq-JAB2&time=2026-01-02+03%3A04%3A05&message=550+5.1.1+User+unknown&host=mx.example.com".to_vec();
    for (what, forged) in [
        ("none", with_credentials(&url, None)),
        (
            "wrong password",
            with_credentials(&url, Some(("smtp2go", "nope"))),
        ),
    ] {
        assert_eq!(
            app.post_url(&forged, &form, body.clone()).await.0,
            401,
            "{what}"
        );
    }
    let (code, v) = app.post_url(&url, &form, body).await;
    assert_eq!(code, 200, "{v}");
    let json_body = br#"{"event":"spam","rcpt":"spam@example.com","email_id":"e2","time":"2026-01-02 03:04:06"}"#;
    let (code, v) = app.post_url(&url, &[], json_body.to_vec()).await;
    assert_eq!(code, 200, "{v}");
    app.drain().await;
    let (_, c) = app.contact("gone@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("bounced"), Some("userunknown"))
    );
    assert_eq!(
        app.contact("spam@example.com").await.1["status"],
        "complained"
    );
}

#[tokio::test]
async fn lettermint_timestamped_hmac() {
    let app = spawn_app().await;
    let src = app
        .create_source(
            json!({"provider": "lettermint", "name": "LM", "secret": "whsec_lettermint"}),
        )
        .await;
    let url = shown_url(&src);
    let body = br#"{"id":"d-1","event":"message.hard_bounced","timestamp":"2026-01-15T10:30:00Z","data":{"message_id":"m-1","recipient":"gone@example.com","response":{"status_code":550,"enhanced_status_code":"5.1.1","content":"550 5.1.1 user unknown"}}}"#.to_vec();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let sign = |t: u64, key: &str| {
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&body);
        format!("t={t},v1={}", hex_hmac(key, &signed))
    };
    for (what, headers) in [
        ("none", vec![]),
        (
            "wrong key",
            vec![("x-lettermint-signature", sign(now, "whsec_other"))],
        ),
        (
            "stale",
            vec![(
                "x-lettermint-signature",
                sign(now - 600, "whsec_lettermint"),
            )],
        ),
    ] {
        assert_eq!(
            app.post_url(&url, &headers, body.clone()).await.0,
            401,
            "{what}"
        );
    }
    let (code, v) = app
        .post_url(
            &url,
            &[("x-lettermint-signature", sign(now, "whsec_lettermint"))],
            body,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    app.drain().await;
    let (_, c) = app.contact("gone@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("bounced"), Some("userunknown"))
    );
}

//! Amazon SES via SNS through the real server: subscription confirmation against a local
//! stand-in for AWS, signed notifications changing contacts, and every attack from the
//! reliability checklist rejected before any outbound request.

use std::sync::Arc;

use axum::routing::get;
use serde_json::{json, Value};

use crate::helpers::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ses-bounces";
const CERT_NAME: &str = "SimpleNotificationService-0123456789abcdef0123456789abcdef.pem";

fn recipients(ses_bounce: &str) -> u64 {
    let v: Value = serde_json::from_str(ses_bounce).expect("json");
    v["bounce"]["bouncedRecipients"]
        .as_array()
        .map_or(0, |a| a.len() as u64)
}

fn cert_url(region: &str) -> String {
    format!("https://sns.{region}.amazonaws.com/{CERT_NAME}")
}

fn ses_fixture(name: &str) -> String {
    String::from_utf8(fixture("ses", name)).expect("utf-8")
}

fn notification(
    id: &str,
    topic: &str,
    message: &str,
    version: &str,
    subject: Option<&str>,
) -> Value {
    let mut m = json!({
        "Type": "Notification", "MessageId": id, "TopicArn": topic, "Message": message,
        "Timestamp": "2026-11-01T10:00:00.000Z", "SignatureVersion": version,
        "SigningCertURL": cert_url("us-east-1"),
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    });
    if let Some(s) = subject {
        m["Subject"] = json!(s);
    }
    m
}

fn confirmation(kind: &str, id: &str, topic: &str, subscribe_url: &str) -> Value {
    json!({
        "Type": kind, "MessageId": id, "TopicArn": topic, "Token": "tok-123",
        "Message": format!("You have chosen to subscribe to the topic {topic}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
        "SubscribeURL": subscribe_url, "Timestamp": "2026-11-01T09:00:00.000Z",
        "SignatureVersion": "1", "SigningCertURL": cert_url("us-east-1"),
    })
}

/// Signs envelopes with the Python helper (an independent implementation of the string to
/// sign); returns the certificate PEM and the signed envelopes.
fn sign(messages: Vec<Value>) -> (String, Vec<Value>) {
    use std::io::Write;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/sns_sign.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the SNS tests");
    let input = json!({ "messages": messages }).to_string();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "signer failed (is python3-cryptography installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let msgs = v["messages"].as_array().cloned().unwrap_or_default();
    (v["cert"].as_str().expect("cert").to_string(), msgs)
}

/// A local stand-in for the SNS endpoints: the certificate and ConfirmSubscription.
async fn stand_in(cert: String) -> String {
    let app = axum::Router::new()
        .route(
            &format!("/{CERT_NAME}"),
            get(move || async move { cert.clone() }),
        )
        .route("/", get(|| async { "<ConfirmSubscriptionResponse/>" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn ses_app(cert: String) -> TestApp {
    let aws = Arc::new(LocalAws {
        base: Some(stand_in(cert).await),
        ..Default::default()
    });
    spawn_app_full(rebound_server::ServerConfig::default(), aws).await
}

async fn post(app: &TestApp, src: &Value, body: &Value) -> (u16, Value) {
    app.post_shown(
        src,
        &[("content-type", "text/plain; charset=UTF-8".into())],
        body.to_string().into_bytes(),
    )
    .await
}

async fn source_status(app: &TestApp) -> (String, String) {
    let (_, v) = app.get("/api/v1/sources").await;
    let s = &v["items"][0];
    (
        s["status"].as_str().unwrap_or_default().into(),
        s["status_message"].as_str().unwrap_or_default().into(),
    )
}

#[tokio::test]
async fn a_subscription_is_confirmed_and_notifications_change_contacts() {
    let bounce = ses_fixture("ses-notification-bounce-permanent-no-dsn.json");
    let complaint = ses_fixture("ses-notification-complaint-with-feedback.json");
    let mut soft: Value = serde_json::from_str(&bounce).expect("json");
    soft["bounce"]["bounceType"] = "Transient".into();
    soft["bounce"]["bounceSubType"] = "MailboxFull".into();
    soft["bounce"]["bouncedRecipients"] = json!([{"emailAddress": "soft@example.com"}]);
    let subscribe_url = format!("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok-123");
    let (cert, signed) = sign(vec![
        confirmation("SubscriptionConfirmation", "c-1", TOPIC, &subscribe_url),
        notification("n-1", TOPIC, &bounce, "1", None),
        notification(
            "n-2",
            TOPIC,
            &complaint,
            "2",
            Some("Amazon SES Email Event Notification"),
        ),
        notification("n-3", TOPIC, &soft.to_string(), "2", None),
        confirmation("UnsubscribeConfirmation", "u-1", TOPIC, &subscribe_url),
    ]);
    let app = ses_app(cert).await;
    let src = app
        .create_source(json!({"provider": "ses", "name": "SES", "topic_arns": [TOPIC]}))
        .await;
    assert_eq!(src["status"], "pending confirmation");
    assert_eq!(src["topic_arns"], json!([TOPIC]));

    let (code, v) = post(&app, &src, &signed[0]).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "subscription-confirmed");
    assert_eq!(
        app.aws.requests(),
        vec![cert_url("us-east-1"), subscribe_url.clone()]
    );
    assert_eq!(source_status(&app).await.0, "confirmed");

    for m in &signed[1..4] {
        let (code, v) = post(&app, &src, m).await;
        assert_eq!(code, 200, "{v}");
    }
    // A retried notification counts once.
    let (code, _) = post(&app, &src, &signed[1]).await;
    assert_eq!(code, 200);
    let r = app.drain().await;
    assert_eq!(r.done, 4);
    assert!(r.duplicates >= 1, "{r:?}");
    let bounced: Value = serde_json::from_str(&bounce).expect("json");
    let hard_to = bounced["bounce"]["bouncedRecipients"][0]["emailAddress"]
        .as_str()
        .expect("recipient");
    let (_, c) = app.contact(hard_to).await;
    assert_eq!(c["status"], "bounced", "{c}");
    assert_eq!(c["events"][0]["class"], "hard");
    assert_eq!(c["events"][0]["provider"], "ses");
    let complained: Value = serde_json::from_str(&complaint).expect("json");
    let to = complained["complaint"]["complainedRecipients"][0]["emailAddress"]
        .as_str()
        .expect("recipient");
    let (_, c) = app.contact(to).await;
    assert_eq!(c["status"], "complained");
    assert_eq!(c["events"][0]["details"]["feedback_type"], "abuse");
    let (_, c) = app.contact("soft@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["soft_bounce_count"].as_u64()),
        (Some("subscribed"), Some(1))
    );
    // The certificate was fetched once and cached.
    assert_eq!(app.aws.requests().len(), 2);

    let (code, v) = post(&app, &src, &signed[4]).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(source_status(&app).await.0, "unsubscribed");
    // The request log tells the life of the subscription.
    let outcomes: Vec<String> = app
        .log()
        .await
        .iter()
        .rev()
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        outcomes,
        [
            "subscription-confirmed",
            "accepted",
            "accepted",
            "accepted",
            "accepted",
            "unsubscribed"
        ]
    );
}

#[tokio::test]
async fn tampered_foreign_topic_and_raw_messages_change_nothing() {
    let bounce = ses_fixture("ses-notification-bounce-permanent-no-dsn.json");
    let other_topic = "arn:aws:sns:us-east-1:999999999999:attacker";
    let (cert, signed) = sign(vec![
        notification("n-1", TOPIC, &bounce, "1", None),
        notification("n-2", other_topic, &bounce, "1", None),
        confirmation(
            "SubscriptionConfirmation",
            "c-2",
            other_topic,
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        ),
    ]);
    let app = ses_app(cert).await;
    let src = app
        .create_source(json!({"provider": "ses", "name": "SES", "topic_arns": [TOPIC]}))
        .await;

    // Signed by a valid key, but from a topic outside the allowlist: 403, no outbound request.
    for m in &signed[1..] {
        let (code, v) = post(&app, &src, m).await;
        assert_eq!(code, 403, "{v}");
        assert!(v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not allowed"));
    }
    assert!(
        app.aws.requests().is_empty(),
        "no certificate fetch, no confirmation"
    );

    let mut tampered = signed[0].clone();
    tampered["Message"] = json!(bounce.replace("Permanent", "Transient"));
    let (code, _) = post(&app, &src, &tampered).await;
    assert_eq!(code, 401);
    let mut unsigned = signed[0].clone();
    unsigned["Signature"] = json!("");
    assert_eq!(post(&app, &src, &unsigned).await.0, 401);
    let mut v3 = signed[0].clone();
    v3["SignatureVersion"] = json!("3");
    assert_eq!(post(&app, &src, &v3).await.0, 401);

    // Raw message delivery: a clear 400.
    let (code, v) = app.post_shown(&src, &[], bounce.clone().into_bytes()).await;
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("raw message delivery"),
        "{v}"
    );

    assert_eq!(app.drain().await.done, 0);
    assert_eq!(app.event_count().await, 0);
    // The genuine message still goes through.
    assert_eq!(post(&app, &src, &signed[0]).await.0, 200);
    assert_eq!(app.drain().await.events, recipients(&bounce));
}

/// Every SigningCertURL and SubscribeURL attack is refused before any outbound request.
#[tokio::test]
async fn signing_cert_and_subscribe_url_attacks_are_refused_without_fetching() {
    let bounce = ses_fixture("ses-notification-bounce-permanent-no-dsn.json");
    let attacks = [
        (
            "http scheme",
            format!("http://sns.us-east-1.amazonaws.com/{CERT_NAME}"),
        ),
        (
            "suffix host",
            format!("https://sns.us-east-1.amazonaws.com.evil.example/{CERT_NAME}"),
        ),
        (
            "S3 bucket",
            format!("https://s3.amazonaws.com/bucket/{CERT_NAME}"),
        ),
        (
            "other AWS host",
            format!("https://ec2.us-east-1.amazonaws.com/{CERT_NAME}"),
        ),
        (
            "userinfo",
            format!("https://sns.us-east-1.amazonaws.com@evil.example/{CERT_NAME}"),
        ),
        (
            "port",
            format!("https://sns.us-east-1.amazonaws.com:8443/{CERT_NAME}"),
        ),
        (
            "query",
            format!("https://sns.us-east-1.amazonaws.com/{CERT_NAME}?redirect=evil"),
        ),
        (
            "fragment",
            format!("https://sns.us-east-1.amazonaws.com/{CERT_NAME}#x"),
        ),
        (
            "unpinned path",
            "https://sns.us-east-1.amazonaws.com/evil.pem".to_string(),
        ),
        (
            "nested path",
            format!("https://sns.us-east-1.amazonaws.com/a/{CERT_NAME}"),
        ),
        ("link-local", format!("https://169.254.169.254/{CERT_NAME}")),
    ];
    let mut messages = Vec::new();
    for (i, (_, url)) in attacks.iter().enumerate() {
        let mut m = notification(&format!("a-{i}"), TOPIC, &bounce, "1", None);
        m["SigningCertURL"] = json!(url);
        messages.push(m);
    }
    let sub_attacks = [
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "https://169.254.169.254/latest/meta-data/",
        "https://sns.us-east-1.amazonaws.com.evil.example/?Action=ConfirmSubscription",
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    ];
    for (i, url) in sub_attacks.iter().enumerate() {
        messages.push(confirmation(
            "SubscriptionConfirmation",
            &format!("s-{i}"),
            TOPIC,
            url,
        ));
    }
    let (cert, signed) = sign(messages);
    let app = ses_app(cert).await;
    let src = app
        .create_source(json!({"provider": "ses", "name": "SES", "topic_arns": [TOPIC]}))
        .await;
    for ((what, _), m) in attacks.iter().zip(&signed) {
        let (code, v) = post(&app, &src, m).await;
        assert_eq!(code, 401, "{what}: {v}");
        assert!(
            app.aws.requests().is_empty(),
            "{what}: an outbound request was made"
        );
    }
    for (url, m) in sub_attacks.iter().zip(&signed[attacks.len()..]) {
        let (code, v) = post(&app, &src, m).await;
        assert_eq!(code, 400, "{url}: {v}");
        assert!(
            app.aws
                .requests()
                .iter()
                .all(|r| !r.contains("Action=") && !r.contains("169.254")),
            "{url}: confirmation fetched"
        );
    }
    assert_eq!(source_status(&app).await.0, "pending confirmation");
    assert_eq!(app.drain().await.done, 0);
}

/// "Trust the first topic that subscribes": nothing before the confirmation, that topic
/// only afterwards.
#[tokio::test]
async fn trust_first_topic_pins_the_first_subscriber() {
    let bounce = ses_fixture("ses-notification-bounce-permanent-no-dsn.json");
    let other = "arn:aws:sns:us-east-1:999999999999:other";
    let (cert, signed) = sign(vec![
        notification("n-0", TOPIC, &bounce, "1", None),
        confirmation(
            "SubscriptionConfirmation",
            "c-1",
            TOPIC,
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=a",
        ),
        notification("n-1", TOPIC, &bounce, "1", None),
        confirmation(
            "SubscriptionConfirmation",
            "c-2",
            other,
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=b",
        ),
        notification("n-2", other, &bounce, "1", None),
    ]);
    let app = ses_app(cert).await;
    let (code, v) = app
        .api(
            reqwest::Method::POST,
            "/api/v1/sources",
            Some(json!({"provider": "ses", "name": "SES"})),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("topic_arns"),
        "{v}"
    );
    let src = app
        .create_source(json!({"provider": "ses", "name": "SES", "trust_first_topic": true}))
        .await;
    let codes: Vec<u16> = {
        let mut c = Vec::new();
        for m in &signed {
            c.push(post(&app, &src, m).await.0);
        }
        c
    };
    assert_eq!(codes, vec![403, 200, 200, 403, 403]);
    let (_, v) = app.get("/api/v1/sources").await;
    assert_eq!(v["items"][0]["topic_arns"], json!([TOPIC]));
    assert_eq!(app.drain().await.events, recipients(&bounce));
}

/// A real AWS-signed SES notification (years old) and its topic; the certificate that signed
/// it is written into `cert_dir` under the name its `SigningCertURL` gives (`--sns-cert-dir`).
pub fn real_signed_notification(cert_dir: &std::path::Path) -> (Vec<u8>, String) {
    use rebound_core::providers::sns;
    let body = fixture("ses", "sns-ses-notification-bounce-v1-2022-signed.json");
    let env = sns::Envelope::parse(&body).expect("envelope");
    let cert_name = sns::check_cert_url(&env.signing_cert_url).expect("cert url");
    let certs = [
        "cert-sns-2014-verisign.pem",
        "cert-sns-2019-amazon-rsa.pem",
        "cert-sns-2021-amazon-rsa.pem",
    ];
    let pem = certs
        .iter()
        .map(|c| fixture("ses", c))
        .find(|pem| sns::public_key_from_pem(pem).is_ok_and(|k| sns::verify(&env, &k).is_ok()))
        .expect("a real certificate verifies the fixture");
    std::fs::write(cert_dir.join(&cert_name), pem).expect("write cert");
    (body, env.topic_arn.clone())
}

/// Real AWS-signed messages, years old, are accepted end to end with their real
/// certificate from `--sns-cert-dir` (no network), and their bounce applied.
#[tokio::test]
async fn real_signed_ses_messages_are_accepted_from_a_local_cert_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (body, topic) = real_signed_notification(dir.path());
    let cfg = rebound_server::ServerConfig {
        sns_cert_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let app = spawn_app_full(cfg, Arc::new(LocalAws::default())).await;
    let src = app
        .create_source(json!({"provider": "ses", "name": "SES", "topic_arns": [topic]}))
        .await;
    let (code, v) = app.post_shown(&src, &[], body.clone()).await;
    assert_eq!(code, 200, "{v}");
    assert!(
        app.aws.requests().is_empty(),
        "the local certificate was used"
    );
    let r = app.drain().await;
    assert!(r.events >= 1);
    let (_, events) = app.get("/api/v1/events?kind=bounce").await;
    assert_eq!(events["items"][0]["provider"], "ses");
    // One changed byte in the body: rejected.
    let tampered = String::from_utf8(body)
        .expect("utf-8")
        .replacen("bounce", "bouncf", 1);
    let (code, _) = app.post_shown(&src, &[], tampered.into_bytes()).await;
    assert_eq!(code, 401);
}

/// A SubscriptionConfirmation whose signature does not match (its SubscribeURL or Token
/// changed after signing) is refused with 401, and its SubscribeURL is never visited: a
/// forged confirmation cannot make rebound subscribe anything anywhere.
#[tokio::test]
async fn a_badly_signed_subscription_confirmation_is_never_followed() {
    let subscribe_url = format!(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok-123"
    );
    let (cert, signed) = sign(vec![confirmation(
        "SubscriptionConfirmation",
        "c-1",
        TOPIC,
        &subscribe_url,
    )]);
    let app = ses_app(cert).await;
    let src = app
        .create_source(json!({"provider": "ses", "name": "SES", "topic_arns": [TOPIC]}))
        .await;
    let elsewhere = format!(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=attacker"
    );
    for (what, field, value) in [
        ("SubscribeURL", "SubscribeURL", elsewhere.as_str()),
        ("Token", "Token", "attacker-token"),
        ("Signature", "Signature", "AAAA"),
    ] {
        let mut forged = signed[0].clone();
        forged[field] = json!(value);
        let (code, v) = post(&app, &src, &forged).await;
        assert_eq!(code, 401, "{what}: {v}");
    }
    assert!(
        app.aws
            .requests()
            .iter()
            .all(|u| !u.contains("ConfirmSubscription")),
        "no SubscribeURL visited: {:?}",
        app.aws.requests()
    );
    assert_eq!(source_status(&app).await.0, "pending confirmation");
    // The genuine one is then followed, once.
    let (code, v) = post(&app, &src, &signed[0]).await;
    assert_eq!(
        (code, v["status"].as_str()),
        (200, Some("subscription-confirmed"))
    );
    let visits = app
        .aws
        .requests()
        .iter()
        .filter(|u| u.contains("ConfirmSubscription"))
        .count();
    assert_eq!(visits, 1);
}

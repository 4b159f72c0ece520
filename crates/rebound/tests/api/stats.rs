//! Deliverability rates per source, judged against the thresholds mailbox providers publish.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn rates_per_source_and_window_are_judged_against_the_thresholds() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "app"}))
        .await;
    let quiet = app
        .create_source(json!({"provider": "generic", "name": "quiet"}))
        .await;
    let now = rebound_core::timestamp::format(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    );
    let mut n = 0;
    let mut post = |typ: &'static str, count: usize| {
        let batch: Vec<(String, &'static str)> = (0..count)
            .map(|_| {
                n += 1;
                (format!("e{n}"), typ)
            })
            .collect();
        batch
    };
    let mut all = post("delivered", 300);
    all.extend(post("bounced.hard", 16));
    all.extend(post("complained", 1));
    for (i, (id, typ)) in all.iter().enumerate() {
        let email = format!("user{}@example.com", i % 50);
        let (status, _) = post_generic(&app, &src, generic_event(id, typ, &email, &now)).await;
        assert_eq!(status, 200);
    }
    let (status, _) = post_generic(
        &app,
        &quiet,
        generic_event("q1", "bounced.hard", "x@example.com", &now),
    )
    .await;
    assert_eq!(status, 200);
    app.drain().await;

    let (status, body) = app.get("/api/v1/stats/deliverability").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["thresholds"]["complaint_max"], 0.003);
    let row = |name: &str, window: &str| -> Value {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["name"] == name && r["window"] == window)
            .cloned()
            .unwrap_or_else(|| panic!("no row {name} {window} in {body}"))
    };
    for window in ["24h", "7d"] {
        let r = row("app", window);
        assert_eq!(
            (
                r["delivered"].as_u64(),
                r["bounced"].as_u64(),
                r["complained"].as_u64()
            ),
            (Some(300), Some(16), Some(1)),
            "{r}"
        );
        let bounce = r["bounce_rate"].as_f64().expect("bounce rate");
        assert!((bounce - 16.0 / 316.0).abs() < 1e-9, "{r}");
        assert_eq!(r["bounce_level"], "warning", "5.06% bounces: {r}");
        assert_eq!(r["complaint_level"], "bad", "0.33% complaints: {r}");
        // A source that reports no deliveries has no rate, not a 100% one.
        let q = row("quiet", window);
        assert_eq!(
            (q["bounced"].as_u64(), q["bounce_rate"].is_null()),
            (Some(1), true),
            "{q}"
        );
        let total = row("all sources", window);
        assert_eq!(total["bounced"], 17);
        assert!(total["source_id"].is_null());
    }
}

/// A provider fixture with its event times moved to `now`, so that it falls in the windows.
fn fixture_now(provider: &str, name: &str, set: impl Fn(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture(provider, name)).expect("json");
    set(&mut v);
    serde_json::to_vec(&v).expect("json")
}

/// The sending domain comes from the real payloads (Resend's `data.from`, Mailgun's From
/// header): `?by=domain` gives one row per domain and window; the default stays per source.
#[tokio::test]
async fn rates_per_sending_domain_come_from_the_payloads() {
    let app = spawn_app().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let resend = app
        .create_source(json!({"provider": "resend", "name": "Resend", "secret": secret}))
        .await;
    let key = "key-0123456789abcdef0123456789abcdef";
    let mailgun = app
        .create_source(json!({"provider": "mailgun", "name": "MG", "secret": key}))
        .await;
    let now = now_secs();
    let iso = rebound_core::timestamp::format(now * 1000);
    // Resend: sent from "Sender <from@example.com>".
    for (i, name) in [
        "anymail-delivered-event.json",
        "anymail-hard-bounced-event.json",
        "anymail-complained-event.json",
    ]
    .into_iter()
    .enumerate()
    {
        let body = fixture_now("resend", name, |v| {
            v["created_at"] = json!(iso);
            v["data"]["created_at"] = json!(iso);
        });
        let headers = svix_headers(secret, &format!("msg_{i}"), now, &body);
        let (code, v) = app.post_url(&shown_url(&resend), &headers, body).await;
        assert_eq!(code, 200, "{name}: {v}");
    }
    // Mailgun: From "test@example.org" and "Sender Name <sender@example.org>".
    for (i, name) in [
        "anymail-delivered-event.unsigned.json",
        "anymail-complained-event.unsigned.json",
    ]
    .into_iter()
    .enumerate()
    {
        let body = fixture_now("mailgun", name, |v| {
            v["event-data"]["timestamp"] = json!(now as f64);
        });
        let body = mailgun_body(key, now, &format!("token-{i}"), &body);
        let (code, v) = app.post_url(&shown_url(&mailgun), &[], body).await;
        assert_eq!(code, 200, "{name}: {v}");
    }
    app.drain().await;

    let (status, body) = app.get("/api/v1/stats/deliverability?by=domain").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["by"], "domain");
    assert_eq!(body["thresholds"]["complaint_max"], 0.003);
    let rows: Vec<(String, String, u64, u64, u64)> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["domain"].as_str().unwrap_or_default().to_string(),
                r["window"].as_str().unwrap_or_default().to_string(),
                r["delivered"].as_u64().unwrap_or(99),
                r["bounced"].as_u64().unwrap_or(99),
                r["complained"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    let row = |d: &str, w: &str, counts: (u64, u64, u64)| {
        (d.to_string(), w.to_string(), counts.0, counts.1, counts.2)
    };
    assert_eq!(
        rows,
        [
            row("example.com", "24h", (1, 1, 1)),
            row("example.org", "24h", (1, 0, 1)),
            row("example.com", "7d", (1, 1, 1)),
            row("example.org", "7d", (1, 0, 1)),
        ],
        "{body}"
    );
    let first = &body["items"][0];
    assert_eq!(first["bounce_rate"], 0.5, "{first}");
    assert_eq!(first["bounce_level"], "bad", "{first}");

    // The default is unchanged: per source, with the total.
    let (status, by_source) = app.get("/api/v1/stats/deliverability").await;
    assert_eq!(status, 200, "{by_source}");
    assert_eq!(by_source["by"], "source");
    let names: Vec<&str> = by_source["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["window"] == "24h")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["Resend", "MG", "all sources"], "{by_source}");
    let (status, _) = app.get("/api/v1/stats/deliverability?by=source").await;
    assert_eq!(status, 200);
    let (status, err) = app.get("/api/v1/stats/deliverability?by=provider").await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap_or_default().contains("by"),
        "{err}"
    );

    // The dashboard's table per sending domain: the same rows, with a warning for the
    // domain whose complaint rate is past Gmail's limit.
    let Some(b) = crate::browser_support::browser(&app).await else {
        return;
    };
    let password = crate::browser_support::user(&app, "ops@example.com", "viewer").await;
    b.login("ops@example.com", &password).await;
    let table =
        b.c.find(fantoccini::Locator::Css("#domain-rates"))
            .await
            .expect("the table per sending domain")
            .text()
            .await
            .expect("text");
    let lines: Vec<&str> = table.lines().filter(|l| l.contains("24h")).collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("example.com") && lines[0].contains("50.00%"),
        "{table}"
    );
    let text = b.text().await;
    assert!(
        text.contains("Sent from example.com: complaint rate 100.00% over 24h"),
        "{text}"
    );
    b.shot("dashboard-domains").await;
    b.close().await;
}

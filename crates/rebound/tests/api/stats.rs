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

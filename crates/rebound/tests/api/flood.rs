//! Strangers cannot fill the disk: a forged flood against the real binary costs counts, not
//! rows; and retention prunes old request-log rows while every contact's state and
//! timeline stay as they were.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Bytes under `dir` (the database, its WAL and anything else rebound keeps there).
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// 20,000 forged requests with 60 KB paths (unknown providers, wrong keys, known
/// providers with giant keys): all refused, counted, and the data directory grows by less
/// than 5 MB — by almost nothing in the second half, while a real event is still accepted.
#[tokio::test]
async fn a_forged_flood_with_giant_paths_does_not_fill_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = start(dir.path(), port, 2);
    let client = reqwest::Client::new();
    wait_ready(&client, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let src: Value = client
        .post(format!("{base}/api/v1/sources"))
        .bearer_auth(TOKEN)
        .json(&json!({"provider": "tosend", "name": "T"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let url = shown_url(&src);
    // Let the start-up writes settle before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start_size = dir_size(dir.path());

    let giant = "x".repeat(60_000);
    let forged = [
        format!("{base}/webhooks/{giant}/key"),
        format!("{base}/webhooks/tosend/{giant}"),
        format!("{base}/webhooks/generic/{giant}"),
        with_key(&url, "wrong-key-wrong-key-wrong-key-00"),
    ];
    let flood = |n: usize| {
        let (client, forged) = (client.clone(), forged.clone());
        async move {
            let mut codes = std::collections::BTreeMap::new();
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..n {
                let (c, u) = (client.clone(), forged[i % forged.len()].clone());
                tasks.spawn(async move {
                    c.post(u)
                        .body("{}")
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                });
                if tasks.len() >= 32 {
                    if let Some(Ok(code)) = tasks.join_next().await {
                        *codes.entry(code).or_insert(0) += 1;
                    }
                }
            }
            while let Some(Ok(code)) = tasks.join_next().await {
                *codes.entry(code).or_insert(0) += 1;
            }
            codes
        }
    };
    let first = flood(10_000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mid_size = dir_size(dir.path());
    let second = flood(10_000).await;
    // A real event is acknowledged during the flood's aftermath.
    let ok = client
        .post(&url)
        .body(fixture("tosend", "bounce-hard.json"))
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status().as_u16(), 200);
    // Counts are written every few seconds: wait for them to be on disk.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let end_size = dir_size(dir.path());
    let rejections: Value = client
        .get(format!("{base}/api/v1/log/rejections"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("rejections")
        .json()
        .await
        .expect("json");
    let _ = server.kill();
    let _ = server.wait();

    for codes in [&first, &second] {
        assert_eq!(codes.values().sum::<usize>(), 10_000, "{codes:?}");
        assert!(
            codes.keys().all(|c| *c == 403 || *c == 404),
            "only refusals: {codes:?}"
        );
    }
    assert_eq!(rejections["total"], 20_000, "every one counted");
    let growth = end_size.saturating_sub(start_size);
    let second_half = end_size.saturating_sub(mid_size);
    println!(
        "data dir: {start_size} -> {mid_size} -> {end_size} bytes (+{growth}; second half +{second_half})"
    );
    assert!(growth < 5 * 1024 * 1024, "grew by {growth} bytes");
    assert!(
        second_half < 1024 * 1024,
        "still growing: {second_half} bytes"
    );
}

/// Every contact as the API shows it, timeline included.
async fn snapshot(app: &TestApp, emails: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for e in emails {
        out.push(app.contact(e).await.1);
    }
    out
}

/// Pruning removes the request-log rows and rejection counts past the retention period,
/// and nothing else: every contact, status and timeline is the same afterwards.
#[tokio::test]
async fn retention_prunes_requests_and_keeps_every_contact_and_timeline() {
    let app = spawn_app().await;
    let src = app
        .create_source(json!({"provider": "generic", "name": "G"}))
        .await;
    let emails: Vec<String> = (0..20).map(|i| format!("r{i}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        for (j, kind) in ["bounced.soft", "delivered", "bounced.hard"]
            .iter()
            .enumerate()
        {
            let id = format!("evt-{i}-{j}");
            let ts = format!("2026-01-0{}T00:00:00Z", j + 1);
            let (code, v) = post_generic(&app, &src, generic_event(&id, kind, email, &ts)).await;
            assert_eq!(code, 200, "{v}");
        }
    }
    let (code, _) = app
        .post_url(
            &with_key(&shown_url(&src), "nope-nope-nope-nope-nope-nope-00"),
            &[],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(code, 403);
    app.state.rejections.flush(&app.store).await;
    app.drain().await;
    let before = snapshot(&app, &emails).await;
    assert!(before
        .iter()
        .all(|c| c["status"] == "bounced" && c["events"].as_array().map(Vec::len) == Some(3)));
    assert_eq!(
        app.log().await.len(),
        61,
        "60 accepted requests and one rejection sample"
    );

    // Nothing is old enough yet.
    let now = rebound_server::state::now_ms();
    let r = rebound_server::retention::prune(&app.store, now, 30)
        .await
        .expect("prune");
    assert_eq!((r.requests, r.rejection_counts), (0, 0));
    // Set the period to one day and prune as if two days had passed.
    let (code, v) = app
        .api(
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"retention_days": 1})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(app.get("/api/v1/settings").await.1["retention_days"], 1);
    let later = now + 2 * rebound_core::timestamp::DAY_MS;
    let r = rebound_server::retention::prune(&app.store, later, 30)
        .await
        .expect("prune");
    assert_eq!((r.requests, r.rejection_counts), (61, 1), "{r:?}");
    assert!(app.log().await.is_empty());
    assert_eq!(app.get("/api/v1/log/rejections").await.1["total"], 0);
    let after = snapshot(&app, &emails).await;
    assert_eq!(before, after, "contacts and timelines untouched");

    let (code, v) = app
        .api(
            Method::PUT,
            "/api/v1/settings",
            Some(json!({"retention_days": 0})),
        )
        .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("retention_days"),
        "{v}"
    );
}

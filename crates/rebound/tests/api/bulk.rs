//! Contacts as a set: the CSV export of a filtered set (streamed, equal to the CLI's and to
//! the API listing), and bulk status changes with a required reason recorded in each
//! timeline with who asked.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn seed(app: &TestApp, n: usize) {
    let contacts: Vec<rebound_store::NewContact> = (0..n)
        .map(|i| {
            let email = format!("user{i}@example.com");
            rebound_store::NewContact {
                email: email.clone(),
                email_key: email,
                status: Some(if i % 3 == 0 {
                    rebound_core::Status::Bounced
                } else {
                    rebound_core::Status::Subscribed
                }),
                reason: (i % 3 == 0).then(|| "userunknown".into()),
                uuid: None,
                attributes: json!({"plan": "pro, \"annual\"", "n": i}),
                now: 1_000 + i as i64,
            }
        })
        .collect();
    app.store
        .upsert_contacts(contacts, false)
        .await
        .expect("seed");
}

async fn export(app: &TestApp, query: &str) -> (u16, String, String) {
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/contacts/export{query}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("export");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ct, resp.text().await.expect("body"))
}

#[tokio::test]
async fn the_filtered_set_exports_as_the_cli_does_and_matches_the_listing() {
    let app = spawn_app().await;
    seed(&app, 2_500).await;
    let (status, ct, csv) = export(&app, "?status=bounced").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    // Every bounced contact, over several pages of the store, after one header.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().expect("header").clone();
    assert_eq!(
        &headers.iter().collect::<Vec<_>>()[..2],
        ["email", "status"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 834);
    assert!(rows
        .iter()
        .all(|r| &r[1] == "bounced" && &r[2] == "userunknown"));
    // The same set as the API lists, in the same order.
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = app
            .get(&format!(
                "/api/v1/contacts?status=bounced&limit=1000{cursor}"
            ))
            .await;
        for c in page["items"].as_array().expect("items") {
            listed.push(c["email"].as_str().expect("email").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let exported: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(exported, listed);
    // Attributes with commas and quotes survive as JSON.
    let attrs: Value = serde_json::from_str(&rows[0][4]).expect("attributes JSON");
    assert_eq!(attrs["plan"], "pro, \"annual\"");
    // The CLI writes the same bytes.
    let out = run_rebound(
        &[
            "--database-url",
            &app.database_url(),
            "export",
            "--status",
            "bounced",
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv);
    // A search narrows it; a bad status is a 400 naming it.
    let (_, _, one) = export(&app, "?q=user12%40").await;
    assert_eq!(one.lines().count(), 2, "{one}");
    let (status, _, body) = export(&app, "?status=gone").await;
    assert_eq!(status, 400);
    assert!(body.contains("unknown status 'gone'"), "{body}");
}

#[tokio::test]
async fn bulk_changes_need_a_reason_and_record_who_and_why_in_each_timeline() {
    let app = spawn_app().await;
    seed(&app, 6).await;
    let (status, key) = app
        .api(
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "support", "scope": "admin"})),
        )
        .await;
    assert_eq!(status, 201);
    let key = key["key"].as_str().expect("key").to_string();
    let bulk = |body: Value, bearer: String| {
        let req = app
            .client
            .post(app.url("/api/v1/contacts/bulk"))
            .bearer_auth(bearer)
            .json(&body);
        async move {
            let resp = req.send().await.expect("bulk");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let emails = json!([
        "user0@example.com",
        "user3@EXAMPLE.com",
        "user1@example.com",
        "nobody@example.com",
        "not an address"
    ]);
    let (status, body) = bulk(
        json!({"emails": emails, "status": "subscribed", "reason": " "}),
        key.clone(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("reason")),
        "{body}"
    );
    let (status, report) = bulk(
        json!({"emails": emails, "status": "subscribed", "reason": "confirmed by phone (ticket 42)"}),
        key.clone(),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["changed"].as_u64(), report["unchanged"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(report["not_found"], json!(["nobody@example.com"]));
    assert_eq!(report["invalid"][0]["email"], "not an address");
    for email in ["user0@example.com", "user3@example.com"] {
        let (_, c) = app.contact(email).await;
        assert_eq!(c["status"], "subscribed");
        let change = &c["events"][0];
        assert_eq!(change["reason"], "confirmed by phone (ticket 42)", "{c}");
        let note = change["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("key:")
                && note.contains("(support)")
                && note.contains("bounced → subscribed"),
            "{note}"
        );
    }
    // Suppress again by hand, with the admin token.
    let (status, report) = bulk(
        json!({"emails": ["user0@example.com"], "status": "unsubscribed", "reason": "asked us to stop"}),
        TOKEN.into(),
    )
    .await;
    assert_eq!((status, report["changed"].as_u64()), (200, Some(1)));
    let (_, c) = app.contact("user0@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("unsubscribed"), Some("asked us to stop"))
    );
    assert!(
        c["events"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("admin token")),
        "{c}"
    );
    // Over the limit: refused whole.
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}@example.com")).collect();
    let (status, body) = bulk(
        json!({"emails": many, "status": "bounced", "reason": "x"}),
        key,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("at most 1000")),
        "{body}"
    );
}

/// The contacts list and its export select by reason, source and the last event's time as
/// well; a value that does not parse is a 400 naming it.
#[tokio::test]
async fn contacts_are_selected_by_reason_source_and_last_event() {
    let app = spawn_app().await;
    let a = app
        .create_source(json!({"provider": "generic", "name": "a"}))
        .await;
    let b = app
        .create_source(json!({"provider": "generic", "name": "b"}))
        .await;
    for (src, id, typ, email, ts) in [
        (
            &a,
            "1",
            "bounced.hard",
            "old@example.com",
            "2026-11-01T10:00:00Z",
        ),
        (
            &b,
            "2",
            "complained",
            "new@example.com",
            "2026-12-01T10:00:00Z",
        ),
        (
            &a,
            "3",
            "delivered",
            "fine@example.com",
            "2026-12-02T10:00:00Z",
        ),
    ] {
        let (status, _) = post_generic(&app, src, generic_event(id, typ, email, ts)).await;
        assert_eq!(status, 200);
    }
    app.drain().await;
    let emails = |query: String| {
        let app = &app;
        async move {
            let (status, page) = app.get(&format!("/api/v1/contacts?{query}")).await;
            assert_eq!(status, 200, "{query}: {page}");
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|c| c["email"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(emails("reason=feedback".into()).await, ["new@example.com"]);
    assert_eq!(
        emails(format!("source={}", b["id"])).await,
        ["new@example.com"]
    );
    assert_eq!(
        emails(format!("source={}", a["id"])).await,
        ["old@example.com", "fine@example.com"]
    );
    assert_eq!(
        emails("since=2026-11-15".into()).await,
        ["new@example.com", "fine@example.com"]
    );
    assert_eq!(
        emails("until=2026-12-02".into()).await,
        ["old@example.com", "new@example.com"]
    );
    assert_eq!(
        emails(format!(
            "since=2026-11-15T00:00:00Z&until=2026-12-03&source={}",
            a["id"]
        ))
        .await,
        ["fine@example.com"]
    );
    // The export selects the same.
    let (_, _, csv) = export(&app, "?reason=feedback").await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("new@example.com"));
    for (query, needle) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("source=x", "source"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/contacts?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{body}"
        );
    }
}

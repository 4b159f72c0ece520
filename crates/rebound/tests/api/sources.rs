//! A source's secrets are shown once: in the create answer, and again only by an explicit
//! (logged) reveal or rotate — never in listings, the CLI's list, or the request log.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Every secret a create answer holds: URL key, signing secret, basic-auth password.
fn secrets_of(created: &Value) -> Vec<String> {
    let mut out = vec![created["key"].as_str().expect("key").to_string()];
    for s in [&created["secret"], &created["basic_auth"]["password"]] {
        if let Some(s) = s.as_str() {
            out.push(s.to_string());
        }
    }
    out
}

#[tokio::test]
async fn listings_carry_no_secret_and_reveal_and_rotate_are_logged() {
    let app = spawn_app().await;
    let created = vec![
        app.create_source(json!({"provider": "generic", "name": "G"}))
            .await,
        app.create_source(json!({"provider": "sparkpost", "name": "SP"}))
            .await,
        app.create_source(json!({"provider": "listmonk", "name": "L"}))
            .await,
        app.create_source(json!({"provider": "tosend", "name": "T"}))
            .await,
        app.create_source(
            json!({"provider": "mailgun", "name": "MG", "secret": "key-mailgun-signing-0123"}),
        )
        .await,
    ];
    let secrets: Vec<String> = created.iter().flat_map(secrets_of).collect();
    assert_eq!(secrets.len(), 10, "{secrets:?}");

    let (code, listed) = app.get("/api/v1/sources").await;
    assert_eq!(code, 200);
    let text = listed.to_string();
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a listing shows a secret: {s} in {text}"
        );
    }
    let items = listed["items"].as_array().expect("items");
    for (item, c) in items.iter().zip(&created) {
        let hint = item["key_hint"].as_str().expect("key_hint");
        let key = c["key"].as_str().expect("key");
        assert_eq!(hint, format!("{}…", &key[..4]), "{item}");
        let url = item["webhook_url"].as_str().expect("url");
        assert!(!url.contains('@'), "no credentials in a listed URL: {url}");
    }

    // The CLI's list reads the same store: no secret either.
    let out = std::process::Command::new(bin())
        .args(["--database-url", &app.database_url()])
        .args(["source", "list", "--json"])
        .output()
        .expect("rebound");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = String::from_utf8_lossy(&out.stdout);
    assert_eq!(cli.lines().count(), 5, "{cli}");
    for s in &secrets {
        assert!(!cli.contains(s.as_str()), "the CLI lists a secret: {s}");
    }

    // Reveal: the create answer's secrets again.
    let generic = &created[0];
    let id = generic["id"].as_i64().expect("id");
    let (code, revealed) = app
        .api(Method::POST, &format!("/api/v1/sources/{id}/reveal"), None)
        .await;
    assert_eq!(code, 200, "{revealed}");
    for k in ["key", "secret", "webhook_url"] {
        assert_eq!(revealed[k], generic[k], "{k}");
    }

    // Rotate: a new key and secret; the old URL and secret stop working at once.
    let (code, rotated) = app
        .api(Method::POST, &format!("/api/v1/sources/{id}/rotate"), None)
        .await;
    assert_eq!(code, 200, "{rotated}");
    assert_ne!(rotated["key"], generic["key"]);
    assert_ne!(rotated["secret"], generic["secret"]);
    let body = generic_event(
        "rot-1",
        "bounced.hard",
        "rot@example.com",
        "2026-01-01T00:00:00Z",
    );
    let (code, _) = post_generic(&app, generic, body.clone()).await;
    assert_eq!(code, 403, "the old URL");
    let (code, v) = post_generic(&app, &rotated, body).await;
    assert_eq!(code, 200, "the new URL and secret: {v}");

    // Both are in the request log, and no secret is.
    let log = app.log().await;
    let outcomes: Vec<&str> = log.iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert!(outcomes.contains(&"secrets revealed"), "{outcomes:?}");
    assert!(outcomes.contains(&"secrets rotated"), "{outcomes:?}");
    let audit = log
        .iter()
        .find(|e| e["outcome"] == "secrets rotated")
        .expect("rotate entry");
    assert_eq!(audit["source_id"], id);
    assert_eq!(audit["remote_addr"], "127.0.0.1");
    let log_text = serde_json::to_string(&log).expect("json");
    for s in secrets
        .iter()
        .chain([rotated["key"].as_str().expect("key").to_string()].iter())
    {
        assert!(
            !log_text.contains(s.as_str()),
            "the log shows a secret: {s}"
        );
    }

    // An unknown source is 404.
    let (code, _) = app
        .api(Method::POST, "/api/v1/sources/999/reveal", None)
        .await;
    assert_eq!(code, 404);
}

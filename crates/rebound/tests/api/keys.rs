//! Scoped API keys and UI users through the API and the CLI: each scope calls what it names
//! and nothing else; keys are shown once, stored hashed, revoked at once; the admin token
//! keeps working as an admin key.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn call(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> u16 {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("request").status().as_u16()
}

/// Makes a key with the admin token: (id, key).
pub(crate) async fn new_key(app: &TestApp, name: &str, scope: &str) -> (i64, String) {
    let (status, body) = app
        .api(
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": name, "scope": scope})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["scope"].as_str()),
        (Some(name), Some(scope))
    );
    let key = body["key"].as_str().expect("key shown").to_string();
    assert!(key.starts_with("rbk_") && key.len() >= 40, "{key}");
    (body["id"].as_i64().expect("id"), key)
}

#[tokio::test]
async fn each_scope_calls_what_it_names_and_nothing_else() {
    let app = spawn_app().await;
    let (check_id, check) = new_key(&app, "sending app", "check").await;
    let (_, read) = new_key(&app, "dashboard", "read").await;
    let (_, admin) = new_key(&app, "ops", "admin").await;

    // The sending path: both suppression checks, nothing else.
    assert_eq!(
        call(
            &app,
            &check,
            Method::GET,
            "/api/v1/suppressions/a@example.com",
            None
        )
        .await,
        200
    );
    let batch = json!({"emails": ["a@example.com"]});
    assert_eq!(
        call(
            &app,
            &check,
            Method::POST,
            "/api/v1/suppressions/check",
            Some(batch.clone())
        )
        .await,
        200
    );
    for (m, p) in [
        (Method::GET, "/api/v1/contacts"),
        (Method::GET, "/api/v1/contacts/a@example.com"),
        (Method::GET, "/api/v1/events"),
        (Method::GET, "/api/v1/log"),
        (Method::GET, "/api/v1/settings"),
        (Method::GET, "/api/v1/sources"),
        (Method::GET, "/api/v1/keys"),
        (Method::POST, "/api/v1/keys"),
        (Method::DELETE, "/api/v1/contacts/a@example.com"),
        (Method::GET, "/metrics"),
    ] {
        assert_eq!(
            call(&app, &check, m.clone(), p, Some(json!({}))).await,
            403,
            "check key: {m} {p}"
        );
    }
    // Reads, and no changes, no keys, no users.
    assert_eq!(
        call(&app, &read, Method::GET, "/api/v1/contacts", None).await,
        200
    );
    assert_eq!(
        call(&app, &read, Method::GET, "/api/v1/settings", None).await,
        200
    );
    assert_eq!(
        call(&app, &read, Method::GET, "/metrics", None).await,
        200,
        "Prometheus scrapes with a read key"
    );
    assert_eq!(
        call(
            &app,
            &read,
            Method::POST,
            "/api/v1/suppressions/check",
            Some(batch)
        )
        .await,
        200
    );
    for (m, p) in [
        (Method::POST, "/api/v1/contacts"),
        (Method::PUT, "/api/v1/settings"),
        (Method::POST, "/api/v1/sources/1/reveal"),
        (Method::GET, "/api/v1/keys"),
        (Method::GET, "/api/v1/users"),
    ] {
        assert_eq!(
            call(&app, &read, m.clone(), p, Some(json!({}))).await,
            403,
            "read key: {m} {p}"
        );
    }
    // An admin key does what the admin token does.
    let (status, _) = (
        call(
            &app,
            &admin,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "b@example.com"})),
        )
        .await,
        (),
    );
    assert_eq!(status, 201);

    // Listed without the key; stored only as a hash.
    let (_, listed) = app.get("/api/v1/keys").await;
    let text = listed.to_string();
    assert!(
        !text.contains(&check) && !text.contains(&check[4..]),
        "{text}"
    );
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));
    let stored = app.store.list_api_keys().await.expect("keys");
    assert!(stored
        .iter()
        .all(|k| k.prefix.len() == 12 && check.starts_with("rbk_")));

    // Revoked: refused at once, and counted as a wrong key.
    let (status, _) = app
        .api(Method::DELETE, &format!("/api/v1/keys/{check_id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        call(
            &app,
            &check,
            Method::GET,
            "/api/v1/suppressions/a@example.com",
            None
        )
        .await,
        401
    );
    let (status, _) = app
        .api(Method::DELETE, &format!("/api/v1/keys/{check_id}"), None)
        .await;
    assert_eq!(status, 404, "revoked once");
    let (_, listed) = app.get("/api/v1/keys").await;
    assert!(listed["items"][0]["revoked_at"].is_string(), "{listed}");
    // The key's use was recorded (in the background, at most once a minute).
    let mut used = false;
    for _ in 0..50 {
        let (_, l) = app.get("/api/v1/keys").await;
        if l["items"][1]["last_used_at"].is_string() {
            used = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used, "last_used_at recorded");
}

#[tokio::test]
async fn bad_key_and_user_requests_say_what_is_wrong() {
    let app = spawn_app().await;
    for (body, needle) in [
        (
            json!({"name": "x", "scope": "root"}),
            "unknown scope 'root'",
        ),
        (json!({"name": " ", "scope": "read"}), "name"),
        (json!({"scope": "read"}), "name"),
    ] {
        let (status, resp) = app.api(Method::POST, "/api/v1/keys", Some(body)).await;
        assert_eq!(status, 400, "{resp}");
        assert!(
            resp["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{resp}"
        );
    }
    for (body, needle) in [
        (
            json!({"email": "ann@example.com", "role": "owner"}),
            "unknown role 'owner'",
        ),
        (json!({"email": "nope", "role": "viewer"}), "email"),
        (
            json!({"email": "ann@example.com", "role": "viewer", "password": "short"}),
            "at least 12",
        ),
    ] {
        let (status, resp) = app.api(Method::POST, "/api/v1/users", Some(body)).await;
        assert_eq!(status, 400, "{resp}");
        assert!(
            resp["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{resp}"
        );
    }
    let (status, user) = app
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "Ann@Example.com", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(
        user["password"].as_str().map(str::len),
        Some(20),
        "generated once"
    );
    assert!(user.get("password_hash").is_none());
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "ann@example.com", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 409, "one user per address");
    let (_, users) = app.get("/api/v1/users").await;
    assert!(!users.to_string().contains("argon2"), "{users}");
}

fn rebound(args: &[&str], database_url: &str, stdin: Option<&str>) -> (i32, String, String) {
    let out = run_rebound(
        &[&["--database-url", database_url], args].concat(),
        stdin.map(str::as_bytes),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rebound key add` prints the key alone, once; a running server (another process on the
/// same database) takes it at once; `key revoke` stops it at once.
#[tokio::test]
async fn keys_and_users_made_on_the_command_line_work_on_the_running_server() {
    let app = spawn_app().await;
    let db = app.database_url();
    let (code, out, err) = rebound(
        &["key", "add", "--name", "newsletter", "--scope", "check"],
        &db,
        None,
    );
    assert_eq!(code, 0, "{err}");
    let key = out.trim();
    assert!(
        key.starts_with("rbk_") && !out.trim().contains('\n'),
        "{out}"
    );
    assert!(err.contains("shown once"), "{err}");
    assert_eq!(
        call(
            &app,
            key,
            Method::GET,
            "/api/v1/suppressions/x@example.com",
            None
        )
        .await,
        200
    );
    assert_eq!(
        call(&app, key, Method::GET, "/api/v1/contacts", None).await,
        403
    );

    let (code, out, _) = rebound(&["key", "list"], &db, None);
    assert_eq!(code, 0);
    assert!(
        out.contains("newsletter") && out.contains("check") && !out.contains(key),
        "{out}"
    );
    let id = out.split('\t').next().expect("id").trim().to_string();
    let (code, _, err) = rebound(&["key", "add", "--name", "x", "--scope", "root"], &db, None);
    assert_ne!(code, 0);
    assert!(err.contains("root"), "{err}");
    let (code, _, _) = rebound(&["key", "revoke", &id], &db, None);
    assert_eq!(code, 0);
    assert_eq!(
        call(
            &app,
            key,
            Method::GET,
            "/api/v1/suppressions/x@example.com",
            None
        )
        .await,
        401
    );
    let (code, _, err) = rebound(&["key", "revoke", &id], &db, None);
    assert_eq!(code, 1, "{err}");

    let (code, out, err) = rebound(
        &[
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--role",
            "viewer",
        ],
        &db,
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().len(), 20, "generated password printed: {out}");
    let (code, out, err) = rebound(
        &[
            "user",
            "add",
            "--email",
            "boss@example.com",
            "--password-stdin",
        ],
        &db,
        Some("a long enough password\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().is_empty(), "nothing printed: {out}");
    let (_, users) = app.get("/api/v1/users").await;
    let roles: Vec<(String, String)> = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap_or_default().into(),
                u["role"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("ops@example.com".to_string(), "viewer".to_string()),
            ("boss@example.com".into(), "admin".into())
        ]
    );
    let (code, _, err) = rebound(&["user", "add", "--email", "ops@example.com"], &db, None);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
}

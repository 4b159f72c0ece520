//! `GET /api/v1/openapi.json`: a valid OpenAPI 3.1 document, and one that lists every route
//! the app serves.
//!
//! How a route missing from the document is caught, three ways:
//! 1. the app's routes are registered only through `utoipa_axum`'s `OpenApiRouter` with
//!    `routes!`, which takes each handler's method and path from its `#[utoipa::path]`: the
//!    scan below fails on any plain axum registration (`.route(`, `axum::routing`, …) in the
//!    server's or the binary's sources outside their test modules;
//! 2. every route the app served when the document was introduced is listed here and must
//!    be in it;
//! 3. a probe walks the document: each documented method and path reaches a handler (not
//!    the router's 404 fallback nor its 405), and each method the document does not list
//!    for a path is answered the router's 405, so a method served but undocumented shows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp, TOKEN};

/// Every route the app serves (method, path as in the document).
const SERVED: &[(&str, &str)] = &[
    ("POST", "/webhooks/bounce"),
    ("POST", "/webhooks/{provider}/{key}"),
    ("HEAD", "/webhooks/{provider}/{key}"),
    ("GET", "/webhooks/{provider}/{key}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/v1/sources"),
    ("POST", "/api/v1/sources"),
    ("PATCH", "/api/v1/sources/{id}"),
    ("POST", "/api/v1/sources/{id}/reveal"),
    ("POST", "/api/v1/sources/{id}/rotate"),
    ("POST", "/api/v1/sources/{id}/scan"),
    ("POST", "/api/v1/sources/{id}/test"),
    ("POST", "/api/v1/verp"),
    ("POST", "/api/v1/suppressions/check"),
    ("GET", "/api/v1/suppressions/{email}"),
    ("GET", "/api/v1/contacts"),
    ("POST", "/api/v1/contacts"),
    ("GET", "/api/v1/contacts/{email}"),
    ("PATCH", "/api/v1/contacts/{email}"),
    ("DELETE", "/api/v1/contacts/{email}"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/log"),
    ("GET", "/api/v1/log/rejections"),
    ("POST", "/api/v1/log/{id}/replay"),
    ("GET", "/api/v1/log/{id}"),
    ("POST", "/api/v1/log/replay-failed"),
    ("GET", "/api/v1/settings"),
    ("PUT", "/api/v1/settings"),
    ("POST", "/api/v1/settings/dry-run"),
    ("GET", "/api/v1/contacts/export"),
    ("POST", "/api/v1/contacts/bulk"),
    ("POST", "/api/v1/contacts/{email}/erase"),
    ("GET", "/api/v1/keys"),
    ("POST", "/api/v1/keys"),
    ("DELETE", "/api/v1/keys/{id}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("DELETE", "/api/v1/users/{id}"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/stats/deliverability"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/unsubscribe-links"),
    ("GET", "/unsubscribe/{token}"),
    ("HEAD", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}"),
    ("GET", "/api/v1/subscriptions"),
    ("POST", "/api/v1/subscriptions"),
    ("PATCH", "/api/v1/subscriptions/{id}"),
    ("POST", "/api/v1/subscriptions/{id}/rotate"),
    ("GET", "/api/v1/subscriptions/{id}/deliveries"),
    ("POST", "/api/v1/subscriptions/{id}/redeliver"),
];

/// The methods an OpenAPI path item can hold.
const METHODS: &[&str] = &[
    "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE",
];

async fn document(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    resp.json().await.expect("the document is JSON")
}

/// (METHOD, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        for m in METHODS {
            if item.get(m.to_lowercase()).is_some() {
                ops.insert((m.to_string(), path.clone()));
            }
        }
    }
    ops
}

/// A concrete URL path for a templated one: parameters that let the request reach its
/// handler (a known provider, an unknown key, an id and an address that do not exist).
fn concrete(path: &str) -> String {
    path.replace("{provider}", "generic")
        .replace("{key}", "not-a-key")
        .replace("{id}", "999999")
        .replace("{email}", "nobody@example.com")
        .replace("{token}", "not-a-token")
}

#[tokio::test]
async fn openapi_document_is_valid_openapi_3_1() {
    let app = spawn_app().await;
    // Behind the token like the rest of /api/v1.
    let resp = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);

    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi version {}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["basic"],
        serde_json::json!({"type": "http", "scheme": "basic"})
    );
    assert!(doc["components"]["schemas"]["ErrorBody"]["properties"]["error"].is_object());
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let security = &op["security"];
        if path.starts_with("/api/v1/") || path == "/metrics" {
            assert_eq!(
                security,
                &serde_json::json!([{"bearer": []}]),
                "{method} {path}: bearer"
            );
            assert!(op["responses"]["401"].is_object(), "{method} {path}: 401");
        } else if path == "/webhooks/bounce" {
            assert_eq!(
                security,
                &serde_json::json!([{"basic": []}]),
                "{method} {path}"
            );
        } else {
            assert!(security.is_null(), "{method} {path}: no auth scheme");
        }
        // Every path parameter of the template is described.
        let params: BTreeSet<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(params, in_template, "{method} {path}: path parameters");
        // Every error answer is described as {"error": "..."}.
        let responses = op["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{method} {path}: no responses");
        for (status, r) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path}: {status} is not described as the error shape"
                );
            }
        }
    }

    // Validated by an independent implementation.
    let have_validator = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !have_validator {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: python3's openapi-spec-validator is required \
             (python3 -m pip install openapi-spec-validator)"
        );
        eprintln!(
            "note: skipped validating the document with openapi-spec-validator: not installed \
             (python3 -m pip install openapi-spec-validator)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("serialize")).expect("write");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator import OpenAPIV31SpecValidator\n\
             validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n",
        ])
        .arg(&file)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_route_is_in_the_document_and_only_those_are_served() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let ops = operations(&doc);

    for (m, p) in SERVED {
        assert!(
            ops.contains(&(m.to_string(), p.to_string())),
            "route {m} {p} is missing from /api/v1/openapi.json (registered through routes!, \
             it is not served either)"
        );
    }

    let paths: BTreeSet<&String> = ops.iter().map(|(_, p)| p).collect();
    for path in paths {
        let url = app.url(&concrete(path));
        for m in METHODS {
            let documented = ops.contains(&(m.to_string(), path.clone()));
            let method = Method::from_bytes(m.as_bytes()).expect("method");
            let mut req = app.client.request(method, &url).bearer_auth(TOKEN);
            if matches!(*m, "POST" | "PUT" | "PATCH") {
                req = req.header("content-type", "application/json").body("{}");
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            // The router's own answers: its 404 fallback, and its 405 (no body).
            let fallback = status == 404 && json["error"] == "no such endpoint";
            let router_405 = status == 405 && json.get("error").is_none();
            if documented {
                assert!(
                    !fallback && !router_405,
                    "{m} {path} is in the document but no handler answers it ({status} {body})"
                );
            } else if *m == "HEAD" && ops.contains(&("GET".to_string(), path.clone())) {
                // axum answers HEAD with the GET handler (without the body).
            } else {
                assert!(
                    router_405,
                    "{m} {path} is served ({status} {body}) but missing from /api/v1/openapi.json"
                );
            }
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Routes are registered only with `OpenApiRouter::routes(routes!(...))`, so every route is
/// in the document: no plain axum routing in the server or the binary, outside test modules.
#[test]
fn routes_are_registered_only_through_the_openapi_router() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("../rebound-server/src"), &mut files);
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 10, "sources not found");
    let forbidden = [
        ".route(",
        ".route_service(",
        ".nest_service(",
        ".fallback_service(",
        ".merge(",
        "axum::routing",
        "MethodRouter",
        "Router::from(",
    ];
    // The HTML pages of the admin UI are not API: plain axum routes under `ui/`, merged
    // once in `router`; every action they offer is also an API call (docs/ui.md).
    let pages = root.join("../rebound-server/src/ui");
    let mut found = Vec::new();
    for f in files.into_iter().filter(|f| !f.starts_with(&pages)) {
        let text = std::fs::read_to_string(&f).expect("read source");
        let code = &text[..text.find("#[cfg(test)]").unwrap_or(text.len())];
        for (n, line) in code.lines().enumerate() {
            let plain_router = line.match_indices("Router::new(").any(|(i, _)| {
                !line[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            let ui_pages = line.trim() == ".merge(ui::routes())";
            if !ui_pages && (plain_router || forbidden.iter().any(|t| line.contains(t))) {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "routes registered outside utoipa_axum's OpenApiRouter + routes! would be missing \
         from /api/v1/openapi.json:\n{}",
        found.join("\n")
    );
}

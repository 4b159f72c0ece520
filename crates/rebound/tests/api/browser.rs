//! The admin UI in a real browser: headless Chromium driven through chromedriver (one per
//! test, on a free port, killed at the end, also on panic). What a person does: log in,
//! add a source and read its webhook URL off the page, follow a bounce from the webhook to
//! the contact's timeline and the request log, replay a request; hostile payloads shown as
//! text; changes refused without the CSRF token, from another origin, or by a viewer.
//! Every page is saved as a PNG in `<target>/ui-screenshots/`.
//!
//! Without chromedriver the tests print a note and pass, except under `CI=true`, where they
//! fail (`.ci/run` installs it). The shared steps are in `browser_support.rs`; the
//! contacts set (export, bulk change, erasure) in `browser_contacts.rs`.

use fantoccini::Locator;
use reqwest::Method;
use serde_json::{json, Value};

use crate::browser_support::*;
use crate::helpers::*;

#[tokio::test]
async fn a_person_logs_in_adds_a_source_and_follows_a_bounce_to_the_log() {
    let app = spawn_app().await;
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "ops@example.com", "admin").await;

    // Pages need a login, and come back after it.
    b.go("/contacts?status=bounced").await;
    assert!(
        b.path().await.starts_with("/login?next="),
        "{}",
        b.path().await
    );
    b.shot("login").await;
    b.fill("input[name=email]", "ops@example.com").await;
    b.fill("input[name=password]", &password).await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.path().await, "/contacts?status=bounced");
    b.go("/").await;
    let text = b.text().await;
    assert!(
        text.contains("Dashboard") && text.contains("ops@example.com"),
        "{text}"
    );
    assert!(text.contains("No sources yet"), "{text}");

    // A source added in the UI; its webhook URL is read off the page.
    b.go("/sources").await;
    b.c.find(Locator::Css("select[name=provider]"))
        .await
        .expect("provider select")
        .select_by_value("tosend")
        .await
        .expect("select tosend");
    b.fill("#add-source input[name=name]", "ToSend production")
        .await;
    b.click("#add-source button[type=submit]").await;
    let url =
        b.c.find(Locator::Css("#webhook-url"))
            .await
            .expect("the webhook URL is shown")
            .text()
            .await
            .expect("text");
    assert!(url.starts_with(&app.url("/webhooks/tosend/")), "{url}");
    let text = b.text().await;
    assert!(text.contains("Set-up steps for tosend"), "{text}");
    b.shot("source-added").await;

    // The bounce posted to exactly that URL.
    let (status, v) = app
        .post_url(
            &url,
            &[("content-type", "application/json".into())],
            fixture("tosend", "bounce-hard.json"),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(app.drain().await.status_changes, 1);

    // The listing shows hints, never the key.
    b.go("/sources").await;
    let text = b.text().await;
    let key = url.rsplit('/').next().expect("key");
    assert!(!text.contains(key), "the key is listed: {text}");
    assert!(
        text.contains("ToSend production") && text.contains("active"),
        "{text}"
    );
    b.shot("sources").await;

    // Rotating, after a confirmation page: a new URL, and the old one stops working.
    b.click("a[href$='/rotate']").await;
    assert!(b.text().await.contains("stop working at once"));
    b.shot("source-rotate").await;
    b.click("#rotate-form button").await;
    let rotated =
        b.c.find(Locator::Css("#webhook-url"))
            .await
            .expect("the new webhook URL is shown")
            .text()
            .await
            .expect("text");
    assert!(rotated.starts_with(&app.url("/webhooks/tosend/")) && rotated != url);
    let (status, _) = app
        .post_url(&url, &[], fixture("tosend", "bounce-hard.json"))
        .await;
    assert_eq!(status, 403, "the old URL still works");

    // Dashboard: one bounced contact, a bar in the chart.
    b.go("/").await;
    let bounced =
        b.c.find(Locator::Css(".tile.s-bounced .n"))
            .await
            .expect("bounced tile")
            .text()
            .await
            .expect("text");
    assert_eq!(bounced, "1");
    assert!(!b
        .c
        .find_all(Locator::Css("svg.chart rect"))
        .await
        .expect("bars")
        .is_empty());
    // The source's traffic: the one bounce accepted, and when.
    let row =
        b.c.find(Locator::Css("#sources tbody tr"))
            .await
            .expect("the source's row")
            .text()
            .await
            .expect("text");
    assert!(row.contains("ToSend production"), "{row}");
    assert!(!row.contains("never"), "a request arrived: {row}");
    let accepted =
        b.c.find(Locator::Css("#sources tbody tr td:nth-child(5)"))
            .await
            .expect("accepted")
            .text()
            .await
            .expect("text");
    assert_eq!(accepted, "1", "{row}");
    b.shot("dashboard").await;

    // The contact, under bounced, and its timeline.
    b.go("/contacts?status=bounced").await;
    b.shot("contacts").await;
    b.click("a[href='/contacts/recipient@example.com']").await;
    assert_eq!(b.path().await, "/contacts/recipient@example.com");
    let text = b.text().await;
    assert!(text.contains("bounced"), "{text}");
    assert!(text.contains("Timeline"), "{text}");
    assert!(
        text.contains("550 5.1.1 The email account does not exist"),
        "{text}"
    );
    assert_eq!(
        b.c.find_all(Locator::Css("li.event"))
            .await
            .expect("events")
            .len(),
        1
    );
    b.shot("contact").await;
    // The event's raw payload: the request it came from, as received, shown as text.
    b.click("li.event a[href^='/log/']").await;
    assert!(b.path().await.starts_with("/log/"), "{}", b.path().await);
    let raw = b.text().await;
    assert!(
        raw.contains("is_hard_bounce") && raw.contains("recipient@example.com"),
        "{raw}"
    );
    b.go("/contacts/recipient@example.com").await;

    // The status set by hand, with a reason.
    b.c.find(Locator::Css("#status-form select[name=status]"))
        .await
        .expect("status select")
        .select_by_value("subscribed")
        .await
        .expect("select");
    b.fill("#status-form input[name=reason]", "confirmed by phone")
        .await;
    b.click("#status-form button[type=submit]").await;
    assert!(b.text().await.contains("Status changed."));
    let (_, c) = app.contact("recipient@example.com").await;
    assert_eq!(c["status"], "subscribed", "{c}");

    // The request in the log, replayed.
    b.go("/log").await;
    let text = b.text().await;
    assert!(
        text.contains("ToSend production") && text.contains("accepted"),
        "{text}"
    );
    b.shot("log").await;
    b.click("form[action$='/replay'] button").await;
    assert!(b.path().await.starts_with("/log"), "{}", b.path().await);
    assert!(b.text().await.contains("Request queued for replay."));
    let replayed = app.drain().await;
    assert_eq!(replayed.done, 1, "{replayed:?}");
    // Filtered by status class: only the request to the rotated-away URL (403).
    b.fill("form.filters input[name=status]", "4xx").await;
    b.click("form.filters button[type=submit]").await;
    let statuses: Vec<String> = {
        let mut out = Vec::new();
        for cell in
            b.c.find_all(Locator::Css("table.list tbody td.num:nth-child(4)"))
                .await
                .expect("cells")
        {
            out.push(cell.text().await.expect("text"));
        }
        out
    };
    assert_eq!(statuses, ["403"], "{}", b.text().await);

    // Settings: an API key and a user, each shown once.
    b.go("/settings").await;
    b.shot("settings").await;
    b.fill("#settings-form input[name=soft_bounce_threshold]", "5")
        .await;
    b.click("#settings-form button[type=submit]").await;
    assert!(b.text().await.contains("Settings saved."));
    let (_, settings) = app.get("/api/v1/settings").await;
    assert_eq!(settings["policy"]["soft_bounce_threshold"], 5, "{settings}");
    assert_eq!(app.state.policy().soft_bounce_threshold, 5);
    // A value the API refuses is refused here too, and changes nothing.
    let (cookie, csrf) = (b.cookie().await, b.csrf().await);
    let bad = [
        ("csrf", csrf.as_str()),
        ("soft_bounce_threshold", "0"),
        ("soft_bounce_window_days", "30"),
        ("mailbox_trust", "known-contact"),
        ("retention_days", "14"),
    ];
    assert_eq!(forged(&app, "/settings", &cookie, None, &bad).await, 400);
    assert_eq!(app.state.policy().soft_bounce_threshold, 5);
    let (_, after) = app.get("/api/v1/settings").await;
    assert_eq!(after, settings);
    b.fill(
        "form[action='/settings/keys'] input[name=name]",
        "sending app",
    )
    .await;
    b.click("form[action='/settings/keys'] button").await;
    let key =
        b.c.find(Locator::Css("#shown-once"))
            .await
            .expect("key shown")
            .text()
            .await
            .expect("text");
    assert!(key.starts_with("rbk_"), "{key}");
    b.shot("key-created").await;
    let check = app
        .client
        .get(app.url("/api/v1/suppressions/recipient@example.com"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("check");
    assert_eq!(check.status(), 200);
    b.go("/settings").await;
    b.fill(
        "form[action='/settings/users'] input[name=email]",
        "viewer@example.com",
    )
    .await;
    b.click("form[action='/settings/users'] button").await;
    let generated =
        b.c.find(Locator::Css("#shown-once"))
            .await
            .expect("password shown")
            .text()
            .await
            .expect("text");
    assert!(generated.len() >= 16, "{generated}");
    // A user added by mistake, deleted from the list; one's own row has no button.
    b.go("/settings").await;
    b.fill(
        "form[action='/settings/users'] input[name=email]",
        "leaver@example.com",
    )
    .await;
    b.click("form[action='/settings/users'] button").await;
    let (_, listed) = app.get("/api/v1/users").await;
    let leaver = listed["items"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "leaver@example.com")
        .and_then(|u| u["id"].as_i64())
        .expect("the new user is listed");
    b.go("/settings").await;
    assert!(
        b.c.find(Locator::Css(&format!(
            "form[action='/settings/users/{}/delete']",
            app_user_id(&listed, "ops@example.com")
        )))
        .await
        .is_err(),
        "one's own account has a delete button"
    );
    b.click(&format!(
        "form[action='/settings/users/{leaver}/delete'] button"
    ))
    .await;
    assert!(
        b.text().await.contains("User deleted"),
        "{}",
        b.text().await
    );
    let (_, listed) = app.get("/api/v1/users").await;
    assert!(
        !listed.to_string().contains("leaver@example.com"),
        "{listed}"
    );

    // Logging out ends the session.
    b.go("/").await;
    b.click("form.logout button").await;
    assert!(b.path().await.starts_with("/login"));
    b.go("/").await;
    assert!(b.path().await.starts_with("/login"), "{}", b.path().await);

    // The new viewer can log in with the password shown.
    b.login("viewer@example.com", &generated).await;
    assert_eq!(b.path().await, "/");

    // Wrong passwords: the form again, then refused for a while (429).
    b.c.delete_all_cookies().await.expect("cookies");
    for _ in 0..10 {
        b.login("ops@example.com", "not the password").await;
        assert!(b.text().await.contains("wrong email or password"));
    }
    b.login("ops@example.com", "not the password").await;
    let text = b.text().await;
    assert!(text.contains("too many failed logins"), "{text}");
    b.shot("login-rate-limited").await;
    let right = [
        ("email", "ops@example.com"),
        ("password", password.as_str()),
    ];
    assert_eq!(forged(&app, "/login", "", None, &right).await, 429);
    b.close().await;
}

/// A payload's fields carrying markup are shown as text: nothing runs, no dialog opens.
#[tokio::test]
async fn hostile_payloads_are_shown_as_text() {
    let app = spawn_app().await;
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "ops@example.com", "admin").await;
    let hostile = r#"<script>window.__xss=1</script> <img src=x onerror="window.__xss=2"> <svg onload="window.__xss=3">"#;
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "xss@example.com", "attributes": {"name": hostile}})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let src = app
        .create_source(json!({"provider": "tosend", "name": hostile}))
        .await;
    let body = json!({
        "type": "bounce",
        "email": "xss@example.com",
        "bounce_sub_type": hostile,
        "reason": format!("smtp; 550 5.1.1 {hostile}"),
        "is_hard_bounce": true,
        "message_id": hostile,
    });
    let (status, v) = app
        .post_shown(
            &src,
            &[("content-type", "application/json".into())],
            serde_json::to_vec(&body).expect("json"),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    app.drain().await;

    b.login("ops@example.com", &password).await;
    for path in [
        "/contacts/xss@example.com",
        "/contacts?q=xss",
        "/log",
        "/sources",
        "/",
    ] {
        b.go(path).await;
        let text = b.text().await;
        if path.starts_with("/contacts/") {
            assert!(text.contains("<script>window.__xss=1</script>"), "{text}");
            assert!(
                text.contains(r#"<img src=x onerror="window.__xss=2">"#),
                "{text}"
            );
            assert!(text.contains(r#"<svg onload="window.__xss=3">"#), "{text}");
            b.shot("contact-hostile").await;
        }
        if path == "/sources" || path == "/log" {
            assert!(text.contains("<script>"), "{path}: {text}");
        }
        let xss =
            b.c.execute("return typeof window.__xss;", vec![])
                .await
                .expect("script");
        assert_eq!(xss, Value::from("undefined"), "{path}");
        assert!(
            b.c.get_alert_text().await.is_err(),
            "{path}: a dialog is open"
        );
    }
    b.close().await;
}

/// A change needs the session's CSRF token and this site's origin, and an admin: forged
/// requests with the session cookie are refused 403 and change nothing; a viewer sees no
/// change forms and its posts are refused.
#[tokio::test]
async fn changes_need_the_token_this_origin_and_an_admin() {
    let app = spawn_app().await;
    let Some(b) = browser(&app).await else { return };
    let admin = user(&app, "ops@example.com", "admin").await;
    let viewer = user(&app, "viewer@example.com", "viewer").await;
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"email": "c@example.com"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let path = "/contacts/c@example.com/status";

    b.login("ops@example.com", &admin).await;
    b.go("/contacts/c@example.com").await;
    let (cookie, csrf) = (b.cookie().await, b.csrf().await);
    let own = app.url("");
    for (origin, form) in [
        (None, vec![("status", "bounced"), ("reason", "forged")]),
        (
            None,
            vec![
                ("csrf", "0000"),
                ("status", "bounced"),
                ("reason", "forged"),
            ],
        ),
        (
            Some("http://evil.example"),
            vec![
                ("csrf", csrf.as_str()),
                ("status", "bounced"),
                ("reason", "forged"),
            ],
        ),
    ] {
        assert_eq!(
            forged(&app, path, &cookie, origin, &form).await,
            403,
            "{origin:?} {form:?}"
        );
    }
    let (_, c) = app.contact("c@example.com").await;
    assert_eq!(c["status"], "subscribed", "{c}");
    // The same request with the token, from this origin, is the one that works.
    let ok = [
        ("csrf", csrf.as_str()),
        ("status", "bounced"),
        ("reason", "by hand"),
    ];
    assert_eq!(forged(&app, path, &cookie, Some(&own), &ok).await, 303);
    let (_, c) = app.contact("c@example.com").await;
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("bounced"), Some("by hand"))
    );

    // Security headers on every page.
    let resp = app
        .client
        .get(app.url("/contacts"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-security-policy"], rebound_server::ui::CSP);
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    let css = app
        .client
        .get(app.url("/assets/style.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .contains("max-age"));
    // Unknown paths still answer the API's JSON 404; changes without a session get 401.
    let (status, v) = app.get("/no/such/page").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (404, Some("no such endpoint"))
    );
    assert_eq!(forged(&app, path, "", None, &ok).await, 401);

    // A viewer: pages without change forms, and its posts refused.
    b.click("form.logout button").await;
    b.login("viewer@example.com", &viewer).await;
    for page in ["/contacts/c@example.com", "/sources", "/log", "/settings"] {
        b.go(page).await;
        let forms =
            b.c.find_all(Locator::Css("main form[method=post]"))
                .await
                .expect("forms");
        assert!(forms.is_empty(), "{page}: a viewer sees a change form");
    }
    b.shot("contact-viewer").await;
    let (cookie, csrf) = (b.cookie().await, b.csrf().await);
    let back = [
        ("csrf", csrf.as_str()),
        ("status", "subscribed"),
        ("reason", "viewer"),
    ];
    assert_eq!(forged(&app, path, &cookie, Some(&own), &back).await, 403);
    assert_eq!(
        forged(
            &app,
            "/sources",
            &cookie,
            Some(&own),
            &[
                ("csrf", csrf.as_str()),
                ("provider", "tosend"),
                ("name", "x")
            ]
        )
        .await,
        403
    );
    let (_, c) = app.contact("c@example.com").await;
    assert_eq!(c["status"], "bounced", "{c}");
    let (_, sources) = app.get("/api/v1/sources").await;
    assert_eq!(sources["items"].as_array().map(Vec::len), Some(0));
    b.close().await;
}

/// Odd input in paths, queries and forms gets an answer (a page, a 4xx), never a failure;
/// pages page through a long list with the cursor of the Next link.
#[tokio::test]
async fn pages_answer_odd_input_and_page_through_contacts() {
    let app = spawn_app().await;
    let password = user(&app, "ops@example.com", "admin").await;
    let cookie = http_login(&app, "ops@example.com", &password).await;
    let get = |path: String| {
        let (client, cookie) = (app.client.clone(), cookie.clone());
        let url = app.url(&path);
        async move {
            let resp = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .expect("page");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
    };
    for (path, status) in [
        ("/contacts/not-an-address", 400),
        ("/contacts/nobody@example.com", 404),
        ("/contacts/%3Cscript%3E@example.com", 400),
        ("/contacts/not-an-address/erase", 400),
        ("/contacts/export.csv?status=nonsense", 400),
        ("/contacts?status=nonsense", 200),
        ("/contacts?cursor=%00%FF garbage", 200),
        ("/contacts?q=%25%5F'%22%3C", 200),
        ("/log?source=abc&outcome=<b>&cursor=zzz", 200),
        ("/log?source=-1", 200),
        ("/sources/999/rotate", 404),
        ("/sources/abc/rotate", 400),
        ("/login?next=javascript:alert(1)", 200),
    ] {
        let (got, body) = get(path.to_string()).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(!body.contains("<script"), "{path}: {body}");
    }
    let (_, body) = get("/login?next=javascript:alert(1)".into()).await;
    assert!(body.contains(r#"name="next" value="/""#), "{body}");

    // "Scan now" on a mailbox that does not answer: 502, and the source says why.
    let closed = free_port();
    let mailbox = app
        .create_source(json!({"provider": "mailbox", "name": "bounces",
            "url": format!("imap://u:p@127.0.0.1:{closed}/INBOX?tls=none&insecure=true")}))
        .await;
    let (_, sources) = get("/sources".into()).await;
    assert!(sources.contains("Scan now"), "{sources}");
    let csrf = sources
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token")
        .to_string();
    let scan = format!("/sources/{}/scan", mailbox["id"]);
    let origin = app.url("");
    assert_eq!(
        forged(&app, &scan, &cookie, Some(&origin), &[("csrf", &csrf)]).await,
        502
    );
    let (_, listed) = app.get("/api/v1/sources").await;
    assert_eq!(listed["items"][0]["status"], "error", "{listed}");
    assert_eq!(
        forged(&app, &scan, &cookie, Some(&origin), &[]).await,
        403,
        "without the token"
    );

    // 120 contacts: three pages of 50, 50 and 20, through the Next links.
    let contacts = (0..120)
        .map(|i| rebound_store::NewContact {
            email: format!("page{i:03}@example.com"),
            email_key: format!("page{i:03}@example.com"),
            status: None,
            reason: None,
            uuid: None,
            attributes: json!({}),
            now: 1,
        })
        .collect();
    app.store
        .upsert_contacts(contacts, false)
        .await
        .expect("contacts");
    let mut path = "/contacts?q=page".to_string();
    let mut seen = Vec::new();
    loop {
        let (status, body) = get(path.clone()).await;
        assert_eq!(status, 200, "{body}");
        let rows = body.matches("<a href=\"/contacts/page").count();
        seen.push(rows);
        match body
            .split("<a href=\"")
            .filter_map(|s| s.split('"').next())
            .find(|h| h.contains("cursor="))
        {
            Some(next) => path = next.replace("&#38;", "&").replace("&amp;", "&"),
            None => break,
        }
        assert!(seen.len() < 5, "no end: {seen:?}");
    }
    assert_eq!(seen, [50, 50, 20]);
}

/// The id of the user with this address in `GET /api/v1/users`' answer.
fn app_user_id(listed: &serde_json::Value, email: &str) -> i64 {
    listed["items"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .and_then(|u| u["id"].as_i64())
        .expect("the user is listed")
}

//! The contacts page as a set, in a real browser: the CSV export of the filtered set (the
//! API's export byte for byte, viewers too), a bulk unsuppress with a reason (recorded in
//! each timeline with the user's name; refused without a reason), and erasing an address
//! through its confirmation page (gone, and still suppressed).

use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;

use crate::browser_support::*;
use crate::helpers::*;

const STATUSES: [rebound_core::Status; 4] = [
    rebound_core::Status::Subscribed,
    rebound_core::Status::Unsubscribed,
    rebound_core::Status::Bounced,
    rebound_core::Status::Complained,
];

/// `n` contacts `c000@example.com`…, their status cycling through the four.
async fn seed(app: &TestApp, n: usize) {
    let contacts = (0..n)
        .map(|i| {
            let email = format!("c{i:03}@example.com");
            let status = STATUSES[i % 4];
            rebound_store::NewContact {
                email: email.clone(),
                email_key: email,
                status: Some(status),
                reason: (status != rebound_core::Status::Subscribed).then(|| "seeded".into()),
                uuid: None,
                attributes: json!({"n": i, "note": "a, \"quoted\" value"}),
                now: 1_000 + i as i64,
            }
        })
        .collect();
    app.store
        .upsert_contacts(contacts, false)
        .await
        .expect("seed");
}

/// A GET with the session cookie: status, headers, body bytes.
async fn get_with_cookie(
    app: &TestApp,
    path: &str,
    cookie: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request");
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.bytes().await.expect("body").to_vec())
}

/// The API's export (admin token) with `query`.
async fn api_export(app: &TestApp, query: &str) -> Vec<u8> {
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/contacts/export{query}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    resp.bytes().await.expect("body").to_vec()
}

/// A viewer filters the list in the browser and exports it: the link's CSV is the API's
/// export with the same filter, byte for byte; a viewer sees no change forms.
#[tokio::test]
async fn the_export_link_downloads_exactly_the_filtered_set() {
    let app = spawn_app().await;
    seed(&app, 300).await;
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "viewer@example.com", "viewer").await;
    b.login("viewer@example.com", &password).await;

    b.go("/contacts").await;
    b.fill("form.filters input[name=q]", "c1").await;
    b.c.find(Locator::Css("form.filters select[name=status]"))
        .await
        .expect("status select")
        .select_by_value("bounced")
        .await
        .expect("select bounced");
    b.click("form.filters button[type=submit]").await;
    assert_eq!(
        b.path().await,
        "/contacts?q=c1&status=bounced&reason=&source=&since=&until="
    );
    b.shot("contacts-viewer-filtered").await;
    assert!(
        b.c.find_all(Locator::Css("input[name=email], #bulk-form"))
            .await
            .expect("find")
            .is_empty(),
        "a viewer sees no bulk form"
    );

    let href =
        b.c.find(Locator::Css("#export-csv"))
            .await
            .expect("the export link")
            .attr("href")
            .await
            .expect("href")
            .expect("an href");
    assert_eq!(
        href,
        "/contacts/export.csv?status=bounced&q=c1&reason=&source=&since=&until="
    );
    let cookie = b.cookie().await;
    let (status, headers, csv) = get_with_cookie(&app, &href, &cookie).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&csv));
    assert!(headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/csv")));
    assert!(headers["content-disposition"]
        .to_str()
        .is_ok_and(|c| c.starts_with("attachment")));
    assert_eq!(csv, api_export(&app, "?status=bounced&q=c1").await);
    // c1xx with i % 4 == 2: 25 rows after the header.
    let text = String::from_utf8_lossy(&csv);
    assert_eq!(text.lines().filter(|l| l.starts_with("c1")).count(), 25);
    assert!(
        text.lines().skip(1).all(|l| l.contains(",bounced,")),
        "{text}"
    );

    // No filter: every contact, over more than one page of the list.
    b.go("/contacts").await;
    let href =
        b.c.find(Locator::Css("#export-csv"))
            .await
            .expect("the export link")
            .attr("href")
            .await
            .expect("href")
            .expect("an href");
    let (_, _, all) = get_with_cookie(&app, &href, &cookie).await;
    assert_eq!(all, api_export(&app, "").await);
    assert_eq!(String::from_utf8_lossy(&all).lines().count(), 301);

    // Without a session: to the login page, no CSV.
    let (status, _, body) = get_with_cookie(&app, &href, "rebound_session=nope").await;
    assert!(status != 200 || !body.starts_with(b"email,"), "{status}");
    b.close().await;
}

/// An admin ticks three bounced contacts and unsuppresses them with a reason: each is
/// subscribed, its newest event has the reason and names the user; without a reason the
/// change is refused and nothing changes.
#[tokio::test]
async fn a_bulk_unsuppress_needs_a_reason_and_names_the_user() {
    let app = spawn_app().await;
    seed(&app, 40).await;
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "ops@example.com", "admin").await;
    b.login("ops@example.com", &password).await;

    b.go("/contacts?status=bounced").await;
    let picked = ["c002@example.com", "c006@example.com", "c010@example.com"];
    for email in picked {
        b.c.find(Locator::Css(&format!("input[name=email][value='{email}']")))
            .await
            .expect("a checkbox per row")
            .click()
            .await
            .expect("tick");
    }
    let reason =
        b.c.find(Locator::Css("#bulk-form input[name=reason]"))
            .await
            .expect("reason");
    assert_eq!(
        reason.attr("required").await.expect("attr").as_deref(),
        Some("true"),
        "the browser asks for a reason"
    );
    b.c.find(Locator::Css("#bulk-form select[name=action]"))
        .await
        .expect("action")
        .select_by_value("unsuppress")
        .await
        .expect("unsuppress");
    b.fill(
        "#bulk-form input[name=reason]",
        "confirmed by phone (ticket 7)",
    )
    .await;
    b.shot("contacts-bulk-ticked").await;
    b.click("#bulk-form button[type=submit]").await;
    assert_eq!(
        b.path().await,
        "/contacts?status=bounced&q=&reason=&source=&since=&until=&done=bulk&changed=3&unchanged=0&missing=0"
    );
    let text = b.text().await;
    assert!(
        text.contains("Status set: 3 changed, 0 already had it, 0 not found."),
        "{text}"
    );
    b.shot("contacts-bulk-done").await;
    for email in picked {
        assert!(!text.contains(email), "{email} is still listed as bounced");
        let (_, c) = app.contact(email).await;
        assert_eq!(c["status"], "subscribed", "{c}");
        let newest = &c["events"][0];
        assert_eq!(newest["reason"], "confirmed by phone (ticket 7)", "{c}");
        let note = newest["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("user ops@example.com") && note.contains("bounced → subscribed"),
            "{note}"
        );
    }

    // Posted without a reason (a browser would not send it): refused, nothing changes.
    let (cookie, csrf) = (b.cookie().await, b.csrf().await);
    let before = app.contact("c014@example.com").await.1;
    for reason in [None, Some("   ")] {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("email", "c014@example.com"),
            ("email", "c018@example.com"),
            ("action", "unsuppress"),
        ];
        if let Some(r) = reason {
            form.push(("reason", r));
        }
        let status = forged(&app, "/contacts/bulk", &cookie, Some(&app.url("")), &form).await;
        assert_eq!(status, 400, "reason {reason:?}");
    }
    // Nor without the token.
    let status = forged(
        &app,
        "/contacts/bulk",
        &cookie,
        None,
        &[
            ("email", "c014@example.com"),
            ("action", "unsuppress"),
            ("reason", "forged"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    let after = app.contact("c014@example.com").await.1;
    assert_eq!(after, before);
    assert_eq!(app.contact("c018@example.com").await.1["status"], "bounced");
    b.close().await;
}

/// An admin erases an address from its page, after a confirmation page: the contact is
/// gone (its page 404) and the address stays suppressed as erased.
#[tokio::test]
async fn erasing_goes_through_a_confirmation_and_keeps_the_address_suppressed() {
    let app = spawn_app().await;
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "ops@example.com", "admin").await;
    let viewer = user(&app, "viewer@example.com", "viewer").await;
    for email in ["gone@example.com", "kept@example.com"] {
        let (status, v) = app
            .api(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
    }

    // A viewer sees no erase button, and the confirmation page has no form for it.
    b.login("viewer@example.com", &viewer).await;
    b.go("/contacts/gone@example.com").await;
    assert!(b
        .c
        .find_all(Locator::Css("#erase-link"))
        .await
        .expect("find")
        .is_empty());
    b.go("/contacts/gone@example.com/erase").await;
    assert!(b
        .c
        .find_all(Locator::Css("#erase-confirm"))
        .await
        .expect("find")
        .is_empty());
    b.c.delete_all_cookies().await.expect("log out");

    b.login("ops@example.com", &password).await;
    b.go("/contacts/gone@example.com").await;
    b.click("#erase-link").await;
    assert_eq!(b.path().await, "/contacts/gone@example.com/erase");
    let text = b.text().await;
    assert!(
        text.contains("cannot be undone") && text.contains("stays suppressed"),
        "{text}"
    );
    b.shot("contact-erase-confirm").await;
    b.click("#erase-confirm button").await;
    assert_eq!(b.path().await, "/contacts?done=erased");
    let text = b.text().await;
    assert!(text.contains("Address erased"), "{text}");
    assert!(!text.contains("gone@example.com") && text.contains("kept@example.com"));
    b.shot("contacts-erased").await;

    let (status, s) = app.get("/api/v1/suppressions/gone@example.com").await;
    assert_eq!(status, 200);
    assert_eq!(
        (s["suppressed"].as_bool(), s["reason"].as_str()),
        (Some(true), Some("erased")),
        "{s}"
    );
    let cookie = b.cookie().await;
    let (status, _, _) = get_with_cookie(&app, "/contacts/gone@example.com", &cookie).await;
    assert_eq!(status, 404);
    assert_eq!(app.contact("gone@example.com").await.0, 404);
    assert_eq!(app.contact("kept@example.com").await.0, 200);
    b.close().await;
}

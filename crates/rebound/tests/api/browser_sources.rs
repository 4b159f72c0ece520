//! Sources, the request log, the dashboard's deliverability and the policy's dry run, in a
//! real browser: a test event sent with the Sources page's button lands in the log, whose
//! page shows the stored request (also one signed for Mailgun); the page shows each
//! provider's set-up steps, an SES source's pending SNS subscription, and why SES gets no
//! test button; the dashboard warns about a complaint rate over the
//! limit; a dry run shows what a policy would change and saves nothing.

use serde_json::json;

use crate::browser_support::*;
use crate::helpers::*;

/// Clicks a source's "Send test event" on the Sources page; the request's page it lands on
/// (its text).
async fn send_test_event(b: &Browser, id: &serde_json::Value) -> String {
    b.go("/sources").await;
    b.click(&format!("form[action='/sources/{id}/test'] button"))
        .await;
    let path = b.path().await;
    assert!(
        path.starts_with("/log/") && path.ends_with("?done=tested"),
        "{path}"
    );
    let text = b.text().await;
    assert!(text.contains("Test event sent"), "{text}");
    text
}

#[tokio::test]
async fn a_test_event_lands_in_the_log_and_the_dashboard_and_dry_run_tell_the_truth() {
    let app = spawn_app().await;
    let Some(b) = browser(&app).await else { return };
    let password = user(&app, "ops@example.com", "admin").await;
    b.login("ops@example.com", &password).await;

    // Send a test event from the Sources page: it shows the request it made.
    let src = app
        .create_source(json!({"provider": "tosend", "name": "ToSend"}))
        .await;
    let text = send_test_event(&b, &src["id"]).await;
    assert!(
        text.contains("rebound-test-") && text.contains("is_hard_bounce"),
        "the body as stored: {text}"
    );
    b.shot("request").await;
    app.drain().await;
    b.go("/contacts?status=bounced").await;
    assert!(
        b.text().await.contains("rebound-test-"),
        "the test address is bounced"
    );

    // A provider rebound signs for with the secret the provider issued (Mailgun's HTTP
    // webhook signing key): the page's button sends a signed test event that lands.
    let mailgun = app
        .create_source(
            json!({"provider": "mailgun", "name": "Mailgun", "secret": "key-test-0123456789"}),
        )
        .await;
    let text = send_test_event(&b, &mailgun["id"]).await;
    assert!(
        text.contains("permanent") && text.contains("accepted"),
        "the signed mailgun request, accepted: {text}"
    );
    app.drain().await;
    b.go("/contacts?status=bounced").await;
    let text = b.text().await;
    assert_eq!(
        text.matches("rebound-test-").count(),
        2,
        "the tosend and the mailgun test addresses are bounced: {text}"
    );

    // The set-up steps are on the page, from docs/providers/mailgun.md.
    b.go("/sources").await;
    // Opening the disclosure loads no page: a plain click.
    b.c.find(fantoccini::Locator::Css(&format!(
        "#source-{}-detail summary",
        mailgun["id"]
    )))
    .await
    .expect("the set-up steps")
    .click()
    .await
    .expect("open them");
    let text = b.text().await;
    assert!(
        text.contains("Set-up steps for mailgun")
            && text.contains("Sending → Webhooks")
            && text.contains("HTTP webhook signing key"),
        "{text}"
    );

    // An SES source waits for SNS, and says what to do in AWS; rebound cannot sign SNS
    // requests, and the page says so instead of offering the button.
    let ses = app
        .create_source(json!({"provider": "ses", "name": "SES", "topic_arns": ["arn:aws:sns:us-east-1:123456789012:ses-bounces"]}))
        .await;
    b.go("/sources").await;
    let text = b.text().await;
    assert!(
        text.contains("SNS subscription: pending confirmation")
            && text.contains("arn:aws:sns:us-east-1:123456789012:ses-bounces")
            && text.contains("Create subscription, protocol HTTPS"),
        "{text}"
    );
    assert!(text.contains("AWS's private key"), "{text}");
    let no_button =
        b.c.find(fantoccini::Locator::Css(&format!(
            "form[action='/sources/{}/test']",
            ses["id"]
        )))
        .await;
    assert!(no_button.is_err(), "no test button for ses");
    b.shot("sources-setup").await;

    // Deliverability: 300 deliveries and a complaint through a generic source: 0.33%.
    let generic = app
        .create_source(json!({"provider": "generic", "name": "App"}))
        .await;
    let now = rebound_core::timestamp::format(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    );
    for i in 0..301 {
        let typ = if i == 300 { "complained" } else { "delivered" };
        let email = format!("u{}@example.com", i % 40);
        let (status, _) = post_generic(
            &app,
            &generic,
            generic_event(&format!("e{i}"), typ, &email, &now),
        )
        .await;
        assert_eq!(status, 200);
    }
    app.drain().await;
    b.go("/").await;
    let text = b.text().await;
    assert!(text.contains("Deliverability"), "{text}");
    assert!(
        text.contains("complaint rate 0.33%") && text.contains("under 0.3%"),
        "the warning: {text}"
    );
    assert_eq!(
        text.matches("App (generic): complaint rate").count(),
        1,
        "one warning per source, not per window: {text}"
    );
    b.shot("dashboard-deliverability").await;

    // Dry run: a threshold of 1 soft bounce changes nobody here (no soft bounces), and
    // saves nothing.
    b.go("/settings").await;
    b.fill("#settings-form input[name=soft_bounce_threshold]", "1")
        .await;
    b.click("#settings-form button[value=dry-run]").await;
    let text = b.text().await;
    assert!(
        text.contains("Policy dry run") && text.contains("Nothing was saved"),
        "{text}"
    );
    assert!(text.contains("would have another status"), "{text}");
    b.shot("dry-run").await;
    let (_, settings) = app.get("/api/v1/settings").await;
    assert_eq!(settings["policy"]["soft_bounce_threshold"], 3, "not saved");
    b.close().await;
}

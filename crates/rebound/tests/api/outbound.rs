//! Outbound webhooks end to end: a real HTTP receiver on 127.0.0.1, every delivery verified
//! with the official `standardwebhooks` Python package (also during a secret rotation);
//! a receiver down for a while gets each message later, once, in order per contact; `410`
//! disables; `Retry-After` is waited for; private targets are refused without the allow list
//! (also a name that resolves to one, when connecting).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{free_port, spawn_app_with, TestApp};
use crate::receiver::{start_receiver, verify_with_python, Got};
use rebound_server::outbound::{self, OutboundConfig};
use rebound_server::ServerConfig;

fn fast(allow: &str) -> OutboundConfig {
    OutboundConfig {
        allow: outbound::parse_allow(allow).expect("allow"),
        timeout: Duration::from_secs(5),
        schedule: vec![Duration::from_millis(300); 8],
        jitter: 0.0,
        idle_poll: Duration::from_millis(100),
        ..OutboundConfig::default()
    }
}

/// An app whose delivery loop runs with `cfg`.
async fn app_with(cfg: OutboundConfig) -> TestApp {
    let app = spawn_app_with(ServerConfig {
        outbound: cfg.clone(),
        ..ServerConfig::default()
    })
    .await;
    tokio::spawn(outbound::run(app.store.clone(), cfg));
    app
}

async fn subscribe(app: &TestApp, url: &str) -> Value {
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": url, "kind": "webhook", "events": ["contact.status_changed"]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert!(v["secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));
    v
}

/// Sets a contact's status through the API (creating it first if needed).
async fn set_status(app: &TestApp, email: &str, status: &str) {
    let _ = app
        .api(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({ "email": email })),
        )
        .await;
    let (code, v) = app
        .api(
            Method::PATCH,
            &format!("/api/v1/contacts/{email}"),
            Some(json!({ "status": status })),
        )
        .await;
    assert_eq!(code, 200, "{v}");
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, v) = app
        .get(&format!("/api/v1/subscriptions/{id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn body(g: &Got) -> Value {
    serde_json::from_str(&g.body).expect("JSON body")
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_change_later_once_in_order_and_signed() {
    // The process's metrics recorder, installed before any attempt is counted.
    let _ = rebound_server::metrics::handle();
    let port = free_port();
    let app = app_with(fast("127.0.0.0/8")).await;
    let sub = subscribe(&app, &format!("http://127.0.0.1:{port}/hook")).await;
    let (id, secret) = (
        sub["id"].as_i64().expect("id"),
        sub["secret"].as_str().expect("secret").to_string(),
    );
    set_status(&app, "a@example.org", "unsubscribed").await;
    set_status(&app, "b@example.org", "complained").await;
    set_status(&app, "a@example.org", "subscribed").await;
    // Nobody listens: attempts fail (connection refused) and are logged.
    let mut failed = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while failed.len() < 2 {
        assert!(Instant::now() < end, "no failed attempts logged");
        failed = deliveries(&app, id).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failed
            .iter()
            .all(|d| d["ok"] == false && d["error"].is_string()),
        "{failed:?}"
    );
    let (receiver, _) = start_receiver(port).await;
    wait_for("three deliveries", 30, || receiver.got().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 3, "each message once: {got:?}");
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|g| g.headers["webhook-id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3);
    let of_a: Vec<Value> = got
        .iter()
        .map(body)
        .filter(|b| b["data"]["email"] == "a@example.org")
        .collect();
    assert_eq!(of_a.len(), 2);
    assert_eq!(
        (
            &of_a[0]["data"]["new_status"],
            &of_a[1]["data"]["new_status"]
        ),
        (&json!("unsubscribed"), &json!("subscribed")),
        "in order per contact"
    );
    let first = &of_a[0];
    assert_eq!(first["type"], "contact.status_changed");
    for k in [
        "email",
        "old_status",
        "new_status",
        "reason",
        "source",
        "event_id",
    ] {
        assert!(first["data"].get(k).is_some(), "data.{k} missing: {first}");
    }
    assert_eq!(first["data"]["old_status"], "subscribed");
    assert_eq!(first["data"]["source"], "api");
    verify_with_python(&got, &[&secret]);

    // The secret in listings? Never.
    let (_, list) = app.get("/api/v1/subscriptions").await;
    assert!(!list.to_string().contains(&secret));
    assert_eq!(list["items"][0]["failing_since"], Value::Null);

    // Rotation: both secrets sign during the overlap; each verifies on its own.
    let (status, rotated) = app
        .api(
            Method::POST,
            &format!("/api/v1/subscriptions/{id}/rotate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().expect("new secret").to_string();
    set_status(&app, "b@example.org", "subscribed").await;
    wait_for("the delivery after the rotation", 20, || {
        receiver.got().len() >= 4
    })
    .await;
    let last = receiver.got()[3].clone();
    assert_eq!(last.headers["webhook-signature"].split(' ').count(), 2);
    verify_with_python(&[last], &[&secret, &new_secret]);

    // Redelivering one message sends it again with the same id.
    let log = deliveries(&app, id).await;
    let ok = log
        .iter()
        .find(|d| d["ok"] == true)
        .expect("a delivered attempt");
    let (status, v) = app
        .api(
            Method::POST,
            &format!("/api/v1/subscriptions/{id}/redeliver"),
            Some(json!({"delivery": ok["id"]})),
        )
        .await;
    assert_eq!((status, &v["requeued"]), (200, &json!(1)), "{v}");
    wait_for("the redelivery", 20, || receiver.got().len() >= 5).await;
    assert_eq!(
        receiver.got()[4].headers["webhook-id"],
        ok["message_id"].as_str().expect("message id")
    );
    // The attempts are counted for Prometheus, by kind and outcome.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for outcome in ["delivered", "retry"] {
        let line =
            format!("rebound_outbound_deliveries_total{{kind=\"webhook\",outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&line), "no {line} in:\n{metrics}");
    }
    assert!(metrics.contains("rebound_outbound_delivery_duration_seconds_count"));
}

#[tokio::test]
async fn retry_after_is_waited_for_and_410_disables_the_subscription() {
    let (receiver, addr) = start_receiver(0).await;
    let app = app_with(fast("127.0.0.0/8")).await;
    let sub = subscribe(&app, &format!("http://{addr}/hook")).await;
    let id = sub["id"].as_i64().expect("id");
    receiver.answer(&[(429, Some(2))]);
    set_status(&app, "r@example.org", "unsubscribed").await;
    wait_for("the retry", 20, || receiver.got().len() >= 2).await;
    let got = receiver.got();
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "Retry-After: 2 waited only {waited:?}"
    );
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    let log = deliveries(&app, id).await;
    assert_eq!(log[1]["http_status"], 429);
    assert_eq!(log[0]["ok"], true);

    receiver.answer(&[(410, None)]);
    set_status(&app, "r@example.org", "subscribed").await;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = app.get("/api/v1/subscriptions").await;
        if list["items"][0]["enabled"] == false {
            assert!(list["items"][0]["disabled_reason"]
                .as_str()
                .is_some_and(|r| r.contains("410")));
            break;
        }
        assert!(Instant::now() < end, "410 did not disable: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Disabled: later changes are not sent.
    set_status(&app, "r@example.org", "unsubscribed").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.got().len(), 3);
}

#[tokio::test]
async fn private_targets_are_refused_without_the_allow_list() {
    let (receiver, addr) = start_receiver(0).await;
    let app = app_with(fast("")).await;
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": format!("http://{addr}/hook"), "kind": "webhook"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("REBOUND_OUTBOUND_ALLOW")),
        "{v}"
    );
    for url in [
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
    ] {
        let (status, _) = app
            .api(
                Method::POST,
                "/api/v1/subscriptions",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 400, "{url}");
    }
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(json!({"url": "https://example.org/hook", "kind": "listmonk"})),
        )
        .await;
    assert_eq!(status, 400, "not yet a kind: {v}");
    // A name is checked where it resolves, when connecting: `localhost` is refused then.
    let sub = subscribe(&app, &format!("http://localhost:{}/hook", addr.port())).await;
    let id = sub["id"].as_i64().expect("id");
    set_status(&app, "p@example.org", "unsubscribed").await;
    let end = Instant::now() + Duration::from_secs(20);
    let log = loop {
        let log = deliveries(&app, id).await;
        if !log.is_empty() {
            break log;
        }
        assert!(Instant::now() < end, "no attempt logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log[0]["ok"], false);
    assert!(
        log[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not public")),
        "{log:?}"
    );
    assert!(receiver.got().is_empty());
}

/// A forwarder subscription made through the API.
async fn forwarder(app: &TestApp, body: Value) -> Value {
    let (status, v) = app
        .api(Method::POST, "/api/v1/subscriptions", Some(body))
        .await;
    assert_eq!(status, 201, "{v}");
    assert!(v.get("secret").is_none(), "a forwarder has no secret: {v}");
    v
}

/// The user and password of a basic `authorization` header.
fn basic_auth(g: &Got) -> (String, String) {
    use base64::Engine;
    let h = g
        .headers
        .get("authorization")
        .expect("authorization header");
    let b64 = h.strip_prefix("Basic ").expect("basic auth");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let text = String::from_utf8(raw).expect("utf-8");
    let (u, p) = text.split_once(':').expect("user:password");
    (u.to_string(), p.to_string())
}

/// A ToSend hard bounce ingested through a source, a complaint and an unsubscribe made by
/// hand: listmonk's bounce API gets the bounce (hard) and the complaint, with basic auth,
/// and the fields its `models.Bounce` reads; a ToSend-shaped target gets them in ToSend's
/// webhook shape; neither gets the unsubscribe (no such type).
#[tokio::test]
async fn forwarders_speak_listmonks_bounce_api_and_tosends_webhook_shape() {
    let (lm, lm_addr) = start_receiver(0).await;
    let (ts, ts_addr) = start_receiver(0).await;
    let app = app_with(fast("127.0.0.0/8")).await;
    let l = forwarder(
        &app,
        json!({"url": format!("http://{lm_addr}/webhooks/bounce"), "kind": "listmonk",
               "username": "rebound-api", "password": "s3cr:et"}),
    )
    .await;
    let t = forwarder(
        &app,
        json!({"url": format!("http://{ts_addr}/crm/bounce-handler/tosend?key=k1"),
               "kind": "tosend", "description": "FluentCRM"}),
    )
    .await;
    assert_eq!(l["events"], json!(["contact.status_changed"]));
    assert_eq!(t["kind"], "tosend");
    // Credentials are never listed back.
    let (_, list) = app.get("/api/v1/subscriptions").await;
    assert!(!list.to_string().contains("s3cr:et"), "{list}");
    assert!(!list.to_string().contains("rebound-api"), "{list}");
    // Missing credentials, credentials for another kind, an unknown kind.
    for (body, why) in [
        (
            json!({"url": "https://x.example/webhooks/bounce", "kind": "listmonk"}),
            "username",
        ),
        (
            json!({"url": "https://x.example/", "kind": "tosend", "username": "u", "password": "p"}),
            "listmonk",
        ),
        (
            json!({"url": "https://x.example/", "kind": "mautic"}),
            "listmonk, tosend",
        ),
    ] {
        let (code, v) = app
            .api(Method::POST, "/api/v1/subscriptions", Some(body))
            .await;
        assert_eq!(code, 400, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains(why)), "{v}");
    }

    set_status(&app, "gone@example.com", "unsubscribed").await;
    let source = app
        .create_source(json!({"provider": "tosend", "name": "ToSend"}))
        .await;
    let (code, v) = app
        .post_shown(
            &source,
            &[],
            crate::helpers::fixture("tosend", "bounce-hard.json"),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(app.drain().await.status_changes, 1);
    set_status(&app, "spam@example.com", "complained").await;
    wait_for("two forwards each", 20, || {
        lm.got().len() >= 2 && ts.got().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (lm_got, ts_got) = (lm.got(), ts.got());
    assert_eq!(
        (lm_got.len(), ts_got.len()),
        (2, 2),
        "the unsubscribe is not forwarded"
    );

    // listmonk: POST /webhooks/bounce, basic auth, JSON {email, source, type, meta}.
    for g in &lm_got {
        assert_eq!(basic_auth(g), ("rebound-api".into(), "s3cr:et".into()));
        assert_eq!(g.headers["content-type"], "application/json");
        assert!(!g.headers.contains_key("webhook-signature"));
    }
    let (hard, complaint) = (body(&lm_got[0]), body(&lm_got[1]));
    assert_eq!(hard["email"], "recipient@example.com");
    assert_eq!(hard["source"], "rebound");
    assert_eq!(hard["type"], "hard");
    let meta = &hard["meta"];
    assert_eq!(meta["reason"], "userunknown", "{hard}");
    assert_eq!(meta["status"], "5.1.1");
    assert!(meta["diagnostic"]
        .as_str()
        .is_some_and(|d| d.contains("550 5.1.1")));
    assert_eq!(meta["class"], "hard");
    assert_eq!(meta["provider"], "tosend");
    assert!(meta["event_id"].as_i64().is_some_and(|id| id > 0), "{meta}");
    assert_eq!(meta["message_id"], "msg_abc123...");
    assert!(meta["rebound_id"]
        .as_str()
        .is_some_and(|i| i.starts_with("msg_")));
    assert_eq!(hard.as_object().map(|o| o.len()), Some(4), "{hard}");
    assert_eq!(complaint["email"], "spam@example.com");
    assert_eq!(complaint["type"], "complaint");
    assert_eq!(complaint["meta"]["provider"], "api");

    // ToSend shape: {type, email, bounce_sub_type, reason, is_hard_bounce, message_id}.
    for g in &ts_got {
        assert!(!g.headers.contains_key("authorization"));
        assert_eq!(g.headers["content-type"], "application/json");
    }
    let (bounce, complaint) = (body(&ts_got[0]), body(&ts_got[1]));
    assert_eq!(bounce["type"], "bounce");
    assert_eq!(bounce["email"], "recipient@example.com");
    assert_eq!(bounce["is_hard_bounce"], true);
    assert_eq!(bounce["bounce_sub_type"], "NoEmail");
    assert_eq!(
        bounce["reason"],
        "smtp; 550 5.1.1 The email account does not exist"
    );
    assert_eq!(bounce["message_id"], "msg_abc123...");
    assert_eq!(complaint["type"], "complaint");
    assert_eq!(complaint["email"], "spam@example.com");
    assert!(complaint["message_id"]
        .as_str()
        .is_some_and(|m| m.starts_with("msg_")));

    // The delivery log and rotation: as for webhooks, but no secret to rotate.
    let lid = l["id"].as_i64().expect("id");
    let log = deliveries(&app, lid).await;
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|d| d["ok"] == true && d["http_status"] == 200),
        "{log:?}"
    );
    let (code, v) = app
        .api(
            Method::POST,
            &format!("/api/v1/subscriptions/{lid}/rotate"),
            None,
        )
        .await;
    assert_eq!(code, 400, "{v}");
}

/// `rebound subscription …` on the database of a running server: add (a webhook's secret
/// printed once; listmonk's token read from standard input), list (never a secret), rotate,
/// disable/enable, deliveries, redeliver.
#[tokio::test]
async fn subscriptions_made_on_the_command_line_deliver_from_the_running_server() {
    let (lm, lm_addr) = start_receiver(0).await;
    let app = app_with(fast("127.0.0.0/8")).await;
    let db = app.database_url();
    let cli = |args: &[&str], stdin: Option<&str>| {
        let out = crate::helpers::run_rebound(
            &[&["--database-url", db.as_str()], args].concat(),
            stdin.map(str::as_bytes),
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = format!("http://{lm_addr}/webhooks/bounce");
    // Refused without the allow list, as the API does.
    let (code, _, err) = cli(
        &["subscription", "add", "--url", &url, "--kind", "tosend"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("not public"), "{err}");
    let (code, out, err) = cli(
        &[
            "subscription",
            "add",
            "--url",
            &url,
            "--kind",
            "listmonk",
            "--username",
            "api",
            "--password-stdin",
            "--outbound-allow",
            "127.0.0.0/8",
            "--description",
            "listmonk",
        ],
        Some("tok3n\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "nothing secret printed: {out}");
    let (code, out, err) = cli(
        &[
            "subscription",
            "add",
            "--url",
            "https://hooks.example.org/rebound",
            "--events",
            "contact.status_changed",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let secret = out.trim().to_string();
    assert!(
        secret.starts_with("whsec_") && !secret.contains('\n'),
        "{out}"
    );
    assert!(err.contains("shown once"), "{err}");
    // A source filter names sources that exist; event types are checked the API's way.
    for (events, sources, why) in [
        ("event.bounce,event.*", "424242", "no source 424242"),
        ("event.bounced", "", "event.auto-reply"),
    ] {
        let mut args = vec![
            "subscription",
            "add",
            "--url",
            "https://hooks.example.org/e",
        ];
        args.extend(["--events", events]);
        if !sources.is_empty() {
            args.extend(["--sources", sources]);
        }
        let (code, _, err) = cli(&args, None);
        assert_ne!(code, 0);
        assert!(err.contains(why), "{err}");
    }

    let (code, out, _) = cli(&["subscription", "list", "--json"], None);
    assert_eq!(code, 0);
    let subs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(subs.len(), 2, "{out}");
    assert_eq!(
        (subs[0]["kind"].as_str(), subs[0]["enabled"].as_bool()),
        (Some("listmonk"), Some(true))
    );
    assert!(!out.contains("tok3n") && !out.contains(&secret), "{out}");
    let (lid, wid) = (
        subs[0]["id"].as_i64().expect("id").to_string(),
        subs[1]["id"].as_i64().expect("id").to_string(),
    );
    let (_, table, _) = cli(&["subscription", "list"], None);
    assert!(
        table.contains("listmonk\tenabled") && !table.contains("tok3n"),
        "{table}"
    );

    let (code, out, err) = cli(&["subscription", "rotate", &wid], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with("whsec_") && out.trim() != secret);
    let (code, _, err) = cli(&["subscription", "rotate", &lid], None);
    assert_ne!(code, 0);
    assert!(err.contains("forwarder"), "{err}");
    // Only the listmonk forwarder gets the change.
    let (code, _, _) = cli(&["subscription", "disable", &wid], None);
    assert_eq!(code, 0);

    set_status(&app, "ann@example.com", "bounced").await;
    wait_for("the forward", 20, || !lm.got().is_empty()).await;
    let g = &lm.got()[0];
    assert_eq!(basic_auth(g), ("api".into(), "tok3n".into()));
    assert_eq!(body(g)["type"], "hard");
    assert_eq!(body(g)["email"], "ann@example.com");

    // The attempt is recorded once the answer is in: the receiver can see it first.
    let end = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let (code, out, _) = cli(&["subscription", "deliveries", &lid], None);
        assert_eq!(code, 0);
        if !out.trim().is_empty() {
            break out;
        }
        assert!(Instant::now() < end, "no delivery recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let d: Value = serde_json::from_str(out.lines().next().expect("a delivery")).expect("json");
    assert_eq!(d["ok"], true);
    let did = d["id"].as_i64().expect("id").to_string();
    let (code, _, err) = cli(
        &["subscription", "redeliver", &lid, "--delivery", &did],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 message"), "{err}");
    wait_for("the redelivery", 20, || lm.got().len() == 2).await;
    assert_eq!(lm.got()[1].body, lm.got()[0].body);
    let (code, _, err) = cli(
        &[
            "subscription",
            "redeliver",
            &lid,
            "--since",
            "2020-01-01T00:00:00Z",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&["subscription", "redeliver", &lid], None);
    assert_ne!(code, 0, "{err}");

    let (code, _, _) = cli(&["subscription", "disable", &lid], None);
    assert_eq!(code, 0);
    let (_, out, _) = cli(&["subscription", "list", "--json"], None);
    assert!(
        out.lines().all(|l| l.contains("\"enabled\":false")),
        "{out}"
    );
    let (code, _, _) = cli(&["subscription", "enable", &lid], None);
    assert_eq!(code, 0);
    let (code, _, err) = cli(&["subscription", "enable", "999"], None);
    assert_ne!(code, 0);
    assert!(err.contains("no subscription 999"), "{err}");
}

/// A subscription to stored events of one kind and one source: a generic source's hard
/// bounce, posted to the URL the API shows, arrives as a signed `event.bounce` with the
/// event's fields; another kind, another source, and unknown event types or sources do not.
#[tokio::test]
async fn normalized_events_are_delivered_by_kind_and_source() {
    use crate::helpers::{generic_event, post_generic};
    let (receiver, addr) = start_receiver(0).await;
    let (other, other_addr) = start_receiver(0).await;
    let app = app_with(fast("127.0.0.0/8")).await;
    let a = app
        .create_source(json!({"provider": "generic", "name": "a"}))
        .await;
    let b = app
        .create_source(json!({"provider": "generic", "name": "b"}))
        .await;
    let (a_id, b_id) = (a["id"].as_i64().expect("a"), b["id"].as_i64().expect("b"));
    for (body, why) in [
        (
            json!({"url": "https://x.example/", "events": ["event.nope"]}),
            "event.bounce",
        ),
        (
            json!({"url": "https://x.example/", "events": ["event.nope"]}),
            "event.*",
        ),
        (
            json!({"url": "https://x.example/", "sources": [999_999]}),
            "999999",
        ),
        (
            json!({"url": "https://x.example/", "sources": []}),
            "sources",
        ),
        (
            json!({"url": "https://x.example/", "kind": "tosend", "events": ["event.bounce"]}),
            "contact.status_changed",
        ),
    ] {
        let (code, v) = app
            .api(Method::POST, "/api/v1/subscriptions", Some(body))
            .await;
        assert_eq!(code, 400, "{v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(why)),
            "{why}: {v}"
        );
    }
    let (code, sub) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(
                json!({"url": format!("http://{addr}/hook"), "events": ["event.bounce"],
                        "sources": [a_id]}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{sub}");
    assert_eq!(sub["sources"], json!([a_id]));
    let (id, secret) = (
        sub["id"].as_i64().expect("id"),
        sub["secret"].as_str().expect("secret").to_string(),
    );
    let (code, off) = app
        .api(
            Method::POST,
            "/api/v1/subscriptions",
            Some(
                json!({"url": format!("http://{other_addr}/hook"), "events": ["event.*"],
                        "sources": [b_id]}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{off}");
    let ts = "2026-12-01T10:00:00Z";
    for (src, n, typ, email) in [
        (&a, "1", "bounced.hard", "hard@example.com"),
        (&a, "2", "delivered", "fine@example.com"),
        (&b, "3", "bounced.hard", "other@example.com"),
    ] {
        let (code, v) = post_generic(&app, src, generic_event(n, typ, email, ts)).await;
        assert_eq!(code, 200, "{v}");
    }
    app.drain().await;
    wait_for("the bounce", 20, || !receiver.got().is_empty()).await;
    wait_for("the other source's events", 20, || !other.got().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 1, "only source a's bounce: {got:?}");
    verify_with_python(&got, &[&secret]);
    let v = body(&got[0]);
    assert_eq!(v["type"], "event.bounce", "{v}");
    assert_eq!(v["id"], got[0].headers["webhook-id"].as_str());
    let data = &v["data"];
    assert_eq!(data["email"], "hard@example.com", "{v}");
    assert_eq!(data["kind"], "bounce");
    assert_eq!(data["class"], "hard");
    assert_eq!(data["provider"], "generic");
    assert_eq!(data["source"], a_id);
    assert_eq!(data["message_id"], "msg-1");
    assert_eq!(data["occurred_at"], "2026-12-01T10:00:00.000Z");
    assert!(data["event_id"].is_i64(), "{v}");
    for k in ["reason", "status", "diagnostic"] {
        assert!(data.get(k).is_some(), "data.{k} missing: {v}");
    }
    let log = deliveries(&app, id).await;
    assert_eq!(log[0]["event_type"], "event.bounce", "{log:?}");
    assert!(other
        .got()
        .iter()
        .all(|g| body(g)["data"]["source"] == b_id));
    // Listed, and cleared by PATCH with null.
    let (_, list) = app.get("/api/v1/subscriptions").await;
    assert_eq!(list["items"][0]["sources"], json!([a_id]));
    let (code, v) = app
        .api(
            Method::PATCH,
            &format!("/api/v1/subscriptions/{id}"),
            Some(json!({"sources": null})),
        )
        .await;
    assert_eq!((code, &v["sources"]), (200, &Value::Null), "{v}");
    let (code, v) = app
        .api(
            Method::PATCH,
            &format!("/api/v1/subscriptions/{id}"),
            Some(json!({"sources": [b_id, b_id]})),
        )
        .await;
    assert_eq!((code, &v["sources"]), (200, &json!([b_id])), "{v}");
}

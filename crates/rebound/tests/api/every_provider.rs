//! Every provider in the registry, through the URL rebound shows for it. For each one a
//! source is created with the API, and requests go to exactly the `webhook_url` of the
//! create response (credentials in it become basic auth, as a provider's client does):
//!
//! - the provider's own authentication, missing or wrong, is refused by that provider's
//!   check (401; 403 where the URL key or listmonk's basic-auth password is the scheme);
//! - the shown URL with another key, or with another provider's name in it, is 403;
//! - a correctly authenticated fixture is accepted and becomes that provider's events.
//!
//! [`case`] matches on every `Provider` without a wildcard: a provider added to the
//! registry does not compile here until it has a case, and then must pass.

use rebound_core::providers::Auth;
use rebound_core::Provider;
use serde_json::{json, Value};

use crate::helpers::*;

type Headers = Vec<(&'static str, String)>;

/// Makes a request (URL, headers, body) for a created source with the given credentials.
type MakeRequest = Box<dyn Fn(&Value, Cred) -> (String, Headers, Vec<u8>)>;

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    /// The ones the source was created with.
    Right,
    /// Someone else's (another secret, key pair, password, URL key).
    Wrong,
    /// None at all (where the scheme has something to leave out).
    Missing,
}

/// The provider's scheme, as this test knows it (checked against the registry's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// The URL key is the only credential.
    UrlKey,
    /// A signature (HMAC, ECDSA, RSA) over the request.
    Signed,
    /// Generated basic-auth credentials inside the shown URL.
    BasicInUrl,
    /// listmonk: basic auth whose password is the source's key, at a fixed URL.
    ListmonkBasic,
    /// Amazon SNS: an RSA signature with AWS's certificate.
    Sns,
}

/// How a request for one provider is made: the source to create, and the request (URL,
/// headers, body) with each kind of credentials.
struct Case {
    scheme: Scheme,
    create: Value,
    request: MakeRequest,
}

/// Test keys and fixtures shared by the cases.
struct Keys {
    sendgrid: aws_lc_rs::signature::EcdsaKeyPair,
    sendgrid_public: String,
    sendgrid_other: aws_lc_rs::signature::EcdsaKeyPair,
    postal: aws_lc_rs::rsa::KeyPair,
    postal_public: String,
    postal_other: aws_lc_rs::rsa::KeyPair,
    ses_body: Vec<u8>,
    ses_topic: String,
}

const SECRET: &str = "provider-issued-signing-secret";
const OTHER: &str = "somebody-elses-signing-secret";

fn secret_of(cred: Cred) -> &'static str {
    if cred == Cred::Right {
        SECRET
    } else {
        OTHER
    }
}

/// Headers for a signature scheme: none when `Missing`, else `sign` with the secret.
fn signed(cred: Cred, sign: impl Fn(&str) -> Headers) -> Headers {
    match cred {
        Cred::Missing => vec![],
        c => sign(secret_of(c)),
    }
}

fn form() -> (&'static str, String) {
    (
        "content-type",
        "application/x-www-form-urlencoded".to_string(),
    )
}

/// The shown URL with basic-auth credentials as `cred` says: as shown, with another
/// password, or without any.
fn basic_url(src: &Value, cred: Cred) -> String {
    let url = shown_url(src);
    let user = src["basic_auth"]["username"].as_str().expect("username");
    match cred {
        Cred::Right => url,
        Cred::Wrong => with_credentials(&url, Some((user, "not-the-password-0000"))),
        Cred::Missing => with_credentials(&url, None),
    }
}

/// A request to the shown URL whose credentials are a signature in headers, made by
/// `sign(right, body)` with the right key (`true`) or someone else's; none when `Missing`.
fn keyed(fixture_body: Vec<u8>, sign: impl Fn(bool, &[u8]) -> Headers + 'static) -> MakeRequest {
    Box::new(move |src, cred| {
        let headers = match cred {
            Cred::Missing => vec![],
            c => sign(c == Cred::Right, &fixture_body),
        };
        (shown_url(src), headers, fixture_body.clone())
    })
}

/// [`keyed`] for a shared secret: `sign(secret, body)` with [`SECRET`] or another.
fn plain(fixture_body: Vec<u8>, sign: impl Fn(&str, &[u8]) -> Headers + 'static) -> MakeRequest {
    keyed(fixture_body, move |right, body| {
        sign(if right { SECRET } else { OTHER }, body)
    })
}

fn case(p: Provider, keys: &'static Keys) -> Case {
    let name = p.name();
    let with_secret = json!({"provider": name, "name": name, "secret": SECRET});
    match p {
        Provider::Ses => Case {
            scheme: Scheme::Sns,
            create: json!({"provider": name, "name": name, "topic_arns": [keys.ses_topic]}),
            request: Box::new(move |src, cred| {
                let mut env: Value = serde_json::from_slice(&keys.ses_body).expect("json");
                match cred {
                    Cred::Right => {}
                    // Signed by AWS, but not this message: one changed byte.
                    Cred::Wrong => {
                        let m = env["Message"].as_str().expect("message").replacen("bounce", "bouncf", 1);
                        env["Message"] = json!(m);
                    }
                    Cred::Missing => {
                        env["Signature"] = json!("");
                    }
                }
                let body = if cred == Cred::Right {
                    keys.ses_body.clone()
                } else {
                    serde_json::to_vec(&env).expect("json")
                };
                let ct = vec![("content-type", "text/plain; charset=UTF-8".to_string())];
                (shown_url(src), ct, body)
            }),
        },
        Provider::SendGrid => Case {
            scheme: Scheme::Signed,
            create: json!({"provider": name, "name": name, "public_key": keys.sendgrid_public}),
            request: keyed(fixture("sendgrid", "docs-bounce.json"), |right, body| {
                let kp = if right { &keys.sendgrid } else { &keys.sendgrid_other };
                sendgrid_headers(kp, now_secs(), body)
            }),
        },
        Provider::Postal => Case {
            scheme: Scheme::Signed,
            create: json!({"provider": name, "name": name, "public_key": keys.postal_public}),
            request: keyed(fixture("postal", "anymail-failed-event.json"), |right, body| {
                let kp = if right { &keys.postal } else { &keys.postal_other };
                vec![("x-postal-signature-256", postal_sign(kp, body))]
            }),
        },
        Provider::Postmark
        | Provider::SparkPost
        | Provider::Mailjet
        | Provider::Brevo
        | Provider::Smtp2go => {
            let (file, headers) = match p {
                Provider::Postmark => ("anymail-bounce-event.json", vec![]),
                Provider::SparkPost => ("anymail-bounce-event.json", vec![]),
                Provider::Mailjet => ("anymail-bounce-event.json", vec![]),
                Provider::Brevo => ("anymail-hard-bounce.json", vec![]),
                _ => ("", vec![form()]),
            };
            let body = if p == Provider::Smtp2go {
                b"event=bounce&bounce=hard&rcpt=gone%40example.com&email_id=1u0SwL-B9zBpi9ffUq-JAB2&time=2026-01-02+03%3A04%3A05&message=550+5.1.1+User+unknown".to_vec()
            } else {
                fixture(name, file)
            };
            Case {
                scheme: Scheme::BasicInUrl,
                create: json!({"provider": name, "name": name}),
                request: Box::new(move |src, cred| (basic_url(src, cred), headers.clone(), body.clone())),
            }
        }
        Provider::Mailgun => Case {
            scheme: Scheme::Signed,
            create: with_secret,
            request: Box::new(move |src, cred| {
                let unsigned = fixture("mailgun", "anymail-failed-permanent-event.unsigned.json");
                // A fresh token each time: Mailgun's tokens are refused when replayed.
                let token = format!("{:032x}", rand_u128());
                let body = match cred {
                    Cred::Missing => unsigned,
                    c => mailgun_body(secret_of(c), now_secs(), &token, &unsigned),
                };
                (shown_url(src), vec![], body)
            }),
        },
        Provider::Resend => Case {
            scheme: Scheme::Signed,
            create: json!({"provider": name, "name": name, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
            request: Box::new(move |src, cred| {
                let body = fixture("resend", "anymail-hard-bounced-event.json");
                let secret = match cred {
                    Cred::Right => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    _ => "whsec_c29tZWJvZHkgZWxzZSdzIHNlY3JldCBrZXk=",
                };
                let headers = match cred {
                    Cred::Missing => vec![],
                    _ => svix_headers(secret, "msg_every_provider", now_secs(), &body),
                };
                (shown_url(src), headers, body)
            }),
        },
        Provider::Mandrill => Case {
            scheme: Scheme::Signed,
            create: with_secret,
            request: Box::new(move |src, cred| {
                let events = fixture("mandrill", "anymail-hard-bounce-event.json");
                let body = format!(
                    "mandrill_events={}",
                    events.iter().map(|b| format!("%{b:02X}")).collect::<String>()
                )
                .into_bytes();
                let url = shown_url(src);
                // Mandrill signs the URL it posts to: the one shown.
                let mut headers = signed(cred, |secret| {
                    vec![("x-mandrill-signature", rebound_core::providers::mandrill::sign(secret, &url, &body))]
                });
                headers.push(form());
                (url, headers, body)
            }),
        },
        // Hex HMAC-SHA256 of the body in a header.
        Provider::MailerSend | Provider::ForwardEmail | Provider::Mailtrap | Provider::Generic => {
            let (body, header) = match p {
                Provider::MailerSend => (fixture("mailersend", "anymail-hard-bounced-event.json"), "signature"),
                Provider::Mailtrap => (fixture("mailtrap", "anymail-bounce-event.json"), "mailtrap-signature"),
                Provider::Generic => (fixture("generic", "bounced-hard.json"), "x-webhook-signature"),
                _ => (
                    br#"{"recipient":"gone@example.com","bounce":{"category":"recipient","message":"550 5.1.1 user unknown","status":"5.1.1"},"bounced_at":"2026-01-02T03:04:05.000Z","message_id":"<m1@example.com>"}"#.to_vec(),
                    "x-webhook-signature",
                ),
            };
            Case {
                scheme: Scheme::Signed,
                create: with_secret,
                request: plain(body, move |secret, body| vec![(header, hex_hmac(secret, body))]),
            }
        }
        Provider::UnisenderGo => Case {
            scheme: Scheme::Signed,
            create: json!({"provider": name, "name": name, "secret": "unisender-api-key"}),
            request: Box::new(move |src, cred| {
                // `auth` = MD5 of the body with the API key in its place, computed outside
                // rebound (Python's hashlib) for the key "unisender-api-key".
                let template = r#"{"auth":"__AUTH__","events_by_user":[{"user_id":1,"events":[{"event_name":"transactional_email_status","event_data":{"job_id":"J1","email":"gone@example.com","status":"hard_bounced","event_time":"2024-09-06 23:22:40","delivery_info":{"delivery_status":"err_user_unknown","destination_response":"550 5.1.1 no such user"}}},{"event_name":"transactional_email_status","event_data":{"job_id":"J1","email":"spam@example.com","status":"spam","event_time":"2024-09-06 23:22:41"}}]}]}"#;
                let body = match cred {
                    Cred::Right => template.replace("__AUTH__", "8ad4706e635c0dad647eb7d2a620d533"),
                    Cred::Wrong => template.replace("__AUTH__", "0123456789abcdef0123456789abcdef"),
                    Cred::Missing => template.replace("\"auth\":\"__AUTH__\",", ""),
                };
                (shown_url(src), vec![], body.into_bytes())
            }),
        },
        Provider::Lettermint => Case {
            scheme: Scheme::Signed,
            create: with_secret,
            request: plain(
                br#"{"id":"d-1","event":"message.hard_bounced","timestamp":"2026-01-15T10:30:00Z","data":{"message_id":"m-1","recipient":"gone@example.com","response":{"status_code":550,"enhanced_status_code":"5.1.1","content":"550 5.1.1 user unknown"}}}"#.to_vec(),
                |secret, body| {
                    let t = now_secs();
                    let mut signed = format!("{t}.").into_bytes();
                    signed.extend_from_slice(body);
                    vec![("x-lettermint-signature", format!("t={t},v1={}", hex_hmac(secret, &signed)))]
                },
            ),
        },
        Provider::ToSend => Case {
            scheme: Scheme::UrlKey,
            create: json!({"provider": name, "name": name}),
            request: Box::new(move |src, cred| {
                let url = shown_url(src);
                let url = match cred {
                    Cred::Right => url,
                    _ => with_key(&url, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                };
                (url, vec![], fixture("tosend", "bounce-hard.json"))
            }),
        },
        Provider::Listmonk => Case {
            scheme: Scheme::ListmonkBasic,
            create: json!({"provider": name, "name": name}),
            request: Box::new(move |src, cred| {
                use base64::Engine;
                let user = src["basic_auth"]["username"].as_str().expect("username");
                let pass = match cred {
                    Cred::Right => src["basic_auth"]["password"].as_str().expect("password"),
                    _ => "not-the-password-0000",
                };
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                let headers = match cred {
                    Cred::Missing => vec![],
                    _ => vec![("authorization", format!("Basic {token}"))],
                };
                (shown_url(src), headers, fixture("listmonk", "generic-bounce-api-hard.json"))
            }),
        },
    }
}

fn rand_u128() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed) as u128;
    (u128::from(std::process::id()) << 64) | (now_secs() as u128) << 32 | n
}

/// What the registry says of a provider's scheme, to compare with the test's.
fn registry_scheme(p: Provider) -> Scheme {
    match p.auth() {
        Auth::UrlKey => Scheme::UrlKey,
        Auth::Sns => Scheme::Sns,
        Auth::Basic if p.basic_in_url() => Scheme::BasicInUrl,
        Auth::Basic => Scheme::ListmonkBasic,
        Auth::Signature | Auth::ProviderSecret | Auth::PublicKey => Scheme::Signed,
    }
}

/// Fresh key pairs, and the real SES notification with its certificate put in `cert_dir`.
fn keys(cert_dir: &std::path::Path) -> &'static Keys {
    let (ses_body, ses_topic) = crate::ses::real_signed_notification(cert_dir);
    let (sendgrid, sendgrid_public) = sendgrid_keys();
    let (postal, postal_public) = postal_keys();
    Box::leak(Box::new(Keys {
        sendgrid,
        sendgrid_public,
        sendgrid_other: sendgrid_keys().0,
        postal,
        postal_public,
        postal_other: postal_keys().0,
        ses_body,
        ses_topic,
    }))
}

/// Rejections counted so far with this provider, status and source (`None`: any).
async fn rejected(app: &TestApp, provider: &str, status: u16, source: Option<&Value>) -> u64 {
    let (_, v) = app.get("/api/v1/log/rejections").await;
    v["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|r| r["provider"] == provider && r["http_status"] == status)
                .filter(|r| source.is_none_or(|s| r["source_id"] == *s))
                .map(|r| r["count"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn every_provider_accepts_its_shown_url_and_refuses_forgeries_there() {
    let cert_dir = tempfile::tempdir().expect("tempdir");
    let keys = keys(cert_dir.path());
    let cfg = rebound_server::ServerConfig {
        sns_cert_dir: Some(cert_dir.path().to_path_buf()),
        ..Default::default()
    };
    let app = spawn_app_with(cfg).await;
    let others: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
    let mut tested = Vec::new();
    for p in Provider::ALL {
        let name = p.name();
        let case = case(p, keys);
        assert_eq!(case.scheme, registry_scheme(p), "{name}: scheme");
        let src = app.create_source(case.create.clone()).await;
        let url = shown_url(&src);
        match case.scheme {
            Scheme::ListmonkBasic => assert_eq!(url, app.url("/webhooks/bounce"), "{name}"),
            _ => assert!(
                url.contains(&format!(
                    "/webhooks/{name}/{}",
                    src["key"].as_str().expect("key")
                )),
                "{name}: the shown URL names the provider and the key: {url}"
            ),
        }

        // Missing and wrong credentials: refused by this provider's own check.
        for cred in [Cred::Missing, Cred::Wrong] {
            if cred == Cred::Missing && case.scheme == Scheme::UrlKey {
                continue; // the URL key is the whole credential: a wrong one is tested
            }
            let (target, headers, body) = (case.request)(&src, cred);
            let expected = match (case.scheme, cred) {
                (Scheme::UrlKey, _) | (Scheme::ListmonkBasic, Cred::Wrong) => 403,
                _ => 401,
            };
            // A 401 is this provider's check refusing this source's request.
            let source =
                (expected == 401 && case.scheme != Scheme::ListmonkBasic).then_some(&src["id"]);
            let before = rejected(&app, name, expected, source).await;
            let (code, v) = app.post_url(&target, &headers, body).await;
            assert_eq!(code, expected, "{name} {cred:?}: {v}");
            assert!(v["error"].is_string(), "{name} {cred:?}: a JSON error: {v}");
            let after = rejected(&app, name, expected, source).await;
            assert_eq!(after, before + 1, "{name} {cred:?}: counted as {name}'s");
        }

        // The right credentials at the shown URL with another key, or another provider's
        // name: 403, whatever the provider.
        if case.scheme != Scheme::ListmonkBasic {
            let (target, headers, body) = (case.request)(&src, Cred::Right);
            let mut forged = vec![with_key(&target, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")];
            forged.extend(others.iter().filter(|o| **o != name).map(|o| {
                target.replace(&format!("/webhooks/{name}/"), &format!("/webhooks/{o}/"))
            }));
            for f in forged {
                let (code, v) = app.post_url(&f, &headers, body.clone()).await;
                assert_eq!(
                    (code, &v),
                    (403, &json!({"error": "forbidden"})),
                    "{name}: {f}"
                );
            }
        }

        // The right credentials at exactly the shown URL: accepted, and the provider's
        // adapter turns it into events of this source.
        let (target, headers, body) = (case.request)(&src, Cred::Right);
        assert_eq!(target, url, "{name}: the request goes to the shown URL");
        let (code, v) = app.post_url(&target, &headers, body).await;
        assert_eq!(code, 200, "{name}: {v}");
        assert_eq!(v["status"], "accepted", "{name}: {v}");
        app.drain().await;
        let (_, events) = app
            .get(&format!("/api/v1/events?source={}", src["id"]))
            .await;
        let items = events["items"].as_array().cloned().unwrap_or_default();
        assert!(
            !items.is_empty(),
            "{name}: no event from the accepted request"
        );
        assert!(
            items.iter().all(|e| e["provider"] == name),
            "{name}: events of another provider: {events}"
        );
        assert!(
            items.iter().any(|e| e["kind"] == "bounce"),
            "{name}: the bounce fixture gives a bounce: {events}"
        );
        tested.push(name);
    }
    assert_eq!(tested.len(), Provider::ALL.len());
}

/// Providers that issue the secret (or key pair) show it only once the webhook URL is
/// pasted in: a source can be created without it, waits for it (requests fail closed with
/// 503, which providers retry), and works through the same URL once it is set.
#[tokio::test]
async fn a_source_takes_its_provider_issued_secret_after_its_url() {
    let keys = keys(tempfile::tempdir().expect("tempdir").path());
    let app = spawn_app().await;
    let mut tested = 0;
    for p in Provider::ALL {
        let name = p.name();
        let issued = match p.auth() {
            Auth::ProviderSecret => "secret",
            Auth::PublicKey => "public_key",
            _ => continue,
        };
        let case = case(p, keys);
        let mut create = case.create.clone();
        let credential = create[issued].take();
        create.as_object_mut().expect("object").remove(issued);
        let src = app.create_source(create).await;
        assert_eq!(src["status"], "waiting for secret", "{name}: {src}");
        let msg = src["status_message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(&format!("rebound source update {}", src["id"])),
            "{name}: {msg}"
        );
        let url = shown_url(&src);
        let (target, headers, body) = (case.request)(&src, Cred::Right);
        let (code, v) = app.post_url(&target, &headers, body).await;
        assert_eq!(code, 503, "{name}: fails closed while waiting: {v}");

        let (code, updated) = app
            .api(
                reqwest::Method::PATCH,
                &format!("/api/v1/sources/{}", src["id"]),
                Some(json!({ issued: credential })),
            )
            .await;
        assert_eq!(code, 200, "{name}: {updated}");
        assert_eq!(updated["status"], "active", "{name}: {updated}");
        assert_eq!(
            shown_url(&updated),
            url,
            "{name}: the URL stays the one pasted"
        );
        let (target, headers, body) = (case.request)(&updated, Cred::Right);
        let (code, v) = app.post_url(&target, &headers, body).await;
        assert_eq!(code, 200, "{name}: {v}");
        tested += 1;
    }
    assert_eq!(tested, 10, "providers that issue their secret or key");

    // What the update takes is checked as at creation.
    let src = app
        .create_source(json!({"provider": "tosend", "name": "T"}))
        .await;
    for (body, status, needle) in [
        (
            json!({"secret": "x".repeat(20)}),
            400,
            "does not use a signing secret",
        ),
        (json!({"public_key": "abc"}), 400, "public_key applies"),
        (json!({"name": ""}), 400, "name must be"),
        (json!({"url_key": "mine"}), 400, "unknown field"),
    ] {
        let (code, v) = app
            .api(
                reqwest::Method::PATCH,
                &format!("/api/v1/sources/{}", src["id"]),
                Some(body.clone()),
            )
            .await;
        assert_eq!(code, status, "{body}: {v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(needle),
            "{body}: {v}"
        );
    }
    let (code, v) = app
        .api(
            reqwest::Method::PATCH,
            "/api/v1/sources/9999",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(code, 404, "{v}");
}

//! Real AWS-signed SNS messages from the shared fixtures verify against their real
//! certificates; any changed byte in a signed field fails; unsigned fields may change.
//! SES payload fixtures normalize to the documented events.

use std::path::PathBuf;

use rebound_core::providers::sns::{self, Envelope};
use rebound_core::{BounceClass, EventKind, Provider, Reason, WebhookRequest};
use serde_json::Value;

fn dir() -> PathBuf {
    let d = std::env::var_os("REBOUND_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("fixtures/providers/ses");
    assert!(
        d.is_dir(),
        "SES fixtures not found at {} (set REBOUND_SHARED_DIR)",
        d.display()
    );
    d
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn certs() -> Vec<(String, Vec<u8>)> {
    [
        "cert-sns-2014-verisign.pem",
        "cert-sns-2019-amazon-rsa.pem",
        "cert-sns-2021-amazon-rsa.pem",
    ]
    .iter()
    .map(|c| {
        (
            c.to_string(),
            sns::public_key_from_pem(&read(c)).expect("cert"),
        )
    })
    .collect()
}

fn signed_fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("sns-") && n.contains("signed"))
        .collect();
    v.sort();
    v
}

fn verifies(env: &Envelope, keys: &[(String, Vec<u8>)]) -> bool {
    keys.iter().any(|(_, k)| sns::verify(env, k).is_ok())
}

#[test]
fn every_real_signed_message_verifies() {
    let keys = certs();
    let files = signed_fixtures();
    assert!(
        files.len() >= 10,
        "expected the signed SNS fixtures, found {files:?}"
    );
    let mut versions = std::collections::BTreeSet::new();
    for f in &files {
        let env = Envelope::parse(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(
            sns::check_cert_url(&env.signing_cert_url).is_ok(),
            "{f}: {}",
            env.signing_cert_url
        );
        assert!(
            verifies(&env, &keys),
            "{f} does not verify with any real certificate"
        );
        versions.insert(env.signature_version.clone());
    }
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), vec!["1", "2"]);
}

#[test]
fn one_changed_byte_in_any_signed_field_fails() {
    let keys = certs();
    for f in signed_fixtures() {
        let env = Envelope::parse(&read(&f)).expect("parse");
        let mut variants: Vec<(&str, Envelope)> = Vec::new();
        let flip = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            let i = b.len() / 2;
            b[i] = if b[i] == b'x' { b'y' } else { b'x' };
            String::from_utf8_lossy(&b).into_owned()
        };
        variants.push((
            "Message",
            Envelope {
                message: flip(&env.message),
                ..env.clone()
            },
        ));
        variants.push((
            "MessageId",
            Envelope {
                message_id: flip(&env.message_id),
                ..env.clone()
            },
        ));
        variants.push((
            "Timestamp",
            Envelope {
                timestamp: flip(&env.timestamp),
                ..env.clone()
            },
        ));
        variants.push((
            "TopicArn",
            Envelope {
                topic_arn: flip(&env.topic_arn),
                ..env.clone()
            },
        ));
        variants.push((
            "Subject",
            Envelope {
                subject: Some(env.subject.clone().map_or("x".into(), |s| flip(&s))),
                ..env.clone()
            },
        ));
        variants.push((
            "SignatureVersion",
            Envelope {
                signature_version: if env.signature_version == "1" {
                    "2".into()
                } else {
                    "1".into()
                },
                ..env.clone()
            },
        ));
        variants.push((
            "Signature",
            Envelope {
                signature: flip(&env.signature),
                ..env.clone()
            },
        ));
        if env.message.ends_with('\n') {
            variants.push((
                "trailing newline",
                Envelope {
                    message: env.message.trim_end().to_string(),
                    ..env.clone()
                },
            ));
        }
        for (what, v) in variants {
            assert!(!verifies(&v, &keys), "{f}: changing {what} still verifies");
        }
    }
}

#[test]
fn unsigned_fields_may_change_and_lambda_keys_are_read() {
    let keys = certs();
    let raw = read("sns-notification-v1-subject-attrs-2015-signed.json");
    let mut v: Value = serde_json::from_slice(&raw).expect("json");
    assert!(v.get("MessageAttributes").is_some());
    v["MessageAttributes"] = serde_json::json!({"changed": {"Type": "String", "Value": "yes"}});
    v["UnsubscribeURL"] = serde_json::json!("https://example.com/whatever");
    let env = Envelope::from_value(&v).expect("parse");
    assert!(verifies(&env, &keys));
    let a =
        Envelope::parse(&read("sns-notification-v1-lambda-keys-2022-signed.json")).expect("lambda");
    let b = Envelope::parse(&read("sns-notification-v1-sha1-2022-signed.json")).expect("http");
    assert_eq!(a, b);
}

#[test]
fn unsupported_signature_versions_are_refused() {
    let keys = certs();
    let env = Envelope::parse(&read("sns-notification-v1-sha1-2022-signed.json")).expect("parse");
    for v in ["", "0", "3", "1 ", "SHA1"] {
        let e = Envelope {
            signature_version: v.into(),
            ..env.clone()
        };
        assert!(
            keys.iter().all(|(_, k)| matches!(
                sns::verify(&e, k),
                Err(sns::SnsError::SignatureVersion(_))
            )),
            "{v:?}"
        );
    }
}

fn parse(body: Vec<u8>) -> Vec<rebound_core::Event> {
    Provider::Ses
        .parse(&WebhookRequest {
            headers: vec![],
            body,
            received_at: 0,
        })
        .expect("parse")
}

/// A fixture and the (recipient, kind, class) of each event it must give.
type Case<'a> = (&'a str, &'a [(&'a str, EventKind, Option<BounceClass>)]);

#[test]
fn ses_payloads_map_to_events() {
    let cases: &[Case] = &[
        (
            "ses-notification-bounce-permanent-no-dsn.json",
            &[("*", EventKind::Bounce, Some(BounceClass::Hard))],
        ),
        (
            "ses-notification-bounce-permanent-with-dsn.json",
            &[("*", EventKind::Bounce, Some(BounceClass::Hard))],
        ),
        (
            "ses-notification-complaint-no-feedback.json",
            &[("*", EventKind::Complaint, None)],
        ),
        (
            "ses-notification-complaint-with-feedback.json",
            &[("*", EventKind::Complaint, None)],
        ),
        (
            "ses-notification-delivery.json",
            &[("*", EventKind::Delivery, None)],
        ),
        (
            "ses-event-bounce.json",
            &[("*", EventKind::Bounce, Some(BounceClass::Hard))],
        ),
        (
            "ses-event-complaint.json",
            &[("*", EventKind::Complaint, None)],
        ),
        (
            "ses-event-delivery.json",
            &[("*", EventKind::Delivery, None)],
        ),
        (
            "ses-event-delayed-delivery.json",
            &[("*", EventKind::Deferred, None)],
        ),
        ("ses-event-open.json", &[("*", EventKind::Open, None)]),
        ("ses-event-click.json", &[("*", EventKind::Click, None)]),
        ("ses-event-send.json", &[("*", EventKind::Other, None)]),
        ("ses-event-reject.json", &[("*", EventKind::Other, None)]),
        ("ses-event-failure.json", &[("*", EventKind::Other, None)]),
        (
            "ses-event-subscription.json",
            &[("*", EventKind::Unsubscribe, None)],
        ),
    ];
    for (file, want) in cases {
        let events = parse(read(file));
        assert!(!events.is_empty(), "{file}: no events");
        for e in &events {
            assert!(
                want.iter().any(|(_, k, c)| *k == e.kind && *c == e.class),
                "{file}: {:?} {:?}",
                e.kind,
                e.class
            );
            assert!(!e.dedup_key.is_empty());
        }
    }
    let b = parse(read("ses-notification-bounce-permanent-with-dsn.json"));
    assert_eq!(b[0].status.as_deref(), Some("5.1.1"));
    assert_eq!(b[0].reason, Some(Reason::UserUnknown));
    assert!(b[0].reason.is_some());
    // Several recipients: one event each, distinct keys.
    let multi = parse(read("anymail-multiple-bounce-event.json"));
    assert!(multi.len() >= 2, "{}", multi.len());
    let keys: std::collections::BTreeSet<_> = multi.iter().map(|e| e.dedup_key.clone()).collect();
    assert_eq!(keys.len(), multi.len());
}

#[test]
fn signed_ses_envelopes_normalize_and_not_spam_does_not_suppress() {
    let bounce = parse(read("sns-ses-notification-bounce-v1-2022-signed.json"));
    assert!(bounce
        .iter()
        .all(|e| e.kind == EventKind::Bounce && e.provider_event_id.is_some()));
    assert!(bounce.iter().all(|e| e.dedup_key.starts_with("ses:")));
    let complaint = parse(read("sns-ses-event-complaint-v1-2022-signed.json"));
    assert!(!complaint.is_empty());
    // The same complaint marked not-spam becomes timeline-only.
    let mut msg: Value =
        serde_json::from_slice(&read("ses-notification-complaint-with-feedback.json"))
            .expect("json");
    msg["complaint"]["complaintFeedbackType"] = "not-spam".into();
    let ev = parse(serde_json::to_vec(&msg).expect("json"));
    assert!(ev
        .iter()
        .all(|e| e.kind == EventKind::Other && e.reason.is_none()));
    // Transient → soft with a reason from the taxonomy.
    let mut t: Value =
        serde_json::from_slice(&read("ses-notification-bounce-permanent-no-dsn.json"))
            .expect("json");
    t["bounce"]["bounceType"] = "Transient".into();
    t["bounce"]["bounceSubType"] = "MailboxFull".into();
    let ev = parse(serde_json::to_vec(&t).expect("json"));
    assert!(ev.iter().all(|e| e.class == Some(BounceClass::Soft)));
    assert!(ev.iter().all(|e| e.reason != Some(Reason::Undefined)));
    // Raw delivery is refused with a message saying what to do.
    let raw = read("ses-notification-bounce-permanent-no-dsn.json");
    let env_err = Envelope::parse(&raw).unwrap_err();
    assert!(env_err.0.contains("raw message delivery"));
}

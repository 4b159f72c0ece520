//! `/sources`: the sources with their status (never a secret: only hints), the form that
//! adds one (its webhook URL and secret shown once, on the answer), and rotating a source's
//! URL key and secret. Creating and rotating go through [`crate::sources`], as the API's.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Form;
use rebound_core::Provider;
use serde::Deserialize;

use super::{render, when, Chrome, CsrfForm, UiError, UiResult};
use crate::auth::session::UiSession;
use crate::auth::Client;
use crate::sources::{self, Audit, CreateSource};
use crate::state::AppState;

pub(super) struct Row {
    id: i64,
    name: String,
    provider: String,
    url: String,
    hints: String,
    status: String,
    message: String,
    created: String,
    /// Why the page offers no "Send a test event" button (webhook sources only).
    no_test: Option<String>,
    /// An SES source's SNS subscription.
    sns: Option<Subscription>,
    /// The provider's set-up steps, HTML rendered from its docs ([`super::setup`]).
    steps: String,
}

/// Where an SES source's SNS subscription stands, from its status and message.
pub(super) struct Subscription {
    /// `pending confirmation`, `confirmed`, `unsubscribed` (or another status, e.g. `error`).
    state: String,
    /// The topic ARN it is (or was) subscribed to, or the ones the source allows.
    topic: String,
    /// What to do in AWS, when there is something to do.
    hint: Option<String>,
}

fn subscription(src: &rebound_store::Source) -> Subscription {
    let message = src.status_message.as_deref().unwrap_or_default();
    let from_message = [
        "subscribed to ",
        "the subscription to ",
        "confirming the subscription to ",
        "could not confirm the subscription to ",
    ]
    .iter()
    .find_map(|p| message.strip_prefix(p))
    .and_then(|rest| rest.split_whitespace().next())
    .filter(|t| t.starts_with("arn:"));
    let allowed: Vec<&str> = src
        .config
        .get("topic_arns")
        .and_then(|t| t.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let topic = match from_message {
        Some(t) => t.trim_end_matches(':').to_string(),
        None if allowed.is_empty() => "the first topic that subscribes".into(),
        None => allowed.join(", "),
    };
    let hint = match src.status.as_str() {
        "confirmed" => None,
        "unsubscribed" => Some(
            "The subscription was deleted in SNS: to receive notifications again, create a \
             subscription to the topic (protocol HTTPS, endpoint = this source's webhook URL; \
             rotate the key to see a new URL)."
                .to_string(),
        ),
        _ => Some(
            "In AWS: SNS → Topics → the topic → Create subscription, protocol HTTPS, endpoint = \
             this source's webhook URL (shown once when it was added; rotate the key to see a \
             new one), raw message delivery off. rebound confirms the subscription by itself \
             when SNS posts the SubscriptionConfirmation; if SNS still shows it \
             \"Pending confirmation\", choose Request confirmation there, then check the \
             request log."
                .to_string(),
        ),
    };
    Subscription {
        state: src.status.clone(),
        topic,
        hint,
    }
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    chrome: Chrome,
    scanned: Option<crate::mailbox::ScanReport>,
    rows: Vec<Row>,
    providers: Vec<&'static str>,
}

/// What the answer to a create or rotate shows, once.
pub(super) struct Shown {
    name: String,
    provider: String,
    webhook_url: String,
    secret: Option<String>,
    basic_auth: Option<(String, String)>,
    status: String,
    message: String,
    steps: String,
}

#[derive(Template)]
#[template(path = "source_rotate.html")]
struct RotatePage {
    chrome: Chrome,
    id: i64,
    name: String,
    provider: String,
}

#[derive(Template)]
#[template(path = "source_shown.html")]
struct ShownPage {
    chrome: Chrome,
    title: &'static str,
    s: Shown,
}

/// `GET /sources`.
pub(super) async fn page(State(state): State<AppState>, s: UiSession) -> UiResult {
    page_with(&state, &s, None).await
}

async fn page_with(
    state: &AppState,
    s: &UiSession,
    scanned: Option<crate::mailbox::ScanReport>,
) -> UiResult {
    let public = &state.config.public_url;
    let rows = state
        .store
        .list_sources()
        .await?
        .into_iter()
        .map(|src| {
            let mailbox = src.provider == crate::mailbox::PROVIDER;
            let mut hints = Vec::new();
            if !mailbox {
                hints.push(format!("key {}", sources::hint(&src.key)));
                if let Some(secret) = &src.secret {
                    hints.push(format!("secret {}", sources::hint(secret)));
                }
            }
            let no_test = (!mailbox)
                .then(|| sources::cannot_send_test_event(&src))
                .flatten();
            let sns = (src.provider == Provider::Ses.name()).then(|| subscription(&src));
            Row {
                no_test,
                sns,
                steps: super::setup::steps_html(&src.provider),
                id: src.id,
                url: if mailbox {
                    // Kept with its password masked.
                    src.config
                        .get("url")
                        .and_then(|u| u.as_str())
                        .unwrap_or_default()
                        .to_string()
                } else {
                    sources::masked_url(public, &src)
                },
                hints: hints.join(", "),
                name: src.name,
                provider: src.provider,
                status: src.status,
                message: src.status_message.unwrap_or_default(),
                created: when(src.created_at),
            }
        })
        .collect();
    render(&SourcesPage {
        chrome: Chrome::new(s, "sources", scanned.as_ref().map(|_| "scanned")),
        scanned,
        rows,
        providers: Provider::ALL.iter().map(|p| p.name()).collect(),
    })
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    topic_arn: String,
}

fn shown(state: &AppState, src: &rebound_store::Source) -> Shown {
    let public = &state.config.public_url;
    Shown {
        name: src.name.clone(),
        provider: src.provider.clone(),
        webhook_url: sources::webhook_url(public, src),
        secret: src.secret.clone(),
        basic_auth: sources::basic_auth(src),
        status: src.status.clone(),
        message: src.status_message.clone().unwrap_or_default(),
        steps: super::setup::steps_html(&src.provider),
    }
}

/// `POST /sources`: creates a source as `POST /api/v1/sources` does; the answer shows its
/// webhook URL (and secret) this once.
pub(super) async fn create(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    if f.provider == crate::mailbox::PROVIDER {
        return Err(UiError::new(
            StatusCode::BAD_REQUEST,
            "add a mailbox with `rebound source add --provider mailbox` or the API",
        ));
    }
    let topic = f.topic_arn.trim();
    let req = CreateSource {
        provider: f.provider.clone(),
        name: f.name.trim().to_string(),
        secret: None,
        signature_header: None,
        username: None,
        public_key: None,
        topic_arns: (!topic.is_empty()).then(|| vec![topic.to_string()]),
        trust_first_topic: None,
        url: None,
        trust: None,
    };
    let src = sources::create(&state.store, req)
        .await
        .map_err(crate::error::ApiError::from)?;
    state.sources.reload(&state.store).await?;
    render(&ShownPage {
        chrome: Chrome::new(&s, "sources", None),
        title: "Source added",
        s: shown(&state, &src),
    })
}

/// `GET /sources/{id}/rotate`: asks before rotating (the old URL stops working at once).
pub(super) async fn confirm_rotate(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
) -> UiResult {
    let src = state
        .store
        .list_sources()
        .await?
        .into_iter()
        .find(|src| src.id == id)
        .ok_or_else(|| UiError::new(StatusCode::NOT_FOUND, format!("no source {id}")))?;
    render(&RotatePage {
        chrome: Chrome::new(&s, "sources", None),
        id,
        name: src.name,
        provider: src.provider,
    })
}

/// `POST /sources/{id}/rotate`: a new URL key (and generated secret), as
/// `POST /api/v1/sources/{id}/rotate`; the old ones stop working at once.
pub(super) async fn rotate(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    Client(client): Client,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let who = Audit {
        method: "POST".into(),
        path: format!("/sources/{id}/rotate"),
        remote: client.map(|ip| ip.to_string()),
    };
    let src = sources::rotate(&state.store, id, &who)
        .await
        .map_err(crate::error::ApiError::from)?;
    state.sources.reload(&state.store).await?;
    render(&ShownPage {
        chrome: Chrome::new(&s, "sources", None),
        title: "New URL key",
        s: shown(&state, &src),
    })
}

/// `POST /sources/{id}/scan`: one pass over a mailbox source now
/// ([`sources::scan_now`], as `POST /api/v1/sources/{id}/scan`); the sources page with what
/// the pass did.
pub(super) async fn scan(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let report = sources::scan_now(&state, id).await?;
    page_with(&state, &s, Some(report)).await
}

/// `POST /sources/{id}/test`: sends a test event through the source's webhook (as
/// `POST /api/v1/sources/{id}/test`), then shows the request it made in the log.
pub(super) async fn test(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let sent = sources::send_test_event(&state, id).await?;
    Ok(match sent.log_id {
        Some(log_id) => super::back(&format!("/log/{log_id}?done=tested")),
        None => super::back("/log?done=tested"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ses(status: &str, message: Option<&str>, topics: serde_json::Value) -> Subscription {
        subscription(&rebound_store::Source {
            id: 1,
            provider: "ses".into(),
            name: "SES".into(),
            key: "k".into(),
            secret: None,
            config: serde_json::json!({ "topic_arns": topics }),
            status: status.into(),
            status_message: message.map(str::to_string),
            created_at: 0,
        })
    }

    /// The states the SNS flow in `ingest` leaves, as the page tells them.
    #[test]
    fn sns_subscription_states() {
        let arn = "arn:aws:sns:us-east-1:123456789012:ses-bounces";
        let pending = ses(
            "pending confirmation",
            Some("waiting for SNS to send the SubscriptionConfirmation"),
            serde_json::json!([arn]),
        );
        assert_eq!(pending.topic, arn);
        assert!(pending
            .hint
            .is_some_and(|h| h.contains("Create subscription")));
        let failed = ses(
            "pending confirmation",
            Some(&format!(
                "could not confirm the subscription to {arn}: timed out"
            )),
            serde_json::json!([]),
        );
        assert_eq!(failed.topic, arn);
        let confirmed = ses(
            "confirmed",
            Some(&format!("subscribed to {arn}")),
            serde_json::json!([]),
        );
        assert_eq!((confirmed.topic.as_str(), confirmed.hint), (arn, None));
        let gone = ses(
            "unsubscribed",
            Some(&format!("the subscription to {arn} was deleted")),
            serde_json::json!([arn]),
        );
        assert_eq!(gone.topic, arn);
        assert!(gone.hint.is_some_and(|h| h.contains("deleted")));
        let first = ses("pending confirmation", None, serde_json::json!([]));
        assert_eq!(first.topic, "the first topic that subscribes");
    }
}

//! "Send a test event" (`POST /api/v1/sources/{id}/test`, the Sources page's button): a hard
//! bounce for a fresh `rebound-test-…@example.com` address, in the provider's own shape and
//! signed the provider's way with the source's credentials
//! ([`rebound_core::providers::sample`]), sent through the whole application — the source's
//! webhook path, its authentication, the durable inbox, then the workers and the policy —
//! exactly as the provider's request would be. The answer says where it ended up: the HTTP
//! status the provider would have seen and the request log entry.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use rebound_core::providers::{sample, Auth, Provider, SourceAuth};
use rebound_store::Source;
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt;

use super::{basic_auth, endpoint, signing_url};
use crate::error::ApiError;
use crate::state::{now_ms, AppState};

/// Where a test event ended up.
#[derive(Debug, Serialize)]
pub struct TestEvent {
    /// The source's provider.
    pub provider: String,
    /// The address the test bounce is about (suppressed afterwards, as a real one would be).
    pub email: String,
    /// The status rebound answered the request with, as the provider would have seen it.
    pub http_status: u16,
    /// rebound's answer to the request.
    pub answer: Value,
    /// The request log entry (`/log/{id}` in the UI, `GET /api/v1/log/{id}`), when stored.
    pub log_id: Option<i64>,
}

/// Why no test event can be sent through `source` (one sentence, shown by the Sources page
/// instead of the button and by the API's 400), or `None` when one can.
pub fn cannot_send(source: &Source) -> Option<String> {
    let Some(provider) = Provider::from_name(&source.provider) else {
        return Some("a mailbox source has no webhook: use scan now".into());
    };
    if let Some(why) = sample::unavailable(provider) {
        return Some(why.into());
    }
    let signs = matches!(provider.auth(), Auth::Signature | Auth::ProviderSecret);
    if signs && source.secret.as_deref().is_none_or(str::is_empty) {
        return Some(format!(
            "The source has no signing secret yet: set the one {name} shows (`rebound source \
             update {id} --secret …` or PATCH /api/v1/sources/{id}), then send a test event.",
            name = provider.name(),
            id = source.id
        ));
    }
    None
}

/// Sends a test hard bounce through source `id`'s webhook.
pub async fn send(state: &AppState, id: i64) -> Result<TestEvent, ApiError> {
    let source = state
        .store
        .list_sources()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no source {id}")))?;
    if let Some(why) = cannot_send(&source) {
        return Err(ApiError::bad_request(why));
    }
    let Some(provider) = Provider::from_name(&source.provider) else {
        return Err(ApiError::bad_request("not a provider"));
    };
    let email = format!(
        "rebound-test-{}@example.com",
        hex::encode(rand::random::<[u8; 4]>())
    );
    let event_id = format!("rebound-test-{}", hex::encode(rand::random::<[u8; 8]>()));
    let at = rebound_core::timestamp::format(now_ms());
    let basic = basic_auth(&source);
    let url = signing_url(&state.config.public_url, &source);
    let auth = SourceAuth {
        secret: source.secret.as_deref(),
        signature_header: source
            .config
            .get("signature_header")
            .and_then(|h| h.as_str()),
        config: Some(&source.config),
        basic: basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        url: Some(&url),
    };
    let Some(made) = sample::hard_bounce(provider, auth, &email, &event_id, &at) else {
        return Err(ApiError::bad_request(format!(
            "rebound cannot make a {} request with this source's credentials",
            provider.name()
        )));
    };
    let mut req = Request::post(endpoint("", &source))
        .header(header::CONTENT_TYPE, made.content_type)
        .header(header::USER_AGENT, "rebound-test-event");
    for (name, value) in &made.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some((user, pass)) = &basic {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        req = req.header(header::AUTHORIZATION, format!("Basic {token}"));
    }
    let req = req
        .body(Body::from(made.body))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let resp = crate::router(state.clone())
        .oneshot(req)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let http_status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(TestEvent {
        provider: provider.name().into(),
        email,
        http_status,
        log_id: answer.get("id").and_then(Value::as_i64),
        answer,
    })
}

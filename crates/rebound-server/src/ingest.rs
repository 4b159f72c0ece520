//! Webhooks in. The order of checks is the contract:
//!
//! 1. URL key (or basic auth) → 403, identical for every kind of miss;
//! 2. body size → 413, without buffering past the limit;
//! 3. provider verification on the raw bytes → 401 (503 when the source has no secret:
//!    rebound fails closed, and a code providers retry on keeps the events coming back);
//! 4. body shape → 400 naming the problem;
//! 5. durable inbox write → 200, or 503 when storage fails (never 2xx, never 403/406/410).
//!
//! Every request, accepted or not, lands in the request log.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use http_body_util::{BodyExt, Limited};
use rebound_core::providers::sns::{self, Envelope, MessageType};
use rebound_core::providers::SourceAuth;
use rebound_core::signature::{ct_eq, VerifyError};
use rebound_core::{Provider, Recipient, WebhookRequest};
use rebound_store::{NewInbox, NewLogEntry, Source};

use crate::error::{ApiError, ErrorBody};
use crate::sns::CertError;
use crate::state::{now_ms, AppState};

/// Headers never kept in the inbox (credentials).
const DROPPED_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

struct Ctx {
    received_at: i64,
    /// Tells this request apart from any other (the holder of the locks it takes).
    nonce: u64,
    method: String,
    path: String,
    remote: Option<String>,
    provider: Option<String>,
    source_id: Option<i64>,
}

/// How long a Mailgun token is remembered: longer than its signature tolerance.
const TOKEN_TTL_MS: i64 = 60 * 60 * 1000;

impl Ctx {
    /// The lock that stands for a Mailgun token of this source: taken by the first request
    /// that carries it, on every node (the database's named locks).
    fn token_lock(&self, source_id: i64, wreq: &WebhookRequest) -> Option<(String, String)> {
        let token = rebound_core::providers::mailgun::token(wreq)?;
        Some((
            format!("mailgun:{source_id}:{token}"),
            format!("{}-{:x}", self.received_at, self.nonce),
        ))
    }

    fn log(&self, status: StatusCode, outcome: &str, error: Option<String>) -> NewLogEntry {
        NewLogEntry {
            received_at: self.received_at,
            source_id: self.source_id,
            provider: self.provider.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            remote_addr: self.remote.clone(),
            http_status: status.as_u16(),
            outcome: outcome.into(),
            error,
        }
    }
}

/// Answers a rejection. It is counted; a sample of rejections (the first of each kind in a
/// minute) is also logged and kept in the request log (see [`crate::rejections`]).
async fn reject(state: &AppState, ctx: &Ctx, err: ApiError) -> Response {
    let mut entry = ctx.log(err.status, "rejected", Some(err.message.clone()));
    if state.rejections.note(&mut entry) {
        tracing::info!(status = err.status.as_u16(), path = %ctx.path, error = entry.error.as_deref().unwrap_or_default(), "webhook rejected");
        if let Err(e) = state.store.log_request(entry).await {
            tracing::error!(error = %e, "could not log a rejected request");
        }
    }
    err.into_response()
}

fn forbidden() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden")
}

fn ctx_of(state: &AppState, req: &Request, path: String, provider: Option<String>) -> Ctx {
    Ctx {
        received_at: now_ms(),
        nonce: rand::random(),
        method: req.method().to_string(),
        path,
        remote: crate::auth::request_client(req, &state.config.trusted_proxies)
            .map(|ip| ip.to_string()),
        provider,
        source_id: None,
    }
}

/// The name of the basic-auth security scheme in the OpenAPI document (`POST /webhooks/bounce`).
pub const BASIC: &str = "basic";

/// The path parameters of the provider webhooks, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct WebhookPath {
    /// The source's provider: `ses`, `sendgrid`, `postmark`, `mailgun`, `resend`, `generic`, …
    /// An unknown provider is answered 404.
    provider: String,
    /// The source's URL key (as its `webhook_url` shows it).
    key: String,
}

/// The longest URL key looked up (keys rebound makes are 32 characters).
const MAX_KEY_LEN: usize = 128;

/// `HEAD /webhooks/{provider}/{key}`: providers (Mandrill) check that the URL answers before
/// saving it. Empty 200; says nothing about whether the key exists.
#[utoipa::path(
    head,
    path = "/webhooks/{provider}/{key}",
    tag = "webhooks",
    params(WebhookPath),
    responses((status = 200, description = "Always, empty: says nothing about the key.")),
)]
pub async fn probe() -> StatusCode {
    StatusCode::OK
}

/// `GET /webhooks/{provider}/{key}`: Unisender Go checks its webhook URL with a GET when it
/// is set up. Other providers deliver events with POST only, so a GET there is answered 405:
/// a sender that delivered events by GET would otherwise get 200 for events never stored.
#[utoipa::path(
    get,
    path = "/webhooks/{provider}/{key}",
    tag = "webhooks",
    params(WebhookPath),
    responses(
        (status = 200, description = "Empty, for `unisender-go` (its URL check)."),
        (status = 405, description = "Any other provider: events are delivered with POST.",
         body = ErrorBody),
    ),
)]
pub async fn get_probe(Path((provider, _key)): Path<(String, String)>) -> Response {
    if provider == Provider::UnisenderGo.name() {
        return StatusCode::OK.into_response();
    }
    crate::error::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "webhook events are delivered with POST",
    )
    .into_response()
}

/// `POST /webhooks/{provider}/{key}`; counted in [`crate::metrics::WEBHOOKS`] under the
/// provider's own name (`unknown` for a name that is none: never the URL's text).
#[utoipa::path(
    post,
    path = "/webhooks/{provider}/{key}",
    tag = "webhooks",
    params(WebhookPath),
    request_body(
        description = "The provider's payload as it sends it (JSON, form or SNS envelope), \
                       verified on its raw bytes.",
        content(("*/*")),
    ),
    responses(
        (status = 200, description = "Stored durably in the inbox (or an SNS subscription \
         confirmed); processed later.", body = Object),
        (status = 400, description = "The body is not the provider's shape.", body = ErrorBody),
        (status = 401, description = "The signature does not verify.", body = ErrorBody),
        (status = 403, description = "Unknown key, or a key of another provider.",
         body = ErrorBody),
        (status = 404, description = "Unknown provider.", body = ErrorBody),
        (status = 413, description = "The body is over the webhook limit.", body = ErrorBody),
        (status = 503, description = "Storage failed, or the source has no secret yet: \
         retry later.", body = ErrorBody),
    ),
)]
pub async fn webhook(
    State(state): State<AppState>,
    Path((provider, key)): Path<(String, String)>,
    req: Request,
) -> Response {
    let p = Provider::from_name(&provider);
    let resp = webhook_for(state, p, key, req).await;
    crate::metrics::webhook(p.map_or("unknown", Provider::name), &resp);
    resp
}

async fn webhook_for(state: AppState, p: Option<Provider>, key: String, req: Request) -> Response {
    // Only a provider's own name goes into the log: anything else is a 404 that echoes
    // nothing of what was asked.
    let Some(p) = p else {
        let ctx = ctx_of(&state, &req, "/webhooks/<unknown>/<key>".into(), None);
        let err = ApiError::new(StatusCode::NOT_FOUND, "no such endpoint");
        return reject(&state, &ctx, err).await;
    };
    let mut ctx = ctx_of(
        &state,
        &req,
        format!("/webhooks/{}/<key>", p.name()),
        Some(p.name().into()),
    );
    let source = if key.len() <= MAX_KEY_LEN {
        match state.sources.lookup(&state.store, &key).await {
            Ok(s) => s,
            Err(e) => return reject(&state, &ctx, ApiError::from(e)).await,
        }
    } else {
        None
    };
    let Some(source) = source.filter(|s| s.provider == p.name()) else {
        return reject(&state, &ctx, forbidden()).await;
    };
    ctx.source_id = Some(source.id);
    accept(state, ctx, p, source, req).await
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `POST /webhooks/bounce`: listmonk's bounce API, HTTP basic auth (username from the
/// source, password = the source's key).
#[utoipa::path(
    post,
    path = "/webhooks/bounce",
    tag = "webhooks",
    security(("basic" = [])),
    request_body(
        description = "listmonk's bounce API body: `{\"email\" or \"subscriber_uuid\", \
                       \"source\", \"type\": \"hard|soft|complaint\", \"meta\"}`.",
        content(("application/json")),
    ),
    responses(
        (status = 200, description = "Stored durably in the inbox; processed later.",
         body = Object),
        (status = 400, description = "The body is not listmonk's shape.", body = ErrorBody),
        (status = 401, description = "No basic auth (`WWW-Authenticate: Basic`).",
         body = ErrorBody),
        (status = 403, description = "Wrong username or password.", body = ErrorBody),
        (status = 413, description = "The body is over the webhook limit.", body = ErrorBody),
        (status = 503, description = "Storage failed: retry later.", body = ErrorBody),
    ),
)]
pub async fn listmonk_bounce(State(state): State<AppState>, req: Request) -> Response {
    let resp = listmonk_bounce_for(state, req).await;
    crate::metrics::webhook(Provider::Listmonk.name(), &resp);
    resp
}

async fn listmonk_bounce_for(state: AppState, req: Request) -> Response {
    let ctx = ctx_of(
        &state,
        &req,
        "/webhooks/bounce".into(),
        Some("listmonk".into()),
    );
    let Some((user, pass)) = basic_credentials(req.headers()) else {
        let err = ApiError::new(StatusCode::UNAUTHORIZED, "basic auth required");
        let mut resp = reject(&state, &ctx, err).await;
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"rebound\""),
        );
        return resp;
    };
    let source = match state.sources.lookup(&state.store, &pass).await {
        Ok(s) => s,
        Err(e) => return reject(&state, &ctx, ApiError::from(e)).await,
    };
    let Some(source) = source.filter(|s| s.provider == Provider::Listmonk.name()) else {
        return reject(&state, &ctx, forbidden()).await;
    };
    let expected_user = crate::sources::basic_auth(&source)
        .map(|(u, _)| u)
        .unwrap_or_default();
    if !ct_eq(expected_user.as_bytes(), user.as_bytes()) {
        return reject(&state, &ctx, forbidden()).await;
    }
    let ctx = Ctx {
        source_id: Some(source.id),
        ..ctx
    };
    accept(state, ctx, Provider::Listmonk, source, req).await
}

/// Reads a body of at most `limit` bytes (413 past it, without buffering more).
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(ApiError::bad_request(format!(
            "could not read the body: {e}"
        ))),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body larger than the limit of {limit} bytes"),
    )
}

async fn accept(
    state: AppState,
    ctx: Ctx,
    p: Provider,
    source: Arc<Source>,
    req: Request,
) -> Response {
    let limit = state.config.body_limit;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return reject(&state, &ctx, too_large(limit)).await;
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body, limit).await {
        Ok(b) => b,
        Err(e) => return reject(&state, &ctx, e).await,
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let wreq = WebhookRequest {
        headers,
        body,
        received_at: ctx.received_at,
    };

    if p == Provider::Ses {
        if let Err(resp) = sns_flow(&state, &ctx, &source, &wreq).await {
            return resp;
        }
    } else if let Err(resp) = verify_and_validate(&state, &ctx, p, &source, &wreq).await {
        return resp;
    }
    store_and_ack(state, ctx, p, &source, wreq).await
}

/// Signature and shape checks of every provider but SNS.
async fn verify_and_validate(
    state: &AppState,
    ctx: &Ctx,
    p: Provider,
    source: &Source,
    wreq: &WebhookRequest,
) -> Result<(), Response> {
    let basic = crate::sources::basic_auth(source);
    let signing_url = crate::sources::signing_url(&state.config.public_url, source);
    let auth = SourceAuth {
        secret: source.secret.as_deref(),
        signature_header: source
            .config
            .get("signature_header")
            .and_then(|h| h.as_str()),
        config: Some(&source.config),
        basic: basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        url: Some(&signing_url),
    };
    if let Err(e) = p.verify(wreq, auth, ctx.received_at) {
        let err = match e {
            VerifyError::NoSecret => {
                let msg = "this source has no signing secret, key or credentials configured: requests are refused until one is set";
                // A source created without its provider's secret already says so.
                if source.status != crate::sources::WAITING {
                    let _ = state
                        .store
                        .set_source_status(source.id, "error", Some(msg))
                        .await;
                }
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg)
            }
            other => ApiError::new(StatusCode::UNAUTHORIZED, other.to_string()),
        };
        return Err(reject(state, ctx, err).await);
    }
    if p == Provider::Mailgun {
        if let Some((name, holder)) = ctx.token_lock(source.id, wreq) {
            let until = ctx.received_at + TOKEN_TTL_MS;
            match state
                .store
                .try_lock(&name, &holder, until, ctx.received_at)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    let err = ApiError::new(StatusCode::UNAUTHORIZED, "replayed token");
                    return Err(reject(state, ctx, err).await);
                }
                Err(e) => return Err(ApiError::from(e).into_response()),
            }
        }
    }
    let events = match p.parse(wreq) {
        Ok(ev) => ev,
        Err(e) => return Err(reject(state, ctx, ApiError::bad_request(e.0)).await),
    };
    for e in &events {
        if let Recipient::ContactUuid(u) = &e.recipient {
            match state.store.contact_by_uuid(u).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let err = ApiError::bad_request(format!("unknown subscriber_uuid '{u}'"));
                    return Err(reject(state, ctx, err).await);
                }
                Err(e) => return Err(ApiError::from(e).into_response()),
            }
        }
    }
    Ok(())
}

/// The topics a source accepts, and whether it trusts the first one that subscribes.
fn topic_policy(source: &Source) -> (Vec<String>, bool) {
    let topics = source
        .config
        .get("topic_arns")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let trust_first = source
        .config
        .get("trust_first_topic")
        .and_then(|t| t.as_bool())
        == Some(true);
    (topics, trust_first)
}

/// Amazon SNS: TopicArn allowlist first (before any outbound request), then the signing
/// certificate and the signature, then the message type. Confirmations are answered here
/// (`Err` carries the response); a verified notification returns `Ok` to be stored.
async fn sns_flow(
    state: &AppState,
    ctx: &Ctx,
    source: &Source,
    wreq: &WebhookRequest,
) -> Result<(), Response> {
    let env = match Envelope::parse(&wreq.body) {
        Ok(env) => env,
        Err(e) => return Err(reject(state, ctx, ApiError::bad_request(e.0)).await),
    };
    let (topics, trust_first) = topic_policy(source);
    let pinning = topics.is_empty() && trust_first;
    if !topics.contains(&env.topic_arn) && !pinning {
        let err = ApiError::new(
            StatusCode::FORBIDDEN,
            format!("topic {} is not allowed for this source", env.topic_arn),
        );
        return Err(reject(state, ctx, err).await);
    }
    if pinning && env.kind != MessageType::SubscriptionConfirmation {
        let err = ApiError::new(
            StatusCode::FORBIDDEN,
            "no topic has subscribed to this source yet: the first message must be a SubscriptionConfirmation",
        );
        return Err(reject(state, ctx, err).await);
    }
    let key = match state.sns.public_key(&env.signing_cert_url).await {
        Ok(k) => k,
        Err(CertError::Rejected(e)) => {
            return Err(reject(
                state,
                ctx,
                ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()),
            )
            .await)
        }
        Err(CertError::Unavailable(e)) => {
            let err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("signing certificate unavailable: {e}"),
            );
            return Err(reject(state, ctx, err).await);
        }
    };
    if let Err(e) = sns::verify(&env, &key) {
        return Err(reject(
            state,
            ctx,
            ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()),
        )
        .await);
    }
    match env.kind {
        MessageType::Notification => match Provider::Ses.parse(wreq) {
            Ok(_) => Ok(()),
            Err(e) => Err(reject(state, ctx, ApiError::bad_request(e.0)).await),
        },
        MessageType::SubscriptionConfirmation => {
            let url = env.subscribe_url.clone().unwrap_or_default();
            if let Err(e) = sns::check_subscribe_url(&url, &env.topic_arn) {
                return Err(reject(state, ctx, ApiError::bad_request(e.to_string())).await);
            }
            let msg = format!("confirming the subscription to {}", env.topic_arn);
            let _ = state
                .store
                .set_source_status(source.id, "pending confirmation", Some(&msg))
                .await;
            if let Err(e) = state.sns.confirm(&url).await {
                let msg = format!(
                    "could not confirm the subscription to {}: {e}",
                    env.topic_arn
                );
                let _ = state
                    .store
                    .set_source_status(source.id, "pending confirmation", Some(&msg))
                    .await;
                return Err(reject(
                    state,
                    ctx,
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg),
                )
                .await);
            }
            if pinning {
                let mut config = source.config.clone();
                config["topic_arns"] = serde_json::json!([env.topic_arn]);
                if let Err(e) = state.store.set_source_config(source.id, config).await {
                    return Err(ApiError::from(e).into_response());
                }
            }
            let msg = format!("subscribed to {}", env.topic_arn);
            let _ = state
                .store
                .set_source_status(source.id, "confirmed", Some(&msg))
                .await;
            let _ = state.sources.reload(&state.store).await;
            Err(answer(state, ctx, "subscription-confirmed", &msg).await)
        }
        MessageType::UnsubscribeConfirmation => {
            let msg = format!("the subscription to {} was deleted", env.topic_arn);
            let _ = state
                .store
                .set_source_status(source.id, "unsubscribed", Some(&msg))
                .await;
            Err(answer(state, ctx, "unsubscribed", &msg).await)
        }
    }
}

/// Answers 200 to a request that is not stored in the inbox, logging what happened.
async fn answer(state: &AppState, ctx: &Ctx, outcome: &str, note: &str) -> Response {
    tracing::info!(path = %ctx.path, outcome, note, "sns");
    let entry = ctx.log(StatusCode::OK, outcome, Some(note.to_string()));
    if let Err(e) = state.store.log_request(entry).await {
        tracing::error!(error = %e, "could not log a request");
    }
    let mut resp = (
        StatusCode::OK,
        Json(serde_json::json!({ "status": outcome, "message": note })),
    )
        .into_response();
    resp.extensions_mut().insert(crate::metrics::NotStored);
    resp
}

async fn store_and_ack(
    state: AppState,
    ctx: Ctx,
    p: Provider,
    source: &Source,
    wreq: WebhookRequest,
) -> Response {
    // The token lock taken in `verify_and_validate`: given up if the request is not stored,
    // so the provider's retry gets through.
    let token_lock = (p == Provider::Mailgun)
        .then(|| ctx.token_lock(source.id, &wreq))
        .flatten();
    let item = NewInbox {
        source_id: source.id,
        provider: p.name().to_string(),
        received_at: ctx.received_at,
        // Credentials are checked, never stored.
        headers: wreq
            .headers
            .into_iter()
            .filter(|(n, _)| !DROPPED_HEADERS.contains(&n.as_str()))
            .collect(),
        body: wreq.body,
    };
    let log = ctx.log(StatusCode::OK, "accepted", None);
    let write = state.store.ingest(item, log);
    match tokio::time::timeout(state.config.ack_timeout, write).await {
        Ok(Ok(id)) => {
            state.wake.notify_one();
            state
                .last_ingest
                .store(ctx.received_at, std::sync::atomic::Ordering::Relaxed);
            (
                StatusCode::OK,
                Json(serde_json::json!({ "status": "accepted", "id": id })),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            give_up(&state, token_lock).await;
            tracing::error!(error = %e, "inbox write failed; answering 503 so the provider retries");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable, retry later",
            )
            .into_response()
        }
        Err(_) => {
            give_up(&state, token_lock).await;
            tracing::error!("inbox write timed out; answering 503 so the provider retries");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage busy, retry later")
                .into_response()
        }
    }
}

/// Gives up a request's token lock (its write failed: the retry must get through).
async fn give_up(state: &AppState, lock: Option<(String, String)>) {
    if let Some((name, holder)) = lock {
        if let Err(e) = state.store.unlock(&name, &holder).await {
            tracing::warn!(error = %e, "could not give up a token lock");
        }
    }
}

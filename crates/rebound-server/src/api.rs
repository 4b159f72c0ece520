//! The admin JSON API under `/api/v1`. Every route needs `Authorization: Bearer <token>`;
//! every error is `{"error": "..."}` with a fitting status code.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rebound_core::{Address, Policy, Provider, Status};
use rebound_store::{
    Contact, ContactFilter, ContactPatch, EventFilter, LogFilter, NewContact, NewSource, Source,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::ingest::listmonk_username;
use crate::state::{digest, now_ms, AppState};

type ApiResult<T = Response> = Result<T, ApiError>;

/// The `/api/v1` routes, behind the bearer-token check.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/sources", get(list_sources).post(create_source))
        .route("/sources/{id}/scan", post(scan_source))
        .route("/verp", post(verp_encode))
        .route("/suppressions/check", post(check_suppressions))
        .route("/suppressions/{email}", get(get_suppression))
        .route("/contacts", get(list_contacts).post(create_contact))
        .route(
            "/contacts/{email}",
            get(get_contact).patch(patch_contact).delete(delete_contact),
        )
        .route("/events", get(list_events))
        .route("/log", get(list_log))
        .route("/log/{id}/replay", post(replay))
        .route("/settings", get(get_settings).put(put_settings))
        .fallback(crate::error::not_found)
        .layer(middleware::from_fn_with_state(state, require_admin))
}

async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    if state.auth_failures.blocked(&peer, now_ms()) {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed authentication attempts; try again in a minute",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return resp;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match token {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing admin token (Authorization: Bearer <token>)",
        )
        .into_response(),
        Some(t)
            if rebound_core::signature::ct_eq(&digest(t), state.admin_token_hash.as_slice()) =>
        {
            next.run(req).await
        }
        Some(_) => {
            state.auth_failures.record(&peer, now_ms());
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid admin token").into_response()
        }
    }
}

/// Parses a JSON body into `T`, answering 400 with serde's description of the problem.
fn parse_json<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn parse_address(s: &str) -> ApiResult<Address> {
    Address::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn parse_status(s: &str) -> ApiResult<Status> {
    Status::parse(s).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown status '{s}' (expected subscribed, unsubscribed, bounced or complained)"
        ))
    })
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the store answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.inbox_counts().await {
        Ok(c) => Json(json!({ "status": "ready", "inbox": c })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

// ---------------------------------------------------------------- sources

/// The JSON shape of a source, with its webhook URL.
pub fn source_json(public_url: &str, s: &Source) -> Value {
    if s.provider == crate::mailbox::PROVIDER {
        // The password is never shown again: the URL is kept with it masked.
        return json!({
            "id": s.id,
            "provider": s.provider,
            "name": s.name,
            "url": s.config.get("url"),
            "trust": s.config.get("trust").and_then(|t| t.as_str()).unwrap_or("(setting mailbox_trust)"),
            "status": s.status,
            "status_message": s.status_message,
            "created_at": rebound_core::timestamp::format(s.created_at),
        });
    }
    let base = public_url.trim_end_matches('/');
    let mut v = json!({
        "id": s.id,
        "provider": s.provider,
        "name": s.name,
        "key": s.key,
        "webhook_url": format!("{base}/webhooks/{}/{}", s.provider, s.key),
        "status": s.status,
        "status_message": s.status_message,
        "created_at": rebound_core::timestamp::format(s.created_at),
    });
    if let Some(secret) = &s.secret {
        v["secret"] = json!(secret);
    }
    for k in ["topic_arns", "trust_first_topic"] {
        if let Some(x) = s.config.get(k) {
            v[k] = x.clone();
        }
    }
    if let Some(h) = s.config.get("signature_header") {
        v["signature_header"] = h.clone();
    }
    if s.provider == Provider::Listmonk.name() {
        v["webhook_url"] = json!(format!("{base}/webhooks/bounce"));
        v["basic_auth"] = json!({ "username": listmonk_username(s), "password": s.key });
    }
    if Provider::from_name(&s.provider).is_some_and(Provider::basic_in_url) {
        let user = s
            .config
            .get("username")
            .and_then(|u| u.as_str())
            .unwrap_or(&s.provider);
        let pass = s.secret.as_deref().unwrap_or_default();
        let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
        v["webhook_url"] = json!(format!(
            "{scheme}://{user}:{pass}@{rest}/webhooks/postmark/{}",
            s.key
        ));
        v["basic_auth"] = json!({ "username": user, "password": pass });
    }
    if let Some(k) = s.config.get("public_key") {
        v["public_key"] = k.clone();
    }
    v
}

/// What creating a source takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// Provider name.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// The signing secret, when the sender chose it (else one is generated).
    #[serde(default)]
    pub secret: Option<String>,
    /// Signature header name (generic provider).
    #[serde(default)]
    pub signature_header: Option<String>,
    /// Basic-auth username (listmonk).
    #[serde(default)]
    pub username: Option<String>,
    /// The provider's public key (sendgrid: base64 DER, as shown in its settings).
    #[serde(default)]
    pub public_key: Option<String>,
    /// SNS topics allowed to post (ses).
    #[serde(default)]
    pub topic_arns: Option<Vec<String>>,
    /// Trust the first topic that subscribes (ses), when no `topic_arns` are given.
    #[serde(default)]
    pub trust_first_topic: Option<bool>,
    /// The mailbox URL (mailbox): `imaps://USER:PASSWORD@HOST/FOLDER?after=…`.
    #[serde(default)]
    pub url: Option<String>,
    /// Which recipients a mailbox's bounces may change (mailbox): `verp`,
    /// `known-contact` (default) or `any`.
    #[serde(default)]
    pub trust: Option<String>,
}

fn random_b64(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Validates a source request and turns it into a [`NewSource`] with a fresh key (192
/// random bits) and, for signing providers, a generated secret unless one was given.
pub fn new_source(req: CreateSource) -> Result<NewSource, String> {
    if req.provider == crate::mailbox::PROVIDER {
        return new_mailbox_source(req);
    }
    if req.url.is_some() || req.trust.is_some() {
        return Err("url and trust apply to the mailbox provider".into());
    }
    let provider = Provider::from_name(&req.provider).ok_or_else(|| {
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown provider '{}' (known: {})",
            req.provider,
            names.join(", ")
        )
    })?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err("name must be 1 to 200 characters".into());
    }
    let mut config = serde_json::Map::new();
    let secret = match provider.auth() {
        rebound_core::providers::Auth::Signature => match req.secret {
            Some(s) if s.len() < 16 => return Err("secret must be at least 16 characters".into()),
            Some(s) => Some(s),
            None => Some(format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD
                    .encode((0..32).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())
            )),
        },
        rebound_core::providers::Auth::ProviderSecret => match req.secret {
            Some(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => {
                return Err(format!(
                    "provider '{}' signs with a secret it issues: pass it as secret (the webhook signing key from its dashboard)",
                    provider.name()
                ))
            }
        },
        rebound_core::providers::Auth::Basic if provider.basic_in_url() => {
            // The password of the basic-auth credentials put in the webhook URL.
            match req.secret {
                Some(s) if s.len() < 16 || s.contains(':') || s.contains('@') => {
                    return Err("secret (the basic-auth password) must be at least 16 characters, without ':' or '@'".into())
                }
                Some(s) => Some(s),
                None => Some(random_b64(24)),
            }
        }
        _ if req.secret.is_some() => {
            return Err(format!(
                "provider '{}' does not use a signing secret",
                provider.name()
            ))
        }
        _ => None,
    };
    match (provider.auth(), req.public_key) {
        (rebound_core::providers::Auth::PublicKey, Some(k)) => {
            provider.check_public_key(&k)?;
            config.insert("public_key".into(), k.trim().into());
        }
        (rebound_core::providers::Auth::PublicKey, None) => {
            return Err(format!(
                "provider '{}' signs with a key pair: pass public_key (the verification key from its settings)",
                provider.name()
            ))
        }
        (_, Some(_)) => return Err("public_key applies to the sendgrid and postal providers".into()),
        (_, None) => {}
    }
    if provider.basic_in_url() && req.username.is_none() {
        config.insert("username".into(), provider.name().into());
    }
    if let Some(h) = req.signature_header {
        let h = h.trim().to_ascii_lowercase();
        let valid = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if provider != Provider::Generic || !valid {
            return Err(
                "signature_header applies to the generic provider and must be a header name".into(),
            );
        }
        config.insert("signature_header".into(), h.into());
    }
    if let Some(u) = req.username {
        let basic = provider == Provider::Listmonk || provider.basic_in_url();
        if !basic || u.is_empty() || u.contains(':') || u.contains('@') {
            return Err(
                "username applies to providers with basic auth (listmonk, postmark, sparkpost, mailjet, brevo) and must not contain ':' or '@'".into(),
            );
        }
        config.insert("username".into(), u.into());
    }
    let trust_first = req.trust_first_topic == Some(true);
    match (provider, req.topic_arns) {
        (Provider::Ses, Some(topics)) if !topics.is_empty() => {
            if let Some(bad) = topics.iter().find(|t| rebound_core::providers::sns::topic_region(t).is_none()) {
                return Err(format!("'{bad}' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"));
            }
            config.insert("topic_arns".into(), topics.into());
        }
        (Provider::Ses, _) if trust_first => {
            config.insert("trust_first_topic".into(), true.into());
        }
        (Provider::Ses, _) => {
            return Err("an ses source needs the SNS topics allowed to post (topic_arns, or --topic-arn on the CLI), or trust_first_topic: true (--trust-first-topic)".into())
        }
        (_, Some(_)) => return Err("topic_arns applies to the ses provider".into()),
        (_, None) if trust_first => return Err("trust_first_topic applies to the ses provider".into()),
        _ => {}
    }
    Ok(NewSource {
        provider: provider.name().into(),
        name: name.into(),
        key: random_b64(24),
        secret,
        config: config.into(),
        created_at: now_ms(),
    })
}

/// A mailbox source: the URL with its password masked in the config, the password as the
/// secret (never shown again).
fn new_mailbox_source(req: CreateSource) -> Result<NewSource, String> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err("name must be 1 to 200 characters".into());
    }
    if req.secret.is_some()
        || req.public_key.is_some()
        || req.signature_header.is_some()
        || req.username.is_some()
        || req.topic_arns.is_some()
        || req.trust_first_topic.is_some()
    {
        return Err("a mailbox source takes only name, url and trust".into());
    }
    let url = req
        .url
        .ok_or("a mailbox source needs url (imaps://USER:PASSWORD@HOST/FOLDER?after=…)")?;
    let (_, shown, password) = crate::mailbox::split_url(&url)?;
    let mut config = serde_json::Map::new();
    config.insert("url".into(), shown.into());
    if let Some(t) = req.trust {
        let t = rebound_core::bounces::events::Trust::parse(&t)
            .ok_or("trust must be verp, known-contact or any")?;
        config.insert("trust".into(), t.as_str().into());
    }
    Ok(NewSource {
        provider: crate::mailbox::PROVIDER.into(),
        name: name.into(),
        key: random_b64(24),
        secret: Some(password),
        config: config.into(),
        created_at: now_ms(),
    })
}

async fn scan_source(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    use crate::mailbox::SourceError;
    let (source, url) = match crate::mailbox::source_by_id(&state.store, id).await {
        Ok(found) => found,
        Err(e @ SourceError::NotFound(_)) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(SourceError::Invalid(msg)) => return Err(ApiError::bad_request(msg)),
        Err(SourceError::Store(e)) => return Err(e.into()),
    };
    match crate::mailbox::scan(&state.store, Some(&source), &url, None).await {
        Ok(report) => {
            state.store.set_source_status(id, "active", None).await?;
            state.wake.notify_one();
            Ok(Json(json!(report)).into_response())
        }
        Err(crate::mailbox::ScanError::Store(e)) => Err(e.into()),
        Err(e @ crate::mailbox::ScanError::Busy) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => {
            let msg = e.to_string();
            state
                .store
                .set_source_status(id, "error", Some(&msg))
                .await?;
            Err(ApiError::new(StatusCode::BAD_GATEWAY, msg))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerpRequest {
    address: String,
    #[serde(default)]
    return_path: Option<String>,
}

async fn verp_encode(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: VerpRequest = parse_json(&body)?;
    let rp = crate::mailbox::verp_encode(&state.store, req.return_path.as_deref(), &req.address)
        .await
        .map_err(ApiError::bad_request)?;
    Ok(Json(json!({ "address": req.address, "return_path": rp })).into_response())
}

async fn create_source(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateSource = parse_json(&body)?;
    let new = new_source(req).map_err(ApiError::bad_request)?;
    let mut source = state.store.create_source(new).await?;
    if source.provider == Provider::Ses.name() {
        let msg = "waiting for SNS to send the SubscriptionConfirmation";
        state
            .store
            .set_source_status(source.id, "pending confirmation", Some(msg))
            .await?;
        source.status = "pending confirmation".into();
        source.status_message = Some(msg.into());
    }
    state.sources.fill(state.store.list_sources().await?);
    Ok((
        StatusCode::CREATED,
        Json(source_json(&state.config.public_url, &source)),
    )
        .into_response())
}

async fn list_sources(State(state): State<AppState>) -> ApiResult {
    let all = state.store.list_sources().await?;
    let items: Vec<Value> = all
        .iter()
        .map(|s| source_json(&state.config.public_url, s))
        .collect();
    Ok(Json(json!({ "items": items })).into_response())
}

// ---------------------------------------------------------------- suppressions

fn suppression_json(email: &str, c: Option<&Contact>) -> Value {
    match c {
        Some(c) => json!({
            "email": c.email, "suppressed": c.suppressed, "status": c.status, "reason": c.reason,
        }),
        None => json!({ "email": email, "suppressed": false, "status": null, "reason": null }),
    }
}

async fn get_suppression(State(state): State<AppState>, Path(email): Path<String>) -> ApiResult {
    let addr = parse_address(&email)?;
    let found = state
        .store
        .get_contacts(vec![addr.key().to_string()])
        .await?;
    let c = found.into_iter().next().flatten();
    Ok(Json(suppression_json(addr.as_str(), c.as_ref())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    emails: Vec<String>,
}

const MAX_CHECK: usize = 1000;

async fn check_suppressions(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CheckRequest = parse_json(&body)?;
    if req.emails.len() > MAX_CHECK {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_CHECK} emails per request"
        )));
    }
    let parsed: Vec<Result<Address, String>> = req
        .emails
        .iter()
        .map(|e| Address::parse(e).map_err(|err| err.to_string()))
        .collect();
    let keys: Vec<String> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .map(|a| a.key().to_string())
        .collect();
    let mut found = state.store.get_contacts(keys).await?.into_iter();
    let results: Vec<Value> = parsed
        .iter()
        .zip(&req.emails)
        .map(|(p, raw)| match p {
            Ok(a) => suppression_json(a.as_str(), found.next().flatten().as_ref()),
            Err(e) => json!({ "email": raw, "error": e }),
        })
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

// ---------------------------------------------------------------- contacts

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateContact {
    email: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
}

async fn create_contact(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateContact = parse_json(&body)?;
    let addr = parse_address(&req.email)?;
    let status = req.status.as_deref().map(parse_status).transpose()?;
    let new = NewContact {
        email: addr.as_str().into(),
        email_key: addr.key().into(),
        status,
        reason: req.reason,
        uuid: req.uuid,
        attributes: req
            .attributes
            .map(Value::Object)
            .unwrap_or_else(|| json!({})),
        now: now_ms(),
    };
    let report = state.store.upsert_contacts(vec![new], false).await?;
    if report.created == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("contact {} already exists", addr.as_str()),
        ));
    }
    let c = state
        .store
        .get_contacts(vec![addr.key().into()])
        .await?
        .into_iter()
        .next()
        .flatten();
    Ok((StatusCode::CREATED, Json(json!(c))).into_response())
}

#[derive(Deserialize)]
struct ContactQuery {
    status: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_contacts(State(state): State<AppState>, Query(q): Query<ContactQuery>) -> ApiResult {
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(parse_status)
        .transpose()?;
    let filter = ContactFilter {
        status,
        q: q.q.filter(|s| !s.is_empty()),
        limit: q.limit.unwrap_or(100),
        cursor: q.cursor,
    };
    Ok(Json(json!(state.store.list_contacts(filter).await?)).into_response())
}

async fn contact_or_404(state: &AppState, email: &str) -> ApiResult<(Address, Contact)> {
    let addr = parse_address(email)?;
    let c = state
        .store
        .get_contacts(vec![addr.key().into()])
        .await?
        .into_iter()
        .next()
        .flatten();
    c.map(|c| (addr, c))
        .ok_or_else(|| ApiError::not_found(format!("no contact {email}")))
}

async fn get_contact(State(state): State<AppState>, Path(email): Path<String>) -> ApiResult {
    let (addr, contact) = contact_or_404(&state, &email).await?;
    let events = state
        .store
        .list_events(EventFilter {
            email_key: Some(addr.key().into()),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let mut v = json!(contact);
    v["events"] = json!(events.items);
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
}

async fn patch_contact(
    State(state): State<AppState>,
    Path(email): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: PatchBody = parse_json(&body)?;
    let (addr, _) = contact_or_404(&state, &email).await?;
    let patch = ContactPatch {
        status: req.status.as_deref().map(parse_status).transpose()?,
        reason: req.reason,
        attributes: req.attributes,
    };
    let c = state
        .store
        .patch_contact(addr.key(), patch, now_ms())
        .await?;
    Ok(Json(json!(c)).into_response())
}

async fn delete_contact(State(state): State<AppState>, Path(email): Path<String>) -> ApiResult {
    let addr = parse_address(&email)?;
    if state.store.delete_contact(addr.key()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no contact {email}")))
    }
}

// ---------------------------------------------------------------- events & log

#[derive(Deserialize)]
struct EventQuery {
    email: Option<String>,
    kind: Option<String>,
    source: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_events(State(state): State<AppState>, Query(q): Query<EventQuery>) -> ApiResult {
    let email_key = match q.email.as_deref().filter(|s| !s.is_empty()) {
        Some(e) => Some(parse_address(e)?.key().to_string()),
        None => None,
    };
    if let Some(k) = q
        .kind
        .as_deref()
        .filter(|k| rebound_core::EventKind::parse(k).is_none())
    {
        return Err(ApiError::bad_request(format!("unknown event kind '{k}'")));
    }
    let filter = EventFilter {
        email_key,
        kind: q.kind.filter(|k| !k.is_empty()),
        source_id: q.source,
        limit: q.limit.unwrap_or(100),
        cursor: q.cursor,
    };
    Ok(Json(json!(state.store.list_events(filter).await?)).into_response())
}

#[derive(Deserialize)]
struct LogQuery {
    outcome: Option<String>,
    processing: Option<String>,
    source: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_log(State(state): State<AppState>, Query(q): Query<LogQuery>) -> ApiResult {
    let filter = LogFilter {
        outcome: q.outcome.filter(|s| !s.is_empty()),
        processing: q.processing.filter(|s| !s.is_empty()),
        source_id: q.source,
        limit: q.limit.unwrap_or(100),
        cursor: q.cursor,
    };
    Ok(Json(json!(state.store.list_log(filter).await?)).into_response())
}

async fn replay(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    state.store.replay(id).await?;
    state.wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "queued", "id": id })),
    )
        .into_response())
}

// ---------------------------------------------------------------- settings

/// The settings key the policy is stored under.
pub const POLICY_KEY: &str = "policy";

async fn get_settings(State(state): State<AppState>) -> ApiResult {
    let mut v = json!({ "policy": state.policy() });
    v[crate::mailbox::TRUST_KEY] =
        json!(crate::mailbox::trust_of(&state.store, None).await.as_str());
    v[crate::mailbox::VERP_RETURN_PATH_KEY] = state
        .store
        .get_setting(crate::mailbox::VERP_RETURN_PATH_KEY)
        .await?
        .unwrap_or(Value::Null);
    Ok(Json(v).into_response())
}

async fn put_settings(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: Value = parse_json(&body)?;
    let Value::Object(top) = req else {
        return Err(ApiError::bad_request(
            "expected a JSON object like {\"policy\": {...}}",
        ));
    };
    let known = [
        POLICY_KEY,
        crate::mailbox::TRUST_KEY,
        crate::mailbox::VERP_RETURN_PATH_KEY,
    ];
    if let Some(k) = top.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown setting '{k}'")));
    }
    if let Some(t) = top.get(crate::mailbox::TRUST_KEY) {
        let t = t
            .as_str()
            .and_then(rebound_core::bounces::events::Trust::parse)
            .ok_or_else(|| {
                ApiError::bad_request("mailbox_trust must be verp, known-contact or any")
            })?;
        state
            .store
            .put_setting(crate::mailbox::TRUST_KEY, json!(t.as_str()))
            .await?;
    }
    if let Some(rp) = top.get(crate::mailbox::VERP_RETURN_PATH_KEY) {
        let rp = rp
            .as_str()
            .and_then(|r| rebound_core::Address::parse(r).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "verp_return_path must be an address like bounces@example.com",
                )
            })?;
        state
            .store
            .put_setting(crate::mailbox::VERP_RETURN_PATH_KEY, json!(rp.as_str()))
            .await?;
    }
    let mut policy = state.policy();
    if let Some(changes) = top.get(POLICY_KEY) {
        let Value::Object(changes) = changes else {
            return Err(ApiError::bad_request("'policy' must be an object"));
        };
        let mut merged = json!(policy);
        for (k, v) in changes {
            merged[k] = v.clone();
        }
        policy = serde_json::from_value::<Policy>(merged)
            .map_err(|e| ApiError::bad_request(format!("invalid policy: {e}")))?;
        policy.validate().map_err(ApiError::bad_request)?;
        state.store.put_setting(POLICY_KEY, json!(policy)).await?;
        if let Ok(mut p) = state.policy.write() {
            *p = policy;
        }
    }
    let _ = policy;
    get_settings(State(state)).await
}

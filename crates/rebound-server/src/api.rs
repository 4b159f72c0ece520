//! The admin JSON API under `/api/v1`. Every route needs `Authorization: Bearer <token>`;
//! every error is `{"error": "..."}` with a fitting status code.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use rebound_core::{Address, Policy, Status};
use rebound_store::{Contact, ContactFilter, ContactPatch, EventFilter, LogFilter, NewContact};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::sources::{self, source_json, CreateSource, UpdateSource};
use crate::state::{digest, now_ms, AppState};

type ApiResult<T = Response> = Result<T, ApiError>;

/// The `/api/v1` routes, behind the bearer-token check.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/sources", get(list_sources).post(create_source))
        .route("/sources/{id}", patch(update_source))
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
    let source = sources::create(&state.store, req).await?;
    state.sources.fill(state.store.list_sources().await?);
    Ok((
        StatusCode::CREATED,
        Json(source_json(&state.config.public_url, &source)),
    )
        .into_response())
}

async fn update_source(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult {
    let req: UpdateSource = parse_json(&body)?;
    let source = sources::update(&state.store, id, req).await?;
    state.sources.fill(state.store.list_sources().await?);
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
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

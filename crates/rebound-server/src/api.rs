//! The admin JSON API under `/api/v1`. Every route needs `Authorization: Bearer <token>`;
//! every error is `{"error": "..."}` with a fitting status code.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use rebound_core::{Address, Policy, Status};
use rebound_store::{Contact, ContactFilter, ContactPatch, EventFilter, LogFilter, NewContact};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Client;
use crate::error::ApiError;
use crate::sources::{self, source_json, Audit, CreateSource, UpdateSource};
use crate::state::{now_ms, AppState};

type ApiResult<T = Response> = Result<T, ApiError>;

/// The `/api/v1` routes, behind the bearer-token check.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/sources", get(list_sources).post(create_source))
        .route("/sources/{id}", patch(update_source))
        .route("/sources/{id}/reveal", post(reveal_source))
        .route("/sources/{id}/rotate", post(rotate_source))
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
        .route("/log/rejections", get(list_rejections))
        .route("/log/{id}/replay", post(replay))
        .route("/settings", get(get_settings).put(put_settings))
        .fallback(crate::error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::error::ADMIN_BODY_LIMIT,
        ))
        .layer(middleware::map_response(crate::error::json_rejections))
        .layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_admin,
        ))
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
        // Not the mailbox's fault: the source's status is left alone.
        Err(e @ crate::mailbox::ScanError::LockLost(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
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

/// Who is calling, for the request log of actions on secrets.
fn audit(method: &str, path: String, client: Client) -> Audit {
    Audit {
        method: method.into(),
        path,
        remote: client.0.map(|ip| ip.to_string()),
    }
}

async fn update_source(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
    body: Bytes,
) -> ApiResult {
    let req: UpdateSource = parse_json(&body)?;
    let who = audit("PATCH", format!("/api/v1/sources/{id}"), client);
    let source = sources::update(&state.store, id, req, &who).await?;
    state.sources.fill(state.store.list_sources().await?);
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

/// `POST /api/v1/sources/{id}/reveal`: the source with its secrets, once more.
async fn reveal_source(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
) -> ApiResult {
    let who = audit("POST", format!("/api/v1/sources/{id}/reveal"), client);
    let source = sources::reveal(&state.store, id, &who).await?;
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

/// `POST /api/v1/sources/{id}/rotate`: a new URL key (and generated secret); the old ones
/// stop working at once.
async fn rotate_source(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
) -> ApiResult {
    let who = audit("POST", format!("/api/v1/sources/{id}/rotate"), client);
    let source = sources::rotate(&state.store, id, &who).await?;
    state.sources.fill(state.store.list_sources().await?);
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

async fn list_sources(State(state): State<AppState>) -> ApiResult {
    let all = state.store.list_sources().await?;
    let items: Vec<Value> = all
        .iter()
        .map(|s| sources::listed_json(&state.config.public_url, s))
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

/// 413 for attributes over the size limit, 400 for too deep a nesting.
fn check_attributes(attrs: &serde_json::Map<String, Value>) -> ApiResult<()> {
    use rebound_core::attributes::{check, Exceeded};
    match check(attrs) {
        Ok(()) => Ok(()),
        Err(e @ Exceeded::Size(_)) => {
            Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))
        }
        Err(e @ Exceeded::Depth) => Err(ApiError::bad_request(e.to_string())),
    }
}

async fn create_contact(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateContact = parse_json(&body)?;
    if let Some(a) = &req.attributes {
        check_attributes(a)?;
    }
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
    let (addr, old) = contact_or_404(&state, &email).await?;
    let mut patch = ContactPatch {
        attributes: req.attributes,
        ..ContactPatch::default()
    };
    if patch.attributes.is_some() {
        // Patched attributes are merged into the old ones: the merge is what is kept.
        check_attributes(&patch.merged_attributes(&old.attributes))?;
    }
    patch.status = req.status.as_deref().map(parse_status).transpose()?;
    patch.reason = req.reason;
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

#[derive(Deserialize)]
struct RejectionQuery {
    since: Option<String>,
    source: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/log/rejections`: rejected requests counted per minute, source, status and
/// error (the request log keeps only a sample of them), newest first; those not written
/// yet included. `since` (RFC 3339) defaults to 24 hours ago.
async fn list_rejections(
    State(state): State<AppState>,
    Query(q): Query<RejectionQuery>,
) -> ApiResult {
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => rebound_core::timestamp::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("since: '{s}' is not an RFC 3339 time"))
        })?,
        None => now_ms() - 24 * 3_600_000,
    };
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let mut items = state.rejections.pending();
    items.extend(state.store.list_rejections(since, limit).await?);
    items.retain(|r| r.minute >= since - 59_999 && q.source.is_none_or(|s| r.source_id == Some(s)));
    // Pending and stored counts of the same kind are shown as one.
    let mut merged: std::collections::BTreeMap<_, rebound_store::RejectionCount> =
        Default::default();
    for r in items {
        let key = (
            std::cmp::Reverse(r.minute),
            r.source_id,
            r.provider.clone(),
            r.http_status,
            r.error.clone(),
        );
        merged
            .entry(key)
            .and_modify(|m| m.count += r.count)
            .or_insert(r);
    }
    let items: Vec<_> = merged.into_values().take(limit as usize).collect();
    let total: u64 = items.iter().map(|r| r.count).sum();
    Ok(Json(json!({ "items": items, "total": total })).into_response())
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
    v[crate::retention::SETTING] =
        json!(crate::retention::days(&state.store, state.config.retention_days).await?);
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
        crate::retention::SETTING,
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
    if let Some(d) = top.get(crate::retention::SETTING) {
        let days = d
            .as_u64()
            .ok_or_else(|| ApiError::bad_request("retention_days must be a number of days"))
            .and_then(|d| crate::retention::check_days(d).map_err(ApiError::bad_request))?;
        state
            .store
            .put_setting(crate::retention::SETTING, json!(days))
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

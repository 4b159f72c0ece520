//! `/api/v1/subscriptions`: outbound webhooks ([`crate::outbound`]). The signing secret is
//! shown when created and when rotated, never in listings. Admin scope only.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use rebound_core::{timestamp, Millis};
use rebound_store::outbound::{
    Delivery, NewSubscription, Requeue, Subscription, SubscriptionKind, EVENT_TYPES,
};
use serde::{Deserialize, Serialize};

use super::{parse_json, ApiResult, Items};
use crate::error::{ApiError, ErrorBody};
use crate::outbound::{check_url, sign};
use crate::state::{now_ms, AppState};

/// Default overlap of a rotated secret with its successor.
const DEFAULT_OVERLAP_HOURS: u64 = 24;

/// A subscription as shown (never its secrets).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SubscriptionView {
    id: i64,
    /// Target URL.
    url: String,
    /// `webhook`.
    kind: SubscriptionKind,
    /// Event types delivered (`*`: all).
    events: Vec<String>,
    /// Whether deliveries are made.
    enabled: bool,
    description: String,
    #[schema(value_type = String)]
    #[serde(serialize_with = "timestamp::serde_rfc3339::serialize")]
    created_at: Millis,
    /// Since when every delivery failed.
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "timestamp::serde_rfc3339::option")]
    failing_since: Option<Millis>,
    /// Why rebound disabled it (`410 Gone`, failing too long).
    disabled_reason: Option<String>,
    /// Until when the previous secret signs too (after a rotation).
    #[schema(value_type = Option<String>)]
    #[serde(serialize_with = "timestamp::serde_rfc3339::option")]
    previous_secret_until: Option<Millis>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        let now = now_ms();
        SubscriptionView {
            id: s.id,
            url: s.url.clone(),
            kind: s.kind,
            events: s.events.clone(),
            enabled: s.enabled,
            description: s.description.clone(),
            created_at: s.created_at,
            failing_since: s.failing_since,
            disabled_reason: s.disabled_reason.clone(),
            previous_secret_until: s.previous_until.filter(|u| *u > now),
        }
    }
}

/// A subscription with its secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct WithSecret {
    #[serde(flatten)]
    subscription: SubscriptionView,
    /// The signing secret (`whsec_…`). Not shown again.
    secret: String,
}

/// A new subscription.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateSubscription {
    /// Target URL (`http` or `https`; private addresses only where the operator allows).
    url: String,
    /// `webhook` (Standard Webhooks signed).
    #[serde(default = "webhook")]
    kind: String,
    /// Event types (`contact.status_changed`, or `*`); default all.
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

fn webhook() -> String {
    "webhook".into()
}

fn check_events(events: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let events = events.unwrap_or_else(|| vec!["*".to_string()]);
    if events.is_empty() {
        return Err(ApiError::bad_request(
            "events: name at least one event type, or \"*\"",
        ));
    }
    for e in &events {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown event type '{e}' (known: {}, or \"*\")",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    Ok(events)
}

fn check_target(state: &AppState, url: &str) -> Result<String, ApiError> {
    check_url(url.trim(), &state.config.outbound.allow)
        .map(|u| u.to_string())
        .map_err(ApiError::bad_request)
}

/// `POST /api/v1/subscriptions` `{"url","kind","events",…}` → 201 with the secret, shown once.
#[utoipa::path(post, path = "/subscriptions", tag = "subscriptions",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "The subscription and its `secret`, shown this once.",
         body = WithSecret),
        (status = 400, description = "Bad URL (or a private target not allowed), kind or events.",
         body = ErrorBody),
    ))]
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateSubscription = parse_json(&body)?;
    let kind = SubscriptionKind::parse(&req.kind).ok_or_else(|| {
        ApiError::bad_request(format!("unknown kind '{}' (known: webhook)", req.kind))
    })?;
    let url = check_target(&state, &req.url)?;
    let events = check_events(req.events)?;
    let secret = sign::new_secret();
    let sub = state
        .store
        .create_subscription(NewSubscription {
            url,
            kind,
            events,
            secret: secret.clone(),
            description: req.description.unwrap_or_default(),
            created_at: now_ms(),
        })
        .await?;
    let shown = WithSecret {
        subscription: (&sub).into(),
        secret,
    };
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// `GET /api/v1/subscriptions`: every subscription (never a secret).
#[utoipa::path(get, path = "/subscriptions", tag = "subscriptions",
    responses((status = 200, description = "Every subscription, oldest first.",
        body = Items<SubscriptionView>)))]
pub(super) async fn list(State(state): State<AppState>) -> ApiResult {
    let items: Vec<SubscriptionView> = state
        .store
        .list_subscriptions()
        .await?
        .iter()
        .map(SubscriptionView::from)
        .collect();
    Ok(Json(Items { items }).into_response())
}

async fn find(state: &AppState, id: i64) -> Result<Subscription, ApiError> {
    state
        .store
        .list_subscriptions()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no subscription {id}")))
}

/// Changes to a subscription.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchSubscription {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// `true` enables again (and forgets why it was disabled).
    enabled: Option<bool>,
    description: Option<String>,
}

/// `PATCH /api/v1/subscriptions/{id}`: URL, events, enabled, description.
#[utoipa::path(patch, path = "/subscriptions/{id}", tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id.")),
    request_body = PatchSubscription,
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 400, description = "Bad URL or events.", body = ErrorBody),
        (status = 404, description = "No such subscription.", body = ErrorBody),
    ))]
pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult {
    let req: PatchSubscription = parse_json(&body)?;
    let mut sub = find(&state, id).await?;
    if let Some(url) = req.url {
        sub.url = check_target(&state, &url)?;
    }
    if req.events.is_some() {
        sub.events = check_events(req.events)?;
    }
    if let Some(enabled) = req.enabled {
        if enabled && !sub.enabled {
            sub.disabled_reason = None;
            sub.failing_since = None;
        }
        sub.enabled = enabled;
    }
    if let Some(d) = req.description {
        sub.description = d;
    }
    state.store.update_subscription(sub.clone()).await?;
    crate::outbound::wake();
    Ok(Json(SubscriptionView::from(&sub)).into_response())
}

/// A secret rotation.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Rotate {
    /// Hours the old secret keeps signing beside the new one (default 24, at most 720).
    overlap_hours: Option<u64>,
}

/// `POST /api/v1/subscriptions/{id}/rotate`: a new secret (shown this once); the old one keeps
/// signing beside it for the overlap.
#[utoipa::path(post, path = "/subscriptions/{id}/rotate", tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id.")),
    request_body = Rotate,
    responses(
        (status = 200, description = "The subscription and its new `secret`, shown this once.",
         body = WithSecret),
        (status = 404, description = "No such subscription.", body = ErrorBody),
    ))]
pub(super) async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult {
    let req: Rotate = if body.is_empty() {
        Rotate::default()
    } else {
        parse_json(&body)?
    };
    let hours = req.overlap_hours.unwrap_or(DEFAULT_OVERLAP_HOURS).min(720);
    let mut sub = find(&state, id).await?;
    let secret = sign::new_secret();
    sub.previous_secret = Some(std::mem::replace(&mut sub.secret, secret.clone()));
    sub.previous_until = Some(now_ms() + i64::try_from(hours).unwrap_or(24) * 3_600_000);
    state.store.update_subscription(sub.clone()).await?;
    let shown = WithSecret {
        subscription: (&sub).into(),
        secret,
    };
    Ok(Json(shown).into_response())
}

/// Which attempts to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DeliveryQuery {
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
    /// Only attempts with a smaller id (the next page).
    before: Option<i64>,
}

/// `GET /api/v1/subscriptions/{id}/deliveries`: the delivery log, newest first.
#[utoipa::path(get, path = "/subscriptions/{id}/deliveries", tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id."), DeliveryQuery),
    responses(
        (status = 200, description = "Attempts, newest first: status, latency, response excerpt.",
         body = Items<Delivery>),
        (status = 404, description = "No such subscription.", body = ErrorBody),
    ))]
pub(super) async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult {
    find(&state, id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = state.store.list_deliveries(id, q.before, limit).await?;
    Ok(Json(Items { items }).into_response())
}

/// What to deliver again: one message (by the id of one of its attempts), or every message
/// given up since a time.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Redeliver {
    /// An attempt's id (from the deliveries list): its message is sent again.
    delivery: Option<i64>,
    /// Every message given up (failed for good) since this time (RFC 3339).
    since: Option<String>,
}

/// How many messages were queued again.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Requeued {
    requeued: u64,
}

/// `POST /api/v1/subscriptions/{id}/redeliver` `{"delivery": ID}` or `{"since": TIME}`.
#[utoipa::path(post, path = "/subscriptions/{id}/redeliver", tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id.")),
    request_body = Redeliver,
    responses(
        (status = 200, description = "Messages queued again (sent at once, same `webhook-id`).",
         body = Requeued),
        (status = 400, description = "Neither or both of `delivery` and `since`, or a bad time.",
         body = ErrorBody),
        (status = 404, description = "No such subscription, or no such attempt of it.",
         body = ErrorBody),
    ))]
pub(super) async fn redeliver(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult {
    let req: Redeliver = parse_json(&body)?;
    find(&state, id).await?;
    let what = match (req.delivery, req.since.as_deref()) {
        (Some(d), None) => Requeue::Delivery(d),
        (None, Some(t)) => Requeue::FailedSince(
            timestamp::parse(t)
                .ok_or_else(|| ApiError::bad_request(format!("since: not a time: '{t}'")))?,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "name either `delivery` (an attempt's id) or `since` (a time)",
            ))
        }
    };
    let requeued = state.store.requeue(id, what, now_ms()).await?;
    if matches!(what, Requeue::Delivery(_)) && requeued == 0 {
        return Err(ApiError::not_found(format!(
            "subscription {id} has no delivery attempt {}",
            req.delivery.unwrap_or_default()
        )));
    }
    crate::outbound::wake();
    Ok(Json(Requeued { requeued }).into_response())
}

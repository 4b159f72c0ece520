//! `/api/v1/subscriptions`: outbound webhooks ([`crate::outbound`]). The signing secret is
//! shown when created and when rotated, never in listings. Admin scope only.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use rebound_core::{timestamp, Millis};
use rebound_store::outbound::{Delivery, Requeue, Subscription, SubscriptionKind};
use serde::{Deserialize, Serialize};

use super::{parse_json, ApiResult, Items};
use crate::error::{ApiError, ErrorBody};
use crate::outbound::subscriptions::{
    self as subs, check_events, check_sources, check_target, find,
};
use crate::state::{now_ms, AppState};

/// A subscription as shown (never its secrets).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SubscriptionView {
    id: i64,
    /// Target URL.
    url: String,
    /// `webhook`, `listmonk` or `tosend`.
    kind: SubscriptionKind,
    /// Event types delivered (`*`: all).
    events: Vec<String>,
    /// Only events (and the status changes they cause) from these sources; `null`: all.
    sources: Option<Vec<i64>>,
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
            sources: s.sources.clone(),
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
    /// The signing secret (`whsec_…`) of a `webhook`. Not shown again. Absent for a
    /// forwarder (listmonk's credentials were given; a ToSend URL is its own secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// A new subscription.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateSubscription {
    /// Target URL (`http` or `https`; private addresses only where the operator allows).
    url: String,
    /// `webhook` (Standard Webhooks signed, the default), `listmonk` (forwards bounces and
    /// complaints to listmonk's `…/webhooks/bounce`, basic auth) or `tosend` (forwards them
    /// in ToSend's webhook shape, e.g. to FluentCRM's toSend bounce handler URL).
    #[serde(default = "webhook")]
    kind: String,
    /// Event types (`contact.status_changed`, `event.<kind>` such as `event.bounce`,
    /// `event.*`, or `*`); default `contact.status_changed` only.
    #[serde(default)]
    events: Option<Vec<String>>,
    /// Only events (and the status changes they cause) from these source ids; default all.
    #[serde(default)]
    sources: Option<Vec<i64>>,
    #[serde(default)]
    description: Option<String>,
    /// `listmonk`: the API user (stored like a secret, never listed).
    #[serde(default)]
    username: Option<String>,
    /// `listmonk`: the API user's token (stored like a secret, never listed).
    #[serde(default)]
    password: Option<String>,
}

fn webhook() -> String {
    "webhook".into()
}

/// `POST /api/v1/subscriptions` `{"url","kind","events",…}` → 201 with the secret, shown once.
#[utoipa::path(post, path = "/subscriptions", tag = "subscriptions",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "The subscription and its `secret`, shown this once.",
         body = WithSecret),
        (status = 400, description = "Bad URL (or a private target not allowed), kind, events \
         or sources.",
         body = ErrorBody),
    ))]
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateSubscription = parse_json(&body)?;
    let (sub, secret) = subs::create(
        &state.store,
        &state.config.outbound.allow,
        subs::Create {
            url: req.url,
            kind: req.kind,
            events: req.events,
            sources: req.sources,
            description: req.description,
            username: req.username,
            password: req.password,
        },
        now_ms(),
    )
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

/// Changes to a subscription.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchSubscription {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// Source ids to take events from; `null` for every source (absent: unchanged).
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<Vec<i64>>)]
    sources: Option<Option<Vec<i64>>>,
    /// `true` enables again (and forgets why it was disabled).
    enabled: Option<bool>,
    description: Option<String>,
}

/// A field present (even `null`) as `Some`; absent (`#[serde(default)]`) as `None`.
fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `PATCH /api/v1/subscriptions/{id}`: URL, events, sources, enabled, description.
#[utoipa::path(patch, path = "/subscriptions/{id}", tag = "subscriptions",
    params(("id" = i64, Path, description = "The subscription's id.")),
    request_body = PatchSubscription,
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 400, description = "Bad URL, events or sources.", body = ErrorBody),
        (status = 404, description = "No such subscription.", body = ErrorBody),
    ))]
pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult {
    let req: PatchSubscription = parse_json(&body)?;
    let mut sub = find(&state.store, id).await?;
    if let Some(url) = req.url {
        sub.url = check_target(&state.config.outbound.allow, &url)?;
    }
    if req.events.is_some() {
        sub.events = check_events(sub.kind, req.events)?;
    }
    if let Some(sources) = req.sources {
        sub.sources = check_sources(&state.store, sources).await?;
    }
    if let Some(enabled) = req.enabled {
        subs::set_enabled(&mut sub, enabled);
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
        (status = 400, description = "A forwarder: no signing secret to rotate.", body = ErrorBody),
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
    let (sub, secret) = subs::rotate(&state.store, id, req.overlap_hours, now_ms()).await?;
    let shown = WithSecret {
        subscription: (&sub).into(),
        secret: Some(secret),
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
    find(&state.store, id).await?;
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
    find(&state.store, id).await?;
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
    let requeued = subs::redeliver(&state.store, id, what, now_ms()).await?;
    Ok(Json(Requeued { requeued }).into_response())
}

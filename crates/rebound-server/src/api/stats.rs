//! `GET /api/v1/stats/deliverability`: bounce and complaint rates per source over 24 hours
//! and 7 days, with the thresholds mailbox providers publish. `GET /api/v1/stats/sources`:
//! each source's requests over the last 24 hours.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use rebound_core::rates;
use serde_json::json;

use super::ApiResult;
use crate::state::{now_ms, AppState};

/// `GET /api/v1/stats/deliverability`.
#[utoipa::path(
    get,
    path = "/stats/deliverability",
    tag = "stats",
    responses(
        (status = 200, description = "`{\"items\": [{\"source_id\",\"name\",\"provider\",\"window\" \
         (24h|7d),\"delivered\",\"bounced\",\"complained\",\"bounce_rate\",\"bounce_level\",\
         \"complaint_rate\",\"complaint_level\"}], \"thresholds\": {...}}`: a rate is null where \
         the provider reported no deliveries; levels are good, warning or bad. The row with \
         `source_id: null` and name `all sources` is the total.", body = Object),
    ),
)]
pub(super) async fn deliverability(State(state): State<AppState>) -> ApiResult {
    let items = crate::stats::deliverability(&state, now_ms()).await?;
    Ok(Json(json!({
        "items": items,
        "thresholds": {
            "complaint_aim": rates::COMPLAINT_AIM,
            "complaint_max": rates::COMPLAINT_MAX,
            "bounce_review": rates::BOUNCE_REVIEW,
            "bounce_max": rates::BOUNCE_MAX,
        },
    }))
    .into_response())
}

/// `GET /api/v1/stats/sources`.
#[utoipa::path(
    get,
    path = "/stats/sources",
    tag = "stats",
    responses(
        (status = 200, description = "`{\"items\": [{\"source_id\",\"name\",\"provider\",\
         \"status\",\"status_message\",\"last_request_at\" (the last accepted request, ever; \
         null if none),\"accepted_24h\",\"rejected_24h\"}]}`, one per source.", body = Object),
    ),
)]
pub(super) async fn sources(State(state): State<AppState>) -> ApiResult {
    let sources = state.store.list_sources().await?;
    let items = crate::stats::source_activity(&state, &sources, now_ms()).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

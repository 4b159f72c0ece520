//! `GET /api/v1/stats/deliverability`: bounce and complaint rates per source (or per
//! sending domain, `?by=domain`) over 24 hours and 7 days, with the thresholds mailbox
//! providers publish. `GET /api/v1/stats/sources`: each source's requests over the last 24
//! hours.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use rebound_core::rates;
use serde::Deserialize;
use serde_json::json;

use super::ApiResult;
use crate::error::{ApiError, ErrorBody};
use crate::state::{now_ms, AppState};

/// The query of `GET /api/v1/stats/deliverability`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DeliverabilityQuery {
    /// `source` (the default): one row per source and the total; `domain`: one row per
    /// sending domain, for the events whose provider payload named the sender.
    by: Option<String>,
}

/// `GET /api/v1/stats/deliverability`.
#[utoipa::path(
    get,
    path = "/stats/deliverability",
    tag = "stats",
    params(DeliverabilityQuery),
    responses(
        (status = 200, description = "`{\"by\": \"source\", \"items\": [{\"source_id\",\"name\",\
         \"provider\",\"window\" (24h|7d),\"delivered\",\"bounced\",\"complained\",\
         \"bounce_rate\",\"bounce_level\",\"complaint_rate\",\"complaint_level\"}], \
         \"thresholds\": {...}}`: a rate is null where the provider reported no deliveries; \
         levels are good, warning or bad. The row with `source_id: null` and name \
         `all sources` is the total. With `by=domain` the items are \
         `{\"domain\",\"window\",\"delivered\",…,\"complaint_level\"}`, one per sending \
         domain (events whose payload named no sender are left out; no total row).",
         body = Object),
        (status = 400, description = "`by` is neither `source` nor `domain`.", body = ErrorBody),
    ),
)]
pub(super) async fn deliverability(
    State(state): State<AppState>,
    Query(q): Query<DeliverabilityQuery>,
) -> ApiResult {
    let now = now_ms();
    let (by, items) = match q.by.as_deref().unwrap_or("source") {
        "source" => (
            "source",
            json!(crate::stats::deliverability(&state, now).await?),
        ),
        "domain" => (
            "domain",
            json!(crate::stats::deliverability_by_domain(&state, now).await?),
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "by must be 'source' or 'domain', not '{other}'"
            )))
        }
    };
    Ok(Json(json!({
        "by": by,
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
        (status = 200, description = "Every source with its requests over the last 24 hours \
         (`last_request_at`: its last accepted request, ever).",
         body = super::Items<crate::stats::SourceActivity>),
    ),
)]
pub(super) async fn sources(State(state): State<AppState>) -> ApiResult {
    let sources = state.store.list_sources().await?;
    let items = crate::stats::source_activity(&state, &sources, now_ms()).await?;
    Ok(Json(super::Items { items }).into_response())
}

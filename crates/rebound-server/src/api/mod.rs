//! The admin JSON API under `/api/v1`, one module per resource. Every route needs
//! `Authorization: Bearer <token>`; every error is `{"error": "..."}` with a fitting status
//! code.

mod bulk;
mod contacts;
mod events;
mod keys;
mod log;
mod settings;
mod sources;
mod stats;
mod subscriptions;
mod suppressions;
mod unsubscribe;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rebound_core::{Address, Status};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub use bulk::{set_status, BulkReport, MAX_BULK};
pub use contacts::ContactSelection;

/// A list answered whole: `{"items": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}
pub use log::LogSelection;
pub use log::{stored_request, StoredRequest};
pub use settings::POLICY_KEY;

type ApiResult<T = Response> = Result<T, ApiError>;

/// The `/api/v1` routes, behind the bearer-token check. Each handler is registered through
/// `routes!`, which takes its method and path from its `#[utoipa::path]`: a route cannot be
/// served without being in the OpenAPI document. The document's operations here get the
/// bearer security requirement and the answers of the layers (401, 429, 413) where the
/// layers are added, so they cannot disagree either.
pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::default()
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::update))
        .routes(routes!(sources::reveal))
        .routes(routes!(sources::rotate))
        .routes(routes!(sources::scan))
        .routes(routes!(sources::test))
        .routes(routes!(sources::verp_encode))
        .routes(routes!(suppressions::check))
        .routes(routes!(suppressions::get_one))
        .routes(routes!(unsubscribe::create))
        .routes(routes!(contacts::list, contacts::create))
        .routes(routes!(
            contacts::get_one,
            contacts::patch,
            contacts::delete
        ))
        .routes(routes!(events::list))
        .routes(routes!(log::list))
        .routes(routes!(log::rejections))
        .routes(routes!(log::replay))
        .routes(routes!(log::replay_failed))
        .routes(routes!(log::get_one))
        .routes(routes!(settings::get, settings::put))
        .routes(routes!(settings::dry_run))
        .routes(routes!(bulk::export))
        .routes(routes!(bulk::bulk))
        .routes(routes!(contacts::erase))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(keys::list_users, keys::create_user))
        .routes(routes!(keys::delete_user))
        .routes(routes!(subscriptions::list, subscriptions::create))
        .routes(routes!(subscriptions::update))
        .routes(routes!(subscriptions::rotate))
        .routes(routes!(subscriptions::deliveries))
        .routes(routes!(subscriptions::redeliver))
        .routes(routes!(stats::deliverability))
        .routes(routes!(stats::sources))
        .routes(routes!(openapi_json))
        .fallback(crate::error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::error::ADMIN_BODY_LIMIT,
        ))
        .layer(middleware::map_response(crate::error::json_rejections))
        .layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_key,
        ));
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for op in operations_mut(item) {
            op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            add_error(
                op,
                401,
                "No key, or a wrong or revoked one (`require_key`).",
            );
            add_error(
                op,
                403,
                "The key's scope does not allow this call (`check`: the suppression checks \
                 and unsubscribe links only; `read`: reads only, not keys or users).",
            );
            add_error(
                op,
                429,
                "Too many wrong tokens from this client in a minute; `Retry-After` says when to \
                 try again. The right token is never refused.",
            );
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                add_error(
                    op,
                    400,
                    "A path or query parameter that does not parse (axum's rejection, as JSON).",
                );
            }
            if op.request_body.is_some() {
                add_error(
                    op,
                    413,
                    "The body is larger than the admin API's limit (1 MiB).",
                );
            }
        }
    }
    router
}

/// The name of the bearer-token security scheme in the OpenAPI document.
pub const BEARER: &str = "bearer";

/// Every operation of a path item, whatever its method.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Adds an answer `{"error": "..."}` with `status` to `op` unless it documents one already.
pub fn add_error(op: &mut Operation, status: u16, description: &str) {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build();
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert(RefOr::T(response));
}

/// The OpenAPI document, serialized once when the router is built; handed to
/// [`openapi_json`] as a request extension.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

impl OpenApiJson {
    /// Serializes `doc`.
    pub fn new(doc: &OpenApi) -> OpenApiJson {
        // Serializing a document of strings, maps and numbers cannot fail.
        OpenApiJson(Bytes::from(doc.to_pretty_json().unwrap_or_default()))
    }
}

/// `GET /api/v1/openapi.json`: this document, generated from the routes.
///
/// It sits behind the bearer token like the rest of `/api/v1`: one rule for the whole
/// prefix, no exception to get wrong in the auth middleware. It holds nothing secret (the
/// routes are those of the published source), so a tool reading it is simply given the
/// token, as for any other call.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of every route of rebound.",
         body = Object, content_type = "application/json"),
    ),
)]
pub(crate) async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0).into_response()
}

/// Parses a JSON body into `T`, answering 400 with serde's description of the problem.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) fn parse_address(s: &str) -> ApiResult<Address> {
    Address::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub(crate) fn parse_status(s: &str) -> ApiResult<Status> {
    Status::parse(s).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown status '{s}' (expected subscribed, unsubscribed, bounced or complained)"
        ))
    })
}

/// The answer of `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process is up.", body = Health)),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /readyz`: the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "The store answers: `{\"status\": \"ready\", \"inbox\": {...}}` \
         with the inbox rows counted by state.", body = Object),
        (status = 503, description = "The store does not answer.", body = ErrorBody),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.inbox_counts().await {
        Ok(c) => Json(json!({ "status": "ready", "inbox": c })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

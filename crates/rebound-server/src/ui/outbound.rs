//! `/outbound`: the subscriptions that tell other apps of status changes (their target,
//! kind, events, state and why rebound disabled one), and `/outbound/{id}`: one
//! subscription's delivery attempts, newest first (status, latency, the start of the
//! answer). Admins add a subscription (its `whsec_` secret shown once), rotate a webhook's
//! secret, disable or enable one, and redeliver every message given up since a time — the
//! same functions as the API and the CLI ([`crate::outbound::subscriptions`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Form;
use rebound_store::outbound::Requeue;
use serde::Deserialize;

use super::settings::ShownOnce;
use super::{back, render, when, Chrome, CsrfForm, UiError, UiResult};
use crate::auth::session::UiSession;
use crate::outbound::subscriptions;
use crate::state::{now_ms, AppState};

/// Attempts shown per page.
const PAGE: u32 = 100;

pub(super) struct SubscriptionRow {
    id: i64,
    url: String,
    kind: &'static str,
    events: String,
    description: String,
    state: &'static str,
    why: String,
    created: String,
}

pub(super) struct AttemptRow {
    when: String,
    message_id: String,
    attempt: u32,
    status: String,
    latency_ms: i64,
    ok: bool,
    detail: String,
    state: String,
}

#[derive(Template)]
#[template(path = "outbound.html")]
struct OutboundPage {
    chrome: Chrome,
    rows: Vec<SubscriptionRow>,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    sub: SubscriptionRow,
    attempts: Vec<AttemptRow>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    done: Option<String>,
}

fn row(s: &rebound_store::outbound::Subscription) -> SubscriptionRow {
    let (state, why) = match (s.enabled, s.failing_since) {
        (false, _) => (
            "disabled",
            s.disabled_reason
                .clone()
                .unwrap_or_else(|| "by hand".into()),
        ),
        (true, Some(since)) => (
            "failing",
            format!("every delivery failed since {}", when(since)),
        ),
        (true, None) => ("active", String::new()),
    };
    SubscriptionRow {
        id: s.id,
        url: s.url.clone(),
        kind: s.kind.as_str(),
        events: match &s.sources {
            Some(ids) => format!(
                "{} (sources {})",
                s.events.join(", "),
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => s.events.join(", "),
        },
        description: s.description.clone(),
        state,
        why,
        created: when(s.created_at),
    }
}

/// `GET /outbound`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Query(q): Query<PageQuery>,
) -> UiResult {
    let rows = state
        .store
        .list_subscriptions()
        .await?
        .iter()
        .map(row)
        .collect();
    render(&OutboundPage {
        chrome: Chrome::new(&s, "outbound", q.done.as_deref()),
        rows,
    })
}

/// `GET /outbound/{id}?before=`.
pub(super) async fn deliveries(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> UiResult {
    let subs = state.store.list_subscriptions().await?;
    let Some(sub) = subs.iter().find(|x| x.id == id) else {
        return Err(UiError::new(
            StatusCode::NOT_FOUND,
            format!("no subscription {id}"),
        ));
    };
    let found = state.store.list_deliveries(id, q.before, PAGE).await?;
    let older = (found.len() == PAGE as usize)
        .then(|| found.last().map(|d| d.id))
        .flatten();
    let attempts = found
        .into_iter()
        .map(|d| AttemptRow {
            when: when(d.attempted_at),
            message_id: d.message_id,
            attempt: d.attempt,
            status: d.http_status.map(|c| c.to_string()).unwrap_or_default(),
            latency_ms: d.latency_ms,
            ok: d.ok,
            detail: d.error.or(d.response).unwrap_or_default(),
            state: d.state,
        })
        .collect();
    render(&DeliveriesPage {
        chrome: Chrome::new(&s, "outbound", q.done.as_deref()),
        sub: row(sub),
        attempts,
        older,
    })
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    description: String,
    /// Comma-separated event types; empty: status changes.
    #[serde(default)]
    events: String,
    /// Comma-separated source ids; empty: all.
    #[serde(default)]
    sources: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn given(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The non-empty items of a comma-separated list; `None` when there are none.
fn list(s: &str) -> Option<Vec<String>> {
    let items: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    (!items.is_empty()).then_some(items)
}

/// `POST /outbound`: a new subscription; a webhook's secret is shown this once.
pub(super) async fn create(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let sources = match list(&f.sources) {
        Some(ids) => Some(
            ids.iter()
                .map(|i| {
                    i.parse::<i64>().map_err(|_| {
                        UiError::new(
                            StatusCode::BAD_REQUEST,
                            format!("sources: '{i}' is not a source id"),
                        )
                    })
                })
                .collect::<Result<Vec<i64>, UiError>>()?,
        ),
        None => None,
    };
    let req = subscriptions::Create {
        url: f.url,
        kind: f.kind,
        events: list(&f.events),
        sources,
        description: given(&f.description),
        username: given(&f.username),
        password: (!f.password.is_empty()).then_some(f.password),
    };
    let (sub, secret) =
        subscriptions::create(&state.store, &state.config.outbound.allow, req, now_ms()).await?;
    match secret {
        Some(secret) => render(&ShownOnce {
            chrome: Chrome::new(&s, "outbound", None),
            title: format!("Subscription to {}", sub.url),
            label: "Signing secret",
            value: secret,
            note: "Give it to the receiving app now (it verifies each request with it, the Standard Webhooks way): it is not shown again.",
            back: "/outbound",
            back_label: "Outbound",
        }),
        None => Ok(back("/outbound?done=subscribed")),
    }
}

/// `POST /outbound/{id}/enable` and `/disable`.
pub(super) async fn enable(
    State(state): State<AppState>,
    s: UiSession,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let on = match action.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(UiError::new(StatusCode::NOT_FOUND, "no such action")),
    };
    subscriptions::enable(&state.store, id, on).await?;
    Ok(back(if on {
        "/outbound?done=enabled"
    } else {
        "/outbound?done=disabled"
    }))
}

/// `POST /outbound/{id}/rotate`: a new secret, shown once; the old one signs beside it for
/// 24 hours.
pub(super) async fn rotate(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let (sub, secret) = subscriptions::rotate(&state.store, id, None, now_ms()).await?;
    render(&ShownOnce {
        chrome: Chrome::new(&s, "outbound", None),
        title: format!("New secret for {}", sub.url),
        label: "Signing secret",
        value: secret,
        note: "The old secret keeps signing beside this one for 24 hours: give this one to the receiving app before then. It is not shown again.",
        back: "/outbound",
        back_label: "Outbound",
    })
}

#[derive(Deserialize)]
pub(super) struct RedeliverForm {
    #[serde(default)]
    csrf: String,
    /// Hours back.
    #[serde(default)]
    hours: Option<i64>,
}

/// `POST /outbound/{id}/redeliver`: every message given up in the last `hours` (default 24)
/// goes out again, with its id.
pub(super) async fn redeliver(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<RedeliverForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let hours = f.hours.unwrap_or(24).clamp(1, 24 * 90);
    let since = now_ms() - hours * 3_600_000;
    subscriptions::redeliver(&state.store, id, Requeue::FailedSince(since), now_ms()).await?;
    Ok(back(&format!("/outbound/{id}?done=redelivered")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_states_why_it_is_not_active() {
        let mut s = rebound_store::outbound::Subscription {
            id: 1,
            url: "https://app.example/hook".into(),
            kind: rebound_store::outbound::SubscriptionKind::Webhook,
            events: vec!["*".into()],
            sources: None,
            enabled: true,
            description: String::new(),
            secret: "whsec_x".into(),
            previous_secret: None,
            previous_until: None,
            created_at: 0,
            failing_since: None,
            disabled_reason: None,
        };
        assert_eq!(row(&s).state, "active");
        s.failing_since = Some(1_000);
        assert_eq!(row(&s).state, "failing");
        s.enabled = false;
        s.disabled_reason = Some("410 Gone".into());
        let r = row(&s);
        assert_eq!((r.state, r.why.as_str()), ("disabled", "410 Gone"));
    }
}

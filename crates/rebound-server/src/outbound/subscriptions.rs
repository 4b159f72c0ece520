//! Making and changing subscriptions: the one code path of the API
//! (`/api/v1/subscriptions`) and the CLI (`rebound subscription …`).

use ipnet::IpNet;
use rebound_core::Millis;
use rebound_store::outbound::{
    NewSubscription, Requeue, Subscription, SubscriptionKind, EVENT_TYPES, STATUS_CHANGED,
};
use rebound_store::DynStore;

use super::{check_url, forward, sign};
use crate::error::ApiError;

/// Default overlap of a rotated secret with its successor.
pub const DEFAULT_OVERLAP_HOURS: u64 = 24;

/// A subscription to make.
#[derive(Debug, Clone, Default)]
pub struct Create {
    /// Target URL.
    pub url: String,
    /// `webhook`, `listmonk` or `tosend`.
    pub kind: String,
    /// Event types (default: `contact.status_changed`).
    pub events: Option<Vec<String>>,
    /// Only events (and the changes they cause) from these sources (default: all).
    pub sources: Option<Vec<i64>>,
    /// Free text.
    pub description: Option<String>,
    /// listmonk: the API user.
    pub username: Option<String>,
    /// listmonk: the API user's token.
    pub password: Option<String>,
}

/// The known kinds, for messages.
fn kinds() -> String {
    SubscriptionKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks an event filter; `None` is every event type the kind takes.
pub fn check_events(
    kind: SubscriptionKind,
    events: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    // By default status changes only, whatever the kind: every event (opens and clicks
    // included) is asked for by name (`event.*`, or `*`). A forwarder takes status changes
    // (to bounced or complained) only.
    let events = events.unwrap_or_else(|| vec![STATUS_CHANGED.to_string()]);
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
        if e != "*" && e != STATUS_CHANGED && kind != SubscriptionKind::Webhook {
            return Err(ApiError::bad_request(format!(
                "event type '{e}': a {} forwarder takes {STATUS_CHANGED} only",
                kind.as_str()
            )));
        }
    }
    Ok(events)
}

/// Checks a source filter: `None` is every source; else at least one id, each a source.
pub async fn check_sources(
    store: &DynStore,
    sources: Option<Vec<i64>>,
) -> Result<Option<Vec<i64>>, ApiError> {
    let Some(mut ids) = sources else {
        return Ok(None);
    };
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "sources: name at least one source id, or null for every source",
        ));
    }
    ids.sort_unstable();
    ids.dedup();
    let known = store.list_sources().await?;
    if let Some(id) = ids.iter().find(|id| !known.iter().any(|s| s.id == **id)) {
        return Err(ApiError::bad_request(format!("sources: no source {id}")));
    }
    Ok(Some(ids))
}

/// Checks a target URL against the allow list.
pub fn check_target(allow: &[IpNet], url: &str) -> Result<String, ApiError> {
    check_url(url.trim(), allow)
        .map(|u| u.to_string())
        .map_err(ApiError::bad_request)
}

/// Makes a subscription; returns it and the secret to show once (`whsec_…` for a webhook;
/// none for a forwarder: listmonk's credentials were given, ToSend's URL is its secret).
pub async fn create(
    store: &DynStore,
    allow: &[IpNet],
    req: Create,
    now: Millis,
) -> Result<(Subscription, Option<String>), ApiError> {
    let kind = SubscriptionKind::parse(req.kind.trim()).ok_or_else(|| {
        ApiError::bad_request(format!("unknown kind '{}' (known: {})", req.kind, kinds()))
    })?;
    let url = check_target(allow, &req.url)?;
    let events = check_events(kind, req.events)?;
    let sources = check_sources(store, req.sources).await?;
    let credentials = req.username.is_some() || req.password.is_some();
    let (secret, shown) = match kind {
        SubscriptionKind::Webhook | SubscriptionKind::Tosend if credentials => {
            return Err(ApiError::bad_request(format!(
                "username/password are for listmonk subscriptions, not {}",
                kind.as_str()
            )))
        }
        SubscriptionKind::Webhook => {
            let s = sign::new_secret();
            (s.clone(), Some(s))
        }
        SubscriptionKind::Listmonk => (
            forward::credentials_secret(
                req.username.as_deref().unwrap_or("").trim(),
                req.password.as_deref().unwrap_or(""),
            )
            .map_err(ApiError::bad_request)?,
            None,
        ),
        SubscriptionKind::Tosend => (String::new(), None),
    };
    let sub = store
        .create_subscription(NewSubscription {
            url,
            kind,
            events,
            sources,
            secret,
            description: req.description.unwrap_or_default(),
            created_at: now,
        })
        .await?;
    Ok((sub, shown))
}

/// The subscription `id`.
pub async fn find(store: &DynStore, id: i64) -> Result<Subscription, ApiError> {
    store
        .list_subscriptions()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no subscription {id}")))
}

/// Enables (forgetting why it was disabled) or disables a subscription.
pub fn set_enabled(sub: &mut Subscription, enabled: bool) {
    if enabled && !sub.enabled {
        sub.disabled_reason = None;
        sub.failing_since = None;
    }
    sub.enabled = enabled;
}

/// Enables or disables subscription `id` and stores it.
pub async fn enable(store: &DynStore, id: i64, enabled: bool) -> Result<Subscription, ApiError> {
    let mut sub = find(store, id).await?;
    set_enabled(&mut sub, enabled);
    store.update_subscription(sub.clone()).await?;
    super::wake();
    Ok(sub)
}

/// A new signing secret for webhook `id` (returned, to show once); the old one keeps
/// signing beside it for `overlap_hours` (at most 720).
pub async fn rotate(
    store: &DynStore,
    id: i64,
    overlap_hours: Option<u64>,
    now: Millis,
) -> Result<(Subscription, String), ApiError> {
    let hours = overlap_hours.unwrap_or(DEFAULT_OVERLAP_HOURS).min(720);
    let mut sub = find(store, id).await?;
    if sub.kind != SubscriptionKind::Webhook {
        return Err(ApiError::bad_request(format!(
            "subscription {id} is a {} forwarder: it has no signing secret to rotate",
            sub.kind.as_str()
        )));
    }
    let secret = sign::new_secret();
    sub.previous_secret = Some(std::mem::replace(&mut sub.secret, secret.clone()));
    sub.previous_until = Some(now + i64::try_from(hours).unwrap_or(24) * 3_600_000);
    store.update_subscription(sub.clone()).await?;
    Ok((sub, secret))
}

/// Queues messages of subscription `id` again; returns how many.
pub async fn redeliver(
    store: &DynStore,
    id: i64,
    what: Requeue,
    now: Millis,
) -> Result<u64, ApiError> {
    find(store, id).await?;
    let requeued = store.requeue(id, what, now).await?;
    if let (Requeue::Delivery(d), 0) = (what, requeued) {
        return Err(ApiError::not_found(format!(
            "subscription {id} has no delivery attempt {d}"
        )));
    }
    super::wake();
    Ok(requeued)
}

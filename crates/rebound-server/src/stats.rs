//! Deliverability per source, and per sending domain, over the last 24 hours and 7 days:
//! deliveries, bounces and complaints counted from the events, judged by
//! [`rebound_core::rates`]. One code path for `GET /api/v1/stats/deliverability` and the
//! dashboard. And each source's requests over the last 24 hours (`GET /api/v1/stats/sources`,
//! the dashboard's sources).

use rebound_core::rates::{self, Counts, Rates};
use rebound_store::{HourCount, Source, StoreError};
use serde::Serialize;

use crate::state::AppState;

/// The windows shown, with their length.
pub const WINDOWS: [(&str, i64); 2] = [("24h", 24 * 3_600_000), ("7d", 7 * 24 * 3_600_000)];

/// One source's (or all sources') rates over one window.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRates {
    /// The source; `None` for the row of all sources together.
    pub source_id: Option<i64>,
    /// Its name (`all sources` for the total).
    pub name: String,
    /// Its provider (empty for the total).
    pub provider: String,
    /// `24h` or `7d`.
    pub window: &'static str,
    /// What was counted.
    #[serde(flatten)]
    pub counts: Counts,
    /// The rates and how they stand.
    #[serde(flatten)]
    pub rates: Rates,
}

/// Every source with deliveries, bounces or complaints in a window, then the total, per
/// window: counted exactly from the store (the API's answer).
pub async fn deliverability(state: &AppState, now: i64) -> Result<Vec<SourceRates>, StoreError> {
    let sources = state.store.list_sources().await?;
    let mut out = Vec::new();
    for (window, len) in WINDOWS {
        let counted = state.store.kind_counts_by_source(now - len).await?;
        let counted = counted
            .iter()
            .map(|c| (c.source_id, c.kind.as_str(), c.count));
        out.extend(judge(&sources, window, counted));
    }
    Ok(out)
}

/// The same from events counted per hour: a window takes the hours that start inside it
/// (the dashboard's answer, from [`crate::tally`]).
pub fn deliverability_by_hour(
    sources: &[Source],
    hourly: &[HourCount],
    now: i64,
) -> Vec<SourceRates> {
    let mut out = Vec::new();
    for (window, len) in WINDOWS {
        let counted = hourly
            .iter()
            .filter(|c| c.hour >= now - len)
            .map(|c| (c.source_id, c.kind.as_str(), c.count));
        out.extend(judge(sources, window, counted));
    }
    out
}

/// One window's rows: each source with counts, then all sources together.
fn judge<'a>(
    sources: &[Source],
    window: &'static str,
    counted: impl Iterator<Item = (Option<i64>, &'a str, u64)>,
) -> Vec<SourceRates> {
    let mut per: std::collections::BTreeMap<Option<i64>, Counts> = Default::default();
    let mut total = Counts::default();
    for (source_id, kind, n) in counted {
        add(per.entry(source_id).or_default(), kind, n);
        add(&mut total, kind, n);
    }
    // Hourly counts carry every kind: a source with none of the three has no row.
    per.retain(|_, c| c.delivered + c.bounced + c.complained > 0);
    let mut out = Vec::new();
    for (source_id, counts) in per {
        let source = sources.iter().find(|s| Some(s.id) == source_id);
        out.push(SourceRates {
            source_id,
            name: source.map_or_else(
                || "(no source: one-off mailbox scans)".into(),
                |s| s.name.clone(),
            ),
            provider: source.map(|s| s.provider.clone()).unwrap_or_default(),
            window,
            counts,
            rates: rates::rates(counts),
        });
    }
    out.push(SourceRates {
        source_id: None,
        name: "all sources".into(),
        provider: String::new(),
        window,
        counts: total,
        rates: rates::rates(total),
    });
    out
}

/// A source with its requests over the last 24 hours.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceActivity {
    /// The source.
    pub source_id: i64,
    /// Its name.
    pub name: String,
    /// Its provider.
    pub provider: String,
    /// `active`, or a state that explains a problem.
    pub status: String,
    /// What the status means.
    pub status_message: Option<String>,
    /// When its last accepted request arrived, ever.
    #[serde(serialize_with = "rebound_core::timestamp::serde_rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_request_at: Option<rebound_core::Millis>,
    /// Requests accepted over the last 24 hours.
    pub accepted_24h: u64,
    /// Requests rejected over the last 24 hours (bad key, signature, body…).
    pub rejected_24h: u64,
}

/// Every source, with its requests over the 24 hours before `now`.
pub async fn source_activity(
    state: &AppState,
    sources: &[Source],
    now: i64,
) -> Result<Vec<SourceActivity>, StoreError> {
    let traffic = state
        .store
        .source_traffic(now - rebound_store::DAY_MS)
        .await?;
    Ok(sources
        .iter()
        .map(|s| {
            let t = traffic.iter().find(|t| t.source_id == s.id);
            SourceActivity {
                source_id: s.id,
                name: s.name.clone(),
                provider: s.provider.clone(),
                status: s.status.clone(),
                status_message: s.status_message.clone(),
                last_request_at: t.and_then(|t| t.last_received_at),
                accepted_24h: t.map_or(0, |t| t.accepted),
                rejected_24h: t.map_or(0, |t| t.rejected),
            }
        })
        .collect())
}

/// One sending domain's rates over one window.
#[derive(Debug, Clone, Serialize)]
pub struct DomainRates {
    /// The domain the messages were sent from (lower-cased), as the providers' payloads
    /// named it.
    pub domain: String,
    /// `24h` or `7d`.
    pub window: &'static str,
    /// What was counted.
    #[serde(flatten)]
    pub counts: Counts,
    /// The rates and how they stand.
    #[serde(flatten)]
    pub rates: Rates,
}

/// Every sending domain with deliveries, bounces or complaints in a window, by domain, per
/// window. Events whose payload named no sender (and events recorded before rebound kept the
/// domain) are not counted here; the total is the `all sources` row of [`deliverability`].
pub async fn deliverability_by_domain(
    state: &AppState,
    now: i64,
) -> Result<Vec<DomainRates>, StoreError> {
    let mut out = Vec::new();
    for (window, len) in WINDOWS {
        let counted = state.store.kind_counts_by_sending_domain(now - len).await?;
        let counted = counted
            .iter()
            .map(|c| (c.domain.as_str(), c.kind.as_str(), c.count));
        out.extend(judge_domains(window, counted));
    }
    Ok(out)
}

/// The same from the dashboard's per-hour counts ([`crate::tally`]): a window takes the
/// hours that start inside it.
pub fn deliverability_by_domain_hour(by_domain: &[HourCount], now: i64) -> Vec<DomainRates> {
    let mut out = Vec::new();
    for (window, len) in WINDOWS {
        let counted = by_domain.iter().filter(|c| c.hour >= now - len).map(|c| {
            let domain = c.sending_domain.as_deref().unwrap_or_default();
            (domain, c.kind.as_str(), c.count)
        });
        out.extend(judge_domains(window, counted));
    }
    out
}

/// One window's rows, one per domain.
fn judge_domains<'a>(
    window: &'static str,
    counted: impl Iterator<Item = (&'a str, &'a str, u64)>,
) -> Vec<DomainRates> {
    let mut per: std::collections::BTreeMap<&str, Counts> = Default::default();
    for (domain, kind, n) in counted {
        add(per.entry(domain).or_default(), kind, n);
    }
    per.into_iter()
        .filter(|(_, c)| c.delivered + c.bounced + c.complained > 0)
        .map(|(domain, counts)| DomainRates {
            domain: domain.to_string(),
            window,
            counts,
            rates: rates::rates(counts),
        })
        .collect()
}

/// Adds `n` events of `kind` (delivery, bounce or complaint; others are not rates' business).
fn add(counts: &mut Counts, kind: &str, n: u64) {
    match kind {
        "delivery" => counts.delivered += n,
        "bounce" => counts.bounced += n,
        "complaint" => counts.complained += n,
        _ => {}
    }
}

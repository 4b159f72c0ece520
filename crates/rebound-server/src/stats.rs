//! Deliverability per source, and per sending domain, over the last 24 hours and 7 days:
//! deliveries, bounces and complaints counted from the events, judged by
//! [`rebound_core::rates`]. One code path for `GET /api/v1/stats/deliverability` and the
//! dashboard.

use rebound_core::rates::{self, Counts, Rates};
use rebound_store::StoreError;
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
/// window.
pub async fn deliverability(state: &AppState, now: i64) -> Result<Vec<SourceRates>, StoreError> {
    let sources = state.store.list_sources().await?;
    let mut out = Vec::new();
    for (window, len) in WINDOWS {
        let counted = state.store.kind_counts_by_source(now - len).await?;
        let mut per: std::collections::BTreeMap<Option<i64>, Counts> = Default::default();
        let mut total = Counts::default();
        for c in counted {
            add(per.entry(c.source_id).or_default(), &c.kind, c.count);
            add(&mut total, &c.kind, c.count);
        }
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
    }
    Ok(out)
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
        let mut per: std::collections::BTreeMap<String, Counts> = Default::default();
        for c in counted {
            add(per.entry(c.domain).or_default(), &c.kind, c.count);
        }
        out.extend(per.into_iter().map(|(domain, counts)| DomainRates {
            domain,
            window,
            counts,
            rates: rates::rates(counts),
        }));
    }
    Ok(out)
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

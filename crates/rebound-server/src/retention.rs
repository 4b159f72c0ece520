//! Retention: request-log rows (with their raw bodies) of processed and rejected requests,
//! rejection counts, and outbound messages delivered or given up with their delivery
//! attempts, older than the retention period, are pruned in small batches, so the writer is
//! never held for long. Events, contacts, their timelines and suppressions are kept for
//! ever, and pending outbound messages until they are delivered or given up. The period is
//! the `retention_days` setting (API `PUT /api/v1/settings`), else the configured default
//! ([`DEFAULT_DAYS`]).

use std::time::Duration;

use rebound_core::timestamp::DAY_MS;
use rebound_core::Millis;
use rebound_store::{DynStore, PruneReport, StoreError};

/// The setting that holds the retention period, in days.
pub const SETTING: &str = "retention_days";
/// The retention period when neither the setting nor the configuration names one.
pub const DEFAULT_DAYS: u32 = 30;
/// Rows removed per transaction.
pub const BATCH: u32 = 1000;
/// How often the pruning runs.
pub const EVERY: Duration = Duration::from_secs(600);

/// Checks a retention period; the message names the setting.
pub fn check_days(days: u64) -> Result<u32, String> {
    u32::try_from(days)
        .ok()
        .filter(|d| (1..=3650).contains(d))
        .ok_or_else(|| format!("{SETTING} must be between 1 and 3650"))
}

/// The retention period in force: the setting, else `default_days`.
pub async fn days(store: &DynStore, default_days: u32) -> Result<u32, StoreError> {
    Ok(store
        .get_setting(SETTING)
        .await?
        .and_then(|v| v.as_u64())
        .and_then(|d| check_days(d).ok())
        .unwrap_or(default_days))
}

/// Prunes everything older than the retention period before `now`, batch after batch
/// with a pause between them (acknowledgements go first).
pub async fn prune(
    store: &DynStore,
    now: Millis,
    default_days: u32,
) -> Result<PruneReport, StoreError> {
    let before = now - Millis::from(days(store, default_days).await?) * DAY_MS;
    let mut total = PruneReport::default();
    loop {
        let r = store.prune(before, BATCH).await?;
        total.add(&r);
        if !r.full(BATCH) {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Prunes every [`EVERY`], for as long as the process runs.
pub async fn run(store: DynStore, default_days: u32) {
    loop {
        match prune(&store, crate::state::now_ms(), default_days).await {
            Ok(r) if r.total() > 0 => tracing::info!(
                requests = r.requests,
                rejection_counts = r.rejection_counts,
                outbox = r.outbox,
                deliveries = r.deliveries,
                "pruned what is older than the retention period"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; retrying later"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

//! Workers: claim inbox rows, normalize them with their provider adapter, and apply them
//! through the store (dedup, policy, contact, timeline in one transaction).
//!
//! [`run_once`] is one step, so tests and the CLI can drain the inbox without sleeping;
//! [`run`] is the loop around it. A row that fails is retried with exponential backoff and
//! marked `failed` after `max_attempts`; it never blocks the rows behind it.

use std::time::Duration;

use rebound_core::{Event, Millis, Policy, Provider, WebhookRequest};
use rebound_store::{ApplyReport, DynStore, InboxRow, Processed};
use tokio::sync::Notify;

use crate::state::now_ms;

/// Worker settings.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Concurrent worker tasks (0 pauses processing: requests are still acknowledged).
    pub tasks: usize,
    /// Inbox rows claimed at once.
    pub batch: usize,
    /// Rows claimed at once while webhooks are arriving: a batch holds the database's one
    /// writer while it is applied, and acknowledgements wait for it, so it is kept short
    /// then. A backlog with no traffic is drained with `batch`.
    pub busy_batch: usize,
    /// Attempts before a row is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt.
    pub backoff_base_ms: Millis,
    /// Longest delay between retries.
    pub backoff_max_ms: Millis,
    /// How long a claim holds a row before another worker, of this process or any other on
    /// the same database, may take it. A worker that dies holding rows (a process killed)
    /// delays them by this much; nothing releases them earlier, not even a restart.
    pub lease_ms: Millis,
    /// How long an idle worker sleeps when nobody wakes it.
    pub idle_poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            tasks: 2,
            batch: 2048,
            busy_batch: 32,
            max_attempts: 5,
            backoff_base_ms: 5_000,
            backoff_max_ms: 3_600_000,
            // Long beside a batch (claimed, normalized and applied in well under a second),
            // short beside a restart after a crash. (Amazon SQS's default visibility
            // timeout is the same 30 s.)
            lease_ms: 30_000,
            idle_poll: Duration::from_millis(500),
        }
    }
}

impl WorkerConfig {
    /// When to retry a row after its `attempts`-th failure.
    pub fn retry_at(&self, now: Millis, attempts: u32) -> Millis {
        let shift = attempts.saturating_sub(1).min(30);
        let delay = self.backoff_base_ms.saturating_mul(1 << shift);
        now + delay.min(self.backoff_max_ms)
    }
}

/// Runs `f`, turning a panic into an error naming `what`: a parser bug met on one request
/// fails that request (retried, then `failed` and replayable) instead of ending the worker
/// task that met it.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %msg, "{what} panicked");
        format!("{what} panicked (a bug in rebound: the request is kept for replay)")
    })
}

/// Normalizes one inbox row: provider lookup, parse, dedup scoping. Pure; a panic of a
/// parser is an error of the row (see [`guarded`]).
pub fn normalize(row: &InboxRow) -> Result<Vec<Event>, String> {
    guarded("normalizing the request", || normalize_row(row))?
}

fn normalize_row(row: &InboxRow) -> Result<Vec<Event>, String> {
    if row.provider == crate::mailbox::PROVIDER {
        return Ok(crate::mailbox::normalize(
            &row.headers,
            &row.body,
            row.received_at,
        ));
    }
    if row.provider == crate::unsubscribe::PROVIDER {
        return crate::unsubscribe::normalize(&row.body, row.received_at);
    }
    let p = Provider::from_name(&row.provider)
        .ok_or_else(|| format!("unknown provider '{}'", row.provider))?;
    let req = WebhookRequest {
        headers: row.headers.clone(),
        body: row.body.clone(),
        received_at: row.received_at,
    };
    let mut events = p.parse(&req).map_err(|e| e.0)?;
    if p.dedup_per_source() {
        for e in &mut events {
            e.dedup_key = format!("s{}:{}", row.source_id, e.dedup_key);
        }
    }
    Ok(events)
}

/// What one step did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// Rows claimed.
    pub claimed: usize,
    /// What applying them did.
    pub report: ApplyReport,
}

/// Claims one batch, normalizes it, applies it.
pub async fn run_once(
    store: &DynStore,
    policy: Policy,
    cfg: &WorkerConfig,
) -> rebound_store::Result<Step> {
    let now = now_ms();
    let rows = store.claim(cfg.batch, now, now + cfg.lease_ms).await?;
    if rows.is_empty() {
        return Ok(Step::default());
    }
    let claimed = rows.len();
    // When each row that normalized was received: its latency is recorded once applied.
    let mut received: Vec<(i64, Millis)> = Vec::with_capacity(claimed);
    let processed: std::sync::Arc<[Processed]> = rows
        .into_iter()
        .map(|row| {
            let outcome = normalize(&row);
            match &outcome {
                Ok(_) => received.push((row.id, row.received_at)),
                Err(e) => {
                    tracing::warn!(inbox_id = row.id, attempt = row.attempts, error = %e, "inbox row failed to normalize");
                }
            }
            Processed {
                inbox_id: row.id,
                source_id: row.source_id,
                provider: row.provider,
                outcome,
                attempts: row.attempts,
                max_attempts: cfg.max_attempts,
                retry_at: cfg.retry_at(now, row.attempts),
            }
        })
        .collect();
    // `processed` is shared: cloning it copies a pointer, not the batch.
    let report = match store.apply(processed.clone(), policy, now_ms()).await {
        Ok(r) => {
            if r.stale > 0 {
                tracing::warn!(
                    rows = r.stale,
                    lease_ms = cfg.lease_ms,
                    "rows were finished by another worker after this one's lease expired"
                );
            } else {
                // Every row that normalized is done (with stale rows, which ones is not
                // known: their holder recorded them).
                crate::metrics::processed(received.iter().map(|(_, at)| *at));
            }
            r
        }
        Err(rebound_store::StoreError::Unavailable(e)) => {
            return Err(rebound_store::StoreError::Unavailable(e))
        }
        // Something in the batch fails: apply the rows one by one so that only the failing
        // one is retried (and its error recorded), and the others go through.
        Err(batch_err) => {
            tracing::warn!(error = %batch_err, rows = processed.len(), "batch failed; applying row by row");
            let mut total = ApplyReport::default();
            for p in processed.iter() {
                let r = match store
                    .apply(std::sync::Arc::new([p.clone()]), policy, now_ms())
                    .await
                {
                    Ok(r) => {
                        if r.done == 1 {
                            crate::metrics::processed(
                                received
                                    .iter()
                                    .filter(|(id, _)| *id == p.inbox_id)
                                    .map(|(_, at)| *at),
                            );
                        }
                        r
                    }
                    Err(e) => {
                        tracing::warn!(inbox_id = p.inbox_id, error = %e, "inbox row failed to apply");
                        let failed = Processed {
                            outcome: Err(e.to_string()),
                            ..p.clone()
                        };
                        store
                            .apply(std::sync::Arc::new([failed]), policy, now_ms())
                            .await?
                    }
                };
                total.absorb(r);
            }
            total
        }
    };
    crate::metrics::applied(&report);
    if !report.changes.is_empty() {
        // Their outbox rows are committed: deliver them now rather than at the next poll.
        crate::outbound::wake();
    }
    Ok(Step { claimed, report })
}

/// Runs [`run_once`] until the inbox is empty (rows waiting for a retry are left).
pub async fn drain(
    store: &DynStore,
    policy: Policy,
    cfg: &WorkerConfig,
) -> rebound_store::Result<ApplyReport> {
    let mut total = ApplyReport::default();
    loop {
        let step = run_once(store, policy, cfg).await?;
        if step.claimed == 0 {
            return Ok(total);
        }
        total.absorb(step.report);
    }
}

/// The worker loop: process while there is work, sleep until woken or `idle_poll` passes.
pub async fn run(
    store: DynStore,
    policy: impl Fn() -> Policy + Send + 'static,
    cfg: WorkerConfig,
    wake: std::sync::Arc<Notify>,
    busy: impl Fn() -> bool + Send + 'static,
) {
    let mut failures = 0u32;
    let quiet = cfg;
    let busy_cfg = WorkerConfig {
        batch: cfg.busy_batch,
        ..cfg
    };
    loop {
        let cfg = if busy() { &busy_cfg } else { &quiet };
        match run_once(&store, policy(), cfg).await {
            Ok(step) if step.claimed > 0 => {
                failures = 0;
                continue;
            }
            Ok(_) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::error!(error = %e, "worker step failed");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(25)))).await;
                continue;
            }
        }
        let _ = tokio::time::timeout(cfg.idle_poll, wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let cfg = WorkerConfig {
            backoff_base_ms: 1000,
            backoff_max_ms: 5000,
            ..Default::default()
        };
        assert_eq!(cfg.retry_at(0, 1), 1000);
        assert_eq!(cfg.retry_at(0, 2), 2000);
        assert_eq!(cfg.retry_at(0, 3), 4000);
        assert_eq!(cfg.retry_at(0, 4), 5000);
        assert_eq!(cfg.retry_at(0, 99), 5000);
    }

    #[test]
    fn unknown_providers_and_bad_bodies_fail_with_a_message() {
        let row = InboxRow {
            id: 1,
            source_id: 1,
            provider: "nope".into(),
            received_at: 0,
            headers: vec![],
            body: b"{}".to_vec(),
            attempts: 1,
        };
        assert!(normalize(&row).unwrap_err().contains("unknown provider"));
        let row = InboxRow {
            provider: "tosend".into(),
            body: b"[1]".to_vec(),
            ..row
        };
        assert!(normalize(&row).unwrap_err().contains("not an object"));
    }

    #[test]
    fn generic_keys_are_scoped_to_the_source() {
        let row = InboxRow {
            id: 1,
            source_id: 7,
            provider: "generic".into(),
            received_at: 0,
            headers: vec![],
            body: br#"{"id":"e1","type":"delivered","data":{"email":"a@x.io"}}"#.to_vec(),
            attempts: 1,
        };
        assert_eq!(normalize(&row).unwrap()[0].dedup_key, "s7:generic:id:e1");
    }
}

#[cfg(test)]
mod guard_tests {
    #[test]
    fn a_panic_becomes_an_error_of_the_row() {
        assert_eq!(super::guarded("x", || 7), Ok(7));
        let err =
            super::guarded("parsing", || -> u8 { panic!("boom at byte 3") }).expect_err("a panic");
        assert!(err.contains("parsing panicked"), "{err}");
        let err = super::guarded("parsing", || -> u8 {
            let v: Vec<u8> = Vec::new();
            v[1]
        })
        .expect_err("an index panic");
        assert!(err.contains("kept for replay"), "{err}");
    }
}

//! The dashboard's events per hour, source and kind over the last 14 days, kept in memory:
//! counted once from the store (the `(occurred_at, kind, source_id)` index range, about 0.6 s
//! at five million events), then brought up to date on each read with the events stored
//! since (a short read by id). Counted afresh in the background once a minute, which also
//! takes in what additions by id cannot see: events erased, and on PostgreSQL an event
//! committed by another node after a higher id was already counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rebound_core::Millis;
use rebound_store::{DynStore, HourCount, HourlyCounts, DAY_MS};

/// Days counted, today included.
pub const DAYS: i64 = 14;
/// How often everything is counted afresh.
const RECOUNT: Duration = Duration::from_secs(60);
/// An hour in milliseconds.
pub const HOUR_MS: Millis = 3_600_000;

type Key = (Millis, Option<i64>, String);

struct Counted {
    since: Millis,
    upto_id: i64,
    at: Instant,
    buckets: HashMap<Key, u64>,
}

impl Counted {
    fn new(since: Millis, counts: HourlyCounts) -> Counted {
        let mut c = Counted {
            since,
            upto_id: 0,
            at: Instant::now(),
            buckets: HashMap::new(),
        };
        c.add(counts);
        c
    }

    fn add(&mut self, counts: HourlyCounts) {
        self.upto_id = self.upto_id.max(counts.upto_id);
        for r in counts.rows {
            *self
                .buckets
                .entry((r.hour, r.source_id, r.kind))
                .or_default() += r.count;
        }
    }
}

/// The counts, shared by the requests of one process.
#[derive(Default)]
pub struct Tally {
    counted: tokio::sync::Mutex<Option<Counted>>,
    recounting: AtomicBool,
}

/// The first day counted at `now`: midnight (UTC) 13 days before today.
pub fn first_day(now: Millis) -> Millis {
    now / DAY_MS * DAY_MS - (DAYS - 1) * DAY_MS
}

impl Tally {
    /// Events per hour, source and kind from [`first_day`] on, up to the newest stored.
    pub async fn hourly(
        self: &Arc<Self>,
        store: &DynStore,
        now: Millis,
    ) -> rebound_store::Result<Vec<HourCount>> {
        let since = first_day(now);
        let mut counted = self.counted.lock().await;
        match counted.as_mut() {
            None => {
                let counts = store.hourly_event_counts(since, 0).await?;
                *counted = Some(Counted::new(since, counts));
            }
            Some(c) => {
                c.add(store.hourly_event_counts(c.since, c.upto_id).await?);
                if c.at.elapsed() > RECOUNT && !self.recounting.swap(true, Ordering::AcqRel) {
                    tokio::spawn(self.clone().recount(store.clone(), since));
                }
            }
        }
        Ok(counted.as_ref().map_or_else(Vec::new, |c| {
            c.buckets
                .iter()
                .filter(|((hour, _, _), _)| *hour >= since)
                .map(|((hour, source_id, kind), count)| HourCount {
                    hour: *hour,
                    source_id: *source_id,
                    kind: kind.clone(),
                    count: *count,
                })
                .collect()
        }))
    }

    /// Counts everything again, while readers go on with the counts as they are.
    async fn recount(self: Arc<Self>, store: DynStore, since: Millis) {
        let counts = store.hourly_event_counts(since, 0).await;
        match counts {
            Ok(counts) => {
                let fresh = Counted::new(since, counts);
                // Readers may have added events past the new count's end since: the next
                // read adds them again from there, so the fresh count replaces all.
                *self.counted.lock().await = Some(fresh);
            }
            Err(e) => tracing::warn!(error = %e, "the dashboard's event counts: recount failed"),
        }
        self.recounting.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: Millis, kind: &str, count: u64) -> HourCount {
        HourCount {
            hour,
            source_id: Some(1),
            kind: kind.into(),
            count,
        }
    }

    #[test]
    fn additions_sum_per_hour_source_and_kind() {
        let mut c = Counted::new(
            0,
            HourlyCounts {
                upto_id: 5,
                rows: vec![row(0, "bounce", 2), row(HOUR_MS, "bounce", 1)],
            },
        );
        c.add(HourlyCounts {
            upto_id: 9,
            rows: vec![row(0, "bounce", 3), row(0, "delivery", 4)],
        });
        assert_eq!(c.upto_id, 9);
        assert_eq!(c.buckets[&(0, Some(1), "bounce".into())], 5);
        assert_eq!(c.buckets[&(0, Some(1), "delivery".into())], 4);
        assert_eq!(c.buckets[&(HOUR_MS, Some(1), "bounce".into())], 1);
        c.add(HourlyCounts {
            upto_id: 9,
            rows: vec![],
        });
        assert_eq!(c.upto_id, 9, "an empty addition keeps the end");
    }

    #[test]
    fn the_first_day_is_thirteen_days_before_today() {
        let now = 20_000 * DAY_MS + 5 * HOUR_MS;
        assert_eq!(first_day(now), 19_987 * DAY_MS);
    }
}

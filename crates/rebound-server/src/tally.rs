//! The dashboard's events per hour, source and kind over the last 14 days, kept in memory:
//! counted once from the store (the `(occurred_at, kind, source_id)` index range, about 0.6 s
//! at five million events), then brought up to date on each read with the events stored
//! since (a short read by id). Counted afresh in the background once a minute, which also
//! takes in what additions by id cannot see: events erased, and on PostgreSQL an event
//! committed by another node after a higher id was already counted.
//!
//! Deliveries, bounces and complaints are also kept per sending domain, for the last 7 days
//! and for [`MAX_DOMAINS`] domains at most (the rest together as [`OTHER_DOMAINS`]), so that
//! memory stays bounded whatever the payloads name.

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
/// Sending domains counted one by one at most.
pub const MAX_DOMAINS: usize = 200;
/// Where the domains past [`MAX_DOMAINS`] are counted.
pub const OTHER_DOMAINS: &str = "(other domains)";
/// How far back domains are counted.
const DOMAIN_DAYS: i64 = 7;

type Key = (Millis, Option<i64>, String);
type DomainKey = (Millis, String, String);

struct Counted {
    since: Millis,
    upto_id: i64,
    at: Instant,
    buckets: HashMap<Key, u64>,
    domains: HashMap<DomainKey, u64>,
    domain_names: std::collections::HashSet<String>,
}

/// What [`Tally::hourly`] answers.
#[derive(Debug, Default)]
pub struct Hourly {
    /// Events per hour, source and kind (`sending_domain` is `None`).
    pub by_source: Vec<HourCount>,
    /// Deliveries, bounces and complaints per hour and sending domain over the last 7
    /// days (`source_id` is `None`).
    pub by_domain: Vec<HourCount>,
}

impl Counted {
    fn new(since: Millis, counts: HourlyCounts) -> Counted {
        let mut c = Counted {
            since,
            upto_id: 0,
            at: Instant::now(),
            buckets: HashMap::new(),
            domains: HashMap::new(),
            domain_names: Default::default(),
        };
        c.add(counts);
        c
    }

    fn add(&mut self, counts: HourlyCounts) {
        self.upto_id = self.upto_id.max(counts.upto_id);
        let domains_since = self.since + (DAYS - DOMAIN_DAYS) * DAY_MS;
        for r in counts.rows {
            let rated = matches!(r.kind.as_str(), "delivery" | "bounce" | "complaint");
            if let Some(domain) = r
                .sending_domain
                .filter(|_| rated && r.hour >= domains_since)
            {
                let known = self.domain_names.contains(&domain);
                let domain = if known || self.domain_names.len() < MAX_DOMAINS {
                    self.domain_names.insert(domain.clone());
                    domain
                } else {
                    OTHER_DOMAINS.to_string()
                };
                *self
                    .domains
                    .entry((r.hour, domain, r.kind.clone()))
                    .or_default() += r.count;
            }
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
    /// Events per hour, source and kind from [`first_day`] on, up to the newest stored;
    /// and per sending domain.
    pub async fn hourly(
        self: &Arc<Self>,
        store: &DynStore,
        now: Millis,
    ) -> rebound_store::Result<Hourly> {
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
        Ok(counted.as_ref().map_or_else(Hourly::default, |c| Hourly {
            by_source: c
                .buckets
                .iter()
                .filter(|((hour, _, _), _)| *hour >= since)
                .map(|((hour, source_id, kind), count)| HourCount {
                    hour: *hour,
                    source_id: *source_id,
                    kind: kind.clone(),
                    sending_domain: None,
                    count: *count,
                })
                .collect(),
            by_domain: c
                .domains
                .iter()
                .filter(|((hour, _, _), _)| *hour >= since)
                .map(|((hour, domain, kind), count)| HourCount {
                    hour: *hour,
                    source_id: None,
                    kind: kind.clone(),
                    sending_domain: Some(domain.clone()),
                    count: *count,
                })
                .collect(),
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
            sending_domain: None,
            count,
        }
    }

    fn sent(domain: &str, kind: &str) -> HourCount {
        HourCount {
            sending_domain: Some(domain.into()),
            ..row(DAYS * DAY_MS, kind, 1)
        }
    }

    #[test]
    fn domains_are_counted_for_rated_kinds_up_to_the_cap() {
        let mut c = Counted::new(DAY_MS, HourlyCounts::default());
        let mut rows = vec![sent("a.example", "bounce"), sent("a.example", "open")];
        rows.extend((0..MAX_DOMAINS + 5).map(|i| sent(&format!("d{i}.example"), "delivery")));
        // More than seven days back: not counted per domain.
        rows.push(HourCount {
            hour: 2 * DAY_MS,
            ..sent("old.example", "bounce")
        });
        c.add(HourlyCounts { upto_id: 1, rows });
        assert_eq!(c.domain_names.len(), MAX_DOMAINS);
        let at = DAYS * DAY_MS;
        let other = c.domains[&(at, OTHER_DOMAINS.into(), "delivery".into())];
        assert_eq!(other, 6, "the domains past the cap, together");
        assert_eq!(c.domains[&(at, "a.example".into(), "bounce".into())], 1);
        assert!(
            !c.domains.keys().any(|k| k.2 == "open"),
            "opens have no rate"
        );
        assert!(!c.domains.keys().any(|k| k.1 == "old.example"));
        // Every event is still counted per source.
        let per_source: u64 = c.buckets.values().sum();
        assert_eq!(per_source, 2 + MAX_DOMAINS as u64 + 5 + 1);
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

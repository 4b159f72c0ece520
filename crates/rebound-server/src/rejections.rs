//! Rejected webhook requests cost bounded space: each is counted (per minute, source,
//! status and error) in memory and the counts are written every few seconds in one small
//! transaction; only a sample of them — the first of each kind in a minute, at most
//! [`SAMPLES_PER_MINUTE`] — becomes a request-log row and a log line. A flood of forged
//! requests thus neither fills the disk nor queues fsyncs ahead of real acknowledgements.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rebound_core::Millis;
use rebound_store::{DynStore, NewLogEntry, RejectionCount};

/// Rejected requests kept as request-log rows per minute, at most.
pub const SAMPLES_PER_MINUTE: u32 = 60;
/// Distinct (source, provider, status, error) counted per flush; further kinds are counted
/// under one "other" key.
pub const MAX_KINDS: usize = 1000;
/// Longest error text kept in a count or a sample.
pub const MAX_ERROR_CHARS: usize = 200;
/// How often counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

type Kind = (Millis, Option<i64>, Option<String>, u16, String);

#[derive(Default)]
struct Inner {
    minute: Millis,
    samples: u32,
    sampled: std::collections::HashSet<(Option<i64>, u16, String)>,
    not_logged: u64,
    counts: HashMap<Kind, u64>,
}

/// The counter of rejected requests (one per process).
#[derive(Default)]
pub struct Rejections {
    inner: Mutex<Inner>,
}

/// `s` cut to at most `max` characters.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Rejections {
    /// Counts a rejected request; returns whether to keep it as a request-log row (and log
    /// it), with its error shortened.
    pub fn note(&self, entry: &mut NewLogEntry) -> bool {
        let error = truncate(entry.error.as_deref().unwrap_or(""), MAX_ERROR_CHARS);
        entry.error = entry.error.as_ref().map(|_| error.clone());
        let minute = entry.received_at - entry.received_at.rem_euclid(60_000);
        let Ok(mut g) = self.inner.lock() else {
            return false;
        };
        if g.minute != minute {
            if g.not_logged > 0 {
                tracing::warn!(
                    count = g.not_logged,
                    "rejected requests in the last minute beyond the logged sample"
                );
            }
            g.minute = minute;
            g.samples = 0;
            g.sampled.clear();
            g.not_logged = 0;
        }
        let full = g.counts.len() >= MAX_KINDS;
        let kind: Kind = if full {
            (
                minute,
                None,
                None,
                entry.http_status,
                "other rejections".into(),
            )
        } else {
            (
                minute,
                entry.source_id,
                entry.provider.clone(),
                entry.http_status,
                error.clone(),
            )
        };
        *g.counts.entry(kind).or_insert(0) += 1;
        let first_of_kind = g.sampled.len() < MAX_KINDS
            && g.sampled
                .insert((entry.source_id, entry.http_status, error));
        let sample = first_of_kind && g.samples < SAMPLES_PER_MINUTE;
        if sample {
            g.samples += 1;
        } else {
            g.not_logged += 1;
        }
        sample
    }

    /// The counts gathered since the last call, emptied.
    pub fn take(&self) -> Vec<RejectionCount> {
        let Ok(mut g) = self.inner.lock() else {
            return Vec::new();
        };
        Self::as_counts(std::mem::take(&mut g.counts))
    }

    /// The counts gathered and not written yet.
    pub fn pending(&self) -> Vec<RejectionCount> {
        self.inner
            .lock()
            .map(|g| Self::as_counts(g.counts.clone()))
            .unwrap_or_default()
    }

    fn as_counts(counts: HashMap<Kind, u64>) -> Vec<RejectionCount> {
        counts
            .into_iter()
            .map(
                |((minute, source_id, provider, http_status, error), count)| RejectionCount {
                    minute,
                    source_id,
                    provider,
                    http_status,
                    error,
                    count,
                },
            )
            .collect()
    }

    /// Writes the counts every [`FLUSH_EVERY`], for as long as the process runs.
    pub async fn flush_loop(self: std::sync::Arc<Self>, store: DynStore) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.flush(&store).await;
        }
    }

    /// Writes the counts gathered so far (kept for the next try if the store fails).
    pub async fn flush(&self, store: &DynStore) {
        let counts = self.take();
        if counts.is_empty() {
            return;
        }
        if let Err(e) = store.add_rejections(counts.clone()).await {
            tracing::error!(error = %e, "could not store rejection counts");
            if let Ok(mut g) = self.inner.lock() {
                for c in counts {
                    let kind = (c.minute, c.source_id, c.provider, c.http_status, c.error);
                    *g.counts.entry(kind).or_insert(0) += c.count;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: Millis, source: Option<i64>, error: &str) -> NewLogEntry {
        NewLogEntry {
            received_at: at,
            source_id: source,
            provider: Some("generic".into()),
            method: "POST".into(),
            path: "/webhooks/generic/<key>".into(),
            remote_addr: None,
            http_status: 401,
            outcome: "rejected".into(),
            error: Some(error.into()),
        }
    }

    #[test]
    fn a_flood_is_counted_whole_and_sampled_sparingly() {
        let r = Rejections::default();
        let mut kept = 0;
        for i in 0..10_000 {
            // Two kinds of error from one source, then a flood of distinct errors.
            let err = match i % 3 {
                0 => "invalid signature".to_string(),
                1 => "missing signature".to_string(),
                _ => format!("invalid JSON at column {i}"),
            };
            if r.note(&mut entry(120_000 + i, Some(1), &err)) {
                kept += 1;
            }
        }
        assert_eq!(kept, SAMPLES_PER_MINUTE, "samples capped per minute");
        let counts = r.take();
        assert_eq!(
            counts.iter().map(|c| c.count).sum::<u64>(),
            10_000,
            "every one counted"
        );
        assert!(
            counts.len() <= MAX_KINDS + 1,
            "kinds capped: {}",
            counts.len()
        );
        assert!(counts.iter().any(|c| c.error == "other rejections"));
        assert!(r.take().is_empty(), "taken once");
        // A new minute samples again.
        assert!(r.note(&mut entry(180_000, Some(1), "invalid signature")));
        assert!(
            !r.note(&mut entry(180_001, Some(1), "invalid signature")),
            "same kind"
        );
    }

    #[test]
    fn errors_are_cut_on_character_boundaries() {
        let r = Rejections::default();
        let mut e = entry(0, None, &"é".repeat(10_000));
        r.note(&mut e);
        let kept = e.error.unwrap_or_default();
        assert_eq!(kept.chars().count(), MAX_ERROR_CHARS + 1, "{kept}");
        assert_eq!(truncate("short", 10), "short");
    }
}

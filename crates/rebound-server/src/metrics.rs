//! `GET /metrics`: what rebound does, in the Prometheus text format (admin token required;
//! see `docs/metrics.md` for a scrape configuration).
//!
//! Every metric is named `rebound_…`; counters end in `_total`, durations are histograms in
//! seconds. Label values come from fixed lists only (provider names, outcomes, event kinds,
//! backends): never an address, a contact, a source's name or id, nor anything taken from a
//! request's URL, so nobody can make the set of series grow.
//!
//! | Metric | Type | Labels | What |
//! |---|---|---|---|
//! | `rebound_webhooks_total` | counter | `provider`, `outcome` | Webhook requests answered ([`WEBHOOKS`]) |
//! | `rebound_events_total` | counter | `kind` | Events stored by the workers ([`EVENTS`]) |
//! | `rebound_events_skipped_total` | counter | `reason` | Events not stored: `duplicate`, `unmatched` ([`EVENTS_SKIPPED`]) |
//! | `rebound_inbox_processed_total` | counter | `outcome` | Inbox rows the workers finished: `done`, `retried`, `failed` ([`INBOX_PROCESSED`]) |
//! | `rebound_processing_latency_seconds` | histogram | | From a request's receipt to its events applied ([`PROCESSING_SECONDS`]) |
//! | `rebound_inbox_rows` | gauge | `state` | Inbox rows: `pending`, `done`, `failed`, read at scrape time ([`INBOX_ROWS`]) |
//! | `rebound_inbox_oldest_pending_age_seconds` | gauge | | Age of the pending row first in line, 0 when none ([`INBOX_OLDEST_AGE`]) |
//! | `rebound_mailbox_scans_total` | counter | `outcome` | Mailbox passes ([`MAILBOX_SCANS`]) |
//! | `rebound_mailbox_scan_duration_seconds` | histogram | | How long a pass that ran took ([`MAILBOX_SCAN_SECONDS`]) |
//! | `rebound_store_commit_duration_seconds` | histogram | `backend` | A write transaction's `COMMIT` ([`STORE_COMMIT_SECONDS`]) |
//!
//! Counters and histograms go through the `metrics` facade to one process-wide recorder,
//! installed once ([`handle`]) by the first [`crate::router`]: every app of a process (tests
//! start many) serves the same counters. The inbox gauges are not kept in the recorder: each
//! scrape reads them from the app's own store and appends them to the rendered text.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rebound_store::ApplyReport;

use crate::state::{now_ms, AppState};

/// Webhook requests answered, by `provider` (a provider's own name, `unknown` for a URL
/// naming none) and `outcome` (see [`webhook_outcome`]).
pub const WEBHOOKS: &str = "rebound_webhooks_total";
/// Events stored by the workers, by `kind` (`bounce`, `complaint`, …).
pub const EVENTS: &str = "rebound_events_total";
/// Events not stored, by `reason`: `duplicate` (seen before), `unmatched` (the recipient had
/// to be a known contact and was not).
pub const EVENTS_SKIPPED: &str = "rebound_events_skipped_total";
/// Inbox rows the workers finished an attempt on, by `outcome`: `done`, `retried` (failed,
/// due again later), `failed` (for good, kept for replay).
pub const INBOX_PROCESSED: &str = "rebound_inbox_processed_total";
/// Seconds from a request's receipt to its events applied (rows done).
pub const PROCESSING_SECONDS: &str = "rebound_processing_latency_seconds";
/// Inbox rows by `state` (`pending`, `done`, `failed`), read from the store at scrape time.
pub const INBOX_ROWS: &str = "rebound_inbox_rows";
/// Seconds since the pending inbox row first in line was received (0 when none is).
pub const INBOX_OLDEST_AGE: &str = "rebound_inbox_oldest_pending_age_seconds";
/// Mailbox passes, by `outcome`: `ok`, `busy` (another pass held the mailbox),
/// `lock_lost`, `config_error`, `mailbox_error`, `store_error`.
pub const MAILBOX_SCANS: &str = "rebound_mailbox_scans_total";
/// Seconds a mailbox pass took (passes that ran: not `busy`).
pub const MAILBOX_SCAN_SECONDS: &str = "rebound_mailbox_scan_duration_seconds";
/// Outbound delivery attempts, by subscription `kind` and `outcome` (`delivered`, `retry`,
/// `gave_up`).
pub const OUTBOUND_DELIVERIES: &str = "rebound_outbound_deliveries_total";
/// Seconds an outbound delivery attempt took (request to answer, or to the error).
pub const OUTBOUND_SECONDS: &str = "rebound_outbound_delivery_duration_seconds";

/// Seconds a write transaction's `COMMIT` took, by `backend` (recorded by the store).
pub const STORE_COMMIT_SECONDS: &str = rebound_store::COMMIT_SECONDS;

/// Histogram buckets (seconds) of commits: half a millisecond to ten seconds.
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the processing latency and of mailbox passes: a backlog or a large mailbox
/// takes minutes, so these go on to an hour.
const LONG_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The response's body type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder's handle, installed on first use. `None` when another global
/// recorder was installed first (then `/metrics` shows the inbox gauges only).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(PROCESSING_SECONDS.into()), LONG_BUCKETS)
        })
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(MAILBOX_SCAN_SECONDS.into()), LONG_BUCKETS)
        })
        .map(|b| b.build_recorder());
    let recorder = match recorder {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "metrics: could not build the recorder");
            return None;
        }
    };
    let handle = recorder.handle();
    if let Err(e) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %e, "metrics: another recorder is installed; /metrics shows the inbox gauges only");
        return None;
    }
    describe();
    // Histogram samples pile up between renders: fold them in now and then even when
    // nobody scrapes. A thread, not a task: it outlives any one runtime (tests run many).
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics: no upkeep thread; histograms are folded at scrape time only");
    }
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        WEBHOOKS,
        "Webhook requests answered, by provider and outcome."
    );
    describe_counter!(EVENTS, "Events stored by the workers, by kind.");
    describe_counter!(
        EVENTS_SKIPPED,
        "Events not stored: duplicate (seen before) or unmatched (not a known contact)."
    );
    describe_counter!(
        INBOX_PROCESSED,
        "Inbox rows the workers finished an attempt on: done, retried or failed."
    );
    describe_histogram!(
        PROCESSING_SECONDS,
        "Seconds from a request's receipt to its events applied."
    );
    describe_counter!(MAILBOX_SCANS, "Mailbox passes, by outcome.");
    describe_histogram!(MAILBOX_SCAN_SECONDS, "Seconds a mailbox pass took.");
    describe_counter!(
        OUTBOUND_DELIVERIES,
        "Outbound delivery attempts, by subscription kind and outcome: delivered, retry, gave_up."
    );
    describe_histogram!(
        OUTBOUND_SECONDS,
        "Seconds an outbound delivery attempt took."
    );
    describe_histogram!(
        STORE_COMMIT_SECONDS,
        "Seconds a write transaction's COMMIT took, by backend."
    );
}

/// A response extension: answered 200 without storing anything (an SNS subscription or
/// unsubscription confirmed).
#[derive(Debug, Clone, Copy)]
pub struct NotStored;

/// A webhook response's `outcome` label: from a fixed list, by status.
pub fn webhook_outcome(resp: &Response) -> &'static str {
    match resp.status() {
        StatusCode::OK if resp.extensions().get::<NotStored>().is_some() => "subscription",
        s if s.is_success() => "accepted",
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "error",
        _ => "other",
    }
}

/// Counts a webhook request. `provider` is a provider's own name (`Provider::name`) or
/// `unknown`, never text from the request.
pub fn webhook(provider: &'static str, resp: &Response) {
    metrics::counter!(WEBHOOKS, "provider" => provider, "outcome" => webhook_outcome(resp))
        .increment(1);
}

/// Counts what a worker's apply did.
pub fn applied(report: &ApplyReport) {
    for (kind, n) in report.stored_by_kind() {
        if n > 0 {
            metrics::counter!(EVENTS, "kind" => kind.as_str()).increment(n);
        }
    }
    for (reason, n) in [
        ("duplicate", report.duplicates),
        ("unmatched", report.unmatched),
    ] {
        if n > 0 {
            metrics::counter!(EVENTS_SKIPPED, "reason" => reason).increment(n);
        }
    }
    for (outcome, n) in [
        ("done", report.done),
        ("retried", report.retried),
        ("failed", report.failed),
    ] {
        if n > 0 {
            metrics::counter!(INBOX_PROCESSED, "outcome" => outcome).increment(n);
        }
    }
}

/// Records the processing latency of rows received at `received_at` (ms), applied now.
pub fn processed(received_at: impl IntoIterator<Item = rebound_core::Millis>) {
    let now = now_ms();
    let h = metrics::histogram!(PROCESSING_SECONDS);
    for at in received_at {
        h.record((now - at).max(0) as f64 / 1000.0);
    }
}

/// Counts a mailbox pass that started at `started`.
pub fn mailbox_scan<T>(outcome: &Result<T, crate::mailbox::ScanError>, started: Instant) {
    use crate::mailbox::ScanError;
    let label = match outcome {
        Ok(_) => "ok",
        Err(ScanError::Busy) => "busy",
        Err(ScanError::LockLost(_)) => "lock_lost",
        Err(ScanError::Config(_)) => "config_error",
        Err(ScanError::Mailbox(_)) => "mailbox_error",
        Err(ScanError::Store(_)) => "store_error",
    };
    metrics::counter!(MAILBOX_SCANS, "outcome" => label).increment(1);
    if label != "busy" {
        metrics::histogram!(MAILBOX_SCAN_SECONDS).record(started.elapsed().as_secs_f64());
    }
}

/// `GET /metrics` (behind a key of scope `read` or `admin`).
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format (every metric in docs/metrics.md).", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "No key, or a wrong one.", body = crate::error::ErrorBody),
    ))]
pub async fn scrape(State(state): State<AppState>, req: axum::http::request::Parts) -> Response {
    if let Err(refused) = crate::auth::authorize(&state, &req).await {
        return refused;
    }
    let mut text = handle().map(|h| h.render()).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    match inbox_gauges(&state).await {
        Ok(g) => text.push_str(&g),
        // The rest is still worth having; a missing gauge says the store did not answer.
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the inbox"),
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// The inbox gauges, in the text format, from the app's store.
async fn inbox_gauges(state: &AppState) -> rebound_store::Result<String> {
    use std::fmt::Write;
    let counts = state.store.inbox_counts().await?;
    let oldest = state.store.oldest_pending_received_at().await?;
    let age = oldest.map_or(0.0, |at| (now_ms() - at).max(0) as f64 / 1000.0);
    let mut s = String::new();
    let _ = writeln!(s, "# HELP {INBOX_ROWS} Inbox rows by state.");
    let _ = writeln!(s, "# TYPE {INBOX_ROWS} gauge");
    for (st, n) in [
        ("pending", counts.pending),
        ("done", counts.done),
        ("failed", counts.failed),
    ] {
        let _ = writeln!(s, "{INBOX_ROWS}{{state=\"{st}\"}} {n}");
    }
    let _ = writeln!(
        s,
        "# HELP {INBOX_OLDEST_AGE} Seconds since the oldest pending inbox row was received (0 when none is)."
    );
    let _ = writeln!(s, "# TYPE {INBOX_OLDEST_AGE} gauge");
    let _ = writeln!(s, "{INBOX_OLDEST_AGE} {age}");
    Ok(s)
}

/// Counts an outbound delivery attempt and its time. `kind` is a subscription kind's own
/// name; `outcome` one of `delivered`, `retry`, `gave_up`.
pub fn outbound_attempt(kind: &'static str, outcome: &'static str, seconds: f64) {
    metrics::counter!(OUTBOUND_DELIVERIES, "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!(OUTBOUND_SECONDS).record(seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_come_from_the_status() {
        let resp = |s: StatusCode| s.into_response();
        assert_eq!(webhook_outcome(&resp(StatusCode::OK)), "accepted");
        let mut sub = resp(StatusCode::OK);
        sub.extensions_mut().insert(NotStored);
        assert_eq!(webhook_outcome(&sub), "subscription");
        assert_eq!(webhook_outcome(&resp(StatusCode::FORBIDDEN)), "forbidden");
        assert_eq!(
            webhook_outcome(&resp(StatusCode::PAYLOAD_TOO_LARGE)),
            "too_large"
        );
        assert_eq!(webhook_outcome(&resp(StatusCode::BAD_GATEWAY)), "error");
        assert_eq!(webhook_outcome(&resp(StatusCode::IM_A_TEAPOT)), "other");
    }
}

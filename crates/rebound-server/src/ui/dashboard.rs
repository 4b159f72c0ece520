//! `/`: the dashboard: contacts per status, the inbox, the sources and their traffic, the
//! deliverability rates, and a chart of events per day and kind over the last 14 days (SVG
//! drawn here, no script). Event counts come from [`crate::tally`], kept in memory.

use askama::Template;
use axum::extract::{Query, State};
use rebound_store::{InboxCounts, StatusCounts, DAY_MS};
use serde::Deserialize;

use super::rates::RateRow;
use super::{render, Chrome, UiResult};
use crate::auth::session::UiSession;
use crate::state::{now_ms, AppState};

use crate::tally::DAYS;
/// Event kinds in the order they are stacked and listed.
const KINDS: [&str; 9] = [
    "bounce",
    "complaint",
    "unsubscribe",
    "deferred",
    "auto-reply",
    "delivery",
    "open",
    "click",
    "other",
];

// The chart's geometry (SVG user units).
const WIDTH: i64 = 1000;
const HEIGHT: i64 = 200;
const LEFT: i64 = 44;
const BOTTOM: i64 = 24;
const TOP: i64 = 10;

pub(super) struct Bar {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    class: String,
    title: String,
}

pub(super) struct Label {
    x: i64,
    text: String,
}

pub(super) struct Legend {
    class: String,
    kind: &'static str,
    total: u64,
}

pub(super) struct SourceRow {
    id: i64,
    name: String,
    provider: String,
    status: String,
    message: String,
    last: String,
    accepted: u64,
    rejected: u64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    rates: Vec<RateRow>,
    domain_rates: Vec<RateRow>,
    any_rates: bool,
    warnings: Vec<String>,
    oldest_pending: String,
    counts: StatusCounts,
    total: u64,
    inbox: InboxCounts,
    sources: Vec<SourceRow>,
    bars: Vec<Bar>,
    labels: Vec<Label>,
    legend: Vec<Legend>,
    max: u64,
    width: i64,
    height: i64,
    left: i64,
    axis_y: i64,
    events: u64,
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn kind_index(kind: &str) -> usize {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KINDS.len() - 1)
}

/// `GET /`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let now = now_ms();
    // Independent reads, at once: the page takes as long as the slowest.
    let (counts, inbox, (all_sources, activity), hourly, oldest) = tokio::try_join!(
        state.store.status_counts(),
        state.store.inbox_counts(),
        async {
            let all = state.store.list_sources().await?;
            let activity = crate::stats::source_activity(&state, &all, now).await?;
            Ok::<_, rebound_store::StoreError>((all, activity))
        },
        state.tally.hourly(&state.store, now),
        state.store.oldest_pending_received_at(),
    )?;
    let sources = activity
        .into_iter()
        .map(|a| SourceRow {
            id: a.source_id,
            name: a.name,
            provider: a.provider,
            status: a.status,
            message: a.status_message.unwrap_or_default(),
            last: a
                .last_request_at
                .map_or_else(|| "never".into(), super::when),
            accepted: a.accepted_24h,
            rejected: a.rejected_24h,
        })
        .collect();
    let first = crate::tally::first_day(now);
    // grid[day][kind]
    let mut grid = vec![[0u64; KINDS.len()]; DAYS as usize];
    for c in &hourly.by_source {
        let d = (c.hour - first) / DAY_MS;
        if let Some(row) = usize::try_from(d).ok().and_then(|d| grid.get_mut(d)) {
            row[kind_index(&c.kind)] += c.count;
        }
    }
    let max = grid
        .iter()
        .map(|r| r.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / DAYS;
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (d, row) in grid.iter().enumerate() {
        let day = first + d as i64 * DAY_MS;
        let date = super::when(day);
        let date = date.get(..10).unwrap_or_default().to_string();
        let x = LEFT + d as i64 * slot + slot / 6;
        let mut base = 0u64;
        for (k, n) in row.iter().enumerate().filter(|(_, n)| **n > 0) {
            let y0 = plot_h as u64 * base / max;
            base += n;
            let y1 = plot_h as u64 * base / max;
            let h = i64::try_from(y1 - y0).unwrap_or(0).max(1);
            bars.push(Bar {
                x,
                y: HEIGHT - BOTTOM - i64::try_from(y1).unwrap_or(0),
                w: slot * 2 / 3,
                h,
                class: format!("k{k}"),
                title: format!("{date}: {n} {}", KINDS[k]),
            });
        }
        if d % 2 == 1 || d as i64 == DAYS - 1 {
            labels.push(Label {
                x: x + slot / 3,
                text: date.get(5..).unwrap_or_default().to_string(),
            });
        }
    }
    let legend = KINDS
        .iter()
        .enumerate()
        .map(|(k, kind)| Legend {
            class: format!("k{k}"),
            kind,
            total: grid.iter().map(|r| r[k]).sum(),
        })
        .filter(|l| l.total > 0)
        .collect::<Vec<_>>();
    let events = legend.iter().map(|l| l.total).sum();
    let rated = super::rates::rated(
        crate::stats::deliverability_by_hour(&all_sources, &hourly.by_source, now),
        crate::stats::deliverability_by_domain_hour(&hourly.by_domain, now),
    );
    let oldest_pending = match oldest {
        Some(t) => format!("{} s", (now - t).max(0) / 1000),
        None => "—".into(),
    };
    render(&DashboardPage {
        chrome: Chrome::new(&s, "dashboard", q.done.as_deref()),
        rates: rated.by_source,
        domain_rates: rated.by_domain,
        any_rates: rated.any,
        warnings: rated.warnings,
        oldest_pending,
        total: counts.total(),
        counts,
        inbox,
        sources,
        bars,
        labels,
        legend,
        max,
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        axis_y: HEIGHT - BOTTOM,
        events,
    })
}

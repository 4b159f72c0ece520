//! The dashboard's deliverability tables, per source and per sending domain, and the
//! warnings for rates past the mailbox providers' thresholds (one per source or domain and
//! rate: the first window, 24 h, that crosses).

use std::collections::HashSet;

use rebound_core::rates::{Counts, Level, Rates};

use crate::stats::{DomainRates, SourceRates};

/// A row of a deliverability table.
pub(super) struct RateRow {
    pub(super) name: String,
    pub(super) provider: String,
    pub(super) window: &'static str,
    pub(super) delivered: u64,
    pub(super) bounced: u64,
    pub(super) complained: u64,
    pub(super) bounce_rate: String,
    pub(super) bounce_level: &'static str,
    pub(super) complaint_rate: String,
    pub(super) complaint_level: &'static str,
    pub(super) total: bool,
}

/// Both tables and the warnings.
pub(super) struct Rated {
    pub(super) by_source: Vec<RateRow>,
    pub(super) by_domain: Vec<RateRow>,
    pub(super) warnings: Vec<String>,
    /// Whether anything was delivered, bounced or complained about.
    pub(super) any: bool,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.2}%", r * 100.0))
}

fn level(l: Option<Level>) -> &'static str {
    match l {
        Some(Level::Good) => "good",
        Some(Level::Warning) => "warn",
        Some(Level::Bad) => "bad",
        None => "",
    }
}

#[derive(Default)]
struct Warnings {
    text: Vec<String>,
    given: HashSet<(String, &'static str)>,
}

impl Warnings {
    fn check(&mut self, who: &str, window: &str, rates: &Rates) {
        if rates.complaint_level.is_some_and(|l| l != Level::Good)
            && self.given.insert((who.to_string(), "complaint"))
        {
            self.text.push(format!(
                "{who}: complaint rate {} over {window} — Gmail and Yahoo require under 0.3% and ask for under 0.1%",
                percent(rates.complaint_rate),
            ));
        }
        if rates.bounce_level.is_some_and(|l| l != Level::Good)
            && self.given.insert((who.to_string(), "bounce"))
        {
            self.text.push(format!(
                "{who}: bounce rate {} over {window} — sending services review accounts above 5% (Amazon SES) and may pause them at 10%",
                percent(rates.bounce_rate),
            ));
        }
    }
}

fn row(
    name: String,
    provider: String,
    window: &'static str,
    counts: Counts,
    rates: &Rates,
    total: bool,
) -> RateRow {
    RateRow {
        name,
        provider,
        window,
        delivered: counts.delivered,
        bounced: counts.bounced,
        complained: counts.complained,
        bounce_rate: percent(rates.bounce_rate),
        bounce_level: level(rates.bounce_level),
        complaint_rate: percent(rates.complaint_rate),
        complaint_level: level(rates.complaint_level),
        total,
    }
}

/// The tables and warnings of these rates.
pub(super) fn rated(sources: Vec<SourceRates>, domains: Vec<DomainRates>) -> Rated {
    let mut warnings = Warnings::default();
    let is_total = |r: &SourceRates| r.source_id.is_none() && r.provider.is_empty();
    // The total repeats a single source: warn about the sources only then.
    let sources_with_data = sources
        .iter()
        .filter(|r| !is_total(r))
        .map(|r| r.source_id)
        .collect::<HashSet<_>>()
        .len();
    let by_source: Vec<RateRow> = sources
        .into_iter()
        .map(|r| {
            let total = is_total(&r);
            let who = if total {
                "All sources".to_string()
            } else {
                format!("{} ({})", r.name, r.provider)
            };
            if !total || sources_with_data > 1 {
                warnings.check(&who, r.window, &r.rates);
            }
            row(r.name, r.provider, r.window, r.counts, &r.rates, total)
        })
        .collect();
    let by_domain = domains
        .into_iter()
        .map(|r| {
            warnings.check(&format!("Sent from {}", r.domain), r.window, &r.rates);
            row(r.domain, String::new(), r.window, r.counts, &r.rates, false)
        })
        .collect();
    let any = by_source
        .iter()
        .any(|r| r.delivered + r.bounced + r.complained > 0);
    Rated {
        by_source,
        by_domain,
        warnings: warnings.text,
        any,
    }
}
